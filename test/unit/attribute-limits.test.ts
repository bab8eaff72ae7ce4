/**
 * Issue 15 Deliver 2: the total size of an object's attributes (maxAttributeBytes) and the number of values of one
 * attribute (maxAttributeValues) are limited wherever an object is written: Register / Create and Add / Set / Modify
 * Attribute, in KMIP 1.x and 2.x, each limit tested at the limit and one past it. Also the vault's decoded-record
 * cache byte cap as a setting (vault.decodedCacheBytes).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import type { KmipAttribute } from '../../src/kmip/attributes.js';
import { ObjectType, Operation, ResultReason } from '../../src/kmip/registry.js';
import { attributeBytes, DEFAULT_MAX_ATTRIBUTE_BYTES, DEFAULT_MAX_ATTRIBUTE_VALUES } from '../../src/operations/model/attribute-limits.js';
import { DEFAULT_OPERATIONS_CONFIG } from '../../src/operations/services.js';
import type { OperationsConfig } from '../../src/operations/services.js';
import { operationsConfig } from '../../src/appliance/operations-config.js';
import { vaultSettings } from '../../src/config/index.js';
import { silentLogger } from '../../src/common/log.js';
import { DEFAULT_SERVER_LIMITS, resolveServerLimits } from '../../src/config/index.js';
import { ConfigError } from '../../src/common/config-error.js';
import { DECODED_RECORD_CACHE_BYTES, DECODED_RECORD_CACHE_BYTES_MAX } from '../../src/vault/base-vault.js';
import { MemoryVault } from '../../src/vault/index.js';
import { Fixture, rejectsWith } from './operations-fixture.js';

const group = (v: string): KmipAttribute => makeAttribute('Object Group', v);
const KEY = new Uint8Array(16).fill(7);

function registerOpaque(f: Fixture, attributes: KmipAttribute[], version: '1.4' | '2.1' = '2.1'): Promise<string> {
  return f.call(Operation.Register, {
    objectType: ObjectType.OpaqueObject, attributes, object: { objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000001, opaqueDataValue: KEY },
  }, { version }).then((r) => r.uniqueIdentifier);
}

async function sizeOf(f: Fixture, uid: string): Promise<number> {
  const rec = await f.store.get('alice', uid);
  assert.ok(rec !== undefined);
  return attributeBytes(rec.attributes);
}

describe('attribute limits: defaults and configuration', () => {
  test('named defaults: 128 KiB of attributes, 64 values of one attribute, the same in the server limits', () => {
    assert.equal(DEFAULT_MAX_ATTRIBUTE_BYTES, 128 * 1024);
    assert.equal(DEFAULT_MAX_ATTRIBUTE_VALUES, 64);
    assert.equal(DEFAULT_OPERATIONS_CONFIG.maxAttributeBytes, DEFAULT_MAX_ATTRIBUTE_BYTES);
    assert.equal(DEFAULT_OPERATIONS_CONFIG.maxAttributeValues, DEFAULT_MAX_ATTRIBUTE_VALUES);
    assert.equal(DEFAULT_SERVER_LIMITS.maxAttributeBytes, DEFAULT_MAX_ATTRIBUTE_BYTES);
    assert.equal(DEFAULT_SERVER_LIMITS.maxAttributeValues, DEFAULT_MAX_ATTRIBUTE_VALUES);
  });

  test('kmip.limits accepts them from 1 to their ceilings and refuses 0 and one past the ceiling', () => {
    assert.equal(resolveServerLimits({ maxAttributeBytes: 1024 * 1024, maxAttributeValues: 1024 }).maxAttributeBytes, 1024 * 1024);
    assert.equal(resolveServerLimits({ maxAttributeValues: 1 }).maxAttributeValues, 1);
    assert.throws(() => resolveServerLimits({ maxAttributeBytes: 1024 * 1024 + 1 }), ConfigError);
    assert.throws(() => resolveServerLimits({ maxAttributeValues: 1025 }), ConfigError);
    assert.throws(() => resolveServerLimits({ maxAttributeValues: 0 }), ConfigError);
  });
});

describe('maxAttributeBytes: the total size of one object\'s attributes', () => {
  /** The size an Opaque Object registered with `attrs` has (measured on a fixture without the limit in the way). */
  async function registeredSize(attrs: KmipAttribute[]): Promise<number> {
    const f = new Fixture({ maxAttributeBytes: 1024 * 1024 });
    return sizeOf(f, await registerOpaque(f, attrs));
  }

  test('Register: an object of exactly maxAttributeBytes is stored; with the limit one byte lower it is refused', async () => {
    const attrs = [group('g'.repeat(1000))];
    const size = await registeredSize(attrs);
    const at = new Fixture({ maxAttributeBytes: size });
    assert.equal(await sizeOf(at, await registerOpaque(at, attrs)), size);
    const past = new Fixture({ maxAttributeBytes: size - 1 });
    await rejectsWith(registerOpaque(past, attrs), 'SERVER_LIMIT_EXCEEDED');
    assert.deepEqual(await past.store.findUids('alice', {}), [], 'nothing was stored');
  });

  test('Create is checked the same way', async () => {
    const probe = new Fixture({ maxAttributeBytes: 1024 * 1024 });
    const extra = [group('c'.repeat(500))];
    const size = await sizeOf(probe, await probe.createKey({ extra }));
    await new Fixture({ maxAttributeBytes: size }).createKey({ extra });
    await rejectsWith(new Fixture({ maxAttributeBytes: size - 1 }).createKey({ extra }), 'SERVER_LIMIT_EXCEEDED');
  });

  test('Add Attribute: up to the limit is accepted, one byte past it is refused and nothing changes (1.4 and 2.1)', async () => {
    for (const version of ['1.4', '2.1'] as const) {
      const probe = new Fixture({ maxAttributeBytes: 1024 * 1024 });
      const pu = await registerOpaque(probe, [], version);
      await probe.call(Operation.AddAttribute, { uniqueIdentifier: pu, attribute: group('a'.repeat(4000)) }, { version });
      const after = await sizeOf(probe, pu);

      const at = new Fixture({ maxAttributeBytes: after });
      const u = await registerOpaque(at, [], version);
      await at.call(Operation.AddAttribute, { uniqueIdentifier: u, attribute: group('a'.repeat(4000)) }, { version });
      assert.equal(await sizeOf(at, u), after);

      const past = new Fixture({ maxAttributeBytes: after - 1 });
      const v = await registerOpaque(past, [], version);
      const before = await sizeOf(past, v);
      await rejectsWith(past.call(Operation.AddAttribute, { uniqueIdentifier: v, attribute: group('a'.repeat(4000)) }, { version }), 'SERVER_LIMIT_EXCEEDED');
      assert.equal(await sizeOf(past, v), before, `${version}: the refused value was not stored`);
    }
  });

  test('on the wire: Server Limit Exceeded in 2.1, General Failure in 1.4 (no such reason before 2.0)', async () => {
    const f = new Fixture({ maxAttributeBytes: 2048 });
    const uid = await registerOpaque(f, []);
    const req = { uniqueIdentifier: uid, attribute: group('w'.repeat(4096)) };
    const v2 = (await f.wire([{ op: Operation.AddAttribute, req }], { version: '2.1' }))[0];
    assert.equal(v2?.resultReason, ResultReason.ServerLimitExceeded);
    assert.match(String(v2.resultMessage), /maxAttributeBytes/);
    assert.equal((await f.wire([{ op: Operation.AddAttribute, req }], { version: '1.4' }))[0]?.resultReason, ResultReason.GeneralFailure);
  });

  test('Modify Attribute and Set Attribute cannot grow an object past the limit; shrinking it always works', async () => {
    const f = new Fixture({ maxAttributeBytes: 8192 });
    const uid = await registerOpaque(f, [group('small')]);
    await rejectsWith(f.call(Operation.ModifyAttribute, { uniqueIdentifier: uid, attribute: group('m'.repeat(9000)) }), 'SERVER_LIMIT_EXCEEDED');
    await rejectsWith(f.call(Operation.ModifyAttribute, { uniqueIdentifier: uid, attribute: group('m'.repeat(9000)) }, { version: '1.4' }), 'SERVER_LIMIT_EXCEEDED');
    const other = await registerOpaque(f, []);
    await rejectsWith(f.call(Operation.SetAttribute, { uniqueIdentifier: other, attribute: makeAttribute('Object Group', 's'.repeat(9000)) }), 'SERVER_LIMIT_EXCEEDED');
    await f.call(Operation.ModifyAttribute, { uniqueIdentifier: uid, attribute: group('s') });
    await f.call(Operation.DeleteAttribute, { uniqueIdentifier: uid, attributeName: 'Object Group' });
  });

  test('the issue\'s attack: 15 Object Groups of 60,000 characters, then Add Attribute calls, are refused', async () => {
    const f = new Fixture();
    const huge = Array.from({ length: 15 }, (_, i) => group(String(i).padEnd(60_000, 'x')));
    await rejectsWith(registerOpaque(f, huge), 'SERVER_LIMIT_EXCEEDED');
    await rejectsWith(registerOpaque(f, huge, '1.4'), 'SERVER_LIMIT_EXCEEDED');
    // As much as the default limit lets in (two of them), then the Add Attribute storm: every call is refused and
    // the object does not grow.
    const uid = await registerOpaque(f, huge.slice(0, 2));
    const size = await sizeOf(f, uid);
    assert.ok(size <= DEFAULT_MAX_ATTRIBUTE_BYTES);
    for (let i = 0; i < 50; i++) {
      await rejectsWith(f.call(Operation.AddAttribute, { uniqueIdentifier: uid, attribute: group(`${String(i)}-`.padEnd(60_000, 'y')) }), 'SERVER_LIMIT_EXCEEDED');
    }
    assert.equal(await sizeOf(f, uid), size);
  });
});

