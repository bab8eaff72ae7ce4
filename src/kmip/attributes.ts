/**
 * One internal attribute model for both KMIP generations (ARCHITECTURE.md §4 "Versions").
 *
 * Wire forms:
 * - KMIP 1.x (1.4 §2.1.1): `Attribute { Attribute Name (text), Attribute Index?, Attribute Value }`,
 *   carried in Template-Attribute (1.4 §2.1.8: Name* of templates, then Attribute*) or as plain
 *   lists (Get Attributes response, Add/Modify Attribute).
 * - KMIP 2.x (2.1 §2.1.1, §4): a flat `Attributes` structure whose children ARE the attributes,
 *   each with its own tag (`Cryptographic Algorithm`, `Name`, ...), plus Vendor Attributes
 *   `Attribute { Vendor Identification, Attribute Name, Attribute Value }` (2.1 §4.60).
 *
 * Internal form ({@link KmipAttribute}):
 * - `name` is the 1.x spec name ('Cryptographic Algorithm'), the same string the registry
 *   knows as the tag's spec name, so one name works in both generations.
 * - `value` is a TtlvItem whose tag is the attribute's OWN tag (the 2.x form). That makes
 *   values comparable and storable regardless of the version they arrived in; writing 1.x
 *   just re-tags the top item as Attribute Value (children, e.g. Name Value / Name Type,
 *   keep their tags in both generations).
 * - Custom / vendor attributes (no tag of their own) keep tag Attribute Value.
 *
 * 1.x Custom Attributes ↔ 2.x Vendor Attributes (KMIP 2.1 §4.60: "Vendor identification
 * values 'x' and 'y' are reserved for KMIP v2.0 and later implementations referencing KMIP
 * v1.x Custom Attributes"; the OASIS vectors AX-M-1-14 / AX-M-1-21 carry the same
 * attribute as 1.x 'x-ID' and as 2.x Vendor Attribute {x, ID}):
 * - internal name = `${vendorIdentification}-${attributeName}`, so 'x-ID' ↔ {x, ID} and
 *   'y-foo' ↔ {y, foo}. Vendor Identification is limited to [A-Za-z0-9_.] (2.1 §4.60), so the
 *   first '-' always separates the two parts unambiguously.
 * - other vendors ('acme' / 'color') become 'acme-color' in the internal model and in 1.x;
 *   a 1.x peer sees a non-'x-'/'y-' name it will treat as unknown, which is the honest
 *   outcome (1.x has no vendor namespace other than x-/y-).
 * - Attribute Index exists only in 1.x; 2.x writing drops it (2.x addresses instances by
 *   value: Current Attribute / New Attribute, 2.1 §5.6-5.7).
 */
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem, TtlvItem } from '@openkcm/ttlv';
import { bigInt, bool, bytes, dateTime, dateTimeExtended, enumeration, int, interval, long, text } from '@openkcm/ttlv';
import { KmipError } from './errors.js';
import { isKmip2 } from './message.js';
import type { ProtocolVersion } from './message.js';
import { attributeByName, tagByCode, tagByName, Tag } from './registry.js';
import {
  childrenOf, checkType, isStructure, optInt, reqItem, reqText, struct, structsOf, tagName,
} from './payloads/fields.js';

export interface KmipAttribute {
  /** Spec name ('Cryptographic Algorithm'), 1.x custom ('x-foo', 'y-foo') or vendor ('acme-foo'). */
  name: string;
  /** 1.x Attribute Index (1.4 §2.1.1); absent means "not given" (index 0 when it matters). */
  index?: number;
  /** Own tag for spec attributes; Tag.AttributeValue for custom/vendor attributes. */
  value: TtlvItem;
}

/** 1.x Template-Attribute contents (1.4 §2.1.8). */
export interface TemplateAttributeContents {
  /** Template Names (each a Name structure), deprecated since 1.3 but still accepted. */
  templateNames: StructureItem[];
  attributes: KmipAttribute[];
}

// ---- names and tags -----------------------------------------------------------------------

/** Vendor Identification charset, KMIP 2.1 §4.60 Table 150. */
const VENDOR_NAME = /^([A-Za-z0-9_.]+)-(.+)$/s;
const HEX_TAG_NAME = /^0x([0-9A-Fa-f]{6})$/;

