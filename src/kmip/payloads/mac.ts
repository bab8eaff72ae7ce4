/**
 * MAC: KMIP 1.4 §4.33, KMIP 2.1 §6.1.32. Request: Unique Identifier?, Cryptographic
 * Parameters?, Data? (REQUIRED unless streaming), Correlation Value?, Init Indicator?, Final
 * Indicator?; response: Unique Identifier, MAC Data? (REQUIRED for single-part), Correlation Value?.
 */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, nested, uid } from './codec.js';
import { cryptographicParametersCodec } from './objects.js';
import type { CryptographicParameters } from './objects.js';

export interface MacRequest {
  uniqueIdentifier?: string;
  cryptographicParameters?: CryptographicParameters;
  data?: Uint8Array;
  correlationValue?: Uint8Array;
  initIndicator?: boolean;
  finalIndicator?: boolean;
}

export interface MacResponse {
  uniqueIdentifier: string;
  macData?: Uint8Array;
  correlationValue?: Uint8Array;
}

export const macPayloads = definePayloads<MacRequest, MacResponse>(Operation.MAC, 'MAC', [
  uid('uniqueIdentifier'),
  nested<MacRequest, 'cryptographicParameters'>('cryptographicParameters', cryptographicParametersCodec),
  { key: 'data', tag: Tag.Data, kind: 'bytes' },
  { key: 'correlationValue', tag: Tag.CorrelationValue, kind: 'bytes' },
  { key: 'initIndicator', tag: Tag.InitIndicator, kind: 'bool' },
  { key: 'finalIndicator', tag: Tag.FinalIndicator, kind: 'bool' },
], [
  uid('uniqueIdentifier', true),
  { key: 'macData', tag: Tag.MACData, kind: 'bytes' },
  { key: 'correlationValue', tag: Tag.CorrelationValue, kind: 'bytes' },
]);
