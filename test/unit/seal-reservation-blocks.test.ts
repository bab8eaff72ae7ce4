/**
 * The pieces of the durable L3 seal count (src/vault/seal-counter.ts ReservedSealCounter, src/krypton/record.ts
 * `reserved`, src/config/vault.ts `sealReservationBlock`; NIST SP 800-38D §8.3): the counter hands out only numbers
 * from granted blocks, asks for the next block at half without making a seal wait, waits when it has none, and takes
 * KEY_EXHAUSTED as final; the block size is validated at the limit and one past it; the record keeps `reserved`
 * (absent = 0) and refuses a mark past 2^32.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/common/config-error.js';
import { vaultSettings } from '../../src/config/vault.js';
import { HierarchyRecords } from '../../src/krypton/hierarchy-records.js';
import { decodeHierarchy, encodeHierarchy } from '../../src/krypton/record.js';
import { withReservedSeals } from '../../src/krypton/record-edits.js';
import { SealReservations } from '../../src/krypton/seal-reservations.js';
import { HierarchyStoreError } from '../../src/krypton/types.js';
import type { TenantHierarchy } from '../../src/krypton/types.js';
import { LmdbHierarchyStore } from '../../src/krypton/lmdb-store.js';
import { EnvelopeError } from '../../src/vault/errors.js';
import {
  DEFAULT_SEAL_RESERVATION_BLOCK, GCM_RANDOM_NONCE_INVOCATION_LIMIT, MAX_SEAL_RESERVATION_BLOCK, ReservedSealCounter,
} from '../../src/vault/seal-counter.js';
import type { SealBlock } from '../../src/vault/seal-counter.js';
import { isEnvelopeError } from '../helpers/envelope-errors.js';
import { sampleHierarchy } from './hierarchy-store-conformance.js';

/** A grant the test answers by hand: each call waits until the test resolves or rejects it. */
class ManualGrant {
  readonly calls: { resolve: (b: SealBlock) => void; reject: (e: Error) => void }[] = [];
  readonly grant = (): Promise<SealBlock> => new Promise((resolve, reject) => { this.calls.push({ resolve, reject }); });
  answer(i: number, b: SealBlock | Error): Promise<void> {
    const c = this.calls[i];
    assert.ok(c !== undefined, `grant call ${String(i)} was not made`);
    if (b instanceof Error) c.reject(b);
    else c.resolve(b);
    return new Promise((r) => setImmediate(r));
  }
}

function takeN(c: ReservedSealCounter, n: number): void {
  for (let i = 0; i < n; i++) c.take();
}

describe('ReservedSealCounter', () => {
  test('seals only from granted blocks: none at first, the block in order, then nothing until the next grant', async () => {
    const g = new ManualGrant();
    const c = new ReservedSealCounter("'l3:t:kmip' v1", g.grant);
    assert.equal(c.available(), false);
    assert.throws(() => { c.take(); }, /no reserved invocations/);
    const waiting = c.refill();
    assert.equal(g.calls.length, 1);
    await g.answer(0, { start: 10, end: 14 });
    await waiting;
    takeN(c, 2);
    assert.equal(g.calls.length, 2, 'the next block is asked for once half of the block is used');
    takeN(c, 2);
    assert.equal(c.available(), false, 'the block is used up and the next has not arrived');
    assert.throws(() => { c.take(); }, /no reserved invocations/);
    assert.equal(c.count, 4);
    const again = c.refill();
    assert.equal(g.calls.length, 2, 'a waiting seal shares the grant already asked for');
    await g.answer(1, { start: 20, end: 24 });
    await again;
    c.take();
    assert.equal(c.count, 5);
  });

  test('a block granted ahead of need is used when the current one runs out: a steady stream never waits', async () => {
    const g = new ManualGrant();
    const c = new ReservedSealCounter('k', g.grant);
    const first = c.refill();
    await g.answer(0, { start: 0, end: 4 });
    await first;
    takeN(c, 2);
    await g.answer(1, { start: 4, end: 8 });
    for (let i = 0; i < 6; i++) {
      assert.ok(c.available(), `seal ${String(i + 3)} would wait`);
      c.take();
      if (g.calls.length === 3 && i === 3) await g.answer(2, { start: 8, end: 12 });
    }
    assert.equal(c.count, 8);
    assert.equal(g.calls.length, 3, 'one grant per block, no more');
  });

  test('KEY_EXHAUSTED from the owner is final; any other failure is the waiting seals\' and the next seal asks again', async () => {
    const g = new ManualGrant();
    const c = new ReservedSealCounter('k', g.grant);
    const refused = assert.rejects(c.refill(), /store unavailable/);
    await g.answer(0, new Error('store unavailable'));
    await refused;
    const p2 = c.refill();
    assert.equal(g.calls.length, 2, 'a transient failure is asked again');
    await g.answer(1, { start: 0, end: 2 });
    await p2;
    c.take();
    assert.equal(g.calls.length, 3);
    await g.answer(2, new EnvelopeError('KEY_EXHAUSTED', 'at the limit'));
    c.take();
    await assert.rejects(c.refill(), isEnvelopeError('KEY_EXHAUSTED'));
    assert.throws(() => { c.take(); }, isEnvelopeError('KEY_EXHAUSTED'));
    assert.equal(g.calls.length, 3, 'no grant is asked for after the refusal at the limit');
  });

  test('a malformed block is refused, not used', async () => {
    for (const bad of [{ start: 5, end: 5 }, { start: -1, end: 3 }, { start: 0, end: GCM_RANDOM_NONCE_INVOCATION_LIMIT + 1 }, { start: 0.5, end: 3 }]) {
      const c = new ReservedSealCounter('k', () => Promise.resolve(bad));
      await assert.rejects(c.refill(), RangeError);
      assert.equal(c.available(), false);
    }
  });
});

