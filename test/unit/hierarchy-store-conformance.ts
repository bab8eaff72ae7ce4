// The one conformance suite every HierarchyStore passes (STYLE.md rule 9; src/krypton/types.ts "Rules"):
// LMDB runs it in test/unit/hierarchy-store-lmdb.test.ts, Postgres in its own test file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HierarchyStoreError } from '../../src/krypton/types.js';
import type { HierarchyStore, TenantHierarchy } from '../../src/krypton/types.js';

let counter = 0;
/** A unique tenant name per call, so a store shared by several tests never mixes their records. */
export function uniqueTenant(prefix = 't'): string {
  counter += 1;
  return `${prefix}-${String(process.pid)}-${String(counter)}-${randomBytes(3).toString('hex')}`;
}

/** A valid record: 2 L2 versions, 2 services, L3 versions sealed under both L2 versions (blobs are random bytes). */
export function sampleHierarchy(tenant: string, overrides: Partial<TenantHierarchy> = {}): TenantHierarchy {
  const at = new Date('2026-01-02T03:04:05.678Z');
  return {
    tenant,
    shadow: { plugin: 'pkcs11', keyRef: 'token=t;object=l1', keyVersion: '6c31' },
    state: 'active',
    stateReason: 'onboarded',
    stateChangedAt: at,
    currentL2: 2,
    l2: [
      { version: 1, wrapped: new Uint8Array(randomBytes(61)), createdAt: at },
      { version: 2, wrapped: new Uint8Array(randomBytes(61)), createdAt: new Date(at.getTime() + 1000) },
    ],
    currentL3: { kmip: 2, backup: 1 },
    l3: [
      { service: 'kmip', version: 1, l2Version: 1, sealed: new Uint8Array(randomBytes(78)), createdAt: at },
      { service: 'kmip', version: 2, l2Version: 2, sealed: new Uint8Array(randomBytes(78)), createdAt: at },
      { service: 'backup', version: 1, l2Version: 2, sealed: new Uint8Array(randomBytes(78)), createdAt: at },
    ],
    revision: 1,
    ...overrides,
  };
}

function isStoreError(code: HierarchyStoreError['code']): (err: unknown) => boolean {
  return (err: unknown) => err instanceof HierarchyStoreError && err.code === code;
}

async function withStore(open: () => Promise<HierarchyStore>, body: (store: HierarchyStore) => Promise<void>): Promise<void> {
  const store = await open();
  try {
    await body(store);
  } finally {
    await store.close();
  }
}

