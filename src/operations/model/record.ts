/**
 * Reading and writing the attributes of a ManagedObjectRecord. Values are kept with the
 * attribute's own tag (the 2.x form, src/kmip/attributes.ts), so `Tag.State` items hold the
 * State and so on; custom / vendor attributes keep tag Attribute Value.
 */
import { attributeTag } from '../../kmip/attributes.js';
import type { KmipAttribute } from '../../kmip/attributes.js';
import { Tag } from '../../kmip/registry.js';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { bool, dateTime, enumeration, int, interval, text } from '@openkcm/ttlv';
import type { ManagedObjectRecord } from './store.js';

export function attrsOf(rec: Pick<ManagedObjectRecord, 'attributes'>, name: string): KmipAttribute[] {
  return rec.attributes.filter((a) => a.name === name);
}

export function attrOf(rec: Pick<ManagedObjectRecord, 'attributes'>, name: string): KmipAttribute | undefined {
  return rec.attributes.find((a) => a.name === name);
}

/** Re-tags a value with the attribute's own tag (custom attributes: Attribute Value). */
export function ownTagged(name: string, value: TtlvItem): TtlvItem {
  const tag = attributeTag(name) ?? Tag.AttributeValue;
  return value.tag === tag ? value : Object.assign({}, value, { tag });
}

/** Replaces every instance of `name` by one with `value` (in place of the first instance). */
export function setAttr(rec: Pick<ManagedObjectRecord, 'attributes'>, name: string, value: TtlvItem): void {
  const v = ownTagged(name, value);
  const i = rec.attributes.findIndex((a) => a.name === name);
  if (i < 0) {
    rec.attributes.push({ name, value: v });
    return;
  }
  rec.attributes[i] = { name, value: v };
  rec.attributes = rec.attributes.filter((a, j) => j <= i || a.name !== name);
}

export function addAttr(rec: Pick<ManagedObjectRecord, 'attributes'>, name: string, value: TtlvItem): void {
  rec.attributes.push({ name, value: ownTagged(name, value) });
}

export function removeAttrs(rec: Pick<ManagedObjectRecord, 'attributes'>, name: string): void {
  rec.attributes = rec.attributes.filter((a) => a.name !== name);
}

export function enumAttr(rec: Pick<ManagedObjectRecord, 'attributes'>, name: string): number | undefined {
  const v = attrOf(rec, name)?.value;
  return v?.type === ItemType.Enumeration ? v.value : undefined;
}

export function intAttr(rec: Pick<ManagedObjectRecord, 'attributes'>, name: string): number | undefined {
  const v = attrOf(rec, name)?.value;
  return v?.type === ItemType.Integer || v?.type === ItemType.Interval ? v.value : undefined;
}

export function boolAttr(rec: Pick<ManagedObjectRecord, 'attributes'>, name: string): boolean | undefined {
  const v = attrOf(rec, name)?.value;
  return v?.type === ItemType.Boolean ? v.value : undefined;
}

/** A Date-Time attribute in POSIX seconds. */
export function dateAttr(rec: Pick<ManagedObjectRecord, 'attributes'>, name: string): bigint | undefined {
  const v = attrOf(rec, name)?.value;
  return v?.type === ItemType.DateTime ? v.value : undefined;
}

export function stateOf(rec: Pick<ManagedObjectRecord, 'attributes'>): number | undefined {
  return enumAttr(rec, 'State');
}

// ---- typed setters (own tags) ------------------------------------------------------------------

export const setEnum = (rec: Pick<ManagedObjectRecord, 'attributes'>, name: string, tag: number, v: number): void => { setAttr(rec, name, enumeration(tag, v)); };
export const setInt = (rec: Pick<ManagedObjectRecord, 'attributes'>, name: string, tag: number, v: number): void => { setAttr(rec, name, int(tag, v)); };
export const setInterval = (rec: Pick<ManagedObjectRecord, 'attributes'>, name: string, tag: number, v: number): void => { setAttr(rec, name, interval(tag, v)); };
export const setBool = (rec: Pick<ManagedObjectRecord, 'attributes'>, name: string, tag: number, v: boolean): void => { setAttr(rec, name, bool(tag, v)); };
export const setText = (rec: Pick<ManagedObjectRecord, 'attributes'>, name: string, tag: number, v: string): void => { setAttr(rec, name, text(tag, v)); };
export const setDate = (rec: Pick<ManagedObjectRecord, 'attributes'>, name: string, tag: number, v: bigint | Date): void => { setAttr(rec, name, dateTime(tag, v)); };

/** POSIX seconds of a Date (the KMIP Date-Time resolution). */
export function seconds(d: Date): bigint {
  return BigInt(Math.floor(d.getTime() / 1000));
}
