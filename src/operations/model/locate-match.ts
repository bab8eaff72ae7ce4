/**
 * Locate matching (KMIP 1.4 §4.9, KMIP 2.1 §6.1.28):
 *  - "Returned objects SHALL match all of the attributes in the request";
 *  - one instance of a Date attribute matches that date; two instances give an inclusive range;
 *    a date at its largest possible value is "equivalent to an undefined attribute";
 *  - Cryptographic Usage Mask matches when the object has every requested bit (it MAY have more);
 *  - a structure attribute may be given partially: each field given must match (Link with only a
 *    Linked Object Identifier matches any Link Type);
 *  - a multi-valued attribute matches when one of the object's instances matches.
 * Wild-cards are not supported (they are a MAY; exact matching cannot surprise a client).
 */
import { attributeValuesEqual } from '../../kmip/attributes.js';
import type { KmipAttribute } from '../../kmip/attributes.js';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { ruleFor } from './attribute-rules.js';
import { attrsOf, intAttr } from './record.js';
import type { ManagedObjectRecord } from './store.js';

/** Largest Date-Time value: KMIP's Date-Time is a signed 64-bit count of seconds. */
const MAX_DATE = 0x7fffffffffffffffn;

/** `want` is a (possibly partial) description of `have`. */
export function valueMatches(want: TtlvItem, have: TtlvItem): boolean {
  if (want.type !== have.type) return false;
  if (want.type === ItemType.Structure && have.type === ItemType.Structure) {
    const used = new Set<number>();
    return want.value.every((w) => {
      const i = have.value.findIndex((h, j) => !used.has(j) && h.tag === w.tag && valueMatches(w, h));
      if (i < 0) return false;
      used.add(i);
      return true;
    });
  }
  return attributeValuesEqual(want, have);
}

function groupByName(criteria: readonly KmipAttribute[]): Map<string, KmipAttribute[]> {
  const m = new Map<string, KmipAttribute[]>();
  for (const c of criteria) {
    const list = m.get(c.name);
    if (list === undefined) m.set(c.name, [c]);
    else list.push(c);
  }
  return m;
}

function dateOf(item: TtlvItem): bigint | undefined {
  return item.type === ItemType.DateTime ? item.value : undefined;
}

function matchesDates(wanted: readonly KmipAttribute[], have: readonly KmipAttribute[]): boolean {
  const dates = wanted.map((w) => dateOf(w.value)).filter((d): d is bigint => d !== undefined && d !== MAX_DATE);
  if (dates.length === 0) return true;
  const haveDates = have.map((h) => dateOf(h.value)).filter((d): d is bigint => d !== undefined);
  if (dates.length === 1) return haveDates.some((d) => d === dates[0]);
  const lo = dates.reduce((a, b) => (a < b ? a : b));
  const hi = dates.reduce((a, b) => (a > b ? a : b));
  return haveDates.some((d) => d >= lo && d <= hi);
}

export function recordMatches(rec: Pick<ManagedObjectRecord, 'attributes'>, criteria: readonly KmipAttribute[]): boolean {
  for (const [name, wanted] of groupByName(criteria)) {
    const have = attrsOf(rec, name);
    if (name === 'Cryptographic Usage Mask') {
      const mask = intAttr(rec, name);
      if (mask === undefined) return false;
      for (const w of wanted) {
        if (w.value.type !== ItemType.Integer || (mask & w.value.value) !== w.value.value) return false;
      }
      continue;
    }
    if (ruleFor(name).date === true) {
      if (!matchesDates(wanted, have)) return false;
      continue;
    }
    for (const w of wanted) {
      if (!have.some((h) => valueMatches(w.value, h.value))) return false;
    }
  }
  return true;
}