describe('maxAttributeValues: the number of values of one attribute', () => {
  const cfg: Partial<OperationsConfig> = {};

  test(`Add Attribute: the ${String(DEFAULT_MAX_ATTRIBUTE_VALUES)}th Object Group is accepted, the next is refused (2.1 Server Limit Exceeded, 1.4 Index Out of Bounds)`, async () => {
    const f = new Fixture(cfg);
    const uid = await registerOpaque(f, []);
    for (let i = 0; i < DEFAULT_MAX_ATTRIBUTE_VALUES; i++) await f.call(Operation.AddAttribute, { uniqueIdentifier: uid, attribute: group(`g${String(i)}`) });
    const rec = await f.store.get('alice', uid);
    assert.equal(rec?.attributes.filter((a) => a.name === 'Object Group').length, DEFAULT_MAX_ATTRIBUTE_VALUES);
    const req = { uniqueIdentifier: uid, attribute: group('one-too-many') };
    await rejectsWith(f.call(Operation.AddAttribute, req), 'SERVER_LIMIT_EXCEEDED');
    await rejectsWith(f.call(Operation.AddAttribute, req, { version: '1.4' }), 'INDEX_OUT_OF_BOUNDS');
    assert.equal((await f.wire([{ op: Operation.AddAttribute, req }], { version: '2.1' }))[0]?.resultReason, ResultReason.ServerLimitExceeded);
    assert.equal((await f.wire([{ op: Operation.AddAttribute, req }], { version: '1.4' }))[0]?.resultReason, ResultReason.IndexOutOfBounds);
    // Another attribute still has room.
    await f.call(Operation.AddAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('x-other', 'v') }, { version: '1.4' });
  });

  test('Register with maxAttributeValues values of one attribute is stored; one more is refused', async () => {
    const f = new Fixture({ maxAttributeValues: 3 });
    await registerOpaque(f, [group('a'), group('b'), group('c')]);
    await rejectsWith(registerOpaque(f, [group('a'), group('b'), group('c'), group('d')]), 'SERVER_LIMIT_EXCEEDED');
    await rejectsWith(registerOpaque(f, [group('a'), group('b'), group('c'), group('d')], '1.4'), 'INDEX_OUT_OF_BOUNDS');
  });
});

