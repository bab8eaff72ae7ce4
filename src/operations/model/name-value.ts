/**
 * The Name Value inside a Name attribute (KMIP 1.4 §3.2, 2.1 §4.35). A leaf of the model: the request context
 * (./context.ts) and the client-attribute rules (./client-attributes.ts) both read names, so neither imports the
 * other for it (issue 19: no import cycles).
 */
import { Tag } from '../../kmip/registry.js';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';

/** The Name Value of a Name attribute value. */
export function nameValueOf(value: TtlvItem): string | undefined {
  if (value.type !== ItemType.Structure) return undefined;
  const v = value.value.find((c) => c.tag === Tag.NameValue);
  return v?.type === ItemType.TextString ? v.value : undefined;
}
