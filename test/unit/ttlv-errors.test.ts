/**
 * Every decode error yields its own code and the byte offset of the fault
 * (errors.ts documents what `offset` points at for each code).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import type { TtlvErrorCode } from '@openkcm/ttlv';
import { int, structure, text } from '@openkcm/ttlv';
import type { TtlvLimits } from '@openkcm/ttlv';
import { GET_REQUEST, assertTtlvError, hex } from '../helpers/ttlv-vectors.js';

function decodeError(wire: Uint8Array, code: TtlvErrorCode, offset: number, limits?: Partial<TtlvLimits>): void {
  assertTtlvError(() => decodeTtlv(wire, limits), code, offset);
}

/** One test per row: decoding `wire` (with `limits`) fails with `code` at `offset`. */
type DecodeFault = readonly [name: string, wire: Uint8Array, code: TtlvErrorCode, offset: number, limits?: Partial<TtlvLimits>];
function decodeFaults(rows: readonly DecodeFault[]): void {
  for (const [name, wire, code, offset, limits] of rows) {
    test(name, () => {
      decodeError(wire, code, offset, limits);
    });
  }
}

/** Wraps one item's bytes (a multiple of 8) in a Structure with tag 0x420001. */
function inStruct(itemHex: string): Buffer {
  const item = hex(itemHex);
  const header = Buffer.from([0x42, 0x00, 0x01, 0x01, 0, 0, 0, 0]);
  header.writeUInt32BE(item.length, 4);
  return Buffer.concat([header, item]);
}

describe('truncation', () => {
  test('every proper prefix of a message is TRUNCATED', () => {
    for (let n = 0; n < GET_REQUEST.length; n++) {
      assertTtlvError(() => decodeTtlv(GET_REQUEST.subarray(0, n)), 'TRUNCATED');
    }
  });
  decodeFaults([
    ['shorter than a header: offset 0', hex('42 00 20 02 00 00 00'), 'TRUNCATED', 0],
    // Integer 420020 = 8, missing its last padding byte
    ['value cut short: offset of the item', hex('42 00 20 02 00 00 00 04 00 00 00 08 00 00 00'), 'TRUNCATED', 0],
    // "Hello World" with 4 of its 5 padding bytes
    ['text padding cut short', hex('42 00 20 07 00 00 00 0B 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00'), 'TRUNCATED', 0],
    ['a child announcing 0xFFFFFFF8 bytes inside a structure that fits: TRUNCATED at the child', hex('42 00 01 01 00 00 00 08 42 00 02 01 FF FF FF F8'), 'TRUNCATED', 8],
  ]);
});

describe('length 0xFFFFFFFF', () => {
  decodeFaults([
    ['top-level: MESSAGE_TOO_LARGE before reading anything else', hex('42 00 78 01 FF FF FF FF'), 'MESSAGE_TOO_LARGE', 0],
    ['nested Text String: TEXT_TOO_LONG', inStruct('42 00 94 07 FF FF FF FF'), 'TEXT_TOO_LONG', 8],
    ['nested Text String with the text limit lifted: TRUNCATED', inStruct('42 00 94 07 FF FF FF FF'), 'TRUNCATED', 8, { maxTextBytes: 2 ** 40 }],
    ['nested Byte String: BYTES_TOO_LONG', inStruct('42 00 43 08 FF FF FF FF'), 'BYTES_TOO_LONG', 8],
    ['nested Integer: BAD_LENGTH', inStruct('42 00 6A 02 FF FF FF FF 00 00 00 01 00 00 00 00'), 'BAD_LENGTH', 8],
    ['nested Structure: BAD_LENGTH (not a multiple of 8)', inStruct('42 00 77 01 FF FF FF FF'), 'BAD_LENGTH', 8],
  ]);
});

describe('padding must be zero', () => {
  for (const [name, wire, at] of [
    ['Integer', '42 00 20 02 00 00 00 04 00 00 00 08 00 00 01 00', 14],
    ['Enumeration', '42 00 20 05 00 00 00 04 00 00 00 FF 80 00 00 00', 12],
    ['Interval', '42 00 20 0A 00 00 00 04 00 0D 2F 00 00 00 00 01', 15],
    ['Text String', '42 00 20 07 00 00 00 0B 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 20 00 00', 21],
    ['Byte String', '42 00 20 08 00 00 00 03 01 02 03 00 00 00 00 FF', 15],
  ] as const) {
    test(`${name}: BAD_PADDING at the first non-zero padding byte`, () => {
      decodeError(hex(wire), 'BAD_PADDING', at);
    });
  }
});

