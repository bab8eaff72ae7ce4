/**
 * Serialisation of vault records: a compact, JSON-safe form of TTLV attribute values, and the
 * binary record value stored under each object key. docs/vault.md ("Record format") is the
 * normative description; change both together and bump RECORD_FORMAT_V1.
 *
 * Why JSON-safe attributes: the same encoding serves the LMDB value, backups/exports and
 * debugging dumps (`JSON.stringify` round-trips it exactly), and it does not depend on any
 * serialiser library's wire format. TTLV types that JSON cannot carry get a string form:
 * 64-bit and big integers as decimal strings (no rounding, KMIP 1.4 §9.1.1.4 Long Integer is
 * signed 64-bit), byte strings as base64.
 */
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import type { KmipAttribute } from '../kmip/attributes.js';
import { VaultError } from './errors.js';
import { MAX_ATTRIBUTE_DEPTH, MAX_ATTRIBUTES_PER_RECORD, MAX_BIGINT_DIGITS, MAX_METADATA_BYTES } from './limits.js';

/** `[tag, itemType, value]`; value per type as described in docs/vault.md. */
export type EncodedItem = [tag: number, type: number, value: EncodedValue];
export type EncodedValue = number | string | boolean | EncodedItem[];
/** `[name, value]` or `[name, value, attributeIndex]` (1.x Attribute Index, KMIP 1.4 §2.1.1). */
export type EncodedAttribute = [name: string, value: EncodedItem] | [name: string, value: EncodedItem, index: number];

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const UINT32_MAX = 0xffffffff;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const MAX_TAG = 0xffffff;
const DECIMAL = /^-?(0|[1-9][0-9]*)$/;
const EMPTY = Buffer.alloc(0);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function invalid(msg: string): VaultError {
  return new VaultError('INVALID_RECORD', msg);
}
function corrupt(msg: string): VaultError {
  return new VaultError('CORRUPT', `stored record does not decode: ${msg}`);
}

function isUint32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= UINT32_MAX;
}

// ---- TTLV item <-> JSON-safe ------------------------------------------------------------------

/** Refuses an item nested too deep or with a tag that is not 24 bits (both encoders). */
function checkItem(item: TtlvItem, depth: number): void {
  if (depth >= MAX_ATTRIBUTE_DEPTH) throw new VaultError('LIMIT_EXCEEDED', `attribute value nests deeper than ${MAX_ATTRIBUTE_DEPTH}`);
  if (!Number.isInteger(item.tag) || item.tag < 0 || item.tag > MAX_TAG) throw invalid(`tag ${item.tag} is not a 24-bit value`);
}

/** The JSON-safe value of a non-Structure item, checked against its TTLV type (docs/vault.md "Record format"). */
function encodedScalar(item: Exclude<TtlvItem, { type: typeof ItemType.Structure }>): number | string | boolean {
  switch (item.type) {
    case ItemType.Integer:
      if (!Number.isInteger(item.value) || item.value < INT32_MIN || item.value > INT32_MAX) throw invalid(`Integer ${item.value} out of int32 range`);
      return item.value;
    case ItemType.Enumeration:
    case ItemType.Interval:
      if (!isUint32(item.value)) throw invalid(`Enumeration/Interval ${String(item.value)} out of uint32 range`);
      return item.value;
    case ItemType.LongInteger:
    case ItemType.DateTime:
    case ItemType.DateTimeExtended:
      if (typeof item.value !== 'bigint' || item.value < INT64_MIN || item.value > INT64_MAX) throw invalid('64-bit value out of int64 range');
      return item.value.toString();
    case ItemType.BigInteger: {
      if (typeof item.value !== 'bigint') throw invalid('Big Integer value is not a bigint');
      const s = item.value.toString();
      if (s.length > MAX_BIGINT_DIGITS + 1) throw new VaultError('LIMIT_EXCEEDED', `Big Integer longer than ${MAX_BIGINT_DIGITS} digits`);
      return s;
    }
    case ItemType.Boolean:
      if (typeof item.value !== 'boolean') throw invalid('Boolean value is not a boolean');
      return item.value;
    case ItemType.TextString:
      if (typeof item.value !== 'string') throw invalid('Text String value is not a string');
      return item.value;
    case ItemType.ByteString:
      if (!(item.value instanceof Uint8Array)) throw invalid('Byte String value is not a Uint8Array');
      return Buffer.from(item.value.buffer, item.value.byteOffset, item.value.byteLength).toString('base64');
    default:
      throw invalid(`unknown item type ${String((item as { type: unknown }).type)}`);
  }
}

