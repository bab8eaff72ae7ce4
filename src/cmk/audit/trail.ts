/**
 * The audit trail (ARCHITECTURE §6 "Audit"): append, verify and export of the hash chains over one database. Every
 * record carries the hash of the one before it and an HMAC (./record.ts), and {@link AuditTrail.verify} proves a
 * chain intact or names the first broken link (./chain-check.ts). Admin actions append here directly, in their own
 * transaction; KMIP operations reach it through the hot-path sink (./sink.ts). Format and commands:
 * docs/governance.md "Audit trail".
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import type { Db, DbTx } from '../db.js';
import { quoteIdent, tenantSchema, toBytes, toDate, toNumber } from '../db.js';
import { CopyBinaryWriter } from '../copy-binary.js';
import { GovernanceError } from '../errors.js';
import { ChainCheck } from './chain-check.js';
import type { AuditGapSummary } from './gap.js';
import { bytesEqual, canonicalJsonOf, chainOf, chainStepOf, clip, exportLine, FieldMemo, headBytes, jsonString, MAX_AT_MS, normalise } from './record.js';
import type { AuditChainStep, AuditFields, AuditHmac, AuditRecord, Segment, StoredAuditRecord } from './record.js';
import { AuditSink } from './sink.js';
import type { AuditSinkOptions } from './sink.js';

/** Rows per INSERT (the real PostgreSQL). The rows travel as ten array parameters (unnest), so the statement and its
 *  parameter count do not grow with the batch; 256 rows are ~80 KB for the driver to serialise in one stretch. */
export const AUDIT_ROWS_PER_INSERT = 256;
/** Rows per COPY (the embedded engine). Each COPY has a fixed cost on PGlite's thread (the statement, the blob
 *  file, the executor set-up) that 256-row chunks paid 32 times per 8,192-record flush; 1,024 rows in binary COPY
 *  are ~200 KB, one buffer transferred to that thread. */
export const AUDIT_ROWS_PER_COPY = 1_024;
/** Records per chain step ({@link AuditChainStep}: SHA-256 and HMAC of n records in one call). Field repair,
 *  canonical JSON and the row bytes of this many records are one synchronous stretch (a few µs a record), after
 *  which the slice clock is read. */
export const AUDIT_CHAIN_ROWS = 128;
/** The longest a flush hashes and HMACs in one go before it yields to the event loop (setImmediate), so KMIP
 *  requests never wait long behind a flush of thousands of records (issue 14 deliverable 4). */
export const AUDIT_SLICE_MS = 2;
/** Rows read per round trip by verify/export. */
export const AUDIT_PAGE_SIZE = 1_000;

export type AuditVerifyResult =
  /** `gaps` is present only when the chain holds gap records (records dropped or operations refused). */
  | { readonly ok: true; readonly count: number; readonly gaps?: AuditGapSummary }
  | { readonly ok: false; readonly count: number; readonly firstBadSeq: number; readonly reason: string };

/** Lets the event loop run (I/O callbacks, timers, KMIP requests) before the caller goes on. */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function ignore(): void {
  // A rejection handled later (await); this only keeps it from counting as unhandled meanwhile.
}

/** The audit table's columns in the order both write paths send them. */
const AUDIT_COLUMNS = ['seq', 'at', 'principal', 'tenant', 'operation', 'object', 'result', 'prev_hash', 'hash', 'hmac'] as const;
/** A binary COPY row's fixed bytes: the field count, ten lengths, seq and at (8 each), three 32-byte hashes. */
const COPY_ROW_FIXED = 2 + 4 * AUDIT_COLUMNS.length + 8 + 8 + 3 * 32;
/** First COPY buffer of a flush: a 1,024-row chunk of typical KMIP records (~230 bytes each) fits. */
const COPY_FIRST_BYTES = 256 * 1024;

/**
 * Where one chunk of rows goes, as one statement of at most `limit` rows: binary COPY on the embedded engine
 * ({@link DbTx.copyBinary}) or ten unnest arrays on the real PostgreSQL. `add` takes record i of a chain step's
 * output (`out`: hash || hmac per record) and the hash before it (`prev` at `prevAt`), so neither path copies or
 * hex-encodes a hash it does not send.
 */
interface RowChunk {
  readonly rows: number;
  readonly limit: number;
  add(r: PendingRow, prev: Uint8Array, prevAt: number, out: Uint8Array, i: number): void;
  /** Sends the rows added since the last send; the chunk is empty again. */
  send(): Promise<unknown>;
}

function rowChunk(tx: DbTx, table: string): RowChunk {
  return tx.copyBinary === undefined ? new UnnestChunk(tx, table) : new CopyChunk(tx, table);
}

/** Binary COPY (../copy-binary.ts): the timestamp as an int64 and the hashes as raw bytes, where COPY text made the
 *  engine parse ISO text and decode hex for every row. */
