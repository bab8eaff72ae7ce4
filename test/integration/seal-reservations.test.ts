/**
 * The L3 seal count across restarts and KMIP workers (issue 19 "Seal counters refuse a key past the NIST invocation
 * limit"; NIST SP 800-38D §8.3; src/krypton/seal-reservations.ts). The real key hierarchy of a data directory
 * (MasterKey, local L1, krypton over the LMDB hierarchy store) is opened as the primary opens it, and the workers'
 * side is the real LeaseResolver fed by the primary's own lease and grant functions (src/appliance/primary.ts
 * leaseLineage, reserveSealsFor), each with its own transport key as a worker process has:
 *
 * - a restart on the same data directory resumes from the persisted high-water mark;
 * - two workers and krypton's own keyring sealing under one L3 get disjoint blocks, each persisted before it is
 *   handed out, and the mark covers every seal;
 * - with the limit lowered, the seal at the limit succeeds and the next is KEY_EXHAUSTED on every worker and after a
 *   restart, until a rotation starts a new count;
 * - a record written before the count (no `reserved`) reads as 0.
 * test/integration/seal-reservations-workers.test.ts runs the same over `serve --workers 2`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Hierarchy } from '../../src/appliance/hierarchy.js';
import { LeaseResolver } from '../../src/appliance/lease-resolver.js';
import { leaseLineage, reserveSealsFor } from '../../src/appliance/primary.js';
import { silentLogger } from '../../src/common/log.js';
import { keystoresSettings } from '../../src/config/keystores.js';
import { LmdbHierarchyStore } from '../../src/krypton/lmdb-store.js';
import { encodeHierarchy } from '../../src/krypton/record.js';
import { TenantKeyring } from '../../src/krypton/tenant-keyring.js';
import { initNative, SecureKey } from '../../src/native/index.js';
import { open as openEnvelope, seal as sealEnvelope } from '../../src/vault/envelope.js';
import type { KekProvider } from '../../src/vault/kek.js';
import { gcmSealLimit, setGcmSealLimit } from '../../src/vault/seal-counter.js';
import type { SealBlock } from '../../src/vault/seal-counter.js';
import { isEnvelopeError } from '../helpers/envelope-errors.js';

initNative({ allowUnlocked: true });

const MATERIAL = Buffer.from('an L4 data key of thirty-two by!', 'latin1');
const aad = (tenant: string, n: number): { tenant: string; uid: string; version: number } => ({ tenant, uid: `obj-${String(n)}`, version: 1 });

let root: string;
before(() => { root = mkdtempSync(path.join(tmpdir(), 'openkcm-seal-reservations-')); });
after(() => { rmSync(root, { recursive: true, force: true }); });

let dirs = 0;
function newDataDir(): string {
  dirs += 1;
  return path.join(root, `d${String(dirs)}`);
}

/** The key hierarchy of `dataDir` as the primary (or a single process) opens it. */
function openHierarchy(dataDir: string, sealBlock: number): Promise<Hierarchy> {
  return Hierarchy.open({ dataDir, seal: {}, keystores: keystoresSettings({}), logger: silentLogger, operatorSocket: false, sealBlock });
}

/** The persisted high-water mark of L3 `version` of (tenant, kmip), read from the store (0 when absent). */
async function mark(store: LmdbHierarchyStore, tenant: string, version = 1): Promise<number> {
  const rec = await store.get(tenant);
  const e = rec?.l3.find((x) => x.service === 'kmip' && x.version === version);
  assert.ok(e !== undefined, `no L3 v${String(version)} in the record of ${tenant}`);
  return e.reserved ?? 0;
}

interface Grant extends SealBlock {
  readonly worker: string;
  /** The mark in the store when the block reached the worker. */
  readonly persisted: number;
}

/** A "worker": a LeaseResolver with its own transport key, fed by the primary's functions; grants recorded. */
function worker(name: string, h: Hierarchy, grants: Grant[]): { resolver: LeaseResolver; close(): void } {
  const transport = SecureKey.generate(32);
  const resolver = new LeaseResolver({
    lease: (tenant) => leaseLineage(h, tenant, transport),
    reserveSeals: async (tenant, version) => {
      const b = await reserveSealsFor(h, tenant, version);
      grants.push({ worker: name, start: b.start, end: b.end, persisted: await mark(h.store, tenant, version) });
      return b;
    },
  }, () => transport);
  return { resolver, close: () => { resolver.close(); transport.destroy(); } };
}

async function sealingKek(r: LeaseResolver, tenant: string): Promise<TenantKeyring> {
  const kek = await r.sealingKek(tenant);
  assert.ok(kek instanceof TenantKeyring);
  return kek;
}

