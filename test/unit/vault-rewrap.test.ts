/**
 * Per-tenant KEK resolution and re-wrapping (src/vault/kek.ts KekResolver, src/vault/base-vault.ts;
 * issue 4 §1 and §5): sealing under the tenant's current KEK, opening by the envelope's key id,
 * lazy re-wrap after a rotation, the background job with its progress, migration from a legacy
 * (development) KEK, a dropped KEK version, and the lazy path's in-flight limit.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseEnvelope } from '../../src/vault/envelope.js';
import { EnvelopeError, VaultError } from '../../src/vault/errors.js';
import { NodeCryptoKekProvider, singleKek, withLegacyKeks } from '../../src/vault/kek.js';
import type { KekProvider, KekResolver } from '../../src/vault/kek.js';
import { MAX_LAZY_REWRAPS_IN_FLIGHT, MAX_REWRAP_BATCH_RECORDS } from '../../src/vault/limits.js';
import { MemoryVault } from '../../src/vault/memory-vault.js';
import type { BaseVault, RewrapProgress } from '../../src/vault/base-vault.js';
import type { VaultRecord } from '../../src/vault/store.js';
import { Vault } from '../../src/vault/vault.js';

const K1 = randomBytes(32);
const K2 = randomBytes(32);

/** Lineage `l3:<tenant>` at version 1, and after a rotation at version 2 (1 still readable). */
function lineage(tenant: string): { v1: KekProvider; v2: KekProvider; v2only: KekProvider } {
  const id = `l3:${tenant}`;
  return {
    v1: new NodeCryptoKekProvider(id, new Map([[1, K1]]), 1),
    v2: new NodeCryptoKekProvider(id, new Map([[1, K1], [2, K2]]), 2),
    // Version 1 dropped (crypto-shredding depth 2).
    v2only: new NodeCryptoKekProvider(id, new Map([[2, K2]]), 2),
  };
}

/** A resolver whose per-tenant provider the test switches (a stand-in for krypton's rotation). */
class SwitchableResolver implements KekResolver {
  readonly current = new Map<string, KekProvider>();
  sealingKek(tenant: string): KekProvider {
    const k = this.current.get(tenant);
    if (k === undefined) throw new Error(`no KEK for ${tenant}`);
    return k;
  }
  openingKek(tenant: string): KekProvider {
    return this.sealingKek(tenant);
  }
}

async function putKeys(vault: BaseVault, tenant: string, n: number): Promise<VaultRecord[]> {
  const out: VaultRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await vault.put({ tenant, objectType: 2, state: 1, attributes: [], material: Buffer.from(`key-${tenant}-${String(i)}`) }));
  }
  return out;
}

function header(r: VaultRecord | undefined): { id: string; v: number } {
  assert.ok(r?.sealedMaterial !== undefined);
  const h = parseEnvelope(r.sealedMaterial);
  return { id: h.keyId, v: h.keyVersion };
}

