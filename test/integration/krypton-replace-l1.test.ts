/**
 * Krypton.replaceL1 (issue 16 item 2; the engine step behind registering an L1 for a tenant that already has keys):
 * on SoftHSM2 keys and the LMDB store, with the real PKCS#11 plugin.
 *
 * - the tenant's L2 moves to the new L1: the old L1 is no longer needed (deleting it does not darken the tenant on a
 *   fresh node), the new one is (deleting it does), and the L4 data stays readable (L3 untouched);
 * - nothing is written when the new L1 refuses (absent key), or the old one no longer unwraps (deleted);
 * - replacing with the same L1 is a no-op (false); a revoked tenant is refused (TENANT_REVOKED).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KmipError } from '../../src/kmip/errors.js';
import { Pkcs11Keystore } from '../../src/keystore/pkcs11.js';
import { isKeystoreError } from '../../src/keystore/types.js';
import { isKryptonError } from '../../src/krypton/errors.js';

/** replaceL1 names which L1 failed (L1_UNHEALTHY) and keeps the plugin's own error as its cause. */
function l1Unhealthy(e: unknown, cause: Parameters<typeof isKeystoreError>[1]): boolean {
  return isKryptonError(e, 'L1_UNHEALTHY') && isKeystoreError((e as Error & { cause?: unknown }).cause, cause);
}
import type { KeystorePlugin, ShadowReference } from '../../src/keystore/types.js';
import { Krypton } from '../../src/krypton/krypton.js';
import { LmdbHierarchyStore } from '../../src/krypton/lmdb-store.js';
import { initNative } from '../../src/native/index.js';
import { open as openEnvelope, seal as sealEnvelope } from '../../src/vault/envelope.js';
import { destroyL1Key, generateL1Key, initToken, setupSoftHsm, USER_PIN } from '../helpers/softhsm.js';
import type { SoftHsm } from '../helpers/softhsm.js';

const TOKEN = 'openkcm-replace';
const hsm: SoftHsm = setupSoftHsm();
initToken(hsm, TOKEN);
initNative({ allowUnlocked: true });

const MATERIAL = Buffer.from('an L4 data key of thirty-two by!', 'latin1');
const AAD = { tenant: 'acme', uid: 'obj-1', version: 1 };

describe('Krypton.replaceL1 on SoftHSM2 + LMDB', () => {
  let root: string;
  const plugins = new Map<string, Pkcs11Keystore>();
  const keystoreFor = (shadow: ShadowReference): Promise<KeystorePlugin> => {
    let p = plugins.get(shadow.keyRef);
    if (p === undefined) {
      const m = /^token=([^;]+);object=(.+)$/u.exec(shadow.keyRef);
      if (m === null) return Promise.reject(new Error(`bad keyRef ${shadow.keyRef}`));
      p = new Pkcs11Keystore({ modulePath: hsm.modulePath, tokenLabel: m[1] ?? '', pin: USER_PIN, keyLabel: m[2] ?? '' });
      plugins.set(shadow.keyRef, p);
    }
    return Promise.resolve(p);
  };
  let n = 0;
  const newL1 = (): { label: string; shadow: ShadowReference } => {
    n += 1;
    const label = `rl1-${String(n)}`;
    generateL1Key(hsm, TOKEN, label);
    return { label, shadow: { plugin: 'pkcs11', keyRef: `token=${TOKEN};object=${label}`, keyVersion: '' } };
  };
  const open = async (dir: string): Promise<{ k: Krypton; store: LmdbHierarchyStore }> => {
    const store = await LmdbHierarchyStore.open(path.join(root, dir));
    return { k: await Krypton.open({ store, keystoreFor }), store };
  };

  before(() => { root = mkdtempSync(path.join(tmpdir(), 'openkcm-replace-')); });
  after(async () => {
    for (const p of plugins.values()) await p.close();
    rmSync(root, { recursive: true, force: true });
    hsm.cleanup();
  });

  test('moves L2 to the new L1; the old one is no longer needed, the new one is; L4 stays readable', async () => {
    const a = newL1();
    const b = newL1();
    const { store, k: k1 } = await open('s1');
    let k = k1;
    await k.onboard('acme', a.shadow);
    await k.rotateL2('acme');
    await k.rotateL3('acme'); // L2 v2 is current; L3 v1 and v2 both sealed under it
    const blob = await sealEnvelope(k.kek('acme'), MATERIAL, AAD);
    assert.equal(await k.replaceL1('acme', a.shadow), false, 'same L1: nothing to do');
    assert.equal(await k.replaceL1('acme', b.shadow), true);
    assert.deepEqual(await k.shadowOf('acme'), b.shadow);
    assert.deepEqual(Buffer.from(await openEnvelope(k.kek('acme'), blob, AAD)), MATERIAL, 'still active here');
    await k.close();
    // A fresh node (as after a restart) activates through the new L1 only: the old one may go.
    destroyL1Key(hsm, TOKEN, a.label);
    k = await Krypton.open({ store, keystoreFor });
    await k.activate('acme');
    assert.deepEqual(Buffer.from(await openEnvelope(k.kek('acme'), blob, AAD)), MATERIAL);
    // And the new L1 is the kill-switch now.
    destroyL1Key(hsm, TOKEN, b.label);
    const h = await k.checkL1('acme');
    assert.equal(h.ok, false);
    assert.throws(() => k.kek('acme'), (e: unknown) => e instanceof KmipError && e.code === 'TENANT_REVOKED');
    // A revoked tenant's L1 is not replaced.
    const c = newL1();
    await assert.rejects(k.replaceL1('acme', c.shadow), (e: unknown) => e instanceof KmipError && e.code === 'TENANT_REVOKED');
    await k.close();
    await store.close();
  });

  test('nothing is written when the new L1 refuses or the old one no longer unwraps', async () => {
    const a = newL1();
    const { k, store } = await open('s2');
    await k.onboard('acme', a.shadow);
    const before = await store.get('acme');
    await assert.rejects(k.replaceL1('acme', { plugin: 'pkcs11', keyRef: `token=${TOKEN};object=absent`, keyVersion: '' }),
      (e: unknown) => l1Unhealthy(e, 'KEY_REVOKED_OR_DISABLED'));
    assert.deepEqual(await store.get('acme'), before, 'record unchanged');
    const b = newL1();
    destroyL1Key(hsm, TOKEN, a.label);
    await assert.rejects(k.replaceL1('acme', b.shadow), (e: unknown) => l1Unhealthy(e, 'KEY_REVOKED_OR_DISABLED'));
    assert.deepEqual(await store.get('acme'), before, 'record unchanged: without the old L1 there is nothing to move');
    await k.close();
    await store.close();
  });
});