/**
 * The attribute's own tag, or undefined for custom/vendor attributes. Accepts the spec
 * spelling ('Cryptographic Algorithm') and, leniently, the XML spelling
 * ('CryptographicAlgorithm'); readers canonicalise names to the spec spelling. Whether an
 * attribute is allowed for an object/operation is the server's decision, not this model's.
 */
export function attributeTag(name: string): number | undefined {
  const hex = HEX_TAG_NAME.exec(name);
  if (hex?.[1] !== undefined) return Number.parseInt(hex[1], 16);
  if (/^[xy]-/.test(name)) return undefined;
  const def = attributeByName(name);
  if (def !== undefined) return def.tag.code;
  // The registry's attribute table lacks a few attributes (e.g. 'Name'): fall back to tag names.
  return tagByName(name)?.code;
}

/** Splits a custom/vendor internal name; undefined for spec attributes. */
export function splitVendorName(name: string): { vendorIdentification: string; attributeName: string } | undefined {
  if (attributeTag(name) !== undefined) return undefined;
  const m = VENDOR_NAME.exec(name);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  return { vendorIdentification: m[1], attributeName: m[2] };
}

export function vendorAttributeName(vendorIdentification: string, attributeName: string): string {
  return `${vendorIdentification}-${attributeName}`;
}

/** Internal name of an attribute carried with its own tag (2.x). */
export function attributeNameForTag(tag: number): string {
  return tagByCode(tag)?.name ?? tagName(tag);
}

function withTag(item: TtlvItem, tag: number): TtlvItem {
  return item.tag === tag ? item : Object.assign({}, item, { tag });
}

/** Expected item type of a spec attribute, when the registry knows a single one. */
function expectedType(tag: number): ItemType | null {
  return tagByCode(tag)?.type ?? null;
}

function checkValueType(name: string, value: TtlvItem): void {
  const tag = attributeTag(name);
  if (tag === undefined) return;
  const type = expectedType(tag);
  if (type !== null && value.type !== type) {
    throw new KmipError('INVALID_ATTRIBUTE_VALUE', `attribute '${name}' has item type 0x${value.type.toString(16)}, expected 0x${type.toString(16)}`, { field: name });
  }
}

// ---- 1.x -------------------------------------------------------------------------------------

/** Reads one 1.x `Attribute` structure (1.4 §2.1.1). */
export function readAttribute1x(item: TtlvItem): KmipAttribute {
  const s = checkType(item, ItemType.Structure);
  const name = reqText(s, Tag.AttributeName);
  if (name.length === 0) throw new KmipError('INVALID_FIELD', 'Attribute Name is empty', { field: 'Attribute Name' });
  const index = optInt(s, Tag.AttributeIndex);
  if (index !== undefined && index < 0) throw new KmipError('INVALID_FIELD', 'Attribute Index is negative', { field: 'Attribute Index' });
  const raw = reqItem(s, Tag.AttributeValue);
  const ownTag = attributeTag(name);
  // Canonical spec spelling, so lookups by name work whatever spelling the peer used.
  const attr: KmipAttribute = ownTag === undefined
    ? { name, value: withTag(raw, Tag.AttributeValue) }
    : { name: attributeNameForTag(ownTag), value: withTag(raw, ownTag) };
  if (index !== undefined) attr.index = index;
  checkValueType(name, attr.value);
  return attr;
}

/** Writes one 1.x `Attribute` structure. */
export function writeAttribute1x(attr: KmipAttribute, tag: number = Tag.Attribute): StructureItem {
  return struct(tag, [
    text(Tag.AttributeName, attr.name),
    attr.index === undefined ? undefined : int(Tag.AttributeIndex, attr.index),
    withTag(attr.value, Tag.AttributeValue),
  ]);
}

/** All `Attribute` children of a 1.x structure (payload, Template-Attribute, ...). */
export function readAttributeList1x(parent: StructureItem): KmipAttribute[] {
  return childrenOf(parent, Tag.Attribute, ItemType.Structure).map(readAttribute1x);
}

/** Reads a 1.x Template-Attribute (or Common/Private/Public Key Template-Attribute). */
export function readTemplateAttribute(item: TtlvItem): TemplateAttributeContents {
  const s = checkType(item, ItemType.Structure);
  return { templateNames: structsOf(s, Tag.Name), attributes: readAttributeList1x(s) };
}

