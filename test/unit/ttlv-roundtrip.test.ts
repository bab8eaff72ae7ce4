/**
 * Property-based round trip (fast-check): arbitrary trees of every item type, nested,
 * satisfy decode(encode(x)) deep-equals x, and re-encoding is byte-identical.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { TtlvFramer } from '@openkcm/ttlv';
import { ItemType, type StructureItem, type TtlvItem } from '@openkcm/ttlv';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const tagArb = fc.oneof(
  fc.integer({ min: 0x420000, max: 0x42ffff }),
  fc.integer({ min: 0x540000, max: 0x54ffff }),
);

/** fc.record, but producing plain objects (as decode does), so deepEqual compares like with like. */
function plainRecord<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

const leafArb: fc.Arbitrary<TtlvItem> = fc.oneof(
  plainRecord({ tag: tagArb, type: fc.constant(ItemType.Integer), value: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
  plainRecord({ tag: tagArb, type: fc.constant(ItemType.LongInteger), value: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }) }),
  plainRecord({
    tag: tagArb,
    type: fc.constant(ItemType.BigInteger),
    value: fc.oneof(fc.bigInt({ min: -300n, max: 300n }), fc.bigInt({ min: -(2n ** 520n), max: 2n ** 520n })),
  }),
  plainRecord({ tag: tagArb, type: fc.constant(ItemType.Enumeration), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  plainRecord({ tag: tagArb, type: fc.constant(ItemType.Boolean), value: fc.boolean() }),
  plainRecord({
    tag: tagArb,
    type: fc.constant(ItemType.TextString),
    value: fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 })),
  }),
  plainRecord({ tag: tagArb, type: fc.constant(ItemType.ByteString), value: fc.uint8Array({ maxLength: 100 }) }),
  plainRecord({ tag: tagArb, type: fc.constant(ItemType.DateTime), value: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }) }),
  plainRecord({ tag: tagArb, type: fc.constant(ItemType.Interval), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  plainRecord({ tag: tagArb, type: fc.constant(ItemType.DateTimeExtended), value: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }) }),
);

/** Arbitrary TTLV trees: leaves of every type and Structures nested up to `maxDepth`. */
const itemArb: fc.Arbitrary<TtlvItem> = fc.letrec<{ item: TtlvItem; struct: StructureItem }>((tie) => ({
  item: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leafArb, tie('struct')),
  struct: plainRecord({
    tag: tagArb,
    type: fc.constant(ItemType.Structure),
    value: fc.array(tie('item'), { maxLength: 6 }),
  }),
})).item;

const messageArb: fc.Arbitrary<StructureItem> = plainRecord({
  tag: tagArb,
  type: fc.constant(ItemType.Structure),
  value: fc.array(itemArb, { maxLength: 6 }),
});

describe('TTLV round trip (property)', () => {
  test('decode(encode(x)) equals x, and re-encoding is byte-identical', () => {
    fc.assert(
      fc.property(itemArb, (item) => {
        const wire = encodeTtlv(item);
        assert.equal(wire.length % 8, 0);
        const back = decodeTtlv(wire, { maxDepth: 1024 });
        assert.deepEqual(back, item);
        assert.deepEqual(encodeTtlv(back), wire);
      }),
      { numRuns: 500 },
    );
  });

  test('Big Integers are encoded in the minimal sign-extended width (KMIP 1.4 §9.1.1.4)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 600n), max: 2n ** 600n }), (v) => {
        const wire = encodeTtlv({ tag: 0x420020, type: ItemType.BigInteger, value: v });
        const width = wire.readUInt32BE(4);
        assert.equal(width % 8, 0);
        assert.ok(width >= 8);
        // Minimal: dropping the first 8 bytes would no longer hold the value.
        const min = -(1n << BigInt((width - 8) * 8 - 1));
        const max = (1n << BigInt((width - 8) * 8 - 1)) - 1n;
        assert.ok(width === 8 || v < min || v > max, `width ${width} is not minimal for ${v}`);
        assert.equal(decodeTtlv(wire).value, v);
      }),
      { numRuns: 300 },
    );
  });

  test('messages survive arbitrary chunking through the framer', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
        const wires = msgs.map((m) => encodeTtlv(m));
        const stream = Buffer.concat(wires);
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const framer = new TtlvFramer();
        const frames: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          frames.push(...framer.push(stream.subarray(prev, p)));
          prev = p;
        }
        assert.equal(frames.length, wires.length);
        frames.forEach((f, i) => {
          assert.ok(f.equals(wires[i]!));
        });
        assert.equal(framer.buffered, 0);
      }),
      { numRuns: 300 },
    );
  });
});
