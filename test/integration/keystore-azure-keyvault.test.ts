// Azure Key Vault keystore through the real @azure/keyvault-keys SDK against a local HTTPS endpoint that speaks the
// Key Vault REST API and the Entra client-credentials token flow (issue 4, deliverable 4).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { KeyClient } from '@azure/keyvault-keys';
import {
  AzureKeyVaultKeystore,
  AzureSecretCredential,
  MAX_ACCESS_TOKEN_CHARS,
  MAX_CACHED_VERSIONS,
  MAX_CA_FILE_BYTES,
  MAX_CREDENTIAL_SECRET_BYTES,
  MAX_KEY_REF_CHARS,
  MAX_KEY_VERSION_CHARS,
  MAX_REQUEST_TIMEOUT_MS,
  MAX_RETRIES,
  MAX_TOKEN_RESPONSE_BYTES,
  MIN_REQUEST_TIMEOUT_MS,
  createAzureAgent,
  openAzureKeyVaultKeystore,
  parseAzureKeyRef,
  parseCredentialSecret,
} from '../../src/keystore/azure-keyvault.js';
import { KeystoreError, type KeystoreErrorCode, type KeystorePlugin, type SecretSource } from '../../src/keystore/types.js';
import { runKeystoreConformance } from '../unit/keystore-conformance.js';
import { startAzureKeyVaultEndpoint, type AzureKeyVaultEndpoint } from '../helpers/azure-keyvault-endpoint.js';

const GOOD_CLIENT = 'a1b2c3d4-0000-4000-8000-000000000001';
const GOOD_SECRET = `good~${randomBytes(12).toString('hex')}`;
const LIMITED_CLIENT = 'a1b2c3d4-0000-4000-8000-000000000002';
const LIMITED_SECRET = `limited~${randomBytes(12).toString('hex')}`;
const ADMIN_CLIENT = 'a1b2c3d4-0000-4000-8000-0000000000ad';
const WRONG_SECRET = `wrong~${randomBytes(12).toString('hex')}`;

const endpoint: AzureKeyVaultEndpoint = await startAzureKeyVaultEndpoint();
endpoint.addPrincipal(GOOD_CLIENT, GOOD_SECRET, '*');
endpoint.addPrincipal(LIMITED_CLIENT, LIMITED_SECRET, []);
endpoint.addPrincipal(ADMIN_CLIENT, randomBytes(16).toString('hex'), '*');
const tmp = mkdtempSync(join(tmpdir(), 'openkcm-azure-'));
const caFile = join(tmp, 'ca.pem');
writeFileSync(caFile, endpoint.caPem);
const closedPort = await unusedPort();

/** An in-memory SecretSource (the appliance uses the MasterKey's sealed node secrets). Returns fresh copies. */
class MapSecrets implements SecretSource {
  readonly values = new Map<string, string>();
  reads = 0;
  get(name: string): Promise<Buffer> {
    this.reads += 1;
    const value = this.values.get(name);
    if (value === undefined) return Promise.reject(new Error(`no secret ${name}`));
    return Promise.resolve(Buffer.from(value, 'utf8'));
  }
}

const secrets = new MapSecrets();
secrets.values.set('kv-good', JSON.stringify({ tenantId: endpoint.tenantId, clientId: GOOD_CLIENT, clientSecret: GOOD_SECRET }));
secrets.values.set('kv-wrong', JSON.stringify({ tenantId: endpoint.tenantId, clientId: GOOD_CLIENT, clientSecret: WRONG_SECRET }));
secrets.values.set('kv-limited', JSON.stringify({ tenantId: endpoint.tenantId, clientId: LIMITED_CLIENT, clientSecret: LIMITED_SECRET }));

// The customer's side: the real SDK KeyClient with an admin token, creating, disabling and deleting keys.
const adminAgent = createAzureAgent(endpoint.caPem);
const admin = new KeyClient(
  endpoint.url,
  { getToken: () => Promise.resolve({ token: endpoint.issueToken(ADMIN_CLIENT, 3600), expiresOnTimestamp: Date.now() + 3_000_000 }) },
  { agent: adminAgent, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } },
);

