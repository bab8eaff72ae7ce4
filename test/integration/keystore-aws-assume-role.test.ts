/**
 * Issue 16 item 4 (AWS) end to end over the wire: two customers, each reached through its own NAMED connection
 * (`keystores.connections.<name>`, src/keystore/connections.ts) that assumes a role in the customer's account with
 * the customer's external id (STS AssumeRole through the real @aws-sdk/credential-providers), plus a connection
 * with a web identity token file (AssumeRoleWithWebIdentity). The local endpoint speaks KMS (JSON 1.1) and STS
 * (query protocol) and checks SigV4 (test/helpers/aws-kms-endpoint.ts, aws-sts-endpoint.ts).
 *
 * Proves: wrap/unwrap work through each connection; STS receives the external id of THAT connection and KMS calls
 * are signed with the session credentials STS returned (never the base key); a wrong external id is ACCESS_DENIED;
 * disabling one customer's key at the source takes that tenant dark through krypton's L1 check (revoked, KEK
 * refused) while the other customer's tenant keeps working.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { KmipError } from '../../src/kmip/errors.js';
import { KeystoreFactory } from '../../src/keystore/factory.js';
import { KeystoreError } from '../../src/keystore/types.js';
import type { SecretSource } from '../../src/keystore/types.js';
import { Krypton } from '../../src/krypton/krypton.js';
import { LmdbHierarchyStore } from '../../src/krypton/lmdb-store.js';
import { initNative } from '../../src/native/index.js';
import { AwsKmsTestEndpoint } from '../helpers/aws-kms-endpoint.js';
import { StsTestService } from '../helpers/aws-sts-endpoint.js';

initNative({ allowUnlocked: true });
const endpoint = await AwsKmsTestEndpoint.start();
const sts = new StsTestService(endpoint);
const tmp = mkdtempSync(path.join(tmpdir(), 'openkcm-aws-role-'));
const caFile = path.join(tmp, 'ca.pem');
writeFileSync(caFile, endpoint.caPem);
const admin = endpoint.addUser('key-admin');
/** The node's own identity: it may only assume the customers' roles, never use their keys directly. */
const node = endpoint.addUser('openkcm-node');
const adminClient = new KMSClient({ region: endpoint.region, endpoint: endpoint.url, credentials: admin, requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: endpoint.caPem }) }) });
const secretValues = new Map([['node-aws', Buffer.from(JSON.stringify({ accessKeyId: node.accessKeyId, secretAccessKey: node.secretAccessKey }))]]);
const secrets: SecretSource = {
  get: (name) => {
    const v = secretValues.get(name);
    return v === undefined ? Promise.reject(new Error(`no node secret ${name}`)) : Promise.resolve(Buffer.from(v));
  },
};

