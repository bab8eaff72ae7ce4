/**
 * Re-key: KMIP 1.4 §4.4 (Table 174: Unique Identifier?, Offset?, Template-Attribute?; Table 175:
 * Unique Identifier, Template-Attribute?) and KMIP 2.1 §6.1.46 (Table 305: Unique Identifier?,
 * Offset?, Attributes?, Protection Storage Masks?; Table 306: Unique Identifier).
 */
import type { StructureItem } from '@openkcm/ttlv';
import type { KmipAttribute } from '../attributes.js';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import { requestAttributesField } from './attribute-fields.js';
import { protectionStorageMasksField } from './objects.js';

export interface ReKeyRequest {
  /** The existing Symmetric Key; absent = the ID Placeholder. */
  uniqueIdentifier?: string;
  /** Seconds between the replacement's Initial Date and its Activation Date (an Interval). */
  offset?: number;
  /** Desired attributes of the replacement (1.x Template-Attribute, 2.x Attributes); NOT required here. */
  attributes?: KmipAttribute[];
  /** 1.x only: Template Names in the Template-Attribute. */
  templateNames?: StructureItem[];
  /** 2.x only. */
  protectionStorageMasks?: number[];
}

export interface ReKeyResponse {
  /** The replacement key. */
  uniqueIdentifier: string;
  /** 1.x only: attributes the server set implicitly (Template-Attribute). */
  attributes?: KmipAttribute[];
}

export const reKeyPayloads = definePayloads<ReKeyRequest, ReKeyResponse>(Operation.ReKey, 'Re-key', [
  uid('uniqueIdentifier'),
  { key: 'offset', tag: Tag.Offset, kind: 'interval' },
  requestAttributesField<ReKeyRequest>({ optional: true }),
  protectionStorageMasksField<ReKeyRequest>(),
], [
  uid('uniqueIdentifier', true),
  requestAttributesField<ReKeyResponse>({ only: 1, optional: true }),
]);