let keyCounter = 0;
async function createKey(kind: 'RSA' | 'oct-HSM' = 'RSA'): Promise<{ name: string; version: string }> {
  keyCounter += 1;
  const name = `l1-${String(keyCounter)}-${randomBytes(3).toString('hex')}`;
  const key = kind === 'RSA' ? await admin.createKey(name, 'RSA', { keySize: 2048 }) : await admin.createKey(name, 'oct-HSM', { keySize: 256 });
  return { name, version: key.properties.version ?? '' };
}

async function deleteKey(name: string): Promise<void> {
  const poller = await admin.beginDeleteKey(name, { intervalInMs: 10 });
  await poller.pollUntilDone();
}

const baseSettings = {
  caFile,
  authorityHost: endpoint.url,
  // The local endpoint is 127.0.0.1, not *.vault.azure.net: the SDK's challenge-domain check must be off.
  disableChallengeResourceVerification: true,
  retries: 0,
  // Generous: on a loaded CI box the first burst of TLS handshakes takes seconds; timeouts have their own test.
  requestTimeoutMs: 30_000,
} as const;

async function openPlugin(keyRef: string, overrides: Record<string, unknown> = {}, source: SecretSource = secrets): Promise<KeystorePlugin> {
  return await openAzureKeyVaultKeystore(
    { plugin: 'azure-keyvault', keyRef, keyVersion: '' },
    { ...baseSettings, credentialSecret: 'kv-good', ...overrides },
    source,
  );
}

async function rejectsWith(promise: Promise<unknown>, code: KeystoreErrorCode): Promise<KeystoreError> {
  let caught: KeystoreError | undefined;
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof KeystoreError, `expected KeystoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    caught = err;
    return true;
  });
  if (caught === undefined) throw new Error('unreachable');
  return caught;
}

function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

runKeystoreConformance({
  name: 'azure-keyvault (real SDK, local Key Vault REST endpoint)',
  kind: 'azure-keyvault',
  async open() {
    const { name } = await createKey();
    return {
      plugin: await openPlugin(endpoint.keyUrl(name)),
      secrets: [GOOD_SECRET],
      revokeAtSource: () => deleteKey(name),
    };
  },
  async openWithBadCredentials() {
    // No key needed: the vault checks the token before it looks the key up.
    return await openPlugin(endpoint.keyUrl('l1-bad-credentials'), { credentialSecret: 'kv-wrong' });
  },
  async openUnreachable() {
    return await openPlugin(`https://127.0.0.1:${String(closedPort)}/keys/nowhere`, { authorityHost: `https://127.0.0.1:${String(closedPort)}` });
  },
});

