/**
 * The hot-path savings of issues 7 and 14: VaultObjectStore maps a vault record once (model/vault-store.ts: the
 * vault's own decoded record, `peek`, and one attribute list per decoded record), the vault's decoded-record cache
 * is capped in bytes as well as entries (src/vault/base-vault.ts), and Encrypt pools its random IVs
 * (model/crypto.ts, IV_POOL_BYTES). Each must save work without changing what a client can observe.
 *
 * (Issue 7's per-turn read memo, MAX_READ_MEMO_ENTRIES, was replaced in issue 14 by the single mapping: a read no
 * longer decodes anything while the stored bytes are unchanged, in any turn, so the memo had nothing left to save.)
 */
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { ObjectType, State, Tag } from '../../src/kmip/registry.js';
import { IV_POOL_BYTES, pooledRandomBytes } from '../../src/operations/model/crypto.js';
import { StoreConflictError } from '../../src/operations/model/store.js';
import type { ManagedObjectRecord } from '../../src/operations/model/store.js';
import { VaultObjectStore } from '../../src/operations/model/vault-store.js';
import { text } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import { DECODED_RECORD_CACHE_BYTES, DECODED_RECORD_CACHE_MAX_RECORD_BYTES } from '../../src/vault/base-vault.js';
import { MemoryVault } from '../../src/vault/index.js';
import { newUid as vaultUid } from '../../src/vault/uid.js';

const TENANT = 't';

function record(uid: string, label: string): ManagedObjectRecord {
  return {
    uid,
    objectType: ObjectType.OpaqueObject,
    attributes: [
      { name: 'State', value: { tag: Tag.State, type: ItemType.Enumeration, value: State.PreActive } },
      makeAttribute('Object Group', label),
    ],
    hasObject: false,
    object: undefined,
  };
}

function group(r: ManagedObjectRecord | undefined): string | undefined {
  const v = r?.attributes.find((a) => a.name === 'Object Group')?.value;
  return v?.type === ItemType.TextString ? v.value : undefined;
}

describe('VaultObjectStore: one read, one mapping', () => {
  test('reads of an unchanged record share one mapping, yet each read is a fresh record', async () => {
    const vault = new MemoryVault();
    const store = new VaultObjectStore(vault);
    const uid = vaultUid();
    await store.create(TENANT, record(uid, 'a'));
    await nextTurn();
    const r1 = await store.get(TENANT, uid);
    const r2 = await store.get(TENANT, uid);
    assert.ok(r1 !== undefined && r2 !== undefined);
    assert.equal(group(r1), 'a');
    // The same attribute objects (mapped once) ...
    assert.equal(r1.attributes.length, r2.attributes.length);
    r1.attributes.forEach((a, i) => { assert.equal(a, r2.attributes[i]); });
    // ... in a fresh list per read: a handler changing one record does not change the other.
    assert.notEqual(r1, r2);
    assert.notEqual(r1.attributes, r2.attributes);
    r1.attributes.pop();
    assert.equal(group(r2), 'a');
    assert.equal(group(await store.get(TENANT, uid)), 'a');
    // The synchronous form answers the same record, without a promise.
    const r3 = store.read(TENANT, uid);
    assert.ok(r3 !== undefined && !(r3 instanceof Promise));
    assert.equal(group(r3), 'a');
    await vault.close();
  });

  test('a write through the store is seen by the next read of the same turn', async () => {
    const vault = new MemoryVault();
    const store = new VaultObjectStore(vault);
    const uid = vaultUid();
    assert.equal(await store.get(TENANT, uid), undefined);
    await store.create(TENANT, record(uid, 'a'));
    const r = await store.get(TENANT, uid);
    assert.equal(group(r), 'a');
    assert.ok(r !== undefined);
    const changed = { ...r, attributes: r.attributes.map((a) => (a.name === 'Object Group' ? { ...a, value: text(Tag.ObjectGroup, 'b') } : a)) };
    await store.update(TENANT, changed);
    assert.equal(group(await store.get(TENANT, uid)), 'b');
    await store.remove(TENANT, uid);
    assert.equal(await store.get(TENANT, uid), undefined);
    await vault.close();
  });

  test('a write the store did not make is seen at once, and a CONFLICT retry reads the current version', async () => {
    const vault = new MemoryVault();
    const store = new VaultObjectStore(vault);
    const uid = vaultUid();
    await store.create(TENANT, record(uid, 'a'));
    const stale = await store.get(TENANT, uid);
    assert.ok(stale !== undefined);
    // A writer the store does not see (another process, the vault's own re-wrap), in the same turn.
    await vault.update(TENANT, uid, () => ({ attributes: [makeAttribute('Object Group', 'c')] }));
    await assert.rejects(store.update(TENANT, { ...stale, attributes: [...stale.attributes] }), StoreConflictError);
    const fresh = await store.get(TENANT, uid);
    assert.equal(group(fresh), 'c');
    assert.equal(fresh?.version, (stale.version ?? 0) + 1);
    await vault.close();
  });
});