/** Seals until `n` succeeded or one is refused; returns how many succeeded and the refusal, if any. */
async function sealUpTo(kek: KekProvider, tenant: string, n: number): Promise<{ ok: number; refusal: unknown }> {
  let ok = 0;
  try {
    for (; ok < n; ok++) await sealEnvelope(kek, MATERIAL, aad(tenant, ok));
  } catch (refusal) {
    return { ok, refusal };
  }
  return { ok, refusal: undefined };
}

describe('L3 seal reservations (real LMDB hierarchy store)', () => {
  test('a restart resumes from the persisted high-water mark: the next grant starts at it, never at 0', async () => {
    const dataDir = newDataDir();
    const BLOCK = 4;
    const N = 10;
    const h1 = await openHierarchy(dataDir, BLOCK);
    try {
      await h1.ensureTenant('acme');
      const kek = h1.krypton.kek('acme');
      assert.equal((await sealUpTo(kek, 'acme', N)).ok, N);
      assert.ok(await mark(h1.store, 'acme') >= N, 'every seal is covered by the mark before it is done');
      assert.ok(kek instanceof TenantKeyring);
      assert.equal(kek.sealCounter(1).count, N);
    } finally {
      await h1.close();
    }
    const h2 = await openHierarchy(dataDir, BLOCK);
    try {
      // The mark as the restart found it (a block asked for ahead may have landed while h1 closed).
      const before = await mark(h2.store, 'acme');
      assert.ok(before >= N, `persisted mark ${String(before)} < ${String(N)} seals`);
      // The current block and the one asked for at half are all a keyring holds beyond its seals.
      assert.ok(before <= N + 2 * BLOCK, `mark ${String(before)} for ${String(N)} seals in blocks of ${String(BLOCK)}`);
      await h2.ensureTenant('acme');
      const kek = h2.krypton.kek('acme');
      const env = await sealEnvelope(kek, MATERIAL, aad('acme', 99));
      assert.deepEqual(await openEnvelope(kek, env, aad('acme', 99)), MATERIAL);
      // One new block, granted from the old mark up: [before, before + BLOCK).
      assert.equal(await mark(h2.store, 'acme'), before + BLOCK);
    } finally {
      await h2.close();
    }
  });

  test('two workers and krypton sealing under one L3 get disjoint blocks, each persisted before it is handed out; the mark covers every seal', async () => {
    const dataDir = newDataDir();
    const h = await openHierarchy(dataDir, 3);
    const grants: Grant[] = [];
    const w1 = worker('w1', h, grants);
    const w2 = worker('w2', h, grants);
    try {
      const [k1, k2] = await Promise.all([sealingKek(w1.resolver, 'acme'), sealingKek(w2.resolver, 'acme')]);
      const own = h.krypton.kek('acme');
      const PER_WORKER = 25;
      const OWN = 7;
      // Interleaved, concurrently: every seal of one worker overlaps the others' grants.
      const results = await Promise.all([
        Promise.all(Array.from({ length: PER_WORKER }, (_, i) => sealEnvelope(k1, MATERIAL, aad('acme', i)))),
        Promise.all(Array.from({ length: PER_WORKER }, (_, i) => sealEnvelope(k2, MATERIAL, aad('acme', 100 + i)))),
        Promise.all(Array.from({ length: OWN }, (_, i) => sealEnvelope(own, MATERIAL, aad('acme', 200 + i)))),
      ]);
      const total = 2 * PER_WORKER + OWN;
      assert.equal(results.flat().length, total);
      // Every envelope opens under krypton's L3 (the workers sealed under leased copies of the same key).
      assert.deepEqual(await openEnvelope(own, results[0][0]!, aad('acme', 0)), MATERIAL);
      assert.deepEqual(await openEnvelope(own, results[1][0]!, aad('acme', 100)), MATERIAL);

      assert.equal(k1.sealCounter(1).count, PER_WORKER);
      assert.equal(k2.sealCounter(1).count, PER_WORKER);
      assert.ok(grants.some((g) => g.worker === 'w1') && grants.some((g) => g.worker === 'w2'));
      for (const g of grants) assert.ok(g.end <= g.persisted, `block [${String(g.start)}, ${String(g.end)}) reached ${g.worker} before the mark ${String(g.persisted)} covered it`);
      const workersGranted = grants.reduce((n, g) => n + g.end - g.start, 0);
      assert.ok(workersGranted >= 2 * PER_WORKER, `the workers sealed ${String(2 * PER_WORKER)} times under ${String(workersGranted)} granted invocations`);
      const sorted = [...grants].sort((a, b) => a.start - b.start);
      for (let i = 1; i < sorted.length; i++) {
        assert.ok(sorted[i]!.start >= sorted[i - 1]!.end, `blocks overlap: ${JSON.stringify(sorted[i - 1])} and ${JSON.stringify(sorted[i])}`);
      }
      const final = await mark(h.store, 'acme');
      assert.ok(final >= total, `mark ${String(final)} < ${String(total)} seals`);
      assert.ok(final >= (sorted.at(-1)?.end ?? 0));
    } finally {
      w1.close();
      w2.close();
      await h.close();
    }
  });

  test('with the limit lowered, the seal at the limit succeeds and the next is KEY_EXHAUSTED on every worker and after a restart; a rotation starts a new count', async (t) => {
    const LIMIT = 7;
    const dataDir = newDataDir();
    const saved = gcmSealLimit();
    setGcmSealLimit(LIMIT);
    t.after(() => { setGcmSealLimit(saved); });
    const h1 = await openHierarchy(dataDir, 3);
    const grants: Grant[] = [];
    const w1 = worker('w1', h1, grants);
    const w2 = worker('w2', h1, grants);
    try {
      const k1 = await sealingKek(w1.resolver, 'acme');
      const k2 = await sealingKek(w2.resolver, 'acme');
      // Both workers seal in turn until both are refused: together they stay within the one limit.
      let ok = 0;
      const done = new Set<string>();
      for (let i = 0; done.size < 2 && i < 4 * LIMIT; i++) {
        const [name, kek] = i % 2 === 0 ? ['w1', k1] as const : ['w2', k2] as const;
        if (done.has(name)) continue;
        const r = await sealUpTo(kek, 'acme', 1);
        ok += r.ok;
        if (r.refusal !== undefined) {
          assert.ok(isEnvelopeError('KEY_EXHAUSTED')(r.refusal));
          done.add(name);
        }
      }
      assert.equal(done.size, 2, 'both workers were refused');
      assert.ok(ok <= LIMIT, `${String(ok)} seals under one L3 with the limit at ${String(LIMIT)}`);
      assert.equal(await mark(h1.store, 'acme'), LIMIT);
      assert.ok(grants.every((g) => g.end <= LIMIT));
      await assert.rejects(sealEnvelope(h1.krypton.kek('acme'), MATERIAL, aad('acme', 1)), isEnvelopeError('KEY_EXHAUSTED'));
    } finally {
      w1.close();
      w2.close();
      await h1.close();
    }

    const h2 = await openHierarchy(dataDir, 3);
    const w3 = worker('w3', h2, []);
    try {
      await h2.ensureTenant('acme');
      await assert.rejects(sealEnvelope(h2.krypton.kek('acme'), MATERIAL, aad('acme', 1)), isEnvelopeError('KEY_EXHAUSTED'));
      await assert.rejects(sealEnvelope(await sealingKek(w3.resolver, 'acme'), MATERIAL, aad('acme', 1)), isEnvelopeError('KEY_EXHAUSTED'));
      assert.equal(await mark(h2.store, 'acme'), LIMIT, 'a refused grant writes nothing');
      // Opening is never refused.
      assert.equal(await h2.krypton.rotateL3('acme'), 2);
      await w3.resolver.rekey('acme');
      const k3 = await sealingKek(w3.resolver, 'acme');
      assert.equal(k3.currentVersion, 2);
      const { ok, refusal } = await sealUpTo(k3, 'acme', LIMIT + 1);
      assert.equal(ok, LIMIT, 'L3 v2 counts from 0: exactly the limit succeeds');
      assert.ok(isEnvelopeError('KEY_EXHAUSTED')(refusal));
      assert.equal(await mark(h2.store, 'acme', 2), LIMIT);
      assert.equal(await mark(h2.store, 'acme', 1), LIMIT);
    } finally {
      w3.close();
      await h2.close();
    }
  });

  test('a record written before the count (L3 entries without `reserved`) reads as 0 reserved, and its first grant starts at 0', async () => {
    const dataDir = newDataDir();
    const h1 = await openHierarchy(dataDir, 5);
    try {
      await h1.ensureTenant('acme');
    } finally {
      await h1.close();
    }
    // The bytes as an openkcm without the count wrote them: every L3 entry has five elements.
    const store = await LmdbHierarchyStore.open(path.join(dataDir, 'krypton'));
    try {
      const rec = await store.get('acme');
      assert.ok(rec !== undefined);
      assert.equal(rec.l3[0]?.reserved, undefined);
      const stored = JSON.parse(encodeHierarchy(rec).toString('utf8')) as { l3: unknown[][] };
      assert.deepEqual(stored.l3.map((e) => e.length), [5]);
      assert.equal(await mark(store, 'acme'), 0);
    } finally {
      await store.close();
    }
    const h2 = await openHierarchy(dataDir, 5);
    try {
      await h2.ensureTenant('acme');
      assert.equal((await sealUpTo(h2.krypton.kek('acme'), 'acme', 2)).ok, 2);
      assert.equal(await mark(h2.store, 'acme'), 5, 'the first block is [0, 5)');
    } finally {
      await h2.close();
    }
  });
});
