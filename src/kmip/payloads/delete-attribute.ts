/**
 * Delete Attribute: KMIP 1.4 §4.16 (Attribute Name, Attribute Index?; response Unique
 * Identifier, Attribute) and KMIP 2.1 §6.1.13 (Current Attribute? or Attribute
 * Reference?; response Unique Identifier).
 */
import type { KmipAttribute } from '../attributes.js';
import { KmipError } from '../errors.js';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import type { CustomField } from './codec.js';
import { attributeNameField, singleAttributeField } from './attribute-fields.js';

export interface DeleteAttributeRequest {
  uniqueIdentifier?: string;
  /** 1.x Attribute Name (REQUIRED) / 2.x Attribute Reference (all instances). */
  attributeName?: string;
  /** 1.x only. */
  attributeIndex?: number;
  /** 2.x only: delete the instance with this value. */
  currentAttribute?: KmipAttribute;
}

export interface DeleteAttributeResponse {
  uniqueIdentifier: string;
  /** 1.x only (REQUIRED there): the deleted attribute. */
  attribute?: KmipAttribute;
}

/** 2.1 §6.1.13: one of Current Attribute / Attribute Reference must say what to delete. */
const deleteTarget2x: CustomField<DeleteAttributeRequest> = {
  name: 'Current Attribute',
  only: 2,
  encode() { return undefined; },
  decode(_s, _v, out) {
    if (out.currentAttribute === undefined && out.attributeName === undefined) {
      throw new KmipError('MISSING_DATA', 'Delete Attribute needs a Current Attribute or an Attribute Reference', { field: 'Attribute Reference' });
    }
  },
};

export const deleteAttributePayloads = definePayloads<DeleteAttributeRequest, DeleteAttributeResponse>(Operation.DeleteAttribute, 'Delete Attribute', [
  uid('uniqueIdentifier'),
  singleAttributeField<'currentAttribute', DeleteAttributeRequest>('currentAttribute', { only: 2, tag2x: Tag.CurrentAttribute }),
  attributeNameField<'attributeName', DeleteAttributeRequest>('attributeName'),
  { key: 'attributeIndex', tag: Tag.AttributeIndex, kind: 'int', only: 1 },
  deleteTarget2x,
], [
  uid('uniqueIdentifier', true),
  singleAttributeField<'attribute', DeleteAttributeResponse>('attribute', { only: 1, required: true }),
]);
