/**
 * The hot-path audit sink (src/cmk/audit.ts AuditSink; issue 14 deliverable 4, issue 15 item 4), over PGlite and
 * the real PostgreSQL:
 *
 *   enqueue   what record() costs the caller's thread, per record (the KMIP event loop pays this)
 *   flush     hash + HMAC + INSERTs + commit, per record, measured around sink.flush() of FLUSH_RECORDS records
 *   slice     the longest stretch the event loop was held during that flush (a setImmediate ping loop runs
 *             beside it and records the largest gap between two pings)
 *
 *   npx tsc -p . && node dist/perf/audit.bench.js
 *   AUDIT_BENCH_ENGINES=pglite   one engine only (default: pglite,postgres)
 *   OPENKCM_BENCH_QUICK=1        a few hundred records (CI smoke; its figures mean nothing)
 *
 * PostgreSQL: 127.0.0.1:5432, user postgres, trust (OPENKCM_TEST_PG_URL overrides); a throwaway database is
 * created and dropped. The HMAC is the server's: HMAC-SHA-256 in a native key slot. Results: perf/results/audit.json.
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { AuditTrail } from '../src/cmk/audit.js';
import type { AuditSink } from '../src/cmk/audit.js';
import { openDb } from '../src/cmk/db.js';
import type { Db } from '../src/cmk/db.js';
import { migratePublic, migrateTenant } from '../src/cmk/migrations.js';
import { initNative, mac, SecureKey } from '../src/native/index.js';
import { createThrowawayDatabase } from '../test/helpers/governance-db.js';
import { QUICK, resultsPath } from './common.js';

/** Records per enqueue round (a KMIP burst) and rounds; the median round is reported. */
const ENQUEUE_RECORDS = QUICK ? 500 : 20_000;
const ENQUEUE_ROUNDS = QUICK ? 2 : 7;
/** Records per measured flush (four full batches) and flush rounds. */
const FLUSH_RECORDS = QUICK ? 300 : 8_192;
const FLUSH_ROUNDS = QUICK ? 1 : 5;

type Engine = 'pglite' | 'postgres';

interface EngineResult {
  engine: Engine;
  enqueueNsPerRecord: number;
  flushUsPerRecord: number;
  longestSliceMs: number;
  flushRecords: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** Longest gap between two setImmediate callbacks while `work` runs: how long the loop was held at once. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
  let last = performance.now();
  let max = 0;
  let running = true;
  const ping = (): void => {
    const t = performance.now();
    if (t - last > max) max = t - last;
    last = t;
    if (running) setImmediate(ping);
  };
  setImmediate(ping);
  try {
    const value = await work();
    return { value, stallMs: max };
  } finally {
    running = false;
  }
}

/** The record the KMIP audit hook builds per batch item (src/server/governance.ts). */
function enqueue(sink: AuditSink, tenant: string, n: number, at: Date): void {
  for (let i = 0; i < n; i++) {
    sink.record({ principal: 'client-a', tenant, operation: 'kmip.Get', object: `0f6b1c7e-5d3a-4c52-9a8e-${String(100_000_000_000 + i)}`, result: 'ok', time: at });
  }
}

async function benchEngine(engine: Engine, db: Db, hmac: (d: Uint8Array) => Uint8Array): Promise<EngineResult> {
  await migratePublic(db);
  const tenant = `bench_${engine}`;
  await migrateTenant(db, tenant);
  const trail = new AuditTrail(db, hmac);
  const sink = trail.createSink();
  try {
    const enqueueNs: number[] = [];
    for (let r = 0; r < ENQUEUE_ROUNDS; r++) {
      const at = new Date();
      const t0 = process.hrtime.bigint();
      enqueue(sink, tenant, ENQUEUE_RECORDS, at);
      enqueueNs.push(Number(process.hrtime.bigint() - t0) / ENQUEUE_RECORDS);
      await sink.flush();
    }
    const flushUs: number[] = [];
    const stalls: number[] = [];
    for (let r = 0; r < FLUSH_ROUNDS; r++) {
      enqueue(sink, tenant, FLUSH_RECORDS, new Date());
      const t0 = performance.now();
      const { stallMs } = await longestStall(() => sink.flush());
      flushUs.push(((performance.now() - t0) * 1000) / FLUSH_RECORDS);
      stalls.push(stallMs);
    }
    const v = await trail.verify(tenant);
    if (!v.ok) throw new Error(`the bench chain does not verify: ${v.reason}`);
    return {
      engine,
      enqueueNsPerRecord: Math.round(median(enqueueNs)),
      flushUsPerRecord: Math.round(median(flushUs) * 10) / 10,
      longestSliceMs: Math.round(Math.max(...stalls) * 100) / 100,
      flushRecords: FLUSH_RECORDS,
    };
  } finally {
    await sink.close();
  }
}

async function main(): Promise<void> {
  initNative({ allowUnlocked: true });
  const key = SecureKey.generate(32);
  const hmac = (d: Uint8Array): Uint8Array => mac(key, 'HMAC-SHA256', d);
  const engines = (process.env.AUDIT_BENCH_ENGINES ?? 'pglite,postgres').split(',').filter((e): e is Engine => e === 'pglite' || e === 'postgres');
  const loadBefore = loadavg()[0];
  const results: EngineResult[] = [];
  for (const engine of engines) {
    if (engine === 'pglite') {
      const db = await openDb({});
      try {
        results.push(await benchEngine(engine, db, hmac));
      } finally {
        await db.close();
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
    process.stdout.write(`${r.engine}: enqueue ${String(r.enqueueNsPerRecord)} ns/record; flush ${String(r.flushUsPerRecord)} µs/record ` +
      `(${String(r.flushRecords)} records per flush); longest event-loop stretch during a flush ${String(r.longestSliceMs)} ms\n`);
  }
  const out = resultsPath('audit.json');
  await writeFile(out, JSON.stringify({
    bench: 'audit', quick: QUICK, cpus: cpus().length, loadavg: { before: loadBefore, after: loadavg()[0] },
    enqueueRecords: ENQUEUE_RECORDS, flushRecords: FLUSH_RECORDS, results,
  }, null, 2) + '\n');
  process.stdout.write(`results: ${out}\n`);
}

await main();
