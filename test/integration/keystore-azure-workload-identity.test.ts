/**
 * Issue 16 item 4 (Azure) end to end over the wire: two customers' vault keys, each reached through its own NAMED
 * connection with a workload identity (a federated token file presented as an RFC 7523 client assertion to the
 * Entra-style token endpoint), driven by the real @azure/keyvault-keys SDK against the local Key Vault endpoint
 * (test/helpers/azure-keyvault-endpoint.ts: REST get key / wrapkey / unwrapkey, 401 challenge, OAuth2 token).
 *
 * Proves: no node secret is read; each connection logs in as its own application with its own token file; a
 * token file the directory does not trust is ACCESS_DENIED; a key disabled at the source takes its tenant dark
 * through krypton's L1 check (revoked, KEK refused) while the other tenant keeps working.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { KeyClient } from '@azure/keyvault-keys';
import { KmipError } from '../../src/kmip/errors.js';
import { createAzureAgent } from '../../src/keystore/azure-keyvault.js';
import { KeystoreFactory } from '../../src/keystore/factory.js';
import { KeystoreError } from '../../src/keystore/types.js';
import type { SecretSource } from '../../src/keystore/types.js';
import { Krypton } from '../../src/krypton/krypton.js';
import { LmdbHierarchyStore } from '../../src/krypton/lmdb-store.js';
import { initNative } from '../../src/native/index.js';
import { startAzureKeyVaultEndpoint } from '../helpers/azure-keyvault-endpoint.js';

initNative({ allowUnlocked: true });
const ACME_APP = 'c0000000-0000-4000-8000-00000000000a';
const INITECH_APP = 'c0000000-0000-4000-8000-00000000000b';
const ADMIN = 'c0000000-0000-4000-8000-0000000000ad';
const vault = await startAzureKeyVaultEndpoint();
const tmp = mkdtempSync(path.join(tmpdir(), 'openkcm-azwi-'));
const caFile = path.join(tmp, 'ca.pem');
writeFileSync(caFile, vault.caPem);
const adminAgent = createAzureAgent(vault.caPem);
const admin = new KeyClient(vault.url, { getToken: () => Promise.resolve({ token: vault.issueToken(ADMIN, 3600), expiresOnTimestamp: Date.now() + 3_000_000 }) },
  { agent: adminAgent, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } });
vault.addPrincipal(ADMIN, randomBytes(16).toString('hex'), '*');
const noSecrets: SecretSource = { get: (name) => Promise.reject(new Error(`no node secret may be read, asked for ${name}`)) };

after(async () => {
  adminAgent.destroy();
  await vault.close();
  rmSync(tmp, { recursive: true, force: true });
});

function federatedToken(app: string, key: string): string {
  const token = `eyJ.${randomBytes(24).toString('base64url')}.sig`;
  vault.addPrincipal(app, randomBytes(16).toString('hex'), [key]);
  vault.addFederatedCredential(app, token);
  const file = path.join(tmp, `${app}.token`);
  writeFileSync(file, `${token}\n`);
  return file;
}

const base = { kind: 'azure-keyvault', identity: 'workload', tenantId: vault.tenantId, authorityHost: vault.url, caFile, disableChallengeResourceVerification: true, retries: 0, requestTimeoutMs: 30_000 };

describe('Azure Key Vault through named connections with workload identity', () => {
  test('two customers, two applications and token files; disable one key → that tenant dark, the other served', async () => {
    const acmeKey = `acme-${randomBytes(3).toString('hex')}`;
    const initechKey = `initech-${randomBytes(3).toString('hex')}`;
    await admin.createKey(acmeKey, 'RSA', { keySize: 2048 });
    await admin.createKey(initechKey, 'RSA', { keySize: 2048 });
    const acmeFile = federatedToken(ACME_APP, acmeKey);
    const initechFile = federatedToken(INITECH_APP, initechKey);
    const factory = new KeystoreFactory({
      connections: {
        'acme-azure': { ...base, clientId: ACME_APP, federatedTokenFile: acmeFile },
        'initech-azure': { ...base, clientId: INITECH_APP, federatedTokenFile: initechFile },
      },
      secrets: noSecrets,
    });
    const store = await LmdbHierarchyStore.open(path.join(tmp, 'store'));
    const krypton = await Krypton.open({ store, keystoreFor: factory.keystoreFor });
    try {
      const before = vault.stats.federatedTokens;
      await krypton.onboard('acme', { plugin: 'azure-keyvault@acme-azure', keyRef: vault.keyUrl(acmeKey), keyVersion: '' });
      await krypton.onboard('initech', { plugin: 'azure-keyvault@initech-azure', keyRef: vault.keyUrl(initechKey), keyVersion: '' });
      assert.ok(krypton.isActive('acme') && krypton.isActive('initech'));
      assert.ok(vault.stats.federatedTokens >= before + 2, 'each connection logged in with its federated token');
      // Each application may use only its customer's key: a connection pointed at the other key is refused.
      const crossed = await factory.keystoreFor({ plugin: 'azure-keyvault@acme-azure', keyRef: vault.keyUrl(initechKey), keyVersion: '' });
      const h = await crossed.health();
      assert.equal(h.ok ? '' : h.code, 'ACCESS_DENIED');

      const acmeVersion = (await admin.getKey(acmeKey)).properties.version ?? '';
      await admin.updateKeyProperties(acmeKey, acmeVersion, { enabled: false });
      const health = await krypton.checkL1('acme');
      assert.equal(health.ok ? '' : health.code, 'KEY_REVOKED_OR_DISABLED');
      assert.throws(() => krypton.kek('acme'), (e: unknown) => e instanceof KmipError && e.code === 'TENANT_REVOKED');
      assert.equal((await krypton.checkL1('initech')).ok, true);
      krypton.kek('initech');
    } finally {
      await krypton.close();
      await factory.close();
      await store.close();
    }
  });

  test('a token file the directory does not trust is ACCESS_DENIED; settings are checked by name', async () => {
    const key = `wi-${randomBytes(3).toString('hex')}`;
    await admin.createKey(key, 'RSA', { keySize: 2048 });
    federatedToken(ACME_APP, key);
    const rogue = path.join(tmp, 'rogue.token');
    writeFileSync(rogue, 'eyJ.forged.sig');
    const factory = new KeystoreFactory({ connections: { rogue: { ...base, clientId: ACME_APP, federatedTokenFile: rogue } }, secrets: noSecrets });
    try {
      const p = await factory.keystoreFor({ plugin: 'azure-keyvault@rogue', keyRef: vault.keyUrl(key), keyVersion: '' });
      await assert.rejects(p.wrap(randomBytes(32), { tenant: 't' }), (e: unknown) => e instanceof KeystoreError && e.code === 'ACCESS_DENIED' && /AADSTS700213/.test(e.message));
    } finally {
      await factory.close();
    }
    const ref = { plugin: 'azure-keyvault@c', keyRef: vault.keyUrl(key), keyVersion: '' };
    for (const [settings, re] of [
      [{ ...base, clientId: ACME_APP, federatedTokenFile: rogue, credentialSecret: 'x' }, /identity "workload" and credentialSecret are exclusive/],
      [{ ...base, clientId: 'not a guid', federatedTokenFile: rogue }, /needs clientId/],
      [{ ...base, tenantId: undefined, clientId: ACME_APP, federatedTokenFile: rogue }, /needs tenantId/],
      [{ ...base, clientId: ACME_APP }, /needs federatedTokenFile/],
      [{ ...base, identity: 'managed', clientId: ACME_APP }, /need identity "workload"/],
    ] as const) {
      const saved = { ...process.env };
      for (const k of ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_FEDERATED_TOKEN_FILE']) Reflect.deleteProperty(process.env, k);
      const f = new KeystoreFactory({ connections: { c: JSON.parse(JSON.stringify(settings)) as Record<string, unknown> }, secrets: noSecrets });
      try {
        await assert.rejects(f.keystoreFor(ref), (e: unknown) => e instanceof KeystoreError && e.code === 'INVALID_ARGUMENT' && re.test(e.message), re.source);
      } finally {
        Object.assign(process.env, saved);
        await f.close();
      }
    }
  });

  test('the webhook environment (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE) is enough', async () => {
    const key = `env-${randomBytes(3).toString('hex')}`;
    await admin.createKey(key, 'RSA', { keySize: 2048 });
    const app = 'c0000000-0000-4000-8000-0000000000e1';
    const file = federatedToken(app, key);
    const saved = { ...process.env };
    Object.assign(process.env, { AZURE_TENANT_ID: vault.tenantId, AZURE_CLIENT_ID: app, AZURE_FEDERATED_TOKEN_FILE: file, AZURE_AUTHORITY_HOST: vault.url });
    const settings: Record<string, unknown> = { ...base };
    delete settings['tenantId'];
    delete settings['authorityHost'];
    const factory = new KeystoreFactory({ connections: { 'azure-keyvault': settings }, secrets: noSecrets });
    try {
      const p = await factory.keystoreFor({ plugin: 'azure-keyvault', keyRef: vault.keyUrl(key), keyVersion: '' });
      const l2 = randomBytes(32);
      assert.deepEqual(Buffer.from(await p.unwrap(await p.wrap(l2, { tenant: 't' }), { tenant: 't' })), l2);
    } finally {
      for (const k of ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_AUTHORITY_HOST']) {
        if (saved[k] === undefined) Reflect.deleteProperty(process.env, k);
        else process.env[k] = saved[k];
      }
      await factory.close();
    }
  });
});