describe('kmip.limits.maxLocateItems: identifiers one Locate answers', () => {
  test('configurable; the server\'s limit applies at it and one past it, whatever Maximum Items asks', async () => {
    assert.equal(DEFAULT_SERVER_LIMITS.maxLocateItems, DEFAULT_OPERATIONS_CONFIG.maxLocateItems);
    assert.throws(() => resolveServerLimits({ maxLocateItems: 1_000_001 }), ConfigError);
    const limits = resolveServerLimits({ maxLocateItems: 3, maxAttributeBytes: 4096, maxAttributeValues: 2 });
    const cfg = operationsConfig(limits, silentLogger);
    assert.deepEqual([cfg.maxLocateItems, cfg.maxAttributeBytes, cfg.maxAttributeValues], [3, 4096, 2], 'the server hands its limits to the operations');
    const f = new Fixture(cfg);
    for (let i = 0; i < 3; i++) await registerOpaque(f, [group('same')]);
    const locate = (maximumItems?: number): Promise<number> => f.call(Operation.Locate, { ...(maximumItems === undefined ? {} : { maximumItems }), attributes: [group('same')] }).then((r) => r.uniqueIdentifiers.length);
    assert.equal(await locate(), 3, 'at the limit: all three');
    await registerOpaque(f, [group('same')]);
    assert.equal(await locate(), 3, 'one past it: still three');
    assert.equal(await locate(10), 3, 'a larger Maximum Items does not lift it');
    assert.equal(await locate(2), 2);
  });
});

