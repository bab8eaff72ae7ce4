/**
 * Property round trips (fast-check): any encodable TTLV tree survives
 *   TTLV → XML text → TTLV  and  TTLV → JSON text → TTLV,
 * and the binary codec agrees with the tree the text encodings rebuild. Trees mix known tags
 * (with enumerations, masks, the 1.x Attribute Name/Value context) with extension tags and
 * values at the edges of every type's range.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ttlvToXmlString, xmlStringToTtlv } from '../../src/kmip/encodings/xml.js';
import { jsonStringToTtlv, ttlvToJsonString } from '../../src/kmip/encodings/json.js';
import { encodeTtlv } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { Tag } from '../../src/kmip/registry.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Tags for leaves: some with enumerations/masks, some plain, some extensions. */
const leafTag = fc.oneof(
  fc.constantFrom(
    Tag.Operation,
    Tag.State,
    Tag.ObjectType,
    Tag.CryptographicAlgorithm,
    Tag.AttributeReference,
    Tag.CryptographicUsageMask,
    Tag.StorageStatusMask,
    Tag.BatchCount,
    Tag.UniqueIdentifier,
    Tag.Data,
    Tag.ActivationDate,
    Tag.Modulus,
    Tag.ExtensionType,
  ),
  fc.integer({ min: 0x540000, max: 0x54ffff }),
);

/** Random big integers, plus the two's-complement width edges ±2^k and ±2^k - 1. */
const bigIntegerValue = fc.oneof(
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
  fc.tuple(fc.oneof(fc.constantFrom(7, 8, 63, 64, 127, 128, 191, 192), fc.integer({ min: 0, max: 200 })), fc.constantFrom(-1n, 0n), fc.boolean()).map(([k, d, neg]) => (neg ? -(2n ** BigInt(k)) + d : 2n ** BigInt(k) + d)),
);

const text = fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !s.includes('\u0000'));

const leaf: fc.Arbitrary<TtlvItem> = fc.oneof(
  fc.record({ tag: leafTag, type: fc.constant(ItemType.Integer), value: fc.integer({ min: -0x80000000, max: 0x7fffffff }) }),
  fc.record({ tag: leafTag, type: fc.constant(ItemType.LongInteger), value: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }) }),
  fc.record({ tag: leafTag, type: fc.constant(ItemType.BigInteger), value: bigIntegerValue }),
  fc.record({ tag: leafTag, type: fc.constant(ItemType.Enumeration), value: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffffffff })) }),
  fc.record({ tag: leafTag, type: fc.constant(ItemType.Boolean), value: fc.boolean() }),
  fc.record({ tag: leafTag, type: fc.constant(ItemType.TextString), value: text }),
  fc.record({ tag: leafTag, type: fc.constant(ItemType.ByteString), value: fc.uint8Array({ maxLength: 24 }) }),
  fc.record({ tag: leafTag, type: fc.constant(ItemType.DateTime), value: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }) }),
  fc.record({ tag: leafTag, type: fc.constant(ItemType.Interval), value: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ tag: leafTag, type: fc.constant(ItemType.DateTimeExtended), value: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }) }),
)
  // fc.record builds null-prototype objects; the codecs build plain ones.
  .map((r) => ({ ...r }));

/** A 1.x Attribute whose value's spelling comes from its name. */
const attribute: fc.Arbitrary<TtlvItem> = fc
  .tuple(
    fc.constantFrom('State', 'Cryptographic Algorithm', 'Cryptographic Usage Mask', 'Object Type', 'x-custom', 'Cryptographic Length'),
    fc.oneof(
      fc.record({ tag: fc.constant(Tag.AttributeValue), type: fc.constant(ItemType.Enumeration), value: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({ tag: fc.constant(Tag.AttributeValue), type: fc.constant(ItemType.Integer), value: fc.integer({ min: -0x80000000, max: 0x7fffffff }) }),
    ),
  )
  .map(([name, value]): TtlvItem => ({
    tag: Tag.Attribute,
    type: ItemType.Structure,
    value: [{ tag: Tag.AttributeName, type: ItemType.TextString, value: name }, { ...value }],
  }));

const tree = fc.letrec<{ node: TtlvItem }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    attribute,
    fc.record({
      tag: fc.oneof(fc.constantFrom(Tag.RequestPayload, Tag.BatchItem, Tag.TemplateAttribute), fc.integer({ min: 0x540000, max: 0x54ffff })),
      type: fc.constant(ItemType.Structure),
      value: fc.array(tie('node'), { maxLength: 5 }),
    }).map((r) => ({ ...r })) as fc.Arbitrary<TtlvItem>,
  ),
})).node;

test('TTLV → XML text → TTLV is the identity, and agrees with the binary codec', () => {
  fc.assert(
    fc.property(tree, (item) => {
      const back = xmlStringToTtlv(ttlvToXmlString(item));
      assert.deepEqual(back, item);
      assert.deepEqual(decodeTtlv(encodeTtlv(back), { maxDepth: 64 }), back);
    }),
    { numRuns: 300 },
  );
});

test('TTLV → JSON text → TTLV is the identity', () => {
  fc.assert(
    fc.property(tree, (item) => {
      assert.deepEqual(jsonStringToTtlv(ttlvToJsonString(item)), item);
    }),
    { numRuns: 300 },
  );
});

test('text containing U+0000 goes through JSON but is refused by XML with a clear error', () => {
  const item: TtlvItem = { tag: Tag.ResultMessage, type: ItemType.TextString, value: 'a\u0000b' };
  assert.deepEqual(jsonStringToTtlv(ttlvToJsonString(item)), item);
  assert.throws(() => ttlvToXmlString(item), /U\+0000, which XML cannot represent/);
});
