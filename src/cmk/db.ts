/**
 * The governance plane's database (ARCHITECTURE §1 "cmk", §6 "Embedded default"): one small interface over the
 * real PostgreSQL (node-postgres Pool, production and CI) and over PGlite (embedded, WASM Postgres, used when no
 * DATABASE_URL is given), running the SAME SQL.
 *
 * Identifiers. Schema names are the only SQL text we ever build from data (one schema per tenant, `tenant_<id>`).
 * They never come from user input unchecked: {@link tenantSchema} accepts only ids matching
 * {@link TENANT_ID_PATTERN}, and {@link quoteIdent} re-checks and double-quotes every identifier it is given.
 * Values always travel as bind parameters ($1, $2, ...).
 *
 * Tenant ids: the KMIP side accepts tenant names matching TENANT_NAME_PATTERN (src/common/tenant-name.ts,
 * `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`). A schema-safe id must be lowercase (Postgres folds unquoted identifiers),
 * must avoid `.` and `-`, and `tenant_` + id must fit NAMEDATALEN-1 = 63 bytes. Mapping the wider set onto the
 * narrower one cannot be both injective and readable, so governance RESTRICTS instead: a governed tenant id
 * matches `^[a-z0-9][a-z0-9_]{0,39}$`, which is a subset of TENANT_NAME_PATTERN, so every governed tenant is
 * also a valid KMIP tenant name, unchanged (docs/governance.md "Tenants and schemas").
 */
import type pg from 'pg';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { GovernanceError, GovernanceErrorCode } from './errors.js';
import type { SerializedError, WireQueryResult, WorkerNotification, WorkerReply, WorkerRequest } from './pglite-worker.js';

/**
 * A governed tenant id. Lowercase letters, digits and `_`, starting with a letter or digit, at most 40 chars:
 * the length bound keeps `tenant_<id>` (47 bytes) well under Postgres' 63-byte identifier limit, where a longer
 * name would be silently TRUNCATED and two tenants could collide on one schema.
 */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_]{0,39}$/;

/** Prefix of every tenant schema; constant, so the id → schema mapping is injective. */
export const TENANT_SCHEMA_PREFIX = 'tenant_';

/** What quoteIdent accepts: a plain lowercase identifier that fits NAMEDATALEN-1 (no truncation collisions). */
const SAFE_IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Sub-directory of a data directory that holds the embedded PGlite database (`openkcm ... --data-dir D`). */
export const PGLITE_SUBDIR = 'governance-db';

/** Channel on which tenant state changes are announced (docs/governance.md, contracts "Governance"). */
export const TENANT_CHANNEL = 'openkcm_tenant';

/** Delay before the first reconnect of the LISTEN connection; doubles up to the maximum. A fixed floor stops a
 *  dead server from being hammered with connection attempts in a tight loop. */
export const LISTEN_RECONNECT_MIN_MS = 100;
export const LISTEN_RECONNECT_MAX_MS = 5_000;

/** Default pool size for the real PostgreSQL; bounded so one process cannot exhaust max_connections. */
export const DEFAULT_POOL_SIZE = 10;

export function isTenantId(id: unknown): id is string {
  return typeof id === 'string' && TENANT_ID_PATTERN.test(id);
}

/** Throws INVALID_ARGUMENT unless `id` is a governed tenant id. */
export function checkTenantId(id: unknown): string {
  if (!isTenantId(id)) {
    throw new GovernanceError('INVALID_ARGUMENT', `tenant id must match ${TENANT_ID_PATTERN.source}`);
  }
  return id;
}

/** The schema name of a tenant (`tenant_<id>`), unquoted; throws INVALID_ARGUMENT for a bad id. */
export function tenantSchema(tenant: string): string {
  return TENANT_SCHEMA_PREFIX + checkTenantId(tenant);
}

/**
 * The schema that holds the key hierarchy of ANY krypton tenant name (src/krypton/pg-store.ts). Krypton accepts
 * wider names than governance (KMIP tenant names, src/krypton/record.ts). A governed id maps to its own schema
 * `tenant_<id>`, so the hierarchy sits next to the tenant's other rows; any other name maps to
 * `tenant__<first 32 hex digits of SHA-256(name)>`. That cannot collide with a governed schema (a governed id
 * never starts with `_`) and, at 128 bits, not with another hashed name either.
 */
