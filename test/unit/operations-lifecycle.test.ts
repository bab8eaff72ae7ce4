/**
 * The key lifecycle (KMIP 1.4 §3.22, 2.1 §4.57): states, permitted transitions, the dates each
 * sets, date-driven transitions, and the Result Reasons of refused transitions per version.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import type { KmipAttribute } from '../../src/kmip/attributes.js';
import { ObjectType, Operation, ResultReason, ResultStatus, RevocationReasonCode, State, Tag } from '../../src/kmip/registry.js';
import { ItemType } from '@openkcm/ttlv';
import { dateTime } from '@openkcm/ttlv';
import { symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import { Fixture, rejectsWith, T0 } from './operations-fixture.js';

const secs = (d: Date): bigint => BigInt(Math.floor(d.getTime() / 1000));

async function attrs(f: Fixture, uid: string, names: string[] = []): Promise<Map<string, KmipAttribute[]>> {
  const r = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: names });
  const m = new Map<string, KmipAttribute[]>();
  for (const a of r.attributes) m.set(a.name, [...(m.get(a.name) ?? []), a]);
  return m;
}

function value(m: Map<string, KmipAttribute[]>, name: string): unknown {
  const a = m.get(name)?.[0];
  if (a === undefined) return undefined;
  return a.value.type === ItemType.Structure ? a.value : a.value.value;
}

describe('lifecycle: states and dates', () => {
  test('Create: Pre-Active with Initial, Last Change and Original Creation Date = now (2.1 §4.57 transition 1)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    const m = await attrs(f, uid);
    assert.equal(value(m, 'State'), State.PreActive);
    for (const n of ['Initial Date', 'Last Change Date', 'Original Creation Date']) assert.equal(value(m, n), secs(T0), n);
    assert.equal(m.get('Activation Date'), undefined);
  });

  test('Activate: Active, Activation Date = the time the request was received (T4)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    f.advance(60);
    await f.call(Operation.Activate, { uniqueIdentifier: uid });
    const m = await attrs(f, uid);
    assert.equal(value(m, 'State'), State.Active);
    assert.equal(value(m, 'Activation Date'), secs(f.now));
    assert.equal(value(m, 'Last Change Date'), secs(f.now));
    assert.equal(value(m, 'Initial Date'), secs(T0));
  });

  test('Activate is only for Pre-Active objects: Wrong Key Lifecycle State (2.x) / Permission Denied (1.x, 1.4 §11.20)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    await f.call(Operation.Activate, { uniqueIdentifier: uid });
    const [v2] = await f.wire([{ op: Operation.Activate, req: { uniqueIdentifier: uid } }], { version: '2.1' });
    assert.equal(v2?.resultReason, ResultReason.WrongKeyLifecycleState);
    const [v1] = await f.wire([{ op: Operation.Activate, req: { uniqueIdentifier: uid } }], { version: '1.4' });
    assert.equal(v1?.resultReason, ResultReason.PermissionDenied);
  });

  test('Revoke with a non-compromise reason deactivates an Active object and sets Deactivation Date (T6)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    await f.call(Operation.Activate, { uniqueIdentifier: uid });
    f.advance(10);
    await f.call(Operation.Revoke, { uniqueIdentifier: uid, revocationReason: { code: RevocationReasonCode.CessationOfOperation, message: 'done' } });
    const m = await attrs(f, uid);
    assert.equal(value(m, 'State'), State.Deactivated);
    assert.equal(value(m, 'Deactivation Date'), secs(f.now));
    const reason = m.get('Revocation Reason')?.[0]?.value;
    assert.ok(reason?.type === ItemType.Structure);
    assert.deepEqual(reason.value.map((c) => c.tag), [Tag.RevocationReasonCode, Tag.RevocationMessage]);
  });

  test('a non-compromise Revoke of a Pre-Active object is not a permitted transition', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    await rejectsWith(f.call(Operation.Revoke, { uniqueIdentifier: uid, revocationReason: { code: RevocationReasonCode.Superseded } }), 'WRONG_KEY_LIFECYCLE_STATE');
  });

  for (const from of ['PreActive', 'Active', 'Deactivated'] as const) {
    test(`Revoke(Key Compromise) from ${from} → Compromised with Compromise Date = now and the given occurrence date (T3/T5/T8)`, async () => {
      const f = new Fixture();
      const uid = await f.createKey();
      if (from !== 'PreActive') await f.call(Operation.Activate, { uniqueIdentifier: uid });
      if (from === 'Deactivated') await f.call(Operation.Revoke, { uniqueIdentifier: uid, revocationReason: { code: RevocationReasonCode.Unspecified } });
      f.advance(5);
      await f.call(Operation.Revoke, { uniqueIdentifier: uid, revocationReason: { code: RevocationReasonCode.KeyCompromise }, compromiseOccurrenceDate: 6n });
      const m = await attrs(f, uid);
      assert.equal(value(m, 'State'), State.Compromised);
      assert.equal(value(m, 'Compromise Date'), secs(f.now));
      assert.equal(value(m, 'Compromise Occurrence Date'), 6n);
    });
  }

  test('Compromise Occurrence Date defaults to the Initial Date (2.1 §6.1.44) and is refused with other reasons', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    f.advance(100);
    await f.call(Operation.Revoke, { uniqueIdentifier: uid, revocationReason: { code: RevocationReasonCode.CACompromise } });
    assert.equal(value(await attrs(f, uid), 'Compromise Occurrence Date'), secs(T0));
    const other = await f.createKey();
    await f.call(Operation.Activate, { uniqueIdentifier: other });
    await rejectsWith(f.call(Operation.Revoke, { uniqueIdentifier: other, revocationReason: { code: RevocationReasonCode.Superseded }, compromiseOccurrenceDate: 1n }), 'INVALID_FIELD');
  });

  test('Destroy: Pre-Active → Destroyed, Compromised → Destroyed Compromised, with Destroy Date; metadata kept, material gone', async () => {
    const f = new Fixture();
    const a = await f.createKey();
    const b = await f.createKey();
    await f.call(Operation.Revoke, { uniqueIdentifier: b, revocationReason: { code: RevocationReasonCode.KeyCompromise } });
    f.advance(3);
    await f.call(Operation.Destroy, { uniqueIdentifier: a });
    await f.call(Operation.Destroy, { uniqueIdentifier: b });
    const ma = await attrs(f, a);
    assert.equal(value(ma, 'State'), State.Destroyed);
    assert.equal(value(ma, 'Destroy Date'), secs(f.now));
    assert.ok(ma.has('Digest'), 'the Digest is metadata and survives');
    assert.equal(value(await attrs(f, b), 'State'), State.DestroyedCompromised);
    const stored = await f.store.get('alice', a, { withObject: true });
    assert.equal(stored?.hasObject, false, 'key material is dropped');
    assert.equal(stored.object, undefined);
  });

  test('Destroy of an Active object: Wrong Key Lifecycle State (2.1, SKLC-M-2-21) / Permission Denied (1.4 §11.22, SKLC-M-2-14)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    await f.call(Operation.Activate, { uniqueIdentifier: uid });
    assert.equal((await f.wire([{ op: Operation.Destroy, req: { uniqueIdentifier: uid } }], { version: '2.1' }))[0]?.resultReason, ResultReason.WrongKeyLifecycleState);
    assert.equal((await f.wire([{ op: Operation.Destroy, req: { uniqueIdentifier: uid } }], { version: '1.4' }))[0]?.resultReason, ResultReason.PermissionDenied);
  });

  test('a destroyed object: Destroy and Get answer Object Destroyed (2.1, BL-M-8-21); Revoke(compromise) → Destroyed Compromised (T10)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    await f.call(Operation.Destroy, { uniqueIdentifier: uid });
    await rejectsWith(f.call(Operation.Destroy, { uniqueIdentifier: uid }), 'OBJECT_DESTROYED');
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: uid }), 'OBJECT_MATERIAL_DESTROYED');
    await f.call(Operation.Revoke, { uniqueIdentifier: uid, revocationReason: { code: RevocationReasonCode.KeyCompromise } });
    assert.equal(value(await attrs(f, uid, ['State']), 'State'), State.DestroyedCompromised);
  });
});

describe('lifecycle: date-driven transitions', () => {
  test('Register with an Activation Date already reached is Active at once (2.1 §4.57 transition 1, BL-M-3-21)', async () => {
    const f = new Fixture();
    const r = await f.call(Operation.Register, {
      objectType: ObjectType.SymmetricKey,
      attributes: [makeAttribute('Activation Date', dateTime(Tag.ActivationDate, secs(T0) - 3600n))],
      object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(new Uint8Array(16)) },
    });
    assert.equal(value(await attrs(f, r.uniqueIdentifier), 'State'), State.Active);
  });

  test('a future Activation Date activates the object when reached; a Deactivation Date then deactivates it (T4, T6)', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ extra: [
      makeAttribute('Activation Date', dateTime(Tag.ActivationDate, secs(T0) + 100n)),
      makeAttribute('Deactivation Date', dateTime(Tag.DeactivationDate, secs(T0) + 200n)),
    ] });
    assert.equal(value(await attrs(f, uid), 'State'), State.PreActive);
    f.advance(100);
    assert.equal(value(await attrs(f, uid), 'State'), State.Active);
    f.advance(100);
    assert.equal(value(await attrs(f, uid), 'State'), State.Deactivated);
  });

  test('Modify Attribute of the Activation Date to now activates a Pre-Active object (T4 second bullet)', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ extra: [makeAttribute('Activation Date', dateTime(Tag.ActivationDate, secs(T0) + 1000n))] });
    await f.call(Operation.ModifyAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('Activation Date', dateTime(Tag.ActivationDate, secs(T0))) });
    assert.equal(value(await attrs(f, uid), 'State'), State.Active);
  });

  test('Activation Date is modifiable only while Pre-Active: Wrong Key Lifecycle State (SKLC-M-3-21) / Permission Denied (SKLC-M-3-14)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    await f.call(Operation.Activate, { uniqueIdentifier: uid });
    const attr = makeAttribute('Activation Date', dateTime(Tag.ActivationDate, secs(T0)));
    assert.equal((await f.wire([{ op: Operation.ModifyAttribute, req: { uniqueIdentifier: uid, attribute: attr } }], { version: '2.1' }))[0]?.resultReason, ResultReason.WrongKeyLifecycleState);
    assert.equal((await f.wire([{ op: Operation.ModifyAttribute, req: { uniqueIdentifier: uid, attribute: attr } }], { version: '1.4' }))[0]?.resultReason, ResultReason.PermissionDenied);
  });
});

describe('lifecycle: Undo', () => {
  test('Batch Error Continuation Option Undo reverts an Activate when a later item fails (BL-M-2-21)', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ mask: 4 /* Encrypt */ });
    const { processMessage, newSession } = await import('../../src/server/processor.js');
    const { encodeRequest, decodeResponse } = await import('../../src/kmip/message.js');
    const { PAYLOAD_CODECS } = await import('../../src/kmip/payloads/index.js');
    const { getHandler } = await import('../../src/operations/registry.js');
    const { silentLogger } = await import('../../src/common/log.js');
    const { BatchErrorContinuationOption } = await import('../../src/kmip/registry.js');
    const p = { major: 2, minor: 1 };
    const msg = encodeRequest({
      header: { protocolVersion: p, batchErrorContinuationOption: BatchErrorContinuationOption.Undo, batchCount: 2 },
      batchItems: [
        { operation: Operation.Activate, payload: PAYLOAD_CODECS[Operation.Activate].encodeRequest({ uniqueIdentifier: uid }, p) },
        { operation: Operation.Check, payload: PAYLOAD_CODECS[Operation.Check].encodeRequest({ uniqueIdentifier: uid, cryptographicUsageMask: 8 /* Decrypt */ }, p) },
      ],
    });
    const resp = decodeResponse(await processMessage(msg, { identity: 'x', tenant: 'alice' }, newSession(),
      { getHandler: getHandler as never, services: f.services, logger: silentLogger, now: () => f.now }));
    assert.deepEqual(resp.batchItems.map((b) => b.resultStatus), [ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    assert.equal(resp.batchItems[1]?.resultReason, ResultReason.IncompatibleCryptographicUsageMask);
    assert.equal(value(await attrs(f, uid), 'State'), State.PreActive);
  });
});