export function encodeItem(item: TtlvItem, depth = 0): EncodedItem {
  checkItem(item, depth);
  if (item.type === ItemType.Structure) return [item.tag, item.type, item.value.map((c) => encodeItem(c, depth + 1))];
  return [item.tag, item.type, encodedScalar(item)];
}

/**
 * `JSON.stringify(encodeItem(item))`, written directly: JSON.stringify over the nested arrays took its slow array
 * path and looked up `toJSON` on every array, about an eighth of a Create's instructions (issue 14). Only text
 * needs JSON escaping; decimal and base64 strings never do.
 */
function itemJson(item: TtlvItem, depth: number): string {
  checkItem(item, depth);
  const head = `[${String(item.tag)},${String(item.type)},`;
  if (item.type === ItemType.Structure) {
    let out = `${head}[`;
    for (let i = 0; i < item.value.length; i++) out += (i === 0 ? '' : ',') + itemJson(item.value[i] as TtlvItem, depth + 1);
    return `${out}]]`;
  }
  const v = encodedScalar(item);
  if (typeof v !== 'string') return `${head}${String(v)}]`;
  return item.type === ItemType.TextString ? `${head}${JSON.stringify(v)}]` : `${head}"${v}"]`;
}

export function decodeItem(x: unknown, depth = 0): TtlvItem {
  if (depth >= MAX_ATTRIBUTE_DEPTH) throw corrupt(`attribute value nests deeper than ${MAX_ATTRIBUTE_DEPTH}`);
  if (!Array.isArray(x) || x.length !== 3) throw corrupt('item is not a [tag, type, value] triple');
  const [tag, type, v] = x as [unknown, unknown, unknown];
  if (typeof tag !== 'number' || !Number.isInteger(tag) || tag < 0 || tag > MAX_TAG) throw corrupt('bad tag');
  switch (type) {
    case ItemType.Structure:
      if (!Array.isArray(v)) throw corrupt('Structure value is not an array');
      return { tag, type, value: v.map((c: unknown) => decodeItem(c, depth + 1)) };
    case ItemType.Integer:
      if (typeof v !== 'number' || !Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) throw corrupt('bad Integer');
      return { tag, type, value: v };
    case ItemType.Enumeration:
    case ItemType.Interval:
      if (!isUint32(v)) throw corrupt('bad Enumeration/Interval');
      return { tag, type, value: v };
    case ItemType.LongInteger:
    case ItemType.DateTime:
    case ItemType.DateTimeExtended:
    case ItemType.BigInteger: {
      if (typeof v !== 'string' || v.length > MAX_BIGINT_DIGITS + 1 || !DECIMAL.test(v)) throw corrupt('bad integer string');
      const value = BigInt(v);
      if (type !== ItemType.BigInteger && (value < INT64_MIN || value > INT64_MAX)) throw corrupt('64-bit value out of range');
      return { tag, type, value };
    }
    case ItemType.Boolean:
      if (typeof v !== 'boolean') throw corrupt('bad Boolean');
      return { tag, type, value: v };
    case ItemType.TextString:
      if (typeof v !== 'string') throw corrupt('bad Text String');
      return { tag, type, value: v };
    case ItemType.ByteString:
      if (typeof v !== 'string' || !BASE64.test(v)) throw corrupt('bad Byte String');
      return { tag, type, value: Buffer.from(v, 'base64') };
    default:
      throw corrupt(`unknown item type ${String(type)}`);
  }
}

// ---- attributes ---------------------------------------------------------------------------------

function checkAttributeCount(attrs: readonly KmipAttribute[]): void {
  if (attrs.length > MAX_ATTRIBUTES_PER_RECORD) {
    throw new VaultError('LIMIT_EXCEEDED', `${attrs.length} attributes exceed the limit of ${MAX_ATTRIBUTES_PER_RECORD} per record`);
  }
}

function checkAttributeName(a: KmipAttribute): void {
  if (typeof a.name !== 'string' || a.name.length === 0) throw invalid('attribute name must be a non-empty string');
}

function checkedIndex(index: number): number {
  if (!Number.isInteger(index) || index < 0 || index > INT32_MAX) throw invalid(`attribute index ${index} is not a non-negative int32`);
  return index;
}

export function encodeAttributes(attrs: readonly KmipAttribute[]): EncodedAttribute[] {
  checkAttributeCount(attrs);
  return attrs.map((a): EncodedAttribute => {
    checkAttributeName(a);
    const v = encodeItem(a.value);
    return a.index === undefined ? [a.name, v] : [a.name, v, checkedIndex(a.index)];
  });
}

