/**
 * Decrypt: KMIP 1.4 §4.30, KMIP 2.1 §6.1.11. Request: as Encrypt plus Authenticated
 * Encryption Tag?; response: Unique Identifier, Data?, Correlation Value?.
 */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, nested, uid } from './codec.js';
import { cryptographicParametersCodec } from './objects.js';
import type { CryptographicParameters } from './objects.js';

export interface DecryptRequest {
  uniqueIdentifier?: string;
  cryptographicParameters?: CryptographicParameters;
  data?: Uint8Array;
  ivCounterNonce?: Uint8Array;
  correlationValue?: Uint8Array;
  initIndicator?: boolean;
  finalIndicator?: boolean;
  authenticatedEncryptionAdditionalData?: Uint8Array;
  authenticatedEncryptionTag?: Uint8Array;
}

export interface DecryptResponse {
  uniqueIdentifier: string;
  data?: Uint8Array;
  correlationValue?: Uint8Array;
}

export const decryptPayloads = definePayloads<DecryptRequest, DecryptResponse>(Operation.Decrypt, 'Decrypt', [
  uid('uniqueIdentifier'),
  nested<DecryptRequest, 'cryptographicParameters'>('cryptographicParameters', cryptographicParametersCodec),
  { key: 'data', tag: Tag.Data, kind: 'bytes' },
  { key: 'ivCounterNonce', tag: Tag.IVCounterNonce, kind: 'bytes' },
  { key: 'correlationValue', tag: Tag.CorrelationValue, kind: 'bytes' },
  { key: 'initIndicator', tag: Tag.InitIndicator, kind: 'bool' },
  { key: 'finalIndicator', tag: Tag.FinalIndicator, kind: 'bool' },
  { key: 'authenticatedEncryptionAdditionalData', tag: Tag.AuthenticatedEncryptionAdditionalData, kind: 'bytes' },
  { key: 'authenticatedEncryptionTag', tag: Tag.AuthenticatedEncryptionTag, kind: 'bytes' },
], [
  uid('uniqueIdentifier', true),
  { key: 'data', tag: Tag.Data, kind: 'bytes' },
  { key: 'correlationValue', tag: Tag.CorrelationValue, kind: 'bytes' },
]);
