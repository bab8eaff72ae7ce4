// LmdbHierarchyStore (src/krypton/lmdb-store.ts): the HierarchyStore conformance suite, plus what only LMDB must
// show (records survive reopening, the on-disk format is checked) and the record limits of src/krypton/record.ts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { open as openLmdb } from 'lmdb';
import { LmdbHierarchyStore } from '../../src/krypton/lmdb-store.js';
import {
  decodeHierarchy, encodeHierarchy, MAX_L3_VERSIONS, MAX_RECORD_BYTES, MAX_SERVICES_PER_TENANT, MAX_TENANT_BYTES, MAX_SERVICE_BYTES,
} from '../../src/krypton/record.js';
import { HierarchyStoreError } from '../../src/krypton/types.js';
import type { StoredL3, TenantHierarchy } from '../../src/krypton/types.js';
import { runHierarchyStoreConformance, sampleHierarchy, uniqueTenant } from './hierarchy-store-conformance.js';

let root: string;
let n = 0;
before(() => { root = mkdtempSync(path.join(tmpdir(), 'openkcm-hstore-')); });
after(() => { rmSync(root, { recursive: true, force: true }); });

runHierarchyStoreConformance('lmdb', () => {
  n += 1;
  return LmdbHierarchyStore.open(path.join(root, `conf-${String(n)}`));
});

const invalid = (err: unknown): boolean => err instanceof HierarchyStoreError && err.code === 'INVALID';

describe('LmdbHierarchyStore specifics', () => {
  test('records survive close and reopen (durable commits), revisions too', async () => {
    const dir = path.join(root, 'reopen');
    const r = sampleHierarchy(uniqueTenant());
    let store = await LmdbHierarchyStore.open(dir);
    await store.create(r);
    await store.update({ ...r, state: 'revoked', stateReason: 'admin', revision: 2 });
    await store.close();
    store = await LmdbHierarchyStore.open(dir);
    try {
      const got = await store.get(r.tenant);
      assert.equal(got?.revision, 2);
      assert.equal(got.state, 'revoked');
      assert.deepEqual(got.l3, r.l3);
      await store.update({ ...r, revision: 3 });
    } finally {
      await store.close();
    }
  });

  test('a directory holding another store format is refused', async () => {
    const dir = path.join(root, 'format');
    const raw = openLmdb<Buffer, Buffer>({ path: dir, maxDbs: 4, keyEncoding: 'binary', encoding: 'binary' });
    const meta = raw.openDB<Buffer, Buffer>('meta', { keyEncoding: 'binary', encoding: 'binary' });
    const v = Buffer.alloc(4);
    v.writeUInt32BE(99);
    await meta.put(Buffer.from('format', 'latin1'), v);
    await raw.close();
    await assert.rejects(LmdbHierarchyStore.open(dir), invalid);
  });
});

describe('hierarchy record limits (src/krypton/record.ts)', () => {
  const l3For = (service: string, versions: number): StoredL3[] =>
    Array.from({ length: versions }, (_, i) => ({ service, version: i + 1, l2Version: 1, sealed: new Uint8Array(78).fill(i), createdAt: new Date(0) }));
  const withL3 = (base: TenantHierarchy, currentL3: Record<string, number>, l3: StoredL3[]): TenantHierarchy => ({
    ...base, currentL2: 1, l2: base.l2.slice(0, 1), currentL3, l3,
  });

  test(`tenant names: ${String(MAX_TENANT_BYTES)} bytes pass, one more is INVALID; control characters are INVALID`, () => {
    encodeHierarchy(sampleHierarchy('t'.repeat(MAX_TENANT_BYTES)));
    assert.throws(() => encodeHierarchy(sampleHierarchy('t'.repeat(MAX_TENANT_BYTES + 1))), invalid);
    assert.throws(() => encodeHierarchy(sampleHierarchy('a\nb')), invalid);
  });

  test(`service names: ${String(MAX_SERVICE_BYTES)} characters pass, one more is INVALID`, () => {
    const base = sampleHierarchy('t');
    const ok = 's'.repeat(MAX_SERVICE_BYTES);
    encodeHierarchy(withL3(base, { [ok]: 1 }, l3For(ok, 1)));
    const bad = 's'.repeat(MAX_SERVICE_BYTES + 1);
    assert.throws(() => encodeHierarchy(withL3(base, { [bad]: 1 }, l3For(bad, 1))), invalid);
    assert.throws(() => encodeHierarchy(withL3(base, { 'Upper': 1 }, l3For('Upper', 1))), invalid);
  });

  test(`services per tenant: ${String(MAX_SERVICES_PER_TENANT)} pass, one more is INVALID`, () => {
    const base = sampleHierarchy('t');
    const make = (count: number): TenantHierarchy => {
      const names = Array.from({ length: count }, (_, i) => `svc${String(i)}`);
      return withL3(base, Object.fromEntries(names.map((s) => [s, 1])), names.flatMap((s) => l3For(s, 1)));
    };
    encodeHierarchy(make(MAX_SERVICES_PER_TENANT));
    assert.throws(() => encodeHierarchy(make(MAX_SERVICES_PER_TENANT + 1)), invalid);
  });

  test(`L3 versions per service: ${String(MAX_L3_VERSIONS)} pass, one more is INVALID`, () => {
    const base = sampleHierarchy('t');
    encodeHierarchy(withL3(base, { kmip: MAX_L3_VERSIONS }, l3For('kmip', MAX_L3_VERSIONS)));
    assert.throws(() => encodeHierarchy(withL3(base, { kmip: MAX_L3_VERSIONS + 1 }, l3For('kmip', MAX_L3_VERSIONS + 1))), invalid);
  });

  test(`encoded records: exactly MAX_RECORD_BYTES (${String(MAX_RECORD_BYTES)}) pass, one byte more is INVALID`, () => {
    const base = sampleHierarchy('t');
    const baseLen = encodeHierarchy(base).length;
    // keyRef is the free-length field; ASCII pads the JSON byte for byte.
    const padded = (extra: number): TenantHierarchy => ({ ...base, shadow: { ...base.shadow, keyRef: base.shadow.keyRef + 'x'.repeat(extra) } });
    const atLimit = encodeHierarchy(padded(MAX_RECORD_BYTES - baseLen));
    assert.equal(atLimit.length, MAX_RECORD_BYTES);
    assert.deepEqual(decodeHierarchy(atLimit).shadow, padded(MAX_RECORD_BYTES - baseLen).shadow);
    assert.throws(() => encodeHierarchy(padded(MAX_RECORD_BYTES - baseLen + 1)), invalid);
    assert.throws(() => decodeHierarchy(Buffer.concat([atLimit, Buffer.from(' ')])), invalid);
  });

  test('decode refuses garbage, other formats and inconsistent records with INVALID', () => {
    const good = encodeHierarchy(sampleHierarchy('t'));
    assert.throws(() => decodeHierarchy(Buffer.from('not json')), invalid);
    const j = JSON.parse(good.toString('utf8')) as Record<string, unknown>;
    assert.throws(() => decodeHierarchy(Buffer.from(JSON.stringify({ ...j, f: 2 }))), invalid);
    assert.throws(() => decodeHierarchy(Buffer.from(JSON.stringify({ ...j, c2: 9 }))), invalid);
    assert.throws(() => decodeHierarchy(Buffer.from(JSON.stringify({ ...j, l2: 'x' }))), invalid);
    assert.throws(() => decodeHierarchy(Buffer.from(JSON.stringify({ ...j, s: [1, 2, 3] }))), invalid);
  });
});
