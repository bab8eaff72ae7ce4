/**
 * Attributes as a client of a given version sees them: only attributes (and values) that
 * exist in its version (src/operations/model/attribute-rules.ts), and in 1.x each instance of a
 * multi-valued attribute numbered by its Attribute Index (KMIP 1.4 §2.1.1; index 0 is written
 * by omission, as the OASIS 1.4 test cases do).
 */
import type { KmipAttribute } from '../../kmip/attributes.js';
import type { KmipVersion } from '../../kmip/registry.js';
import { attributeForVersion } from './attribute-rules.js';
import type { ManagedObjectRecord } from './store.js';

export function withIndex(attr: KmipAttribute, index: number, version: KmipVersion): KmipAttribute {
  const out: KmipAttribute = { name: attr.name, value: attr.value };
  if (index > 0 && version.startsWith('1.')) out.index = index;
  return out;
}

/** Every visible instance of `name` (all names when undefined), in stored order. */
export function visibleAttributes(rec: Pick<ManagedObjectRecord, 'attributes'>, version: KmipVersion, name?: string): KmipAttribute[] {
  const counters = new Map<string, number>();
  const out: KmipAttribute[] = [];
  for (const a of rec.attributes) {
    const index = counters.get(a.name) ?? 0;
    counters.set(a.name, index + 1);
    if (name !== undefined && a.name !== name) continue;
    const v = attributeForVersion(a, version);
    if (v !== undefined) out.push(withIndex(v, index, version));
  }
  return out;
}

/** The 1.x Attribute Index of the `n`-th stored instance equal to `attr` (for echoing). */
export function indexOfInstance(rec: Pick<ManagedObjectRecord, 'attributes'>, attr: KmipAttribute): number {
  return rec.attributes.filter((a) => a.name === attr.name).indexOf(attr);
}