export function hierarchySchemaFor(tenantName: string): string {
  if (isTenantId(tenantName)) return TENANT_SCHEMA_PREFIX + tenantName;
  return `${TENANT_SCHEMA_PREFIX}_${createHash('sha256').update(tenantName, 'utf8').digest('hex').slice(0, 32)}`;
}

/**
 * Double-quotes an identifier for SQL text. Refuses anything outside a plain lowercase identifier, so a
 * quote, a NUL, a dot or an over-long name can never reach the SQL text, even if a caller skipped validation.
 */
export function quoteIdent(name: string): string {
  if (typeof name !== 'string' || !SAFE_IDENT.test(name)) {
    throw new GovernanceError('INVALID_ARGUMENT', `identifier must match ${SAFE_IDENT.source}`);
  }
  return `"${name}"`;
}

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** What runs SQL: the database itself or one open transaction. */
export interface DbTx {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Several statements, no parameters (DDL of migrations). */
  exec(sql: string): Promise<void>;
  /** `pg_notify(channel, payload)`; inside a transaction it is delivered at COMMIT, not at all on ROLLBACK. */
  notify(channel: string, payload: string): Promise<void>;
  /**
   * `COPY table (columns) FROM` rows in PostgreSQL's binary COPY format (./copy-binary.ts writes it); `table` is an
   * already quoted name. Resolves with the rows copied. The buffer is handed over: the caller must not touch it
   * again (it is transferred to the database thread, not copied). Only the embedded engine has it: PGlite
   * serialises array parameters in JavaScript and parses them again in WebAssembly, about 60 µs a row for an audit
   * record sent as ten arrays (unnest), where COPY took about 14 as text and about half that in binary (issue 14,
   * docs/performance.md "Audit write rate" and "Seventh session"). node-postgres has no COPY without another
   * package, and unnest costs the real server little, so callers fall back to it when this is absent.
   */
  copyBinary?(table: string, columns: readonly string[], data: Uint8Array): Promise<number>;
}

export interface Db extends DbTx {
  readonly kind: 'postgres' | 'pglite';
  /** BEGIN; fn(tx); COMMIT — ROLLBACK when fn throws (the error is rethrown). Use ONLY `tx` inside `fn`: PGlite
   *  has one connection, and a query on the Db itself would wait for this transaction forever. */
  transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T>;
  /** LISTEN on `channel`; resolves once listening. The returned function stops this listener. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenDbOptions {
  /** postgres:// URL of the real PostgreSQL. When absent, PGlite serves. */
  url?: string;
  /** PGlite data directory; in memory when absent (tests, throwaway). */
  pgliteDir?: string;
  /** Pool size for PostgreSQL (default {@link DEFAULT_POOL_SIZE}). */
  poolSize?: number;
  /** Called after the LISTEN connection came back from a failure: notifications sent meanwhile were missed, so
   *  listeners should re-read the state they track. Also receives connection errors (never thrown) and errors a
   *  listener callback threw. */
  onListenEvent?: (event: { type: 'error'; error: Error } | { type: 'reconnected' }) => void;
}

/** Opens the database: `url` → PostgreSQL pool; else PGlite (memory, or `pgliteDir`). */
export async function openDb(opts: OpenDbOptions = {}): Promise<Db> {
  if (opts.url !== undefined) return PostgresDb.open(opts.url, opts);
  return PGliteDb.open(opts.pgliteDir, opts.onListenEvent);
}

/** Precedence: an explicit URL, then `<dataDir>/governance-db` (PGlite), then $DATABASE_URL; `{}` when none
 *  (which openDb serves with an in-memory PGlite: callers that need a durable database check for it). */
