/**
 * Register: KMIP 1.4 §4.3 (Object Type, Template-Attribute, object; response Unique
 * Identifier, Template-Attribute?) and KMIP 2.1 §6.1.43 (Object Type, Attributes, object,
 * Protection Storage Masks?; response Unique Identifier).
 */
import type { StructureItem } from '@openkcm/ttlv';
import type { KmipAttribute } from '../attributes.js';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import { requestAttributesField } from './attribute-fields.js';
import { managedObjectField, protectionStorageMasksField } from './objects.js';
import type { ManagedObject } from './objects.js';

export interface RegisterRequest {
  objectType: number;
  attributes: KmipAttribute[];
  templateNames?: StructureItem[];
  object: ManagedObject;
  protectionStorageMasks?: number[];
}

export interface RegisterResponse {
  uniqueIdentifier: string;
  /** 1.x only. */
  attributes?: KmipAttribute[];
}

export const registerPayloads = definePayloads<RegisterRequest, RegisterResponse>(Operation.Register, 'Register', [
  { key: 'objectType', tag: Tag.ObjectType, kind: 'enum', required: true },
  requestAttributesField<RegisterRequest>(),
  managedObjectField<RegisterRequest>(),
  protectionStorageMasksField<RegisterRequest>(),
], [
  uid('uniqueIdentifier', true),
  requestAttributesField<RegisterResponse>({ only: 1, optional: true }),
]);
