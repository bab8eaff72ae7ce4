/**
 * The audit record (ARCHITECTURE §6 "Audit"): its fields, how they are cut and repaired to what is stored, its
 * canonical bytes, its hash and the chain head's MAC input. The chain is written by ./trail.ts, fed on the hot path
 * by ./sink.ts, and checked by ./chain-check.ts. Format and commands: docs/governance.md "Audit trail".
 *
 * Chains. One per tenant schema (`tenant_<id>.audit`, KMIP operations and tenant admin actions) and one in
 * `public.audit` (global admin actions: onboarding, offboarding, and records of tenants whose schema is gone).
 *
 * Record n (seq = n, 1-based, no gaps):
 *   canonical = UTF-8 of JSON.stringify(["openkcm.audit.v1", seq, at.toISOString(), principal, tenant,
 *                                        operation, object, result])
 *   hash      = SHA-256(canonical || prev_hash)          prev_hash of record 1 = 32 zero bytes
 *   hmac      = HMAC(hash)                               key: the MasterKey-derived audit key (caller supplied)
 * The head row (`audit_head`) holds (seq, hash) of the last record and HMAC("openkcm.audit.head.v1:<seq>:" ||
 * hash), so cutting records off the end is detected like any other deletion.
 *
 * src/cmk never touches key slots (ARCHITECTURE §6): the HMAC is a callback the app wires to the MasterKey.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isTenantId, tenantSchema } from '../db.js';

/** Characters kept per text field; a hostile client (principal from a certificate, object names) cannot bloat
 *  the trail. Longer values are cut and end with "…". */
export const AUDIT_FIELD_MAX = 512;

export const AUDIT_FORMAT = 'openkcm.audit.v1';
export const HEAD_FORMAT = 'openkcm.audit.head.v1';
export const GENESIS = new Uint8Array(32);

/**
 * The chain step for n records at once (issue 14 deliverable 4): record i's canonical bytes are
 * canonical[offsets[i] .. offsets[i+1]); with `prev` the prev_hash of record 0, it returns 64 n bytes, hash || hmac
 * of each record in order, exactly as the module comment defines them. One call per flush chunk instead of a hash
 * object and an HMAC call per record: the app wires the native one (src/native auditChain) beside the HMAC.
 */
export type AuditChainStep = (canonical: Uint8Array, offsets: Uint32Array, prev: Uint8Array) => Uint8Array;

/** HMAC over the given bytes with the audit key (e.g. HMAC-SHA-256 in a native slot). Must be deterministic.
 *  `chain`, when the app gives it, is the same key's {@link AuditChainStep}; without it {@link chainStepOf} builds
 *  one from the per-record HMAC. */
export type AuditHmac = ((data: Uint8Array) => Uint8Array) & { readonly chain?: AuditChainStep };

/** The chain step of an HMAC: its own `chain`, or SHA-256 and one HMAC call per record. */
export function chainStepOf(hmac: AuditHmac): AuditChainStep {
  if (hmac.chain !== undefined) return hmac.chain;
  return (canonical, offsets, prev) => {
    const n = offsets.length - 1;
    const out = Buffer.allocUnsafe(64 * Math.max(n, 0));
    let link = prev;
    for (let i = 0; i < n; i++) {
      const hash = createHash('sha256').update(canonical.subarray(offsets[i], offsets[i + 1])).update(link).digest();
      out.set(hash, 64 * i);
      out.set(hmac(hash), 64 * i + 32);
      link = hash;
    }
    return out;
  };
}

export interface AuditRecord {
  /** Who acted: client identity (certificate) or admin principal. */
  readonly principal: string;
  /** The tenant concerned; also selects the chain (tenant schema) unless `global`. '' or absent: none. */
  readonly tenant?: string;
  /** E.g. `kmip.Create`, `tenant.revoke`. */
  readonly operation: string;
  /** The object acted on (UID, policy id, ...); '' when none. */
  readonly object?: string;
  /** `ok`, `denied`, or an error code. */
  readonly result: string;
  /** When it happened; default: now. */
  readonly time?: Date;
}