after(async () => {
  adminClient.destroy();
  await endpoint.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function createKey(): Promise<string> {
  const out = await adminClient.send(new CreateKeyCommand({ Description: 'customer L1' }));
  assert.ok(out.KeyMetadata?.Arn !== undefined);
  return out.KeyMetadata.Arn;
}

const base = { kind: 'aws-kms', region: endpoint.region, endpoint: endpoint.url, stsEndpoint: endpoint.url, caFile, requestTimeoutMs: 30_000, maxAttempts: 1 };

describe('AWS KMS through named connections with AssumeRole and web identity', () => {
  test('two customers, two roles and external ids: each connection assumes its own role; disable one key → that tenant dark', async () => {
    const acmeRole = sts.addRole('acme-openkcm', { trusted: [node], externalId: 'acme-ext-7f3a' });
    const initechRole = sts.addRole('initech-openkcm', { trusted: [node], externalId: 'initech-ext-91c2' });
    const acmeKey = await createKey();
    const initechKey = await createKey();
    const factory = new KeystoreFactory({
      connections: {
        'acme-aws': { ...base, credentialsSecret: 'node-aws', assumeRole: { roleArn: acmeRole.arn, externalId: 'acme-ext-7f3a', sessionName: 'openkcm-acme' } },
        'initech-aws': { ...base, credentialsSecret: 'node-aws', assumeRole: { roleArn: initechRole.arn, externalId: 'initech-ext-91c2' } },
        'wrong-ext': { ...base, credentialsSecret: 'node-aws', assumeRole: { roleArn: acmeRole.arn, externalId: 'guessed-id' } },
      },
      secrets,
    });
    const store = await LmdbHierarchyStore.open(path.join(tmp, 'store'));
    const krypton = await Krypton.open({ store, keystoreFor: factory.keystoreFor });
    try {
      await krypton.onboard('acme', { plugin: 'aws-kms@acme-aws', keyRef: acmeKey, keyVersion: '' });
      await krypton.onboard('initech', { plugin: 'aws-kms@initech-aws', keyRef: initechKey, keyVersion: '' });
      assert.ok(krypton.isActive('acme') && krypton.isActive('initech'));

      const assumed = sts.calls.filter((c) => c.action === 'AssumeRole' && c.status === 200);
      const acmeCall = assumed.find((c) => c.roleArn === acmeRole.arn);
      const initechCall = assumed.find((c) => c.roleArn === initechRole.arn);
      assert.equal(acmeCall?.externalId, 'acme-ext-7f3a');
      assert.equal(acmeCall.sessionName, 'openkcm-acme');
      assert.equal(acmeCall.caller, node.accessKeyId, 'AssumeRole signed with the node key');
      assert.equal(initechCall?.externalId, 'initech-ext-91c2');
      const issued = new Set(assumed.map((c) => c.issued));
      const kmsCalls = endpoint.calls.filter((c) => c.op === 'Encrypt' || c.op === 'Decrypt');
      assert.ok(kmsCalls.length >= 2);
      for (const c of kmsCalls) {
        if (c.accessKeyId === admin.accessKeyId) continue;
        assert.ok(issued.has(c.accessKeyId), `KMS ${c.op} signed with a session from STS, not ${String(c.accessKeyId)}`);
      }
      assert.ok(!endpoint.calls.some((c) => c.accessKeyId === node.accessKeyId), 'the node key never calls KMS itself');

      // A wrong external id: the customer's trust policy refuses it.
      const wrong = await factory.keystoreFor({ plugin: 'aws-kms@wrong-ext', keyRef: acmeKey, keyVersion: '' });
      await assert.rejects(wrong.wrap(randomBytes(32), { tenant: 'acme' }), (e: unknown) => e instanceof KeystoreError && e.code === 'ACCESS_DENIED');
      assert.ok(sts.calls.some((c) => c.externalId === 'guessed-id' && c.status === 403));

      // The customer disables their key: the L1 check takes that tenant dark, the other one keeps working.
      await adminClient.send(new DisableKeyCommand({ KeyId: acmeKey }));
      const health = await krypton.checkL1('acme');
      assert.equal(health.ok ? 'ok' : health.code, 'KEY_REVOKED_OR_DISABLED');
      assert.throws(() => krypton.kek('acme'), (e: unknown) => e instanceof KmipError && e.code === 'TENANT_REVOKED');
      assert.equal((await krypton.checkL1('initech')).ok, true);
      assert.ok(krypton.isActive('initech'));
      krypton.kek('initech');
    } finally {
      await krypton.close();
      await factory.close();
      await store.close();
    }
  });

  test('web identity: the token file is exchanged through AssumeRoleWithWebIdentity, no node secret read', async () => {
    const token = `eyJ.${randomBytes(24).toString('base64url')}.sig`;
    const tokenFile = path.join(tmp, 'web-identity-token');
    writeFileSync(tokenFile, token);
    const role = sts.addRole('pod-role', { webIdentityToken: token });
    const keyArn = await createKey();
    const factory = new KeystoreFactory({
      connections: { 'pod-aws': { ...base, webIdentity: { roleArn: role.arn, tokenFile } } },
      secrets: { get: (name) => Promise.reject(new Error(`no node secret may be read, asked for ${name}`)) },
    });
    try {
      const plugin = await factory.keystoreFor({ plugin: 'aws-kms@pod-aws', keyRef: keyArn, keyVersion: '' });
      const l2 = randomBytes(32);
      const back = await plugin.unwrap(await plugin.wrap(l2, { tenant: 't' }), { tenant: 't' });
      assert.deepEqual(Buffer.from(back), l2);
      const call = sts.calls.find((c) => c.action === 'AssumeRoleWithWebIdentity' && c.roleArn === role.arn);
      assert.equal(call?.status, 200);
      assert.ok(endpoint.calls.some((c) => c.op === 'Encrypt' && c.accessKeyId === call.issued));
      // A token the identity provider does not vouch for is refused as ACCESS_DENIED.
      writeFileSync(tokenFile, 'not-the-token');
      const other = await factory.keystoreFor({ plugin: 'aws-kms@pod-aws', keyRef: await createKey(), keyVersion: '' });
      await assert.rejects(other.wrap(l2, { tenant: 't' }), (e: unknown) => e instanceof KeystoreError && e.code === 'ACCESS_DENIED');
    } finally {
      await factory.close();
    }
  });

  test('settings: roles, external ids and exclusive credential sources are validated by name', async () => {
    const factory = (settings: Record<string, unknown>): KeystoreFactory => new KeystoreFactory({ connections: { c: { ...base, ...settings } }, secrets });
    const ref = { plugin: 'aws-kms@c', keyRef: `arn:aws:kms:${endpoint.region}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab`, keyVersion: '' };
    for (const [settings, re] of [
      [{ credentialsSecret: 'node-aws', assumeRole: { roleArn: 'arn:aws:iam::1:role/x' } }, /assumeRole\.roleArn must be an IAM role ARN/],
      [{ credentialsSecret: 'node-aws', assumeRole: { roleArn: 'arn:aws:iam::111122223333:role/x', externalId: 'a' } }, /assumeRole\.externalId must be 2\.\.1224/],
      [{ credentialsSecret: 'node-aws', assumeRole: { roleArn: 'arn:aws:iam::111122223333:role/x', durationSeconds: 899 } }, /durationSeconds must be an integer 900\.\.43200/],
      [{ credentialsSecret: 'node-aws', assumeRole: { roleArn: 'arn:aws:iam::111122223333:role/x', policy: '{}' } }, /unknown setting assumeRole\.policy/],
      [{ credentialsSecret: 'node-aws', webIdentity: { roleArn: 'arn:aws:iam::111122223333:role/x', tokenFile: '/t' } }, /webIdentity replaces credentials and credentialsSecret/],
      [{ credentialsSecret: 'node-aws', stsEndpoint: endpoint.url, assumeRole: undefined }, /stsEndpoint .* only goes with webIdentity or assumeRole/],
    ] as const) {
      const f = factory(settings);
      await assert.rejects(f.keystoreFor(ref), (e: unknown) => e instanceof KeystoreError && e.code === 'INVALID_ARGUMENT' && re.test(e.message), String(re));
      await f.close();
    }
    // A role session of 900 s (the minimum) and 43200 s (the maximum) are accepted.
    for (const durationSeconds of [900, 43_200]) {
      const f = factory({ credentialsSecret: 'node-aws', assumeRole: { roleArn: 'arn:aws:iam::111122223333:role/x', durationSeconds } });
      await (await f.keystoreFor(ref)).close();
      await f.close();
    }
  });
});
