// PKCS#11 keystore against a real SoftHSM2 token under a private SOFTHSM2_CONF (issue 4, deliverable 2).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { Pkcs11Keystore } from '../../src/keystore/pkcs11.js';
import { KeystoreError } from '../../src/keystore/types.js';
import { runKeystoreConformance } from '../unit/keystore-conformance.js';
import { USER_PIN, destroyL1Key, encryptConcurrently, generateL1Key, setL1KeyEnabled, initToken, readKeyAttributes, setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';

const MAIN_TOKEN = 'openkcm-main';
const PIN_TOKEN = 'openkcm-pin';
const WRONG_PIN = '00000000';

// Tokens are initialised before any module load in this process: SoftHSM reads SOFTHSM2_CONF and scans the
// token directory in C_Initialize.
const hsm: SoftHsm = setupSoftHsm();
initToken(hsm, MAIN_TOKEN);
initToken(hsm, PIN_TOKEN);
let keyCounter = 0;

function pluginFor(keyLabel: string, overrides: Partial<{ modulePath: string; pin: string; tokenLabel: string }> = {}): Pkcs11Keystore {
  return new Pkcs11Keystore({
    modulePath: overrides.modulePath ?? hsm.modulePath,
    tokenLabel: overrides.tokenLabel ?? MAIN_TOKEN,
    pin: overrides.pin ?? USER_PIN,
    keyLabel,
  });
}

runKeystoreConformance({
  name: 'pkcs11 (SoftHSM2)',
  kind: 'pkcs11',
  open() {
    keyCounter += 1;
    const keyLabel = `l1-${String(keyCounter)}`;
    generateL1Key(hsm, MAIN_TOKEN, keyLabel);
    return Promise.resolve({
      plugin: pluginFor(keyLabel),
      secrets: [USER_PIN],
      revokeAtSource: () => {
        destroyL1Key(hsm, MAIN_TOKEN, keyLabel);
        return Promise.resolve();
      },
    });
  },
  openWithBadCredentials() {
    // A separate token: PKCS#11 login is per application and token, so a wrong PIN on a token this process is
    // already logged in to would not be checked.
    return Promise.resolve(pluginFor('l1-pin', { tokenLabel: PIN_TOKEN, pin: WRONG_PIN }));
  },
  openUnreachable() {
    return Promise.resolve(pluginFor('l1-x', { modulePath: `${hsm.dir}/no-such-pkcs11-module.so` }));
  },
});

describe('pkcs11 keystore: SoftHSM2 specifics', () => {
  const keyLabel = 'l1-specifics';
  let plugin: Pkcs11Keystore;
  before(() => {
    generateL1Key(hsm, MAIN_TOKEN, keyLabel);
    plugin = pluginFor(keyLabel);
  });
  after(async () => {
    await plugin.close();
  });

  test('the L1 key is non-extractable and sensitive, and its value is refused', async () => {
    const attrs = readKeyAttributes(hsm, MAIN_TOKEN, keyLabel, [pkcs11js.CKA_EXTRACTABLE, pkcs11js.CKA_SENSITIVE]);
    assert.deepEqual(attrs[0]?.value, Buffer.from([0]));
    assert.deepEqual(attrs[1]?.value, Buffer.from([1]));
    assert.throws(
      () => readKeyAttributes(hsm, MAIN_TOKEN, keyLabel, [pkcs11js.CKA_VALUE]),
      (err: unknown) => err instanceof pkcs11js.Pkcs11Error && err.code === pkcs11js.CKR_ATTRIBUTE_SENSITIVE,
    );
    const description = await plugin.describe();
    assert.equal(description.details['extractable'], false);
    assert.equal(description.details['sensitive'], true);
  });

  test('describe reports label, mechanism, key size and token info', async () => {
    const description = await plugin.describe();
    assert.deepEqual(description.shadow, {
      plugin: 'pkcs11',
      keyRef: `token=${MAIN_TOKEN};object=${keyLabel}`,
      keyVersion: Buffer.from(keyLabel).toString('hex'),
    });
    assert.equal(description.mechanism, 'CKM_AES_GCM');
    assert.equal(description.keySizeBits, 256);
    assert.equal(description.details['tokenLabel'], MAIN_TOKEN);
    assert.equal(description.details['tokenManufacturer'], 'SoftHSM project');
  });

  test('wrapped format: version byte, 12-byte IV, ciphertext and 16-byte tag', async () => {
    const wrapped = await plugin.wrap(randomBytes(32), { tenant: 't' });
    assert.equal(wrapped[0], 1);
    assert.equal(wrapped.length, 1 + 12 + 32 + 16);
  });

  test('an L1 restored under the same label is found again (recovery after revocation)', async () => {
    const label = 'l1-restore';
    generateL1Key(hsm, MAIN_TOKEN, label);
    const own = pluginFor(label);
    try {
      await own.wrap(randomBytes(32), { tenant: 't' });
      destroyL1Key(hsm, MAIN_TOKEN, label);
      const down = await own.health();
      assert.equal(down.ok, false);
      generateL1Key(hsm, MAIN_TOKEN, label);
      const up = await own.health();
      assert.equal(up.ok, true);
    } finally {
      await own.close();
    }
  });

  test('disabled at the source (CKA_ENCRYPT/CKA_DECRYPT cleared) is KEY_REVOKED_OR_DISABLED, and re-enabling recovers', async () => {
    const label = 'l1-disable';
    generateL1Key(hsm, MAIN_TOKEN, label);
    const own = pluginFor(label);
    try {
      const wrapped = await own.wrap(randomBytes(32), { tenant: 't' });
      setL1KeyEnabled(hsm, MAIN_TOKEN, label, false);
      await assert.rejects(own.unwrap(wrapped, { tenant: 't' }), (err: unknown) => err instanceof KeystoreError && err.code === 'KEY_REVOKED_OR_DISABLED');
      const down = await own.health();
      assert.ok(!down.ok);
      assert.equal(down.code, 'KEY_REVOKED_OR_DISABLED');
      setL1KeyEnabled(hsm, MAIN_TOKEN, label, true);
      assert.equal((await own.unwrap(wrapped, { tenant: 't' })).length, 32);
    } finally {
      await own.close();
    }
  });

  test('truly concurrent sessions (libuv threads) beside plugin calls do not break the module', async () => {
    const [completed] = await Promise.all([
      encryptConcurrently(hsm, MAIN_TOKEN, keyLabel, 16),
      Promise.all(Array.from({ length: 20 }, () => plugin.wrap(randomBytes(32), { tenant: 't' }))),
    ]);
    assert.equal(completed, 16);
    assert.equal((await plugin.health()).ok, true);
  });

  test('an unknown token label is UNREACHABLE', async () => {
    const own = pluginFor(keyLabel, { tokenLabel: 'no-such-token' });
    await assert.rejects(own.wrap(randomBytes(32), { tenant: 't' }), (err: unknown) => err instanceof KeystoreError && err.code === 'UNREACHABLE');
    await own.close();
  });

  test('configuration is validated', () => {
    assert.throws(() => new Pkcs11Keystore({ modulePath: hsm.modulePath, tokenLabel: MAIN_TOKEN, pin: USER_PIN, keyLabel: 'k', maxSessions: 0 }), KeystoreError);
    assert.throws(() => new Pkcs11Keystore({ modulePath: '', tokenLabel: MAIN_TOKEN, pin: USER_PIN, keyLabel: 'k' }), KeystoreError);
  });
});

after(() => {
  hsm.cleanup();
});
