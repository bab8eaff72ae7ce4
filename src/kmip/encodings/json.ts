/**
 * KMIP JSON encoding ⇄ TTLV tree (KMIP Profiles 2.1 §5.4.x "JSON Encoding", originally KMIP
 * Additional Message Encodings 1.0 §4.1).
 *
 * Every item is an object `{"tag": …, "type": …, "value": …}`:
 * - `tag`: the tag's normalised name ("ActivationDate"), or "0x" + 6 hex digits ("0x540001")
 *   for tags without a name;
 * - `type`: the Item Type name; omitted for a Structure (accepted as "Structure" on input);
 * - `value`: a Structure's children as an array, otherwise by type:
 *
 * | type             | written                                   | also accepted                         |
 * |------------------|-------------------------------------------|---------------------------------------|
 * | Integer          | number; mask tags: "Encrypt|Decrypt" (bit names in ascending order, leftover bits 0x%08X), 0 as 0 | "0x" + ≤8 hex digits; names/hex joined by "|" |
 * | LongInteger      | number when a safe integer (|v| < 2^53), else "0x" + 16 hex digits (two's complement) | either form |
 * | BigInteger       | "0x" + the wire bytes in hex (two's complement, multiple of 8 bytes) | a safe-integer number  |
 * | Enumeration      | the CamelCase name, else "0x" + 8 hex digits | a number                           |
 * | Boolean          | true / false                              | "0x0000000000000001" / "0x0000000000000000" |
 * | TextString       | string                                    |                                       |
 * | ByteString       | lowercase hex string, no "0x"             | uppercase hex                         |
 * | DateTime         | ISO 8601 "YYYY-MM-DDTHH:MM:SS+00:00"      | Z / any offset; "0x" + 16 hex digits  |
 * | Interval         | number (seconds)                          | "0x" + ≤8 hex digits                  |
 * | DateTimeExtended | ISO 8601 with 6 fraction digits           | "0x" + 16 hex digits                  |
 *
 * Enumeration and mask names follow the same context rules as the XML encoding
 * (VALUE_CONTEXT_RULES in ./xml.ts: e.g. a 1.x Attribute Value takes its enumeration from the
 * sibling Attribute Name).
 */
import { ItemType, ItemTypeName } from '@openkcm/ttlv';
import type { StructureItem, TtlvItem } from '@openkcm/ttlv';
import {
  KmipEncodingError,
  MAX_ENCODING_DEPTH,
  NO_CONTEXT,
  ValueSyntaxError,
  bigIntToHex,
  checkItemValue,
  clip,
  formatHex64,
  formatTypedValue,
  hexToBigInt,
  isAttributeNameTag,
  itemTypeByName,
  joinPath,
  parseHex64,
  parseTagText,
  parseTypedValue,
  pathSegments,
  siblingContextOfItems,
  tagText,
  valueSpelling,
} from './text.js';
import type { SiblingContext, TextEncodingOptions } from './text.js';

/** A JSON-encoded item as produced by {@link ttlvToJson}. */
export interface KmipJsonItem {
  tag: string;
  type?: string;
  value: KmipJsonItem[] | string | number | boolean;
}

/** Convert a TTLV tree to its KMIP JSON form (a plain object ready for JSON.stringify). */
export function ttlvToJson(item: TtlvItem, options: TextEncodingOptions = {}): KmipJsonItem {
  return itemToJson(item, NO_CONTEXT, tagText(item.tag), 1, options);
}

/** JSON text of {@link ttlvToJson}; `space` as in JSON.stringify (default: compact). */
export function ttlvToJsonString(item: TtlvItem, space?: string | number, options: TextEncodingOptions = {}): string {
  return JSON.stringify(ttlvToJson(item, options), null, space);
}

/** Convert a parsed KMIP JSON value to a TTLV tree. */
export function jsonToTtlv(json: unknown): TtlvItem {
  return jsonToItem(json, NO_CONTEXT, '', 1);
}

/** Parse KMIP JSON text to a TTLV tree. */
export function jsonStringToTtlv(text: string): TtlvItem {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new KmipEncodingError(`invalid JSON: ${e instanceof Error ? e.message : String(e)}`, '', { cause: e });
  }
  return jsonToTtlv(parsed);
}