describe('vault.decodedCacheBytes: the decoded-record cache byte cap is a setting', () => {
  test('default 32 MiB; accepted from 0 to the ceiling, refused past it, as a negative or as text', () => {
    assert.equal(DECODED_RECORD_CACHE_BYTES, 32 * 1024 * 1024);
    assert.equal(vaultSettings({}).decodedCacheBytes, undefined);
    assert.equal(vaultSettings({ decodedCacheBytes: 0 }).decodedCacheBytes, 0);
    assert.equal(vaultSettings({ decodedCacheBytes: DECODED_RECORD_CACHE_BYTES_MAX }).decodedCacheBytes, DECODED_RECORD_CACHE_BYTES_MAX);
    assert.throws(() => vaultSettings({ decodedCacheBytes: DECODED_RECORD_CACHE_BYTES_MAX + 1 }), ConfigError);
    assert.throws(() => vaultSettings({ decodedCacheBytes: -1 }), ConfigError);
    assert.throws(() => vaultSettings({ decodedCacheBytes: '1MB' }), ConfigError);
    assert.throws(() => new MemoryVault(undefined, { decodedCacheBytes: -1 }), /decodedCacheBytes/);
  });

  test('the vault keeps at most the configured bytes; 0 caches nothing', async () => {
    const put = (v: MemoryVault, i: number): Promise<{ uid: string }> =>
      v.put({ tenant: 't', objectType: ObjectType.OpaqueObject, state: 0, attributes: [group(String(i).padEnd(4000, 'z'))] });
    const cap = 20_000;
    const small = new MemoryVault(undefined, { decodedCacheBytes: cap });
    const uids: string[] = [];
    for (let i = 0; i < 20; i++) uids.push((await put(small, i)).uid);
    for (const uid of uids) {
      assert.ok(small.get('t', uid) !== undefined);
      assert.ok(small.decodedCacheStats.bytes <= cap, `${String(small.decodedCacheStats.bytes)} bytes cached over a cap of ${String(cap)}`);
    }
    assert.ok(small.decodedCacheStats.entries >= 2 && small.decodedCacheStats.entries < 20);
    const off = new MemoryVault(undefined, { decodedCacheBytes: 0 });
    const { uid } = await put(off, 0);
    off.get('t', uid);
    assert.deepEqual(off.decodedCacheStats, { entries: 0, bytes: 0 });
    await small.close();
    await off.close();
  });
});
