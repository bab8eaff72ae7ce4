/**
 * The hot-path audit sink (src/cmk/audit/sink.ts AuditSink; issue 14 deliverable 4, issue 15 item 4), over PGlite and
 * the real PostgreSQL:
 *
 *   enqueue   what record() (and recordEntry(), the KMIP hook's call) costs the caller's thread, per record
 *   flush     hash + HMAC + INSERTs + commit, per record, measured around sink.flush() of FLUSH_RECORDS records
 *   slice     the longest stretch the event loop was held during the flushes (a setImmediate ping loop runs
 *             beside them; the largest and the 99th-percentile gap between two pings)
 *
 *   npx tsc -p . && node dist/perf/audit.bench.js
 *   AUDIT_BENCH_ENGINES=pglite   one engine only (default: pglite,postgres)
 *   OPENKCM_BENCH_QUICK=1        a few hundred records (CI smoke; its figures mean nothing)
 *   AUDIT_BENCH_FLUSH_ONLY=1     skip the enqueue rounds (their 80 flushes, and the verify of them): flush figures
 *                                only, for interleaved A/B runs on a busy machine
 *   AUDIT_BENCH_DIR=1            PGlite in a data directory (durable, as `openkcm serve` runs it) instead of in memory
 *   AUDIT_BENCH_ROUNDS=N         flush rounds per figure (default 5); the figures are medians
 *
 * PostgreSQL: 127.0.0.1:5432, user postgres, trust (OPENKCM_TEST_PG_URL overrides); a throwaway database is
 * created and dropped. The HMAC is the server's: HMAC-SHA-256 in a native key slot. Results: perf/results/audit.json.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { AuditTrail } from '../src/cmk/audit/index.js';
import type { AuditHmac, AuditSink } from '../src/cmk/audit/index.js';
import { openDb } from '../src/cmk/db.js';
import type { Db } from '../src/cmk/db.js';
import { migratePublic, migrateTenant } from '../src/cmk/migrations.js';
import * as native from '../src/native/index.js';
import { createThrowawayDatabase } from '../test/helpers/governance-db.js';
import { QUICK, resultsPath } from './common.js';

/** Records per enqueue round (one flush batch) and rounds. The figure is the fastest round (least disturbed by
 *  other processes on a shared machine) and the median round. */
const ENQUEUE_RECORDS = QUICK ? 200 : 2_048;
const ENQUEUE_ROUNDS = QUICK ? 2 : 40;
/** Records per measured flush (four full batches) and flush rounds. */
const FLUSH_RECORDS = QUICK ? 300 : 8_192;
const FLUSH_ROUNDS = QUICK ? 1 : Math.max(1, Number(process.env.AUDIT_BENCH_ROUNDS ?? '5') || 5);

type Engine = 'pglite' | 'postgres';

interface EngineResult {
  engine: Engine;
  /** record(AuditRecord): the call the KMIP hook made before issue 14. */
  enqueueNsPerRecord: { min: number; median: number };
  /** recordEntry(tenant, AuditEntry): the hook's call since (absent on older code). */
  enqueueEntryNsPerRecord?: { min: number; median: number };
  flushUsPerRecord: number;
  /** CPU time per record during the flushes: the whole process (event loop, PGlite's thread, V8's helpers), and
   *  the event-loop thread alone, measured in rounds without the ping loop. Unlike the wall figure these move
   *  less with other load on the machine. */
  flushCpuUsPerRecord?: number;
  flushLoopCpuUsPerRecord?: number;
  /** The busiest other thread's CPU per record in those rounds: PGlite's worker thread on the embedded engine (its
   *  WebAssembly Postgres), the driver's socket work on the real one. */
  flushDbThreadCpuUsPerRecord?: number;
  /** Largest gap between two setImmediate pings during the flushes (wall, and CPU time: see loopGaps), and the
   *  largest per-flush 99th percentile (wall). */
  longestSliceMs: number;
  longestSliceCpuMs: number;
  p99SliceMs: number;
  flushRecords: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function maxOf(xs: readonly number[]): number {
  let m = 0;
  for (const x of xs) if (x > m) m = x;
  return m;
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? Number.NaN;
}

/** CPU time of the calling thread, ms: Linux's per-thread scheduler clock (ns resolution), else the process's
 *  (which also counts the PGlite worker and V8's helper threads: an upper bound). */
const threadCpuMs: () => number = (() => {
  try {
    readFileSync('/proc/thread-self/schedstat', 'utf8');
    return () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return () => {
      const c = process.cpuUsage();
      return (c.user + c.system) / 1000;
    };
  }
})();

/** CPU time of each thread of this process, µs (Linux /proc; empty elsewhere). */
function threadCpuUs(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const t of readdirSync('/proc/self/task')) {
      try {
        out.set(t, Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e3);
      } catch {
        // The thread ended in between.
      }
    }
  } catch {
    // Not Linux.
  }
  return out;
}

