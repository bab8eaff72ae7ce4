/**
 * Derive Key: KMIP 1.4 §4.6 (Table 180: Object Type, Unique Identifier (MAY be repeated), Derivation Method,
 * Derivation Parameters, Template-Attribute; Table 181: Unique Identifier, Template-Attribute?) and KMIP 2.1 §6.1.11
 * (Table 205: the same with Attributes; Table 206: Unique Identifier). Derivation Parameters: 1.4 Tables 182-183,
 * 2.1 §7.12 Table 364 (Derivation Data "May be repeated" at 2.1).
 */
import type { StructureItem } from '@openkcm/ttlv';
import type { KmipAttribute } from '../attributes.js';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, nested, structCodec, uid } from './codec.js';
import type { StructCodec } from './codec.js';
import { requestAttributesField } from './attribute-fields.js';
import { cryptographicParametersCodec } from './objects.js';
import type { CryptographicParameters } from './objects.js';

export interface DerivationParameters {
  cryptographicParameters?: CryptographicParameters;
  initializationVector?: Uint8Array;
  /** One instance at 1.x; 2.1 allows several (the handler accepts one). */
  derivationData?: Uint8Array[];
  /** PBKDF2 (and 2.1 HKDF). */
  salt?: Uint8Array;
  /** PBKDF2: bounded by `maxDeriveIterationCount`. */
  iterationCount?: number;
}

export const derivationParametersCodec: StructCodec<DerivationParameters> = structCodec<DerivationParameters>(Tag.DerivationParameters, [
  nested<DerivationParameters, 'cryptographicParameters'>('cryptographicParameters', cryptographicParametersCodec),
  { key: 'initializationVector', tag: Tag.InitializationVector, kind: 'bytes' },
  { key: 'derivationData', tag: Tag.DerivationData, kind: 'bytes', multi: 'nonEmpty' },
  { key: 'salt', tag: Tag.Salt, kind: 'bytes' },
  { key: 'iterationCount', tag: Tag.IterationCount, kind: 'int' },
]);

export interface DeriveKeyRequest {
  objectType: number;
  /** The base object(s); the ID Placeholder SHALL NOT stand in for them (1.4 Table 180). */
  uniqueIdentifiers: string[];
  derivationMethod: number;
  derivationParameters: DerivationParameters;
  attributes: KmipAttribute[];
  /** 1.x only: Template Names in the Template-Attribute. */
  templateNames?: StructureItem[];
}

export interface DeriveKeyResponse {
  uniqueIdentifier: string;
  /** 1.x only: attributes the server set implicitly (Template-Attribute). */
  attributes?: KmipAttribute[];
}

export const deriveKeyPayloads = definePayloads<DeriveKeyRequest, DeriveKeyResponse>(Operation.DeriveKey, 'Derive Key', [
  { key: 'objectType', tag: Tag.ObjectType, kind: 'enum', required: true },
  { key: 'uniqueIdentifiers', tag: Tag.UniqueIdentifier, kind: 'text', required: true, multi: 'always' },
  { key: 'derivationMethod', tag: Tag.DerivationMethod, kind: 'enum', required: true },
  nested<DeriveKeyRequest, 'derivationParameters'>('derivationParameters', derivationParametersCodec, true),
  requestAttributesField<DeriveKeyRequest>(),
], [
  uid('uniqueIdentifier', true),
  requestAttributesField<DeriveKeyResponse>({ only: 1, optional: true }),
]);
