/**
 * The hot-path savings of issue 7: VaultObjectStore's per-turn read memo (model/vault-store.ts,
 * MAX_READ_MEMO_ENTRIES) and the pooled random IVs of Encrypt (model/crypto.ts, IV_POOL_BYTES).
 * Both must save work without changing what a client can observe.
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
import { MAX_READ_MEMO_ENTRIES, VaultObjectStore } from '../../src/operations/model/vault-store.js';
import { text } from '../../src/ttlv/build.js';
import { ItemType } from '../../src/ttlv/types.js';
import { MemoryVault } from '../../src/vault/index.js';
import { newUid as vaultUid } from '../../src/vault/uid.js';

const TENANT = 't';

/** A real MemoryVault whose get() calls are counted. */
function countingVault(): { vault: MemoryVault; gets: () => number } {
  const vault = new MemoryVault();
  let n = 0;
  const get = vault.get.bind(vault);
  vault.get = (tenant: string, uid: string) => {
    n++;
    return get(tenant, uid);
  };
  return { vault, gets: () => n };
}

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

describe('VaultObjectStore read memo', () => {
  test('two reads in one turn decode the vault record once; the next turn reads the vault again', async () => {
    const { vault, gets } = countingVault();
    const store = new VaultObjectStore(vault);
    const uid = vaultUid();
    await store.create(TENANT, record(uid, 'a'));
    await nextTurn();
    const before = gets();
    const r1 = await store.get(TENANT, uid);
    const r2 = await store.get(TENANT, uid);
    assert.equal(gets() - before, 1);
    assert.equal(group(r1), 'a');
    // Each read is still a fresh record: a handler changing one does not change the other.
    assert.notEqual(r1, r2);
    assert.notEqual(r1?.attributes, r2?.attributes);
    r1?.attributes.pop();
    assert.equal(group(r2), 'a');
    assert.equal(group(await store.get(TENANT, uid)), 'a');
    await nextTurn();
    await store.get(TENANT, uid);
    assert.equal(gets() - before, 2);
    await vault.close();
  });

  test('a write through the store is seen by the next read of the same turn', async () => {
    const { vault } = countingVault();
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

  test('a CONFLICT drops the memoised read, so the retry reads the current version', async () => {
    const { vault, gets } = countingVault();
    const store = new VaultObjectStore(vault);
    const uid = vaultUid();
    await store.create(TENANT, record(uid, 'a'));
    await nextTurn();
    const stale = await store.get(TENANT, uid);
    assert.ok(stale !== undefined);
    // A writer the store does not see (another process, the vault's own re-wrap).
    await vault.update(TENANT, uid, () => ({ attributes: [makeAttribute('Object Group', 'c')] }));
    await assert.rejects(store.update(TENANT, { ...stale, attributes: [...stale.attributes] }), StoreConflictError);
    const n = gets();
    const fresh = await store.get(TENANT, uid);
    assert.equal(gets(), n + 1);
    assert.equal(group(fresh), 'c');
    assert.equal(fresh?.version, (stale.version ?? 0) + 1);
    await vault.close();
  });

  test(`memoises at most MAX_READ_MEMO_ENTRIES (${String(MAX_READ_MEMO_ENTRIES)}) records per turn`, async () => {
    const { vault, gets } = countingVault();
    const store = new VaultObjectStore(vault);
    const uids = Array.from({ length: MAX_READ_MEMO_ENTRIES + 1 }, () => vaultUid());
    await nextTurn();
    // Absent records are memoised too (Item Not Found needs no second lookup either).
    for (const u of uids) await store.get(TENANT, u);
    assert.equal(gets(), MAX_READ_MEMO_ENTRIES + 1);
    // The first MAX_READ_MEMO_ENTRIES are served from the memo ...
    for (const u of uids.slice(0, MAX_READ_MEMO_ENTRIES)) await store.get(TENANT, u);
    assert.equal(gets(), MAX_READ_MEMO_ENTRIES + 1);
    // ... the one past the limit goes to the vault every time.
    const last = uids[MAX_READ_MEMO_ENTRIES];
    assert.ok(last !== undefined);
    await store.get(TENANT, last);
    assert.equal(gets(), MAX_READ_MEMO_ENTRIES + 2);
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