describe('Boolean must be 0 or 1 (KMIP 1.4 §9.1.1.4)', () => {
  decodeFaults([
    ['value 2', hex('42 00 20 06 00 00 00 08 00 00 00 00 00 00 00 02'), 'BAD_BOOLEAN', 8],
    ['high word set', hex('42 00 20 06 00 00 00 08 00 00 00 01 00 00 00 01'), 'BAD_BOOLEAN', 8],
    ['all ones', hex('42 00 20 06 00 00 00 08 FF FF FF FF FF FF FF FF'), 'BAD_BOOLEAN', 8],
  ]);
  test('false and true decode', () => {
    assert.equal(decodeTtlv(hex('42 00 20 06 00 00 00 08 00 00 00 00 00 00 00 00')).value, false);
    assert.equal(decodeTtlv(hex('42 00 20 06 00 00 00 08 00 00 00 00 00 00 00 01')).value, true);
  });
});

describe('lengths the type does not allow (KMIP 1.4 §9.1.1.3 Table 287)', () => {
  const cases: readonly [string, string][] = [
    ['Integer of 8', '42 00 20 02 00 00 00 08 00 00 00 00 00 00 00 08'],
    ['Integer of 0', '42 00 20 02 00 00 00 00'],
    ['Long Integer of 4', '42 00 20 03 00 00 00 04 00 00 00 08 00 00 00 00'],
    ['Big Integer of 0', '42 00 20 04 00 00 00 00'],
    ['Big Integer of 12', '42 00 20 04 00 00 00 0C 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00'],
    ['Enumeration of 8', '42 00 20 05 00 00 00 08 00 00 00 00 00 00 00 01'],
    ['Boolean of 4', '42 00 20 06 00 00 00 04 00 00 00 01 00 00 00 00'],
    ['Date-Time of 4', '42 00 20 09 00 00 00 04 47 DA 67 F8 00 00 00 00'],
    ['Interval of 8', '42 00 20 0A 00 00 00 08 00 00 00 00 00 0D 2F 00'],
    ['Date-Time Extended of 4', '42 00 20 0B 00 00 00 04 00 00 00 01 00 00 00 00'],
    ['Structure of 12', '42 00 20 01 00 00 00 0C 42 00 04 05 00 00 00 04 00 00 00 FE 00 00 00 00'],
  ];
  for (const [name, wire] of cases) {
    test(`${name}: BAD_LENGTH at the item`, () => {
      decodeError(hex(wire), 'BAD_LENGTH', 0);
    });
  }
  test('a child running past the end of its structure: BAD_LENGTH at the child', () => {
    // Structure of length 8 holding a 16-byte Integer, followed by 8 more bytes of input.
    decodeError(hex('42 00 01 01 00 00 00 08 42 00 6A 02 00 00 00 04 00 00 00 01 00 00 00 00'), 'BAD_LENGTH', 8);
  });
});

describe('unknown types and tags', () => {
  for (const type of [0x00, 0x0c, 0x10, 0xff]) {
    test(`item type 0x${type.toString(16)}: BAD_TYPE`, () => {
      const wire = hex('42 00 20 00 00 00 00 08 00 00 00 00 00 00 00 00');
      wire[3] = type;
      decodeError(wire, 'BAD_TYPE', 0);
    });
  }
  test('nested unknown type: offset of the child', () => {
    decodeError(inStruct('42 00 20 0C 00 00 00 00'), 'BAD_TYPE', 8);
  });
  test('Date-Time Extended (0x0B, KMIP 2.x) is known', () => {
    assert.equal(decodeTtlv(hex('42 00 20 0B 00 00 00 08 00 04 4C 9C 7A 6B 22 00')).value, 0x00044c9c7a6b2200n);
  });
  test('tag not starting with 0x42 or 0x54 (KMIP 1.4 §9.1.1.1): BAD_TAG', () => {
    decodeError(hex('43 00 20 02 00 00 00 04 00 00 00 08 00 00 00 00'), 'BAD_TAG', 0);
    decodeError(inStruct('00 00 00 02 00 00 00 04 00 00 00 08 00 00 00 00'), 'BAD_TAG', 8);
    decodeError(Buffer.from('GET / HTTP/1.1\r\n\r\n'), 'BAD_TAG', 0);
  });
  test('extension tags (0x54xxxx) decode', () => {
    assert.equal(decodeTtlv(hex('54 00 01 02 00 00 00 04 00 00 00 08 00 00 00 00')).tag, 0x540001);
  });
});

