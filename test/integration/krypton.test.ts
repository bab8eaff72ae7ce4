// Krypton, the key hierarchy engine (src/krypton/krypton.ts), against a real SoftHSM2 token through the PKCS#11
// plugin and a real LMDB hierarchy store (issue 4 deliverables 5, 7, 8): onboarding, cold/warm activation, L2 and L3
// rotation, crypto-shredding at depths 2 and 3, the kill-switch (admin and at the source), restore, AAD binding.
// Figures (cold/warm activation, revocation-to-refusal) are printed, not asserted (notes/common.md).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { KmipError } from '../../src/kmip/errors.js';
import { Pkcs11Keystore } from '../../src/keystore/pkcs11.js';
import type { HealthStatus, KeyDescription, KeystorePlugin, ShadowReference, WrapContext } from '../../src/keystore/types.js';
import { Krypton, KryptonError, L1_RETRY_BACKOFF_MS } from '../../src/krypton/krypton.js';
import type { KryptonErrorCode } from '../../src/krypton/krypton.js';
import { LmdbHierarchyStore } from '../../src/krypton/lmdb-store.js';
import { MAX_L3_VERSIONS, MAX_SERVICES_PER_TENANT, MAX_STATE_REASON_BYTES } from '../../src/krypton/record.js';
import { initNative, nativeInfo } from '../../src/native/index.js';
import { open as openEnvelope, parseEnvelope, seal as sealEnvelope } from '../../src/vault/envelope.js';
import type { EnvelopeAad } from '../../src/vault/envelope.js';
import { EnvelopeError } from '../../src/vault/errors.js';
import { destroyL1Key, generateL1Key, initToken, setL1KeyEnabled, setupSoftHsm, USER_PIN } from '../helpers/softhsm.js';
import type { SoftHsm } from '../helpers/softhsm.js';

const TOKEN = 'openkcm-krypton';
// Before any module load in this process: SoftHSM reads SOFTHSM2_CONF in C_Initialize.
const hsm: SoftHsm = setupSoftHsm();
initToken(hsm, TOKEN);
initNative({ allowUnlocked: true });

let root: string;
before(() => { root = mkdtempSync(path.join(tmpdir(), 'openkcm-krypton-')); });

/** The real PKCS#11 plugin, counted: `unwraps` tells whether an activation called L1. */
class CountingPlugin implements KeystorePlugin {
  readonly kind: string;
  unwraps = 0;
  constructor(readonly inner: KeystorePlugin) { this.kind = inner.kind; }
  wrap(k: Uint8Array, c: WrapContext): Promise<Uint8Array> { return this.inner.wrap(k, c); }
  unwrap(w: Uint8Array, c: WrapContext): Promise<Uint8Array> { this.unwraps += 1; return this.inner.unwrap(w, c); }
  describe(): Promise<KeyDescription> { return this.inner.describe(); }
  health(): Promise<HealthStatus> { return this.inner.health(); }
  close(): Promise<void> { return this.inner.close(); }
}

/** Plugins cached per keyRef, as the app wiring does. */
const plugins = new Map<string, CountingPlugin>();
function pluginFor(shadow: ShadowReference): Promise<KeystorePlugin> {
  let p = plugins.get(shadow.keyRef);
  if (p === undefined) {
    const m = /^token=([^;]+);object=(.+)$/u.exec(shadow.keyRef);
    if (m === null) throw new Error(`bad keyRef ${shadow.keyRef}`);
    p = new CountingPlugin(new Pkcs11Keystore({ modulePath: hsm.modulePath, tokenLabel: m[1] ?? '', pin: USER_PIN, keyLabel: m[2] ?? '' }));
    plugins.set(shadow.keyRef, p);
  }
  return Promise.resolve(p);
}
function counted(shadow: ShadowReference): CountingPlugin {
  const p = plugins.get(shadow.keyRef);
  if (p === undefined) throw new Error('no plugin yet');
  return p;
}

let l1Counter = 0;
/** A fresh L1 key on the token; returns its label and shadow reference. */
function newL1(): { label: string; shadow: ShadowReference } {
  l1Counter += 1;
  const label = `l1-k-${String(l1Counter)}`;
  const id = generateL1Key(hsm, TOKEN, label);
  return { label, shadow: { plugin: 'pkcs11', keyRef: `token=${TOKEN};object=${label}`, keyVersion: id.toString('hex') } };
}