// ─────────────────────────────────────────── TTLV → JSON ──────────────────────────────────────────

function itemToJson(item: TtlvItem, ctx: SiblingContext, path: string, depth: number, options: TextEncodingOptions): KmipJsonItem {
  if (depth > MAX_ENCODING_DEPTH) throw new KmipEncodingError(`structures nest deeper than ${MAX_ENCODING_DEPTH}`, path);
  try {
    checkItemValue(item);
  } catch (e) {
    if (e instanceof ValueSyntaxError) throw new KmipEncodingError(e.message, path, { cause: e });
    throw e;
  }
  const tag = tagText(item.tag);
  if (item.type === ItemType.Structure) {
    const childCtx = siblingContextOfItems(item.value);
    const segs = pathSegments(item.value, (c) => tagText(c.tag));
    return { tag, value: item.value.map((c, i) => itemToJson(c, childCtx, joinPath(path, segs[i] ?? ''), depth + 1, options)) };
  }
  return { tag, type: ItemTypeName[item.type], value: jsonValue(item, ctx, options) };
}

function jsonValue(item: Exclude<TtlvItem, StructureItem>, ctx: SiblingContext, options: TextEncodingOptions): string | number | boolean {
  switch (item.type) {
    case ItemType.Integer:
      // A plain number unless the tag is a mask with a non-zero value.
      return valueSpelling(item.tag, item.type, ctx).kind === 'mask' && item.value !== 0 ? formatTypedValue(item, ctx, '|', options.version) : item.value;
    case ItemType.LongInteger:
      return Number.isSafeInteger(Number(item.value)) && BigInt(Number(item.value)) === item.value ? Number(item.value) : formatHex64(item.value);
    case ItemType.BigInteger:
      return `0x${bigIntToHex(item.value)}`;
    case ItemType.Boolean:
      return item.value;
    case ItemType.Interval:
      return item.value;
    case ItemType.Enumeration:
    case ItemType.TextString:
    case ItemType.ByteString:
    case ItemType.DateTime:
    case ItemType.DateTimeExtended:
      return formatTypedValue(item, ctx, '|', options.version);
  }
}

// ─────────────────────────────────────────── JSON → TTLV ──────────────────────────────────────────