class CopyChunk implements RowChunk {
  readonly limit = AUDIT_ROWS_PER_COPY;
  private w = new CopyBinaryWriter(COPY_FIRST_BYTES);
  /** The last chunk's size: the next writer starts there, so a full chunk is not copied over and over as it
   *  grows (each copy is off-heap memory V8 counts toward its next collection). */
  private bytes = COPY_FIRST_BYTES;

  constructor(private readonly tx: DbTx, private readonly table: string) {}

  get rows(): number {
    return this.w.rows;
  }

  add(r: PendingRow, prev: Uint8Array, prevAt: number, out: Uint8Array, i: number): void {
    const w = this.w;
    w.row(AUDIT_COLUMNS.length, COPY_ROW_FIXED + 3 * (r.principal.length + r.tenant.length + r.operation.length + r.object.length + r.result.length));
    w.int8(r.seq);
    w.timestamptzMs(r.at);
    w.text(r.principal);
    w.text(r.tenant);
    w.text(r.operation);
    w.text(r.object);
    w.text(r.result);
    w.bytea(prev, prevAt, 32);
    w.bytea(out, 64 * i, 32);
    w.bytea(out, 64 * i + 32, 32);
  }

  send(): Promise<unknown> {
    const data = this.w.finish();
    this.bytes = Math.max(this.bytes, data.length + 1);
    this.w = new CopyBinaryWriter(this.bytes);
    return this.tx.copyBinary?.(`${this.table}.audit`, AUDIT_COLUMNS, data) ?? Promise.reject(new Error('this database has no binary COPY'));
  }
}

/** Ten column arrays (unnest), one per INSERT. */
type Columns = [number[], string[], string[], string[], string[], string[], string[], string[], string[], string[]];
const newColumns = (): Columns => [[], [], [], [], [], [], [], [], [], []];

/** The real PostgreSQL: ten unnest arrays, timestamps as ISO text and hashes as hex (the driver sends text). */
class UnnestChunk implements RowChunk {
  readonly limit = AUDIT_ROWS_PER_INSERT;
  rows = 0;
  private cols: Columns = newColumns();

  constructor(private readonly tx: DbTx, private readonly table: string) {}

  add(r: PendingRow, prev: Uint8Array, prevAt: number, out: Uint8Array, i: number): void {
    this.rows++;
    const c = this.cols;
    c[0].push(r.seq);
    c[1].push(r.iso);
    c[2].push(r.principal);
    c[3].push(r.tenant);
    c[4].push(r.operation);
    c[5].push(r.object);
    c[6].push(r.result);
    c[7].push(hexOf(prev, prevAt));
    c[8].push(hexOf(out, 64 * i));
    c[9].push(hexOf(out, 64 * i + 32));
  }

  send(): Promise<unknown> {
    this.rows = 0;
    const cols = this.cols;
    this.cols = newColumns();
    return this.tx.query(
      `INSERT INTO ${this.table}.audit (seq, at, principal, tenant, operation, object, result, prev_hash, hash, hmac)
       SELECT seq, at, principal, tenant, operation, object, result, decode(ph, 'hex'), decode(h, 'hex'), decode(m, 'hex')
       FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::text[], $9::text[], $10::text[]) AS r(seq, at, principal, tenant, operation, object, result, ph, h, m)`,
      cols,
    );
  }
}

/** Hex of the 32 bytes of `b` at `at`. */
function hexOf(b: Uint8Array, at: number): string {
  return Buffer.from(b.buffer, b.byteOffset + at, 32).toString('hex');
}

/** A record between its field repair and its chain step. */
interface PendingRow {
  readonly seq: number;
  readonly at: number;
  readonly iso: string;
  readonly tenant: string;
  readonly principal: string;
  readonly operation: string;
  readonly object: string;
  readonly result: string;
  /** Its canonical JSON (./record.ts). */
  readonly json: string;
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
  /** The HMAC's batch form (its `chain`), or one built from it. */
  private readonly step: AuditChainStep;

