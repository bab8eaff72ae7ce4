/** Set Attribute (KMIP 2.x only): KMIP 2.1 §6.1.51. Request: Unique Identifier?, New Attribute; response: Unique Identifier. */
import type { KmipAttribute } from '../attributes.js';
import { Operation } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import { singleAttributeField } from './attribute-fields.js';

export interface SetAttributeRequest {
  uniqueIdentifier?: string;
  attribute: KmipAttribute;
}

export interface SetAttributeResponse {
  uniqueIdentifier: string;
}

export const setAttributePayloads = definePayloads<SetAttributeRequest, SetAttributeResponse>(Operation.SetAttribute, 'Set Attribute', [
  uid('uniqueIdentifier'),
  singleAttributeField<'attribute', SetAttributeRequest>('attribute', { required: true, always2x: true }),
], [
  uid('uniqueIdentifier', true),
]);
