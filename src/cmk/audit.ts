/**
 * The audit trail (ARCHITECTURE §6 "Audit"): every record carries the hash of the one before it and an HMAC, and
 * a verifier proves the chain intact or names the first broken link. Format and commands: docs/governance.md
 * "Audit trail".
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
 * What this detects: an edited row (hash mismatch), a deleted row (seq gap), reordered rows (seq is inside the
 * hash, and prev_hash links each row to its predecessor), a rewritten suffix with recomputed hashes (HMAC mismatch:
 * the attacker lacks the key), truncation (head). It cannot detect the whole schema being dropped, or a
 * restore of an older backup of both rows and head: compare exports (or the public chain) for that.
 *
 * Gaps (issue 15 item 4). The hot-path sink holds a bounded queue per tenant; what it cannot hold is never lost
 * silently: the records it dropped, and the operations the server refused because the tenant's queue was full,
 * are counted and written as one gap record in the chain when the flood ends (principal {@link
 * AUDIT_SYSTEM_PRINCIPAL}, operation {@link AUDIT_GAP_OPERATION}, object = JSON {dropped, refused, from, to,
 * cause}). A gap record is chained and HMACed like any other, so verify() proves it untouched and reports it.
 *
 * src/cmk never touches key slots (ARCHITECTURE §6): the HMAC is a callback the app wires to the MasterKey.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import type { Db, DbTx } from './db.js';
import { isTenantId, quoteIdent, sqlState, tenantSchema, toBytes, toDate, toNumber } from './db.js';
import { GovernanceError } from './errors.js';

/** The hot-path sink flushes at least this often: the bound on how long an acknowledged operation can be
 *  missing from the durable trail (a crash loses at most this window). */
export const AUDIT_FLUSH_INTERVAL_MS = 1_000;
/** A queue this long is flushed at once instead of waiting for the timer. Each flush is one transaction per chain
 *  (head row lock, INSERTs, head update), whose fixed cost dominated at KMIP rates (issue 7: at 256 records per
 *  flush, a few thousand Gets/s meant a dozen transactions/s and ~180 µs of embedded-database CPU per record), so
 *  the batch is large; the timer still bounds how long a record waits. */
export const AUDIT_BATCH_SIZE = 2_048;
/** Rows per INSERT. The rows travel as ten array parameters (unnest), so the statement and its parameter count
 *  do not grow with the batch. The bound is about the event loop: the hashes and HMACs of one INSERT's rows are
 *  computed in one synchronous stretch (~10 µs a record), and the await on each INSERT lets KMIP requests run in
 *  between, so 256 rows keep the longest stretch to a few ms. */
export const AUDIT_ROWS_PER_INSERT = 256;
/** Records waiting in memory at most, all tenants together (the node's bound). Stops a database outage, or floods
 *  from many tenants at once, from growing the heap without bound. When it is reached every tenant's audited
 *  operations are refused ({@link AuditSink.admits}) and other records are dropped, counted, and written as a gap
 *  record in the global chain. */
export const AUDIT_QUEUE_MAX = 100_000;
/** Records one tenant may have waiting (queued, or being written) before its audited operations are refused
 *  (issue 15 item 4). Before it, every tenant shared {@link AUDIT_QUEUE_MAX}: one tenant's flood of Query items
 *  filled it and silently dropped another tenant's Get records. A flood now fills only the flooder's own quota. */
export const AUDIT_TENANT_QUEUE_MAX = 10_000;
/** The longest a flush hashes and HMACs in one go before it yields to the event loop (setImmediate), so KMIP
 *  requests never wait long behind a flush of thousands of records (issue 14 deliverable 4). */
export const AUDIT_SLICE_MS = 2;
/** Rows hashed between two reads of the clock inside a slice. */
const SLICE_CHECK_ROWS = 16;
/** Losses (dropped records, refused operations) are reported (log) at most once per tenant per interval, with the
 *  count since the previous report: a flood used to write one log line per dropped record (50,000 of them). */
export const AUDIT_DROP_REPORT_INTERVAL_MS = 10_000;
/** A tenant's flood has ended, and its gap record is written, when none of its records was lost for this long. */
export const AUDIT_GAP_QUIET_MS = AUDIT_FLUSH_INTERVAL_MS;
/** During a flood that does not end, a gap record is still written at least this often: a crash loses at most
 *  this much of the accounting. */
export const AUDIT_GAP_MAX_OPEN_MS = 60_000;
/** The principal and operation of a gap record (see the module comment). */
export const AUDIT_SYSTEM_PRINCIPAL = 'system:audit';
export const AUDIT_GAP_OPERATION = 'audit.gap';
export const AUDIT_GAP_RESULT = 'gap';
/** The result of an operation the server refused because the tenant's audit queue was full: the KMIP error
 *  catalog code of that refusal (src/kmip/errors.ts AUDIT_BACKLOGGED). Such records, when they cannot be queued
 *  either, are counted as refused rather than dropped. */
export const AUDIT_REFUSED_RESULT = 'AUDIT_BACKLOGGED';
/** Characters kept per text field; a hostile client (principal from a certificate, object names) cannot bloat
 *  the trail. Longer values are cut and end with "…". */
export const AUDIT_FIELD_MAX = 512;
/** Rows read per round trip by verify/export. */
export const AUDIT_PAGE_SIZE = 1_000;

