/**
 * The ten encoding examples of KMIP 1.4 §9.1.2 "Examples", byte for byte, both ways.
 * All use tag 0x420020 as the spec does ("a Protocol Object whose tag is 420020").
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { bigInt, bool, bytes, dateTime, enumeration, int, interval, long, structure, text } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { hex } from '../helpers/ttlv-vectors.js';

const TAG = 0x420020;

const EXAMPLES: readonly { name: string; wire: Buffer; item: TtlvItem }[] = [
  {
    // Integer 8
    name: 'An Integer containing the decimal value 8',
    wire: hex('42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00'.replaceAll('|', '')),
    item: int(TAG, 8),
  },
  {
    // Long Integer 123456789000000000
    name: 'A Long Integer containing the decimal value 123456789000000000',
    wire: hex('42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00'.replaceAll('|', '')),
    item: long(TAG, 123456789000000000n),
  },
  {
    // Big Integer 1234567890000000000000000000 = 0x03FD35EB6BC2DF4618080000 (12 bytes),
    // sign-extended with four 0x00 bytes to 16 (KMIP 1.4 §9.1.1.4).
    name: 'A Big Integer containing the decimal value 1234567890000000000000000000',
    wire: hex('42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00'.replaceAll('|', '')),
    item: bigInt(TAG, 1234567890000000000000000000n),
  },
  {
    // Enumeration 255
    name: 'An Enumeration with value 255',
    wire: hex('42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00'.replaceAll('|', '')),
    item: enumeration(TAG, 255),
  },
  {
    // Boolean true
    name: 'A Boolean with the value True',
    wire: hex('42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01'.replaceAll('|', '')),
    item: bool(TAG, true),
  },
  {
    // Text String "Hello World": 11 bytes, 5 bytes of padding
    name: 'A Text String with the value "Hello World"',
    wire: hex('42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00'.replaceAll('|', '')),
    item: text(TAG, 'Hello World'),
  },
  {
    // Byte String 01 02 03: 3 bytes, 5 bytes of padding
    name: 'A Byte String with the value { 0x01, 0x02, 0x03 }',
    wire: hex('42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00'.replaceAll('|', '')),
    item: bytes(TAG, new Uint8Array([1, 2, 3])),
  },
  {
    // Date-Time 0x47DA67F8 = 1205495800 s = 2008-03-14T11:56:40Z
    name: 'A Date-Time, containing the value for Friday, March 14, 2008, 11:56:40 GMT',
    wire: hex('42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8'.replaceAll('|', '')),
    item: dateTime(TAG, new Date('2008-03-14T11:56:40Z')),
  },
  {
    // Interval 10 days = 864000 s = 0x000D2F00
    name: 'An Interval, containing the value for 10 days',
    wire: hex('42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00'.replaceAll('|', '')),
    item: interval(TAG, 10 * 24 * 3600),
  },
  {
    // Structure 420020 { Enumeration 420004 = 254, Integer 420005 = 255 }
    name: 'A Structure containing an Enumeration, value 254, followed by an Integer, value 255',
    wire: hex(
      ('42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | ' +
        '42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00').replaceAll('|', ''),
    ),
    item: structure(TAG, [enumeration(0x420004, 254), int(0x420005, 255)]),
  },
];

describe('KMIP 1.4 §9.1.2 encoding examples', () => {
  test('there are ten', () => {
    assert.equal(EXAMPLES.length, 10);
  });
  for (const ex of EXAMPLES) {
    test(`encode: ${ex.name}`, () => {
      assert.deepEqual(encodeTtlv(ex.item), ex.wire);
    });
    test(`decode: ${ex.name}`, () => {
      assert.deepEqual(decodeTtlv(ex.wire), ex.item);
    });
  }

  test('decoded values are the documented ones', () => {
    assert.equal(decodeTtlv(EXAMPLES[7]!.wire).value, 1205495800n);
    assert.equal(decodeTtlv(EXAMPLES[8]!.wire).value, 864000);
  });
});
