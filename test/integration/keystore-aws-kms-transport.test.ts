// AWS KMS keystore through the REAL @aws-sdk/client-kms against a local HTTPS endpoint (split from
// keystore-aws-kms.test.ts; issue 19, files under 700 lines): SigV4 enforced by the endpoint, transport, retries and
// timeouts, settings and secrets. Issue 4, deliverable 3.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import path from 'node:path';
import { inspect } from 'node:util';
import {
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { FinalizeRequestMiddleware, MetadataBearer } from '@smithy/types';
import {
  AWS_KMS_MAX_ATTEMPTS,
  AWS_KMS_MAX_CA_FILE_BYTES,
  AWS_KMS_MAX_CREDENTIALS_SECRET_BYTES,
  AWS_KMS_MAX_REQUEST_TIMEOUT_MS,
  AWS_KMS_MIN_REQUEST_TIMEOUT_MS,
  AwsKmsKeystore,
  openAwsKmsKeystore,
} from '../../src/keystore/aws-kms.js';
import { KeystoreError } from '../../src/keystore/types.js';
import { KMS_TEST_ACCOUNT, sha256Hex, signingKey } from '../helpers/aws-kms-endpoint.js';
import { testPki } from '../helpers/pki.js';

import {
  assertNoSecrets, createKey, credentialsJson, endpoint, openAs, openkcm, rejectsWith, sdkClient, secretsFor,
  settings, shadow, tenantA, TestSecrets, tmp,
} from '../helpers/aws-kms-fixture.js';

describe('aws-kms: SigV4 is enforced by the endpoint', () => {
  type Tamper = (request: { headers: Record<string, string>; body: unknown }) => void;

  /** An SDK client whose request is altered AFTER the SDK signed it, as a man in the middle would. */
  function tamperingClient(tamper: Tamper): KMSClient {
    const client = sdkClient(openkcm, { maxAttempts: 1 });
    const middleware: FinalizeRequestMiddleware<object, MetadataBearer> = (next) => async (args) => {
      tamper(args.request as { headers: Record<string, string>; body: unknown });
      return await next(args);
    };
    client.middlewareStack.addRelativeTo(
      middleware,
      { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'openkcmTestTamper' },
    );
    return client;
  }

  test('the endpoint derives the SigV4 signing key as the AWS documentation example does', () => {
    // AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
    const key = signingKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20120215', 'us-east-1', 'iam');
    assert.equal(key.toString('hex'), 'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });

  const cases: [string, Tamper, string][] = [
    [
      'a flipped signature nibble',
      (r) => {
        const auth = r.headers['authorization'] ?? '';
        const last = auth.at(-1) === '0' ? '1' : '0';
        r.headers['authorization'] = `${auth.slice(0, -1)}${last}`;
      },
      'InvalidSignatureException',
    ],
    [
      'the operation switched after signing (X-Amz-Target)',
      (r) => {
        r.headers['x-amz-target'] = 'TrentService.DescribeKey';
      },
      'InvalidSignatureException',
    ],
    [
      'the body changed after signing',
      (r) => {
        // Same length (Content-Length is signed too); only the signature can tell.
        const body = String(r.body);
        assert.ok(body.includes('"KeyId":"arn:'));
        r.body = body.replace('"KeyId":"arn:', '"KeyId":"ARN:');
        // The attacker can recompute the unkeyed payload hash header; only the signature binds the body.
        assert.ok(r.headers['x-amz-content-sha256'] !== undefined);
        r.headers['x-amz-content-sha256'] = sha256Hex(String(r.body));
      },
      'InvalidSignatureException',
    ],
    [
      'an unsigned x-amz-* header added',
      (r) => {
        r.headers['x-amz-extra'] = '1';
      },
      'IncompleteSignatureException',
    ],
    [
      'x-amz-target left out of SignedHeaders',
      (r) => {
        r.headers['authorization'] = (r.headers['authorization'] ?? '').replace(';x-amz-target', '');
      },
      'IncompleteSignatureException',
    ],
    [
      'the Authorization header removed',
      (r) => {
        delete r.headers['authorization'];
      },
      'MissingAuthenticationTokenException',
    ],
    [
      'the session token swapped',
      (r) => {
        r.headers['x-amz-security-token'] = randomBytes(96).toString('base64');
      },
      'UnrecognizedClientException',
    ],
  ];

  for (const [name, tamper, expected] of cases) {
    test(`${name} is refused with ${expected}`, async () => {
      const keyArn = await createKey();
      const client = tamperingClient(tamper);
      try {
        await assert.rejects(client.send(new EncryptCommand({ KeyId: keyArn, Plaintext: randomBytes(32), EncryptionContext: { 'openkcm:tenant': 't' } })), {
          name: expected,
        });
      } finally {
        client.destroy();
      }
    });
  }

  test('an old signature (replay outside the 5-minute window) is refused; the SDK recovers by correcting its clock', async () => {
    const keyArn = await createKey();
    const stale = sdkClient(openkcm, { maxAttempts: 1, systemClockOffset: -10 * 60_000 });
    const correcting = sdkClient(openkcm, { systemClockOffset: -10 * 60_000 });
    try {
      await assert.rejects(stale.send(new DescribeKeyCommand({ KeyId: keyArn })), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.equal(err.name, 'InvalidSignatureException');
        assert.match(err.message, /Signature expired/u);
        return true;
      });
      // The SDK reads the endpoint's Date header, fixes its offset and retries: what happens with real AWS too.
      const out = await correcting.send(new DescribeKeyCommand({ KeyId: keyArn }));
      assert.equal(out.KeyMetadata?.Arn, keyArn);
    } finally {
      stale.destroy();
      correcting.destroy();
    }
  });

  test('a signature scoped to another region is refused', async () => {
    const keyArn = await createKey();
    const client = new KMSClient({
      region: 'us-east-1',
      endpoint: endpoint.url,
      credentials: openkcm,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: endpoint.caPem }) }),
    });
    try {
      await assert.rejects(client.send(new DescribeKeyCommand({ KeyId: keyArn })), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.equal(err.name, 'InvalidSignatureException');
        assert.match(err.message, /scoped to a valid region/u);
        return true;
      });
    } finally {
      client.destroy();
    }
  });

  test('an unknown access key id is ACCESS_DENIED (UnrecognizedClientException)', async () => {
    const keyArn = await createKey();
    const secrets = new TestSecrets();
    secrets.set('aws-openkcm', JSON.stringify({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x'.repeat(40) }));
    const plugin = await openAwsKmsKeystore(shadow(keyArn), settings(), secrets);
    try {
      await rejectsWith(plugin.wrap(randomBytes(32), tenantA), 'ACCESS_DENIED', /UnrecognizedClientException/u);
    } finally {
      await plugin.close();
    }
  });

  test('a wrong secret: ACCESS_DENIED whose message, cause and health report carry no secret', async () => {
    const keyArn = await createKey();
    const wrongSecret = randomBytes(30).toString('base64');
    const plugin = await openAwsKmsKeystore(shadow(keyArn), settings(), secretsFor(openkcm, wrongSecret));
    try {
      const err = await rejectsWith(plugin.wrap(randomBytes(32), tenantA), 'ACCESS_DENIED', /InvalidSignatureException/u);
      const dump = `${err.message} ${inspect(err, { depth: 8 })} ${JSON.stringify(await plugin.health())} ${inspect(plugin, { depth: 8 })}`;
      assertNoSecrets(dump);
      assert.ok(!dump.includes(wrongSecret));
    } finally {
      await plugin.close();
    }
  });
});

describe('aws-kms: transport, retries and timeouts', () => {
  test('5xx is retried up to maxAttempts; past it the call is UNREACHABLE', async () => {
    const keyArn = await createKey();
    const retrying = await openAs(openkcm, keyArn, { maxAttempts: 3 });
    const single = await openAs(openkcm, keyArn, { maxAttempts: 1 });
    try {
      endpoint.injectFault('Encrypt', 2, 'KMSInternalException', 500);
      const before = endpoint.calls.length;
      await retrying.wrap(randomBytes(32), tenantA);
      assert.equal(endpoint.calls.slice(before).filter((c) => c.op === 'Encrypt').length, 3, 'two failures then a success');
      endpoint.injectFault('Encrypt', 1, 'KMSInternalException', 500);
      await rejectsWith(single.wrap(randomBytes(32), tenantA), 'UNREACHABLE', /KMSInternalException/u);
    } finally {
      await retrying.close();
      await single.close();
    }
  });

  test('KeyUnavailableException and ThrottlingException are UNREACHABLE (transient), never a revocation', async () => {
    const keyArn = await createKey();
    const plugin = await openAs(openkcm, keyArn, { maxAttempts: 1 });
    try {
      endpoint.injectFault('Decrypt', 1, 'KeyUnavailableException', 500);
      const wrapped = await plugin.wrap(randomBytes(32), tenantA);
      await rejectsWith(plugin.unwrap(wrapped, tenantA), 'UNREACHABLE', /KeyUnavailableException/u);
      endpoint.injectFault('Encrypt', 1, 'ThrottlingException', 400);
      await rejectsWith(plugin.wrap(randomBytes(32), tenantA), 'UNREACHABLE', /ThrottlingException/u);
    } finally {
      await plugin.close();
    }
  });

  test('a black-holed endpoint times out after requestTimeoutMs as UNREACHABLE', async () => {
    const keyArn = await createKey();
    const plugin = await openAs(openkcm, keyArn, { maxAttempts: 1, requestTimeoutMs: 300 });
    endpoint.stall('Encrypt');
    try {
      await rejectsWith(plugin.wrap(randomBytes(32), tenantA), 'UNREACHABLE');
      const status = await plugin.health();
      assert.ok(!status.ok);
      assert.equal(status.code, 'UNREACHABLE');
    } finally {
      endpoint.stall(undefined);
      await plugin.close();
    }
  });

  test('TLS is verified: without the private CA, or with a foreign CA, the endpoint is UNREACHABLE', async () => {
    const keyArn = await createKey();
    const pki = await testPki();
    const foreignCa = path.join(tmp, 'foreign-ca.pem');
    writeFileSync(foreignCa, pki.foreignClient.certPem);
    const noCa = Object.fromEntries(Object.entries(settings({ maxAttempts: 1 })).filter(([k]) => k !== 'caFile'));
    const systemTrust = await openAwsKmsKeystore(shadow(keyArn), noCa, secretsFor(openkcm));
    const foreign = await openAs(openkcm, keyArn, { caFile: foreignCa, maxAttempts: 1 });
    try {
      await rejectsWith(systemTrust.wrap(randomBytes(32), tenantA), 'UNREACHABLE');
      await rejectsWith(foreign.wrap(randomBytes(32), tenantA), 'UNREACHABLE');
    } finally {
      await systemTrust.close();
      await foreign.close();
    }
  });
});

describe('aws-kms: settings and secrets', () => {
  let keyArn: string;
  before(async () => {
    keyArn = await createKey();
  });

  async function rejectsSettings(extra: Record<string, unknown>, pattern: RegExp, arn = keyArn): Promise<void> {
    await rejectsWith(openAwsKmsKeystore(shadow(arn), settings(extra), secretsFor(openkcm)), 'INVALID_ARGUMENT', pattern);
  }

  test('unknown settings are refused by name', async () => {
    await rejectsSettings({ accessKeyId: 'AKIA...' }, /unknown setting "accessKeyId"/u);
  });

  test('region, credentialsSecret, endpoint and the key ARN are validated', async () => {
    await rejectsWith(openAwsKmsKeystore(shadow(keyArn), { credentialsSecret: 'aws-openkcm' }, secretsFor(openkcm)), 'INVALID_ARGUMENT', /region/u);
    await rejectsWith(openAwsKmsKeystore(shadow(keyArn), { region: endpoint.region }, secretsFor(openkcm)), 'INVALID_ARGUMENT', /credentialsSecret/u);
    await rejectsSettings({ region: 'Frankfurt' }, /region/u);
    await rejectsSettings({ endpoint: endpoint.url.replace('https:', 'http:') }, /https/u);
    await rejectsSettings({ endpoint: 'not a url' }, /absolute URL/u);
    await rejectsSettings({}, /aliases are refused/u, `arn:aws:kms:${endpoint.region}:${KMS_TEST_ACCOUNT}:alias/openkcm`);
    await rejectsSettings({}, /region us-east-1/u, keyArn.replace(endpoint.region, 'us-east-1'));
    await rejectsWith(openAwsKmsKeystore({ plugin: 'pkcs11', keyRef: keyArn, keyVersion: '' }, settings(), secretsFor(openkcm)), 'INVALID_ARGUMENT');
  });

  test(`requestTimeoutMs accepts ${String(AWS_KMS_MIN_REQUEST_TIMEOUT_MS)}..${String(AWS_KMS_MAX_REQUEST_TIMEOUT_MS)} and refuses one past either end`, async () => {
    // Accepted at both ends (a call at 100 ms is not made: on a loaded CI box a TLS handshake may take longer).
    await (await openAs(openkcm, keyArn, { requestTimeoutMs: AWS_KMS_MIN_REQUEST_TIMEOUT_MS })).close();
    const plugin = await openAs(openkcm, keyArn, { requestTimeoutMs: AWS_KMS_MAX_REQUEST_TIMEOUT_MS });
    await plugin.wrap(randomBytes(32), tenantA);
    await plugin.close();
    await rejectsSettings({ requestTimeoutMs: AWS_KMS_MIN_REQUEST_TIMEOUT_MS - 1 }, /requestTimeoutMs/u);
    await rejectsSettings({ requestTimeoutMs: AWS_KMS_MAX_REQUEST_TIMEOUT_MS + 1 }, /requestTimeoutMs/u);
    await rejectsSettings({ requestTimeoutMs: '5000' }, /requestTimeoutMs/u);
  });

  test(`maxAttempts accepts 1..${String(AWS_KMS_MAX_ATTEMPTS)} and refuses one past either end`, async () => {
    for (const ok of [1, AWS_KMS_MAX_ATTEMPTS]) {
      const plugin = await openAs(openkcm, keyArn, { maxAttempts: ok });
      await plugin.wrap(randomBytes(32), tenantA);
      await plugin.close();
    }
    await rejectsSettings({ maxAttempts: 0 }, /maxAttempts/u);
    await rejectsSettings({ maxAttempts: AWS_KMS_MAX_ATTEMPTS + 1 }, /maxAttempts/u);
    await rejectsSettings({ maxAttempts: 1.5 }, /maxAttempts/u);
  });

  test(`a caFile of exactly ${String(AWS_KMS_MAX_CA_FILE_BYTES)} bytes works; one byte more is refused`, async () => {
    // PEM allows explanatory text around the blocks, so padding keeps the bundle valid.
    const pem = `${endpoint.caPem.trimEnd()}\n`;
    const atLimit = path.join(tmp, 'ca-at-limit.pem');
    writeFileSync(atLimit, pem + '#'.repeat(AWS_KMS_MAX_CA_FILE_BYTES - Buffer.byteLength(pem) - 1) + '\n');
    const plugin = await openAs(openkcm, keyArn, { caFile: atLimit });
    try {
      await plugin.wrap(randomBytes(32), tenantA);
    } finally {
      await plugin.close();
    }
    const pastLimit = path.join(tmp, 'ca-past-limit.pem');
    writeFileSync(pastLimit, pem + '#'.repeat(AWS_KMS_MAX_CA_FILE_BYTES - Buffer.byteLength(pem)) + '\n');
    await rejectsSettings({ caFile: pastLimit }, /caFile/u);
    await rejectsSettings({ caFile: path.join(tmp, 'missing.pem') }, /caFile/u);
    await rejectsSettings({ caFile: tmp }, /not a regular file/u);
  });

  test(`a credentials secret of exactly ${String(AWS_KMS_MAX_CREDENTIALS_SECRET_BYTES)} bytes works; one byte more is refused`, async () => {
    const json = credentialsJson(openkcm);
    const atLimit = new TestSecrets();
    atLimit.set('aws-openkcm', json + ' '.repeat(AWS_KMS_MAX_CREDENTIALS_SECRET_BYTES - Buffer.byteLength(json)));
    const plugin = await openAwsKmsKeystore(shadow(keyArn), settings(), atLimit);
    try {
      await plugin.wrap(randomBytes(32), tenantA);
    } finally {
      await plugin.close();
    }
    const pastLimit = new TestSecrets();
    pastLimit.set('aws-openkcm', json + ' '.repeat(AWS_KMS_MAX_CREDENTIALS_SECRET_BYTES - Buffer.byteLength(json) + 1));
    await rejectsWith(openAwsKmsKeystore(shadow(keyArn), settings(), pastLimit), 'INVALID_ARGUMENT', /longer than/u);
  });

  test('the credentials buffer is wiped after open, and bad secrets never echo their content', async () => {
    const secrets = secretsFor(openkcm);
    const plugin = await openAwsKmsKeystore(shadow(keyArn), settings(), secrets);
    await plugin.close();
    assert.equal(secrets.handedOut.length, 1);
    for (const buffer of secrets.handedOut) assert.ok(buffer.every((b) => b === 0), 'credentials buffer not wiped');

    const marker = `SECRET-${randomBytes(8).toString('hex')}`;
    for (const bad of [
      `{"accessKeyId":"${openkcm.accessKeyId}","secretAccessKey":"${marker}"`,
      JSON.stringify({ accessKeyId: openkcm.accessKeyId, secretAccessKey: marker, extra: 1 }),
      JSON.stringify({ accessKeyId: 'short', secretAccessKey: marker }),
      JSON.stringify([marker]),
    ]) {
      const s = new TestSecrets();
      s.set('aws-openkcm', bad);
      const err = await rejectsWith(openAwsKmsKeystore(shadow(keyArn), settings(), s), 'INVALID_ARGUMENT');
      assert.ok(!inspect(err, { depth: 8 }).includes(marker), 'secret content in the error');
      for (const buffer of s.handedOut) assert.ok(buffer.every((b) => b === 0), 'bad credentials buffer not wiped');
    }
  });

  test('the class validates its config directly too', () => {
    assert.throws(
      () => new AwsKmsKeystore({ keyArn, region: endpoint.region, credentials: { accessKeyId: openkcm.accessKeyId, secretAccessKey: '' } }),
      KeystoreError,
    );
    assert.throws(
      () => new AwsKmsKeystore({ keyArn, region: endpoint.region, ca: 'not pem', credentials: { accessKeyId: openkcm.accessKeyId, secretAccessKey: 'x' } }),
      KeystoreError,
    );
  });
});
