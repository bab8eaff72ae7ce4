/**
 * Conformance suite of the ObjectStore interface (src/vault/store.ts): one set of tests that
 * every implementation must pass (STYLE.md rule 9). Run here against the LMDB `Vault` and the
 * in-memory `MemoryVault`; a new implementation adds one `runVaultConformance(...)` line.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KmipAttribute } from '../../src/kmip/attributes.js';
import { ObjectType, State, Tag } from '../../src/kmip/registry.generated.js';
import {
  bigInt, bool, bytes, dateTime, dateTimeExtended, enumeration, int, interval, long, structure, text,
} from '@openkcm/ttlv';
import type { IntegrityReport } from '../../src/vault/base-vault.js';
import { EnvelopeError, VaultError } from '../../src/vault/errors.js';
import { NodeCryptoKekProvider } from '../../src/vault/kek.js';
import type { KekProvider } from '../../src/vault/kek.js';
import { MemoryVault } from '../../src/vault/memory-vault.js';
import type { ObjectStore, VaultRecord } from '../../src/vault/store.js';
import { UUID_PATTERN } from '../../src/vault/uid.js';
import { Vault } from '../../src/vault/vault.js';

export type ConformanceStore = ObjectStore & { checkIntegrity?: () => IntegrityReport };

export interface StoreFactory {
  /** A fresh, empty store using `kek`. */
  create(kek: KekProvider): Promise<ConformanceStore>;
  /** Releases whatever create() allocated (directories, ...). */
  cleanup(): void;
}

const nameAttr = (value: string): KmipAttribute => ({
  name: 'Name',
  value: structure(Tag.Name, [text(Tag.NameValue, value), enumeration(Tag.NameType, 1)]),
});
const groupAttr = (value: string): KmipAttribute => ({ name: 'Object Group', value: text(Tag.ObjectGroup, value) });
const algAttr = (alg: number): KmipAttribute => ({ name: 'Cryptographic Algorithm', value: enumeration(Tag.CryptographicAlgorithm, alg) });

/** One attribute of every TTLV item type, with edge values (int64 limits, a 300-bit bigint, raw bytes). */
function everyTypeAttributes(): KmipAttribute[] {
  return [
    nameAttr('every-type'),
    { name: 'Cryptographic Length', value: int(Tag.CryptographicLength, 256) },
    { name: 'Cryptographic Usage Mask', value: int(Tag.CryptographicUsageMask, 0x7fffffff) },
    { name: 'Initial Date', value: dateTime(Tag.InitialDate, -(1n << 63n)) },
    { name: 'x-long', value: long(Tag.AttributeValue, (1n << 63n) - 1n), index: 2 },
    { name: 'x-big', value: bigInt(Tag.AttributeValue, -(1n << 300n) + 12345n) },
    { name: 'x-bool', value: bool(Tag.AttributeValue, false) },
    { name: 'x-bytes', value: bytes(Tag.AttributeValue, Uint8Array.from([0, 1, 2, 0xfe, 0xff])) },
    { name: 'x-empty-bytes', value: bytes(Tag.AttributeValue, new Uint8Array(0)) },
    { name: 'x-interval', value: interval(Tag.AttributeValue, 0xffffffff) },
    { name: 'x-dtx', value: dateTimeExtended(Tag.AttributeValue, 1_700_000_000_123_456n) },
    { name: 'x-text', value: text(Tag.AttributeValue, 'ünïcode ✓ 🔑') },
    {
      name: 'Application Specific Information',
      value: structure(Tag.ApplicationSpecificInformation, [
        text(Tag.ApplicationNamespace, 'ssl'), text(Tag.ApplicationData, 'www.example.com'),
      ]),
    },
  ];
}