let storeCounter = 0;
async function newStore(): Promise<LmdbHierarchyStore> {
  storeCounter += 1;
  return LmdbHierarchyStore.open(path.join(root, `store-${String(storeCounter)}`));
}

const krs: Krypton[] = [];
async function newKrypton(store: LmdbHierarchyStore, clock?: () => Date, keystoreFor = pluginFor): Promise<Krypton> {
  const k = await Krypton.open({ store, keystoreFor, ...(clock === undefined ? {} : { clock }) });
  krs.push(k);
  return k;
}

const aad = (tenant: string, uid = 'obj-1'): EnvelopeAad => ({ tenant, uid, version: 1 });
const MATERIAL = Buffer.from('an L4 data key of thirty-two by!', 'latin1');

function isKmip(code: 'TENANT_REVOKED' | 'TENANT_UNAVAILABLE'): (err: unknown) => boolean {
  return (err: unknown) => err instanceof KmipError && err.code === code;
}
function isKrypton(code: KryptonErrorCode): (err: unknown) => boolean {
  return (err: unknown) => err instanceof KryptonError && err.code === code;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

describe('Krypton on SoftHSM2 + LMDB', () => {
  test('onboard: L2 wrapped by L1, L3 sealed by L2; kek() seals and opens vault envelopes', async () => {
    const store = await newStore();
    const k = await newKrypton(store);
    const { shadow } = newL1();
    const before = nativeInfo().slotsInUse;
    const activated: string[] = [];
    k.on('activated', (t) => activated.push(t));
    await k.onboard('acme', shadow);
    assert.deepEqual(activated, ['acme']);
    assert.equal(nativeInfo().slotsInUse, before + 2); // L2 + L3 kmip v1
    const kek = k.kek('acme');
    assert.equal(kek.id, 'l3:acme:kmip');
    assert.equal(kek.currentVersion, 1);
    assert.ok(kek.hasVersion(1));
    const env = await sealEnvelope(kek, MATERIAL, aad('acme'));
    assert.equal(parseEnvelope(env).keyId, 'l3:acme:kmip');
    assert.deepEqual(await openEnvelope(kek, env, aad('acme')), MATERIAL);
    const rec = await store.get('acme');
    assert.ok(rec !== undefined);
    assert.equal(rec.state, 'active');
    assert.deepEqual(rec.shadow, shadow);
    assert.equal(rec.l2.length, 1);
    assert.deepEqual(rec.currentL3, { kmip: 1 });
    assert.deepEqual(parseEnvelope(rec.l3[0]?.sealed ?? new Uint8Array()).keyId, 'l2:acme');
    assert.deepEqual(k.status('acme'), { state: 'active', active: true, l2Version: 1, l3Versions: { kmip: [1] } });
    await assert.rejects(k.onboard('acme', shadow), isKrypton('EXISTS'));
    await assert.rejects(k.onboard('', shadow), isKrypton('INVALID'));
    await assert.rejects(k.onboard('x', shadow, ['Bad Name']), isKrypton('INVALID'));
    assert.throws(() => k.kek('acme', 'other'), isKrypton('UNKNOWN_SERVICE'));
    await k.close();
    assert.equal(nativeInfo().slotsInUse, before, 'close() zeroises and frees every slot');
    assert.throws(() => k.kek('acme'), isKrypton('CLOSED'));
    await assert.rejects(kek.seal(1, Buffer.alloc(12), MATERIAL, Buffer.alloc(0)), isKrypton('CLOSED'));
    await store.close();
  });

  test('cold activation calls L1 once (shared by concurrent callers), warm does not; figures printed', async () => {
    const store = await newStore();
    const { shadow } = newL1();
    const k0 = await newKrypton(store);
    await k0.onboard('cold', shadow);
    const env = await sealEnvelope(k0.kek('cold'), MATERIAL, aad('cold'));
    await k0.close();
    const plugin = counted(shadow);

    const k1 = await newKrypton(store);
    assert.throws(() => k1.kek('cold'), isKrypton('NOT_ACTIVE'));
    assert.equal(k1.isActive('cold'), false);
    const u0 = plugin.unwraps;
    const results = await Promise.all(Array.from({ length: 5 }, () => k1.activate('cold')));
    assert.equal(plugin.unwraps - u0, 1, 'five concurrent activations share one L1 unwrap');
    assert.ok(results.every((r) => r.cold));
    const warm = await k1.activate('cold');
    assert.equal(warm.cold, false);
    assert.equal(plugin.unwraps - u0, 1);
    assert.deepEqual(await openEnvelope(k1.kek('cold'), env, aad('cold')), MATERIAL);
    await assert.rejects(k1.activate('nobody'), isKrypton('UNKNOWN_TENANT'));
    await k1.close();

    const cold: number[] = [];
    const warmMs: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const k = await newKrypton(store);
      const r = await k.activate('cold');
      assert.equal(r.cold, true);
      cold.push(r.ms);
      const w = await k.activate('cold');
      assert.equal(w.cold, false);
      warmMs.push(w.ms);
      await k.close();
    }
    console.log(`[krypton figures] activation on SoftHSM2 (1 L2 + 1 L3), n=20: cold median ${median(cold).toFixed(3)} ms (min ${Math.min(...cold).toFixed(3)}, max ${Math.max(...cold).toFixed(3)}); warm median ${median(warmMs).toFixed(4)} ms`);
    await store.close();
  });

  test('L2 rotation re-seals every L3 natively and leaves no trace of the old L2 in the store', async () => {
    const store = await newStore();
    const { shadow } = newL1();
    const k = await newKrypton(store);
    await k.onboard('rot2', shadow, ['kmip', 'backup']);
    await k.rotateL3('rot2', 'kmip');
    const e1 = await sealEnvelope(k.kek('rot2'), MATERIAL, aad('rot2'));
    const before = await store.get('rot2');
    const oldWrapped = Buffer.from(before?.l2[0]?.wrapped ?? []);
    const slots = nativeInfo().slotsInUse;
    assert.equal(await k.rotateL2('rot2'), 2);
    assert.equal(nativeInfo().slotsInUse, slots, 'the old L2 slot was zeroised, the new one took its place');
    const rec = await store.get('rot2');
    assert.ok(rec !== undefined);
    assert.equal(rec.currentL2, 2);
    assert.deepEqual(rec.l2.map((e) => e.version), [2]);
    assert.ok(rec.l3.every((e) => e.l2Version === 2 && parseEnvelope(e.sealed).keyVersion === 2));
    assert.ok(!rec.l2.some((e) => Buffer.from(e.wrapped).equals(oldWrapped)));
    assert.equal(rec.l3.length, 3);
    assert.deepEqual(k.status('rot2').l2Version, 2);
    // L3 is unchanged: envelopes sealed before still open, here and on a cold node that reads the re-sealed blobs.
    assert.deepEqual(await openEnvelope(k.kek('rot2'), e1, aad('rot2')), MATERIAL);
    const cold = await newKrypton(store);
    await cold.ensureActive('rot2');
    assert.deepEqual(await openEnvelope(cold.kek('rot2'), e1, aad('rot2')), MATERIAL);
    assert.equal(cold.kek('rot2', 'backup').currentVersion, 1);
    assert.equal(await k.rotateL2('rot2'), 3);
    assert.deepEqual((await store.get('rot2'))?.l2.map((e) => e.version), [3]);
    await k.close();
    await cold.close();
    await store.close();
  });

  test('L3 rotation: new envelopes use the new version, old ones still open; dropL3Version crypto-shreds one version', async () => {
    const store = await newStore();
    const { shadow } = newL1();
    const k = await newKrypton(store);
    await k.onboard('rot3', shadow);
    const kek = k.kek('rot3');
    const e1 = await sealEnvelope(kek, MATERIAL, aad('rot3'));
    assert.equal(await k.rotateL3('rot3'), 2);
    assert.equal(kek.currentVersion, 2, 'the live keyring follows the rotation');
    assert.equal(k.kek('rot3').currentVersion, 2);
    const e2 = await sealEnvelope(kek, MATERIAL, aad('rot3'));
    assert.equal(parseEnvelope(e2).keyVersion, 2);
    assert.equal(parseEnvelope(e1).keyVersion, 1);
    assert.deepEqual(await openEnvelope(kek, e1, aad('rot3')), MATERIAL);
    assert.deepEqual(await openEnvelope(kek, e2, aad('rot3')), MATERIAL);
    assert.equal(await k.rotateL3('rot3'), 3);
    const e3 = await sealEnvelope(kek, MATERIAL, aad('rot3'));
    assert.deepEqual(k.status('rot3').l3Versions, { kmip: [1, 2, 3] });

    await assert.rejects(k.dropL3Version('rot3', 'kmip', 3), isKrypton('INVALID'));
    const slots = nativeInfo().slotsInUse;
    await k.dropL3Version('rot3', 'kmip', 1);
    assert.equal(nativeInfo().slotsInUse, slots - 1, 'the dropped version\'s slot is zeroised');
    assert.equal(kek.hasVersion(1), false);
    await assert.rejects(openEnvelope(kek, e1, aad('rot3')), (err: unknown) => err instanceof EnvelopeError && err.code === 'WRONG_KEY');
    assert.deepEqual(await openEnvelope(kek, e2, aad('rot3')), MATERIAL);
    await assert.rejects(k.dropL3Version('rot3', 'kmip', 1), isKrypton('UNKNOWN_VERSION'));
    await assert.rejects(k.dropL3Version('rot3', 'nope', 1), isKrypton('UNKNOWN_SERVICE'));
    // Shredded for good: a cold node reading the store cannot open it either, the others it can.
    const cold = await newKrypton(store);
    await cold.ensureActive('rot3');
    await assert.rejects(openEnvelope(cold.kek('rot3'), e1, aad('rot3')), EnvelopeError);
    assert.deepEqual(await openEnvelope(cold.kek('rot3'), e3, aad('rot3')), MATERIAL);
    assert.deepEqual((await store.get('rot3'))?.l3.map((e) => e.version), [2, 3]);
    await k.close();
    await cold.close();
    await store.close();
  });

  test(`limits: ${String(MAX_SERVICES_PER_TENANT)} services pass and one more is LIMIT; ${String(MAX_L3_VERSIONS)} L3 versions pass and one more is LIMIT`, async () => {
    const store = await newStore();
    const { shadow } = newL1();
    const k = await newKrypton(store);
    const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `s${String(i)}`);
    await assert.rejects(k.onboard('many', shadow, names(MAX_SERVICES_PER_TENANT + 1)), isKrypton('LIMIT'));
    await k.onboard('many', shadow, names(MAX_SERVICES_PER_TENANT));
    await k.offboard('many');
    await k.onboard('lim', shadow);
    for (let v = 2; v <= MAX_L3_VERSIONS; v += 1) assert.equal(await k.rotateL3('lim'), v);
    await assert.rejects(k.rotateL3('lim'), isKrypton('LIMIT'));
    await k.dropL3Version('lim', 'kmip', 1);
    assert.equal(await k.rotateL3('lim'), MAX_L3_VERSIONS + 1);
    await k.close();
    await store.close();
  });

  test('kill-switch by admin: refusal is immediate, slots are zeroised, other tenants unaffected; restore brings it back', async () => {
    const store = await newStore();
    const { shadow } = newL1();
    const k = await newKrypton(store);
    await k.onboard('victim', shadow);
    await k.onboard('bystander', shadow);
    const held = k.kek('victim');
    const env = await sealEnvelope(held, MATERIAL, aad('victim'));
    const other = await sealEnvelope(k.kek('bystander'), MATERIAL, aad('bystander'));
    const events: string[] = [];
    k.on('revoked', (t) => events.push(`revoked:${t}`));
    k.on('restored', (t) => events.push(`restored:${t}`));
    const slots = nativeInfo().slotsInUse;

    const t0 = performance.now();
    const pending = k.revoke('victim', 'admin');
    assert.throws(() => k.kek('victim'), isKmip('TENANT_REVOKED'));
    const refusedMs = performance.now() - t0;
    await pending;
    const persistedMs = performance.now() - t0;
    console.log(`[krypton figures] admin revoke → kek() refusal ${refusedMs.toFixed(3)} ms (synchronous zeroisation); durable 'revoked' record after ${persistedMs.toFixed(3)} ms`);

    assert.equal(nativeInfo().slotsInUse, slots - 2, 'L2 and L3 slots of the victim are freed (zeroised)');
    await assert.rejects(openEnvelope(held, env, aad('victim')), isKmip('TENANT_REVOKED'));
    await assert.rejects(sealEnvelope(held, MATERIAL, aad('victim')), isKmip('TENANT_REVOKED'));
    await assert.rejects(k.activate('victim'), isKmip('TENANT_REVOKED'));
    assert.deepEqual(await openEnvelope(k.kek('bystander'), other, aad('bystander')), MATERIAL);
    const rec = await store.get('victim');
    assert.equal(rec?.state, 'revoked');
    assert.equal(rec.stateReason, 'admin');
    assert.equal(k.status('victim').state, 'revoked');
    assert.deepEqual(events, ['revoked:victim']);
    await k.revoke('victim', 'admin'); // idempotent: no second event, no write
    assert.equal((await store.get('victim'))?.revision, rec.revision);
    assert.deepEqual(events, ['revoked:victim']);

    // Another node reading the store refuses without calling L1.
    const plugin = counted(shadow);
    const u0 = plugin.unwraps;
    const cold = await newKrypton(store);
    await assert.rejects(cold.activate('victim'), isKmip('TENANT_REVOKED'));
    assert.equal(plugin.unwraps, u0);
    assert.throws(() => cold.kek('victim'), isKmip('TENANT_REVOKED'));

    await k.restore('victim');
    assert.deepEqual(events, ['revoked:victim', 'restored:victim']);
    assert.equal((await store.get('victim'))?.state, 'active');
    assert.deepEqual(await openEnvelope(held, env, aad('victim')), MATERIAL, 'a held keyring recovers after restore');
    await k.restore('victim'); // idempotent
    await cold.restore('victim');
    assert.deepEqual(await openEnvelope(cold.kek('victim'), env, aad('victim')), MATERIAL);
    await assert.rejects(k.revoke('nobody', 'admin'), isKrypton('UNKNOWN_TENANT'));
    await assert.rejects(k.revoke('victim', ''), isKrypton('INVALID'));
    // MAX_STATE_REASON_BYTES: at the limit it is stored, one byte more is refused before anything is zeroised.
    await assert.rejects(k.revoke('bystander', 'r'.repeat(MAX_STATE_REASON_BYTES + 1)), isKrypton('INVALID'));
    assert.ok(k.isActive('bystander'));
    await k.revoke('bystander', 'r'.repeat(MAX_STATE_REASON_BYTES));
    assert.equal((await store.get('bystander'))?.stateReason.length, MAX_STATE_REASON_BYTES);
    await k.close();
    await cold.close();
    await store.close();
  });

  test('revoked at the source: disabled L1 → checkL1 revokes; restore refused until re-enabled, then works', async () => {
    const store = await newStore();
    const { label, shadow } = newL1();
    const k = await newKrypton(store);
    await k.onboard('src', shadow);
    await k.onboard('src-other', newL1().shadow);
    const env = await sealEnvelope(k.kek('src'), MATERIAL, aad('src'));
    assert.equal((await k.checkL1('src')).ok, true);

    setL1KeyEnabled(hsm, TOKEN, label, false);
    const t0 = performance.now();
    const health = await k.checkL1('src');
    assert.throws(() => k.kek('src'), isKmip('TENANT_REVOKED'));
    const detectMs = performance.now() - t0;
    console.log(`[krypton figures] L1 disabled at the source → checkL1 detection and kek() refusal ${detectMs.toFixed(3)} ms (one SoftHSM health round trip + durable write)`);
    assert.ok(!health.ok);
    assert.equal(health.code, 'KEY_REVOKED_OR_DISABLED');
    const rec = await store.get('src');
    assert.equal(rec?.state, 'revoked');
    assert.equal(rec.stateReason, 'l1-revoked-at-source');
    assert.ok(k.isActive('src-other'), 'a tenant on another L1 is unaffected');

    await assert.rejects(k.restore('src'), (err: unknown) => isKrypton('L1_UNHEALTHY')(err) && /KEY_REVOKED_OR_DISABLED/u.test((err as Error).message));
    assert.throws(() => k.kek('src'), isKmip('TENANT_REVOKED'));
    setL1KeyEnabled(hsm, TOKEN, label, true);
    await k.restore('src');
    assert.deepEqual(await openEnvelope(k.kek('src'), env, aad('src')), MATERIAL);
    await k.close();
    await store.close();
  });

  test('an activation that meets a disabled L1 revokes the tenant durably', async () => {
    const store = await newStore();
    const { label, shadow } = newL1();
    const k0 = await newKrypton(store);
    await k0.onboard('act', shadow);
    await k0.close();
    setL1KeyEnabled(hsm, TOKEN, label, false);
    try {
      const k = await newKrypton(store);
      const revoked: string[] = [];
      k.on('revoked', (t) => revoked.push(t));
      await assert.rejects(k.activate('act'), isKmip('TENANT_REVOKED'));
      assert.deepEqual(revoked, ['act']);
      assert.equal((await store.get('act'))?.stateReason, 'l1-revoked-at-source');
      assert.throws(() => k.kek('act'), isKmip('TENANT_REVOKED'));
      await k.close();
    } finally {
      setL1KeyEnabled(hsm, TOKEN, label, true);
    }
    await store.close();
  });

  test('L1 deleted at the source: revoked, and restore fails clearly (also with a new key under the same label)', async () => {
    const store = await newStore();
    const { label, shadow } = newL1();
    const k = await newKrypton(store);
    await k.onboard('gone', shadow);
    destroyL1Key(hsm, TOKEN, label);
    const h = await k.checkL1('gone');
    assert.equal(!h.ok && h.code, 'KEY_REVOKED_OR_DISABLED');
    assert.throws(() => k.kek('gone'), isKmip('TENANT_REVOKED'));
    await assert.rejects(k.restore('gone'), isKrypton('L1_UNHEALTHY'));
    // A new key under the old label is healthy but is not the key that wrapped L2: no escrow, L2 is gone.
    generateL1Key(hsm, TOKEN, label);
    await assert.rejects(k.restore('gone'), (err: unknown) => isKrypton('L1_UNHEALTHY')(err) && /not the original/u.test((err as Error).message));
    assert.equal((await store.get('gone'))?.state, 'revoked');
    await k.close();
    await store.close();
  });

  test('L1 unreachable: TENANT_UNAVAILABLE (not revoked), fail-fast during the backoff, retried after it', async () => {
    const store = await newStore();
    const { shadow } = newL1();
    const k0 = await newKrypton(store);
    await k0.onboard('flaky', shadow);
    await k0.close();
    let now = Date.now();
    let down = true;
    let opened = 0;
    const unreachable = new Pkcs11Keystore({ modulePath: path.join(hsm.dir, 'no-such-module.so'), tokenLabel: TOKEN, pin: USER_PIN, keyLabel: 'x' });
    const k = await newKrypton(store, () => new Date(now), (s) => {
      opened += 1;
      return down ? Promise.resolve(unreachable) : pluginFor(s);
    });
    await assert.rejects(k.activate('flaky'), isKmip('TENANT_UNAVAILABLE'));
    assert.equal(opened, 1);
    await assert.rejects(k.activate('flaky'), isKmip('TENANT_UNAVAILABLE'));
    assert.equal(opened, 1, 'inside the backoff L1 is not called again');
    assert.throws(() => k.kek('flaky'), isKrypton('NOT_ACTIVE'));
    assert.equal((await store.get('flaky'))?.state, 'active', 'unreachable is not revoked');
    now += L1_RETRY_BACKOFF_MS;
    await assert.rejects(k.activate('flaky'), isKmip('TENANT_UNAVAILABLE'));
    assert.equal(opened, 2, 'retried after the backoff');
    down = false;
    now += L1_RETRY_BACKOFF_MS; // the second failure doubled the backoff
    await assert.rejects(k.activate('flaky'), isKmip('TENANT_UNAVAILABLE'));
    assert.equal(opened, 2);
    now += L1_RETRY_BACKOFF_MS;
    assert.equal((await k.activate('flaky')).cold, true);
    assert.ok(k.isActive('flaky'));
    await unreachable.close();
    await k.close();
    await store.close();
  });

  test('AAD binding: an L3 blob or a wrapped L2 moved to another tenant does not open (TAMPERED)', async () => {
    const store = await newStore();
    const { shadow } = newL1();
    const k0 = await newKrypton(store);
    await k0.onboard('alice', shadow);
    await k0.onboard('mallory', shadow);
    const envAlice = await sealEnvelope(k0.kek('alice'), MATERIAL, aad('alice'));
    await k0.close();
    const alice = await store.get('alice');
    const mallory = await store.get('mallory');
    assert.ok(alice !== undefined && mallory !== undefined);

    // Alice's L3 blob in Mallory's record.
    await store.update({ ...mallory, l3: mallory.l3.map((e) => ({ ...e, sealed: alice.l3[0]?.sealed ?? e.sealed })), revision: mallory.revision + 1 });
    const k1 = await newKrypton(store);
    await assert.rejects(k1.activate('mallory'), isKrypton('TAMPERED'));
    assert.equal(k1.isActive('mallory'), false);
    // Same tenant, wrong identity: Alice's L3 v1 presented as v2 of another service fails the AAD check.
    const a2 = await store.get('alice');
    assert.ok(a2 !== undefined);
    const sealed = a2.l3[0]?.sealed ?? new Uint8Array();
    await store.update({ ...a2, currentL3: { kmip: 1, other: 1 }, l3: [...a2.l3, { service: 'other', version: 1, l2Version: 1, sealed, createdAt: new Date() }], revision: a2.revision + 1 });
    await assert.rejects(k1.activate('alice'), isKrypton('TAMPERED'));
    await store.update({ ...a2, revision: a2.revision + 2 });

    // Alice's wrapped L2 in Mallory's record: L1's wrap context binds the tenant.
    const m2 = await store.get('mallory');
    assert.ok(m2 !== undefined);
    await store.update({ ...m2, l2: m2.l2.map((e) => ({ ...e, wrapped: alice.l2[0]?.wrapped ?? e.wrapped })), l3: mallory.l3, revision: m2.revision + 1 });
    const k2 = await newKrypton(store);
    await assert.rejects(k2.activate('mallory'), isKrypton('TAMPERED'));
    // Alice herself is intact.
    await k2.ensureActive('alice');
    assert.deepEqual(await openEnvelope(k2.kek('alice'), envAlice, aad('alice')), MATERIAL);
    // An envelope of Alice's presented as Mallory's object does not open either (vault AAD).
    await assert.rejects(openEnvelope(k2.kek('alice'), envAlice, aad('mallory')), EnvelopeError);
    await k1.close();
    await k2.close();
    await store.close();
  });

  test('two nodes on one store: refresh() and rotations follow what the other node did', async () => {
    const store = await newStore();
    const { shadow } = newL1();
    const a = await newKrypton(store);
    const b = await newKrypton(store);
    await a.onboard('shared', shadow);
    await b.ensureActive('shared');
    assert.equal(await a.rotateL3('shared'), 2);
    const e2 = await sealEnvelope(a.kek('shared'), MATERIAL, aad('shared'));
    assert.equal(b.kek('shared').hasVersion(2), false, 'B has not seen the rotation yet');
    await b.refresh('shared');
    assert.equal(b.kek('shared').currentVersion, 2);
    assert.deepEqual(await openEnvelope(b.kek('shared'), e2, aad('shared')), MATERIAL);
    // A rotates L2; B's next rotation first unwraps the new L2 (L1) and then seals under it.
    assert.equal(await a.rotateL2('shared'), 2);
    assert.equal(await b.rotateL3('shared'), 3);
    const rec = await store.get('shared');
    assert.ok(rec?.l3.every((e) => e.l2Version === 2));
    await a.refresh('shared');
    const e3 = await sealEnvelope(a.kek('shared'), MATERIAL, aad('shared'));
    assert.equal(parseEnvelope(e3).keyVersion, 3);
    assert.deepEqual(await openEnvelope(b.kek('shared'), e3, aad('shared')), MATERIAL);
    // A drop on A is a drop on B after refresh; a revoke on A zeroises B on refresh.
    await a.dropL3Version('shared', 'kmip', 1);
    await b.refresh('shared');
    assert.equal(b.kek('shared').hasVersion(1), false);
    const slots = nativeInfo().slotsInUse;
    await a.revoke('shared', 'admin');
    await b.refresh('shared');
    assert.throws(() => b.kek('shared'), isKmip('TENANT_REVOKED'));
    assert.equal(nativeInfo().slotsInUse, slots - 6, 'both nodes zeroised L2 + L3 v2, v3');
    await a.close();
    await b.close();
    await store.close();
  });

  test('a revoke that lands while an activation is in flight wins: the activation discards its slots', async () => {
    const store = await newStore();
    const { shadow } = newL1();
    const k0 = await newKrypton(store);
    await k0.onboard('race', shadow);
    await k0.close();
    const k = await newKrypton(store);
    const baseline = nativeInfo().slotsInUse;
    const activation = k.activate('race');
    const revocation = k.revoke('race', 'admin');
    await assert.rejects(activation, isKmip('TENANT_REVOKED'));
    await revocation;
    assert.equal(nativeInfo().slotsInUse, baseline, 'nothing the activation opened survives');
    assert.throws(() => k.kek('race'), isKmip('TENANT_REVOKED'));
    assert.equal((await store.get('race'))?.state, 'revoked');
    await k.close();
    await store.close();
  });

  test('deactivateAll (node sealed): slots zeroised, held keks refuse, nothing persisted, revoked stays revoked; next use re-activates', async () => {
    const store = await newStore();
    const k = await newKrypton(store);
    const a = newL1();
    const b = newL1();
    const baseline = nativeInfo().slotsInUse;
    await k.onboard('sa', a.shadow);
    await k.onboard('sb', b.shadow);
    await k.revoke('sb', 'admin');
    const kek = k.kek('sa');
    const env = await sealEnvelope(kek, MATERIAL, aad('sa'));
    assert.equal(nativeInfo().slotsInUse, baseline + 2);
    const sealedErr = (): Error => new KmipError('SERVER_SEALED', 'sealed');
    assert.equal(k.deactivateAll(sealedErr), 1);
    assert.equal(nativeInfo().slotsInUse, baseline, 'every L2/L3 slot zeroised');
    assert.equal(k.isActive('sa'), false);
    assert.throws(() => k.kek('sa'), isKrypton('NOT_ACTIVE'));
    await assert.rejects(openEnvelope(kek, env, aad('sa')), (e: unknown) => e instanceof KmipError && e.code === 'SERVER_SEALED');
    assert.equal((await store.get('sa'))?.state, 'active', 'nothing persisted: not a revocation');
    assert.equal(k.status('sb').state, 'revoked');
    const unwraps = counted(a.shadow).unwraps;
    assert.equal((await k.activate('sa')).cold, true);
    assert.equal(counted(a.shadow).unwraps, unwraps + 1, 're-activated through L1');
    assert.deepEqual(await openEnvelope(kek, env, aad('sa')), MATERIAL, 'the held provider works again');
    await assert.rejects(k.activate('sb'), isKmip('TENANT_REVOKED'));
    // An activation overtaken by a seal discards what it opened and says "sealed", not "revoked".
    k.deactivateAll(sealedErr);
    const inflight = k.activate('sa');
    k.deactivateAll(sealedErr);
    await assert.rejects(inflight, (e: unknown) => e instanceof KmipError && e.code === 'SERVER_SEALED');
    assert.equal(nativeInfo().slotsInUse, baseline);
    await k.close();
    assert.equal(k.deactivateAll(), 0, 'a closed krypton has nothing to deactivate');
    await store.close();
  });

  test('offboard (crypto-shred depth 3): record gone, slots zeroised, kek refuses, a cold node finds nothing', async () => {
    const store = await newStore();
    const { shadow } = newL1();
    const k = await newKrypton(store);
    await k.onboard('leaver', shadow, ['kmip', 'backup']);
    const held = k.kek('leaver');
    const env = await sealEnvelope(held, MATERIAL, aad('leaver'));
    const slots = nativeInfo().slotsInUse;
    await k.offboard('leaver');
    assert.equal(nativeInfo().slotsInUse, slots - 3);
    assert.equal(await store.get('leaver'), undefined);
    assert.ok(!(await store.list()).includes('leaver'));
    assert.throws(() => k.kek('leaver'), isKmip('TENANT_REVOKED'));
    await assert.rejects(openEnvelope(held, env, aad('leaver')), isKmip('TENANT_REVOKED'));
    assert.equal(k.status('leaver').state, 'destroyed');
    const cold = await newKrypton(store);
    await assert.rejects(cold.activate('leaver'), isKrypton('UNKNOWN_TENANT'));
    await assert.rejects(cold.offboard('leaver'), isKrypton('UNKNOWN_TENANT'));
    // The name can be onboarded again: a brand-new hierarchy, the old envelopes stay unreadable.
    await k.onboard('leaver', shadow);
    await assert.rejects(openEnvelope(k.kek('leaver'), env, aad('leaver')), EnvelopeError);
    await k.close();
    await cold.close();
    await store.close();
  });
});

after(async () => {
  for (const k of krs) await k.close();
  for (const p of plugins.values()) await p.close();
  rmSync(root, { recursive: true, force: true });
  hsm.cleanup();
});
