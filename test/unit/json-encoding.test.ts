/**
 * KMIP JSON encoding ⇄ TTLV (src/kmip/encodings/json.ts), KMIP Profiles 2.1 "JSON Encoding"
 * (KMIP Additional Message Encodings 1.0 §4.1): object shape, the value forms of every type,
 * masks with "|", hex forms, context rules, errors with paths.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonStringToTtlv, jsonToTtlv, ttlvToJson, ttlvToJsonString } from '../../src/kmip/encodings/json.js';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { CryptographicAlgorithm, CryptographicUsageMask, Operation, Tag } from '../../src/kmip/registry.js';
import { throwsEncoding } from '../helpers/encoding-errors.js';

function leaf(tag: string, type: string, value: unknown): TtlvItem {
  return jsonToTtlv({ tag, type, value });
}
function out(item: TtlvItem): unknown {
  return ttlvToJson(item).value;
}

describe('JSON object shape', () => {
  test('a message: type omitted for structures, children in arrays', () => {
    const item: TtlvItem = {
      tag: Tag.RequestMessage,
      type: ItemType.Structure,
      value: [
        {
          tag: Tag.BatchItem,
          type: ItemType.Structure,
          value: [
            { tag: Tag.Operation, type: ItemType.Enumeration, value: Operation.Create },
            {
              tag: Tag.RequestPayload,
              type: ItemType.Structure,
              value: [
                { tag: Tag.CryptographicAlgorithm, type: ItemType.Enumeration, value: CryptographicAlgorithm.AES },
                { tag: Tag.CryptographicLength, type: ItemType.Integer, value: 256 },
              ],
            },
          ],
        },
      ],
    };
    const json = {
      tag: 'RequestMessage',
      value: [
        {
          tag: 'BatchItem',
          value: [
            { tag: 'Operation', type: 'Enumeration', value: 'Create' },
            {
              tag: 'RequestPayload',
              value: [
                { tag: 'CryptographicAlgorithm', type: 'Enumeration', value: 'AES' },
                { tag: 'CryptographicLength', type: 'Integer', value: 256 },
              ],
            },
          ],
        },
      ],
    };
    assert.deepEqual(ttlvToJson(item), json);
    assert.deepEqual(jsonToTtlv(json), item);
    assert.deepEqual(jsonStringToTtlv(ttlvToJsonString(item, 2)), item);
    assert.equal(ttlvToJsonString({ tag: Tag.BatchCount, type: ItemType.Integer, value: 1 }), '{"tag":"BatchCount","type":"Integer","value":1}');
  });

  test('"type": "Structure" is accepted; extension tags are "0x54xxxx"', () => {
    assert.deepEqual(jsonToTtlv({ tag: 'RequestPayload', type: 'Structure', value: [] }), { tag: Tag.RequestPayload, type: ItemType.Structure, value: [] });
    const ext: TtlvItem = { tag: 0x540010, type: ItemType.TextString, value: 'v' };
    assert.deepEqual(ttlvToJson(ext), { tag: '0x540010', type: 'TextString', value: 'v' });
    assert.deepEqual(jsonToTtlv({ tag: '0x540010', type: 'TextString', value: 'v' }), ext);
    assert.deepEqual(jsonToTtlv({ tag: '0x42000d', type: 'Integer', value: 3 }), { tag: Tag.BatchCount, type: ItemType.Integer, value: 3 });
  });

  test('shape errors, with paths', () => {
    throwsEncoding(() => jsonToTtlv([]), '?', /must be an object/);
    throwsEncoding(() => jsonToTtlv({ tag: 5, value: [] }), '?', /"tag" must be a string/);
    throwsEncoding(() => jsonToTtlv({ tag: 'Nope', value: [] }), 'Nope', /unknown tag "Nope"/);
    throwsEncoding(() => jsonToTtlv({ tag: 'BatchCount', type: 'Int', value: 1 }), 'BatchCount', /unknown type/);
    throwsEncoding(() => jsonToTtlv({ tag: 'BatchCount', type: 7, value: 1 }), 'BatchCount', /unknown type/);
    throwsEncoding(() => jsonToTtlv({ tag: 'BatchItem', value: {} }), 'BatchItem', /must be an array/);
    throwsEncoding(() => jsonToTtlv({ tag: 'BatchCount', type: 'Integer', value: 1, extra: 1 }), 'BatchCount', /unexpected key "extra"/);
    throwsEncoding(() => jsonStringToTtlv('{"tag":'), '', /invalid JSON/);
    throwsEncoding(
      () =>
        jsonToTtlv({
          tag: 'RequestMessage',
          value: [
            { tag: 'BatchItem', value: [] },
            { tag: 'BatchItem', value: [{ tag: 'Operation', type: 'Enumeration', value: 'Fly' }] },
          ],
        }),
      'RequestMessage/BatchItem[1]/Operation',
      /"Fly" is not a value of enumeration Operation/,
    );
  });

  test('nesting is bounded', () => {
    let j: unknown = { tag: 'Attribute', value: [] };
    for (let i = 0; i < 100; i++) j = { tag: 'Attribute', value: [j] };
    assert.throws(() => jsonToTtlv(j), /nest deeper than 64/);
  });
});

describe('JSON values', () => {
  test('Integer: number; masks as "A|B"; hex; range', () => {
    const U = CryptographicUsageMask;
    assert.equal(out({ tag: Tag.CryptographicLength, type: ItemType.Integer, value: -7 }), -7);
    assert.equal(out({ tag: Tag.CryptographicUsageMask, type: ItemType.Integer, value: U.Decrypt | U.Encrypt }), 'Encrypt|Decrypt');
    assert.equal(out({ tag: Tag.CryptographicUsageMask, type: ItemType.Integer, value: U.Sign | 0x40000000 }), 'Sign|0x40000000');
    assert.equal(out({ tag: Tag.CryptographicUsageMask, type: ItemType.Integer, value: 0 }), 0);
    assert.equal(leaf('CryptographicUsageMask', 'Integer', 'Decrypt|Encrypt').value, 12);
    assert.equal(leaf('CryptographicUsageMask', 'Integer', 'Decrypt | 0x00000004').value, 12);
    assert.equal(leaf('CryptographicUsageMask', 'Integer', 12).value, 12);
    assert.equal(leaf('CryptographicLength', 'Integer', '0x00000100').value, 256);
    throwsEncoding(() => leaf('CryptographicLength', 'Integer', 2 ** 31), 'CryptographicLength', /not a signed 32-bit integer/);
    throwsEncoding(() => leaf('CryptographicLength', 'Integer', 1.5), 'CryptographicLength', /not a signed 32-bit integer/);
    throwsEncoding(() => leaf('CryptographicLength', 'Integer', true), 'CryptographicLength', /expected a number/);
  });

  test('LongInteger: number when safe, else 0x + 16 hex digits; unsafe numbers refused', () => {
    assert.equal(out({ tag: Tag.UsageLimitsTotal, type: ItemType.LongInteger, value: 42n }), 42);
    assert.equal(out({ tag: Tag.UsageLimitsTotal, type: ItemType.LongInteger, value: 2n ** 53n }), '0x0020000000000000');
    assert.equal(out({ tag: Tag.UsageLimitsTotal, type: ItemType.LongInteger, value: -1n - 2n ** 53n }), '0xFFDFFFFFFFFFFFFF');
    assert.equal(leaf('UsageLimitsTotal', 'LongInteger', '0xFFDFFFFFFFFFFFFF').value, -1n - 2n ** 53n);
    assert.equal(leaf('UsageLimitsTotal', 'LongInteger', -5).value, -5n);
    throwsEncoding(() => leaf('UsageLimitsTotal', 'LongInteger', 2 ** 60), 'UsageLimitsTotal', /not a safe integer/);
    throwsEncoding(() => leaf('UsageLimitsTotal', 'LongInteger', '12'), 'UsageLimitsTotal', /not "0x"/);
  });

  test('BigInteger: "0x" + wire hex; safe numbers accepted', () => {
    assert.equal(out({ tag: Tag.Modulus, type: ItemType.BigInteger, value: 65537n }), '0x0000000000010001');
    assert.equal(out({ tag: Tag.Modulus, type: ItemType.BigInteger, value: -1n }), '0xffffffffffffffff');
    assert.equal(leaf('Modulus', 'BigInteger', '0x0000000000010001').value, 65537n);
    assert.equal(leaf('Modulus', 'BigInteger', 65537).value, 65537n);
    throwsEncoding(() => leaf('Modulus', 'BigInteger', '010001'), 'Modulus', /expected "0x"/);
  });

  test('Enumeration: name, hex for unnamed values, numbers accepted', () => {
    assert.equal(out({ tag: Tag.Operation, type: ItemType.Enumeration, value: Operation.Get }), 'Get');
    assert.equal(out({ tag: Tag.Operation, type: ItemType.Enumeration, value: 0x8000000a }), '0x8000000A');
    assert.equal(leaf('Operation', 'Enumeration', 'Get').value, Operation.Get);
    assert.equal(leaf('Operation', 'Enumeration', Operation.Get).value, Operation.Get);
    assert.equal(leaf('Operation', 'Enumeration', '0x0000000A').value, Operation.Get);
    throwsEncoding(() => leaf('Operation', 'Enumeration', -1), 'Operation', /unsigned 32-bit/);
  });

  test('Boolean, TextString, ByteString, Interval', () => {
    assert.equal(out({ tag: Tag.Sensitive, type: ItemType.Boolean, value: true }), true);
    assert.equal(leaf('Sensitive', 'Boolean', '0x0000000000000001').value, true);
    throwsEncoding(() => leaf('Sensitive', 'Boolean', 'true'), 'Sensitive', /expected true or false/);
    assert.equal(out({ tag: Tag.ResultMessage, type: ItemType.TextString, value: 'é"\n' }), 'é"\n');
    throwsEncoding(() => leaf('ResultMessage', 'TextString', 5), 'ResultMessage', /expected a string/);
    assert.equal(out({ tag: Tag.Data, type: ItemType.ByteString, value: new Uint8Array([0xca, 0xfe]) }), 'cafe');
    assert.deepEqual(leaf('Data', 'ByteString', 'CAFE').value, new Uint8Array([0xca, 0xfe]));
    throwsEncoding(() => leaf('Data', 'ByteString', '0xcafe'), 'Data', /hex digits without 0x/);
    assert.equal(out({ tag: Tag.LeaseTime, type: ItemType.Interval, value: 3600 }), 3600);
    assert.equal(leaf('LeaseTime', 'Interval', '0x00000E10').value, 3600);
    throwsEncoding(() => leaf('LeaseTime', 'Interval', -1), 'LeaseTime', /unsigned 32-bit/);
  });

  test('DateTime and DateTimeExtended: ISO 8601 strings, hex accepted', () => {
    assert.equal(out({ tag: Tag.ActivationDate, type: ItemType.DateTime, value: 0n }), '1970-01-01T00:00:00+00:00');
    assert.equal(leaf('ActivationDate', 'DateTime', '2000-02-01T00:00:00+10:00').value, 949327200n);
    assert.equal(leaf('ActivationDate', 'DateTime', '0x0000000038959560').value, 949327200n);
    assert.equal(out({ tag: Tag.ActivationDate, type: ItemType.DateTimeExtended, value: 1n }), '1970-01-01T00:00:00.000001+00:00');
    assert.equal(leaf('ActivationDate', 'DateTimeExtended', '1970-01-01T00:00:00.000001Z').value, 1n);
    throwsEncoding(() => leaf('ActivationDate', 'DateTime', 0), 'ActivationDate', /expected a string/);
  });

  test('1.x Attribute Value spelled from the sibling Attribute Name, as in XML', () => {
    const json = {
      tag: 'Attribute',
      value: [
        { tag: 'AttributeName', type: 'TextString', value: 'Cryptographic Usage Mask' },
        { tag: 'AttributeValue', type: 'Integer', value: 'Encrypt|Decrypt' },
      ],
    };
    const item = jsonToTtlv(json);
    assert.deepEqual(item, {
      tag: Tag.Attribute,
      type: ItemType.Structure,
      value: [
        { tag: Tag.AttributeName, type: ItemType.TextString, value: 'Cryptographic Usage Mask' },
        { tag: Tag.AttributeValue, type: ItemType.Integer, value: 12 },
      ],
    });
    assert.deepEqual(ttlvToJson(item), json);
  });

  test('refuses trees the codec could not encode', () => {
    throwsEncoding(
      () => ttlvToJson({ tag: Tag.BatchItem, type: ItemType.Structure, value: [{ tag: Tag.BatchCount, type: ItemType.Integer, value: 2 ** 40 }] }),
      'BatchItem/BatchCount',
      /signed 32-bit/,
    );
  });
});
