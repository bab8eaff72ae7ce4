/**
 * Record serialisation (src/vault/codec.ts), key layouts (src/vault/keys.ts) and UIDs
 * (src/vault/uid.ts): the byte-level contracts that docs/vault.md describes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tag } from '../../src/kmip/registry.generated.js';
import { bigInt, bool, bytes, dateTime, enumeration, int, interval, long, structure, text } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import {
  decodeAttributes, decodeItem, decodeRecordValue, encodeAttributes, encodeAttributesJson, encodeItem, encodeRecordValue, RECORD_FORMAT_V1,
} from '../../src/vault/codec.js';
import { VaultError } from '../../src/vault/errors.js';
import { enumIndexPrefix, objectKey, prefixEnd, tenantPrefix, textIndexPrefix } from '../../src/vault/keys.js';
import { MAX_ATTRIBUTE_DEPTH, MAX_ATTRIBUTES_PER_RECORD, MAX_INLINE_INDEX_TEXT_BYTES } from '../../src/vault/limits.js';
import { newUid, UUID_PATTERN } from '../../src/vault/uid.js';

const isCode = (code: string) => (e: unknown): boolean => e instanceof VaultError && e.code === code;

describe('JSON-safe attribute encoding', () => {
  test('the documented compact form', () => {
    const name = structure(Tag.Name, [text(Tag.NameValue, 'k1'), enumeration(Tag.NameType, 1)]);
    assert.deepEqual(encodeItem(name), [0x420053, 1, [[0x420055, 7, 'k1'], [0x420054, 5, 1]]]);
    assert.deepEqual(encodeItem(long(Tag.AttributeValue, -(1n << 63n))), [0x42000b, 3, '-9223372036854775808']);
    assert.deepEqual(encodeItem(bytes(Tag.AttributeValue, Uint8Array.from([0xde, 0xad, 0xbe, 0xef]))), [0x42000b, 8, '3q2+7w==']);
    assert.deepEqual(encodeAttributes([{ name: 'x-a', index: 2, value: int(Tag.AttributeValue, -5) }]), [['x-a', [0x42000b, 2, -5], 2]]);
  });

  test('survives JSON.stringify/parse exactly, bigint and bytes included', () => {
    const items: TtlvItem[] = [
      bigInt(Tag.AttributeValue, (1n << 4000n) - 1n),
      bigInt(Tag.AttributeValue, -(1n << 200n)),
      dateTime(Tag.InitialDate, (1n << 63n) - 1n),
      bytes(Tag.AttributeValue, new Uint8Array(Array.from({ length: 256 }, (_, i) => i))),
      structure(Tag.AttributeValue, [structure(Tag.AttributeValue, [text(Tag.AttributeValue, '')])]),
    ];
    for (const item of items) {
      const back = decodeItem(JSON.parse(JSON.stringify(encodeItem(item))));
      assert.deepEqual(normalise(back), normalise(item));
    }
  });

  test('the record writer produces exactly JSON.stringify of the compact form (issue 14: written without it)', () => {
    const attrs = [
      { name: 'Name', value: structure(Tag.Name, [text(Tag.NameValue, 'k "1" \\ \n\u0001 é 🔑 \uD800'), enumeration(Tag.NameType, 1)]) },
      { name: 'x-ünïcode "quoted"', index: 3, value: int(Tag.AttributeValue, -2147483648) },
      { name: 'State', value: enumeration(Tag.State, 0xffffffff) },
      { name: 'Lease Time', value: interval(Tag.LeaseTime, 0) },
      { name: 'Fresh', value: bool(Tag.Fresh, false) },
      { name: 'Sensitive', value: bool(Tag.Sensitive, true) },
      { name: 'Initial Date', value: dateTime(Tag.InitialDate, -(1n << 63n)) },
      { name: 'x-big', value: bigInt(Tag.AttributeValue, -(1n << 300n)) },
      { name: 'x-long', value: long(Tag.AttributeValue, 0n) },
      { name: 'Digest', value: structure(Tag.Digest, [bytes(Tag.DigestValue, Uint8Array.from([0xfb, 0xff, 0xfe])), structure(Tag.AttributeValue, [])]) },
    ];
    assert.equal(encodeAttributesJson(attrs), JSON.stringify(encodeAttributes(attrs)));
    assert.equal(encodeAttributesJson([]), '[]');
    const record = encodeRecordValue({ objectType: 2, state: 1, materialVersion: 0, attributes: attrs, envelope: undefined });
    const plain = (list: readonly { name: string; index?: number; value: TtlvItem }[]): unknown => list.map((a) => ({ ...a, value: normalise(a.value) }));
    assert.deepEqual(plain(decodeRecordValue(record).attributes), plain(attrs));
    assert.throws(() => encodeAttributesJson([{ name: '', value: int(Tag.AttributeValue, 1) }]), isCode('INVALID_RECORD'));
    assert.throws(() => encodeAttributesJson([{ name: 'x', index: -1, value: int(Tag.AttributeValue, 1) }]), isCode('INVALID_RECORD'));
  });

  test('refuses values outside their TTLV type on the way in', () => {
    assert.throws(() => encodeItem(int(Tag.AttributeValue, 2 ** 31)), isCode('INVALID_RECORD'));
    assert.throws(() => encodeItem(int(Tag.AttributeValue, 1.5)), isCode('INVALID_RECORD'));
    assert.throws(() => encodeItem(enumeration(Tag.AttributeValue, -1)), isCode('INVALID_RECORD'));
    assert.throws(() => encodeItem(long(Tag.AttributeValue, 1n << 63n)), isCode('INVALID_RECORD'));
    assert.throws(() => encodeItem({ tag: 0x1000000, type: 7, value: 'x' }), isCode('INVALID_RECORD'));
    assert.throws(() => encodeItem(bigInt(Tag.AttributeValue, 10n ** 5000n)), isCode('LIMIT_EXCEEDED'));
  });

  test(`nesting is capped at ${MAX_ATTRIBUTE_DEPTH} levels`, () => {
    const nest = (n: number): TtlvItem => (n === 1 ? text(Tag.AttributeValue, 'leaf') : structure(Tag.AttributeValue, [nest(n - 1)]));
    assert.doesNotThrow(() => encodeItem(nest(MAX_ATTRIBUTE_DEPTH)));
    assert.throws(() => encodeItem(nest(MAX_ATTRIBUTE_DEPTH + 1)), isCode('LIMIT_EXCEEDED'));
    let deep: unknown = [0x42000b, 7, 'leaf'];
    for (let i = 0; i < MAX_ATTRIBUTE_DEPTH; i++) deep = [0x42000b, 1, [deep]];
    assert.throws(() => decodeItem(deep), isCode('CORRUPT'));
  });

  test(`at most ${MAX_ATTRIBUTES_PER_RECORD} attributes per record`, () => {
    const attr = { name: 'x-n', value: int(Tag.AttributeValue, 1) };
    assert.equal(encodeAttributes(Array.from({ length: MAX_ATTRIBUTES_PER_RECORD }, () => attr)).length, MAX_ATTRIBUTES_PER_RECORD);
    assert.throws(() => encodeAttributes(Array.from({ length: MAX_ATTRIBUTES_PER_RECORD + 1 }, () => attr)), isCode('LIMIT_EXCEEDED'));
  });

  test('corrupt stored forms are CORRUPT, never a wrong value', () => {
    for (const bad of [
      null, [], [1, 2], [0x42000b, 99, 1], [0x42000b, 2, 2 ** 31], [0x42000b, 2, '1'], [0x42000b, 3, '1.5'],
      [0x42000b, 3, '9223372036854775808'], [0x42000b, 3, '007'], [0x42000b, 8, 'not base64!'], [0x42000b, 6, 1],
      [0x42000b, 1, 'x'], [-1, 7, 'x'],
    ]) {
      assert.throws(() => decodeItem(bad), isCode('CORRUPT'), JSON.stringify(bad));
    }
    assert.throws(() => decodeAttributes([['', [0x42000b, 7, 'x']]]), isCode('CORRUPT'));
    assert.throws(() => decodeAttributes([['n', [0x42000b, 7, 'x'], -1]]), isCode('CORRUPT'));
    assert.throws(() => decodeAttributes({}), isCode('CORRUPT'));
  });
});

describe('record value layout', () => {
  test('header fields, JSON attributes, then the envelope', () => {
    const env = Buffer.from('ENVELOPE');
    const v = encodeRecordValue({ objectType: 2, state: 1, materialVersion: 3, attributes: [{ name: 'x-t', value: text(Tag.AttributeValue, 'hi') }], envelope: env });
    const json = '[["x-t",[4325387,7,"hi"]]]';
    assert.equal(v[0], RECORD_FORMAT_V1);
    assert.equal(v.readUInt32BE(1), 2);
    assert.equal(v.readUInt32BE(5), 1);
    assert.equal(v.readUInt32BE(9), 3);
    assert.equal(v.readUInt32BE(13), json.length);
    assert.equal(v.toString('utf8', 17, 17 + json.length), json);
    assert.deepEqual(v.subarray(17 + json.length), env);
    const back = decodeRecordValue(v);
    assert.deepEqual({ ...back, envelope: back.envelope?.toString() }, {
      objectType: 2, state: 1, materialVersion: 3, attributes: [{ name: 'x-t', value: text(Tag.AttributeValue, 'hi') }], envelope: 'ENVELOPE',
    });
    assert.equal(decodeRecordValue(encodeRecordValue({ objectType: 2, state: 1, materialVersion: 0, attributes: [], envelope: undefined })).envelope, undefined);
  });

  test('unknown format byte is UNSUPPORTED_FORMAT; truncation and bad JSON are CORRUPT', () => {
    const v = encodeRecordValue({ objectType: 2, state: 1, materialVersion: 0, attributes: [], envelope: undefined });
    const newer = Buffer.from(v);
    newer[0] = 2;
    assert.throws(() => decodeRecordValue(newer), isCode('UNSUPPORTED_FORMAT'));
    assert.throws(() => decodeRecordValue(v.subarray(0, 10)), isCode('CORRUPT'));
    const longLen = Buffer.from(v);
    longLen.writeUInt32BE(1000, 13);
    assert.throws(() => decodeRecordValue(longLen), isCode('CORRUPT'));
    const badJson = Buffer.concat([v.subarray(0, 13), Buffer.from([0, 0, 0, 1]), Buffer.from('{')]);
    assert.throws(() => decodeRecordValue(badJson), isCode('CORRUPT'));
  });
});

describe('key layout', () => {
  test('tenant prefix is length-prefixed; object key is prefix ‖ uid', () => {
    assert.deepEqual(tenantPrefix('ab'), Buffer.from([2, 0x61, 0x62]));
    assert.deepEqual(objectKey('ab', 'c'), Buffer.from([2, 0x61, 0x62, 0x63]));
    assert.notDeepEqual(objectKey('a', 'bc'), objectKey('ab', 'c'));
    assert.deepEqual(enumIndexPrefix('a', 0x01020304), Buffer.from([1, 0x61, 1, 2, 3, 4]));
  });

  test(`index text is inline up to ${MAX_INLINE_INDEX_TEXT_BYTES} bytes, hashed beyond`, () => {
    const inline = 'n'.repeat(MAX_INLINE_INDEX_TEXT_BYTES);
    assert.equal(textIndexPrefix('t', inline).length, 2 + 2 + MAX_INLINE_INDEX_TEXT_BYTES);
    const hashed = textIndexPrefix('t', inline + 'n');
    assert.equal(hashed.length, 2 + 2 + 32);
    assert.equal(hashed.readUInt16BE(2), 0xffff);
    assert.notDeepEqual(textIndexPrefix('t', 'n'.repeat(600)), textIndexPrefix('t', 'n'.repeat(601)));
  });

  test('prefixEnd is the exclusive upper bound of the prefix range', () => {
    assert.deepEqual(prefixEnd(Buffer.from([1, 2, 3])), Buffer.from([1, 2, 4]));
    assert.deepEqual(prefixEnd(Buffer.from([1, 0xff, 0xff])), Buffer.from([2]));
    const p = enumIndexPrefix('t', 0xffffffff);
    const end = prefixEnd(p);
    assert.ok(Buffer.compare(Buffer.concat([p, Buffer.from('zzz')]), end) < 0);
    assert.throws(() => prefixEnd(Buffer.from([0xff])), RangeError);
  });
});

describe('UUIDv7 uids', () => {
  test('RFC 9562 version and variant bits, timestamp prefix', () => {
    const now = Date.UTC(2030, 0, 1);
    const u = newUid(now + 1000);
    assert.match(u, UUID_PATTERN);
    assert.equal(u[14], '7');
    assert.ok('89ab'.includes(u[19] ?? ''));
    assert.equal(Number.parseInt(u.slice(0, 8) + u.slice(9, 13), 16), now + 1000);
  });

  test('strictly increasing within a process, even within one millisecond and past counter overflow', () => {
    let prev = newUid();
    const t = Date.now() + 10_000;
    for (let i = 0; i < 10_000; i++) {
      const u = newUid(t); // same millisecond every time: 4096-per-ms counter must roll over into the next ms
      assert.ok(u > prev, `${u} <= ${prev}`);
      prev = u;
    }
  });
});

function normalise(v: TtlvItem): unknown {
  if (v.value instanceof Uint8Array) return { ...v, value: [...v.value] };
  if (Array.isArray(v.value)) return { ...v, value: v.value.map(normalise) };
  return v;
}