/** The most CPU any thread but the event loop used between two {@link threadCpuUs} readings, µs. */
function busiestOtherUs(before: Map<string, number>, after: Map<string, number>): number {
  const self = String(process.pid);
  let top = 0;
  for (const [t, v] of after) if (t !== self) top = Math.max(top, v - (before.get(t) ?? 0));
  return top;
}

/**
 * Gaps between consecutive setImmediate callbacks while `work` runs: how long the loop was held at once. On a
 * shared machine a gap also holds the time the OS ran other processes, so each gap is measured twice: wall time,
 * and the CPU time the event-loop thread itself used in it.
 */
async function loopGaps(work: () => Promise<void>): Promise<{ wallMax: number; cpuMax: number; wallP99: number }> {
  const wall: number[] = [];
  let cpuMax = 0;
  let last = performance.now();
  let lastCpu = threadCpuMs();
  let running = true;
  const ping = (): void => {
    const t = performance.now();
    const c = threadCpuMs();
    wall.push(t - last);
    if (c - lastCpu > cpuMax) cpuMax = c - lastCpu;
    last = performance.now();
    lastCpu = threadCpuMs();
    if (running) setImmediate(ping);
  };
  setImmediate(ping);
  try {
    await work();
    return { wallMax: maxOf(wall), cpuMax, wallP99: percentile(wall, 0.99) };
  } finally {
    running = false;
  }
}

const uidOf = (i: number): string => `0f6b1c7e-5d3a-4c52-9a8e-${String(100_000_000_000 + i)}`;

/** The record the KMIP audit hook built per batch item before issue 14 (src/appliance/governance, formerly src/server/governance.ts). */
function enqueue(sink: AuditSink, tenant: string, n: number, at: Date): void {
  for (let i = 0; i < n; i++) sink.record({ principal: 'client-a', tenant, operation: 'kmip.Get', object: uidOf(i), result: 'ok', time: at });
}

interface EntrySink {
  recordEntry?: (tenant: string, e: { principal: string; operation: string; object: string; result: string; at: number; keep: boolean }) => boolean;
}

/** What the hook does since issue 14 (src/appliance/governance/audit-gate.ts): one plain entry per batch item. */
function enqueueEntries(sink: EntrySink, tenant: string, n: number, at: Date): void {
  const rec = sink.recordEntry;
  if (rec === undefined) return;
  for (let i = 0; i < n; i++) rec.call(sink, tenant, { principal: 'client-a', operation: 'kmip.Get', object: uidOf(i), result: 'ok', at: at.getTime(), keep: true });
}

async function enqueueCost(sink: AuditSink, fill: (n: number, at: Date) => void): Promise<{ min: number; median: number }> {
  const ns: number[] = [];
  for (let r = 0; r < ENQUEUE_ROUNDS; r++) {
    const at = new Date();
    const t0 = process.hrtime.bigint();
    fill(ENQUEUE_RECORDS, at);
    ns.push(Number(process.hrtime.bigint() - t0) / ENQUEUE_RECORDS);
    await sink.flush();
  }
  return { min: Math.round(Math.min(...ns)), median: Math.round(median(ns)) };
}

async function benchEngine(engine: Engine, db: Db, hmac: AuditHmac): Promise<EngineResult> {
  await migratePublic(db);
  const tenant = `bench_${engine}`;
  await migrateTenant(db, tenant);
  const trail = new AuditTrail(db, hmac);
  const sink = trail.createSink();
  try {
    const flushOnly = process.env.AUDIT_BENCH_FLUSH_ONLY === '1';
    const enqueueNsPerRecord = flushOnly ? { min: Number.NaN, median: Number.NaN } : await enqueueCost(sink, (n, at) => { enqueue(sink, tenant, n, at); });
    const entrySink = sink as unknown as EntrySink;
    const enqueueEntryNsPerRecord = flushOnly || entrySink.recordEntry === undefined ? undefined : await enqueueCost(sink, (n, at) => { enqueueEntries(entrySink, tenant, n, at); });
    const flushUs: number[] = [];
    const flushCpuUs: number[] = [];
    const flushLoopCpuUs: number[] = [];
    const flushDbCpuUs: number[] = [];
    const longest: number[] = [];
    const longestCpu: number[] = [];
    const p99: number[] = [];
    // CPU rounds without the ping loop: while a flush waits for the database, the ping loop keeps the event loop
    // spinning (a setImmediate and two /proc reads a turn), which counted the wait as event-loop CPU and hid what
    // the flush itself costs. The slice rounds that follow run the ping loop.
    for (let r = 0; r < FLUSH_ROUNDS; r++) {
      enqueue(sink, tenant, FLUSH_RECORDS, new Date());
      const cpu0 = process.cpuUsage();
      const loop0 = threadCpuMs();
      const threads0 = threadCpuUs();
      await sink.flush();
      const cpu = process.cpuUsage(cpu0);
      flushDbCpuUs.push(busiestOtherUs(threads0, threadCpuUs()) / FLUSH_RECORDS);
      flushCpuUs.push((cpu.user + cpu.system) / FLUSH_RECORDS);
      flushLoopCpuUs.push(((threadCpuMs() - loop0) * 1000) / FLUSH_RECORDS);
    }
    for (let r = 0; r < FLUSH_ROUNDS; r++) {
      enqueue(sink, tenant, FLUSH_RECORDS, new Date());
      const t0 = performance.now();
      const g = await loopGaps(() => sink.flush());
      longest.push(g.wallMax);
      longestCpu.push(g.cpuMax);
      p99.push(g.wallP99);
      flushUs.push(((performance.now() - t0) * 1000) / FLUSH_RECORDS);
    }
    const v = await trail.verify(tenant);
    if (!v.ok) throw new Error(`the bench chain does not verify: ${v.reason}`);
    return {
      engine,
      enqueueNsPerRecord,
      ...(enqueueEntryNsPerRecord === undefined ? {} : { enqueueEntryNsPerRecord }),
      flushUsPerRecord: Math.round(median(flushUs) * 10) / 10,
      flushCpuUsPerRecord: Math.round(median(flushCpuUs) * 10) / 10,
      flushLoopCpuUsPerRecord: Math.round(median(flushLoopCpuUs) * 10) / 10,
      flushDbThreadCpuUsPerRecord: Math.round(median(flushDbCpuUs) * 10) / 10,
      longestSliceMs: Math.round(maxOf(longest) * 100) / 100,
      longestSliceCpuMs: Math.round(maxOf(longestCpu) * 100) / 100,
      p99SliceMs: Math.round(maxOf(p99) * 1000) / 1000,
      flushRecords: FLUSH_RECORDS,
    };
  } finally {
    await sink.close();
  }
}

