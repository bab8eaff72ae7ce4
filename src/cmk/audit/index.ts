/**
 * The audit trail of the governance plane (ARCHITECTURE §6 "Audit"; docs/governance.md "Audit trail"), one idea a
 * file:
 *   ./record.ts       the record: fields, cut and repair, canonical bytes, hash, head MAC input, export line
 *   ./gap.ts          gap records: what the sink could not hold, written into the chain, read back, summed
 *   ./chain-check.ts  the link checks of a chain walk (database verify and offline verify alike)
 *   ./trail.ts        AuditTrail: append, verify, export and read back over one database
 *   ./sink.ts         AuditSink: the hot-path writer, one lane and quota per tenant
 *   ./admission.ts    AuditAdmission: a KMIP worker's copy of the sink's backlog
 *   ./export-file.ts  offline verification of an exported chain
 */
export { AuditAdmission } from './admission.js';
export { AUDIT_EXPORT_LINE_MAX_BYTES, verifyAuditExport } from './export-file.js';
export type { AuditFileResult } from './export-file.js';
export { AUDIT_GAP_OPERATION, AUDIT_GAP_RESULT, AUDIT_SYSTEM_PRINCIPAL, auditGapOf, GapTally } from './gap.js';
export type { AuditGap, AuditGapSummary, AuditLossCause } from './gap.js';
export { AUDIT_FIELD_MAX, AUDIT_FORMAT, auditHash, canonicalAuditBytes, exportLine } from './record.js';
export type { AuditBatch, AuditChainStep, AuditEntry, AuditHmac, AuditRecord, Segment, StoredAuditRecord } from './record.js';
export {
  AUDIT_BATCH_SIZE, AUDIT_DROP_REPORT_INTERVAL_MS, AUDIT_FLUSH_INTERVAL_MS, AUDIT_GAP_MAX_OPEN_MS, AUDIT_GAP_QUIET_MS,
  AUDIT_HOLD_MAX_MS, AUDIT_HOLD_MAX_MS_LIMIT, AUDIT_QUEUE_MAX, AUDIT_REFUSED_RESULT, AUDIT_RESUME_FRACTION, AUDIT_SLOW_FRACTION,
  AUDIT_TENANT_QUEUE_MAX, AuditSink,
} from './sink.js';
export type { AuditBacklog, AuditDropReport, AuditLosses, AuditSinkOptions, AuditSinkStats } from './sink.js';
export { AUDIT_CHAIN_ROWS, AUDIT_PAGE_SIZE, AUDIT_ROWS_PER_COPY, AUDIT_ROWS_PER_INSERT, AUDIT_SLICE_MS, AuditTrail } from './trail.js';
export type { AuditTrailOptions, AuditVerifyResult } from './trail.js';