export const AUDIT_FORMAT = 'openkcm.audit.v1';
const HEAD_FORMAT = 'openkcm.audit.head.v1';
const GENESIS = new Uint8Array(32);

/** HMAC over the given bytes with the audit key (e.g. HMAC-SHA-256 in a native slot). Must be deterministic. */
export type AuditHmac = (data: Uint8Array) => Uint8Array;

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

export type AuditVerifyResult =
  /** `gaps` is present only when the chain holds gap records (records dropped or operations refused). */
  | { readonly ok: true; readonly count: number; readonly gaps?: AuditGapSummary }
  | { readonly ok: false; readonly count: number; readonly firstBadSeq: number; readonly reason: string };

interface Fields {
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
function clip(v: unknown): string {
  return repair(bound(v));
}

/** The length cut alone: what the sink does at enqueue (a length check), so a queued record holds at most
 *  AUDIT_FIELD_MAX characters per field whatever the client sent; the rest of {@link clip} runs at flush. */
function bound(v: unknown): string {
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

function normalise(rec: AuditRecord, now: () => Date): Fields {
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
const MAX_AT_MS = 253_402_300_799_999;

function canonicalJson(seq: number, iso: string, principal: string, tenant: string, operation: string, object: string, result: string): string {
  return JSON.stringify([AUDIT_FORMAT, seq, iso, principal, tenant, operation, object, result]);
}

/** The canonical bytes of a record (see the module comment). JSON of an array of strings and one integer is
 *  unambiguous: no two different field tuples encode the same. */
export function canonicalAuditBytes(seq: number, f: Fields): Uint8Array {
  return Buffer.from(canonicalJson(seq, f.at.toISOString(), f.principal, f.tenant, f.operation, f.object, f.result), 'utf8');
}

export function auditHash(seq: number, f: Fields, prevHash: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(canonicalAuditBytes(seq, f)).update(prevHash).digest());
}

function headBytes(seq: number, hash: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(`${HEAD_FORMAT}:${seq}:`, 'utf8'), hash]);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The chain (schema) of a tenant's records: its own, or public for none or a name governance cannot hold. */
function chainOf(tenant: string | undefined): string {
  return tenant === undefined || tenant === '' || !isTenantId(tenant) ? 'public' : tenantSchema(tenant);
}

/** Hex of the bytes, without copying them first. */
function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Lets the event loop run (I/O callbacks, timers, KMIP requests) before the caller goes on. */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function ignore(): void {
  // A rejection handled later (await); this only keeps it from counting as unhandled meanwhile.
}

/** Records of one tenant, in order, for one chain: what the append core walks. */
export interface Segment {
  readonly tenant: string;
  readonly entries: readonly AuditEntry[];
}

/** Ten column arrays (unnest), one per INSERT. */
type Columns = [number[], string[], string[], string[], string[], string[], string[], string[], string[], string[]];
const newColumns = (): Columns => [[], [], [], [], [], [], [], [], [], []];

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

/** One export line: every stored field, byte fields in hex. Enough to re-verify offline with the key. */
export function exportLine(r: StoredAuditRecord): string {
  return JSON.stringify({
    seq: r.seq, at: r.at.toISOString(), principal: r.principal, tenant: r.tenant, operation: r.operation,
    object: r.object, result: r.result, prevHash: hex(r.prevHash), hash: hex(r.hash), hmac: hex(r.hmac),
  }) + '\n';
}

interface AuditRow {
  seq: unknown;
  at: unknown;
  principal: string;
  tenant: string;
  operation: string;
  object: string;
  result: string;
  prev_hash: unknown;
  hash: unknown;
  hmac: unknown;
}

function fromRow(r: AuditRow): StoredAuditRecord {
  return {
    seq: toNumber(r.seq),
    at: toDate(r.at),
    principal: r.principal,
    tenant: r.tenant,
    operation: r.operation,
    object: r.object,
    result: r.result,
    prevHash: toBytes(r.prev_hash),
    hash: toBytes(r.hash),
    hmac: toBytes(r.hmac),
  };
}

export interface AuditTrailOptions {
  readonly clock?: () => Date;
}

/** Append, verify and export of the audit chains over one database. */
export class AuditTrail {
  private readonly now: () => Date;

  constructor(
    private readonly db: Db,
    private readonly hmac: AuditHmac,
    opts: AuditTrailOptions = {},
  ) {
    this.now = opts.clock ?? (() => new Date());
  }

  /**
   * Appends one record now (admin actions): resolves after it is durable, or, when `tx` is given, inside the
   * caller's transaction (it commits or rolls back with the action it records). `global` forces the public
   * chain.
   */
  async appendSync(rec: AuditRecord, opts: { tx?: DbTx; global?: boolean } = {}): Promise<StoredAuditRecord> {
    const chain = opts.global === true ? 'public' : chainOf(rec.tenant);
    const fields = [normalise(rec, this.now)];
    const out = opts.tx !== undefined
      ? await this.appendRows(opts.tx, chain, fields)
      : await this.db.transaction((tx) => this.appendRows(tx, chain, fields));
    const first = out[0];
    if (first === undefined) throw new Error('audit append returned no record');
    return first;
  }

