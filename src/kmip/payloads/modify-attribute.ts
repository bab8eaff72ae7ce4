/**
 * Modify Attribute: KMIP 1.4 §4.15 (Attribute, instance chosen by Attribute Index;
 * response Unique Identifier, Attribute) and KMIP 2.1 §6.1.34 (Current Attribute?,
 * New Attribute; response Unique Identifier).
 */
import type { KmipAttribute } from '../attributes.js';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import { singleAttributeField } from './attribute-fields.js';

export interface ModifyAttributeRequest {
  uniqueIdentifier?: string;
  /** 2.x only: the instance to modify (by value). */
  currentAttribute?: KmipAttribute;
  /** The new value (1.x Attribute / 2.x New Attribute). */
  attribute: KmipAttribute;
}

export interface ModifyAttributeResponse {
  uniqueIdentifier: string;
  /** 1.x only (REQUIRED there). */
  attribute?: KmipAttribute;
}

export const modifyAttributePayloads = definePayloads<ModifyAttributeRequest, ModifyAttributeResponse>(Operation.ModifyAttribute, 'Modify Attribute', [
  uid('uniqueIdentifier'),
  singleAttributeField<'currentAttribute', ModifyAttributeRequest>('currentAttribute', { only: 2, tag2x: Tag.CurrentAttribute }),
  singleAttributeField<'attribute', ModifyAttributeRequest>('attribute', { required: true }),
], [
  uid('uniqueIdentifier', true),
  singleAttributeField<'attribute', ModifyAttributeResponse>('attribute', { only: 1, required: true }),
]);
