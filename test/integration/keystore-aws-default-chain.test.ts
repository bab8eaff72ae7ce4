/**
 * Issue 16 item 4 (AWS): a KMS connection with `"credentials": "default-chain"` stores no credentials: the real AWS
 * SDK resolves them through its default provider chain, here its first link (the environment a role-based runtime
 * such as ECS, Lambda or a credential helper sets), and signs its calls to the local KMS endpoint with them. No node
 * secret is read. The settings are exclusive with credentialsSecret and refused by name otherwise.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { openAwsKmsKeystore } from '../../src/keystore/aws-kms.js';
import { KeystoreError } from '../../src/keystore/types.js';
import type { SecretSource } from '../../src/keystore/types.js';
import { AwsKmsTestEndpoint } from '../helpers/aws-kms-endpoint.js';

const endpoint = await AwsKmsTestEndpoint.start();
const tmp = mkdtempSync(path.join(tmpdir(), 'openkcm-aws-chain-'));
const caFile = path.join(tmp, 'ca.pem');
writeFileSync(caFile, endpoint.caPem);
const admin = endpoint.addUser('key-admin');
const role = endpoint.addUser('openkcm-role', { sessionToken: true });
const adminClient = new KMSClient({ region: endpoint.region, endpoint: endpoint.url, credentials: admin, requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: endpoint.caPem }) }) });
const noSecrets: SecretSource = { get: (name) => Promise.reject(new Error(`no node secret may be read, asked for ${name}`)) };
const saved = { ...process.env };

after(async () => {
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    if (saved[k] === undefined) Reflect.deleteProperty(process.env, k);
    else process.env[k] = saved[k];
  }
  adminClient.destroy();
  await endpoint.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function createKey(): Promise<string> {
  const out = await adminClient.send(new CreateKeyCommand({ Description: 'openkcm L1 (default chain test)' }));
  const arn = out.KeyMetadata?.Arn;
  assert.ok(arn !== undefined);
  return arn;
}

describe('AWS KMS with the SDK default credential chain', () => {
  test('credentials from the environment (the chain), no node secret; calls signed as that principal', async () => {
    process.env['AWS_ACCESS_KEY_ID'] = role.accessKeyId;
    process.env['AWS_SECRET_ACCESS_KEY'] = role.secretAccessKey;
    process.env['AWS_SESSION_TOKEN'] = role.sessionToken ?? '';
    const keyArn = await createKey();
    const plugin = await openAwsKmsKeystore({ plugin: 'aws-kms', keyRef: keyArn, keyVersion: '' },
      { region: endpoint.region, endpoint: endpoint.url, caFile, credentials: 'default-chain', requestTimeoutMs: 30_000 }, noSecrets);
    try {
      const l2 = randomBytes(32);
      const wrapped = await plugin.wrap(l2, { tenant: 't', purpose: 'l2' });
      assert.deepEqual(Buffer.from(await plugin.unwrap(wrapped, { tenant: 't', purpose: 'l2' })), l2);
      assert.equal((await plugin.health()).ok, true);
    } finally {
      await plugin.close();
    }
    const mine = endpoint.calls.filter((c) => c.accessKeyId === role.accessKeyId && c.status === 200);
    assert.ok(mine.length >= 3, `calls signed with the chain's credentials: ${String(mine.length)}`);
  });

  test('settings: credentials "default-chain" and credentialsSecret are exclusive; other values refused', async () => {
    const ref = { plugin: 'aws-kms', keyRef: `arn:aws:kms:${endpoint.region}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab`, keyVersion: '' };
    for (const [extra, re] of [
      [{ credentials: 'default-chain', credentialsSecret: 'x' }, /exclusive/],
      [{ credentials: 'instance' }, /credentials must be "default-chain"/],
      [{}, /credentialsSecret .* is required, or credentials "default-chain"/],
    ] as const) {
      await assert.rejects(openAwsKmsKeystore(ref, { region: endpoint.region, ...extra }, noSecrets),
        (e: unknown) => e instanceof KeystoreError && e.code === 'INVALID_ARGUMENT' && re.test(e.message));
    }
  });
});
