/**
 * Typed, validating readers over a decoded TTLV structure, shared by the message model
 * (src/kmip/message.ts), the attribute model (src/kmip/attributes.ts) and every payload
 * codec. Each reader names the field in its error so a client sees what was wrong.
 *
 * Error policy (KMIP 1.4 §11.1 "General Errors"; KMIP 2.1 §11.46):
 * - a REQUIRED field is absent           → MISSING_DATA (or the caller's code, e.g. INVALID_MESSAGE
 *                                           for header fields),
 * - a field has the wrong item type      → INVALID_DATA_TYPE (1.x: Invalid Message),
 * - a single-valued field appears twice  → INVALID_MESSAGE ("The same field is contained in a
 *                                           header/batch item/payload more than once"),
 * - unknown children are ignored: 1.4 §11.1 tells a server to ignore fields it does not understand
 *   from a newer minor version, and payload codecs skip fields of other versions the same way.
 */
import { ItemType } from '@openkcm/ttlv';
import type {
  BooleanItem, ByteStringItem, DateTimeExtendedItem, DateTimeItem, EnumerationItem, IntegerItem,
  IntervalItem, LongIntegerItem, StructureItem, TextStringItem, TtlvItem, BigIntegerItem,
} from '@openkcm/ttlv';
import { KmipError } from '../errors.js';
import type { KmipErrorCode } from '../errors.js';
import { TAG_ROWS } from '../registry.generated.js';

const TAG_NAMES: ReadonlyMap<number, string> = new Map(TAG_ROWS.map((row) => [row[0], row[1]]));

/** The spec name of a tag ('Unique Identifier'), or its hex code for unknown/extension tags. */
export function tagName(tag: number): string {
  return TAG_NAMES.get(tag) ?? `0x${tag.toString(16).toUpperCase()}`;
}

/** Map from item type to its TtlvItem variant, so readers return the precise type. */
export interface ItemByType {
  [ItemType.Structure]: StructureItem;
  [ItemType.Integer]: IntegerItem;
  [ItemType.LongInteger]: LongIntegerItem;
  [ItemType.BigInteger]: BigIntegerItem;
  [ItemType.Enumeration]: EnumerationItem;
  [ItemType.Boolean]: BooleanItem;
  [ItemType.TextString]: TextStringItem;
  [ItemType.ByteString]: ByteStringItem;
  [ItemType.DateTime]: DateTimeItem;
  [ItemType.Interval]: IntervalItem;
  [ItemType.DateTimeExtended]: DateTimeExtendedItem;
}

export function isStructure(item: TtlvItem | undefined): item is StructureItem {
  return item !== undefined && item.type === ItemType.Structure;
}

/** Every child with `tag`, each checked to have `type`. */
export function childrenOf<T extends ItemType>(struct: StructureItem, tag: number, type: T): ItemByType[T][] {
  const out: ItemByType[T][] = [];
  for (const child of struct.value) {
    if (child.tag !== tag) continue;
    out.push(checkType(child, type));
  }
  return out;
}

export function checkType<T extends ItemType>(item: TtlvItem, type: T): ItemByType[T] {
  if (item.type !== type) {
    throw new KmipError('INVALID_DATA_TYPE', `${tagName(item.tag)} has item type 0x${item.type.toString(16)}, expected 0x${type.toString(16)}`, { field: tagName(item.tag) });
  }
  return item as ItemByType[T];
}

/** The one child with `tag` (undefined if absent); INVALID_MESSAGE if repeated. */
export function optItem(struct: StructureItem, tag: number): TtlvItem | undefined {
  let found: TtlvItem | undefined;
  for (const child of struct.value) {
    if (child.tag !== tag) continue;
    if (found !== undefined) {
      throw new KmipError('INVALID_MESSAGE', `${tagName(tag)} appears more than once in ${tagName(struct.tag)}`, { field: tagName(tag) });
    }
    found = child;
  }
  return found;
}

export function optChild<T extends ItemType>(struct: StructureItem, tag: number, type: T): ItemByType[T] | undefined {
  const item = optItem(struct, tag);
  return item === undefined ? undefined : checkType(item, type);
}

export function reqChild<T extends ItemType>(struct: StructureItem, tag: number, type: T, missing: KmipErrorCode = 'MISSING_DATA'): ItemByType[T] {
  const item = optChild(struct, tag, type);
  if (item === undefined) {
    throw new KmipError(missing, `${tagName(tag)} is required in ${tagName(struct.tag)}`, { field: tagName(tag) });
  }
  return item;
}

