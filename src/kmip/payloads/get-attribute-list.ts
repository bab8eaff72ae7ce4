/**
 * Get Attribute List: KMIP 1.4 §4.13 (response Attribute Name*) and KMIP 2.1 §6.1.21
 * (response Attribute Reference*).
 */
import { Operation } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import { attributeNamesField } from './attribute-fields.js';

export interface GetAttributeListRequest {
  uniqueIdentifier?: string;
}

export interface GetAttributeListResponse {
  uniqueIdentifier: string;
  attributeNames: string[];
}

export const getAttributeListPayloads = definePayloads<GetAttributeListRequest, GetAttributeListResponse>(Operation.GetAttributeList, 'Get Attribute List', [
  uid('uniqueIdentifier'),
], [
  uid('uniqueIdentifier', true),
  attributeNamesField<'attributeNames', GetAttributeListResponse>('attributeNames'),
]);
