/**
 * Add Attribute: KMIP 1.4 §4.14 (Attribute; response Unique Identifier, Attribute) and
 * KMIP 2.1 §6.1.2 (New Attribute; response Unique Identifier).
 */
import type { KmipAttribute } from '../attributes.js';
import { Operation } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import { singleAttributeField } from './attribute-fields.js';

export interface AddAttributeRequest {
  uniqueIdentifier?: string;
  attribute: KmipAttribute;
}

export interface AddAttributeResponse {
  uniqueIdentifier: string;
  /** 1.x only (REQUIRED there): the attribute as added, with its index. */
  attribute?: KmipAttribute;
}

export const addAttributePayloads = definePayloads<AddAttributeRequest, AddAttributeResponse>(Operation.AddAttribute, 'Add Attribute', [
  uid('uniqueIdentifier'),
  singleAttributeField<'attribute', AddAttributeRequest>('attribute', { required: true }),
], [
  uid('uniqueIdentifier', true),
  singleAttributeField<'attribute', AddAttributeResponse>('attribute', { only: 1, required: true }),
]);
