/**
 * The app's keystore factory (src/keystore/factory.ts): dispatch on shadow.plugin, one open plugin per
 * (kind, keyRef), failed opens not cached, unknown kinds refused, close; the PKCS#11 adapter's settings checks,
 * and a real wrap/unwrap through it against a SoftHSM2 token (the PIN comes from a named secret and is wiped).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { KeystoreFactory, openPkcs11Keystore } from '../../src/keystore/factory.js';
import { KeystoreError } from '../../src/keystore/types.js';
import type { KeystorePlugin, SecretSource, ShadowReference } from '../../src/keystore/types.js';
import { generateL1Key, initToken, setupSoftHsm, USER_PIN } from '../helpers/softhsm.js';
import type { SoftHsm } from '../helpers/softhsm.js';

// SoftHSM reads SOFTHSM2_CONF once, at the module's C_Initialize: set it up before anything loads the module.
const hsm: SoftHsm = setupSoftHsm();
const TOKEN = 'factory-test';
initToken(hsm, TOKEN);
generateL1Key(hsm, TOKEN, 'l1-a');

function fakePlugin(kind: string, closed: string[]): KeystorePlugin {
  return {
    kind,
    wrap: (k) => Promise.resolve(Uint8Array.from(k)),
    unwrap: (w) => Promise.resolve(Uint8Array.from(w)),
    describe: () => Promise.reject(new Error('not used')),
    health: () => Promise.reject(new Error('not used')),
    close: () => { closed.push(kind); return Promise.resolve(); },
  };
}

const noSecrets: SecretSource = { get: (name) => Promise.reject(new Error(`no secret ${name}`)) };

function isKeystoreError(code: string): (e: unknown) => boolean {
  return (e) => e instanceof KeystoreError && e.code === code;
}

describe('KeystoreFactory', () => {
  after(() => { hsm.cleanup(); });

  test('dispatches on the kind, caches one plugin per (kind, keyRef), passes the kind\'s connection settings', async () => {
    const calls: { kind: string; keyRef: string; settings: unknown }[] = [];
    const closed: string[] = [];
    const opener = (shadow: ShadowReference, settings: Readonly<Record<string, unknown>>): Promise<KeystorePlugin> => {
      calls.push({ kind: shadow.plugin, keyRef: shadow.keyRef, settings });
      return Promise.resolve(fakePlugin(shadow.plugin, closed));
    };
    const f = new KeystoreFactory({
      connections: { 'aws-kms': { region: 'eu-central-1' } },
      secrets: noSecrets,
      openers: { 'aws-kms': opener },
      local: (shadow) => { calls.push({ kind: 'local', keyRef: shadow.keyRef, settings: undefined }); return Promise.resolve(fakePlugin('local', closed)); },
    });
    const a = { plugin: 'aws-kms', keyRef: 'arn:1', keyVersion: '' };
    const [p1, p2] = await Promise.all([f.keystoreFor(a), f.keystoreFor({ ...a, keyVersion: 'v2' })]);
    assert.equal(p1, p2, 'same (kind, keyRef): one plugin');
    await f.keystoreFor({ ...a, keyRef: 'arn:2' });
    await f.keystoreFor({ plugin: 'local', keyRef: 'local:t', keyVersion: '' });
    assert.deepEqual(calls, [
      { kind: 'aws-kms', keyRef: 'arn:1', settings: { region: 'eu-central-1' } },
      { kind: 'aws-kms', keyRef: 'arn:2', settings: { region: 'eu-central-1' } },
      { kind: 'local', keyRef: 'local:t', settings: undefined },
    ]);
    assert.equal(f.size, 3);
    await f.close();
    assert.deepEqual(closed.sort(), ['aws-kms', 'aws-kms', 'local']);
    await assert.rejects(f.keystoreFor(a), isKeystoreError('UNREACHABLE'));
  });

  test('a failed open is not cached: the next call tries again', async () => {
    let n = 0;
    const f = new KeystoreFactory({
      connections: {},
      secrets: noSecrets,
      openers: { 'azure-keyvault': () => (++n === 1 ? Promise.reject(new KeystoreError('UNREACHABLE', 'azure-keyvault', 'down')) : Promise.resolve(fakePlugin('azure-keyvault', []))) },
    });
    const s = { plugin: 'azure-keyvault', keyRef: 'https://v.vault.azure.net/keys/k', keyVersion: '' };
    await assert.rejects(f.keystoreFor(s), isKeystoreError('UNREACHABLE'));
    assert.equal((await f.keystoreFor(s)).kind, 'azure-keyvault');
    assert.equal(n, 2);
    await f.close();
  });

  test('unknown kinds, and local without a local factory, are INVALID_ARGUMENT', async () => {
    const f = new KeystoreFactory({ connections: {}, secrets: noSecrets });
    await assert.rejects(f.keystoreFor({ plugin: 'gcp-kms', keyRef: 'x', keyVersion: '' }), isKeystoreError('INVALID_ARGUMENT'));
    await assert.rejects(f.keystoreFor({ plugin: 'local', keyRef: 'local:x', keyVersion: '' }), isKeystoreError('INVALID_ARGUMENT'));
    assert.equal(f.size, 0);
    await f.close();
  });

  test('the aws-kms kind loads its module on first use and validates its settings there', async () => {
    const f = new KeystoreFactory({ connections: { 'aws-kms': { region: 'eu-central-1', bogus: 1 } }, secrets: noSecrets });
    await assert.rejects(f.keystoreFor({ plugin: 'aws-kms', keyRef: 'arn:aws:kms:eu-central-1:111122223333:key/x', keyVersion: '' }),
      (e: unknown) => e instanceof KeystoreError && e.code === 'INVALID_ARGUMENT' && e.message.includes('bogus'));
    await f.close();
  });

  test('openPkcs11Keystore: every setting and the keyRef are checked', async () => {
    const shadow = { plugin: 'pkcs11', keyRef: `token=${TOKEN};object=l1-a`, keyVersion: '' };
    const good = { modulePath: hsm.modulePath, pinSecret: 'pin' };
    const bad: [Record<string, unknown>, ShadowReference, RegExp][] = [
      [{ ...good, pin: '1234' }, shadow, /unknown setting "pin"/],
      [{ pinSecret: 'pin' }, shadow, /modulePath/],
      [{ modulePath: hsm.modulePath }, shadow, /pinSecret/],
      [{ ...good, maxSessions: 0 }, shadow, /maxSessions/],
      [good, { ...shadow, keyRef: 'object=l1-a' }, /keyRef/],
      [good, { ...shadow, plugin: 'aws-kms' }, /plugin aws-kms/],
    ];
    for (const [settings, s, why] of bad) {
      await assert.rejects(openPkcs11Keystore(s, settings, noSecrets), (e: unknown) => e instanceof KeystoreError && e.code === 'INVALID_ARGUMENT' && why.test(e.message), why.source);
    }
  });

  test('pkcs11 through the factory: a real SoftHSM2 token, the PIN read from a named secret and wiped', async () => {
    const handed: Buffer[] = [];
    const secrets: SecretSource = {
      get: (name) => {
        assert.equal(name, 'hsm-pin');
        const b = Buffer.from(USER_PIN, 'utf8');
        handed.push(b);
        return Promise.resolve(b);
      },
    };
    const f = new KeystoreFactory({ connections: { pkcs11: { modulePath: hsm.modulePath, pinSecret: 'hsm-pin' } }, secrets });
    const plugin = await f.keystoreFor({ plugin: 'pkcs11', keyRef: `token=${TOKEN};object=l1-a`, keyVersion: '' });
    const key = new Uint8Array(32).fill(0x5a);
    const wrapped = await plugin.wrap(key, { tenant: 't1', purpose: 'l2:v1' });
    assert.deepEqual(await plugin.unwrap(wrapped, { tenant: 't1', purpose: 'l2:v1' }), key);
    await assert.rejects(plugin.unwrap(wrapped, { tenant: 't2', purpose: 'l2:v1' }), isKeystoreError('INVALID_CIPHERTEXT'));
    assert.equal(handed.length, 1);
    assert.ok(handed.every((b) => b.every((x) => x === 0)), 'the PIN buffer was wiped');
    await f.close();
  });
});
