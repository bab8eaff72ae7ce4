/** Tree builders and readers (packages/ttlv/src/build.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bigInt,
  bool,
  bytes,
  dateTime,
  dateTimeExtended,
  enumeration,
  findChild,
  findChildren,
  int,
  interval,
  isStructure,
  long,
  structure,
  text,
} from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';

describe('build', () => {
  test('each builder sets tag, type and value', () => {
    assert.deepEqual(int(0x42006a, 1), { tag: 0x42006a, type: ItemType.Integer, value: 1 });
    assert.deepEqual(long(0x420020, -5n), { tag: 0x420020, type: ItemType.LongInteger, value: -5n });
    assert.deepEqual(bigInt(0x420020, 7n), { tag: 0x420020, type: ItemType.BigInteger, value: 7n });
    assert.deepEqual(enumeration(0x42005c, 10), { tag: 0x42005c, type: ItemType.Enumeration, value: 10 });
    assert.deepEqual(bool(0x420020, false), { tag: 0x420020, type: ItemType.Boolean, value: false });
    assert.deepEqual(text(0x420094, 'x'), { tag: 0x420094, type: ItemType.TextString, value: 'x' });
    assert.deepEqual(bytes(0x420043, new Uint8Array([1])), { tag: 0x420043, type: ItemType.ByteString, value: new Uint8Array([1]) });
    assert.deepEqual(interval(0x420020, 60), { tag: 0x420020, type: ItemType.Interval, value: 60 });
  });
  test('dateTime takes seconds or a Date (truncated to whole seconds)', () => {
    assert.equal(dateTime(0x420092, 5n).value, 5n);
    assert.equal(dateTime(0x420092, new Date('2008-03-14T11:56:40.999Z')).value, 0x47da67f8n);
    assert.equal(dateTime(0x420092, new Date(-1500)).value, -2n);
  });
  test('dateTimeExtended takes microseconds or a Date', () => {
    assert.equal(dateTimeExtended(0x420020, 7n).value, 7n);
    assert.equal(dateTimeExtended(0x420020, new Date(1234)).value, 1_234_000n);
  });
  test('findChild, findChildren, isStructure', () => {
    const s = structure(0x420008, [text(0x42000a, 'a'), int(0x42000b, 1), text(0x42000a, 'b')]);
    assert.equal(findChild(s, 0x42000a)?.value, 'a');
    assert.equal(findChild(s, 0x420099), undefined);
    assert.deepEqual(
      findChildren(s, 0x42000a).map((c) => c.value),
      ['a', 'b'],
    );
    assert.deepEqual(findChildren(s, 0x420099), []);
    assert.ok(isStructure(s));
    assert.ok(!isStructure(s.value[0]));
    assert.ok(!isStructure(undefined));
  });
});
