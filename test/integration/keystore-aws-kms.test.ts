// AWS KMS keystore through the REAL @aws-sdk/client-kms against a local HTTPS endpoint that speaks the KMS
// JSON 1.1 protocol and verifies SigV4 (test/helpers/aws-kms-endpoint.ts). Issue 4, deliverable 3.
// SigV4, transport and settings: keystore-aws-kms-transport.test.ts; the shared fixture: test/helpers/aws-kms-fixture.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  CancelKeyDeletionCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisabledException,
  EnableKeyCommand,
  EncryptCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSInvalidStateException,
  KMSServiceException,
  NotFoundException,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { openAwsKmsKeystore } from '../../src/keystore/aws-kms.js';
import { KMS_TEST_ACCOUNT } from '../helpers/aws-kms-endpoint.js';
import { runKeystoreConformance } from '../unit/keystore-conformance.js';

import {
  admin, adminClient, assertNoSecrets, closedPortUrl, createKey, endpoint, intruder, openAs, openkcm,
  recommendedPolicy, rejectsWith, sdkClient, secretsFor, settings, shadow, tenantA,
} from '../helpers/aws-kms-fixture.js';

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
