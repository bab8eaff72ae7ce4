/**
 * Worker-thread entry of the embedded governance database (ARCHITECTURE §6 "Embedded default"). PGlite is
 * Postgres compiled to WASM and runs synchronously on whatever thread calls it: on the main thread every audit
 * flush (thousands of INSERTs) stalled the KMIP server's event loop for tens of milliseconds. Here it runs on
 * its own thread; the main thread keeps only a thin proxy (db.ts, `PGliteDb`) that posts requests and
 * structured-clones parameters and rows.
 *
 * Protocol: one {@link WorkerRequest} per call, each with an id; exactly one {@link WorkerReply} per request,
 * plus unsolicited {@link WorkerNotification}s for LISTEN. Requests are served concurrently, and PGlite's own
 * mutexes order them, exactly as on the main thread: a statement outside a transaction waits while one is
 * open (PGlite `_runExclusiveTransaction`), and transactions run one at a time.
 *
 * Loaded only as a worker (`new Worker(new URL('./pglite-worker.js', import.meta.url))`); the main thread
 * imports nothing but types from here.
 */
import { parentPort } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import type { Transaction } from '@electric-sql/pglite';
import { GovernanceError } from './errors.js';

export type WorkerRequest =
  | { id: number; op: 'open'; dir: string | undefined }
  | { id: number; op: 'query'; sql: string; params: readonly unknown[] | undefined; txId: number | undefined }
  | { id: number; op: 'exec'; sql: string; txId: number | undefined }
  /** `COPY … FROM '/dev/blob'` with `data` (the COPY format `sql` names) as the blob; replies with the rows copied. */
  | { id: number; op: 'copy'; sql: string; data: Uint8Array; txId: number | undefined }
  /** BEGIN; replies with a transaction id once the transaction holds PGlite's transaction mutex. */
  | { id: number; op: 'begin' }
  /** COMMIT (`commit`) or ROLLBACK of a transaction begun by 'begin'; replies once it is over. */
  | { id: number; op: 'end'; txId: number; commit: boolean }
  | { id: number; op: 'listen'; channel: string; listenerId: number }
  | { id: number; op: 'unlisten'; listenerId: number }
  | { id: number; op: 'close' };

/** An error as it crosses the thread: structured clone keeps only name/message/stack of an Error, so the
 *  SQLSTATE (`code`) and the other fields of a Postgres error travel as plain primitive properties. */
export interface SerializedError {
  name: string;
  message: string;
  stack: string | undefined;
  props: Record<string, string | number | boolean | null>;
}

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

export interface WorkerNotification {
  id: undefined;
  listenerId: number;
  payload: string;
}

export interface WireQueryResult {
  rows: unknown[];
  rowCount: number;
}

function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), stack: undefined, props: {} };
  const props: SerializedError['props'] = {};
  for (const [k, v] of Object.entries(e) as [string, unknown][]) {
    // Only primitives: a DatabaseError also carries the query's params, which may hold large byte arrays.
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) props[k] = v;
  }
  return { name: e.name, message: e.message, stack: e.stack, props };
}

interface OpenTx {
  readonly tx: Transaction;
  /** Hands the decision to the transaction callback and resolves/rejects with pgl.transaction's outcome. */
  end(commit: boolean): Promise<void>;
}

interface Queryable {
  query: Transaction['query'];
  exec(sql: string): Promise<unknown>;
}

/**
 * The embedded database's memory (issue 14 "Memory": the default appliance idles at <= 300 MiB). PostgreSQL's defaults
 * size shared_buffers at 128 MB; the governance database is a few MB of tenants, policies, approvals and audit records,
 * written in small transactions that append. PGlite touches all of shared_buffers at start (measured: the resident
 * part of its WebAssembly memory is 30 MiB with 16 MB, 22 with 8 MB, 16 with 2 MB), and WebAssembly memory never
 * shrinks, so every megabyte here is a megabyte of the idle appliance. 4 MB (512 pages) holds the hot pages: the
 * catalogs, the tenant and policy tables and the tail of each audit table and its index; appending 30,000 audit-like
 * rows in transactions of 100 ran at the same rate with 4 MB as with 16 MB (docs/performance.md "Idle memory").
 * (PGlite's WebAssembly memory starts at the 128 MiB its module requires, reserved rather than touched, and grows on
 * demand.) PGlite's own start parameters are kept in front.
 * A production deployment uses PostgreSQL (governance.database.url), which these settings do not touch.
 */
const PGLITE_MEMORY = {
  startParams: [
    ...PGlite.defaultStartParams,
    '-c', 'shared_buffers=4MB',
    '-c', 'work_mem=1MB',
    '-c', 'maintenance_work_mem=8MB',
    '-c', 'temp_buffers=1MB',
    '-c', 'wal_buffers=1MB',
  ],
};

class Server {
  private pgl: PGlite | undefined;
  private readonly txs = new Map<number, OpenTx>();
  private readonly unlisteners = new Map<number, () => Promise<void>>();
  private lastTxId = 0;

