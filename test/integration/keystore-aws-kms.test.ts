// AWS KMS keystore through the REAL @aws-sdk/client-kms against a local HTTPS endpoint that speaks the KMS
// JSON 1.1 protocol and verifies SigV4 (test/helpers/aws-kms-endpoint.ts). Issue 4, deliverable 3.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import {
  CancelKeyDeletionCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisabledException,
  EnableKeyCommand,
  EncryptCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSClient,
  KMSInvalidStateException,
  KMSServiceException,
  NotFoundException,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
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
import { KeystoreError, type KeystoreErrorCode, type KeystorePlugin, type SecretSource } from '../../src/keystore/types.js';
import { AwsKmsTestEndpoint, KMS_TEST_ACCOUNT, sha256Hex, signingKey, type KmsTestUser } from '../helpers/aws-kms-endpoint.js';
import { testPki } from '../helpers/pki.js';
import { runKeystoreConformance } from '../unit/keystore-conformance.js';

// One endpoint and one temp dir for the file; every test makes its own keys, so tests stay independent.
const endpoint = await AwsKmsTestEndpoint.start();
const tmp = mkdtempSync(path.join(tmpdir(), 'openkcm-aws-kms-'));
const caFile = path.join(tmp, 'ca.pem');
writeFileSync(caFile, endpoint.caPem);
const admin = endpoint.addUser('key-admin');
const openkcm = endpoint.addUser('openkcm', { sessionToken: true });
const intruder = endpoint.addUser('intruder');

after(async () => {
  await endpoint.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The node's secret store, as the MasterKey would serve it; records what it handed out to check wiping. */
class TestSecrets implements SecretSource {
  readonly handedOut: Buffer[] = [];
  readonly #values = new Map<string, Buffer>();
  set(name: string, value: string | Buffer): void {
    this.#values.set(name, Buffer.from(value));
  }
  get(name: string): Promise<Buffer> {
    const value = this.#values.get(name);
    if (value === undefined) return Promise.reject(new Error(`no secret ${name}`));
    const copy = Buffer.from(value);
    this.handedOut.push(copy);
    return Promise.resolve(copy);
  }
}

function credentialsJson(user: KmsTestUser, secretAccessKey = user.secretAccessKey): string {
  return JSON.stringify({
    accessKeyId: user.accessKeyId,
    secretAccessKey,
    ...(user.sessionToken === undefined ? {} : { sessionToken: user.sessionToken }),
  });
}

function secretsFor(user: KmsTestUser, secretAccessKey?: string): TestSecrets {
  const secrets = new TestSecrets();
  secrets.set('aws-openkcm', credentialsJson(user, secretAccessKey));
  return secrets;
}

function settings(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { region: endpoint.region, endpoint: endpoint.url, caFile, credentialsSecret: 'aws-openkcm', ...extra };
}

function shadow(keyArn: string): { plugin: string; keyRef: string; keyVersion: string } {
  return { plugin: 'aws-kms', keyRef: keyArn, keyVersion: '' };
}

async function openAs(user: KmsTestUser, keyArn: string, extra: Record<string, unknown> = {}): Promise<KeystorePlugin> {
  return await openAwsKmsKeystore(shadow(keyArn), settings(extra), secretsFor(user));
}

/** A plain SDK client, as the customer's key administrator uses it. */
function sdkClient(user: KmsTestUser, opts: { maxAttempts?: number; systemClockOffset?: number } = {}): KMSClient {
  return new KMSClient({
    region: endpoint.region,
    endpoint: endpoint.url,
    credentials: user,
    ...opts,
    requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: endpoint.caPem }) }),
  });
}
const adminClient = sdkClient(admin);
after(() => {
  adminClient.destroy();
});

async function createKey(extra: { Policy?: string; KeySpec?: 'HMAC_256'; KeyUsage?: 'GENERATE_VERIFY_MAC' } = {}): Promise<string> {
  const out = await adminClient.send(new CreateKeyCommand({ Description: 'openkcm L1 (test)', ...extra }));
  const arn = out.KeyMetadata?.Arn;
  assert.ok(arn !== undefined);
  return arn;
}

