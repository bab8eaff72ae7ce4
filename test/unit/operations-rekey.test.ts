/**
 * Re-key (src/operations/rekey.ts; KMIP 1.4 §4.4, KMIP 2.1 §6.1.46): the replacement's material,
 * copied and reset attributes (Table 173/304), the Replacement/Replaced Object Links, Names moving
 * over, the Offset date arithmetic (Table 172/303), the ID Placeholder, and the errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeAttribute } from '../../src/kmip/attributes.js';
import type { KmipAttribute } from '../../src/kmip/attributes.js';
import {
  BatchErrorContinuationOption, CryptographicAlgorithm, LinkType, ObjectType, Operation, ResultReason, ResultStatus, State, Tag, UsageLimitsUnit,
} from '../../src/kmip/registry.js';
import type { ManagedObject } from '../../src/kmip/payloads/objects.js';
import { struct } from '../../src/kmip/payloads/fields.js';
import { nameValueOf } from '../../src/operations/model/client-attributes.js';
import { attrsOf, dateAttr, enumAttr, intAttr, seconds } from '../../src/operations/model/record.js';
import type { ManagedObjectRecord } from '../../src/operations/model/store.js';
import { dateTime, enumeration, long } from '@openkcm/ttlv';
import { decodeResponse, encodeRequest } from '../../src/kmip/message.js';
import { PAYLOAD_CODECS } from '../../src/kmip/payloads/index.js';
import { getHandler } from '../../src/operations/registry.js';
import { silentLogger } from '../../src/common/log.js';
import { newSession, processMessage } from '../../src/server/processor.js';
import { ItemType } from '@openkcm/ttlv';
import { Fixture, nameAttr, rejectsWith, T0 } from './operations-fixture.js';

async function record(f: Fixture, uid: string, tenant = 'alice'): Promise<ManagedObjectRecord> {
  const r = await f.store.get(tenant, uid, { withObject: true });
  assert.ok(r !== undefined, `no object ${uid}`);
  return r;
}

function keyBytes(o: ManagedObject | undefined): Uint8Array {
  assert.ok(o !== undefined && 'keyBlock' in o);
  const kv = o.keyBlock.keyValue;
  assert.ok(kv?.kind === 'plain');
  const m = kv.keyMaterial;
  assert.ok(m instanceof Uint8Array);
  return m;
}

function links(r: ManagedObjectRecord): { type: number; uid: string }[] {
  return attrsOf(r, 'Link').map((a) => {
    assert.equal(a.value.type, ItemType.Structure);
    const type = a.value.value.find((c) => c.tag === Tag.LinkType);
    const uid = a.value.value.find((c) => c.tag === Tag.LinkedObjectIdentifier);
    assert.ok(type?.type === ItemType.Enumeration && uid?.type === ItemType.TextString);
    return { type: type.value, uid: uid.value };
  });
}

function names(r: ManagedObjectRecord): string[] {
  return attrsOf(r, 'Name').map((a) => nameValueOf(a.value) ?? '');
}

const date = (name: string, d: Date): KmipAttribute => makeAttribute(name, dateTime(0, d));

describe('Re-key', () => {
  for (const version of ['1.4', '2.1'] as const) {
    test(`KMIP ${version}: new material, same algorithm and length, links both ways, Names moved, ID Placeholder set`, async () => {
      const f = new Fixture();
      const old = await f.createKey({ version, name: 'payments', length: 256, extra: [makeAttribute('Object Group', 'g1')] });
      f.advance(60);
      const r = await f.call(Operation.ReKey, { uniqueIdentifier: old }, { version });
      assert.notEqual(r.uniqueIdentifier, old);
      assert.equal(f.session.idPlaceholder, r.uniqueIdentifier);
      const o = await record(f, old);
      const n = await record(f, r.uniqueIdentifier);
      assert.equal(n.objectType, ObjectType.SymmetricKey);
      assert.equal(enumAttr(n, 'Cryptographic Algorithm'), CryptographicAlgorithm.AES);
      assert.equal(intAttr(n, 'Cryptographic Length'), 256);
      assert.equal(keyBytes(n.object).length, 32);
      assert.notDeepEqual(keyBytes(n.object), keyBytes(o.object));
      assert.deepEqual(links(o), [{ type: LinkType.ReplacementObjectLink, uid: r.uniqueIdentifier }]);
      assert.deepEqual(links(n), [{ type: LinkType.ReplacedObjectLink, uid: old }]);
      assert.deepEqual(names(n), ['payments']);
      assert.deepEqual(names(o), []);
      // Copied: usage mask, group. Reset: Initial Date = now, Last Change Date, state from dates.
      assert.equal(intAttr(n, 'Cryptographic Usage Mask'), intAttr(o, 'Cryptographic Usage Mask'));
      assert.equal(attrsOf(n, 'Object Group').length, 1);
      assert.equal(dateAttr(n, 'Initial Date'), seconds(f.now));
      assert.ok((dateAttr(n, 'Initial Date') ?? 0n) > (dateAttr(o, 'Initial Date') ?? 0n));
      assert.equal(enumAttr(n, 'State'), State.PreActive);
      assert.equal(enumAttr(o, 'State'), State.PreActive, 'the existing key keeps its state');
      assert.equal(dateAttr(o, 'Last Change Date'), seconds(f.now));
      // Digest recomputed from the new value.
      assert.notDeepEqual(attrsOf(n, 'Digest'), attrsOf(o, 'Digest'));
    });
  }

  test('the ID Placeholder: Create then Re-key in one batch, then Get of the replacement (1.4 and 2.1 wire)', async () => {
    for (const version of ['1.4', '2.1'] as const) {
      const f = new Fixture();
      const items = await f.wire([
        { op: Operation.Create, req: { objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), makeAttribute('Cryptographic Length', 128)] } },
        { op: Operation.ReKey, req: {} },
        { op: Operation.Get, req: {} },
      ], { version });
      assert.deepEqual(items.map((i) => i.resultStatus), [ResultStatus.Success, ResultStatus.Success, ResultStatus.Success], version);
      const created = (items[0]?.payload?.value.find((c) => c.tag === Tag.UniqueIdentifier));
      const rekeyed = (items[1]?.payload?.value.find((c) => c.tag === Tag.UniqueIdentifier));
      const got = (items[2]?.payload?.value.find((c) => c.tag === Tag.UniqueIdentifier));
      assert.ok(created?.type === ItemType.TextString && rekeyed?.type === ItemType.TextString && got?.type === ItemType.TextString);
      assert.notEqual(rekeyed.value, created.value);
      assert.equal(got.value, rekeyed.value);
    }
  });

  test('without an Offset the lifecycle dates are copied and the state follows them', async () => {
    const f = new Fixture();
    const old = await f.createKey();
    await f.call(Operation.Activate, { uniqueIdentifier: old });
    f.advance(100);
    const r = await f.call(Operation.ReKey, { uniqueIdentifier: old });
    const n = await record(f, r.uniqueIdentifier);
    assert.equal(dateAttr(n, 'Activation Date'), seconds(T0));
    assert.equal(enumAttr(n, 'State'), State.Active, 'an Activation Date already reached makes it Active');
  });

  test('with an Offset: Activation Date = Initial Date + Offset, dependent dates shift by the same amount (Table 172/303)', async () => {
    const f = new Fixture();
    const at1 = new Date(T0.getTime() + 1000_000);
    const ct1 = new Date(T0.getTime() + 2000_000);
    const dt1 = new Date(T0.getTime() + 9000_000);
    const old = await f.createKey({ extra: [date('Activation Date', at1), date('Process Start Date', ct1), date('Deactivation Date', dt1)] });
    f.advance(500);
    const offset = 3600;
    const r = await f.call(Operation.ReKey, { uniqueIdentifier: old, offset });
    const n = await record(f, r.uniqueIdentifier);
    const it2 = seconds(f.now);
    const at2 = it2 + BigInt(offset);
    assert.equal(dateAttr(n, 'Initial Date'), it2);
    assert.equal(dateAttr(n, 'Activation Date'), at2);
    const shift = at2 - seconds(at1);
    assert.equal(dateAttr(n, 'Process Start Date'), seconds(ct1) + shift);
    assert.equal(dateAttr(n, 'Deactivation Date'), seconds(dt1) + shift);
    assert.equal(dateAttr(n, 'Protect Stop Date'), undefined, 'not invented when the existing key has none');
    assert.equal(enumAttr(n, 'State'), State.PreActive);
  });

  test('with an Offset and no Activation Date on the existing key: only the Activation Date is set', async () => {
    const f = new Fixture();
    const old = await f.createKey({ extra: [date('Deactivation Date', new Date(T0.getTime() + 9000_000))] });
    const r = await f.call(Operation.ReKey, { uniqueIdentifier: old, offset: 0 });
    const n = await record(f, r.uniqueIdentifier);
    assert.equal(dateAttr(n, 'Activation Date'), seconds(f.now));
    assert.equal(dateAttr(n, 'Deactivation Date'), undefined);
    assert.equal(enumAttr(n, 'State'), State.Active, 'Offset 0: active at once');
  });

  test('reset attributes are not copied: Revocation Reason, Compromise dates; Usage Limits start afresh', async () => {
    const f = new Fixture();
    const usage = struct(Tag.UsageLimits, [long(Tag.UsageLimitsTotal, 1000n), enumeration(Tag.UsageLimitsUnit, UsageLimitsUnit.Byte)]);
    const old = await f.createKey({ extra: [makeAttribute('Usage Limits', usage)] });
    await f.call(Operation.Activate, { uniqueIdentifier: old });
    await f.call(Operation.Encrypt, { uniqueIdentifier: old, data: new Uint8Array(100), cryptographicParameters: { blockCipherMode: 1, paddingMethod: 3, randomIV: true } });
    await f.call(Operation.Revoke, { uniqueIdentifier: old, revocationReason: { code: 2 } });
    const r = await f.call(Operation.ReKey, { uniqueIdentifier: old });
    const n = await record(f, r.uniqueIdentifier);
    for (const gone of ['Revocation Reason', 'Compromise Date', 'Compromise Occurrence Date', 'Destroy Date']) {
      assert.equal(attrsOf(n, gone).length, 0, gone);
    }
    const u = attrsOf(n, 'Usage Limits')[0]?.value;
    assert.ok(u?.type === ItemType.Structure);
    const count = u.value.find((c) => c.tag === Tag.UsageLimitsCount);
    const total = u.value.find((c) => c.tag === Tag.UsageLimitsTotal);
    assert.ok(count?.type === ItemType.LongInteger && total?.type === ItemType.LongInteger);
    assert.equal(count.value, 1000n);
    assert.equal(total.value, 1000n);
  });

  test('request attributes replace copied ones, but a requested Name is added after the inherited ones (Table 173); a new Name must be unique', async () => {
    const f = new Fixture();
    const old = await f.createKey({ name: 'a' });
    await f.createKey({ name: 'taken' });
    await rejectsWith(f.call(Operation.ReKey, { uniqueIdentifier: old, attributes: [nameAttr('taken')] }), 'NON_UNIQUE_NAME_ATTRIBUTE');
    assert.deepEqual(names(await record(f, old)), ['a'], 'a refused Re-key changes nothing');
    const r = await f.call(Operation.ReKey, { uniqueIdentifier: old, attributes: [nameAttr('b'), makeAttribute('Contact Information', 'ops')] });
    const n = await record(f, r.uniqueIdentifier);
    assert.deepEqual(names(n), ['a', 'b']);
    assert.equal(attrsOf(n, 'Contact Information').length, 1);
    assert.deepEqual(names(await record(f, old)), []);
  });

  test('Triple DES and HMAC keys are re-keyed with their own sizes', async () => {
    const f = new Fixture();
    const des = (await f.call(Operation.Create, { objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.DES3), makeAttribute('Cryptographic Length', 168)] })).uniqueIdentifier;
    const hmac = (await f.call(Operation.Create, { objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.HMAC_SHA256), makeAttribute('Cryptographic Length', 512)] })).uniqueIdentifier;
    const d = await record(f, (await f.call(Operation.ReKey, { uniqueIdentifier: des })).uniqueIdentifier);
    const h = await record(f, (await f.call(Operation.ReKey, { uniqueIdentifier: hmac })).uniqueIdentifier);
    assert.equal(keyBytes(d.object).length, 24);
    for (const b of keyBytes(d.object)) {
      let ones = 0;
      for (let v = b; v !== 0; v >>= 1) ones += v & 1;
      assert.equal(ones % 2, 1, 'odd parity');
    }
    assert.equal(keyBytes(h.object).length, 64);
  });

  test('errors: unknown or other tenant\'s UID, not a Symmetric Key, destroyed, no UID and no placeholder', async () => {
    const f = new Fixture();
    const old = await f.createKey();
    await rejectsWith(f.call(Operation.ReKey, { uniqueIdentifier: 'nope' }), 'ITEM_NOT_FOUND');
    await rejectsWith(f.call(Operation.ReKey, { uniqueIdentifier: old }, { tenant: 'bob' }), 'ITEM_NOT_FOUND');
    const secret = (await f.call(Operation.Register, {
      objectType: ObjectType.OpaqueObject, attributes: [],
      object: { objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000001, opaqueDataValue: new Uint8Array([1, 2, 3]) },
    })).uniqueIdentifier;
    await rejectsWith(f.call(Operation.ReKey, { uniqueIdentifier: secret }), 'INVALID_OBJECT_TYPE');
    await f.call(Operation.Destroy, { uniqueIdentifier: old });
    await rejectsWith(f.call(Operation.ReKey, { uniqueIdentifier: old }), 'OBJECT_DESTROYED');
    f.session.idPlaceholder = undefined;
    await rejectsWith(f.call(Operation.ReKey, {}), 'MISSING_DATA');
  });

  test('Batch Error Continuation Undo removes the replacement and restores the existing key', async () => {
    const f = new Fixture();
    const old = await f.createKey({ name: 'keep' });
    const before = await f.store.findUids('alice', {});
    const p = { major: 1, minor: 4 };
    const msg = encodeRequest({
      header: { protocolVersion: p, batchErrorContinuationOption: BatchErrorContinuationOption.Undo, batchCount: 2 },
      batchItems: [
        { operation: Operation.ReKey, payload: PAYLOAD_CODECS[Operation.ReKey].encodeRequest({ uniqueIdentifier: old }, p) },
        { operation: Operation.Activate, payload: PAYLOAD_CODECS[Operation.Activate].encodeRequest({ uniqueIdentifier: 'missing' }, p) },
      ],
    });
    const resp = decodeResponse(await processMessage(msg, { identity: 'x', tenant: 'alice' }, newSession(),
      { getHandler: getHandler as never, services: f.services, logger: silentLogger, now: () => f.now }));
    assert.deepEqual(resp.batchItems.map((b) => b.resultStatus), [ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    assert.equal(resp.batchItems[1]?.resultReason, ResultReason.ItemNotFound);
    assert.deepEqual(await f.store.findUids('alice', {}), before);
    assert.deepEqual(names(await record(f, old)), ['keep']);
    assert.deepEqual(links(await record(f, old)), []);
  });
});
