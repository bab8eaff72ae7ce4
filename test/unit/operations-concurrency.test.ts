/**
 * Concurrent requests on one object or one Name (model/locks.ts, model/context.ts
 * mutateObject): no lost update, no duplicate Name, and optimistic retries when the store
 * reports a concurrent change from elsewhere.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { KmipError } from '../../src/kmip/errors.js';
import { Operation } from '../../src/kmip/registry.js';
import { MAX_UPDATE_ATTEMPTS } from '../../src/operations/model/context.js';
import { KeyedLocks, objectKey } from '../../src/operations/model/locks.js';
import { StoreConflictError } from '../../src/operations/model/store.js';
import type { ManagedObjectRecord } from '../../src/operations/model/store.js';
import { Fixture, rejectsWith } from './operations-fixture.js';

describe('concurrency', () => {
  test('20 concurrent Add Attributes on one object all land (no lost update)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    await Promise.all(Array.from({ length: 20 }, (_, i) => f.call(Operation.AddAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('x-n', String(i)) })));
    const got = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['x-n'] });
    assert.equal(got.attributes.length, 20);
    assert.equal(f.services.locks.size, 0, 'every lock released');
  });

  test('10 concurrent Creates of one Name: exactly one wins, the others get Non Unique Name', async () => {
    const f = new Fixture();
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => f.createKey({ name: 'contended' })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(r.reason instanceof KmipError && r.reason.code === 'NON_UNIQUE_NAME_ATTRIBUTE');
    }
  });

  test('a conflict reported by the store is retried, up to MAX_UPDATE_ATTEMPTS', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    const store = f.store;
    const original = store.update.bind(store);
    let conflicts = 2;
    store.update = (tenant: string, rec: ManagedObjectRecord): Promise<void> => {
      if (conflicts-- > 0) return Promise.reject(new StoreConflictError('changed elsewhere'));
      return original(tenant, rec);
    };
    await f.call(Operation.Activate, { uniqueIdentifier: uid });
    conflicts = MAX_UPDATE_ATTEMPTS;
    await rejectsWith(f.call(Operation.AddAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('x-a', 'b') }), 'GENERAL_FAILURE');
  });

  test('Get of a retrieved (no longer Fresh) object is a read: it is answered while the object lock is held', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    await f.call(Operation.Get, { uniqueIdentifier: uid }); // clears Fresh: this one went through the lock
    let release: () => void = () => undefined;
    const held = f.services.locks.run([objectKey('alice', uid)], () => new Promise<void>((r) => { release = r; }));
    try {
      const got = await Promise.race([
        f.call(Operation.Get, { uniqueIdentifier: uid }),
        new Promise<'blocked'>((r) => { setTimeout(() => { r('blocked'); }, 200); }),
      ]);
      assert.notEqual(got, 'blocked', 'a Get of a non-Fresh object waited for the object lock');
      assert.equal((got as { uniqueIdentifier: string }).uniqueIdentifier, uid);
    } finally {
      release();
      await held;
    }
    // A Fresh object's first Get still changes it, under the lock: it waits for the holder.
    const fresh = await f.createKey();
    let releaseFresh: () => void = () => undefined;
    const heldFresh = f.services.locks.run([objectKey('alice', fresh)], () => new Promise<void>((r) => { releaseFresh = r; }));
    const firstGet = f.call(Operation.Get, { uniqueIdentifier: fresh });
    const state = await Promise.race([firstGet.then(() => 'answered'), new Promise<string>((r) => { setTimeout(() => { r('waiting'); }, 100); })]);
    assert.equal(state, 'waiting');
    releaseFresh();
    await heldFresh;
    await firstGet;
    const after = await f.call(Operation.GetAttributes, { uniqueIdentifier: fresh, attributeNames: ['Fresh'] });
    assert.equal(after.attributes.length, 1);
    assert.equal(after.attributes[0]?.value.value, false);
  });

  test('KeyedLocks serialises holders of a key and not of other keys', async () => {
    const locks = new KeyedLocks();
    const order: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const first = locks.run(['a'], async () => { order.push('a1 start'); await new Promise<void>((r) => { releaseFirst = r; }); order.push('a1 end'); });
    const second = locks.run(['a'], () => { order.push('a2'); return Promise.resolve(); });
    const other = locks.run(['b'], () => { order.push('b'); return Promise.resolve(); });
    await other;
    releaseFirst();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['a1 start', 'b', 'a1 end', 'a2']);
  });
});