  constructor(private readonly post: (msg: WorkerReply | WorkerNotification) => void) {}

  async handle(req: WorkerRequest): Promise<unknown> {
    if (req.op === 'open') {
      if (this.pgl !== undefined) throw new GovernanceError('INVALID_STATE', 'database already open');
      this.pgl = await PGlite.create({ ...(req.dir === undefined ? {} : { dataDir: req.dir }), ...PGLITE_MEMORY });
      return undefined;
    }
    const pgl = this.pgl;
    if (pgl === undefined) throw new GovernanceError('CLOSED', 'database is not open');
    switch (req.op) {
      case 'query': {
        const q = this.target(pgl, req.txId);
        const r = await q.query(req.sql, req.params === undefined ? undefined : [...req.params]);
        // PGlite reports affected rows for INSERT/UPDATE/DELETE and 0 for SELECT: use the larger, like pg's rowCount.
        const out: WireQueryResult = { rows: r.rows, rowCount: Math.max(r.affectedRows ?? 0, r.rows.length) };
        return out;
      }
      case 'exec':
        await this.target(pgl, req.txId).exec(req.sql);
        return undefined;
      case 'copy': {
        const r = await this.target(pgl, req.txId).query(req.sql, [], { blob: new Blob([req.data]) });
        return r.affectedRows ?? 0;
      }
      case 'begin':
        return this.begin(pgl);
      case 'end': {
        const open = this.txs.get(req.txId);
        if (open === undefined) throw new GovernanceError('CLOSED', 'transaction is closed');
        this.txs.delete(req.txId);
        await open.end(req.commit);
        return undefined;
      }
      case 'listen': {
        const unlisten = await pgl.listen(req.channel, (payload) => {
          this.post({ id: undefined, listenerId: req.listenerId, payload });
        });
        this.unlisteners.set(req.listenerId, unlisten);
        return undefined;
      }
      case 'unlisten': {
        const unlisten = this.unlisteners.get(req.listenerId);
        this.unlisteners.delete(req.listenerId);
        if (unlisten !== undefined && !pgl.closed) await unlisten();
        return undefined;
      }
      case 'close':
        // pgl.close() waits for an open transaction to end, as it did on the main thread.
        if (!pgl.closed) await pgl.close();
        return undefined;
    }
  }

  private target(pgl: PGlite, txId: number | undefined): Queryable {
    if (txId === undefined) return pgl;
    const open = this.txs.get(txId);
    if (open === undefined) throw new GovernanceError('CLOSED', 'transaction is closed');
    return open.tx;
  }

  /**
   * Runs PGlite's own transaction() (BEGIN/COMMIT/ROLLBACK under its mutex, so transactions stay serialised)
   * with a callback that parks until the main thread sends 'end'. Resolves with the id once BEGIN is done;
   * rejects if BEGIN (or acquiring the database) fails.
   */
  private async begin(pgl: PGlite): Promise<number> {
    const txId = ++this.lastTxId;
    let decide: (commit: boolean) => void = () => undefined;
    const decision = new Promise<boolean>((resolve) => {
      decide = resolve;
    });
    let markStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      markStarted = resolve;
    });
    const done: Promise<void> = pgl.transaction(async (tx) => {
      this.txs.set(txId, {
        tx,
        end: async (commit) => {
          decide(commit);
          await done;
        },
      });
      markStarted();
      if (!(await decision)) await tx.rollback();
    });
    // `done` settles before `started` only when it failed: BEGIN never completed.
    await Promise.race([started, done]);
    return txId;
  }
}

/**
 * `node pglite-worker.js --initdb DIR`: initialise a new data directory in a process of its own, which then exits
 * (db.ts PGliteDb.open explains why). Any other use outside a worker thread is a mistake.
 */
async function initdbProcess(argv: readonly string[]): Promise<void> {
  const i = argv.indexOf('--initdb');
  const dir = i < 0 ? undefined : argv[i + 1];
  if (dir === undefined) throw new Error('pglite-worker.js is a worker_threads entry point (or: --initdb DIR), not a module to import');
  const pgl = await PGlite.create({ dataDir: dir, ...PGLITE_MEMORY });
  await pgl.close();
}

const port = parentPort;
if (port === null) {
  await initdbProcess(process.argv);
} else {
  const server = new Server((msg) => {
    port.postMessage(msg);
  });
  port.on('message', (req: WorkerRequest) => {
    server.handle(req).then(
      (value) => {
        try {
          port.postMessage({ id: req.id, ok: true, value } satisfies WorkerReply);
        } catch (e) {
          // A value structured clone refuses: report it to the caller instead of leaving it waiting.
          port.postMessage({ id: req.id, ok: false, error: serializeError(e) } satisfies WorkerReply);
        }
      },
      (e: unknown) => {
        port.postMessage({ id: req.id, ok: false, error: serializeError(e) } satisfies WorkerReply);
      },
    );
  });
}