  /** Appends records to one chain (schema name, unquoted) in order, under the chain-head row lock. */
  async appendRows(tx: DbTx, chain: string, fields: readonly Fields[]): Promise<StoredAuditRecord[]> {
    const segments = fields.map((f): Segment => ({
      tenant: f.tenant,
      entries: [{ principal: f.principal, operation: f.operation, object: f.object, result: f.result, at: f.at.getTime() }],
    }));
    return (await this.appendSegments(tx, chain, segments, true)) ?? [];
  }

  /** Appends a sink round's records (segments of tenants, in order) to one chain, under the head row lock. */
  async appendEntries(tx: DbTx, chain: string, segments: readonly Segment[]): Promise<void> {
    await this.appendSegments(tx, chain, segments, false);
  }

  /**
   * The append core (hot-path flushes and admin appends): reads the head under its row lock, then hashes and
   * HMACs the rows in order and sends them {@link AUDIT_ROWS_PER_INSERT} at a time. Work on the event loop is cut
   * into slices of at most about {@link AUDIT_SLICE_MS} that yield (setImmediate) in between, and the next
   * INSERT's rows are hashed while the previous INSERT is in flight. Field repair (NUL, surrogates) and the
   * Date → ISO conversion happen here, off the caller's path. Returns the stored records when `collect`.
   */
  private async appendSegments(tx: DbTx, chain: string, segments: readonly Segment[], collect: boolean): Promise<StoredAuditRecord[] | undefined> {
    const s = quoteIdent(chain);
    const head = await tx.query<{ seq: unknown; hash: unknown }>(`SELECT seq, hash FROM ${s}.audit_head WHERE id FOR UPDATE`);
    const h = head.rows[0];
    if (h === undefined) throw new Error(`audit chain ${chain} has no head row`);
    let seq = toNumber(h.seq);
    let prev: Uint8Array = toBytes(h.hash);
    const stored: StoredAuditRecord[] | undefined = collect ? [] : undefined;
    // Column arrays: one bind parameter per column, whatever the row count. Timestamps go as ISO text (what the
    // hash covers, millisecond precision) and hashes as hex, so both drivers pass plain text arrays.
    let cols = newColumns();
    let inFlight: Promise<unknown> | undefined;
    let sliceStart = performance.now();
    // Sending an INSERT (the driver serialises 10 arrays of 256 values and writes ~80 KB to the socket) is a stretch
    // of its own: the event loop turns before and after it, so it never adds to a hashing slice.
    const send = async (): Promise<void> => {
      if (inFlight !== undefined) await inFlight;
      await yieldToLoop();
      inFlight = tx.query(
        `INSERT INTO ${s}.audit (seq, at, principal, tenant, operation, object, result, prev_hash, hash, hmac)
         SELECT seq, at, principal, tenant, operation, object, result, decode(ph, 'hex'), decode(h, 'hex'), decode(m, 'hex')
         FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[]) AS r(seq, at, principal, tenant, operation, object, result, ph, h, m)`,
        cols,
      );
      inFlight.catch(ignore);
      cols = newColumns();
      await yieldToLoop();
      sliceStart = performance.now();
    };
    let sinceCheck = 0;
    for (const seg of segments) {
      const tenant = repair(bound(seg.tenant));
      for (const e of seg.entries) {
        seq += 1;
        const at = e.at >= 0 && e.at <= MAX_AT_MS ? e.at : this.now().getTime();
        const iso = new Date(at).toISOString();
        const principal = repair(bound(e.principal));
        const operation = repair(bound(e.operation));
        const object = repair(bound(e.object));
        const result = repair(bound(e.result));
        const hash = createHash('sha256').update(canonicalJson(seq, iso, principal, tenant, operation, object, result), 'utf8').update(prev).digest();
        const mac = this.hmac(hash);
        stored?.push({ seq, at: new Date(at), principal, tenant, operation, object, result, prevHash: new Uint8Array(prev), hash: new Uint8Array(hash), hmac: new Uint8Array(mac) });
        cols[0].push(seq);
        cols[1].push(iso);
        cols[2].push(principal);
        cols[3].push(tenant);
        cols[4].push(operation);
        cols[5].push(object);
        cols[6].push(result);
        cols[7].push(hex(prev));
        cols[8].push(hash.toString('hex'));
        cols[9].push(hex(mac));
        prev = hash;
        if (cols[0].length === AUDIT_ROWS_PER_INSERT) await send();
        if (++sinceCheck === SLICE_CHECK_ROWS) {
          sinceCheck = 0;
          if (performance.now() - sliceStart >= AUDIT_SLICE_MS) {
            await yieldToLoop();
            sliceStart = performance.now();
          }
        }
      }
    }
    if (cols[0].length > 0) await send();
    if (inFlight !== undefined) await inFlight;
    await tx.query(`UPDATE ${s}.audit_head SET seq = $1, hash = $2, hmac = $3 WHERE id`, [seq, prev, this.hmac(headBytes(seq, prev))]);
    return stored;
  }