describe('vault.sealReservationBlock', () => {
  test(`defaults to ${String(DEFAULT_SEAL_RESERVATION_BLOCK)}; 1..${String(MAX_SEAL_RESERVATION_BLOCK)} accepted, one past either end refused`, () => {
    assert.equal(vaultSettings({}).sealReservationBlock, 2 ** 20);
    assert.equal(vaultSettings({ sealReservationBlock: 1 }).sealReservationBlock, 1);
    assert.equal(vaultSettings({ sealReservationBlock: MAX_SEAL_RESERVATION_BLOCK }).sealReservationBlock, MAX_SEAL_RESERVATION_BLOCK);
    for (const bad of [0, MAX_SEAL_RESERVATION_BLOCK + 1, 2.5, '1024', null]) {
      assert.throws(() => vaultSettings({ sealReservationBlock: bad }), (e: unknown) => e instanceof ConfigError && /sealReservationBlock/.test(e.message), String(bad));
    }
  });

  test('krypton refuses a block outside the same bounds', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-seal-block-'));
    const store = await LmdbHierarchyStore.open(dir);
    try {
      const records = new HierarchyRecords(store);
      assert.equal(new SealReservations(records).block, DEFAULT_SEAL_RESERVATION_BLOCK);
      assert.equal(new SealReservations(records, MAX_SEAL_RESERVATION_BLOCK).block, MAX_SEAL_RESERVATION_BLOCK);
      assert.throws(() => new SealReservations(records, MAX_SEAL_RESERVATION_BLOCK + 1), RangeError);
      assert.throws(() => new SealReservations(records, 0), RangeError);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function withReserved(rec: TenantHierarchy, reserved: number): TenantHierarchy {
  return { ...rec, l3: rec.l3.map((e, i) => (i === 0 ? { ...e, reserved } : e)) };
}

describe('the L3 `reserved` mark in the hierarchy record', () => {
  test('a record without it (written before the count) decodes with none, and its first block starts at 0', () => {
    const rec = sampleHierarchy('old');
    const json = JSON.parse(encodeHierarchy(rec).toString('utf8')) as { f: number; l3: unknown[][] };
    assert.equal(json.f, 1);
    assert.ok(json.l3.every((e) => e.length === 5), 'the layout before the count');
    const decoded = decodeHierarchy(encodeHierarchy(rec));
    assert.ok(decoded.l3.every((e) => e.reserved === undefined));
    const { rec: next, block } = withReservedSeals(decoded, 'kmip', 1, 8, GCM_RANDOM_NONCE_INVOCATION_LIMIT);
    assert.deepEqual(block, { start: 0, end: 8 });
    assert.equal(next.revision, decoded.revision + 1);
    assert.equal(decodeHierarchy(encodeHierarchy(next)).l3.find((e) => e.service === 'kmip' && e.version === 1)?.reserved, 8);
  });

  test('the mark is kept up to 2^32 and refused past it; a block stops at the limit and none is granted at it', () => {
    const rec = sampleHierarchy('limit');
    assert.equal(decodeHierarchy(encodeHierarchy(withReserved(rec, GCM_RANDOM_NONCE_INVOCATION_LIMIT))).l3[0]?.reserved, GCM_RANDOM_NONCE_INVOCATION_LIMIT);
    for (const bad of [GCM_RANDOM_NONCE_INVOCATION_LIMIT + 1, -1, 1.5]) {
      assert.throws(() => encodeHierarchy(withReserved(rec, bad)), (e: unknown) => e instanceof HierarchyStoreError && e.code === 'INVALID');
    }
    const near = withReserved(rec, 10);
    assert.deepEqual(withReservedSeals(near, 'kmip', 1, 8, 12).block, { start: 10, end: 12 });
    assert.throws(() => withReservedSeals(withReserved(rec, 12), 'kmip', 1, 8, 12), isEnvelopeError('KEY_EXHAUSTED'));
  });
});