export function reqItem(struct: StructureItem, tag: number, missing: KmipErrorCode = 'MISSING_DATA'): TtlvItem {
  const item = optItem(struct, tag);
  if (item === undefined) {
    throw new KmipError(missing, `${tagName(tag)} is required in ${tagName(struct.tag)}`, { field: tagName(tag) });
  }
  return item;
}

// ---- shorthand readers for the common primitive types --------------------------------------

export const optText = (s: StructureItem, tag: number): string | undefined => optChild(s, tag, ItemType.TextString)?.value;
export const reqText = (s: StructureItem, tag: number, missing?: KmipErrorCode): string => reqChild(s, tag, ItemType.TextString, missing).value;
export const optInt = (s: StructureItem, tag: number): number | undefined => optChild(s, tag, ItemType.Integer)?.value;
export const reqInt = (s: StructureItem, tag: number, missing?: KmipErrorCode): number => reqChild(s, tag, ItemType.Integer, missing).value;
export const optLong = (s: StructureItem, tag: number): bigint | undefined => optChild(s, tag, ItemType.LongInteger)?.value;
export const optEnum = (s: StructureItem, tag: number): number | undefined => optChild(s, tag, ItemType.Enumeration)?.value;
export const reqEnum = (s: StructureItem, tag: number, missing?: KmipErrorCode): number => reqChild(s, tag, ItemType.Enumeration, missing).value;
export const optBool = (s: StructureItem, tag: number): boolean | undefined => optChild(s, tag, ItemType.Boolean)?.value;
export const reqBool = (s: StructureItem, tag: number, missing?: KmipErrorCode): boolean => reqChild(s, tag, ItemType.Boolean, missing).value;
export const optBytes = (s: StructureItem, tag: number): Uint8Array | undefined => optChild(s, tag, ItemType.ByteString)?.value;
export const reqBytes = (s: StructureItem, tag: number, missing?: KmipErrorCode): Uint8Array => reqChild(s, tag, ItemType.ByteString, missing).value;
export const optDateTime = (s: StructureItem, tag: number): bigint | undefined => optChild(s, tag, ItemType.DateTime)?.value;
export const reqDateTime = (s: StructureItem, tag: number, missing?: KmipErrorCode): bigint => reqChild(s, tag, ItemType.DateTime, missing).value;
export const optInterval = (s: StructureItem, tag: number): number | undefined => optChild(s, tag, ItemType.Interval)?.value;
export const optStruct = (s: StructureItem, tag: number): StructureItem | undefined => optChild(s, tag, ItemType.Structure);
export const reqStruct = (s: StructureItem, tag: number, missing?: KmipErrorCode): StructureItem => reqChild(s, tag, ItemType.Structure, missing);
export const textsOf = (s: StructureItem, tag: number): string[] => childrenOf(s, tag, ItemType.TextString).map((i) => i.value);
export const enumsOf = (s: StructureItem, tag: number): number[] => childrenOf(s, tag, ItemType.Enumeration).map((i) => i.value);
export const structsOf = (s: StructureItem, tag: number): StructureItem[] => childrenOf(s, tag, ItemType.Structure);

/**
 * A payload structure, or an empty one: several operations (Query without functions,
 * Discover Versions, RNG Retrieve in some clients) legitimately send an empty or absent
 * payload, and treating "absent" as "empty" lets the REQUIRED-field checks report the
 * precise missing field instead of a generic error.
 */
export function payloadOrEmpty(payload: StructureItem | undefined, tag: number): StructureItem {
  return payload ?? { tag, type: ItemType.Structure, value: [] };
}

// ---- writers -------------------------------------------------------------------------------

/** Builds a structure from a list where `undefined` entries (absent optional fields) are dropped. */
export function struct(tag: number, items: readonly (TtlvItem | readonly TtlvItem[] | undefined)[]): StructureItem {
  const value: TtlvItem[] = [];
  for (const entry of items) {
    if (entry === undefined) continue;
    if (Array.isArray(entry)) value.push(...(entry as readonly TtlvItem[]));
    else value.push(entry as TtlvItem);
  }
  return { tag, type: ItemType.Structure, value };
}

/** Applies `build` when `v` is present; for optional fields inside {@link struct}. */
export function opt<V>(v: V | undefined, build: (v: V) => TtlvItem): TtlvItem | undefined {
  return v === undefined ? undefined : build(v);
}
