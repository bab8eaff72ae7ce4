/**
 * Locate: KMIP 1.4 §4.9 (Maximum Items?, Offset Items?, Storage Status Mask?, Object Group
 * Member?, Attribute*; response Located Items?, Unique Identifier*) and KMIP 2.1 §6.1.28
 * (same fields, attributes in one Attributes structure).
 */
import type { KmipAttribute } from '../attributes.js';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads } from './codec.js';
import { attributeListField } from './attribute-fields.js';
import type { CustomField } from './codec.js';
import { readRequestAttributes } from '../attributes.js';
import { KmipError } from '../errors.js';
import { optItem } from './fields.js';

/**
 * FortiOS 7.4 (KMIP 1.0) wraps its Locate filter in a Template-Attribute (/work/shared/kmip/CLIENTS.md), which KMIP
 * 1.x Locate does not define (1.4 §4.9: Attribute*). Ignoring it would widen the filter to every object of the tenant
 * — the bug that handed FortiGate the same key for different names on another server — so its attributes join the
 * filter. Template Names inside it are refused: a filter by template is not defined. Decode only (1.x); never written.
 */
const fortiosTemplateFilter: CustomField<LocateRequest> = {
  name: 'Template-Attribute',
  only: 1,
  encode() {
    return undefined;
  },
  decode(s, v, out) {
    if (optItem(s, Tag.TemplateAttribute) === undefined) return;
    const t = readRequestAttributes(s, v, Tag.TemplateAttribute, Tag.Attributes);
    if (t.templateNames.length > 0) throw new KmipError('INVALID_FIELD', 'a Locate filter cannot name a Template', { field: 'Template-Attribute' });
    out.attributes = [...(out.attributes ?? []), ...t.attributes];
  },
};

export interface LocateRequest {
  maximumItems?: number;
  offsetItems?: number;
  storageStatusMask?: number;
  objectGroupMember?: number;
  attributes: KmipAttribute[];
}

export interface LocateResponse {
  locatedItems?: number;
  uniqueIdentifiers: string[];
}

export const locatePayloads = definePayloads<LocateRequest, LocateResponse>(Operation.Locate, 'Locate', [
  { key: 'maximumItems', tag: Tag.MaximumItems, kind: 'int' },
  { key: 'offsetItems', tag: Tag.OffsetItems, kind: 'int' },
  { key: 'storageStatusMask', tag: Tag.StorageStatusMask, kind: 'int' },
  { key: 'objectGroupMember', tag: Tag.ObjectGroupMember, kind: 'enum' },
  attributeListField<'attributes', LocateRequest>('attributes'),
  fortiosTemplateFilter,
], [
  { key: 'locatedItems', tag: Tag.LocatedItems, kind: 'int' },
  { key: 'uniqueIdentifiers', tag: Tag.UniqueIdentifier, kind: 'text', multi: 'always' },
]);