function assertVaultError(code: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof VaultError, `expected VaultError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  };
}

const key32 = (fill: number): Buffer => Buffer.alloc(32, fill);

export function runVaultConformance(name: string, factory: StoreFactory): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    const kek = NodeCryptoKekProvider.random('conformance-kek');
    let store: ConformanceStore;

    before(async () => {
      store = await factory.create(kek);
    });
    after(async () => {
      await store.close();
      factory.cleanup();
    });

    const T1 = 'tenant-one';
    const T2 = 'tenant-two';

    test('put/get round-trips every TTLV item type exactly, with version 1 and a UUIDv7 uid', async () => {
      const attributes = everyTypeAttributes();
      const material = key32(0x11);
      const put = await store.put({ tenant: T1, objectType: ObjectType.SymmetricKey, state: State.PreActive, attributes, material });
      assert.match(put.uid, UUID_PATTERN);
      assert.equal(put.uid[14], '7', 'UUID version 7');
      assert.equal(put.version, 1);
      assert.equal(put.materialVersion, 1);
      const got = store.get(T1, put.uid);
      assert.ok(got);
      assert.equal(got.tenant, T1);
      assert.equal(got.uid, put.uid);
      assert.equal(got.objectType, ObjectType.SymmetricKey);
      assert.equal(got.state, State.PreActive);
      assert.equal(got.version, 1);
      assert.deepEqual(got.attributes.map((a) => ({ ...a, value: normalise(a.value) })), attributes.map((a) => ({ ...a, value: normalise(a.value) })));
      const opened = await store.openMaterial(got);
      assert.ok(opened);
      assert.deepEqual(opened, material);
      opened.fill(0);
    });

    test('material is only ever held sealed: the record carries an envelope, not the key bytes', async () => {
      const material = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
      const r = await store.put({ tenant: T1, objectType: ObjectType.SymmetricKey, state: State.Active, attributes: [], material });
      assert.ok(r.sealedMaterial);
      assert.equal(r.sealedMaterial.indexOf(material), -1);
      assert.equal(r.sealedMaterial.length, material.length + 2 + kek.id.length + 4 + 12 + 16);
      assert.deepEqual(store.get(T1, r.uid)?.sealedMaterial, r.sealedMaterial);
    });

    test('objects without material have no envelope', async () => {
      const r = await store.put({ tenant: T1, objectType: ObjectType.Template, state: State.Active, attributes: [nameAttr('no-material')] });
      assert.equal(r.sealedMaterial, undefined);
      assert.equal(r.materialVersion, 0);
      assert.equal(await store.openMaterial(store.get(T1, r.uid)!), undefined);
    });

    test('explicit uid: a second put of the same uid in the same tenant fails with EXISTS', async () => {
      await store.put({ tenant: T1, uid: 'fixed-uid-1', objectType: ObjectType.SecretData, state: State.Active, attributes: [] });
      await assert.rejects(
        store.put({ tenant: T1, uid: 'fixed-uid-1', objectType: ObjectType.SecretData, state: State.Active, attributes: [] }),
        assertVaultError('EXISTS'),
      );
    });

    test('a uid deleted and put again (version 1 both times) reads as the new record, never the old one', async () => {
      // Reads reuse decoded records (base-vault.ts DECODED_RECORD_CACHE_ENTRIES): same uid and same version must
      // still not return what was stored before.
      await store.put({ tenant: T1, uid: 'reborn-uid', objectType: ObjectType.SecretData, state: State.Active, attributes: [nameAttr('first-life')] });
      assert.equal(store.get(T1, 'reborn-uid')?.version, 1);
      assert.equal(await store.delete(T1, 'reborn-uid'), true);
      assert.equal(store.get(T1, 'reborn-uid'), undefined);
      await store.put({ tenant: T1, uid: 'reborn-uid', objectType: ObjectType.SecretData, state: State.PreActive, attributes: [nameAttr('second-life')] });
      const g = store.get(T1, 'reborn-uid');
      assert.equal(g?.version, 1);
      assert.equal(g.state, State.PreActive);
      assert.deepEqual(g.attributes, [nameAttr('second-life')]);
    });

    test('tenant isolation: another tenant sees nothing, cannot update or delete, and may reuse the uid', async () => {
      const r = await store.put({ tenant: T1, uid: 'shared-uid', objectType: ObjectType.SymmetricKey, state: State.Active, attributes: [nameAttr('iso')], material: key32(1) });
      assert.equal(store.get(T2, r.uid), undefined);
      await assert.rejects(store.update(T2, r.uid, () => ({ state: State.Deactivated })), assertVaultError('NOT_FOUND'));
      assert.equal(await store.delete(T2, r.uid), false);
      assert.deepEqual(store.findUids(T2, { name: 'iso' }), []);
      assert.ok(![...store.scan(T2)].some((x) => x.uid === r.uid));
      const other = await store.put({ tenant: T2, uid: 'shared-uid', objectType: ObjectType.OpaqueObject, state: State.Active, attributes: [nameAttr('iso')] });
      assert.equal(store.get(T2, 'shared-uid')?.objectType, ObjectType.OpaqueObject);
      assert.equal(store.get(T1, 'shared-uid')?.objectType, ObjectType.SymmetricKey);
      assert.deepEqual(store.findUids(T2, { name: 'iso' }), [other.uid]);
      // Tenant strings that share a byte prefix stay apart (length-prefixed keys).
      await store.put({ tenant: 'ab', uid: 'c', objectType: 1, state: 1, attributes: [] });
      assert.equal(store.get('a', 'bc'), undefined);
      assert.equal(store.count('a'), 0);
    });

    test('an envelope copied into another record (other tenant or uid) fails to open with TAMPERED', async () => {
      const a = await store.put({ tenant: T1, objectType: ObjectType.SymmetricKey, state: State.Active, attributes: [], material: key32(0xaa) });
      const b = await store.put({ tenant: T2, objectType: ObjectType.SymmetricKey, state: State.Active, attributes: [], material: key32(0xbb) });
      const moved: VaultRecord = { ...b, sealedMaterial: a.sealedMaterial };
      await assert.rejects(store.openMaterial(moved), (e: unknown) => e instanceof EnvelopeError && e.code === 'TAMPERED');
      const sameTenantOtherUid: VaultRecord = { ...a, uid: 'someone-else' };
      await assert.rejects(store.openMaterial(sameTenantOtherUid), (e: unknown) => e instanceof EnvelopeError && e.code === 'TAMPERED');
      const olderVersion: VaultRecord = { ...a, materialVersion: 2 };
      await assert.rejects(store.openMaterial(olderVersion), (e: unknown) => e instanceof EnvelopeError && e.code === 'TAMPERED');
    });

    test('record rules: reserved attributes, non-uint32 enums, oversized material, bad tenant', async () => {
      for (const reserved of ['State', 'Object Type', 'Unique Identifier']) {
        await assert.rejects(
          store.put({ tenant: T1, objectType: 2, state: 1, attributes: [{ name: reserved, value: enumeration(Tag.State, 1) }] }),
          assertVaultError('INVALID_RECORD'),
        );
      }
      await assert.rejects(store.put({ tenant: T1, objectType: -1, state: 1, attributes: [] }), assertVaultError('INVALID_RECORD'));
      await assert.rejects(store.put({ tenant: T1, objectType: 2, state: 1.5, attributes: [] }), assertVaultError('INVALID_RECORD'));
      await assert.rejects(
        store.put({ tenant: T1, objectType: 2, state: 1, attributes: [], material: new Uint8Array(1024 * 1024 + 1) }),
        assertVaultError('LIMIT_EXCEEDED'),
      );
      await assert.rejects(store.put({ tenant: '', objectType: 2, state: 1, attributes: [] }), assertVaultError('INVALID_RECORD'));
      await assert.rejects(store.put({ tenant: 'x'.repeat(256), objectType: 2, state: 1, attributes: [] }), assertVaultError('LIMIT_EXCEEDED'));
      await assert.rejects(store.put({ tenant: 'lone\uD800', objectType: 2, state: 1, attributes: [] }), assertVaultError('INVALID_RECORD'));
      await assert.rejects(
        store.put({ tenant: T1, objectType: 2, state: 1, attributes: [{ name: 'x-int', value: int(Tag.AttributeValue, 2 ** 31) }] }),
        assertVaultError('INVALID_RECORD'),
      );
    });

    test('get of a malformed or unknown uid returns undefined', () => {
      assert.equal(store.get(T1, 'no-such-uid'), undefined);
      assert.equal(store.get(T1, ''), undefined);
      assert.equal(store.get(T1, 'u'.repeat(10_000)), undefined);
    });

    test('returned records are copies: mutating one changes nothing stored', async () => {
      const attrs = [nameAttr('copy-me')];
      const r = await store.put({ tenant: T1, objectType: 2, state: 1, attributes: attrs });
      attrs.push(groupAttr('sneaky'));
      (r.attributes as KmipAttribute[]).push(groupAttr('sneaky'));
      const g = store.get(T1, r.uid)!;
      (g.attributes as KmipAttribute[]).length = 0;
      assert.equal(store.get(T1, r.uid)?.attributes.length, 1);
      assert.deepEqual(store.findUids(T1, { objectGroup: 'sneaky' }), []);
    });

    test('update: changes state and attributes, bumps the version, moves index entries', async () => {
      const r = await store.put({ tenant: T1, objectType: ObjectType.SymmetricKey, state: State.PreActive, attributes: [nameAttr('before'), groupAttr('g-upd')] });
      const u = await store.update(T1, r.uid, (cur) => ({
        state: State.Active,
        attributes: [...cur.attributes.filter((a) => a.name !== 'Name'), nameAttr('after'), algAttr(3)],
      }));
      assert.equal(u.version, 2);
      assert.equal(u.state, State.Active);
      const g = store.get(T1, r.uid)!;
      assert.equal(g.version, 2);
      assert.equal(g.state, State.Active);
      assert.deepEqual(store.findUids(T1, { name: 'before' }), []);
      assert.deepEqual(store.findUids(T1, { name: 'after' }), [r.uid]);
      assert.deepEqual(store.findUids(T1, { objectGroup: 'g-upd', state: State.Active }), [r.uid]);
      assert.deepEqual(store.findUids(T1, { objectGroup: 'g-upd', state: State.PreActive }), []);
    });

    test('update: a mutator returning undefined writes nothing', async () => {
      const r = await store.put({ tenant: T1, objectType: 2, state: 1, attributes: [] });
      const u = await store.update(T1, r.uid, () => undefined);
      assert.equal(u.version, 1);
      assert.equal(store.get(T1, r.uid)?.version, 1);
    });

    test('update: a throwing mutator aborts with its own error and writes nothing', async () => {
      const r = await store.put({ tenant: T1, objectType: 2, state: 1, attributes: [] });
      await assert.rejects(store.update(T1, r.uid, () => { throw new Error('policy says no'); }), /policy says no/);
      assert.equal(store.get(T1, r.uid)?.version, 1);
    });

    test('update: expectedVersion must match, else CONFLICT and nothing is written', async () => {
      const r = await store.put({ tenant: T1, objectType: 2, state: 1, attributes: [] });
      await store.update(T1, r.uid, () => ({ state: 2 }), { expectedVersion: 1 });
      await assert.rejects(store.update(T1, r.uid, () => ({ state: 3 }), { expectedVersion: 1 }), assertVaultError('CONFLICT'));
      assert.equal(store.get(T1, r.uid)?.state, 2);
    });

    test('update: concurrent read-modify-writes are never lost (optimistic retry)', async () => {
      const r = await store.put({ tenant: T1, objectType: 2, state: 1, attributes: [] });
      const calls = { n: 0 };
      const add = (g: string) => store.update(T1, r.uid, (cur) => {
        calls.n++;
        return { attributes: [...cur.attributes, groupAttr(g)] };
      });
      await Promise.all([add('c1'), add('c2'), add('c3'), add('c4')]);
      const g = store.get(T1, r.uid)!;
      assert.equal(g.version, 5);
      assert.deepEqual(g.attributes.map((a) => a.value.value).sort(), ['c1', 'c2', 'c3', 'c4']);
      for (const grp of ['c1', 'c2', 'c3', 'c4']) assert.deepEqual(store.findUids(T1, { objectGroup: grp }), [r.uid]);
      assert.ok(calls.n >= 4);
    });

    test('update: an async mutator is supported', async () => {
      const r = await store.put({ tenant: T1, objectType: 2, state: 1, attributes: [] });
      const u = await store.update(T1, r.uid, async () => {
        await new Promise((res) => setImmediate(res));
        return { state: 2 };
      });
      assert.equal(u.state, 2);
    });

    test('update: material null destroys it (metadata stays); a new material re-seals under materialVersion+1', async () => {
      const r = await store.put({ tenant: T1, objectType: ObjectType.SymmetricKey, state: State.Active, attributes: [nameAttr('destroy-me')], material: key32(7) });
      const replaced = await store.update(T1, r.uid, () => ({ material: key32(8) }));
      assert.equal(replaced.materialVersion, 2);
      assert.deepEqual(await store.openMaterial(store.get(T1, r.uid)!), key32(8));
      // The version-1 envelope no longer opens in the version-2 record.
      await assert.rejects(store.openMaterial({ ...replaced, sealedMaterial: r.sealedMaterial }), (e: unknown) => e instanceof EnvelopeError && e.code === 'TAMPERED');
      const destroyed = await store.update(T1, r.uid, () => ({ state: State.Destroyed, material: null }));
      assert.equal(destroyed.sealedMaterial, undefined);
      const g = store.get(T1, r.uid)!;
      assert.equal(g.sealedMaterial, undefined);
      assert.equal(g.materialVersion, 2);
      assert.equal(await store.openMaterial(g), undefined);
      assert.deepEqual(store.findUids(T1, { name: 'destroy-me', state: State.Destroyed }), [r.uid]);
    });

    test('update of a missing record is NOT_FOUND', async () => {
      await assert.rejects(store.update(T1, 'missing', () => ({ state: 2 })), assertVaultError('NOT_FOUND'));
    });

    test('delete removes the record and every index entry; expectedVersion is honoured', async () => {
      const r = await store.put({ tenant: T1, objectType: ObjectType.SecretData, state: State.Active, attributes: [nameAttr('del'), groupAttr('g-del')] });
      await assert.rejects(store.delete(T1, r.uid, { expectedVersion: 9 }), assertVaultError('CONFLICT'));
      assert.equal(await store.delete(T1, r.uid, { expectedVersion: 1 }), true);
      assert.equal(store.get(T1, r.uid), undefined);
      assert.deepEqual(store.findUids(T1, { name: 'del' }), []);
      assert.deepEqual(store.findUids(T1, { objectGroup: 'g-del' }), []);
      assert.ok(!store.findUids(T1, { objectType: ObjectType.SecretData }).includes(r.uid));
      assert.equal(await store.delete(T1, r.uid), false);
    });

    test('findUids: each index, intersections, several names, long names, paging, creation order', async () => {
      const T = 'tenant-find';
      const a = await store.put({ tenant: T, objectType: ObjectType.SymmetricKey, state: State.Active, attributes: [nameAttr('alpha'), nameAttr('shared'), groupAttr('g1')] });
      const b = await store.put({ tenant: T, objectType: ObjectType.SymmetricKey, state: State.PreActive, attributes: [nameAttr('beta'), nameAttr('shared'), groupAttr('g1'), groupAttr('g2')] });
      const c = await store.put({ tenant: T, objectType: ObjectType.SecretData, state: State.Active, attributes: [nameAttr('shared'), groupAttr('g2')] });
      const longName = 'L'.repeat(5000);
      const d = await store.put({ tenant: T, objectType: ObjectType.OpaqueObject, state: State.Active, attributes: [nameAttr(longName)] });
      assert.deepEqual(store.findUids(T, { name: 'alpha' }), [a.uid]);
      assert.deepEqual(store.findUids(T, { name: 'shared' }), [a.uid, b.uid, c.uid]);
      assert.deepEqual(store.findUids(T, { objectGroup: 'g1' }), [a.uid, b.uid]);
      assert.deepEqual(store.findUids(T, { objectGroup: 'g2', objectType: ObjectType.SymmetricKey }), [b.uid]);
      assert.deepEqual(store.findUids(T, { objectType: ObjectType.SymmetricKey }), [a.uid, b.uid]);
      assert.deepEqual(store.findUids(T, { state: State.Active }), [a.uid, c.uid, d.uid]);
      assert.deepEqual(store.findUids(T, { name: 'shared', state: State.Active, objectType: ObjectType.SecretData }), [c.uid]);
      assert.deepEqual(store.findUids(T, { name: 'shared', objectGroup: 'g1', state: State.PreActive }), [b.uid]);
      assert.deepEqual(store.findUids(T, { name: longName }), [d.uid]);
      assert.deepEqual(store.findUids(T, { name: 'L'.repeat(4999) }), []);
      assert.deepEqual(store.findUids(T, { name: 'nobody' }), []);
      assert.deepEqual(store.findUids(T, { state: -1 }), []);
      assert.deepEqual(store.findUids(T), [a.uid, b.uid, c.uid, d.uid]);
      assert.deepEqual(store.findUids(T, { name: 'shared' }, { offset: 1 }), [b.uid, c.uid]);
      assert.deepEqual(store.findUids(T, { name: 'shared' }, { limit: 2 }), [a.uid, b.uid]);
      assert.deepEqual(store.findUids(T, { name: 'shared' }, { offset: 1, limit: 1 }), [b.uid]);
      assert.deepEqual(store.findUids(T, { name: 'shared' }, { limit: 0 }), []);
      assert.deepEqual(store.findUids(T, {}, { offset: 10 }), []);
    });

    test('scan and count are per tenant; count() counts everything', async () => {
      const T = 'tenant-scan';
      const before = store.count();
      const uids: string[] = [];
      for (let i = 0; i < 5; i++) uids.push((await store.put({ tenant: T, objectType: 2, state: 1, attributes: [nameAttr(`s${i}`)] })).uid);
      assert.equal(store.count(T), 5);
      assert.equal(store.count(), before + 5);
      const scanned = [...store.scan(T)];
      assert.deepEqual(scanned.map((r) => r.uid), uids);
      assert.ok(scanned.every((r) => r.tenant === T && r.version === 1));
      assert.equal(store.count('tenant-nobody'), 0);
      assert.deepEqual([...store.scan('tenant-nobody')], []);
    });

    test('putMany is all-or-nothing: one taken uid, or a uid repeated in the batch, writes nothing', async () => {
      const T = 'tenant-many';
      const pair = await store.putMany([
        { tenant: T, objectType: ObjectType.PrivateKey, state: 1, attributes: [nameAttr('kp')], material: key32(1) },
        { tenant: T, objectType: ObjectType.PublicKey, state: 1, attributes: [nameAttr('kp')], material: key32(2) },
      ]);
      assert.equal(pair.length, 2);
      assert.deepEqual(store.findUids(T, { name: 'kp' }), pair.map((p) => p.uid));
      await assert.rejects(store.putMany([
        { tenant: T, uid: 'fresh-1', objectType: 2, state: 1, attributes: [] },
        { tenant: T, uid: pair[1]!.uid, objectType: 2, state: 1, attributes: [] },
      ]), assertVaultError('EXISTS'));
      assert.equal(store.get(T, 'fresh-1'), undefined);
      await assert.rejects(store.putMany([
        { tenant: T, uid: 'dup', objectType: 2, state: 1, attributes: [] },
        { tenant: T, uid: 'dup', objectType: 2, state: 1, attributes: [] },
      ]), assertVaultError('EXISTS'));
      assert.equal(store.get(T, 'dup'), undefined);
      assert.equal(store.count(T), 2);
    });

    test('many writes in one event turn all commit (group commit) and stay consistent', async () => {
      const T = 'tenant-burst';
      const rs = await Promise.all(Array.from({ length: 200 }, (_, i) =>
        store.put({ tenant: T, objectType: 2, state: 1, attributes: [nameAttr(`burst-${i % 10}`)], material: key32(i % 256) })));
      assert.equal(store.count(T), 200);
      assert.equal(store.findUids(T, { name: 'burst-3' }).length, 20);
      for (const r of rs.slice(0, 5)) assert.deepEqual(await store.openMaterial(store.get(T, r.uid)!), key32(rs.indexOf(r) % 256));
    });

    test('integrity: every record has exactly its index entries', () => {
      if (store.checkIntegrity === undefined) return;
      const report = store.checkIntegrity();
      assert.deepEqual(report.problems, []);
      assert.equal(report.records, store.count());
      assert.ok(report.indexEntries >= 2 * report.records);
    });

    test('after close every call fails with CLOSED', async () => {
      const s = await factory.create(kek);
      await s.close();
      assert.throws(() => s.get(T1, 'x'), assertVaultError('CLOSED'));
      assert.throws(() => s.findUids(T1), assertVaultError('CLOSED'));
      await assert.rejects(s.put({ tenant: T1, objectType: 2, state: 1, attributes: [] }), assertVaultError('CLOSED'));
      await s.close(); // idempotent
    });
  });
}

/** Byte strings come back as Buffers; compare them as plain bytes. */
function normalise(v: KmipAttribute['value']): unknown {
  if (v.value instanceof Uint8Array) return { ...v, value: [...v.value] };
  if (Array.isArray(v.value)) return { ...v, value: v.value.map(normalise) };
  return v;
}

// ---- the implementations ------------------------------------------------------------------

const dirs: string[] = [];
runVaultConformance('Vault (LMDB)', {
  async create(kek) {
    const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-vault-conf-'));
    dirs.push(dir);
    return Vault.open({ path: dir, kek, mapSize: 64 * 1024 * 1024 });
  },
  cleanup() {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  },
});

runVaultConformance('MemoryVault', {
  create(kek) {
    return Promise.resolve(new MemoryVault(kek));
  },
  cleanup() { /* nothing on disk */ },
});
