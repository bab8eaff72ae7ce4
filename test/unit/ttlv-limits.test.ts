/**
 * Each named limit (packages/ttlv/src/limits.ts) at the limit (accepted) and one past it (rejected
 * with its own code), for decode and, for maxMessageBytes, for the framer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { TtlvFramer } from '@openkcm/ttlv';
import { DEFAULT_TTLV_LIMITS, MAX_SUPPORTED_DEPTH, resolveLimits } from '@openkcm/ttlv';
import { bigInt, bytes, structure, text } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import { assertTtlvError } from '../helpers/ttlv-vectors.js';

const TOP = 0x420078;
const CHILD = 0x420079;

/** `levels` Structures nested inside each other. */
function nested(levels: number): StructureItem {
  let s = structure(CHILD, []);
  for (let i = 1; i < levels; i++) s = structure(CHILD, [s]);
  return s;
}

/** A Structure holding `count` empty Structures: count + 1 items, 8 + 8*count bytes. */
function flat(count: number): StructureItem {
  return structure(TOP, Array.from({ length: count }, () => structure(CHILD, [])));
}

/** A message of exactly `size` bytes (size % 8 === 0, >= 16): a Structure with one Byte String. */
function messageOfSize(size: number): Buffer {
  return encodeTtlv(structure(TOP, [bytes(CHILD, new Uint8Array(size - 16))]));
}

describe('default limits', () => {
  test('are the documented values', () => {
    assert.deepEqual(
      { ...DEFAULT_TTLV_LIMITS },
      {
        maxMessageBytes: 1048576,
        maxDepth: 64,
        maxItems: 100000,
        maxTextBytes: 65536,
        maxByteStringBytes: 1048576,
        maxBigIntegerBytes: 4096,
      },
    );
    assert.ok(Object.isFrozen(DEFAULT_TTLV_LIMITS));
  });
  test('resolveLimits overlays and validates', () => {
    assert.equal(resolveLimits({ maxDepth: 3 }).maxDepth, 3);
    assert.equal(resolveLimits({ maxDepth: 3 }).maxItems, DEFAULT_TTLV_LIMITS.maxItems);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => resolveLimits({ maxItems: bad }), RangeError);
    }
    assert.throws(() => resolveLimits({ maxDepth: MAX_SUPPORTED_DEPTH + 1 }), RangeError);
    assert.equal(resolveLimits({ maxDepth: MAX_SUPPORTED_DEPTH }).maxDepth, MAX_SUPPORTED_DEPTH);
  });
});

describe('maxMessageBytes', () => {
  const max = DEFAULT_TTLV_LIMITS.maxMessageBytes;
  test('decode: a message of exactly 1 MiB is accepted', () => {
    assert.equal(decodeTtlv(messageOfSize(max)).type, 1);
  });
  test('decode: one byte more is MESSAGE_TOO_LARGE', () => {
    assertTtlvError(() => decodeTtlv(Buffer.concat([messageOfSize(max), Buffer.alloc(1)])), 'MESSAGE_TOO_LARGE', 0);
  });
  test('decode: the next valid size (8 bytes more) is MESSAGE_TOO_LARGE from the header', () => {
    const wire = messageOfSize(max + 8);
    assertTtlvError(() => decodeTtlv(wire.subarray(0, 64)), 'MESSAGE_TOO_LARGE', 0);
  });
  test('decode: custom limit', () => {
    const wire = messageOfSize(64);
    assert.equal(decodeTtlv(wire, { maxMessageBytes: 64 }).type, 1);
    assertTtlvError(() => decodeTtlv(wire, { maxMessageBytes: 63 }), 'MESSAGE_TOO_LARGE', 0);
  });
  test('framer: a header announcing exactly 1 MiB is accepted and buffered', () => {
    const wire = messageOfSize(max);
    const framer = new TtlvFramer();
    assert.deepEqual(framer.push(wire.subarray(0, 8)), []);
    assert.equal(framer.buffered, 8);
    const frames = framer.push(wire.subarray(8));
    assert.equal(frames.length, 1);
    assert.ok(frames[0]!.equals(wire));
  });
  test('framer: a header announcing 1 MiB + 8 is rejected from the header alone', () => {
    const framer = new TtlvFramer();
    assertTtlvError(() => framer.push(messageOfSize(max + 8).subarray(0, 8)), 'MESSAGE_TOO_LARGE', 0);
  });
  test('framer: custom limit, offset is the stream offset of the message', () => {
    const ok = messageOfSize(64);
    const tooBig = messageOfSize(72);
    const framer = new TtlvFramer({ maxMessageBytes: 64 });
    assert.equal(framer.push(ok).length, 1);
    assertTtlvError(() => framer.push(tooBig.subarray(0, 8)), 'MESSAGE_TOO_LARGE', 64);
  });
});