async function closedPortUrl(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => {
    resolve();
  }));
  return `https://127.0.0.1:${String(port)}`;
}

async function rejectsWith(promise: Promise<unknown>, code: KeystoreErrorCode, pattern?: RegExp): Promise<KeystoreError> {
  let caught: KeystoreError | undefined;
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof KeystoreError, `expected KeystoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern !== undefined) assert.match(err.message, pattern);
    caught = err;
    return true;
  });
  assert.ok(caught !== undefined);
  return caught;
}

function assertNoSecrets(text: string): void {
  for (const user of [admin, openkcm, intruder]) {
    assert.ok(!text.includes(user.secretAccessKey), 'a secret access key leaked');
    if (user.sessionToken !== undefined) assert.ok(!text.includes(user.sessionToken), 'a session token leaked');
  }
}

const tenantA = { tenant: 'tenant-a', purpose: 'l2' };

/** The key policy docs/keystores.md recommends, for the users of this endpoint. */
function recommendedPolicy(tenantPattern: string | string[] = '*'): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'KeyAdministrators', Effect: 'Allow', Principal: { AWS: admin.arn }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'OpenKCMWrapUnwrap',
        Effect: 'Allow',
        Principal: { AWS: openkcm.arn },
        Action: ['kms:Encrypt', 'kms:Decrypt'],
        Resource: '*',
        Condition: {
          StringLike: { 'kms:EncryptionContext:openkcm:tenant': tenantPattern },
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['openkcm:tenant', 'openkcm:purpose'] },
        },
      },
      { Sid: 'OpenKCMDescribe', Effect: 'Allow', Principal: { AWS: openkcm.arn }, Action: 'kms:DescribeKey', Resource: '*' },
    ],
  });
}

// ---------------------------------------------------------------------------------------------------------------

runKeystoreConformance({
  name: 'aws-kms (real SDK, local SigV4 KMS endpoint)',
  kind: 'aws-kms',
  async open() {
    const keyArn = await createKey();
    return {
      plugin: await openAs(openkcm, keyArn),
      secrets: [openkcm.secretAccessKey, openkcm.sessionToken ?? ''],
      revokeAtSource: async () => {
        await adminClient.send(new ScheduleKeyDeletionCommand({ KeyId: keyArn, PendingWindowInDays: 7 }));
      },
    };
  },
  async openWithBadCredentials() {
    // The right access key id with a wrong secret: the endpoint's SigV4 check fails (InvalidSignatureException).
    const keyArn = await createKey();
    return await openAwsKmsKeystore(shadow(keyArn), settings(), secretsFor(openkcm, randomBytes(30).toString('base64')));
  },
  async openUnreachable() {
    const keyArn = await createKey();
    return await openAs(openkcm, keyArn, { endpoint: await closedPortUrl() });
  },
});

describe('aws-kms: the endpoint speaks the KMS wire protocol the SDK expects', () => {
  test('the SDK signs host, x-amz-date, x-amz-target and content-type, and the endpoint verified them', async () => {
    const keyArn = await createKey();
    const plugin = await openAs(openkcm, keyArn);
    try {
      const before = endpoint.calls.length;
      await plugin.wrap(randomBytes(32), tenantA);
      const call = endpoint.calls.slice(before).find((c) => c.op === 'Encrypt' && c.accessKeyId === openkcm.accessKeyId);
      assert.ok(call !== undefined);
      assert.equal(call.status, 200);
      for (const header of ['content-type', 'host', 'x-amz-date', 'x-amz-security-token', 'x-amz-target']) {
        assert.ok(call.signedHeaders?.includes(header), `${header} not signed: ${String(call.signedHeaders)}`);
      }
    } finally {
      await plugin.close();
    }
  });

  test('error responses parse into the SDK named exceptions', async () => {
    const keyArn = await createKey();
    const otherArn = await createKey();
    const client = sdkClient(openkcm);
    try {
      const { CiphertextBlob } = await client.send(new EncryptCommand({ KeyId: keyArn, Plaintext: randomBytes(32), EncryptionContext: { a: 'b' } }));
      assert.ok(CiphertextBlob !== undefined);
      await assert.rejects(client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { a: 'c' } })), InvalidCiphertextException);
      await assert.rejects(client.send(new DecryptCommand({ CiphertextBlob, KeyId: otherArn, EncryptionContext: { a: 'b' } })), IncorrectKeyException);
      await assert.rejects(
        client.send(new DescribeKeyCommand({ KeyId: `arn:aws:kms:${endpoint.region}:${KMS_TEST_ACCOUNT}:key/00000000-0000-4000-8000-000000000000` })),
        NotFoundException,
      );
      await adminClient.send(new DisableKeyCommand({ KeyId: keyArn }));
      await assert.rejects(client.send(new EncryptCommand({ KeyId: keyArn, Plaintext: randomBytes(32) })), DisabledException);
      await adminClient.send(new ScheduleKeyDeletionCommand({ KeyId: keyArn, PendingWindowInDays: 7 }));
      await assert.rejects(client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { a: 'b' } })), KMSInvalidStateException);
      // Front-end errors are not in the KMS model: the SDK raises its service exception named after __type.
      const stranger = sdkClient({ ...intruder, accessKeyId: 'AKIA0000000000000000' });
      try {
        await assert.rejects(stranger.send(new DescribeKeyCommand({ KeyId: otherArn })), (err: unknown) => {
          assert.ok(err instanceof KMSServiceException);
          assert.equal(err.name, 'UnrecognizedClientException');
          assert.equal(err.$metadata.httpStatusCode, 400);
          return true;
        });
      } finally {
        stranger.destroy();
      }
    } finally {
      client.destroy();
    }
  });
});

describe('aws-kms: keystore behaviour', () => {
  test('wrap uses EncryptionContext {openkcm:tenant, openkcm:purpose}: a plain Decrypt with that context opens it', async () => {
    const keyArn = await createKey();
    const plugin = await openAs(openkcm, keyArn);
    const client = sdkClient(openkcm);
    try {
      const key = randomBytes(32);
      const wrapped = await plugin.wrap(key, tenantA);
      const out = await client.send(
        new DecryptCommand({ CiphertextBlob: wrapped, KeyId: keyArn, EncryptionContext: { 'openkcm:tenant': 'tenant-a', 'openkcm:purpose': 'l2' } }),
      );
      assert.deepEqual(Buffer.from(out.Plaintext ?? []), key);
      // Without a purpose the context is {openkcm:tenant} alone.
      const noPurpose = await plugin.wrap(key, { tenant: 'tenant-a' });
      const out2 = await client.send(new DecryptCommand({ CiphertextBlob: noPurpose, KeyId: keyArn, EncryptionContext: { 'openkcm:tenant': 'tenant-a' } }));
      assert.deepEqual(Buffer.from(out2.Plaintext ?? []), key);
      assert.deepEqual(Buffer.from(await plugin.unwrap(noPurpose, { tenant: 'tenant-a', purpose: '' })), key);
    } finally {
      client.destroy();
      await plugin.close();
    }
  });

  test('tenant binding: a blob moved to another tenant fails INVALID_CIPHERTEXT at the source', async () => {
    const keyArn = await createKey();
    const plugin = await openAs(openkcm, keyArn);
    try {
      const wrapped = await plugin.wrap(randomBytes(32), { tenant: 'acme', purpose: 'l2' });
      const before = endpoint.calls.length;
      await rejectsWith(plugin.unwrap(wrapped, { tenant: 'globex', purpose: 'l2' }), 'INVALID_CIPHERTEXT', /InvalidCiphertextException/u);
      assert.ok(endpoint.calls.slice(before).some((c) => c.errorType === 'InvalidCiphertextException'), 'refused by the endpoint, not the plugin');
    } finally {
      await plugin.close();
    }
  });

  test('a blob made under another KMS key is refused (KeyId pinned: IncorrectKeyException → INVALID_CIPHERTEXT)', async () => {
    const mine = await createKey();
    const other = await createKey();
    const plugin = await openAs(openkcm, mine);
    const otherPlugin = await openAs(openkcm, other);
    try {
      const foreign = await otherPlugin.wrap(randomBytes(32), tenantA);
      await rejectsWith(plugin.unwrap(foreign, tenantA), 'INVALID_CIPHERTEXT', /IncorrectKeyException/u);
    } finally {
      await plugin.close();
      await otherPlugin.close();
    }
  });

  test('disabled key: KEY_REVOKED_OR_DISABLED everywhere, describe still works, re-enabling recovers', async () => {
    const keyArn = await createKey();
    const plugin = await openAs(openkcm, keyArn);
    try {
      const key = randomBytes(32);
      const wrapped = await plugin.wrap(key, tenantA);
      await adminClient.send(new DisableKeyCommand({ KeyId: keyArn }));
      await rejectsWith(plugin.unwrap(wrapped, tenantA), 'KEY_REVOKED_OR_DISABLED', /DisabledException/u);
      await rejectsWith(plugin.wrap(key, tenantA), 'KEY_REVOKED_OR_DISABLED');
      const down = await plugin.health();
      assert.ok(!down.ok);
      assert.equal(down.code, 'KEY_REVOKED_OR_DISABLED');
      assert.match(down.message, /Disabled/u);
      assert.equal((await plugin.describe()).details['keyState'], 'Disabled');
      await adminClient.send(new EnableKeyCommand({ KeyId: keyArn }));
      assert.deepEqual(Buffer.from(await plugin.unwrap(wrapped, tenantA)), key);
      assert.equal((await plugin.health()).ok, true);
    } finally {
      await plugin.close();
    }
  });

  test('scheduled deletion: KEY_REVOKED_OR_DISABLED; cancelling leaves it disabled; enabling recovers', async () => {
    const keyArn = await createKey();
    const plugin = await openAs(openkcm, keyArn);
    try {
      const key = randomBytes(32);
      const wrapped = await plugin.wrap(key, tenantA);
      await adminClient.send(new ScheduleKeyDeletionCommand({ KeyId: keyArn, PendingWindowInDays: 7 }));
      await rejectsWith(plugin.unwrap(wrapped, tenantA), 'KEY_REVOKED_OR_DISABLED', /KMSInvalidStateException/u);
      const down = await plugin.health();
      assert.ok(!down.ok);
      assert.equal(down.code, 'KEY_REVOKED_OR_DISABLED');
      assert.match(down.message, /PendingDeletion/u);
      await adminClient.send(new CancelKeyDeletionCommand({ KeyId: keyArn }));
      await rejectsWith(plugin.unwrap(wrapped, tenantA), 'KEY_REVOKED_OR_DISABLED', /DisabledException/u);
      await adminClient.send(new EnableKeyCommand({ KeyId: keyArn }));
      assert.deepEqual(Buffer.from(await plugin.unwrap(wrapped, tenantA)), key);
    } finally {
      await plugin.close();
    }
  });

  test('a key ARN that does not exist is KEY_REVOKED_OR_DISABLED (NotFoundException)', async () => {
    const plugin = await openAs(openkcm, `arn:aws:kms:${endpoint.region}:${KMS_TEST_ACCOUNT}:key/00000000-0000-4000-8000-000000000000`);
    try {
      await rejectsWith(plugin.wrap(randomBytes(32), tenantA), 'KEY_REVOKED_OR_DISABLED', /NotFoundException/u);
      const status = await plugin.health();
      assert.ok(!status.ok);
      assert.equal(status.code, 'KEY_REVOKED_OR_DISABLED');
    } finally {
      await plugin.close();
    }
  });

  test('a key of the wrong type (HMAC) is INVALID_ARGUMENT, not a revocation', async () => {
    const keyArn = await createKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const plugin = await openAs(openkcm, keyArn);
    try {
      await rejectsWith(plugin.wrap(randomBytes(32), tenantA), 'INVALID_ARGUMENT', /InvalidKeyUsageException/u);
      const status = await plugin.health();
      assert.ok(!status.ok);
      assert.equal(status.code, 'INVALID_ARGUMENT');
    } finally {
      await plugin.close();
    }
  });
});

describe('aws-kms: key policy (the policy docs/keystores.md recommends)', () => {
  test('the OpenKCM principal can wrap, unwrap, describe and check health', async () => {
    const keyArn = await createKey({ Policy: recommendedPolicy() });
    const plugin = await openAs(openkcm, keyArn);
    try {
      const key = randomBytes(32);
      assert.deepEqual(Buffer.from(await plugin.unwrap(await plugin.wrap(key, tenantA), tenantA)), key);
      assert.equal((await plugin.health()).ok, true);
      assert.equal((await plugin.describe()).shadow.keyRef, keyArn);
    } finally {
      await plugin.close();
    }
  });

  test('another principal is ACCESS_DENIED (AccessDeniedException), and so is a call without the tenant context', async () => {
    const keyArn = await createKey({ Policy: recommendedPolicy() });
    const plugin = await openAs(intruder, keyArn);
    const client = sdkClient(openkcm);
    try {
      const err = await rejectsWith(plugin.wrap(randomBytes(32), tenantA), 'ACCESS_DENIED', /AccessDeniedException/u);
      assertNoSecrets(`${err.message} ${inspect(err, { depth: 8 })}`);
      const status = await plugin.health();
      assert.ok(!status.ok);
      assert.equal(status.code, 'ACCESS_DENIED');
      // The condition keys: Encrypt without an openkcm:tenant context, or with a foreign context key, is refused.
      await assert.rejects(client.send(new EncryptCommand({ KeyId: keyArn, Plaintext: randomBytes(32) })), { name: 'AccessDeniedException' });
      await assert.rejects(
        client.send(new EncryptCommand({ KeyId: keyArn, Plaintext: randomBytes(32), EncryptionContext: { 'openkcm:tenant': 't', other: 'x' } })),
        { name: 'AccessDeniedException' },
      );
    } finally {
      client.destroy();
      await plugin.close();
    }
  });

  test('a policy restricted to a tenant pattern refuses other tenants; the health probe needs its own tenant', async () => {
    const keyArn = await createKey({ Policy: recommendedPolicy(['acme-*', 'openkcm-health-probe']) });
    const plugin = await openAs(openkcm, keyArn);
    const strict = await createKey({ Policy: recommendedPolicy('acme-*') });
    const strictPlugin = await openAs(openkcm, strict);
    try {
      await plugin.wrap(randomBytes(32), { tenant: 'acme-eu', purpose: 'l2' });
      assert.equal((await plugin.health()).ok, true);
      const status = await strictPlugin.health();
      assert.ok(!status.ok);
      assert.equal(status.code, 'ACCESS_DENIED');
      await rejectsWith(plugin.wrap(randomBytes(32), { tenant: 'globex', purpose: 'l2' }), 'ACCESS_DENIED');
    } finally {
      await plugin.close();
      await strictPlugin.close();
    }
  });

  test('permission withdrawn at the source (PutKeyPolicy) turns into ACCESS_DENIED', async () => {
    const keyArn = await createKey({ Policy: recommendedPolicy() });
    const plugin = await openAs(openkcm, keyArn);
    try {
      const wrapped = await plugin.wrap(randomBytes(32), tenantA);
      const adminOnly = JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: admin.arn }, Action: 'kms:*', Resource: '*' }],
      });
      await adminClient.send(new PutKeyPolicyCommand({ KeyId: keyArn, PolicyName: 'default', Policy: adminOnly }));
      await rejectsWith(plugin.unwrap(wrapped, tenantA), 'ACCESS_DENIED');
    } finally {
      await plugin.close();
    }
  });
});

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
