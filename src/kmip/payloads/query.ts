/**
 * Query: KMIP 1.4 §4.25, KMIP 2.1 §6.1.40. Request: Query Function*; response: the lists
 * each function asks for. Rarely-used nested structures (Server Information, Extension
 * Information, RNG Parameters, Profile/Validation/Capability Information, Defaults
 * Information) are kept raw.
 */
import type { StructureItem } from '@openkcm/ttlv';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads } from './codec.js';
import { protectionStorageMasksField } from './objects.js';

export interface QueryRequest {
  queryFunctions: number[];
}

export interface QueryResponse {
  operations?: number[];
  objectTypes?: number[];
  vendorIdentification?: string;
  serverInformation?: StructureItem;
  applicationNamespaces?: string[];
  extensionInformation?: StructureItem[];
  attestationTypes?: number[];
  rngParameters?: StructureItem[];
  profileInformation?: StructureItem[];
  validationInformation?: StructureItem[];
  capabilityInformation?: StructureItem[];
  clientRegistrationMethods?: number[];
  /** 2.x only. */
  defaultsInformation?: StructureItem;
  /** 2.x only. */
  protectionStorageMasks?: number[];
}

export const queryPayloads = definePayloads<QueryRequest, QueryResponse>(Operation.Query, 'Query', [
  { key: 'queryFunctions', tag: Tag.QueryFunction, kind: 'enum', multi: 'always' },
], [
  { key: 'operations', tag: Tag.Operation, kind: 'enum', multi: 'nonEmpty' },
  { key: 'objectTypes', tag: Tag.ObjectType, kind: 'enum', multi: 'nonEmpty' },
  { key: 'vendorIdentification', tag: Tag.VendorIdentification, kind: 'text' },
  { key: 'serverInformation', tag: Tag.ServerInformation, kind: 'struct' },
  { key: 'applicationNamespaces', tag: Tag.ApplicationNamespace, kind: 'text', multi: 'nonEmpty' },
  { key: 'extensionInformation', tag: Tag.ExtensionInformation, kind: 'struct', multi: 'nonEmpty' },
  { key: 'attestationTypes', tag: Tag.AttestationType, kind: 'enum', multi: 'nonEmpty' },
  { key: 'rngParameters', tag: Tag.RNGParameters, kind: 'struct', multi: 'nonEmpty' },
  { key: 'profileInformation', tag: Tag.ProfileInformation, kind: 'struct', multi: 'nonEmpty' },
  { key: 'validationInformation', tag: Tag.ValidationInformation, kind: 'struct', multi: 'nonEmpty' },
  { key: 'capabilityInformation', tag: Tag.CapabilityInformation, kind: 'struct', multi: 'nonEmpty' },
  { key: 'clientRegistrationMethods', tag: Tag.ClientRegistrationMethod, kind: 'enum', multi: 'nonEmpty' },
  { key: 'defaultsInformation', tag: Tag.DefaultsInformation, kind: 'struct', only: 2 },
  protectionStorageMasksField<QueryResponse>(),
]);
