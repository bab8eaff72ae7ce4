/**
 * Get Attributes: KMIP 1.4 §4.12 (Attribute Name* text; response Attribute*) and KMIP 2.1
 * §6.1.20 (Attribute Reference*; response Attributes). No names = all attributes.
 */
import type { KmipAttribute } from '../attributes.js';
import { Operation } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import { attributeListField, attributeNamesField } from './attribute-fields.js';

export interface GetAttributesRequest {
  uniqueIdentifier?: string;
  /** Internal attribute names ('Cryptographic Algorithm', 'x-ID'); empty = all. */
  attributeNames: string[];
}

export interface GetAttributesResponse {
  uniqueIdentifier: string;
  attributes: KmipAttribute[];
}

export const getAttributesPayloads = definePayloads<GetAttributesRequest, GetAttributesResponse>(Operation.GetAttributes, 'Get Attributes', [
  uid('uniqueIdentifier'),
  attributeNamesField<'attributeNames', GetAttributesRequest>('attributeNames'),
], [
  uid('uniqueIdentifier', true),
  attributeListField<'attributes', GetAttributesResponse>('attributes'),
]);