  private async schemaFor(tenant: string | undefined): Promise<string> {
    if (tenant === undefined) return 'public';
    const schema = tenantSchema(tenant);
    const r = await this.db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`${quoteIdent(schema)}.audit`]);
    if (r.rows[0]?.t == null) throw new GovernanceError('TENANT_NOT_FOUND', `tenant ${tenant} has no audit chain`);
    return schema;
  }

  private async *rows(schema: string): AsyncGenerator<StoredAuditRecord> {
    const s = quoteIdent(schema);
    let after = 0;
    for (;;) {
      const page = await this.db.query<AuditRow>(
        `SELECT seq, at, principal, tenant, operation, object, result, prev_hash, hash, hmac FROM ${s}.audit
          WHERE seq > $1 ORDER BY seq LIMIT ${AUDIT_PAGE_SIZE}`,
        [after],
      );
      for (const r of page.rows) yield fromRow(r);
      const last = page.rows[page.rows.length - 1];
      if (page.rows.length < AUDIT_PAGE_SIZE || last === undefined) return;
      after = toNumber(last.seq);
    }
  }

  /**
   * Walks the chain of `tenant` (public when undefined) and returns the first broken record: a gap in seq, a
   * prev_hash that is not the previous record's hash, a hash that does not match the content, an HMAC that does
   * not match the hash, or a head that disagrees with the last record.
   */
  async verify(tenant?: string): Promise<AuditVerifyResult> {
    const schema = await this.schemaFor(tenant);
    let expect = 1;
    let prev: Uint8Array = GENESIS;
    let count = 0;
    const gaps = new GapTally();
    const bad = (firstBadSeq: number, reason: string): AuditVerifyResult => ({ ok: false, count, firstBadSeq, reason });
    for await (const r of this.rows(schema)) {
      if (r.seq !== expect) {
        return bad(expect, r.seq > expect
          ? `record ${expect} is missing (deleted); the next record is ${r.seq}`
          : `record ${r.seq} is out of order`);
      }
      if (!bytesEqual(r.prevHash, prev)) {
        return bad(r.seq, `record ${r.seq}: prev_hash is not the hash of record ${r.seq - 1} (reordered or replaced)`);
      }
      const hash = auditHash(r.seq, r, prev);
      if (!bytesEqual(hash, r.hash)) return bad(r.seq, `record ${r.seq}: content does not match its hash (edited)`);
      if (!bytesEqual(new Uint8Array(this.hmac(hash)), r.hmac)) {
        return bad(r.seq, `record ${r.seq}: HMAC does not match (hash recomputed without the audit key)`);
      }
      gaps.add(r);
      prev = hash;
      count++;
      expect++;
    }
    const head = await this.db.query<{ seq: unknown; hash: unknown; hmac: unknown }>(
      `SELECT seq, hash, hmac FROM ${quoteIdent(schema)}.audit_head WHERE id`,
    );
    const h = head.rows[0];
    if (h === undefined) return bad(count + 1, 'the chain head row is missing');
    const headSeq = toNumber(h.seq);
    if (headSeq > count) return bad(count + 1, `records ${count + 1}..${headSeq} are missing at the end of the chain`);
    if (headSeq < count) return bad(headSeq + 1, `record ${headSeq + 1} lies beyond the chain head`);
    if (headSeq > 0) {
      const headHash = toBytes(h.hash);
      const headMac = h.hmac === null ? new Uint8Array(0) : toBytes(h.hmac);
      if (!bytesEqual(headHash, prev) || !bytesEqual(new Uint8Array(this.hmac(headBytes(headSeq, headHash))), headMac)) {
        return bad(headSeq, `the chain head does not match record ${headSeq}`);
      }
    }
    const summary = gaps.summary();
    return summary === undefined ? { ok: true, count } : { ok: true, count, gaps: summary };
  }

  /** The chain of `tenant` (public when undefined) as JSON lines (each ending in \\n), oldest first. */
  async *exportLines(tenant: string | undefined): AsyncGenerator<string> {
    const schema = await this.schemaFor(tenant);
    for await (const r of this.rows(schema)) yield exportLine(r);
  }

  /** Writes the chain of `tenant` (public when undefined) as JSON lines, oldest first; returns the count. */
  async export(tenant: string | undefined, out: Writable): Promise<number> {
    let n = 0;
    for await (const line of this.exportLines(tenant)) {
      if (!out.write(line)) await once(out, 'drain');
      n++;
    }
    return n;
  }

  /** Reads back records (tests, admin API), oldest first. */
  async list(tenant: string | undefined, opts: { after?: number; limit?: number } = {}): Promise<StoredAuditRecord[]> {
    const schema = await this.schemaFor(tenant);
    const limit = Math.min(Math.max(1, opts.limit ?? AUDIT_PAGE_SIZE), AUDIT_PAGE_SIZE);
    const r = await this.db.query<AuditRow>(
      `SELECT seq, at, principal, tenant, operation, object, result, prev_hash, hash, hmac FROM ${quoteIdent(schema)}.audit
        WHERE seq > $1 ORDER BY seq LIMIT ${limit}`,
      [opts.after ?? 0],
    );
    return r.rows.map(fromRow);
  }

  createSink(opts: AuditSinkOptions = {}): AuditSink {
    return new AuditSink(this, this.db, this.now, opts);
  }
}


