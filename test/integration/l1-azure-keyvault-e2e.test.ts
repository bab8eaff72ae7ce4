/**
 * Issue 16 item 8 (Azure Key Vault): the registered-L1 story end to end through the product's interfaces only
 * (test/helpers/cloud-l1-e2e.ts), against the local endpoint that speaks the Key Vault REST API and the Entra
 * client-credentials token flow (test/helpers/azure-keyvault-endpoint.ts), reached by the real @azure/keyvault-keys
 * SDK inside `openkcm serve`. The named connection authenticates with a client secret stored as a node secret from
 * stdin; the server trusts the endpoint's private CA through the connection's `caFile` (docs/keystores.md). The
 * customer disables and re-enables the key version with the SDK's KeyClient, as in the Azure portal.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { KeyClient } from '@azure/keyvault-keys';
import { createAzureAgent } from '../../src/keystore/azure-keyvault.js';
import { startAzureKeyVaultEndpoint } from '../helpers/azure-keyvault-endpoint.js';
import { describeCloudL1EndToEnd } from '../helpers/cloud-l1-e2e.js';

const NODE_APP = 'a1b2c3d4-0000-4000-8000-0000000000e2';
const NODE_SECRET = `node~${randomBytes(18).toString('base64url')}`;
const ADMIN_APP = 'a1b2c3d4-0000-4000-8000-0000000000ad';

const vault = await startAzureKeyVaultEndpoint({ rsaPool: 2 });
const tmp = mkdtempSync(path.join(tmpdir(), 'openkcm-azure-e2e-'));
const caFile = path.join(tmp, 'ca.pem');
writeFileSync(caFile, vault.caPem);
vault.addPrincipal(ADMIN_APP, randomBytes(16).toString('hex'), '*');
// The customer's console: the real SDK with an administrator's token.
const adminAgent = createAzureAgent(vault.caPem);
const customer = new KeyClient(
  vault.url,
  { getToken: () => Promise.resolve({ token: vault.issueToken(ADMIN_APP, 3600), expiresOnTimestamp: Date.now() + 3_000_000 }) },
  { agent: adminAgent, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } },
);
const key = await customer.createKey('acme-l1', 'RSA', { keySize: 2048 });
const keyVersion = key.properties.version ?? '';
// The node's application may use this key only.
vault.addPrincipal(NODE_APP, NODE_SECRET, ['acme-l1']);
const secretValue = JSON.stringify({ tenantId: vault.tenantId, clientId: NODE_APP, clientSecret: NODE_SECRET });
const tokensBefore = vault.stats.tokensIssued;

describeCloudL1EndToEnd({
  title: 'Azure Key Vault',
  kind: 'azure-keyvault',
  connectionName: 'acme-kv',
  connection: {
    kind: 'azure-keyvault', credentialSecret: 'acme-kv-client', authorityHost: vault.url, caFile,
    // The local endpoint is 127.0.0.1, not *.vault.azure.net: the SDK's challenge-domain check must be off.
    disableChallengeResourceVerification: true, retries: 0, requestTimeoutMs: 10_000,
  },
  secretName: 'acme-kv-client',
  secretValue,
  keyRef: vault.keyUrl('acme-l1'),
  async setKeyEnabled(enabled) {
    await customer.updateKeyProperties('acme-l1', keyVersion, { enabled });
  },
  needles: [['client secret', NODE_SECRET], ['the node secret', secretValue]],
  async close() {
    adminAgent.destroy();
    await vault.close();
    rmSync(tmp, { recursive: true, force: true });
  },
});

test('the server obtained its tokens with the stored client secret and wrapped through the vault', () => {
  assert.ok(vault.stats.tokensIssued > tokensBefore, 'Entra tokens issued to the node');
  assert.ok(vault.stats.wrapCalls > 0 && vault.stats.unwrapCalls > 0, 'L2 wrapped and unwrapped by the vault');
});