describe('the vault\'s decoded-record cache is capped in bytes', () => {
  function opaque(bytes: number, material?: number): { tenant: string; objectType: number; state: number; attributes: ReturnType<typeof makeAttribute>[]; material?: Uint8Array } {
    const base = { tenant: TENANT, objectType: ObjectType.OpaqueObject, state: 0, attributes: [makeAttribute('Object Group', 'x'.repeat(bytes))] };
    return material === undefined ? base : { ...base, material: new Uint8Array(material) };
  }

  test(`records over DECODED_RECORD_CACHE_MAX_RECORD_BYTES (${String(DECODED_RECORD_CACHE_MAX_RECORD_BYTES)}) are never cached; one under it is`, async () => {
    const vault = new MemoryVault();
    const small = await vault.put(opaque(DECODED_RECORD_CACHE_MAX_RECORD_BYTES - 4096));
    // Attributes and material are each capped at 1 MiB (src/vault/limits.ts): together they pass the cache's bound.
    const large = await vault.put(opaque(DECODED_RECORD_CACHE_MAX_RECORD_BYTES / 2, DECODED_RECORD_CACHE_MAX_RECORD_BYTES / 2 + 1));
    vault.get(TENANT, small.uid);
    assert.equal(vault.decodedCacheStats.entries, 1);
    vault.get(TENANT, large.uid);
    vault.get(TENANT, large.uid);
    assert.equal(vault.decodedCacheStats.entries, 1);
    assert.ok(vault.decodedCacheStats.bytes <= DECODED_RECORD_CACHE_MAX_RECORD_BYTES);
    await vault.close();
  });

  test(`the cache never holds more than DECODED_RECORD_CACHE_BYTES (${String(DECODED_RECORD_CACHE_BYTES)}) of stored records`, async () => {
    const vault = new MemoryVault();
    const each = DECODED_RECORD_CACHE_MAX_RECORD_BYTES / 2;
    const count = Math.ceil(DECODED_RECORD_CACHE_BYTES / each) + 8;
    const uids: string[] = [];
    for (let i = 0; i < count; i++) uids.push((await vault.put(opaque(each))).uid);
    for (const uid of uids) {
      assert.ok(vault.get(TENANT, uid) !== undefined);
      assert.ok(vault.decodedCacheStats.bytes <= DECODED_RECORD_CACHE_BYTES, `${String(vault.decodedCacheStats.bytes)} bytes cached`);
    }
    // Everything still reads correctly after eviction.
    assert.equal(vault.get(TENANT, uids[0] ?? '')?.attributes.length, 1);
    assert.ok(vault.decodedCacheStats.entries < count);
    await vault.close();
  });
});

describe('pooled random IVs', () => {
  function countingSource(): { source: (n: number) => Uint8Array; calls: number[] } {
    const calls: number[] = [];
    return {
      calls,
      // The CSPRNG, counted: a reused or zeroed IV would show as a duplicate.
      source: (n) => {
        calls.push(n);
        return new Uint8Array(randomBytes(n));
      },
    };
  }

  test(`IV_POOL_BYTES (${String(IV_POOL_BYTES)}) serve exactly that many bytes of IVs, then a new block is drawn`, () => {
    const { source, calls } = countingSource();
    const perBlock = IV_POOL_BYTES / 16;
    const seen = new Set<string>();
    for (let i = 0; i < perBlock; i++) {
      const iv = pooledRandomBytes(source, 16);
      assert.equal(iv.length, 16);
      assert.ok(iv.some((b) => b !== 0));
      seen.add(Buffer.from(iv).toString('hex'));
    }
    assert.deepEqual(calls, [IV_POOL_BYTES]);
    assert.equal(seen.size, perBlock);
    pooledRandomBytes(source, 16);
    assert.deepEqual(calls, [IV_POOL_BYTES, IV_POOL_BYTES]);
  });

  test('an IV handed out is a copy: the pool keeps no usable copy of it', () => {
    let block: Uint8Array | undefined;
    const source = (n: number): Uint8Array => {
      block = Uint8Array.from({ length: n }, (_, i) => (i % 255) + 1);
      return block;
    };
    const iv = pooledRandomBytes(source, 12);
    assert.ok(block !== undefined);
    assert.ok(block.subarray(0, 12).every((b) => b === 0));
    assert.ok(iv.every((b) => b !== 0));
  });

  test('draws over 64 bytes, and sources that ignore the size asked for, bypass the pool', () => {
    const { source, calls } = countingSource();
    assert.equal(pooledRandomBytes(source, 64).length, 64);
    assert.equal(pooledRandomBytes(source, 65).length, 65);
    assert.deepEqual(calls, [IV_POOL_BYTES, 65]);
    const short = (n: number): Uint8Array => new Uint8Array(Math.min(n, 16)).fill(7);
    assert.equal(pooledRandomBytes(short, 12).length, 12);
  });
});