describe('vault KEK resolver', () => {
  it('seals each tenant under its own KEK and opens by the key id in the header', async () => {
    const r = new SwitchableResolver();
    r.current.set('a', lineage('a').v1);
    r.current.set('b', lineage('b').v1);
    const vault = new MemoryVault(r);
    const [a] = await putKeys(vault, 'a', 1);
    const [b] = await putKeys(vault, 'b', 1);
    assert.deepEqual(header(a), { id: 'l3:a', v: 1 });
    assert.deepEqual(header(b), { id: 'l3:b', v: 1 });
    assert.equal((await vault.openMaterial(a ?? assert.fail()))?.toString(), 'key-a-0');
    assert.deepEqual(vault.tenants(), ['a', 'b']);
    await vault.close();
  });

  it('singleKek keeps the one-provider behaviour (another key id is WRONG_KEY)', async () => {
    const vault = new MemoryVault(singleKek(NodeCryptoKekProvider.random('one')));
    const [rec] = await putKeys(vault, 't', 1);
    const other = new MemoryVault(NodeCryptoKekProvider.random('two'));
    await assert.rejects(other.openMaterial(rec ?? assert.fail()), (e: unknown) => e instanceof EnvelopeError && e.code === 'WRONG_KEY');
    await vault.close();
    await other.close();
  });

  it('a read after a rotation answers at once and re-wraps in the background (version-conditioned)', async () => {
    const r = new SwitchableResolver();
    const l = lineage('t');
    r.current.set('t', l.v1);
    const vault = new MemoryVault(r);
    const [rec] = await putKeys(vault, 't', 1);
    assert.ok(rec !== undefined);
    r.current.set('t', l.v2);
    const plain = await vault.openMaterial(rec);
    assert.equal(plain?.toString(), 'key-t-0');
    await vault.rewrapIdle();
    const after = vault.get('t', rec.uid);
    assert.ok(after !== undefined);
    assert.deepEqual(header(after), { id: 'l3:t', v: 2 });
    assert.equal(after.version, rec.version + 1, 'a re-wrap is a committed update (version + 1)');
    assert.equal(after.materialVersion, rec.materialVersion, 'the material did not change');
    assert.equal((await vault.openMaterial(after))?.toString(), 'key-t-0');
    await vault.rewrapIdle();
    assert.equal(vault.get('t', rec.uid)?.version, rec.version + 1, 'a current envelope is not re-wrapped again');
    await vault.close();
  });

  it('the background job re-wraps a tenant in batches, reporting progress, and leaves other tenants alone', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'openkcm-rewrap-'));
    try {
      const r = new SwitchableResolver();
      const l = lineage('t');
      r.current.set('t', l.v1);
      r.current.set('u', lineage('u').v1);
      const vault = await Vault.open({ path: dir, kek: r, mapSize: 64 * 1024 * 1024 });
      await putKeys(vault, 't', 300);
      await putKeys(vault, 'u', 3);
      r.current.set('t', l.v2);
      const seen: RewrapProgress[] = [];
      const result = await vault.rewrapTenant('t', { onProgress: (p) => seen.push(p) });
      assert.deepEqual(seen.map((p) => p.done), [128, 256, 300]);
      assert.deepEqual(result, { done: 300, total: 300, rewrapped: 300, failed: 0 });
      assert.deepEqual([...vault.envelopeKeyIds('t')], [['l3:t', 300]]);
      for (const rec of vault.scan('t')) assert.equal(header(rec).v, 2);
      for (const rec of vault.scan('u')) assert.deepEqual(header(rec), { id: 'l3:u', v: 1 });
      // Run again: nothing left to do.
      assert.deepEqual(await vault.rewrapTenant('t'), { done: 300, total: 300, rewrapped: 0, failed: 0 });
      // Everything still opens under the new version alone (version 1 can now be dropped).
      r.current.set('t', l.v2only);
      for (const rec of vault.scan('t')) assert.match((await vault.openMaterial(rec))?.toString() ?? '', /^key-t-/);
      await vault.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('batchSize is checked at the limit and one past it', async () => {
    const vault = new MemoryVault(NodeCryptoKekProvider.random('k'));
    await putKeys(vault, 't', 2);
    assert.equal((await vault.rewrapTenant('t', { batchSize: MAX_REWRAP_BATCH_RECORDS })).done, 2);
    assert.equal((await vault.rewrapTenant('t', { batchSize: 1 })).done, 2);
    for (const bad of [0, MAX_REWRAP_BATCH_RECORDS + 1, 1.5]) {
      await assert.rejects(vault.rewrapTenant('t', { batchSize: bad }), (e: unknown) => e instanceof VaultError && e.code === 'LIMIT_EXCEEDED');
    }
    await vault.close();
  });

  it('migration: a vault sealed under a legacy KEK opens through withLegacyKeks and the job moves it', async () => {
    const dev = NodeCryptoKekProvider.random('dev-0123456789abcdef');
    const r = new SwitchableResolver();
    r.current.set('a', lineage('a').v1);
    // Write through a resolver that seals with dev (the "old wiring"), then switch sealing to L3.
    let sealer: KekProvider = dev;
    const migrating = new MemoryVault(withLegacyKeks({ sealingKek: () => sealer, openingKek: (t) => r.openingKek(t) }, [dev]));
    const legacy = await putKeys(migrating, 'a', 5);
    assert.deepEqual([...migrating.envelopeKeyIds('a')], [[dev.id, 5]]);
    sealer = lineage('a').v1;
    for (const rec of legacy) assert.match((await migrating.openMaterial(rec))?.toString() ?? '', /^key-a-/);
    await migrating.rewrapIdle();
    const result = await migrating.rewrapTenant('a');
    assert.equal(result.failed, 0);
    assert.deepEqual([...migrating.envelopeKeyIds('a')], [['l3:a', 5]]);
    // Without the legacy key every record still opens.
    const noLegacy = { sealingKek: (): KekProvider => sealer, openingKek: (): KekProvider => sealer };
    const check = new MemoryVault(noLegacy);
    for (const rec of migrating.scan('a')) {
      assert.match((await check.openMaterial(rec))?.toString() ?? '', /^key-a-/);
    }
    await Promise.all([migrating.close(), check.close()]);
  });

  it('a dropped KEK version: reads fail with WRONG_KEY and the job counts them as failed', async () => {
    const r = new SwitchableResolver();
    const l = lineage('t');
    r.current.set('t', l.v1);
    const vault = new MemoryVault(r);
    const [rec] = await putKeys(vault, 't', 3);
    r.current.set('t', l.v2only);
    await assert.rejects(vault.openMaterial(rec ?? assert.fail()), (e: unknown) => e instanceof EnvelopeError && e.code === 'WRONG_KEY');
    assert.deepEqual(await vault.rewrapTenant('t'), { done: 3, total: 3, rewrapped: 0, failed: 3 });
    await vault.close();
  });

  it(`at most ${String(MAX_LAZY_REWRAPS_IN_FLIGHT)} lazy re-wraps run at once; the next one is skipped`, async () => {
    const l = lineage('t');
    let sealing: KekProvider | Promise<KekProvider> = l.v1;
    let release: (k: KekProvider) => void = () => undefined;
    // Both versions share the id: the envelopes are stale by version only.
    const vault = new MemoryVault({ sealingKek: () => sealing, openingKek: () => l.v2 });
    const recs = await putKeys(vault, 't', MAX_LAZY_REWRAPS_IN_FLIGHT + 1);
    // Activation pending: the sealing KEK is a promise that has not resolved yet.
    sealing = new Promise<KekProvider>((resolve) => { release = resolve; });
    for (const rec of recs.slice(0, MAX_LAZY_REWRAPS_IN_FLIGHT)) await vault.openMaterial(rec);
    assert.deepEqual(vault.lazyRewraps, { inFlight: MAX_LAZY_REWRAPS_IN_FLIGHT, skipped: 0 });
    // The same record again does not start a second one.
    await vault.openMaterial(recs[0] ?? assert.fail());
    assert.deepEqual(vault.lazyRewraps, { inFlight: MAX_LAZY_REWRAPS_IN_FLIGHT, skipped: 0 });
    await vault.openMaterial(recs[MAX_LAZY_REWRAPS_IN_FLIGHT] ?? assert.fail());
    assert.deepEqual(vault.lazyRewraps, { inFlight: MAX_LAZY_REWRAPS_IN_FLIGHT, skipped: 1 });
    release(l.v2);
    await vault.rewrapIdle();
    const counts = vault.envelopeKeyIds('t');
    let v2 = 0;
    for (const rec of vault.scan('t')) if (header(rec).v === 2) v2++;
    assert.equal(v2, MAX_LAZY_REWRAPS_IN_FLIGHT, 'the skipped record stays for the job');
    assert.equal(counts.get('l3:t'), MAX_LAZY_REWRAPS_IN_FLIGHT + 1);
    await vault.close();
  });

  it('a failing lazy re-wrap is logged and never reaches the reader', async () => {
    const l = lineage('t');
    const warnings: string[] = [];
    let fail = false;
    const vault = new MemoryVault({
      sealingKek: () => (fail ? Promise.reject(new Error('activation failed')) : l.v1),
      openingKek: () => l.v2,
    }, { logger: { debug: () => undefined, info: () => undefined, warn: (m) => warnings.push(m), error: () => undefined } });
    const [rec] = await putKeys(vault, 't', 1);
    assert.ok(rec !== undefined);
    fail = true;
    assert.equal((await vault.openMaterial(rec))?.toString(), 'key-t-0');
    await vault.rewrapIdle();
    assert.deepEqual(warnings, ['lazy re-wrap failed; the background job will retry']);
    assert.equal(vault.get('t', rec.uid)?.version, rec.version);
    await vault.close();
  });
});