export function dbOptionsFrom(opts: { url?: string | undefined; dataDir?: string | undefined; env?: NodeJS.ProcessEnv }): OpenDbOptions {
  if (opts.url !== undefined && opts.url !== '') return { url: opts.url };
  if (opts.dataDir !== undefined) return { pgliteDir: path.join(opts.dataDir, PGLITE_SUBDIR) };
  const url = (opts.env ?? process.env).DATABASE_URL;
  if (url !== undefined && url !== '') return { url };
  return {};
}

/** SQLSTATE of a database error (pg and PGlite both put it on `.code`). */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** int8/numeric arrive as string from pg and as number from PGlite. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  throw new TypeError(`not an integer column value: ${typeof v}`);
}

/** bytea arrives as Buffer from pg and as Uint8Array from PGlite; always hand out a fresh Uint8Array copy. */
export function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  throw new TypeError(`not a bytea column value: ${typeof v}`);
}

export function toDate(v: unknown): Date {
  if (v instanceof Date) return new Date(v.getTime());
  if (typeof v === 'string') return new Date(v);
  throw new TypeError(`not a timestamp column value: ${typeof v}`);
}

function checkChannel(channel: string): void {
  quoteIdent(channel);
}

// ---- PostgreSQL ------------------------------------------------------------------------------------------

/**
 * node-postgres, loaded on first use (issue 14 "Memory"): the embedded default (PGlite) and the KMIP workers, which
 * import this file for its helpers through the audit modules, never open a PostgreSQL connection, and loading pg
 * costs each process about 3 MiB of heap and 40 modules (docs/performance.md "Idle memory"). Only
 * {@link PostgresDb.open} calls it; test/unit/lazy-modules.test.ts keeps it that way.
 */
let pgModule: Promise<typeof pg> | undefined;
function loadPg(): Promise<typeof pg> {
  pgModule ??= import('pg').then((m) => m.default);
  return pgModule;
}

function pgTx(client: pg.PoolClient | pg.Pool): DbTx {
  return {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await client.query(sql, params === undefined ? undefined : [...params]);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
    async notify(channel: string, payload: string): Promise<void> {
      checkChannel(channel);
      await client.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
  };
}

/**
 * What both engines share: statements outside a transaction go to `base` (the pool, or PGlite itself), and every
 * call after close() fails with CLOSED instead of reaching a released connection.
 */
abstract class BaseDb implements Db {
  abstract readonly kind: Db['kind'];
  protected closed = false;

  protected constructor(protected readonly base: DbTx) {}

  protected check(): void {
    if (this.closed) throw new GovernanceError('CLOSED', 'database is closed');
  }

  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    this.check();
    return this.base.query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    this.check();
    return this.base.exec(sql);
  }

  notify(channel: string, payload: string): Promise<void> {
    this.check();
    return this.base.notify(channel, payload);
  }

  abstract transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T>;
  abstract listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  abstract close(): Promise<void>;
}

class PostgresDb extends BaseDb {
  readonly kind = 'postgres' as const;
  private readonly listener: PgListener;

  private constructor(private readonly pool: pg.Pool, pgm: typeof pg, url: string, opts: OpenDbOptions) {
    super(pgTx(pool));
    this.listener = new PgListener(pgm, url, opts.onListenEvent);
  }

  static async open(url: string, opts: OpenDbOptions): Promise<PostgresDb> {
    const pgm = await loadPg();
    const pool = new pgm.Pool({ connectionString: url, max: opts.poolSize ?? DEFAULT_POOL_SIZE });
    // An idle client that dies (server restart) must not crash the process: the pool drops it and makes another.
    pool.on('error', (err) => opts.onListenEvent?.({ type: 'error', error: err }));
    const db = new PostgresDb(pool, pgm, url, opts);
    try {
      await pool.query('SELECT 1');
    } catch (e) {
      await pool.end();
      throw e;
    }
    return db;
  }

  async transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T> {
    this.check();
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        const out = await fn(pgTx(client));
        await client.query('COMMIT');
        return out;
      } catch (e) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          // The connection is unusable: release it as broken so the pool destroys it.
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
        throw e;
      }
    } finally {
      client.release(broken);
    }
  }

  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    this.check();
    checkChannel(channel);
    return this.listener.add(channel, onPayload);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    await this.pool.end();
  }
}