const ALLOWED_KEYS = new Set(['tag', 'type', 'value']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonToItem(json: unknown, ctx: SiblingContext, parentPath: string, depth: number, segment?: string): TtlvItem {
  const provisional = segment ?? (isRecord(json) && typeof json.tag === 'string' ? json.tag : '?');
  const path = joinPath(parentPath, provisional);
  if (depth > MAX_ENCODING_DEPTH) throw new KmipEncodingError(`structures nest deeper than ${MAX_ENCODING_DEPTH}`, path);
  if (!isRecord(json)) throw new KmipEncodingError('a KMIP JSON item must be an object {"tag", "type", "value"}', path);
  for (const k of Object.keys(json)) {
    if (!ALLOWED_KEYS.has(k)) throw new KmipEncodingError(`unexpected key "${clip(k)}" (KMIP JSON items have tag, type and value)`, path);
  }
  const { tag: tagField, type: typeField, value } = json;
  if (typeof tagField !== 'string') throw new KmipEncodingError('"tag" must be a string (a tag name or 0x + 6 hex digits)', path);
  let tag: number | undefined;
  try {
    tag = parseTagText(tagField);
  } catch (e) {
    if (e instanceof ValueSyntaxError) throw new KmipEncodingError(e.message, path, { cause: e });
    throw e;
  }
  if (tag === undefined) throw new KmipEncodingError(`unknown tag "${clip(tagField)}" (write "0x54xxxx" for extensions)`, path);
  let type: ItemType = ItemType.Structure;
  if (typeField !== undefined) {
    const t = typeof typeField === 'string' ? itemTypeByName(typeField) : undefined;
    if (t === undefined) throw new KmipEncodingError(`unknown type: ${describe(typeField)}`, path);
    type = t;
  }
  if (type === ItemType.Structure) {
    if (!Array.isArray(value)) throw new KmipEncodingError('a Structure\'s "value" must be an array of items', path);
    const children: unknown[] = value;
    const childCtx = jsonSiblingContext(children);
    const segs = pathSegments(children, (c) => (isRecord(c) && typeof c.tag === 'string' ? c.tag : '?'));
    return { tag, type: ItemType.Structure, value: children.map((c, i) => jsonToItem(c, childCtx, path, depth + 1, segs[i])) };
  }
  try {
    return jsonPrimitive(tag, type, value, ctx);
  } catch (e) {
    if (e instanceof ValueSyntaxError) throw new KmipEncodingError(`bad ${ItemTypeName[type]} value: ${e.message}`, path, { cause: e });
    throw e;
  }
}

function jsonSiblingContext(children: readonly unknown[]): SiblingContext {
  for (const c of children) {
    if (isRecord(c) && typeof c.tag === 'string' && isAttributeNameTag(c.tag) && c.type === 'TextString' && typeof c.value === 'string') return { attributeName: c.value };
  }
  return NO_CONTEXT;
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return `${typeof v} ${clip(JSON.stringify(v))}`;
}

function jsonPrimitive(tag: number, type: Exclude<ItemType, typeof ItemType.Structure>, value: unknown, ctx: SiblingContext): TtlvItem {
  switch (type) {
    case ItemType.Integer:
      if (typeof value === 'number') {
        if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new ValueSyntaxError(`${value} is not a signed 32-bit integer`);
        return { tag, type, value };
      }
      if (typeof value === 'string') return parseTypedValue(tag, type, value, ctx, '|');
      throw new ValueSyntaxError(`expected a number, 0x hex or mask names, got ${describe(value)}`);
    case ItemType.LongInteger:
      if (typeof value === 'number') {
        // A JSON number beyond 2^53 has already lost digits: refuse rather than guess.
        if (!Number.isSafeInteger(value)) throw new ValueSyntaxError(`${value} is not a safe integer; write larger values as "0x" + 16 hex digits`);
        return { tag, type, value: BigInt(value) };
      }
      if (typeof value === 'string') {
        const v = parseHex64(value);
        if (v === undefined) throw new ValueSyntaxError(`"${clip(value)}" is not "0x" + up to 16 hex digits`);
        return { tag, type, value: v };
      }
      throw new ValueSyntaxError(`expected a number or "0x" hex, got ${describe(value)}`);
    case ItemType.BigInteger:
      if (typeof value === 'number') {
        if (!Number.isSafeInteger(value)) throw new ValueSyntaxError(`${value} is not a safe integer; write it as "0x" + hex`);
        return { tag, type, value: BigInt(value) };
      }
      if (typeof value === 'string' && value.startsWith('0x')) return { tag, type, value: hexToBigInt(value.slice(2), 'BigInteger') };
      throw new ValueSyntaxError(`expected "0x" + hex or a number, got ${describe(value)}`);
    case ItemType.Enumeration:
      if (typeof value === 'number') {
        if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new ValueSyntaxError(`${value} is not an unsigned 32-bit integer`);
        return { tag, type, value };
      }
      if (typeof value === 'string') return parseTypedValue(tag, type, value, ctx, '|');
      throw new ValueSyntaxError(`expected a name, "0x" + 8 hex digits or a number, got ${describe(value)}`);
    case ItemType.Boolean:
      if (typeof value === 'boolean') return { tag, type, value };
      if (value === '0x0000000000000001' || value === '0x0000000000000000') return { tag, type, value: value.endsWith('1') };
      throw new ValueSyntaxError(`expected true or false, got ${describe(value)}`);
    case ItemType.Interval:
      if (typeof value === 'number') {
        if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new ValueSyntaxError(`${value} is not an unsigned 32-bit number of seconds`);
        return { tag, type, value };
      }
      if (typeof value === 'string' && value.startsWith('0x')) return parseTypedValue(tag, type, value, ctx, '|');
      throw new ValueSyntaxError(`expected a number of seconds or "0x" hex, got ${describe(value)}`);
    case ItemType.TextString:
    case ItemType.ByteString:
    case ItemType.DateTime:
    case ItemType.DateTimeExtended:
      if (typeof value === 'string') return parseTypedValue(tag, type, value, ctx, '|');
      throw new ValueSyntaxError(`expected a string, got ${describe(value)}`);
  }
}
