/**
 * Time-boxed fuzz of the TTLV decoder and framer (fast-check, ~5 s in all).
 *
 * Inputs: random bytes, random bytes behind a plausible header, and mutations of valid
 * messages (bit flips, truncation, length tampering, type tampering, inserted and deleted
 * bytes). Property: decode either returns a tree that re-encodes and decodes to itself, or
 * throws a TtlvError with an offset inside the input — never any other exception. The
 * framer, fed the same bytes in random chunks, either emits frames that are exactly
 * consecutive slices of the input or throws a TtlvError.
 *
 * A failure prints fast-check's seed and path; rerun with them to reproduce.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { TtlvError } from '@openkcm/ttlv';
import { TtlvFramer } from '@openkcm/ttlv';
import { KMIP_1_1_MESSAGES, getRequest, getResponseAes256 } from '../helpers/ttlv-vectors.js';

/** Per property; four properties, so ~5 s in all. */
const TIME_BUDGET_MS = 1250;

const SEEDS: readonly Buffer[] = [
  ...KMIP_1_1_MESSAGES.map((m) => m.bytes),
  encodeTtlv(getRequest()),
  encodeTtlv(getResponseAes256()),
];

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'length'; at: number; value: number }
  | { kind: 'type'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const INTERESTING_LENGTHS = [0, 1, 4, 7, 8, 9, 16, 0x7fffffff, 0x80000000, 0xfffffff8, 0xffffffff];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('length' as const),
    // Item headers sit at multiples of 8; their length field is bytes 4..7.
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...INTERESTING_LENGTHS), fc.integer({ min: 0, max: 0xffffffff })),
  }),
  fc.record({ kind: fc.constant('type' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 0x0d }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
);

function mutate(seed: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    const header = at - (at % 8);
    switch (m.kind) {
      case 'flip':
        b[at] = (b[at] ?? 0) ^ (1 << m.bit);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'length':
        if (header + 8 <= b.length) b.writeUInt32BE(m.value, header + 4);
        break;
      case 'type':
        if (header + 4 <= b.length) b[header + 3] = m.value;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
    }
  }
  return b;
}

const mutatedArb = fc
  .tuple(fc.constantFrom(...SEEDS), fc.array(mutationArb, { minLength: 1, maxLength: 4 }))
  .map(([seed, ms]) => mutate(seed, ms));

/** Random bytes behind a header that passes the first checks, so decoding gets past byte 0. */
const plausibleArb = fc
  .tuple(fc.integer({ min: 1, max: 0x0b }), fc.uint8Array({ maxLength: 200 }))
  .map(([type, body]) => {
    const b = Buffer.alloc(8 + body.length);
    b.writeUInt32BE(0x42007800 | type, 0);
    b.writeUInt32BE(body.length, 4);
    b.set(body, 8);
    return b;
  });

const randomArb = fc.uint8Array({ maxLength: 256 }).map((u) => Buffer.from(u));

function checkDecode(bytes: Uint8Array): void {
  let item;
  try {
    item = decodeTtlv(bytes, { maxMessageBytes: 4096 });
  } catch (e) {
    if (!(e instanceof TtlvError)) throw e;
    assert.ok(e.offset >= 0 && e.offset <= bytes.length, `offset ${e.offset} outside input of ${bytes.length}`);
    return;
  }
  // Accepted input must be a consistent tree: it re-encodes and decodes to itself.
  assert.deepEqual(decodeTtlv(encodeTtlv(item)), item);
}

function checkFramer(bytes: Buffer, cuts: readonly number[]): void {
  const framer = new TtlvFramer({ maxMessageBytes: 4096 });
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  let framed = 0;
  try {
    for (const p of [...points, bytes.length]) {
      for (const frame of framer.push(bytes.subarray(prev, p))) {
        assert.ok(frame.equals(bytes.subarray(framed, framed + frame.length)), 'frame is not the next slice of the stream');
        framed += frame.length;
        checkDecode(frame);
      }
      prev = p;
    }
  } catch (e) {
    if (!(e instanceof TtlvError)) throw e;
    return;
  }
  assert.equal(framed + framer.buffered, bytes.length);
}

const budget = { numRuns: 10_000_000, interruptAfterTimeLimit: TIME_BUDGET_MS, markInterruptAsFailure: false };

describe('TTLV fuzz (time-boxed)', () => {
  test('decode of mutated valid messages throws only TtlvError', () => {
    fc.assert(fc.property(mutatedArb, checkDecode), budget);
  });
  test('decode of random bytes (raw and behind a plausible header) throws only TtlvError', () => {
    fc.assert(fc.property(fc.oneof(randomArb, plausibleArb), checkDecode), budget);
  });
  test('framer fed mutated messages in random chunks throws only TtlvError', () => {
    fc.assert(fc.property(mutatedArb, fc.array(fc.nat(), { maxLength: 8 }), checkFramer), budget);
  });
  test('framer fed random bytes in random chunks throws only TtlvError', () => {
    fc.assert(fc.property(fc.oneof(randomArb, plausibleArb), fc.array(fc.nat(), { maxLength: 8 }), checkFramer), budget);
  });
});