/**
 * One dedicated connection (outside the pool: a pooled client would be handed to other queries) that LISTENs on
 * every channel somebody subscribed to. On an error it reconnects with backoff and re-LISTENs; notifications sent
 * while it was down are lost, which `onEvent({type:'reconnected'})` tells the owner so it can resynchronise.
 */
class PgListener {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly channels = new Map<string, Set<(payload: string) => void>>();
  private readonly listening = new Set<string>();
  private closed = false;
  private delay = LISTEN_RECONNECT_MIN_MS;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pgm: typeof pg,
    private readonly url: string,
    private readonly onEvent: OpenDbOptions['onListenEvent'],
  ) {}

  async add(channel: string, cb: (payload: string) => void): Promise<() => Promise<void>> {
    let set = this.channels.get(channel);
    if (set === undefined) {
      set = new Set();
      this.channels.set(channel, set);
    }
    set.add(cb);
    const subscribers = set;
    try {
      const client = await this.connected();
      if (!this.listening.has(channel)) {
        await client.query(`LISTEN ${quoteIdent(channel)}`);
        this.listening.add(channel);
      }
    } catch (e) {
      // Not listening: forget the subscriber so a later reconnect does not resurrect it.
      subscribers.delete(cb);
      if (subscribers.size === 0 && this.channels.get(channel) === subscribers) this.channels.delete(channel);
      throw e;
    }
    return async () => {
      subscribers.delete(cb);
      if (subscribers.size > 0 || this.channels.get(channel) !== subscribers) return;
      this.channels.delete(channel);
      if (this.client !== undefined && this.listening.delete(channel)) {
        await this.client.query(`UNLISTEN ${quoteIdent(channel)}`);
      }
    };
  }

  private connected(): Promise<pg.Client> {
    if (this.client !== undefined) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const client = new this.pgm.Client({ connectionString: this.url });
    client.on('error', (err) => {
      this.onEvent?.({ type: 'error', error: err });
      this.drop(client);
    });
    client.on('end', () => {
      this.drop(client);
    });
    client.on('notification', (msg) => {
      const subs = this.channels.get(msg.channel);
      if (subs === undefined) return;
      for (const cb of [...subs]) {
        try {
          cb(msg.payload ?? '');
        } catch (e) {
          this.onEvent?.({ type: 'error', error: e instanceof Error ? e : new Error(String(e)) });
        }
      }
    });
    await client.connect();
    if (this.closed) {
      await client.end();
      throw new GovernanceError('CLOSED', 'database is closed');
    }
    this.listening.clear();
    for (const channel of this.channels.keys()) {
      await client.query(`LISTEN ${quoteIdent(channel)}`);
      this.listening.add(channel);
    }
    this.client = client;
    return client;
  }

  /** The connection failed: forget it and, while somebody listens, reconnect with backoff. */
  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listening.clear();
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.channels.size === 0 || this.timer !== undefined) return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, LISTEN_RECONNECT_MAX_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connected().then(
        () => {
          this.delay = LISTEN_RECONNECT_MIN_MS;
          this.onEvent?.({ type: 'reconnected' });
        },
        (err: unknown) => {
          this.onEvent?.({ type: 'error', error: err instanceof Error ? err : new Error(String(err)) });
          this.scheduleReconnect();
        },
      );
    }, wait);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    this.channels.clear();
    this.listening.clear();
    if (client !== undefined) await client.end().catch(() => undefined);
  }
}

// ---- PGlite ----------------------------------------------------------------------------------------------
// PGlite runs in a worker thread (pglite-worker.ts): its WASM Postgres and its row (de)serialisation used to
// block the KMIP server's event loop for tens of milliseconds per audit flush. This side only posts requests
// and settles promises; structured clone carries the values (Uint8Array, Date, bigint, null, JSON objects).

/** Rebuilds an error that crossed from the worker: a GovernanceError keeps its class and code, any other error
 *  its name and its primitive fields, above all `code` (the SQLSTATE that {@link sqlState} reads). */
