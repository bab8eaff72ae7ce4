/**
 * Attribute operations and rules: Add / Modify / Delete / Set / Adjust Attribute, the attribute
 * rules tables (KMIP 1.4 §3, 2.1 §4), 1.x Attribute Index, Name uniqueness, and what a client
 * of each version may see (Get Attributes / Get Attribute List).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { AdjustmentType, CryptographicUsageMask, Operation, ResultReason, State, Tag } from '../../src/kmip/registry.js';
import { ItemType } from '@openkcm/ttlv';
import { bool, int } from '@openkcm/ttlv';
import { attributeExistsIn, attributeForVersion, ruleFor, valueForVersion } from '../../src/operations/model/attribute-rules.js';
import { Fixture, nameAttr, rejectsWith } from './operations-fixture.js';

describe('attribute rules', () => {
  test('server-managed attributes are read-only to clients; client attributes are not', () => {
    for (const n of ['Unique Identifier', 'Object Type', 'State', 'Initial Date', 'Digest', 'Last Change Date', 'Always Sensitive', 'Never Extractable']) {
      const r = ruleFor(n);
      assert.equal(r.initial || r.add || r.modify !== 'never' || r.delete, false, n);
    }
    assert.equal(ruleFor('Name').multi, true);
    assert.equal(ruleFor('x-anything').multi, true);
    assert.equal(ruleFor('y-server').add, false, "'y-' is the server's namespace (1.4 §3.39)");
    assert.equal(ruleFor('Activation Date').modify, 'preActive');
    assert.equal(ruleFor('Deactivation Date').modify, 'preActiveOrActive');
    assert.equal(ruleFor('Cryptographic Usage Mask').modify, 'never', '2.1 §4.20: not modifiable by client');
  });

  test('attributes exist per version: 2.x-only ones are invisible to 1.x clients and the reverse', () => {
    assert.equal(attributeExistsIn('Short Unique Identifier', '1.4'), false);
    assert.equal(attributeExistsIn('Short Unique Identifier', '2.1'), true);
    assert.equal(attributeExistsIn('Key Format Type', '1.4'), false, 'a field since 1.0, an attribute since 2.0');
    assert.equal(attributeExistsIn('Operation Policy Name', '2.1'), false);
    assert.equal(attributeExistsIn('Operation Policy Name', '1.4'), true);
    assert.equal(attributeExistsIn('Sensitive', '1.3'), false, 'added in 1.4');
    assert.equal(attributeExistsIn('x-custom', '1.0'), true);
  });

  test('values are written in the client version: unknown mask bits cleared, foreign enumeration values withheld', () => {
    const mask = int(Tag.CryptographicUsageMask, CryptographicUsageMask.Encrypt | CryptographicUsageMask.Authenticate);
    const v14 = valueForVersion(mask, '1.4');
    assert.ok(v14?.type === ItemType.Integer);
    assert.equal(v14.value, CryptographicUsageMask.Encrypt, 'Authenticate (0x100000) is a 2.x bit');
    const kept = valueForVersion(mask, '2.1');
    assert.ok(kept?.type === ItemType.Integer);
    assert.equal(kept.value, mask.value);
    assert.equal(attributeForVersion(makeAttribute('Fresh', bool(Tag.Fresh, true)), '1.0'), undefined, 'Fresh is 1.1+');
  });
});

describe('Add Attribute', () => {
  test('adds instances of multi-valued attributes; 1.x echoes the attribute with its index (1.4 §4.14)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    const r1 = await f.call(Operation.AddAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('x-tag', 'one') }, { version: '1.4' });
    const r2 = await f.call(Operation.AddAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('x-tag', 'two') }, { version: '1.4' });
    assert.equal(r1.attribute?.index, undefined, 'index 0 is written by omission');
    assert.equal(r2.attribute?.index, 1);
    const got = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['x-tag'] }, { version: '1.4' });
    assert.deepEqual(got.attributes.map((a) => [a.value.value, a.index]), [['one', undefined], ['two', 1]]);
    const r3 = await f.call(Operation.AddAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('x-tag', 'three') }, { version: '2.1' });
    assert.equal(r3.attribute, undefined, '2.x responses carry only the Unique Identifier');
  });

  test('a single-valued attribute already set: Attribute Single Valued (2.1, BL-M-5-21) / Illegal Operation (1.4 §11.15)', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ extra: [makeAttribute('Description', 'first')] });
    const req = { uniqueIdentifier: uid, attribute: makeAttribute('Description', 'second') };
    assert.equal((await f.wire([{ op: Operation.AddAttribute, req }], { version: '2.1' }))[0]?.resultReason, ResultReason.AttributeSingleValued);
    assert.equal((await f.wire([{ op: Operation.AddAttribute, req }], { version: '1.4' }))[0]?.resultReason, ResultReason.IllegalOperation);
  });

  test('a read-only attribute: Attribute Read Only (2.x) / Permission Denied (1.4 §11.15)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    const req = { uniqueIdentifier: uid, attribute: makeAttribute('Compromise Date', new Date()) };
    assert.equal((await f.wire([{ op: Operation.AddAttribute, req }], { version: '2.1' }))[0]?.resultReason, ResultReason.AttributeReadOnly);
    assert.equal((await f.wire([{ op: Operation.AddAttribute, req }], { version: '1.4' }))[0]?.resultReason, ResultReason.PermissionDenied);
  });

  test('a Name another live object has, or this one already has: Non Unique Name Attribute (BL-M-8-21) / Illegal Operation (1.4 §11.15)', async () => {
    const f = new Fixture();
    await f.createKey({ name: 'taken' });
    const mine = await f.createKey({ name: 'mine' });
    for (const name of ['taken', 'mine']) {
      const req = { uniqueIdentifier: mine, attribute: nameAttr(name) };
      assert.equal((await f.wire([{ op: Operation.AddAttribute, req }], { version: '2.1' }))[0]?.resultReason, ResultReason.NonUniqueNameAttribute, name);
      assert.equal((await f.wire([{ op: Operation.AddAttribute, req }], { version: '1.4' }))[0]?.resultReason, ResultReason.IllegalOperation, name);
    }
  });

  test('a 1.x Attribute Index in Add Attribute is Invalid Field (1.4 §11.15)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    await rejectsWith(f.call(Operation.AddAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('x-a', 'v', { index: 1 }) }, { version: '1.4' }), 'INVALID_FIELD');
  });
});

describe('Modify / Delete Attribute', () => {
  test('1.x Modify by Attribute Index; missing attribute Invalid Field (1.4 §11.16); missing index Item Not Found', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ extra: [makeAttribute('x-a', 'one'), makeAttribute('x-a', 'two')] });
    const r = await f.call(Operation.ModifyAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('x-a', 'TWO', { index: 1 }) }, { version: '1.4' });
    assert.equal(r.attribute?.index, 1);
    const got = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['x-a'] }, { version: '1.4' });
    assert.deepEqual(got.attributes.map((a) => a.value.value), ['one', 'TWO']);
    const missing = { uniqueIdentifier: uid, attribute: makeAttribute('x-none', 'v') };
    assert.equal((await f.wire([{ op: Operation.ModifyAttribute, req: missing }], { version: '1.4' }))[0]?.resultReason, ResultReason.InvalidField);
    assert.equal((await f.wire([{ op: Operation.ModifyAttribute, req: missing }], { version: '2.1' }))[0]?.resultReason, ResultReason.AttributeNotFound);
    const badIndex = { uniqueIdentifier: uid, attribute: makeAttribute('x-a', 'v', { index: 5 }) };
    assert.equal((await f.wire([{ op: Operation.ModifyAttribute, req: badIndex }], { version: '1.4' }))[0]?.resultReason, ResultReason.ItemNotFound);
  });

  test('2.x Modify by Current Attribute; without it an attribute with several instances is refused', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ extra: [makeAttribute('x-a', 'one'), makeAttribute('x-a', 'two')] });
    await f.call(Operation.ModifyAttribute, { uniqueIdentifier: uid, currentAttribute: makeAttribute('x-a', 'one'), attribute: makeAttribute('x-a', 'ONE') });
    const got = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['x-a'] });
    assert.deepEqual(got.attributes.map((a) => a.value.value), ['ONE', 'two']);
    await rejectsWith(f.call(Operation.ModifyAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('x-a', 'x') }), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.ModifyAttribute, { uniqueIdentifier: uid, currentAttribute: makeAttribute('x-a', 'nope'), attribute: makeAttribute('x-a', 'x') }), 'ATTRIBUTE_INSTANCE_NOT_FOUND');
  });

  test('read-only attributes cannot be modified: Attribute Read Only (BL-M-7-21 State, BL-M-10-21 Certificate Length)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    const req = { uniqueIdentifier: uid, attribute: makeAttribute('State', State.Compromised) };
    assert.equal((await f.wire([{ op: Operation.ModifyAttribute, req }], { version: '2.1' }))[0]?.resultReason, ResultReason.AttributeReadOnly);
    assert.equal((await f.wire([{ op: Operation.ModifyAttribute, req }], { version: '1.4' }))[0]?.resultReason, ResultReason.PermissionDenied);
  });

  test('Delete: 1.x by index (returns the deleted attribute), 2.x all instances by reference or one by value', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ extra: [makeAttribute('x-a', 'one'), makeAttribute('x-a', 'two'), makeAttribute('x-a', 'three')] });
    const r = await f.call(Operation.DeleteAttribute, { uniqueIdentifier: uid, attributeName: 'x-a', attributeIndex: 1 }, { version: '1.4' });
    assert.equal(r.attribute?.value.value, 'two');
    await f.call(Operation.DeleteAttribute, { uniqueIdentifier: uid, currentAttribute: makeAttribute('x-a', 'three') });
    let got = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['x-a'] });
    assert.deepEqual(got.attributes.map((a) => a.value.value), ['one']);
    await f.call(Operation.DeleteAttribute, { uniqueIdentifier: uid, attributeName: 'x-a' });
    got = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['x-a'] });
    assert.deepEqual(got.attributes, []);
    await rejectsWith(f.call(Operation.DeleteAttribute, { uniqueIdentifier: uid, attributeName: 'x-a' }), 'ATTRIBUTE_NOT_FOUND');
  });

  test('REQUIRED / server attributes cannot be deleted: Attribute Read Only / Permission Denied (1.4 §11.17)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    const req = { uniqueIdentifier: uid, attributeName: 'Cryptographic Algorithm' };
    assert.equal((await f.wire([{ op: Operation.DeleteAttribute, req }], { version: '2.1' }))[0]?.resultReason, ResultReason.AttributeReadOnly);
    assert.equal((await f.wire([{ op: Operation.DeleteAttribute, req }], { version: '1.4' }))[0]?.resultReason, ResultReason.PermissionDenied);
  });

  test('a change updates Last Change Date; Sensitive → false clears Always Sensitive (1.4 §3.48)', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ extra: [makeAttribute('Sensitive', true)] });
    f.advance(30);
    await f.call(Operation.ModifyAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('Sensitive', false) });
    const got = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['Always Sensitive', 'Last Change Date'] });
    assert.equal(got.attributes[0]?.value.value, false);
    assert.equal(got.attributes[1]?.value.value, BigInt(Math.floor(f.now.getTime() / 1000)));
  });
});

describe('Set / Adjust Attribute (2.x)', () => {
  test('Set adds an absent attribute and replaces a present one; several instances: Multi Valued Attribute', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ extra: [makeAttribute('x-m', 'a'), makeAttribute('x-m', 'b')] });
    await f.call(Operation.SetAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('Description', 'd1') });
    await f.call(Operation.SetAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('Description', 'd2') });
    const got = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['Description'] });
    assert.deepEqual(got.attributes.map((a) => a.value.value), ['d2']);
    await rejectsWith(f.call(Operation.SetAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('x-m', 'c') }), 'MULTI_VALUED_ATTRIBUTE');
    await rejectsWith(f.call(Operation.SetAttribute, { uniqueIdentifier: uid, attribute: makeAttribute('State', State.Active) }), 'ATTRIBUTE_READ_ONLY');
  });

  test('Set Attribute and Adjust Attribute do not exist in 1.x: Operation Not Supported', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    const [r] = await f.wire([{ op: Operation.SetAttribute, req: { uniqueIdentifier: uid, attribute: makeAttribute('Description', 'x') } }], { version: '1.4' });
    assert.equal(r?.resultReason, ResultReason.OperationNotSupported);
    const { handlerExistsIn, getHandler } = await import('../../src/operations/registry.js');
    for (const op of [Operation.SetAttribute, Operation.AdjustAttribute]) {
      const h = getHandler(op);
      assert.ok(h !== undefined);
      assert.equal(handlerExistsIn(h, '1.4'), false);
      assert.equal(handlerExistsIn(h, '2.0'), true);
    }
  });

  test('Adjust increments (absent counts as 0), negates Booleans, and refuses overflow with Numeric Range', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ extra: [makeAttribute('x-count', 5, { type: ItemType.Integer })] });
    await f.call(Operation.AdjustAttribute, { uniqueIdentifier: uid, attributeName: 'x-count', adjustmentType: AdjustmentType.Increment, adjustmentValue: int(Tag.AdjustmentValue, 3) });
    let got = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['x-count'] });
    assert.equal(got.attributes[0]?.value.value, 8);
    await f.call(Operation.AdjustAttribute, { uniqueIdentifier: uid, attributeName: 'Extractable', adjustmentType: AdjustmentType.Negate });
    got = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['Extractable'] });
    assert.equal(got.attributes[0]?.value.value, false);
    await rejectsWith(f.call(Operation.AdjustAttribute, { uniqueIdentifier: uid, attributeName: 'x-count', adjustmentType: AdjustmentType.Increment, adjustmentValue: int(Tag.AdjustmentValue, 0x7fffffff) }), 'NUMERIC_RANGE');
    await rejectsWith(f.call(Operation.AdjustAttribute, { uniqueIdentifier: uid, attributeName: 'Cryptographic Length', adjustmentType: AdjustmentType.Increment }), 'ATTRIBUTE_READ_ONLY');
  });
});

describe('Get Attributes / Get Attribute List per version', () => {
  test('a 1.x client never sees 2.x-only attributes; a 2.x client sees them', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    const l14 = await f.call(Operation.GetAttributeList, { uniqueIdentifier: uid }, { version: '1.4' });
    const l21 = await f.call(Operation.GetAttributeList, { uniqueIdentifier: uid }, { version: '2.1' });
    for (const n of ['Short Unique Identifier', 'Key Format Type', 'Protection Storage Mask']) {
      assert.ok(!l14.attributeNames.includes(n), `${n} in 1.4`);
      assert.ok(l21.attributeNames.includes(n), `${n} missing in 2.1`);
    }
    const l10 = await f.call(Operation.GetAttributeList, { uniqueIdentifier: uid }, { version: '1.0' });
    for (const n of ['Fresh', 'Sensitive', 'Original Creation Date', 'Random Number Generator']) assert.ok(!l10.attributeNames.includes(n), `${n} in 1.0`);
    assert.equal(new Set(l21.attributeNames).size, l21.attributeNames.length, 'each name once');
  });

  test('names the object lacks are left out; a name asked twice is Invalid Message (1.4 §11.13)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    const r = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['Name', 'State'] });
    assert.deepEqual(r.attributes.map((a) => a.name), ['State']);
    await rejectsWith(f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['State', 'State'] }), 'INVALID_MESSAGE');
  });

  test('Create/Register refuse server-set attributes: Attribute Read Only (2.x) / Invalid Field (1.x)', async () => {
    const f = new Fixture();
    const extra = [makeAttribute('Initial Date', new Date(0))];
    await rejectsWith(f.createKey({ extra }), 'ATTRIBUTE_READ_ONLY');
    await rejectsWith(f.createKey({ extra, version: '1.4' }), 'INVALID_FIELD');
    await rejectsWith(f.createKey({ extra: [makeAttribute('Description', 'a'), makeAttribute('Description', 'b')] }), 'ATTRIBUTE_SINGLE_VALUED');
  });

  test('Create with a Name a live object has: Non Unique Name (2.x) / Invalid Field (1.4 §11.2); a destroyed object frees its name', async () => {
    const f = new Fixture();
    const first = await f.createKey({ name: 'n' });
    await rejectsWith(f.createKey({ name: 'n' }), 'NON_UNIQUE_NAME_ATTRIBUTE');
    await rejectsWith(f.createKey({ name: 'n', version: '1.4' }), 'INVALID_FIELD');
    await f.call(Operation.Destroy, { uniqueIdentifier: first });
    assert.ok(await f.createKey({ name: 'n' }));
  });
});
