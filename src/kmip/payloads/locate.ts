/**
 * Locate: KMIP 1.4 §4.9 (Maximum Items?, Offset Items?, Storage Status Mask?, Object Group
 * Member?, Attribute*; response Located Items?, Unique Identifier*) and KMIP 2.1 §6.1.28
 * (same fields, attributes in one Attributes structure).
 */
import type { KmipAttribute } from '../attributes.js';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads } from './codec.js';
import { attributeListField } from './attribute-fields.js';

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
], [
  { key: 'locatedItems', tag: Tag.LocatedItems, kind: 'int' },
  { key: 'uniqueIdentifiers', tag: Tag.UniqueIdentifier, kind: 'text', multi: 'always' },
]);
