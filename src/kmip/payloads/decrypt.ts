/**
 * Decrypt: KMIP 1.4 §4.30, KMIP 2.1 §6.1.11. Request: as Encrypt plus Authenticated
 * Encryption Tag?; response: Unique Identifier, Data?, Correlation Value?.
 */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import { ENCRYPT_REQUEST_FIELDS } from './encrypt.js';
import type { EncryptRequest } from './encrypt.js';

export interface DecryptRequest extends EncryptRequest {
  authenticatedEncryptionTag?: Uint8Array;
}

export interface DecryptResponse {
  uniqueIdentifier: string;
  data?: Uint8Array;
  correlationValue?: Uint8Array;
}

export const decryptPayloads = definePayloads<DecryptRequest, DecryptResponse>(Operation.Decrypt, 'Decrypt', [
  ...ENCRYPT_REQUEST_FIELDS,
  { key: 'authenticatedEncryptionTag', tag: Tag.AuthenticatedEncryptionTag, kind: 'bytes' },
], [
  uid('uniqueIdentifier', true),
  { key: 'data', tag: Tag.Data, kind: 'bytes' },
  { key: 'correlationValue', tag: Tag.CorrelationValue, kind: 'bytes' },
]);
