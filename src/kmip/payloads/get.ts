/**
 * Get: KMIP 1.4 §4.11, KMIP 2.1 §6.1.19. Request: Unique Identifier?, Key Format Type?,
 * Key Wrap Type? (1.4+), Key Compression Type?, Key Wrapping Specification? (raw);
 * response: Object Type, Unique Identifier, the object.
 */
import type { StructureItem } from '@openkcm/ttlv';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import { managedObjectField } from './objects.js';
import type { ManagedObject } from './objects.js';

export interface GetRequest {
  uniqueIdentifier?: string;
  keyFormatType?: number;
  keyWrapType?: number;
  keyCompressionType?: number;
  /** Kept raw: interpreted by the wrapping engine. */
  keyWrappingSpecification?: StructureItem;
}

export interface GetResponse {
  objectType: number;
  uniqueIdentifier: string;
  object: ManagedObject;
}

export const getPayloads = definePayloads<GetRequest, GetResponse>(Operation.Get, 'Get', [
  uid('uniqueIdentifier'),
  { key: 'keyFormatType', tag: Tag.KeyFormatType, kind: 'enum' },
  { key: 'keyWrapType', tag: Tag.KeyWrapType, kind: 'enum' },
  { key: 'keyCompressionType', tag: Tag.KeyCompressionType, kind: 'enum' },
  { key: 'keyWrappingSpecification', tag: Tag.KeyWrappingSpecification, kind: 'struct' },
], [
  { key: 'objectType', tag: Tag.ObjectType, kind: 'enum', required: true },
  uid('uniqueIdentifier', true),
  managedObjectField<GetResponse>(),
]);
