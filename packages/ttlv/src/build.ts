/**
 * Small constructors and readers for TTLV trees, so that code building messages reads
 * like the spec's structure tables instead of object literals. Tags are plain numbers
 * (use `Tag.X` from src/kmip/registry.generated.ts).
 */
import {
  ItemType,
  type BigIntegerItem,
  type BooleanItem,
  type ByteStringItem,
  type DateTimeExtendedItem,
  type DateTimeItem,
  type EnumerationItem,
  type IntegerItem,
  type IntervalItem,
  type LongIntegerItem,
  type StructureItem,
  type TextStringItem,
  type TtlvItem,
} from './types.js';

export function structure(tag: number, items: TtlvItem[]): StructureItem {
  return { tag, type: ItemType.Structure, value: items };
}

/** Signed 32-bit Integer. */
export function int(tag: number, n: number): IntegerItem {
  return { tag, type: ItemType.Integer, value: n };
}

/** Signed 64-bit Long Integer. */
export function long(tag: number, b: bigint): LongIntegerItem {
  return { tag, type: ItemType.LongInteger, value: b };
}

export function bigInt(tag: number, b: bigint): BigIntegerItem {
  return { tag, type: ItemType.BigInteger, value: b };
}

/** Unsigned 32-bit Enumeration (values from the registry's enum objects). */
export function enumeration(tag: number, n: number): EnumerationItem {
  return { tag, type: ItemType.Enumeration, value: n };
}

export function bool(tag: number, b: boolean): BooleanItem {
  return { tag, type: ItemType.Boolean, value: b };
}

export function text(tag: number, s: string): TextStringItem {
  return { tag, type: ItemType.TextString, value: s };
}

export function bytes(tag: number, u8: Uint8Array): ByteStringItem {
  return { tag, type: ItemType.ByteString, value: u8 };
}

/** Date-Time: POSIX seconds (KMIP 1.4 §9.1.1.4). A Date is truncated to whole seconds (toward -inf). */
export function dateTime(tag: number, seconds: bigint | Date): DateTimeItem {
  const value = typeof seconds === 'bigint' ? seconds : BigInt(Math.floor(seconds.getTime() / 1000));
  return { tag, type: ItemType.DateTime, value };
}

/** Unsigned 32-bit Interval in seconds. */
export function interval(tag: number, n: number): IntervalItem {
  return { tag, type: ItemType.Interval, value: n };
}

/** Date-Time Extended: POSIX time in microseconds (KMIP 2.1 §11.23 Item Type Enumeration). A Date has millisecond precision. */
export function dateTimeExtended(tag: number, micros: bigint | Date): DateTimeExtendedItem {
  const value = typeof micros === 'bigint' ? micros : BigInt(micros.getTime()) * 1000n;
  return { tag, type: ItemType.DateTimeExtended, value };
}

/** First child of `struct` with `tag`, or undefined. */
export function findChild(struct: StructureItem, tag: number): TtlvItem | undefined {
  for (const child of struct.value) if (child.tag === tag) return child;
  return undefined;
}

/** All children of `struct` with `tag`, in order. */
export function findChildren(struct: StructureItem, tag: number): TtlvItem[] {
  return struct.value.filter((child) => child.tag === tag);
}

export function isStructure(item: TtlvItem | undefined): item is StructureItem {
  return item !== undefined && item.type === ItemType.Structure;
}
