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
 * src/cmk never touches key slots (ARCHITECTURE §6): the HMAC is a callback the app wires to the MasterKey.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
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
/** Records waiting in memory at most. Stops a database outage or a request flood from growing the heap without
 *  bound; beyond it records are counted as dropped (stats().dropped) and reported through onError. */
export const AUDIT_QUEUE_MAX = 100_000;
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
  | { readonly ok: true; readonly count: number }
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
  const raw = typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
  const cut = raw.length > AUDIT_FIELD_MAX ? `${raw.slice(0, AUDIT_FIELD_MAX - 1)}…` : raw;
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

/** The canonical bytes of a record (see the module comment). JSON of an array of strings and one integer is
 *  unambiguous: no two different field tuples encode the same. */
export function canonicalAuditBytes(seq: number, f: Fields): Uint8Array {
  return Buffer.from(
    JSON.stringify([AUDIT_FORMAT, seq, f.at.toISOString(), f.principal, f.tenant, f.operation, f.object, f.result]),
    'utf8',
  );
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

/** The chain (schema) a record goes to. */
function chainOf(rec: AuditRecord, global: boolean): string {
  if (global || rec.tenant === undefined || rec.tenant === '' || !isTenantId(rec.tenant)) return 'public';
  return tenantSchema(rec.tenant);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
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
    const chain = chainOf(rec, opts.global ?? false);
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
    const s = quoteIdent(chain);
    const head = await tx.query<{ seq: unknown; hash: unknown }>(`SELECT seq, hash FROM ${s}.audit_head WHERE id FOR UPDATE`);
    const h = head.rows[0];
    if (h === undefined) throw new Error(`audit chain ${chain} has no head row`);
    let seq = toNumber(h.seq);
    let prev = toBytes(h.hash);
    const stored: StoredAuditRecord[] = [];
    for (let i = 0; i < fields.length; i += AUDIT_ROWS_PER_INSERT) {
      const chunk = fields.slice(i, i + AUDIT_ROWS_PER_INSERT);
      // Column arrays: one bind parameter per column, whatever the row count. Timestamps go as ISO text (what the
      // hash covers, millisecond precision) and hashes as hex, so both drivers pass plain text arrays.
      const cols: [number[], string[], string[], string[], string[], string[], string[], string[], string[], string[]] =
        [[], [], [], [], [], [], [], [], [], []];
      for (const f of chunk) {
        seq += 1;
        const hash = auditHash(seq, f, prev);
        const mac = new Uint8Array(this.hmac(hash));
        stored.push({ seq, ...f, prevHash: prev, hash, hmac: mac });
        cols[0].push(seq);
        cols[1].push(f.at.toISOString());
        cols[2].push(f.principal);
        cols[3].push(f.tenant);
        cols[4].push(f.operation);
        cols[5].push(f.object);
        cols[6].push(f.result);
        cols[7].push(hex(prev));
        cols[8].push(hex(hash));
        cols[9].push(hex(mac));
        prev = hash;
      }
      await tx.query(
        `INSERT INTO ${s}.audit (seq, at, principal, tenant, operation, object, result, prev_hash, hash, hmac)
         SELECT seq, at, principal, tenant, operation, object, result, decode(ph, 'hex'), decode(h, 'hex'), decode(m, 'hex')
         FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[]) AS r(seq, at, principal, tenant, operation, object, result, ph, h, m)`,
        cols,
      );
    }
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
    return { ok: true, count };
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
  /** Flush failures and drops; never thrown at the request path. */
  readonly onError?: (err: Error) => void;
  /** Queue bound, at most (and by default) {@link AUDIT_QUEUE_MAX}; smaller for memory-tight deployments. */
  readonly queueMax?: number;
}

export interface AuditSinkStats {
  readonly queued: number;
  readonly written: number;
  readonly dropped: number;
  readonly flushes: number;
}

/**
 * The hot-path writer: `record()` only enqueues (never awaited by a KMIP request); a timer flushes every
 * {@link AUDIT_FLUSH_INTERVAL_MS} and a full batch ({@link AUDIT_BATCH_SIZE}) flushes at once. One transaction per
 * chain per flush. A failed flush keeps the records (in order) and retries on the next tick; records of a tenant
 * whose schema is gone (offboarded) go to the public chain, tenant field intact.
 */
export class AuditSink {
  private queue = new Map<string, Fields[]>();
  private size = 0;
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private written = 0;
  private dropped = 0;
  private flushes = 0;
  private kick = false;
  private readonly queueMax: number;

  constructor(
    private readonly trail: AuditTrail,
    private readonly db: Db,
    private readonly now: () => Date,
    private readonly opts: AuditSinkOptions,
  ) {
    this.queueMax = Math.min(Math.max(1, Math.floor(opts.queueMax ?? AUDIT_QUEUE_MAX)), AUDIT_QUEUE_MAX);
    this.timer = setInterval(() => {
      this.flushInBackground();
    }, AUDIT_FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** Enqueues a record; returns false (and counts it dropped) when closed or the queue is full. */
  record(rec: AuditRecord): boolean {
    if (this.closed || this.size >= this.queueMax) {
      this.dropped++;
      this.opts.onError?.(new GovernanceError('CLOSED', this.closed ? 'audit sink is closed' : 'audit queue is full: record dropped'));
      return false;
    }
    let chain: string;
    try {
      chain = chainOf(rec, false);
    } catch {
      chain = 'public';
    }
    const f = normalise(rec, this.now);
    const q = this.queue.get(chain);
    if (q === undefined) this.queue.set(chain, [f]);
    else q.push(f);
    this.size++;
    if (this.size >= AUDIT_BATCH_SIZE && !this.kick) {
      this.kick = true;
      setImmediate(() => {
        this.kick = false;
        this.flushInBackground();
      });
    }
    return true;
  }

  stats(): AuditSinkStats {
    return { queued: this.size, written: this.written, dropped: this.dropped, flushes: this.flushes };
  }

  private flushInBackground(): void {
    this.flush().catch((e: unknown) => this.opts.onError?.(e instanceof Error ? e : new Error(String(e))));
  }

  /** Writes everything queued so far; resolves when durable. Concurrent calls share one flush at a time. */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.size === 0) return;
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const batch = this.queue;
    this.queue = new Map();
    this.size = 0;
    this.flushes++;
    let firstError: Error | undefined;
    for (const [chain, fields] of batch) {
      try {
        await this.writeChain(chain, fields);
      } catch (e) {
        // Keep the records, in order, ahead of anything queued meanwhile; retried on the next tick.
        const later = this.queue.get(chain) ?? [];
        this.queue.set(chain, [...fields, ...later]);
        this.size += fields.length;
        firstError ??= e instanceof Error ? e : new Error(String(e));
      }
    }
    if (firstError !== undefined) throw firstError;
  }

  private async writeChain(chain: string, fields: Fields[]): Promise<void> {
    try {
      await this.db.transaction((tx) => this.trail.appendRows(tx, chain, fields));
    } catch (e) {
      const state = sqlState(e);
      if (chain === 'public' || (state !== '3F000' && state !== '42P01')) throw e;
      // The tenant schema is gone (offboarded): the records still belong in the trail.
      await this.db.transaction((tx) => this.trail.appendRows(tx, 'public', fields));
    }
    this.written += fields.length;
  }

  /** Stops the timer and writes what is queued. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }
}