describe('maxDepth', () => {
  test('64 nested structures are accepted, 65 are TOO_DEEP at the 65th', () => {
    assert.equal(decodeTtlv(encodeTtlv(nested(64))).type, 1);
    assertTtlvError(() => decodeTtlv(encodeTtlv(nested(65))), 'TOO_DEEP', 64 * 8);
  });
  test('custom limit', () => {
    assert.equal(decodeTtlv(encodeTtlv(nested(3)), { maxDepth: 3 }).type, 1);
    assertTtlvError(() => decodeTtlv(encodeTtlv(nested(4)), { maxDepth: 3 }), 'TOO_DEEP', 24);
  });
  test('leaves inside the deepest allowed structure are fine', () => {
    let s = structure(CHILD, [text(0x420094, 'leaf')]);
    for (let i = 1; i < 64; i++) s = structure(CHILD, [s]);
    assert.equal(decodeTtlv(encodeTtlv(s)).type, 1);
  });
});

describe('maxItems', () => {
  test('100,000 items are accepted, 100,001 are TOO_MANY_ITEMS at the last', () => {
    assert.equal((decodeTtlv(encodeTtlv(flat(99_999))) as StructureItem).value.length, 99_999);
    assertTtlvError(() => decodeTtlv(encodeTtlv(flat(100_000))), 'TOO_MANY_ITEMS', 8 + 99_999 * 8);
  });
  test('custom limit', () => {
    assert.equal(decodeTtlv(encodeTtlv(flat(9)), { maxItems: 10 }).type, 1);
    assertTtlvError(() => decodeTtlv(encodeTtlv(flat(10)), { maxItems: 10 }), 'TOO_MANY_ITEMS', 80);
  });
});

describe('maxTextBytes', () => {
  test('64 KiB of text is accepted, one byte more is TEXT_TOO_LONG', () => {
    const max = DEFAULT_TTLV_LIMITS.maxTextBytes;
    assert.equal(decodeTtlv(encodeTtlv(structure(TOP, [text(CHILD, 'a'.repeat(max))]))).type, 1);
    assertTtlvError(() => decodeTtlv(encodeTtlv(structure(TOP, [text(CHILD, 'a'.repeat(max + 1))]))), 'TEXT_TOO_LONG', 8);
  });
  test('the limit counts UTF-8 bytes, not characters', () => {
    const wire = encodeTtlv(text(CHILD, 'é'.repeat(5))); // 10 bytes
    assert.equal(decodeTtlv(wire, { maxTextBytes: 10 }).value, 'é'.repeat(5));
    assertTtlvError(() => decodeTtlv(wire, { maxTextBytes: 9 }), 'TEXT_TOO_LONG', 0);
  });
});

describe('maxByteStringBytes', () => {
  test('at the limit accepted, one byte more is BYTES_TOO_LONG', () => {
    const limits = { maxByteStringBytes: 1000 };
    assert.equal(decodeTtlv(encodeTtlv(structure(TOP, [bytes(CHILD, new Uint8Array(1000))])), limits).type, 1);
    assertTtlvError(
      () => decodeTtlv(encodeTtlv(structure(TOP, [bytes(CHILD, new Uint8Array(1001))])), limits),
      'BYTES_TOO_LONG',
      8,
    );
  });
  test('default: bounded by the message size', () => {
    assert.equal(DEFAULT_TTLV_LIMITS.maxByteStringBytes, DEFAULT_TTLV_LIMITS.maxMessageBytes);
  });
});

describe('maxBigIntegerBytes', () => {
  // A positive number whose minimal two's complement form is exactly `n` bytes (n % 8 === 0).
  const ofWidth = (n: number): bigint => (1n << BigInt(n * 8 - 2)) + 1n;
  test('4096 bytes accepted; 4104 (the next valid width) is BIG_INTEGER_TOO_LONG', () => {
    const ok = encodeTtlv(bigInt(CHILD, ofWidth(4096)));
    assert.equal(ok.length, 8 + 4096);
    assert.equal(decodeTtlv(ok).value, ofWidth(4096));
    assertTtlvError(() => decodeTtlv(encodeTtlv(bigInt(CHILD, ofWidth(4104)))), 'BIG_INTEGER_TOO_LONG', 0);
  });
  test('custom limit', () => {
    assert.equal(decodeTtlv(encodeTtlv(bigInt(CHILD, ofWidth(16))), { maxBigIntegerBytes: 16 }).value, ofWidth(16));
    assertTtlvError(() => decodeTtlv(encodeTtlv(bigInt(CHILD, ofWidth(24))), { maxBigIntegerBytes: 16 }), 'BIG_INTEGER_TOO_LONG', 0);
  });
});
