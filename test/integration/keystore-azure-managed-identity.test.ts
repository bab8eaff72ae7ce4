/**
 * Issue 16 item 4 (Azure): a Key Vault connection with `"identity": "managed"` takes its tokens from the host's
 * managed identity (the Instance Metadata Service), with no node secret, and wraps/unwraps through the real
 * @azure/keyvault-keys SDK against the local vault endpoint. A user-assigned identity is selected by client id; an
 * identity without access to the key is ACCESS_DENIED; an unknown one is refused by IMDS; bad settings are refused
 * by name (managed and credentialSecret together, a bad endpoint, a client id without managed).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { KeyClient } from '@azure/keyvault-keys';
import { createAzureAgent, openAzureKeyVaultKeystore } from '../../src/keystore/azure-keyvault.js';
import { KeystoreError } from '../../src/keystore/types.js';
import type { KeystorePlugin, SecretSource } from '../../src/keystore/types.js';
import { startAzureKeyVaultEndpoint, startImdsEndpoint } from '../helpers/azure-keyvault-endpoint.js';

const SYSTEM_MI = 'b0000000-0000-4000-8000-00000000000a';
const USER_MI = 'b0000000-0000-4000-8000-00000000000b';
const NO_ACCESS_MI = 'b0000000-0000-4000-8000-00000000000c';
const ADMIN = 'b0000000-0000-4000-8000-0000000000ad';

const vault = await startAzureKeyVaultEndpoint();
vault.addPrincipal(SYSTEM_MI, randomBytes(16).toString('hex'), '*');
vault.addPrincipal(USER_MI, randomBytes(16).toString('hex'), '*');
vault.addPrincipal(NO_ACCESS_MI, randomBytes(16).toString('hex'), []);
vault.addPrincipal(ADMIN, randomBytes(16).toString('hex'), '*');
const imds = await startImdsEndpoint(vault, { system: SYSTEM_MI, userAssigned: [USER_MI, NO_ACCESS_MI] });
const tmp = mkdtempSync(join(tmpdir(), 'openkcm-azmi-'));
const caFile = join(tmp, 'ca.pem');
writeFileSync(caFile, vault.caPem);
const adminAgent = createAzureAgent(vault.caPem);
const admin = new KeyClient(vault.url, { getToken: () => Promise.resolve({ token: vault.issueToken(ADMIN, 3600), expiresOnTimestamp: Date.now() + 3_000_000 }) },
  { agent: adminAgent, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } });
/** No secret is ever read with a managed identity. */
const noSecrets: SecretSource = { get: (name) => Promise.reject(new Error(`no node secret may be read, asked for ${name}`)) };
const base = { caFile, disableChallengeResourceVerification: true, retries: 0, requestTimeoutMs: 30_000, identity: 'managed', imdsEndpoint: imds.tokenUrl } as const;

after(async () => {
  adminAgent.destroy();
  await imds.close();
  await vault.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function open(keyRef: string, settings: Record<string, unknown>): Promise<KeystorePlugin> {
  return openAzureKeyVaultKeystore({ plugin: 'azure-keyvault', keyRef, keyVersion: '' }, settings, noSecrets);
}

describe('Azure Key Vault with a managed identity (IMDS)', () => {
  test('system-assigned and user-assigned identities wrap and unwrap without any node secret', async () => {
    const name = `mi-${randomBytes(3).toString('hex')}`;
    await admin.createKey(name, 'RSA', { keySize: 2048 });
    const l2 = randomBytes(32);
    const before = imds.requests;
    const sys = await open(vault.keyUrl(name), { ...base });
    try {
      const wrapped = await sys.wrap(l2, { tenant: 't', purpose: 'l2' });
      assert.deepEqual(Buffer.from(await sys.unwrap(wrapped, { tenant: 't', purpose: 'l2' })), l2);
      assert.equal((await sys.health()).ok, true);
      const user = await open(vault.keyUrl(name), { ...base, managedIdentityClientId: USER_MI });
      try {
        assert.deepEqual(Buffer.from(await user.unwrap(wrapped, { tenant: 't', purpose: 'l2' })), l2);
      } finally {
        await user.close();
      }
    } finally {
      await sys.close();
    }
    assert.ok(imds.requests > before, 'tokens came from IMDS');
    assert.ok(imds.clientIds.includes(undefined) && imds.clientIds.includes(USER_MI));
  });

  test('an identity without access is ACCESS_DENIED; an unknown identity is refused by IMDS', async () => {
    const name = `mi-${randomBytes(3).toString('hex')}`;
    await admin.createKey(name, 'RSA', { keySize: 2048 });
    for (const clientId of [NO_ACCESS_MI, 'b0000000-0000-4000-8000-0000000000ff']) {
      const p = await open(vault.keyUrl(name), { ...base, managedIdentityClientId: clientId });
      try {
        const h = await p.health();
        assert.ok(!h.ok, `identity ${clientId} must not pass the health check`);
        assert.equal(h.code, 'ACCESS_DENIED', h.message);
      } finally {
        await p.close();
      }
    }
  });

  test('settings: managed and credentialSecret are exclusive; endpoint and client id are checked', async () => {
    const ref = vault.keyUrl('any');
    for (const [settings, re] of [
      [{ ...base, credentialSecret: 'x' }, /exclusive/],
      [{ ...base, identity: 'federated' }, /identity must be "managed" or "workload"/],
      [{ ...base, imdsEndpoint: 'ftp://127.0.0.1/x' }, /imdsEndpoint/],
      [{ ...base, managedIdentityClientId: 'a b' }, /managedIdentityClientId/],
      [{ ...base, managedIdentityClientId: 'a'.repeat(65) }, /managedIdentityClientId/],
      [{ caFile, credentialSecret: 'x', imdsEndpoint: imds.tokenUrl }, /need identity "managed"/],
    ] as const) {
      await assert.rejects(open(ref, settings), (e: unknown) => e instanceof KeystoreError && e.code === 'INVALID_ARGUMENT' && re.test(e.message));
    }
    // The client id bound: 64 characters is accepted (IMDS then refuses the unknown identity, at use).
    const p = await open(ref, { ...base, managedIdentityClientId: 'a'.repeat(64) });
    await p.close();
  });
});