describe('azure-keyvault keystore: Key Vault specifics', () => {
  const opened: KeystorePlugin[] = [];
  const track = (plugin: KeystorePlugin): KeystorePlugin => {
    opened.push(plugin);
    return plugin;
  };
  // RSA key generation is the slow part of this suite (about a second on a loaded 2-core box): tests that do not
  // change the key at the source share this one.
  let shared = '';
  before(async () => {
    shared = (await createKey()).name;
  });
  after(async () => {
    for (const plugin of opened) await plugin.close();
  });

  test('challenge-based auth: the first request goes without a token, gets 401 + challenge, then the token flow runs', async () => {
    const name = shared;
    const challenges = endpoint.stats.challenges;
    const tokens = endpoint.stats.tokenRequests;
    const plugin = track(await openPlugin(endpoint.keyUrl(name)));
    const key = randomBytes(32);
    const back = await plugin.unwrap(await plugin.wrap(key, { tenant: 't' }), { tenant: 't' });
    assert.deepEqual(Buffer.from(back), key);
    assert.ok(endpoint.stats.challenges > challenges, 'no 401 challenge was answered');
    assert.ok(endpoint.stats.tokenRequests > tokens, 'the client-credentials flow was not used');
  });

  test('blob format: version byte, the wrapping key version, and an RSA-2048 ciphertext; tenant binding is ours', async () => {
    const name = shared;
    const version = (await admin.getKey(name)).properties.version ?? '';
    const plugin = track(await openPlugin(endpoint.keyUrl(name)));
    const wrapped = await plugin.wrap(randomBytes(32), { tenant: 'tenant-a', purpose: 'l2' });
    assert.equal(wrapped[0], 1);
    assert.equal(wrapped[1], version.length);
    assert.equal(Buffer.from(wrapped.subarray(2, 2 + version.length)).toString('ascii'), version);
    assert.equal(wrapped.length, 2 + version.length + 256);
    // The vault decrypts the blob for another tenant (it has no notion of tenants); our digest check refuses it.
    const unwraps = endpoint.stats.unwrapCalls;
    await rejectsWith(plugin.unwrap(wrapped, { tenant: 'tenant-b', purpose: 'l2' }), 'INVALID_CIPHERTEXT');
    assert.equal(endpoint.stats.unwrapCalls, unwraps + 1);
    const description = await plugin.describe();
    assert.equal(description.shadow.keyVersion, version);
    assert.equal(description.mechanism, 'RSA-OAEP-256');
    assert.equal(description.keySizeBits, 2048);
    assert.equal(description.details['keyType'], 'RSA');
    assert.equal(description.details['enabled'], true);
  });

  test('disabled at the source is KEY_REVOKED_OR_DISABLED (403 Forbidden/KeyDisabled), re-enabling recovers, expiry switches it off', async () => {
    const { name, version } = await createKey();
    const plugin = track(await openPlugin(endpoint.keyUrl(name)));
    const key = randomBytes(32);
    const wrapped = await plugin.wrap(key, { tenant: 't' });
    await admin.updateKeyProperties(name, version, { enabled: false });
    await rejectsWith(plugin.unwrap(wrapped, { tenant: 't' }), 'KEY_REVOKED_OR_DISABLED');
    await rejectsWith(plugin.wrap(key, { tenant: 't' }), 'KEY_REVOKED_OR_DISABLED');
    const down = await plugin.health();
    assert.ok(!down.ok);
    assert.equal(down.code, 'KEY_REVOKED_OR_DISABLED');
    await admin.updateKeyProperties(name, version, { enabled: true });
    assert.deepEqual(Buffer.from(await plugin.unwrap(wrapped, { tenant: 't' })), key);
    assert.equal((await plugin.health()).ok, true);
    // A key past its expiry date (exp) is switched off too; health() re-reads the key bundle.
    await admin.updateKeyProperties(name, version, { expiresOn: new Date(Date.now() - 60_000) });
    const expired = await plugin.health();
    assert.ok(!expired.ok);
    assert.equal(expired.code, 'KEY_REVOKED_OR_DISABLED');
    await rejectsWith(plugin.wrap(key, { tenant: 't' }), 'KEY_REVOKED_OR_DISABLED');
  });

  test('deleted key: KeyNotFound is KEY_REVOKED_OR_DISABLED; a blob naming an unknown version of a live key is INVALID_CIPHERTEXT', async () => {
    const { name } = await createKey();
    const plugin = track(await openPlugin(endpoint.keyUrl(name)));
    const wrapped = await plugin.wrap(randomBytes(32), { tenant: 't' });
    // Forge the version inside the blob (still a valid version string): the key exists, so this is a bad blob,
    // not a revocation, and must not trip the kill-switch.
    const forged = Uint8Array.from(wrapped);
    forged[2] = forged[2] === 0x30 ? 0x31 : 0x30;
    await rejectsWith(plugin.unwrap(forged, { tenant: 't' }), 'INVALID_CIPHERTEXT');
    await deleteKey(name);
    await rejectsWith(plugin.unwrap(wrapped, { tenant: 't' }), 'KEY_REVOKED_OR_DISABLED');
    await rejectsWith(plugin.unwrap(forged, { tenant: 't' }), 'KEY_REVOKED_OR_DISABLED');
  });

  test('rotation at the source: new wraps use the new version after health(), old blobs still unwrap; a pinned keyRef stays', async () => {
    const { name, version: v1 } = await createKey();
    const plugin = track(await openPlugin(endpoint.keyUrl(name)));
    const key = randomBytes(32);
    const old = await plugin.wrap(key, { tenant: 't' });
    const rotated = await admin.createKey(name, 'RSA', { keySize: 2048 });
    const v2 = rotated.properties.version ?? '';
    assert.notEqual(v2, v1);
    assert.equal((await plugin.health()).ok, true);
    const fresh = await plugin.wrap(key, { tenant: 't' });
    assert.equal(Buffer.from(fresh.subarray(2, 2 + v2.length)).toString('ascii'), v2);
    assert.deepEqual(Buffer.from(await plugin.unwrap(old, { tenant: 't' })), key);
    assert.deepEqual(Buffer.from(await plugin.unwrap(fresh, { tenant: 't' })), key);
    assert.equal((await plugin.describe()).shadow.keyVersion, v2);
    // A keyRef pinned to v1 keeps wrapping under v1 and refuses v2 blobs without asking the vault.
    const pinned = track(await openPlugin(endpoint.keyUrl(name, v1)));
    assert.deepEqual(Buffer.from(await pinned.unwrap(old, { tenant: 't' })), key);
    const underV1 = await pinned.wrap(key, { tenant: 't' });
    assert.equal(Buffer.from(underV1.subarray(2, 2 + v1.length)).toString('ascii'), v1);
    const unwraps = endpoint.stats.unwrapCalls;
    await rejectsWith(pinned.unwrap(fresh, { tenant: 't' }), 'INVALID_CIPHERTEXT');
    assert.equal(endpoint.stats.unwrapCalls, unwraps);
  });

  test('access denied (403 Forbidden/AccessDenied) is ACCESS_DENIED, and granting access recovers', async () => {
    const name = shared;
    const plugin = track(await openPlugin(endpoint.keyUrl(name), { credentialSecret: 'kv-limited' }));
    const err = await rejectsWith(plugin.wrap(randomBytes(32), { tenant: 't' }), 'ACCESS_DENIED');
    assert.match(err.message, /AccessDenied/u);
    const status = await plugin.health();
    assert.ok(!status.ok);
    assert.equal(status.code, 'ACCESS_DENIED');
    endpoint.setAccess(LIMITED_CLIENT, [name]);
    try {
      const key = randomBytes(32);
      assert.deepEqual(Buffer.from(await plugin.unwrap(await plugin.wrap(key, { tenant: 't' }), { tenant: 't' })), key);
    } finally {
      endpoint.setAccess(LIMITED_CLIENT, []);
    }
  });

  test('token refresh: once a short-lived token has expired, the next call fetches a new one and succeeds', async () => {
    const name = shared;
    const ttl = endpoint.tokenTtlSeconds;
    endpoint.tokenTtlSeconds = 2;
    try {
      const plugin = track(await openPlugin(endpoint.keyUrl(name)));
      const key = randomBytes(32);
      const wrapped = await plugin.wrap(key, { tenant: 't' });
      const tokens = endpoint.stats.tokenRequests;
      await new Promise((resolve) => setTimeout(resolve, 2_200));
      assert.deepEqual(Buffer.from(await plugin.unwrap(wrapped, { tenant: 't' })), key);
      // Whether the renewal happened before the vault saw the old token (normal) or after a 401 (a loaded box),
      // the call succeeds with a new token; which path ran is timing, so it is not asserted.
      assert.ok(endpoint.stats.tokenRequests > tokens, 'the expired token was not replaced');
    } finally {
      endpoint.tokenTtlSeconds = ttl;
    }
  });

  test('static token: an expired one is ACCESS_DENIED; rotating the node secret recovers without reopening', async () => {
    const name = shared;
    const own = new MapSecrets();
    own.values.set('kv-static', JSON.stringify({ accessToken: endpoint.issueToken(GOOD_CLIENT, -10) }));
    const plugin = track(await openPlugin(endpoint.keyUrl(name), { credentialSecret: 'kv-static' }, own));
    await rejectsWith(plugin.wrap(randomBytes(32), { tenant: 't' }), 'ACCESS_DENIED');
    own.values.set('kv-static', JSON.stringify({ accessToken: endpoint.issueToken(GOOD_CLIENT, 600) }));
    assert.equal((await plugin.wrap(randomBytes(32), { tenant: 't' })).length > 0, true);
  });

  test('secrets never appear in describe(), errors or health messages', async () => {
    const name = shared;
    const good = track(await openPlugin(endpoint.keyUrl(name)));
    const bad = track(await openPlugin(endpoint.keyUrl(name), { credentialSecret: 'kv-wrong' }));
    const staticToken = endpoint.issueToken(LIMITED_CLIENT, 600);
    const own = new MapSecrets();
    own.values.set('kv-static', JSON.stringify({ accessToken: staticToken }));
    const denied = track(await openPlugin(endpoint.keyUrl(name), { credentialSecret: 'kv-static' }, own));
    const texts = [JSON.stringify(await good.describe())];
    for (const plugin of [bad, denied]) {
      const err = await rejectsWith(plugin.wrap(randomBytes(32), { tenant: 't' }), 'ACCESS_DENIED');
      texts.push(inspect(err, { depth: 10 }), err.message, JSON.stringify(err), JSON.stringify(await plugin.health()));
    }
    for (const text of texts) {
      for (const secret of [GOOD_SECRET, WRONG_SECRET, staticToken, staticToken.split('.')[2] ?? '']) {
        assert.ok(!text.includes(secret), `leaked a secret in: ${text.slice(0, 200)}`);
      }
    }
    assert.match(texts[1] ?? '', /invalid_client/u);
  });

  test('A256KW on an oct-HSM key (Managed HSM): round trip, fresh blob per wrap, tenant binding', async () => {
    const { name } = await createKey('oct-HSM');
    const plugin = track(await openPlugin(endpoint.keyUrl(name), { algorithm: 'A256KW' }));
    for (const size of [16, 17, 32, 64]) {
      const key = randomBytes(size);
      const a = await plugin.wrap(key, { tenant: 't', purpose: 'l2' });
      const b = await plugin.wrap(key, { tenant: 't', purpose: 'l2' });
      assert.notDeepEqual(Buffer.from(a), Buffer.from(b));
      assert.deepEqual(Buffer.from(await plugin.unwrap(a, { tenant: 't', purpose: 'l2' })), key);
      await rejectsWith(plugin.unwrap(a, { tenant: 'u', purpose: 'l2' }), 'INVALID_CIPHERTEXT');
    }
    const description = await plugin.describe();
    assert.equal(description.mechanism, 'A256KW');
    assert.equal(description.keySizeBits, 256);
    // The algorithm must fit the key type: RSA-OAEP-256 on an AES key is a configuration error.
    const mismatched = track(await openPlugin(endpoint.keyUrl(name)));
    await rejectsWith(mismatched.wrap(randomBytes(32), { tenant: 't' }), 'INVALID_ARGUMENT');
  });

  test('TLS trust is per plugin: without caFile the private CA is not trusted (UNREACHABLE)', async () => {
    const name = shared;
    const plugin = track(
      await openAzureKeyVaultKeystore(
        { plugin: 'azure-keyvault', keyRef: endpoint.keyUrl(name), keyVersion: '' },
        { credentialSecret: 'kv-good', authorityHost: endpoint.url, disableChallengeResourceVerification: true, retries: 0 },
        secrets,
      ),
    );
    const err = await rejectsWith(plugin.wrap(randomBytes(32), { tenant: 't' }), 'UNREACHABLE');
    assert.match(err.message, /certificate|self.signed|issuer/iu);
  });

  test('an unreachable token authority is UNREACHABLE, not ACCESS_DENIED', async () => {
    const name = shared;
    const plugin = track(await openPlugin(endpoint.keyUrl(name), { authorityHost: `https://127.0.0.1:${String(closedPort)}` }));
    await rejectsWith(plugin.wrap(randomBytes(32), { tenant: 't' }), 'UNREACHABLE');
  });

  test('a vault that accepts connections but never answers is UNREACHABLE after requestTimeoutMs', async () => {
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const plugin = track(
        await openPlugin(`https://127.0.0.1:${String(port)}/keys/silent`, { requestTimeoutMs: 500, authorityHost: `https://127.0.0.1:${String(port)}` }),
      );
      const err = await rejectsWith(plugin.wrap(randomBytes(32), { tenant: 't' }), 'UNREACHABLE');
      assert.match(err.message, /abort|timeout/iu);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test(`token responses are read up to MAX_TOKEN_RESPONSE_BYTES (${String(MAX_TOKEN_RESPONSE_BYTES)}) and refused one past`, async () => {
    const agent = createAzureAgent(endpoint.caPem);
    try {
      const credential = (): AzureSecretCredential =>
        new AzureSecretCredential({ secrets, secretName: 'kv-good', authorityHost: endpoint.url, agent, timeoutMs: 5_000 });
      endpoint.tokenResponseBytes = MAX_TOKEN_RESPONSE_BYTES;
      const atLimit = credential();
      assert.notEqual((await atLimit.getToken('https://vault.azure.net/.default')).token, 'openkcm-token-unavailable');
      endpoint.tokenResponseBytes = MAX_TOKEN_RESPONSE_BYTES + 1;
      const past = credential();
      assert.equal((await past.getToken('https://vault.azure.net/.default')).token, 'openkcm-token-unavailable');
      assert.equal(past.failure?.code, 'UNREACHABLE');
      assert.match(past.failure.message, /larger than/u);
    } finally {
      endpoint.tokenResponseBytes = undefined;
      agent.destroy();
    }
  });

  test(`at most MAX_CACHED_VERSIONS (${String(MAX_CACHED_VERSIONS)}) key versions are cached; evicted ones are fetched again`, async () => {
    const { name } = await createKey('oct-HSM');
    // The plugin owns the agent (close() destroys it); the credential shares it.
    const agent = createAzureAgent(endpoint.caPem);
    const plugin = new AzureKeyVaultKeystore({
      keyRef: endpoint.keyUrl(name),
      credential: new AzureSecretCredential({ secrets, secretName: 'kv-good', authorityHost: endpoint.url, agent, timeoutMs: 5_000 }),
      algorithm: 'A256KW',
      disableChallengeResourceVerification: true,
      retries: 0,
      agent,
    });
    track(plugin);
    const key = randomBytes(32);
    const blobs: Uint8Array[] = [];
    for (let i = 0; i <= MAX_CACHED_VERSIONS + 1; i += 1) {
      blobs.push(await plugin.wrap(key, { tenant: 't' }));
      await admin.createKey(name, 'oct-HSM', { keySize: 256 });
      assert.equal((await plugin.health()).ok, true);
      assert.ok(plugin.cachedVersionCount <= MAX_CACHED_VERSIONS, `cache holds ${String(plugin.cachedVersionCount)}`);
    }
    assert.equal(plugin.cachedVersionCount, MAX_CACHED_VERSIONS);
    for (const blob of blobs) assert.deepEqual(Buffer.from(await plugin.unwrap(blob, { tenant: 't' })), key);
    assert.equal(plugin.cachedVersionCount, MAX_CACHED_VERSIONS);
  });

  test('the credential requests only Key Vault scopes (a forged challenge cannot obtain a Graph token)', async () => {
    const agent = createAzureAgent(endpoint.caPem);
    try {
      const credential = new AzureSecretCredential({ secrets, secretName: 'kv-good', authorityHost: endpoint.url, agent, timeoutMs: 5_000 });
      const before = endpoint.stats.tokenRequests;
      const token = await credential.getToken('https://graph.microsoft.com/.default');
      assert.equal(endpoint.stats.tokenRequests, before);
      assert.equal(token.token, 'openkcm-token-unavailable');
      assert.equal(credential.failure?.code, 'ACCESS_DENIED');
      const real = await credential.getToken(['https://vault.azure.net/.default']);
      assert.notEqual(real.token, 'openkcm-token-unavailable');
      assert.equal(credential.failure, undefined);
      // Cached: a second call does not go back to the authority.
      const again = await credential.getToken(['https://vault.azure.net/.default']);
      assert.equal(again.token, real.token);
      assert.equal(credential.fetches, 1);
    } finally {
      agent.destroy();
    }
  });
});

describe('azure-keyvault keystore: configuration is validated', () => {
  const shadow = (keyRef: string): { plugin: string; keyRef: string; keyVersion: string } => ({ plugin: 'azure-keyvault', keyRef, keyVersion: '' });
  const open = (settings: Record<string, unknown>, keyRef = endpoint.keyUrl('k')): Promise<KeystorePlugin> =>
    openAzureKeyVaultKeystore(shadow(keyRef), { credentialSecret: 'kv-good', ...settings }, secrets);
  const opened: KeystorePlugin[] = [];
  after(async () => {
    for (const plugin of opened) await plugin.close();
  });

  test('unknown settings are refused by name', async () => {
    const err = await rejectsWith(open({ region: 'westeurope' }), 'INVALID_ARGUMENT');
    assert.match(err.message, /region/u);
  });

  test('requestTimeoutMs and retries at their limits and one past', async () => {
    opened.push(await open({ requestTimeoutMs: MIN_REQUEST_TIMEOUT_MS }), await open({ requestTimeoutMs: MAX_REQUEST_TIMEOUT_MS }));
    await rejectsWith(open({ requestTimeoutMs: MIN_REQUEST_TIMEOUT_MS - 1 }), 'INVALID_ARGUMENT');
    await rejectsWith(open({ requestTimeoutMs: MAX_REQUEST_TIMEOUT_MS + 1 }), 'INVALID_ARGUMENT');
    opened.push(await open({ retries: 0 }), await open({ retries: MAX_RETRIES }));
    await rejectsWith(open({ retries: MAX_RETRIES + 1 }), 'INVALID_ARGUMENT');
    await rejectsWith(open({ retries: -1 }), 'INVALID_ARGUMENT');
    await rejectsWith(open({ retries: '2' }), 'INVALID_ARGUMENT');
  });

  test('size limits of keyRef, key version, credential secret, static token and caFile, at the limit and one past', async () => {
    const host = (length: number): string => {
      // Labels of at most 63 characters, joined by dots, to make a hostname of exactly `length` characters.
      const labels: string[] = [];
      let left = length;
      while (left > 0) {
        const take = Math.min(63, left === 64 ? 62 : left);
        labels.push('h'.repeat(take));
        left -= take + 1;
      }
      return labels.join('.');
    };
    const prefix = 'https://';
    const suffix = '/keys/k';
    const atLimit = `${prefix}${host(MAX_KEY_REF_CHARS - prefix.length - suffix.length)}${suffix}`;
    assert.equal(atLimit.length, MAX_KEY_REF_CHARS);
    assert.equal(parseAzureKeyRef(atLimit).name, 'k');
    const pastLimit = `${prefix}${host(MAX_KEY_REF_CHARS + 1 - prefix.length - suffix.length)}${suffix}`;
    assert.equal(pastLimit.length, MAX_KEY_REF_CHARS + 1);
    assert.throws(() => parseAzureKeyRef(pastLimit), KeystoreError);

    assert.equal(parseAzureKeyRef(`https://v.example/keys/k/${'a'.repeat(MAX_KEY_VERSION_CHARS)}`).version?.length, MAX_KEY_VERSION_CHARS);
    assert.throws(() => parseAzureKeyRef(`https://v.example/keys/k/${'a'.repeat(MAX_KEY_VERSION_CHARS + 1)}`), KeystoreError);

    const padded = (json: string, total: number): Buffer => Buffer.from(json + ' '.repeat(total - Buffer.byteLength(json)));
    const principal = JSON.stringify({ tenantId: 't', clientId: 'c', clientSecret: 's' });
    assert.ok('clientSecret' in parseCredentialSecret(padded(principal, MAX_CREDENTIAL_SECRET_BYTES)));
    assert.throws(() => parseCredentialSecret(padded(principal, MAX_CREDENTIAL_SECRET_BYTES + 1)), KeystoreError);
    assert.ok('accessToken' in parseCredentialSecret(Buffer.from(JSON.stringify({ accessToken: 'x'.repeat(MAX_ACCESS_TOKEN_CHARS) }))));
    assert.throws(() => parseCredentialSecret(Buffer.from(JSON.stringify({ accessToken: 'x'.repeat(MAX_ACCESS_TOKEN_CHARS + 1) }))), KeystoreError);

    const bigCa = join(tmp, 'big-ca.pem');
    writeFileSync(bigCa, endpoint.caPem + '\n'.repeat(MAX_CA_FILE_BYTES - Buffer.byteLength(endpoint.caPem)));
    opened.push(await open({ caFile: bigCa }));
    writeFileSync(bigCa, endpoint.caPem + '\n'.repeat(MAX_CA_FILE_BYTES + 1 - Buffer.byteLength(endpoint.caPem)));
    await rejectsWith(open({ caFile: bigCa }), 'INVALID_ARGUMENT');
  });

  test('algorithm: RSA-OAEP (SHA-1, done locally by the SDK) and unknown names are refused', async () => {
    await rejectsWith(open({ algorithm: 'RSA-OAEP' }), 'INVALID_ARGUMENT');
    await rejectsWith(open({ algorithm: 'RSA1_5' }), 'INVALID_ARGUMENT');
    opened.push(await open({ algorithm: 'A256KW' }));
  });

  test('keyRef, shadow, caFile, authorityHost and the credential secret are checked', async () => {
    for (const keyRef of ['http://vault.example/keys/k', 'https://vault.example/secrets/k', 'https://vault.example/keys/bad_name', 'https://u:p@vault.example/keys/k', 'https://vault.example/keys/k/v/x', 'not a url']) {
      await rejectsWith(open({}, keyRef), 'INVALID_ARGUMENT');
    }
    assert.deepEqual(parseAzureKeyRef('https://my-vault.vault.azure.net/keys/tenant-l1/0123abcd'), {
      vaultUrl: 'https://my-vault.vault.azure.net',
      name: 'tenant-l1',
      version: '0123abcd',
    });
    await rejectsWith(openAzureKeyVaultKeystore({ plugin: 'pkcs11', keyRef: endpoint.keyUrl('k'), keyVersion: '' }, { credentialSecret: 'kv-good' }, secrets), 'INVALID_ARGUMENT');
    await rejectsWith(openAzureKeyVaultKeystore({ plugin: 'azure-keyvault', keyRef: endpoint.keyUrl('k', 'aaaa'), keyVersion: 'bbbb' }, { credentialSecret: 'kv-good' }, secrets), 'INVALID_ARGUMENT');
    await rejectsWith(open({ caFile: join(tmp, 'missing.pem') }), 'INVALID_ARGUMENT');
    const notPem = join(tmp, 'not.pem');
    writeFileSync(notPem, 'hello');
    await rejectsWith(open({ caFile: notPem }), 'INVALID_ARGUMENT');
    await rejectsWith(open({ authorityHost: 'http://login.example' }), 'INVALID_ARGUMENT');
    await rejectsWith(open({ credentialSecret: '' }), 'INVALID_ARGUMENT');
    await rejectsWith(open({ credentialSecret: 'no-such-secret' }), 'UNREACHABLE');
    const own = new MapSecrets();
    for (const value of ['not json', '[]', '{"tenantId":"t","clientId":"c"}', '{"accessToken":""}', '{"accessToken":"x","extra":1}', '{"tenantId":"../x","clientId":"c","clientSecret":"s"}']) {
      own.values.set('s', value);
      const err = await rejectsWith(openAzureKeyVaultKeystore(shadow(endpoint.keyUrl('k')), { credentialSecret: 's' }, own), 'INVALID_ARGUMENT');
      assert.ok(!err.message.includes('"s"'), 'the secret value was echoed');
    }
    assert.throws(() => new AzureKeyVaultKeystore({ keyRef: endpoint.keyUrl('k'), credential: { getToken: () => Promise.resolve(null) }, retries: 11 }), KeystoreError);
  });
});

after(async () => {
  adminAgent.destroy();
  await endpoint.close();
  rmSync(tmp, { recursive: true, force: true });
});