/** `JSON.stringify(encodeAttributes(attrs))`, with the same checks, built without the intermediate arrays. */
export function encodeAttributesJson(attrs: readonly KmipAttribute[]): string {
  checkAttributeCount(attrs);
  let out = '[';
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i] as KmipAttribute;
    checkAttributeName(a);
    out += `${i === 0 ? '' : ','}[${JSON.stringify(a.name)},${itemJson(a.value, 0)}`;
    out += a.index === undefined ? ']' : `,${String(checkedIndex(a.index))}]`;
  }
  return `${out}]`;
}

export function decodeAttributes(x: unknown): KmipAttribute[] {
  if (!Array.isArray(x)) throw corrupt('attributes are not an array');
  if (x.length > MAX_ATTRIBUTES_PER_RECORD) throw corrupt('too many attributes');
  return x.map((e: unknown): KmipAttribute => {
    if (!Array.isArray(e) || (e.length !== 2 && e.length !== 3)) throw corrupt('attribute is not [name, value, index?]');
    const [name, value, index] = e as [unknown, unknown, unknown];
    if (typeof name !== 'string' || name.length === 0) throw corrupt('bad attribute name');
    const attr: KmipAttribute = { name, value: decodeItem(value) };
    if (e.length === 3) {
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > INT32_MAX) throw corrupt('bad attribute index');
      attr.index = index;
    }
    return attr;
  });
}

// ---- record value -------------------------------------------------------------------------------

/** Format byte of the record value; an unknown one means a newer writer (refuse, never guess). */
export const RECORD_FORMAT_V1 = 0x01;
const RECORD_HEADER_BYTES = 17;

/** The decoded value stored under an object key (tenant and uid live in the key). */
export interface RecordValue {
  objectType: number;
  state: number;
  /** 0 = the object never had material; otherwise the AAD version of `envelope` (or of the destroyed one). */
  materialVersion: number;
  attributes: KmipAttribute[];
  /** Sealed material envelope; undefined when there is none (e.g. after Destroy). */
  envelope: Buffer | undefined;
}

/**
 * Record value layout, format 1 (big-endian):
 *   u8 format=1 | u32 objectType | u32 state | u32 materialVersion | u32 M | M bytes JSON attributes | envelope (rest, may be empty)
 */
export function encodeRecordValue(r: { objectType: number; state: number; materialVersion: number; attributes: readonly KmipAttribute[]; envelope: Uint8Array | undefined }): Buffer {
  for (const [n, v] of [['objectType', r.objectType], ['state', r.state], ['materialVersion', r.materialVersion]] as const) {
    if (!isUint32(v)) throw invalid(`${n} must be a uint32, got ${String(v)}`);
  }
  const json = encodeAttributesJson(r.attributes);
  // Measured, then written straight into the record (no intermediate buffer and copy: issue 14).
  const m = Buffer.byteLength(json, 'utf8');
  if (m > MAX_METADATA_BYTES) {
    throw new VaultError('LIMIT_EXCEEDED', `encoded attributes are ${m} bytes, over the limit of ${MAX_METADATA_BYTES}`);
  }
  const env = r.envelope ?? EMPTY;
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + m + env.length);
  out[0] = RECORD_FORMAT_V1;
  out.writeUInt32BE(r.objectType, 1);
  out.writeUInt32BE(r.state, 5);
  out.writeUInt32BE(r.materialVersion, 9);
  out.writeUInt32BE(m, 13);
  out.write(json, RECORD_HEADER_BYTES, m, 'utf8');
  out.set(env, RECORD_HEADER_BYTES + m);
  return out;
}

export function decodeRecordValue(b: Uint8Array): RecordValue {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < RECORD_HEADER_BYTES) throw corrupt(`value of ${buf.length} bytes is shorter than the record header`);
  if (buf[0] !== RECORD_FORMAT_V1) {
    throw new VaultError('UNSUPPORTED_FORMAT', `record format ${buf[0] ?? 'none'} is not known to this version of openkcm`);
  }
  const m = buf.readUInt32BE(13);
  if (m > MAX_METADATA_BYTES || RECORD_HEADER_BYTES + m > buf.length) throw corrupt('metadata length out of bounds');
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8', RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + m));
  } catch (e) {
    throw new VaultError('CORRUPT', 'stored record does not decode: attribute JSON is invalid', { cause: e });
  }
  const envStart = RECORD_HEADER_BYTES + m;
  return {
    objectType: buf.readUInt32BE(1),
    state: buf.readUInt32BE(5),
    materialVersion: buf.readUInt32BE(9),
    attributes: decodeAttributes(json),
    // Copy: lmdb-js may reuse the buffer it returned once the read transaction moves on.
    envelope: envStart === buf.length ? undefined : Buffer.from(buf.subarray(envStart)),
  };
}
