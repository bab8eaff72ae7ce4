/**
 * Offline verification of an exported audit chain (issue 16 item 5: "It can also verify an exported JSONL file
 * offline"). The export (./record.ts exportLine, `openkcm audit export`, GET .../audit/export) carries every
 * stored field, so the same checks as AuditTrail.verify run on the file (./chain-check.ts): consecutive seq from 1, each prev_hash the
 * previous record's hash (genesis: 32 zero bytes), each hash recomputed from the content, and each HMAC under the
 * audit key when the key is given.
 *
 * What a file cannot prove: the export has no chain head, so records cut off at the END of the file are not
 * detected (the database verify compares the head row). Compare the count with a verify on the node when that
 * matters. Without the key only the hash links are checked, which anyone who rewrote the file could recompute: the
 * result says so (`hmacChecked: false`).
 */
import { ChainCheck } from './chain-check.js';
import type { ChainLink } from './chain-check.js';
import type { AuditGapSummary } from './gap.js';
import { AUDIT_FIELD_MAX } from './record.js';
import type { AuditHmac } from './record.js';

/**
 * Longest line accepted. A record has six text fields of at most AUDIT_FIELD_MAX characters, each at most 6 bytes
 * once JSON-escaped (\uXXXX), plus three 64-character hex fields and the field names: 8 times the text bound covers
 * it with room. Stops a hostile or corrupt file from making the verifier buffer an unbounded line.
 */
export const AUDIT_EXPORT_LINE_MAX_BYTES = 6 * AUDIT_FIELD_MAX * 6 + 1024;

export type AuditFileResult =
  | { readonly ok: true; readonly count: number; readonly hmacChecked: boolean; readonly gaps?: AuditGapSummary }
  | { readonly ok: false; readonly count: number; readonly hmacChecked: boolean; readonly firstBadSeq: number; readonly reason: string };

const HEX32 = /^[0-9a-f]{64}$/;

function parseLine(text: string): ChainLink | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 1) return 'seq is not a positive integer';
  for (const k of ['at', 'principal', 'tenant', 'operation', 'object', 'result'] as const) {
    if (typeof o[k] !== 'string') return `${k} is not a string`;
  }
  for (const k of ['prevHash', 'hash'] as const) {
    if (typeof o[k] !== 'string' || !HEX32.test(o[k])) return `${k} is not 64 hex digits`;
  }
  if (typeof o.hmac !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(o.hmac)) return 'hmac is not hex';
  const at = new Date(o.at as string);
  // The hash covers the ISO text exactly: anything that does not round-trip was not written by the exporter.
  if (Number.isNaN(at.getTime()) || at.toISOString() !== o.at) return 'at is not an ISO 8601 UTC timestamp';
  return {
    seq: o.seq, at, principal: o.principal as string, tenant: o.tenant as string, operation: o.operation as string,
    object: o.object as string, result: o.result as string,
    prevHash: Buffer.from(o.prevHash as string, 'hex'), hash: Buffer.from(o.hash as string, 'hex'), hmac: Buffer.from(o.hmac, 'hex'),
  };
}

/** Splits a byte stream into lines, refusing one longer than {@link AUDIT_EXPORT_LINE_MAX_BYTES}. */
async function* linesOf(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let pending = Buffer.alloc(0);
  for await (const c of chunks) {
    pending = Buffer.concat([pending, typeof c === 'string' ? Buffer.from(c, 'utf8') : c]);
    let nl: number;
    while ((nl = pending.indexOf(0x0a)) >= 0) {
      if (nl > AUDIT_EXPORT_LINE_MAX_BYTES) throw new RangeError(`a line is longer than ${String(AUDIT_EXPORT_LINE_MAX_BYTES)} bytes`);
      yield pending.subarray(0, nl).toString('utf8');
      pending = pending.subarray(nl + 1);
    }
    if (pending.length > AUDIT_EXPORT_LINE_MAX_BYTES) throw new RangeError(`a line is longer than ${String(AUDIT_EXPORT_LINE_MAX_BYTES)} bytes`);
  }
  if (pending.length > 0) yield pending.toString('utf8');
}

/** Verifies an export read from `input` (e.g. a file stream); `hmac` undefined: hash links only. */
export async function verifyAuditExport(input: AsyncIterable<Buffer | string>, hmac: AuditHmac | undefined): Promise<AuditFileResult> {
  const hmacChecked = hmac !== undefined;
  const walk = new ChainCheck(hmac);
  const bad = (firstBadSeq: number, reason: string): AuditFileResult => ({ ok: false, count: walk.count, hmacChecked, firstBadSeq, reason });
  try {
    for await (const text of linesOf(input)) {
      if (text.trim() === '') continue;
      const r = parseLine(text);
      if (typeof r === 'string') return bad(walk.expect, `line of record ${String(walk.expect)}: ${r}`);
      const broken = walk.next(r);
      if (broken !== undefined) return bad(broken.firstBadSeq, broken.reason);
    }
  } catch (e) {
    if (e instanceof RangeError) return bad(walk.expect, e.message);
    throw e;
  }
  const { count } = walk;
  const summary = walk.gapSummary();
  return summary === undefined ? { ok: true, count, hmacChecked } : { ok: true, count, hmacChecked, gaps: summary };
}