export interface AuditSinkOptions {
  /** Flush failures (records kept and retried), and losses when `onDrop` is not given; never thrown at the caller. */
  readonly onError?: (err: Error) => void;
  /** Losses, at most once per tenant per `dropReportIntervalMs` (the first loss at once, then a count). */
  readonly onDrop?: (report: AuditDropReport) => void;
  /** The node's bound, at most (and by default) {@link AUDIT_QUEUE_MAX}; smaller for memory-tight deployments. */
  readonly queueMax?: number;
  /** Each tenant's quota, 1..queueMax; default {@link AUDIT_TENANT_QUEUE_MAX} (at most queueMax). */
  readonly tenantQueueMax?: number;
  /** Default {@link AUDIT_DROP_REPORT_INTERVAL_MS}. */
  readonly dropReportIntervalMs?: number;
  /** The set of backlogged tenants changed (see {@link AuditSink.backlog}): called once per event-loop turn at
   *  most, so the chain owner can tell its KMIP workers ({@link AuditAdmission}). */
  readonly onBacklogChange?: () => void;
}

/** Records lost for one tenant since the previous report. */
export interface AuditDropReport {
  readonly tenant: string;
  /** Records dropped (served operations whose record found the queue full). */
  readonly dropped: number;
  /** Operations refused because the queue was full ({@link AUDIT_REFUSED_RESULT}), not recorded one by one. */
  readonly refused: number;
  /** What was full: the tenant's quota, the node's bound, or the sink was closed. */
  readonly cause: AuditLossCause;
  /** The first loss this report covers, epoch ms (wall clock). */
  readonly since: number;
}

export type AuditLossCause = 'tenant-quota' | 'node-queue' | 'closed';

/** Which tenants' audited operations are refused now: plain data, for the KMIP workers' {@link AuditAdmission}. */
export interface AuditBacklog {
  /** The node's bound is reached: every tenant is refused. */
  readonly node: boolean;
  readonly tenants: readonly string[];
}

export interface AuditSinkStats {
  /** Records waiting (not yet being written). */
  readonly queued: number;
  readonly written: number;
  readonly dropped: number;
  readonly refused: number;
  /** Gap records written. */
  readonly gaps: number;
  readonly flushes: number;
  /** Tenants at their quota now. */
  readonly backloggedTenants: number;
  readonly nodeBacklogged: boolean;
}

/** Records dropped and operations refused of one tenant since the sink started (metrics). */
export interface AuditLosses {
  readonly dropped: number;
  readonly refused: number;
}

/** Losses of one tenant not yet written as a gap record. */
interface Gap {
  dropped: number;
  refused: number;
  /** Earliest and latest loss, record time (epoch ms). */
  from: number;
  to: number;
  /** Wall clock of the first and the latest loss. */
  openedWall: number;
  lastWall: number;
}

const TENANT_QUOTA = 0;
const NODE_QUEUE = 1;
type GapCause = typeof TENANT_QUOTA | typeof NODE_QUEUE;
const CAUSE_NAME: readonly AuditLossCause[] = ['tenant-quota', 'node-queue'];

/** One tenant's queue. */
class Lane {
  items: AuditEntry[] = [];
  /** Queued plus being written: what the quota counts. */
  pending = 0;
  /** At its quota (reported through onBacklogChange). */
  full = false;
  readonly gaps: [Gap | undefined, Gap | undefined] = [undefined, undefined];
  /** Losses not reported yet, and the wall clock of the last report. */
  unreportedDropped = 0;
  unreportedRefused = 0;
  unreportedSince = 0;
  lastCause: AuditLossCause = 'tenant-quota';
  reportedWall = Number.NEGATIVE_INFINITY;

  constructor(readonly tenant: string, readonly chain: string) {}
}

/** What one flush round took from a lane, to give back if its chain's write fails. */
interface Take {
  readonly lane: Lane;
  readonly entries: AuditEntry[];
  readonly gap: Gap | undefined;
  readonly cause: GapCause;
}

interface ChainWork {
  readonly segments: Segment[];
  readonly takes: Take[];
}

const NO_ENTRIES: AuditEntry[] = [];

/**
 * The hot-path writer. `record()` / `recordMany()` only enqueue (never awaited by a KMIP request): one Map lookup
 * per call to find the tenant's queue, a length check per field, a push. Everything else (repair, ISO time,
 * canonical JSON, SHA-256, HMAC, INSERT) happens at flush, in slices that yield to the event loop. A timer flushes
 * every {@link AUDIT_FLUSH_INTERVAL_MS}, and {@link AUDIT_BATCH_SIZE} waiting records flush at once. A flush round
 * takes at most AUDIT_BATCH_SIZE records of each tenant, so one tenant's backlog never holds back another's; one
 * transaction per chain per round. A failed write keeps the records (in order) and retries on the next tick;
 * records of a tenant whose schema is gone (offboarded) go to the public chain, tenant field intact.
 *
 * Fairness (issue 15 item 4): each tenant has its own quota. The KMIP gate asks {@link admits} before an audited
 * operation and refuses it while the tenant's queue is full; a record that finds its queue full is dropped,
 * counted, reported (rate-limited) and accounted for in a gap record (see the module comment).
 */
export class AuditSink {
  private readonly lanes = new Map<string, Lane>();
  /** Records queued plus being written, all lanes. */
  private total = 0;
  /** Records queued, not being written. */
  private queued = 0;
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private written = 0;
  private dropped = 0;
  private refused = 0;
  private gapRecords = 0;
  private flushes = 0;
  private openGaps = 0;
  private fullLanes = 0;
  private nodeFull = false;
  private kick = false;
  private backlogNotice = false;
  private closedReported = false;
  private readonly losses = new Map<string, { dropped: number; refused: number }>();
  private readonly queueMax: number;
  private readonly tenantQueueMax: number;
  private readonly reportIntervalMs: number;