export function writeTemplateAttribute(contents: TemplateAttributeContents | KmipAttribute[], tag: number = Tag.TemplateAttribute): StructureItem {
  const c = Array.isArray(contents) ? { templateNames: [], attributes: contents } : contents;
  return struct(tag, [c.templateNames, c.attributes.map((a) => writeAttribute1x(a))]);
}

// ---- 2.x -------------------------------------------------------------------------------------

/** Reads one 2.x attribute item: own-tag attribute or Vendor Attribute (2.1 §4.60). */
export function readAttribute2x(item: TtlvItem): KmipAttribute {
  if (item.tag === Tag.Attribute) {
    const s = checkType(item, ItemType.Structure);
    const vendor = reqText(s, Tag.VendorIdentification);
    const name = reqText(s, Tag.AttributeName);
    if (!/^[A-Za-z0-9_.]+$/.test(vendor)) {
      throw new KmipError('INVALID_FIELD', 'Vendor Identification must match [A-Za-z0-9_.]+ (KMIP 2.1 §4.60)', { field: 'Vendor Identification' });
    }
    if (name.length === 0) throw new KmipError('INVALID_FIELD', 'Attribute Name is empty', { field: 'Attribute Name' });
    return { name: vendorAttributeName(vendor, name), value: withTag(reqItem(s, Tag.AttributeValue), Tag.AttributeValue) };
  }
  const name = attributeNameForTag(item.tag);
  checkValueType(name, item);
  return { name, value: item };
}

/** Writes one attribute in 2.x form: its own tag, or a Vendor Attribute. */
export function writeAttribute2x(attr: KmipAttribute): TtlvItem {
  const tag = attributeTag(attr.name);
  if (tag !== undefined) return withTag(attr.value, tag);
  const vendor = splitVendorName(attr.name);
  if (vendor === undefined) {
    throw new KmipError('INVALID_ATTRIBUTE', `'${attr.name}' is neither a KMIP attribute nor a '<vendor>-<name>' vendor attribute`, { field: attr.name });
  }
  return struct(Tag.Attribute, [
    text(Tag.VendorIdentification, vendor.vendorIdentification),
    text(Tag.AttributeName, vendor.attributeName),
    withTag(attr.value, Tag.AttributeValue),
  ]);
}

/** Reads a 2.x `Attributes` structure (or Common/Private/Public Key Attributes). */
export function readAttributes2x(item: TtlvItem): KmipAttribute[] {
  const s = checkType(item, ItemType.Structure);
  return s.value.map(readAttribute2x);
}

export function writeAttributes2x(attrs: readonly KmipAttribute[], tag: number = Tag.Attributes): StructureItem {
  return struct(tag, [attrs.map(writeAttribute2x)]);
}

/** 2.x Current Attribute / New Attribute (2.1 §5.6-5.7): a structure holding one attribute. */
export function readWrappedAttribute(item: TtlvItem): KmipAttribute {
  const s = checkType(item, ItemType.Structure);
  const [only, ...rest] = s.value;
  if (only === undefined) throw new KmipError('MISSING_DATA', `${tagName(s.tag)} holds no attribute`, { field: tagName(s.tag) });
  if (rest.length > 0) throw new KmipError('INVALID_MESSAGE', `${tagName(s.tag)} holds more than one attribute`, { field: tagName(s.tag) });
  return readAttribute2x(only);
}

export function writeWrappedAttribute(tag: number, attr: KmipAttribute): StructureItem {
  return struct(tag, [writeAttribute2x(attr)]);
}

// ---- Attribute Reference (2.x) / Attribute Name (1.x) ----------------------------------------

/** 2.1 §5.5: Enumeration (a Tag value) or Structure {Vendor Identification, Attribute Name}. */
export function readAttributeReference(item: TtlvItem): string {
  if (item.type === ItemType.Enumeration) {
    const def = tagByCode(item.value);
    if (def === undefined) throw new KmipError('UNKNOWN_TAG', `Attribute Reference to unknown tag 0x${item.value.toString(16)}`, { field: 'Attribute Reference' });
    return def.name;
  }
  if (isStructure(item)) {
    return vendorAttributeName(reqText(item, Tag.VendorIdentification), reqText(item, Tag.AttributeName));
  }
  throw new KmipError('INVALID_DATA_TYPE', 'Attribute Reference must be an Enumeration or a Structure', { field: 'Attribute Reference' });
}

