/**
 * Gap records (issue 15 item 4). The hot-path sink (./sink.ts) holds a bounded queue per tenant; what it cannot hold
 * is never lost silently: the records it dropped, and the operations the server refused because the tenant's queue
 * was full, are counted and written as one gap record in the chain when the flood ends (principal {@link
 * AUDIT_SYSTEM_PRINCIPAL}, operation {@link AUDIT_GAP_OPERATION}, object = JSON {dropped, refused, from, to,
 * cause}). A gap record is chained and HMACed like any other, so verify() proves it untouched and reports it.
 *
 * Here: the gap record a closed gap becomes ({@link gapEntry}), what a stored one states ({@link auditGapOf}), and
 * the sum over a chain walk ({@link GapTally}).
 */
import type { AuditEntry } from './record.js';
import { MAX_AT_MS } from './record.js';

/** The principal and operation of a gap record (see the module comment). */
export const AUDIT_SYSTEM_PRINCIPAL = 'system:audit';
export const AUDIT_GAP_OPERATION = 'audit.gap';
export const AUDIT_GAP_RESULT = 'gap';

/** What was full when records were lost: the tenant's quota, the node's bound, or the sink was closed. */
export type AuditLossCause = 'tenant-quota' | 'node-queue' | 'closed';

/** The gap records of a chain, summed (verify()). */
export interface AuditGapSummary {
  /** Gap records in the chain. */
  readonly records: number;
  /** Records dropped and operations refused, over all gap records. */
  readonly dropped: number;
  readonly refused: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Earliest and latest loss (ISO 8601). */
  readonly from: string;
  readonly to: string;
}

/** What a gap record says (its object field), see the module comment. */
export interface AuditGap {
  readonly dropped: number;
  readonly refused: number;
  /** Earliest and latest loss, ISO 8601. */
  readonly from: string;
  readonly to: string;
  /** `tenant-quota`: the tenant's own queue was full; `node-queue`: the node's (all tenants) was. */
  readonly cause: string;
}

/** The gap a record states, or undefined when it is not a gap record. For verify() and offline verifiers of an
 *  export (the fields are the stored ones; the record must have verified first). */
export function auditGapOf(r: { readonly principal: string; readonly operation: string; readonly object: string }): AuditGap | undefined {
  if (r.operation !== AUDIT_GAP_OPERATION || r.principal !== AUDIT_SYSTEM_PRINCIPAL) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(r.object);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const count = (x: unknown): number => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : 0);
  const text = (x: unknown): string => (typeof x === 'string' ? x : '');
  return { dropped: count(o.dropped), refused: count(o.refused), from: text(o.from), to: text(o.to), cause: text(o.cause) };
}

/** Sums the gap records of a chain walk. */
export class GapTally {
  private records = 0;
  private dropped = 0;
  private refused = 0;
  private firstSeq = 0;
  private lastSeq = 0;
  private from = '';
  private to = '';

  add(r: { readonly seq: number; readonly principal: string; readonly operation: string; readonly object: string }): void {
    const g = auditGapOf(r);
    if (g === undefined) return;
    if (this.records === 0) this.firstSeq = r.seq;
    this.records++;
    this.lastSeq = r.seq;
    this.dropped += g.dropped;
    this.refused += g.refused;
    // ISO 8601 UTC strings of one format order as text.
    if (g.from !== '' && (this.from === '' || g.from < this.from)) this.from = g.from;
    if (g.to > this.to) this.to = g.to;
  }

  summary(): AuditGapSummary | undefined {
    if (this.records === 0) return undefined;
    return { records: this.records, dropped: this.dropped, refused: this.refused, firstSeq: this.firstSeq, lastSeq: this.lastSeq, from: this.from, to: this.to };
  }
}


/** Losses of one tenant, as a gap record states them: counts, and record times (epoch ms) of the first and last. */
export interface GapCounts {
  readonly dropped: number;
  readonly refused: number;
  readonly from: number;
  readonly to: number;
}

/** The gap record of a closed gap (see the module comment); `wall` is its time, and stands in for a time out of range. */
export function gapEntry(g: GapCounts, cause: AuditLossCause, wall: number): AuditEntry {
  const iso = (ms: number): string => new Date(ms >= 0 && ms <= MAX_AT_MS ? ms : wall).toISOString();
  return {
    principal: AUDIT_SYSTEM_PRINCIPAL,
    operation: AUDIT_GAP_OPERATION,
    object: JSON.stringify({ dropped: g.dropped, refused: g.refused, from: iso(g.from), to: iso(g.to), cause }),
    result: AUDIT_GAP_RESULT,
    at: wall,
  };
}