/**
 * One hot-path record as the sink queues it, and as it crosses from a KMIP worker process to the process that owns
 * the chains (issue 14 deliverable 6): plain strings and numbers, structured-clone friendly, no Date. The tenant
 * travels beside the records ({@link AuditBatch}, {@link AuditSink.recordMany}), once per batch.
 */
export interface AuditEntry {
  readonly principal: string;
  /** E.g. `kmip.Get`. */
  readonly operation: string;
  /** The object acted on; '' when none. */
  readonly object: string;
  /** `ok`, `denied`, or an error code ({@link AUDIT_REFUSED_RESULT} for a refusal by {@link AuditSink.admits}). */
  readonly result: string;
  /** When it happened, epoch milliseconds. */
  readonly at: number;
  /**
   * The operation was served after {@link AuditSink.admits} said yes: its record is queued even past the tenant's
   * quota (and the node's bound), because refusing it is no longer possible. What this lets through is bounded by
   * the operations in flight between the admission check and the record.
   */
  readonly keep?: boolean;
}

/** Records of one tenant, as a KMIP worker sends them to the chain owner. */
export interface AuditBatch {
  readonly tenant: string;
  readonly entries: readonly AuditEntry[];
}

export interface StoredAuditRecord {
  readonly seq: number;
  readonly at: Date;
  readonly principal: string;
  readonly tenant: string;
  readonly operation: string;
  readonly object: string;
  readonly result: string;
  readonly prevHash: Uint8Array;
  readonly hash: Uint8Array;
  readonly hmac: Uint8Array;
}

/** The fields of a record as hashed and stored. */
export interface AuditFields {
  at: Date;
  principal: string;
  tenant: string;
  operation: string;
  object: string;
  result: string;
}

/**
 * What is stored must be exactly what was hashed, and storable: Postgres text refuses NUL (a record carrying one
 * would fail every flush and block its chain), and a lone UTF-16 surrogate would reach the database as U+FFFD while
 * JSON.stringify hashes it escaped. So NUL becomes U+FFFD and the string is made well-formed, after the cut (which
 * may split a surrogate pair).
 */
export function clip(v: unknown): string {
  return repair(bound(v));
}

/** The length cut alone: what the sink does at enqueue (a length check), so a queued record holds at most
 *  AUDIT_FIELD_MAX characters per field whatever the client sent; the rest of {@link clip} runs at flush. */
export function bound(v: unknown): string {
  if (typeof v === 'string' && v.length <= AUDIT_FIELD_MAX) return v;
  const raw = typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
  return raw.length > AUDIT_FIELD_MAX ? `${raw.slice(0, AUDIT_FIELD_MAX - 1)}…` : raw;
}

function repair(cut: string): string {
  // Fast path (the hot path's usual ASCII fields): nothing to repair.
  if (!NEEDS_REPAIR.test(cut)) return cut;
  return Buffer.from(cut.replaceAll('\0', '\uFFFD'), 'utf8').toString('utf8');
}
// eslint-disable-next-line no-control-regex -- NUL is exactly what must be found
const NEEDS_REPAIR = /[\u0000\uD800-\uDFFF]/;

export function normalise(rec: AuditRecord, now: () => Date): AuditFields {
  const t = rec.time instanceof Date && !Number.isNaN(rec.time.getTime()) ? rec.time : now();
  return {
    at: new Date(t.getTime()),
    principal: clip(rec.principal),
    tenant: clip(rec.tenant),
    operation: clip(rec.operation),
    object: clip(rec.object),
    result: clip(rec.result),
  };
}

/** Timestamps a chain row can hold: years 0000..9999 (ISO 8601 without the expanded-year sign, and what
 *  timestamptz accepts). A time outside (a worker's broken clock) would fail every flush of its chain. */
export const MAX_AT_MS = 253_402_300_799_999;

