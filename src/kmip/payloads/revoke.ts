/**
 * Revoke: KMIP 1.4 §4.20, KMIP 2.1 §6.1.44. Request: Unique Identifier?, Revocation Reason
 * {Revocation Reason Code, Revocation Message?} (1.4 §3.31), Compromise Occurrence Date?;
 * response: Unique Identifier.
 */
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, nested, structCodec, uid } from './codec.js';
import type { StructCodec } from './codec.js';

export interface RevocationReason {
  code: number;
  message?: string;
}

export const revocationReasonCodec: StructCodec<RevocationReason> = structCodec<RevocationReason>(Tag.RevocationReason, [
  { key: 'code', tag: Tag.RevocationReasonCode, kind: 'enum', required: true },
  { key: 'message', tag: Tag.RevocationMessage, kind: 'text' },
]);

export interface RevokeRequest {
  uniqueIdentifier?: string;
  revocationReason: RevocationReason;
  /** POSIX seconds; SHOULD be given for Key Compromise / CA Compromise. */
  compromiseOccurrenceDate?: bigint;
}

export interface RevokeResponse {
  uniqueIdentifier: string;
}

export const revokePayloads = definePayloads<RevokeRequest, RevokeResponse>(Operation.Revoke, 'Revoke', [
  uid('uniqueIdentifier'),
  nested<RevokeRequest, 'revocationReason'>('revocationReason', revocationReasonCodec, true),
  { key: 'compromiseOccurrenceDate', tag: Tag.CompromiseOccurrenceDate, kind: 'dateTime' },
], [
  uid('uniqueIdentifier', true),
]);