export function writeAttributeReference(name: string): TtlvItem {
  const tag = attributeTag(name);
  if (tag !== undefined) return enumeration(Tag.AttributeReference, tag);
  const vendor = splitVendorName(name);
  if (vendor === undefined) throw new KmipError('INVALID_ATTRIBUTE', `'${name}' is not a KMIP attribute name`, { field: name });
  return struct(Tag.AttributeReference, [text(Tag.VendorIdentification, vendor.vendorIdentification), text(Tag.AttributeName, vendor.attributeName)]);
}

/** Attribute names of a request: 1.x `Attribute Name` texts or 2.x `Attribute Reference`s. */
export function readAttributeNames(parent: StructureItem, version: ProtocolVersion): string[] {
  if (isKmip2(version)) return parent.value.filter((c) => c.tag === Tag.AttributeReference).map(readAttributeReference);
  return childrenOf(parent, Tag.AttributeName, ItemType.TextString).map((t) => t.value);
}

export function writeAttributeNames(names: readonly string[], version: ProtocolVersion): TtlvItem[] {
  return isKmip2(version) ? names.map(writeAttributeReference) : names.map((n) => text(Tag.AttributeName, n));
}

// ---- version-dispatching helpers ---------------------------------------------------------------

/**
 * Attributes of a Create/Register-style request: 1.x Template-Attribute or 2.x Attributes.
 * Missing → empty (the operation decides what is REQUIRED).
 */
export function readRequestAttributes(parent: StructureItem, version: ProtocolVersion, tag1x: number = Tag.TemplateAttribute, tag2x: number = Tag.Attributes): TemplateAttributeContents {
  if (isKmip2(version)) {
    const items = parent.value.filter((c) => c.tag === tag2x);
    if (items.length > 1) throw new KmipError('INVALID_MESSAGE', `${tagName(tag2x)} appears more than once`, { field: tagName(tag2x) });
    return { templateNames: [], attributes: items[0] === undefined ? [] : readAttributes2x(items[0]) };
  }
  const items = parent.value.filter((c) => c.tag === tag1x);
  if (items.length > 1) throw new KmipError('INVALID_MESSAGE', `${tagName(tag1x)} appears more than once`, { field: tagName(tag1x) });
  return items[0] === undefined ? { templateNames: [], attributes: [] } : readTemplateAttribute(items[0]);
}

export function writeRequestAttributes(contents: TemplateAttributeContents | KmipAttribute[], version: ProtocolVersion, tag1x: number = Tag.TemplateAttribute, tag2x: number = Tag.Attributes): StructureItem {
  const c = Array.isArray(contents) ? { templateNames: [], attributes: contents } : contents;
  if (isKmip2(version)) {
    if (c.templateNames.length > 0) throw new KmipError('INVALID_FIELD', 'Templates do not exist in KMIP 2.x', { field: 'Template' });
    return writeAttributes2x(c.attributes, tag2x);
  }
  return writeTemplateAttribute(c, tag1x);
}

/** A list of attributes as a response carries them: 1.x `Attribute`* or a 2.x `Attributes` structure. */
export function writeAttributeList(attrs: readonly KmipAttribute[], version: ProtocolVersion): TtlvItem[] {
  return isKmip2(version) ? [writeAttributes2x(attrs)] : attrs.map((a) => writeAttribute1x(a));
}

export function readAttributeList(parent: StructureItem, version: ProtocolVersion): KmipAttribute[] {
  if (isKmip2(version)) {
    const items = parent.value.filter((c) => c.tag === Tag.Attributes);
    if (items.length > 1) throw new KmipError('INVALID_MESSAGE', 'Attributes appears more than once', { field: 'Attributes' });
    return items[0] === undefined ? [] : readAttributes2x(items[0]);
  }
  return readAttributeList1x(parent);
}

/** One attribute in a payload: 1.x `Attribute` structure, 2.x Current/New Attribute wrapper. */
export function readSingleAttribute(item: TtlvItem, version: ProtocolVersion): KmipAttribute {
  return isKmip2(version) ? readWrappedAttribute(item) : readAttribute1x(item);
}

// ---- values -----------------------------------------------------------------------------------

/** JS values accepted by {@link makeAttribute}. */
export type AttributeJsValue = string | number | bigint | boolean | Uint8Array | Date | TtlvItem | readonly TtlvItem[];

function isTtlvItem(v: unknown): v is TtlvItem {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !(v instanceof Date) && 'tag' in v && 'type' in v && 'value' in v;
}