export function canonicalJson(seq: number, iso: string, principal: string, tenant: string, operation: string, object: string, result: string): string {
  return JSON.stringify([AUDIT_FORMAT, seq, iso, principal, tenant, operation, object, result]);
}

/**
 * A string as JSON.stringify writes it: in quotes as it is when nothing in it needs escaping, else JSON.stringify's
 * own text. JSON.stringify escapes only '"', '\\', U+0000..U+001F and lone surrogates (ECMA-262 QuoteJSONString);
 * any surrogate at all takes the slow path here, so paired ones come out exactly as JSON.stringify writes them.
 */
export function jsonString(v: string): string {
  return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
}
// eslint-disable-next-line no-control-regex -- the control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\uD800-\uDFFF]/;

/**
 * A field as the append core writes it: clipped ({@link clip}) for the row, and that value's JSON text for the
 * canonical bytes.
 */
export interface ClippedField {
  readonly value: string;
  readonly json: string;
}

/**
 * Clips and quotes the fields that repeat from record to record (principal, operation, result, tenant): on the hot
 * path a flush holds thousands of records with a handful of distinct values, often the very same string instances
 * (src/appliance/worker-audit.ts sends each distinct value once per message). Forgets everything past
 * {@link FIELD_MEMO_MAX} distinct values, so a client that sends a new value each time costs what it did without it.
 */
export class FieldMemo {
  readonly #seen = new Map<string, ClippedField>();

  /** Distinct values held now (at most {@link FIELD_MEMO_MAX}). */
  get size(): number {
    return this.#seen.size;
  }

  field(raw: string): ClippedField {
    let f = this.#seen.get(raw);
    if (f === undefined) {
      const value = clip(raw);
      f = { value, json: jsonString(value) };
      if (this.#seen.size >= FIELD_MEMO_MAX) this.#seen.clear();
      this.#seen.set(raw, f);
    }
    return f;
  }
}
export const FIELD_MEMO_MAX = 1_024;

/**
 * {@link canonicalJson} from fields already in JSON text (the append core's fast form; `iso` needs no escaping).
 * Equal to canonicalJson for the same values: test/unit/audit-record.test.ts compares them.
 */
export function canonicalJsonOf(seq: number, iso: string, principal: string, tenant: string, operation: string, object: string, result: string): string {
  return `["${AUDIT_FORMAT}",${String(seq)},"${iso}",${principal},${tenant},${operation},${object},${result}]`;
}

/** The canonical bytes of a record (see the module comment). JSON of an array of strings and one integer is
 *  unambiguous: no two different field tuples encode the same. */
export function canonicalAuditBytes(seq: number, f: AuditFields): Uint8Array {
  return Buffer.from(canonicalJson(seq, f.at.toISOString(), f.principal, f.tenant, f.operation, f.object, f.result), 'utf8');
}

export function auditHash(seq: number, f: AuditFields, prevHash: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(canonicalAuditBytes(seq, f)).update(prevHash).digest());
}

export function headBytes(seq: number, hash: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(`${HEAD_FORMAT}:${seq}:`, 'utf8'), hash]);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The chain (schema) of a tenant's records: its own, or public for none or a name governance cannot hold. */
export function chainOf(tenant: string | undefined): string {
  return tenant === undefined || tenant === '' || !isTenantId(tenant) ? 'public' : tenantSchema(tenant);
}

/** Hex of the bytes, without copying them first. */
export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Records of one tenant, in order, for one chain: what the append core walks. */
export interface Segment {
  readonly tenant: string;
  readonly entries: readonly AuditEntry[];
}

/** One export line: every stored field, byte fields in hex. Enough to re-verify offline with the key. */
export function exportLine(r: StoredAuditRecord): string {
  return JSON.stringify({
    seq: r.seq, at: r.at.toISOString(), principal: r.principal, tenant: r.tenant, operation: r.operation,
    object: r.object, result: r.result, prevHash: hex(r.prevHash), hash: hex(r.hash), hmac: hex(r.hmac),
  }) + '\n';
}