function deserializeError(s: SerializedError): Error {
  const code = s.props.code;
  if (s.name === 'GovernanceError' && typeof code === 'string' && Object.hasOwn(GovernanceErrorCode, code)) {
    const e = new GovernanceError(code as GovernanceErrorCode, s.message);
    if (s.stack !== undefined) e.stack = s.stack;
    return e;
  }
  const e = new Error(s.message);
  Object.assign(e, s.props);
  e.name = s.name;
  if (s.stack !== undefined) e.stack = s.stack;
  return e;
}

type RequestBody = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * The request/reply channel to one worker. When the worker dies (uncaught error, exit) every pending call and
 * every later one rejects with CLOSED instead of waiting for a reply that cannot come. The worker holds the
 * process alive only while a call is in flight: an open but idle database must not keep a process from exiting
 * (as PGlite on the main thread never did).
 */
class PGliteWorkerChannel {
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<number, (payload: string) => void>();
  private lastId = 0;
  private dead: GovernanceError | undefined;

  constructor(
    readonly worker: Worker,
    private readonly onListenerError: (err: Error) => void,
  ) {
    worker.on('message', (msg: WorkerReply | WorkerNotification) => {
      this.receive(msg);
    });
    worker.on('error', (err) => {
      this.fail(new GovernanceError('CLOSED', `governance database worker failed: ${err.message}`, { cause: err }));
    });
    worker.on('messageerror', (err) => {
      // A reply that cannot be deserialised leaves its caller without an answer: treat the channel as broken.
      this.fail(new GovernanceError('CLOSED', `governance database worker sent an unreadable message: ${err.message}`, { cause: err }));
      void worker.terminate();
    });
    worker.on('exit', (exitCode) => {
      this.fail(new GovernanceError('CLOSED', `governance database worker exited (code ${String(exitCode)})`));
    });
  }

  /** `transfer`: buffers of `body` moved to the database thread instead of copied (the caller gives them up). */
  call<T>(body: RequestBody, transfer?: readonly ArrayBuffer[]): Promise<T> {
    if (this.dead !== undefined) return Promise.reject(this.dead);
    const id = ++this.lastId;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      try {
        this.worker.postMessage({ ...body, id }, transfer);
      } catch (e) {
        // DataCloneError: a parameter structured clone cannot copy (a function, a symbol).
        this.settle(id);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  addListener(cb: (payload: string) => void): number {
    const id = ++this.lastId;
    this.listeners.set(id, cb);
    return id;
  }

  removeListener(id: number): boolean {
    return this.listeners.delete(id);
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Rejects whatever is pending with CLOSED and stops the thread. */
  async terminate(): Promise<void> {
    this.fail(new GovernanceError('CLOSED', 'database is closed'));
    await this.worker.terminate();
  }

  private receive(msg: WorkerReply | WorkerNotification): void {
    if (msg.id === undefined) {
      const cb = this.listeners.get(msg.listenerId);
      if (cb === undefined) return; // unlistened meanwhile
      try {
        cb(msg.payload);
      } catch (e) {
        this.onListenerError(e instanceof Error ? e : new Error(String(e)));
      }
      return;
    }
    const p = this.settle(msg.id);
    if (p === undefined) return;
    if (msg.ok) p.resolve(msg.value);
    else p.reject(deserializeError(msg.error));
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (p !== undefined && this.pending.size === 0) this.worker.unref();
    return p;
  }

  private fail(err: GovernanceError): void {
    if (this.dead !== undefined) return;
    this.dead = err;
    this.listeners.clear();
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.worker.unref();
    for (const p of pending) p.reject(err);
  }
}

function workerTx(ch: PGliteWorkerChannel, txId: number | undefined): DbTx {
  return {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await ch.call<WireQueryResult>({ op: 'query', sql, params, txId });
      return r as QueryResult<R>;
    },
    exec(sql: string): Promise<void> {
      return ch.call<undefined>({ op: 'exec', sql, txId });
    },
    async notify(channel: string, payload: string): Promise<void> {
      checkChannel(channel);
      await ch.call<WireQueryResult>({ op: 'query', sql: 'SELECT pg_notify($1, $2)', params: [channel, payload], txId });
    },
    copyBinary(table: string, columns: readonly string[], data: Uint8Array): Promise<number> {
      const sql = `COPY ${table} (${columns.map(quoteIdent).join(', ')}) FROM '/dev/blob' WITH (FORMAT binary)`;
      // Transferred, not cloned: the rows of one COPY are up to a few hundred KB.
      return ch.call<number>({ op: 'copy', sql, data, txId }, [data.buffer as ArrayBuffer]);
    },
  };
}

/** Runs `node pglite-worker.js --initdb DIR` and waits for it; its stderr becomes the error if it fails. */
async function initdbInChild(dir: string): Promise<void> {
  const script = fileURLToPath(new URL('./pglite-worker.js', import.meta.url));
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [script, '--initdb', dir], { maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(new GovernanceError('CLOSED', `initialising the embedded governance database in ${dir} failed: ${stderr.trim().split('\n').slice(-3).join(' ') || error.message}`));
    });
  });
}

