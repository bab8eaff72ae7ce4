/**
 * Encrypt: KMIP 1.4 §4.29, KMIP 2.1 §6.1.17. Request: Unique Identifier?, Cryptographic
 * Parameters?, Data? (REQUIRED unless streaming), IV/Counter/Nonce?, Correlation Value?,
 * Init Indicator?, Final Indicator?, Authenticated Encryption Additional Data?; response:
 * Unique Identifier, Data?, IV/Counter/Nonce?, Correlation Value?, Authenticated
 * Encryption Tag?.
 */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, nested, uid } from './codec.js';
import type { FieldSpec } from './codec.js';
import { cryptographicParametersCodec } from './objects.js';
import type { CryptographicParameters } from './objects.js';

export interface EncryptRequest {
  uniqueIdentifier?: string;
  cryptographicParameters?: CryptographicParameters;
  data?: Uint8Array;
  ivCounterNonce?: Uint8Array;
  correlationValue?: Uint8Array;
  initIndicator?: boolean;
  finalIndicator?: boolean;
  authenticatedEncryptionAdditionalData?: Uint8Array;
}

export interface EncryptResponse {
  uniqueIdentifier: string;
  data?: Uint8Array;
  ivCounterNonce?: Uint8Array;
  correlationValue?: Uint8Array;
  authenticatedEncryptionTag?: Uint8Array;
}

/** Encrypt's request fields in spec-table order; Decrypt's request is the same plus the tag (decrypt.ts). */
export const ENCRYPT_REQUEST_FIELDS: readonly FieldSpec<EncryptRequest>[] = [
  uid('uniqueIdentifier'),
  nested<EncryptRequest, 'cryptographicParameters'>('cryptographicParameters', cryptographicParametersCodec),
  { key: 'data', tag: Tag.Data, kind: 'bytes' },
  { key: 'ivCounterNonce', tag: Tag.IVCounterNonce, kind: 'bytes' },
  { key: 'correlationValue', tag: Tag.CorrelationValue, kind: 'bytes' },
  { key: 'initIndicator', tag: Tag.InitIndicator, kind: 'bool' },
  { key: 'finalIndicator', tag: Tag.FinalIndicator, kind: 'bool' },
  { key: 'authenticatedEncryptionAdditionalData', tag: Tag.AuthenticatedEncryptionAdditionalData, kind: 'bytes' },
];

export const encryptPayloads = definePayloads<EncryptRequest, EncryptResponse>(Operation.Encrypt, 'Encrypt', ENCRYPT_REQUEST_FIELDS, [
  uid('uniqueIdentifier', true),
  { key: 'data', tag: Tag.Data, kind: 'bytes' },
  { key: 'ivCounterNonce', tag: Tag.IVCounterNonce, kind: 'bytes' },
  { key: 'correlationValue', tag: Tag.CorrelationValue, kind: 'bytes' },
  { key: 'authenticatedEncryptionTag', tag: Tag.AuthenticatedEncryptionTag, kind: 'bytes' },
]);