  constructor(
    private readonly trail: AuditTrail,
    private readonly db: Db,
    private readonly now: () => Date,
    private readonly opts: AuditSinkOptions,
  ) {
    this.queueMax = Math.min(Math.max(1, Math.floor(opts.queueMax ?? AUDIT_QUEUE_MAX)), AUDIT_QUEUE_MAX);
    this.tenantQueueMax = Math.min(Math.max(1, Math.floor(opts.tenantQueueMax ?? AUDIT_TENANT_QUEUE_MAX)), this.queueMax);
    this.reportIntervalMs = Math.max(0, opts.dropReportIntervalMs ?? AUDIT_DROP_REPORT_INTERVAL_MS);
    this.timer = setInterval(() => {
      this.reportDue(Date.now());
      this.flushInBackground();
    }, AUDIT_FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Whether an audited operation of `tenant` may be served now: false while the tenant's queue is at its quota,
   * while the node's bound is reached, or after close. Synchronous and cheap (the KMIP gate calls it per item).
   */
  admits(tenant: string): boolean {
    if (this.closed || this.total >= this.queueMax) return false;
    const lane = this.lanes.get(tenant);
    return lane === undefined || lane.pending < this.tenantQueueMax;
  }

  /** Enqueues a record; false when it was dropped (counted, reported, and accounted for in a gap record). */
  record(rec: AuditRecord): boolean {
    if (this.closed) return this.lostAfterClose(1);
    const entry: AuditEntry = {
      principal: bound(rec.principal), operation: bound(rec.operation), object: bound(rec.object), result: bound(rec.result),
      at: rec.time === undefined ? this.now().getTime() : rec.time.getTime(),
    };
    return this.accept(this.lane(bound(rec.tenant)), entry);
  }

  /** Enqueues one entry of `tenant` (the KMIP audit hook); false when it was dropped. */
  recordEntry(tenant: string, entry: AuditEntry): boolean {
    if (this.closed) return this.lostAfterClose(1);
    return this.accept(this.lane(bound(tenant)), boundEntry(entry));
  }

  /** Enqueues a worker's batch of one tenant, in order; returns how many were queued (the rest were dropped). */
  recordMany(tenant: string, entries: readonly AuditEntry[]): number {
    if (this.closed) {
      this.lostAfterClose(entries.length);
      return 0;
    }
    const lane = this.lane(bound(tenant));
    let n = 0;
    for (const e of entries) if (this.accept(lane, boundEntry(e))) n++;
    return n;
  }

  /** Which tenants are refused now (see {@link AuditSinkOptions.onBacklogChange}). */
  backlog(): AuditBacklog {
    const tenants: string[] = [];
    for (const lane of this.lanes.values()) if (lane.full) tenants.push(lane.tenant);
    return { node: this.nodeFull, tenants };
  }

  stats(): AuditSinkStats {
    return {
      queued: this.queued, written: this.written, dropped: this.dropped, refused: this.refused, gaps: this.gapRecords,
      flushes: this.flushes, backloggedTenants: this.fullLanes, nodeBacklogged: this.nodeFull,
    };
  }

  /** Losses per tenant since the start (only tenants that lost something). */
  tenantLosses(): ReadonlyMap<string, AuditLosses> {
    return this.losses;
  }

  private lane(tenant: string): Lane {
    let lane = this.lanes.get(tenant);
    if (lane === undefined) {
      let chain: string;
      try {
        chain = chainOf(tenant);
      } catch {
        chain = 'public';
      }
      lane = new Lane(tenant, chain);
      this.lanes.set(tenant, lane);
    }
    return lane;
  }

  private accept(lane: Lane, e: AuditEntry): boolean {
    if (e.keep !== true) {
      if (this.total >= this.queueMax) return this.lose(lane, NODE_QUEUE, e);
      if (lane.pending >= this.tenantQueueMax) return this.lose(lane, TENANT_QUOTA, e);
    }
    lane.items.push(e);
    lane.pending++;
    this.total++;
    this.queued++;
    if (lane.pending >= this.tenantQueueMax && !lane.full) {
      lane.full = true;
      this.fullLanes++;
      this.backlogChanged();
      // A full queue refuses its tenant's operations: write it out now, not at the next tick.
      this.kickFlush();
    }
    if (this.total >= this.queueMax && !this.nodeFull) {
      this.nodeFull = true;
      this.backlogChanged();
      this.kickFlush();
    }
    if (this.queued >= AUDIT_BATCH_SIZE) this.kickFlush();
    return true;
  }

  /** Counts a record that found its queue full and opens (or extends) the tenant's gap; always false. */
  private lose(lane: Lane, cause: GapCause, e: AuditEntry): false {
    const wall = Date.now();
    const refused = e.result === AUDIT_REFUSED_RESULT;
    let l = this.losses.get(lane.tenant);
    if (l === undefined) {
      l = { dropped: 0, refused: 0 };
      this.losses.set(lane.tenant, l);
    }
    const at = Number.isFinite(e.at) ? e.at : wall;
    let gap = lane.gaps[cause];
    if (gap === undefined) {
      gap = { dropped: 0, refused: 0, from: at, to: at, openedWall: wall, lastWall: wall };
      lane.gaps[cause] = gap;
      this.openGaps++;
    }
    if (refused) {
      this.refused++;
      l.refused++;
      gap.refused++;
      lane.unreportedRefused++;
    } else {
      this.dropped++;
      l.dropped++;
      gap.dropped++;
      lane.unreportedDropped++;
    }
    if (at < gap.from) gap.from = at;
    if (at > gap.to) gap.to = at;
    gap.lastWall = wall;
    if (lane.unreportedDropped + lane.unreportedRefused === 1) lane.unreportedSince = wall;
    lane.lastCause = CAUSE_NAME[cause] ?? 'tenant-quota';
    if (wall - lane.reportedWall >= this.reportIntervalMs) this.report(lane, wall);
    return false;
  }

  /** Records offered after close(): counted, reported once; always false (none was queued). */
  private lostAfterClose(n: number): false {
    this.dropped += n;
    if (!this.closedReported && n > 0) {
      this.closedReported = true;
      this.opts.onError?.(new GovernanceError('CLOSED', 'audit sink is closed: records dropped'));
    }
    return false;
  }

  private report(lane: Lane, wall: number): void {
    const dropped = lane.unreportedDropped;
    const refused = lane.unreportedRefused;
    if (dropped + refused === 0) return;
    lane.unreportedDropped = 0;
    lane.unreportedRefused = 0;
    lane.reportedWall = wall;
    const r: AuditDropReport = { tenant: lane.tenant, dropped, refused, cause: lane.lastCause, since: lane.unreportedSince };
    try {
      if (this.opts.onDrop !== undefined) this.opts.onDrop(r);
      else {
        this.opts.onError?.(new GovernanceError('LIMIT_EXCEEDED',
          `audit queue full (${r.cause}): ${String(dropped)} records of tenant "${r.tenant}" dropped, ${String(refused)} operations refused`));
      }
    } catch {
      // A reporting callback must not break the caller's path.
    }
  }

  /** Reports whose interval has passed (timer tick), or all of them (close). */
  private reportDue(wall: number, all = false): void {
    for (const lane of this.lanes.values()) {
      if (lane.unreportedDropped + lane.unreportedRefused > 0 && (all || wall - lane.reportedWall >= this.reportIntervalMs)) this.report(lane, wall);
    }
  }

  private backlogChanged(): void {
    const notify = this.opts.onBacklogChange;
    if (notify === undefined || this.backlogNotice) return;
    this.backlogNotice = true;
    setImmediate(() => {
      this.backlogNotice = false;
      try {
        notify();
      } catch {
        // The listener's failure is its own.
      }
    });
  }

  private kickFlush(): void {
    if (this.kick) return;
    this.kick = true;
    setImmediate(() => {
      this.kick = false;
      this.flushInBackground();
    });
  }

  private flushInBackground(): void {
    this.flush().catch((e: unknown) => this.opts.onError?.(e instanceof Error ? e : new Error(String(e))));
  }

  /**
   * Writes everything queued so far (and gap records that are due); resolves when durable. Concurrent calls share
   * one round at a time; a call makes as many rounds as its longest tenant queue needs, so it ends even while
   * records keep arriving.
   */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    let longest = 0;
    for (const lane of this.lanes.values()) if (lane.items.length > longest) longest = lane.items.length;
    for (let rounds = Math.max(1, Math.ceil(longest / AUDIT_BATCH_SIZE)); rounds > 0; rounds--) {
      while (this.flushing !== undefined) await this.flushing;
      if (this.queued === 0 && this.openGaps === 0) return;
      const round = this.flushRound().finally(() => {
        this.flushing = undefined;
      });
      this.flushing = round;
      await round;
    }
  }

  /** One round: up to AUDIT_BATCH_SIZE records of each tenant, and the gap records that are due. */
  private async flushRound(): Promise<void> {
    this.flushes++;
    const wall = Date.now();
    const work = new Map<string, ChainWork>();
    const workFor = (chain: string): ChainWork => {
      let w = work.get(chain);
      if (w === undefined) {
        w = { segments: [], takes: [] };
        work.set(chain, w);
      }
      return w;
    };
    for (const lane of this.lanes.values()) {
      const n = Math.min(lane.items.length, AUDIT_BATCH_SIZE);
      let entries = NO_ENTRIES;
      if (n > 0) {
        if (n === lane.items.length) {
          entries = lane.items;
          lane.items = [];
        } else {
          entries = lane.items.slice(0, n);
          lane.items = lane.items.slice(n);
        }
        this.queued -= n;
      }
      const tenantGap = this.takeGap(lane, TENANT_QUOTA, wall);
      if (n > 0 || tenantGap !== undefined) {
        const w = workFor(lane.chain);
        w.segments.push({ tenant: lane.tenant, entries: tenantGap === undefined ? entries : [...entries, gapEntry(tenantGap, TENANT_QUOTA, wall)] });
        w.takes.push({ lane, entries, gap: tenantGap, cause: TENANT_QUOTA });
      }
      // The node's bound is not one tenant's doing: its gaps go to the node's (global) chain, naming the tenant.
      const nodeGap = this.takeGap(lane, NODE_QUEUE, wall);
      if (nodeGap !== undefined) {
        const w = workFor('public');
        w.segments.push({ tenant: lane.tenant, entries: [gapEntry(nodeGap, NODE_QUEUE, wall)] });
        w.takes.push({ lane, entries: NO_ENTRIES, gap: nodeGap, cause: NODE_QUEUE });
      }
    }
    let firstError: Error | undefined;
    for (const [chain, w] of work) {
      try {
        await this.writeChain(chain, w.segments);
        for (const t of w.takes) {
          t.lane.pending -= t.entries.length;
          this.total -= t.entries.length;
          this.written += t.entries.length;
          if (t.gap !== undefined) this.gapRecords++;
        }
      } catch (e) {
        // Keep the records, in order, ahead of anything queued meanwhile, and the gaps; retried on the next tick.
        for (const t of w.takes) {
          if (t.entries.length > 0) {
            t.lane.items = t.lane.items.length === 0 ? t.entries : t.entries.concat(t.lane.items);
            this.queued += t.entries.length;
          }
          if (t.gap !== undefined) this.restoreGap(t.lane, t.cause, t.gap);
        }
        firstError ??= e instanceof Error ? e : new Error(String(e));
      }
    }
    this.settle();
    if (this.queued >= AUDIT_BATCH_SIZE) this.kickFlush();
    if (firstError !== undefined) throw firstError;
  }

  /** The lane's gap of `cause` when it is due (the flood is over, it has been open too long, or the sink closes). */
  private takeGap(lane: Lane, cause: GapCause, wall: number): Gap | undefined {
    const g = lane.gaps[cause];
    if (g === undefined) return undefined;
    if (!this.closed && wall - g.lastWall < AUDIT_GAP_QUIET_MS && wall - g.openedWall < AUDIT_GAP_MAX_OPEN_MS) return undefined;
    lane.gaps[cause] = undefined;
    this.openGaps--;
    return g;
  }

  private restoreGap(lane: Lane, cause: GapCause, g: Gap): void {
    const now = lane.gaps[cause];
    if (now === undefined) {
      lane.gaps[cause] = g;
      this.openGaps++;
      return;
    }
    now.dropped += g.dropped;
    now.refused += g.refused;
    now.from = Math.min(now.from, g.from);
    now.to = Math.max(now.to, g.to);
    now.openedWall = Math.min(now.openedWall, g.openedWall);
  }

  /** After a round: backlog flags follow the queues; idle lanes are let go. */
  private settle(): void {
    let changed = false;
    for (const [tenant, lane] of this.lanes) {
      if (lane.full && lane.pending < this.tenantQueueMax) {
        lane.full = false;
        this.fullLanes--;
        changed = true;
      }
      if (lane.pending === 0 && lane.gaps[TENANT_QUOTA] === undefined && lane.gaps[NODE_QUEUE] === undefined
        && lane.unreportedDropped + lane.unreportedRefused === 0) {
        this.lanes.delete(tenant);
      }
    }
    if (this.nodeFull && this.total < this.queueMax) {
      this.nodeFull = false;
      changed = true;
    }
    if (changed) this.backlogChanged();
  }

  private async writeChain(chain: string, segments: readonly Segment[]): Promise<void> {
    try {
      await this.db.transaction((tx) => this.trail.appendEntries(tx, chain, segments));
    } catch (e) {
      const state = sqlState(e);
      if (chain === 'public' || (state !== '3F000' && state !== '42P01')) throw e;
      // The tenant schema is gone (offboarded): the records still belong in the trail.
      await this.db.transaction((tx) => this.trail.appendEntries(tx, 'public', segments));
    }
  }

  /** Stops the timer and writes what is queued, and every open gap. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.reportDue(Date.now(), true);
    await this.flush();
  }
}

/** The entry with every field within AUDIT_FIELD_MAX (the same object when nothing needs cutting). */
function boundEntry(e: AuditEntry): AuditEntry {
  const { principal, operation, object, result } = e;
  if (typeof principal === 'string' && principal.length <= AUDIT_FIELD_MAX && typeof operation === 'string' && operation.length <= AUDIT_FIELD_MAX
    && typeof object === 'string' && object.length <= AUDIT_FIELD_MAX && typeof result === 'string' && result.length <= AUDIT_FIELD_MAX) {
    return e;
  }
  return { principal: bound(principal), operation: bound(operation), object: bound(object), result: bound(result), at: e.at, ...(e.keep === true ? { keep: true } : {}) };
}

/** The gap record of a closed gap (see the module comment). */
function gapEntry(g: Gap, cause: GapCause, wall: number): AuditEntry {
  const iso = (ms: number): string => new Date(ms >= 0 && ms <= MAX_AT_MS ? ms : wall).toISOString();
  return {
    principal: AUDIT_SYSTEM_PRINCIPAL,
    operation: AUDIT_GAP_OPERATION,
    object: JSON.stringify({ dropped: g.dropped, refused: g.refused, from: iso(g.from), to: iso(g.to), cause: CAUSE_NAME[cause] }),
    result: AUDIT_GAP_RESULT,
    at: wall,
  };
}

/**
 * The admission check of a KMIP worker process that does not own the sink (issue 14 deliverable 6): the chain
 * owner sends {@link AuditSink.backlog} whenever it changes (onBacklogChange), and the worker's gate asks this.
 */
export class AuditAdmission {
  private node = false;
  private tenants: ReadonlySet<string> = new Set();

  update(b: AuditBacklog): void {
    this.node = b.node;
    this.tenants = new Set(b.tenants);
  }

  admits(tenant: string): boolean {
    return !this.node && !this.tenants.has(tenant);
  }
}