  constructor(
    private readonly db: Db,
    private readonly hmac: AuditHmac,
    opts: AuditTrailOptions = {},
  ) {
    this.now = opts.clock ?? (() => new Date());
    this.step = chainStepOf(hmac);
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
  async appendRows(tx: DbTx, chain: string, fields: readonly AuditFields[]): Promise<StoredAuditRecord[]> {
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
   * HMACs the rows in order, {@link AUDIT_CHAIN_ROWS} per chain step, and sends them one chunk
   * ({@link AUDIT_ROWS_PER_COPY} or {@link AUDIT_ROWS_PER_INSERT}) at a time. Work on the event loop is cut into
   * slices of at most about {@link AUDIT_SLICE_MS} that yield (setImmediate) in between, and the next chunk's rows
   * are hashed while the previous one is in flight. Field repair (NUL, surrogates) and the Date → ISO conversion
   * happen here, off the caller's path. Returns the stored records when `collect`.
   */
  private async appendSegments(tx: DbTx, chain: string, segments: readonly Segment[], collect: boolean): Promise<StoredAuditRecord[] | undefined> {
    const s = quoteIdent(chain);
    const head = await tx.query<{ seq: unknown; hash: unknown }>(`SELECT seq, hash FROM ${s}.audit_head WHERE id FOR UPDATE`);
    const h = head.rows[0];
    if (h === undefined) throw new Error(`audit chain ${chain} has no head row`);
    let seq = toNumber(h.seq);
    let prev: Uint8Array = toBytes(h.hash);
    const stored: StoredAuditRecord[] | undefined = collect ? [] : undefined;
    const chunk = rowChunk(tx, s);
    let inFlight: Promise<unknown> | undefined;
    let sliceStart = performance.now();
    // Sending a chunk (the driver serialises 10 arrays of 256 values and writes ~80 KB to the socket, or ~200 KB of
    // binary COPY is handed to the PGlite thread) is a stretch of its own: the event loop turns before and after it,
    // so it never adds to a hashing slice.
    const send = async (): Promise<void> => {
      if (inFlight !== undefined) await inFlight;
      await yieldToLoop();
      inFlight = chunk.send();
      inFlight.catch(ignore);
      await yieldToLoop();
      sliceStart = performance.now();
    };
    let rows: PendingRow[] = [];
    // Chains the pending rows in one step, adds them to the chunk (sending each full chunk), then reads the clock.
    const chainRows = async (): Promise<void> => {
      const n = rows.length;
      const off = new Uint32Array(n + 1);
      let text = '';
      for (let i = 0; i < n; i++) {
        text += (rows[i] as PendingRow).json;
        off[i + 1] = text.length;
      }
      const data = Buffer.from(text, 'utf8');
      // Offsets are in bytes: equal to the characters unless a field holds non-ASCII text.
      if (data.length !== text.length) {
        for (let i = 0; i < n; i++) off[i + 1] = (off[i] as number) + Buffer.byteLength((rows[i] as PendingRow).json, 'utf8');
      }
      const out = this.step(data, off, prev);
      if (out.length !== 64 * n) throw new Error(`the audit chain step returned ${String(out.length)} bytes for ${String(n)} records`);
      const batch = rows;
      rows = [];
      // Record 0's prev is the step's `prev`; record i's is record i-1's hash in `out`.
      let link = prev;
      let linkAt = 0;
      for (let i = 0; i < n; i++) {
        const r = batch[i] as PendingRow;
        if (stored !== undefined) {
          stored.push({ seq: r.seq, at: new Date(r.at), principal: r.principal, tenant: r.tenant, operation: r.operation, object: r.object, result: r.result, prevHash: link.slice(linkAt, linkAt + 32), hash: out.slice(64 * i, 64 * i + 32), hmac: out.slice(64 * i + 32, 64 * i + 64) });
        }
        chunk.add(r, link, linkAt, out, i);
        link = out;
        linkAt = 64 * i;
        if (chunk.rows === chunk.limit) await send();
      }
      prev = out.slice(64 * (n - 1), 64 * (n - 1) + 32);
      if (performance.now() - sliceStart >= AUDIT_SLICE_MS) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
    };
    const memo = new FieldMemo();
    let lastAt = Number.NaN;
    let lastIso = '';
    for (const seg of segments) {
      const tenant = memo.field(seg.tenant);
      for (const e of seg.entries) {
        seq += 1;
        // Whole milliseconds, as a Date holds them (TimeClip): the ISO text hashed and the binary timestamp stored agree.
        const at = e.at >= 0 && e.at <= MAX_AT_MS ? Math.trunc(e.at) : this.now().getTime();
        // Records of one millisecond share their text (tens of them at KMIP rates).
        if (at !== lastAt) {
          lastIso = new Date(at).toISOString();
          lastAt = at;
        }
        const iso = lastIso;
        const principal = memo.field(e.principal);
        const operation = memo.field(e.operation);
        const object = clip(e.object);
        const result = memo.field(e.result);
        rows.push({
          seq, at, iso, tenant: tenant.value, principal: principal.value, operation: operation.value, object, result: result.value,
          json: canonicalJsonOf(seq, iso, principal.json, tenant.json, operation.json, jsonString(object), result.json),
        });
        if (rows.length === AUDIT_CHAIN_ROWS) await chainRows();
      }
    }
    if (rows.length > 0) await chainRows();
    if (chunk.rows > 0) await send();
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
    const walk = new ChainCheck(this.hmac);
    const bad = (firstBadSeq: number, reason: string): AuditVerifyResult => ({ ok: false, count: walk.count, firstBadSeq, reason });
    for await (const r of this.rows(schema)) {
      const broken = walk.next(r);
      if (broken !== undefined) return bad(broken.firstBadSeq, broken.reason);
    }
    const { count, prev } = walk;
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
    const summary = walk.gapSummary();
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