async function main(): Promise<void> {
  native.initNative({ allowUnlocked: true });
  const key = native.SecureKey.generate(32);
  // As the server wires it (src/appliance/governance/repository.ts): the HMAC and its batch chain step. A build
  // without the step (this file run against an older dist for an A/B) gets the per-record HMAC alone.
  const chain = (native as { auditChain?: typeof native.auditChain }).auditChain;
  const hmac: AuditHmac = Object.assign((d: Uint8Array): Uint8Array => native.mac(key, 'HMAC-SHA256', d),
    chain === undefined ? {} : { chain: (c: Uint8Array, o: Uint32Array, p: Uint8Array): Uint8Array => chain(key, c, o, p) });
  const engines = (process.env.AUDIT_BENCH_ENGINES ?? 'pglite,postgres').split(',').filter((e): e is Engine => e === 'pglite' || e === 'postgres');
  const loadBefore = loadavg()[0];
  const results: EngineResult[] = [];
  for (const engine of engines) {
    if (engine === 'pglite') {
      const dir = process.env.AUDIT_BENCH_DIR === '1' ? mkdtempSync(path.join(tmpdir(), 'openkcm-audit-bench-')) : undefined;
      const db = await openDb(dir === undefined ? {} : { pgliteDir: path.join(dir, 'db') });
      try {
        results.push(await benchEngine(engine, db, hmac));
      } finally {
        await db.close();
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      }
    } else {
      const tdb = await createThrowawayDatabase();
      const db = await openDb({ url: tdb.url });
      try {
        results.push(await benchEngine(engine, db, hmac));
      } finally {
        await db.close();
        await tdb.drop();
      }
    }
  }
  key.destroy();
  for (const r of results) {
    const e = r.enqueueEntryNsPerRecord;
    process.stdout.write(`${r.engine}: enqueue record() ${String(r.enqueueNsPerRecord.min)} ns/record (median ${String(r.enqueueNsPerRecord.median)})` +
      `${e === undefined ? '' : `, recordEntry() ${String(e.min)} ns/record (median ${String(e.median)})`}; ` +
      `flush ${String(r.flushUsPerRecord)} µs/record wall, CPU ${String(r.flushCpuUsPerRecord)} µs/record (event-loop thread ${String(r.flushLoopCpuUsPerRecord)}, busiest other thread ${String(r.flushDbThreadCpuUsPerRecord)}, other threads ${String(Math.round(((r.flushCpuUsPerRecord ?? 0) - (r.flushLoopCpuUsPerRecord ?? 0)) * 10) / 10)}) (${String(r.flushRecords)} records per flush); ` +
      `event-loop stretch during flushes: longest ${String(r.longestSliceMs)} ms wall, ${String(r.longestSliceCpuMs)} ms event-loop-thread CPU; p99 ${String(r.p99SliceMs)} ms\n`);
  }
  const out = resultsPath('audit.json');
  await writeFile(out, JSON.stringify({
    bench: 'audit', quick: QUICK, cpus: cpus().length, loadavg: { before: loadBefore, after: loadavg()[0] },
    enqueueRecords: ENQUEUE_RECORDS, flushRecords: FLUSH_RECORDS, results,
  }, null, 2) + '\n');
  process.stdout.write(`results: ${out}\n`);
}

await main();