class PGliteDb extends BaseDb {
  readonly kind = 'pglite' as const;

  private constructor(readonly channel: PGliteWorkerChannel) {
    super(workerTx(channel, undefined));
  }

  static async open(dir: string | undefined, onListenEvent: OpenDbOptions['onListenEvent']): Promise<PGliteDb> {
    // The compiled file sits next to this one (dist/src/cmk/); tsc keeps the layout.
    // A new directory is initialised (initdb) by a process of its own that then exits: initdb grows PGlite's
    // WebAssembly memory to about 800 MiB, which never shrinks, and even a thread of this process that ended left
    // about 90 MiB behind (issue 14 "Memory": 847 MiB resident after a first start before this, 377 MiB after a
    // restart). The serving thread then opens an initialised directory.
    if (dir !== undefined && !existsSync(path.join(dir, 'PG_VERSION'))) await initdbInChild(dir);
    const worker = new Worker(new URL('./pglite-worker.js', import.meta.url));
    const channel = new PGliteWorkerChannel(worker, (error) => onListenEvent?.({ type: 'error', error }));
    try {
      await channel.call<undefined>({ op: 'open', dir });
    } catch (e) {
      await channel.terminate();
      throw e;
    }
    return new PGliteDb(channel);
  }

  async transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T> {
    this.check();
    // The worker runs PGlite's own transaction() (BEGIN/COMMIT/ROLLBACK under its mutex), so transactions are
    // serialised and statements on the Db itself wait until this one ends.
    const txId = await this.channel.call<number>({ op: 'begin' });
    let out: T;
    try {
      out = await fn(workerTx(this.channel, txId));
    } catch (e) {
      // A failed ROLLBACK (or a dead worker) must not mask why the transaction was abandoned.
      await this.channel.call<undefined>({ op: 'end', txId, commit: false }).catch(() => undefined);
      throw e;
    }
    await this.channel.call<undefined>({ op: 'end', txId, commit: true });
    return out;
  }

  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    this.check();
    checkChannel(channel);
    const listenerId = this.channel.addListener(onPayload);
    try {
      await this.channel.call<undefined>({ op: 'listen', channel, listenerId });
    } catch (e) {
      this.channel.removeListener(listenerId);
      throw e;
    }
    return async () => {
      // Removing the callback here stops deliveries at once, even before the worker has unlistened.
      if (!this.channel.removeListener(listenerId) || this.closed || !this.channel.alive) return;
      await this.channel.call<undefined>({ op: 'unlisten', listenerId });
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      // Closing PGlite itself (not just killing the thread) flushes a data directory cleanly.
      if (this.channel.alive) await this.channel.call<undefined>({ op: 'close' });
    } finally {
      await this.channel.terminate();
    }
  }
}

/**
 * INTERNAL, for tests only: the worker thread that serves an embedded (PGlite) Db, `undefined` for PostgreSQL.
 * Terminating it simulates the worker dying.
 */
export function pgliteWorkerOf(db: Db): Worker | undefined {
  return db instanceof PGliteDb ? db.channel.worker : undefined;
}