describe('Text String must be valid UTF-8', () => {
  const invalid: readonly [string, string][] = [
    ['a lone continuation byte', '80'],
    ['a truncated 2-byte sequence', 'C3'],
    ['a bad continuation', 'C3 28'],
    ['an overlong "/"', 'C0 AF'],
    ['a UTF-16 surrogate (CESU-8)', 'ED A0 80'],
    ['a code point above U+10FFFF', 'F4 90 80 80'],
    ['0xFF', 'FF'],
  ];
  for (const [name, bad] of invalid) {
    test(`${name}: BAD_UTF8 at the value`, () => {
      const value = hex(`41 ${bad}`);
      const item = Buffer.alloc(8 + value.length + ((8 - (value.length % 8)) % 8));
      hex('42 00 20 07').copy(item);
      item.writeUInt32BE(value.length, 4);
      value.copy(item, 8);
      decodeError(item, 'BAD_UTF8', 8);
    });
  }
  test('invalid UTF-8 at the end of a long (non-fast-path) string', () => {
    const value = Buffer.concat([Buffer.alloc(200, 0x61), hex('C3')]);
    const wire = encodeTtlv(text(0x420020, 'x'.repeat(201)));
    value.copy(wire, 8);
    decodeError(wire, 'BAD_UTF8', 8);
  });
  test('valid multi-byte text decodes, a leading BOM is kept (byte-identical re-encode)', () => {
    for (const s of ['héllo', '€ 𝄞 漢字', '\uFEFFbom', 'a'.repeat(100) + 'é']) {
      const wire = encodeTtlv(text(0x420020, s));
      assert.equal(decodeTtlv(wire).value, s);
      assert.deepEqual(encodeTtlv(decodeTtlv(wire)), wire);
    }
  });
});

describe('trailing bytes', () => {
  test('bytes after the top-level item: offset of the first extra byte', () => {
    decodeError(Buffer.concat([GET_REQUEST, Buffer.alloc(8)]), 'TRAILING_BYTES', GET_REQUEST.length);
    decodeError(Buffer.concat([GET_REQUEST, GET_REQUEST]), 'TRAILING_BYTES', GET_REQUEST.length);
  });
});

describe('encode rejects invalid trees with ENCODE', () => {
  const bad: readonly [string, unknown][] = [
    ['Integer out of range', int(0x420020, 2 ** 31)],
    ['Integer not an integer', int(0x420020, 1.5)],
    ['tag too large', int(0x1420020, 1)],
    ['tag without 0x42/0x54 prefix', int(0x430020, 1)],
    ['Long Integer out of range', { tag: 0x420020, type: 3, value: 2n ** 63n }],
    ['Long Integer as number', { tag: 0x420020, type: 3, value: 5 }],
    ['Enumeration negative', { tag: 0x420020, type: 5, value: -1 }],
    ['Interval too large', { tag: 0x420020, type: 10, value: 2 ** 32 }],
    ['Boolean as number', { tag: 0x420020, type: 6, value: 1 }],
    ['Text String with a lone surrogate', text(0x420020, 'a\uD800b')],
    ['Byte String as array', { tag: 0x420020, type: 8, value: [1, 2] }],
    ['Big Integer as number', { tag: 0x420020, type: 4, value: 5 }],
    ['Date-Time as Date', { tag: 0x420020, type: 9, value: new Date() }],
    ['unknown type', { tag: 0x420020, type: 12, value: 0 }],
    ['Structure value not an array', { tag: 0x420020, type: 1, value: {} }],
    ['Structure child null', { tag: 0x420020, type: 1, value: [null] }],
  ];
  for (const [name, item] of bad) {
    test(name, () => {
      assertTtlvError(() => encodeTtlv(item as never), 'ENCODE', -1);
    });
  }
  test('a cyclic tree', () => {
    const s = structure(0x420001, []);
    s.value.push(s);
    assertTtlvError(() => encodeTtlv(s), 'ENCODE', -1);
  });
});