/** Builds a value item of `type` from a JS value (for {@link makeAttribute}). */
function buildValue(tag: number, type: ItemType, v: Exclude<AttributeJsValue, TtlvItem | readonly TtlvItem[]>, name: string): TtlvItem {
  const bad = (): never => {
    throw new KmipError('INVALID_ATTRIBUTE_VALUE', `attribute '${name}' cannot take a ${typeof v} value`, { field: name });
  };
  switch (type) {
    case ItemType.Integer: return typeof v === 'number' ? int(tag, v) : bad();
    case ItemType.Enumeration: return typeof v === 'number' ? enumeration(tag, v) : bad();
    case ItemType.Interval: return typeof v === 'number' ? interval(tag, v) : bad();
    case ItemType.LongInteger: return typeof v === 'bigint' ? long(tag, v) : typeof v === 'number' ? long(tag, BigInt(v)) : bad();
    case ItemType.BigInteger: return typeof v === 'bigint' ? bigInt(tag, v) : bad();
    case ItemType.Boolean: return typeof v === 'boolean' ? bool(tag, v) : bad();
    case ItemType.TextString: return typeof v === 'string' ? text(tag, v) : bad();
    case ItemType.ByteString: return v instanceof Uint8Array ? bytes(tag, v) : bad();
    case ItemType.DateTime: return v instanceof Date || typeof v === 'bigint' ? dateTime(tag, v) : bad();
    case ItemType.DateTimeExtended: return typeof v === 'bigint' ? dateTimeExtended(tag, v) : bad();
    default: return bad();
  }
}

function inferType(v: Exclude<AttributeJsValue, TtlvItem | readonly TtlvItem[]>): ItemType {
  if (typeof v === 'string') return ItemType.TextString;
  if (typeof v === 'number') return ItemType.Integer;
  if (typeof v === 'bigint') return ItemType.LongInteger;
  if (typeof v === 'boolean') return ItemType.Boolean;
  if (v instanceof Uint8Array) return ItemType.ByteString;
  return ItemType.DateTime;
}

/**
 * Builds an attribute from a JS value, typed by the registry:
 * `makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES)`,
 * `makeAttribute('Name', [text(Tag.NameValue, 'k1'), enumeration(Tag.NameType, NameType.UninterpretedTextString)])`,
 * `makeAttribute('x-ID', 'abc')` (custom: type inferred, or `options.type`).
 */
export function makeAttribute(name: string, value: AttributeJsValue, options: { index?: number; type?: ItemType } = {}): KmipAttribute {
  const tag = attributeTag(name) ?? Tag.AttributeValue;
  let item: TtlvItem;
  if (isTtlvItem(value)) item = withTag(value, tag);
  else if (Array.isArray(value)) item = struct(tag, [value as readonly TtlvItem[]]);
  else {
    const v = value as Exclude<AttributeJsValue, TtlvItem | readonly TtlvItem[]>;
    const type = options.type ?? (tag === Tag.AttributeValue ? null : expectedType(tag)) ?? inferType(v);
    item = buildValue(tag, type, v, name);
  }
  const attr: KmipAttribute = { name, value: item };
  if (options.index !== undefined) attr.index = options.index;
  checkValueType(name, attr.value);
  return attr;
}

/** Deep equality of two values, ignoring the top-level tag (1.x vs 2.x form). */
export function attributeValuesEqual(a: TtlvItem, b: TtlvItem): boolean {
  if (a.type !== b.type) return false;
  if (a.type === ItemType.Structure && b.type === ItemType.Structure) {
    if (a.value.length !== b.value.length) return false;
    return a.value.every((child, i) => {
      const other = b.value[i];
      return other !== undefined && child.tag === other.tag && attributeValuesEqual(child, other);
    });
  }
  if (a.value instanceof Uint8Array && b.value instanceof Uint8Array) {
    const bv = b.value;
    return a.value.length === bv.length && a.value.every((x, i) => x === bv[i]);
  }
  return a.value === b.value;
}

/** Values of every attribute named `name`, in order. */
export function findAttributes(attrs: readonly KmipAttribute[], name: string): KmipAttribute[] {
  return attrs.filter((a) => a.name === name);
}

/** The single value of `name` (first instance), or undefined. */
export function findAttribute(attrs: readonly KmipAttribute[], name: string): KmipAttribute | undefined {
  return attrs.find((a) => a.name === name);
}
