/**
 * Create: KMIP 1.4 §4.1 (Object Type, Template-Attribute; response Object Type, Unique
 * Identifier, Template-Attribute?) and KMIP 2.1 §6.1.8 (Object Type, Attributes,
 * Protection Storage Masks?; response Object Type, Unique Identifier).
 */
import type { StructureItem } from '@openkcm/ttlv';
import type { KmipAttribute } from '../attributes.js';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import { requestAttributesField } from './attribute-fields.js';
import { protectionStorageMasksField } from './objects.js';

export interface CreateRequest {
  objectType: number;
  attributes: KmipAttribute[];
  /** 1.x only: Template Names (Name structures) in the Template-Attribute. */
  templateNames?: StructureItem[];
  /** 2.x only. */
  protectionStorageMasks?: number[];
}

export interface CreateResponse {
  objectType: number;
  uniqueIdentifier: string;
  /** 1.x only: attributes the server set implicitly (Template-Attribute). */
  attributes?: KmipAttribute[];
}

export const createPayloads = definePayloads<CreateRequest, CreateResponse>(Operation.Create, 'Create', [
  { key: 'objectType', tag: Tag.ObjectType, kind: 'enum', required: true },
  requestAttributesField<CreateRequest>(),
  protectionStorageMasksField<CreateRequest>(),
], [
  { key: 'objectType', tag: Tag.ObjectType, kind: 'enum', required: true },
  uid('uniqueIdentifier', true),
  requestAttributesField<CreateResponse>({ only: 1, optional: true }),
]);
