/**
 * MAC Verify: KMIP 1.4 §4.34, KMIP 2.1 §6.1.33. Request: Unique Identifier?, Cryptographic
 * Parameters?, Data?, MAC Data?, Correlation Value?, Init Indicator?, Final Indicator?;
 * response: Unique Identifier, Validity Indicator? (single-part and final part only),
 * Correlation Value?.
 */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, nested, uid } from './codec.js';
import { cryptographicParametersCodec } from './objects.js';
import type { CryptographicParameters } from './objects.js';

export interface MacVerifyRequest {
  uniqueIdentifier?: string;
  cryptographicParameters?: CryptographicParameters;
  data?: Uint8Array;
  macData?: Uint8Array;
  correlationValue?: Uint8Array;
  initIndicator?: boolean;
  finalIndicator?: boolean;
}

export interface MacVerifyResponse {
  uniqueIdentifier: string;
  /** ValidityIndicator enumeration (Valid / Invalid / Unknown). */
  validityIndicator?: number;
  correlationValue?: Uint8Array;
}

export const macVerifyPayloads = definePayloads<MacVerifyRequest, MacVerifyResponse>(Operation.MACVerify, 'MAC Verify', [
  uid('uniqueIdentifier'),
  nested<MacVerifyRequest, 'cryptographicParameters'>('cryptographicParameters', cryptographicParametersCodec),
  { key: 'data', tag: Tag.Data, kind: 'bytes' },
  { key: 'macData', tag: Tag.MACData, kind: 'bytes' },
  { key: 'correlationValue', tag: Tag.CorrelationValue, kind: 'bytes' },
  { key: 'initIndicator', tag: Tag.InitIndicator, kind: 'bool' },
  { key: 'finalIndicator', tag: Tag.FinalIndicator, kind: 'bool' },
], [
  uid('uniqueIdentifier', true),
  { key: 'validityIndicator', tag: Tag.ValidityIndicator, kind: 'enum' },
  { key: 'correlationValue', tag: Tag.CorrelationValue, kind: 'bytes' },
]);
