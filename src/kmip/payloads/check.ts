/**
 * Check: KMIP 1.4 §4.10, KMIP 2.1 §6.1.7. Request: Unique Identifier?, Usage Limits Count?,
 * Cryptographic Usage Mask?, Lease Time?; response: the same with Unique Identifier.
 */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import type { PrimitiveField } from './codec.js';

export interface CheckRequest {
  uniqueIdentifier?: string;
  usageLimitsCount?: bigint;
  cryptographicUsageMask?: number;
  leaseTime?: number;
}

export interface CheckResponse {
  uniqueIdentifier: string;
  usageLimitsCount?: bigint;
  cryptographicUsageMask?: number;
  leaseTime?: number;
}

const checkFields: readonly PrimitiveField<'usageLimitsCount' | 'cryptographicUsageMask' | 'leaseTime'>[] = [
  { key: 'usageLimitsCount', tag: Tag.UsageLimitsCount, kind: 'long' },
  { key: 'cryptographicUsageMask', tag: Tag.CryptographicUsageMask, kind: 'int' },
  { key: 'leaseTime', tag: Tag.LeaseTime, kind: 'interval' },
];

export const checkPayloads = definePayloads<CheckRequest, CheckResponse>(Operation.Check, 'Check', [
  uid('uniqueIdentifier'), ...checkFields,
], [
  uid('uniqueIdentifier', true), ...checkFields,
]);