export function runHierarchyStoreConformance(name: string, open: () => Promise<HierarchyStore>): void {
  describe(`HierarchyStore conformance: ${name}`, () => {
    test('create then get returns an equal record (dates, blobs, versions)', () => withStore(open, async (store) => {
      const r = sampleHierarchy(uniqueTenant());
      await store.create(r);
      const got = await store.get(r.tenant);
      assert.deepEqual(got, r);
    }));

    test('get of an unknown tenant is undefined', () => withStore(open, async (store) => {
      assert.equal(await store.get(uniqueTenant('absent')), undefined);
    }));

    test('create of an existing tenant is EXISTS and leaves the stored record alone', () => withStore(open, async (store) => {
      const r = sampleHierarchy(uniqueTenant());
      await store.create(r);
      await assert.rejects(store.create(sampleHierarchy(r.tenant, { stateReason: 'other' })), isStoreError('EXISTS'));
      assert.equal((await store.get(r.tenant))?.stateReason, 'onboarded');
    }));

    test('create refuses revision other than 1 and inconsistent records (INVALID)', () => withStore(open, async (store) => {
      const t = uniqueTenant();
      await assert.rejects(store.create(sampleHierarchy(t, { revision: 2 })), isStoreError('INVALID'));
      await assert.rejects(store.create(sampleHierarchy(t, { currentL2: 3 })), isStoreError('INVALID'));
      await assert.rejects(store.create(sampleHierarchy('')), isStoreError('INVALID'));
      const r = sampleHierarchy(t);
      await assert.rejects(store.create({ ...r, l3: r.l3.map((e) => ({ ...e, l2Version: 9 })) }), isStoreError('INVALID'));
      await assert.rejects(store.create({ ...r, currentL3: { ...r.currentL3, kmip: 5 } }), isStoreError('INVALID'));
      await assert.rejects(store.create({ ...r, state: 'bogus' as unknown as 'active' }), isStoreError('INVALID'));
      assert.equal(await store.get(t), undefined);
    }));

    test('get returns a fresh copy; the caller mutating it (or its input) changes nothing stored', () => withStore(open, async (store) => {
      const r = sampleHierarchy(uniqueTenant());
      const input = sampleHierarchy(r.tenant, { l2: r.l2.map((e) => ({ ...e, wrapped: Uint8Array.from(e.wrapped) })) });
      await store.create(input);
      input.l2[0]?.wrapped.fill(0);
      const a = await store.get(r.tenant);
      assert.ok(a !== undefined);
      a.l2[0]?.wrapped.fill(0xff);
      a.l3[0]?.sealed.fill(0xff);
      (a.l3 as unknown as unknown[]).pop();
      (a.currentL3 as Record<string, number>)['kmip'] = 99;
      a.stateChangedAt.setTime(0);
      const b = await store.get(r.tenant);
      assert.ok(b !== undefined);
      assert.deepEqual(b.l2[0]?.wrapped, r.l2[0]?.wrapped);
      assert.deepEqual(b, sampleHierarchy(r.tenant, { l2: r.l2, l3: b.l3 }));
      assert.equal(b.l3.length, 3);
      assert.equal(b.currentL3['kmip'], 2);
      assert.equal(b.stateChangedAt.getTime(), r.stateChangedAt.getTime());
    }));

    test('update is compare-and-swap on revision', () => withStore(open, async (store) => {
      const r = sampleHierarchy(uniqueTenant());
      await store.create(r);
      const v2: TenantHierarchy = { ...r, state: 'revoked', stateReason: 'admin', revision: 2 };
      await store.update(v2);
      assert.deepEqual(await store.get(r.tenant), v2);
      // The same base again: someone else already wrote revision 2.
      await assert.rejects(store.update({ ...r, stateReason: 'late', revision: 2 }), isStoreError('CONFLICT'));
      // Skipping a revision is not a valid successor either.
      await assert.rejects(store.update({ ...v2, revision: 4 }), isStoreError('CONFLICT'));
      const v3: TenantHierarchy = { ...v2, state: 'active', stateReason: 'restored', revision: 3 };
      await store.update(v3);
      assert.deepEqual(await store.get(r.tenant), v3);
    }));

    test('update of an absent tenant is NOT_FOUND; an invalid successor is INVALID', () => withStore(open, async (store) => {
      await assert.rejects(store.update(sampleHierarchy(uniqueTenant('absent'), { revision: 2 })), isStoreError('NOT_FOUND'));
      const r = sampleHierarchy(uniqueTenant());
      await store.create(r);
      await assert.rejects(store.update({ ...r, currentL2: 7, revision: 2 }), isStoreError('INVALID'));
      assert.equal((await store.get(r.tenant))?.revision, 1);
    }));

    test('concurrent updates from one base: exactly one wins, the others are CONFLICT', () => withStore(open, async (store) => {
      const r = sampleHierarchy(uniqueTenant());
      await store.create(r);
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => store.update({ ...r, stateReason: `writer-${String(i)}`, revision: 2 })),
      );
      const won = results.filter((x) => x.status === 'fulfilled');
      assert.equal(won.length, 1);
      for (const x of results) if (x.status === 'rejected') assert.ok(isStoreError('CONFLICT')(x.reason));
      const stored = await store.get(r.tenant);
      assert.equal(stored?.revision, 2);
      assert.match(stored.stateReason, /^writer-\d$/);
    }));

    test('delete removes every blob of the tenant; a second delete is false; the name can be reused', () => withStore(open, async (store) => {
      const r = sampleHierarchy(uniqueTenant());
      const other = sampleHierarchy(uniqueTenant());
      await store.create(r);
      await store.create(other);
      assert.equal(await store.delete(r.tenant), true);
      assert.equal(await store.get(r.tenant), undefined);
      assert.equal(await store.delete(r.tenant), false);
      assert.deepEqual(await store.get(other.tenant), other);
      await assert.rejects(store.update({ ...r, revision: 2 }), isStoreError('NOT_FOUND'));
      await store.create(sampleHierarchy(r.tenant));
      assert.equal((await store.get(r.tenant))?.revision, 1);
    }));

    test('list returns tenant names in ascending order', () => withStore(open, async (store) => {
      const prefix = uniqueTenant('list');
      const names = [`${prefix}-b`, `${prefix}-a`, `${prefix}-c`];
      for (const n of names) await store.create(sampleHierarchy(n));
      const listed = (await store.list()).filter((n) => n.startsWith(prefix));
      assert.deepEqual(listed, [...names].sort());
      await store.delete(`${prefix}-a`);
      assert.deepEqual((await store.list()).filter((n) => n.startsWith(prefix)), [`${prefix}-b`, `${prefix}-c`]);
    }));

    test('after close every call is CLOSED; close is idempotent', async () => {
      const store = await open();
      const r = sampleHierarchy(uniqueTenant());
      await store.create(r);
      await store.close();
      await store.close();
      await assert.rejects(store.get(r.tenant), isStoreError('CLOSED'));
      await assert.rejects(store.create(sampleHierarchy(uniqueTenant())), isStoreError('CLOSED'));
      await assert.rejects(store.update({ ...r, revision: 2 }), isStoreError('CLOSED'));
      await assert.rejects(store.delete(r.tenant), isStoreError('CLOSED'));
      await assert.rejects(store.list(), isStoreError('CLOSED'));
    });
  });
}
