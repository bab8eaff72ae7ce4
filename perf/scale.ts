/**
 * Scale runs of issue 7 §5, against `openkcm serve` in a child process:
 *   1. Get latency with 1k, 100k and 1M objects in the vault (it should stay flat);
 *   2. server RSS with 1k and 10k idle mutual-TLS connections;
 *   3. full-handshake rate and resumed-handshake rate (TLS 1.3 and TLS 1.2).
 *
 *   npx tsc -p . && node dist/perf/scale.js
 *   SCALE_PARTS=get,rss,handshake   which parts (default all)
 *   SCALE_SIZES=1000,100000,1000000 vault sizes for part 1
 *   SCALE_CONNS=1000,10000          idle connection counts for part 2 (needs `ulimit -n` ≥ count + slack)
 *   SCALE_REPEAT=3                  runs per figure; medians are reported
 *   SCALE_DURATION=5                measured seconds per load or handshake run
" *   SCALE_OUT=DIR                   where scale.json goes (default perf/results)
 *   SCALE_GET_WARMUP=10             seconds of unmeasured Gets (16 connections) after each server
 *                                   start, before the measured runs (0 = none, as in the 2026-11-28
 *                                   campaign, whose first runs after a restart were 5-10x slower)
 * Results: stdout and scale.json in SCALE_OUT (default perf/results).
 *
 * Filling the vault: KMIP Create at ~1k/s would take 20 minutes for 1M objects, so the objects
 * are written straight through the Vault API (as perf/vault.bench.ts does), with the server
 * stopped: one key is created over KMIP, read back from the vault (its attributes and opened
 * material, i.e. exactly what the server stores), and cloned under fresh UIDs with putMany.
 * All clones share the template's key bytes; a Get does not look at them, so the lookups,
 * unsealing and encoding are the same as for distinct keys. The Gets then pick uniformly at
 * random among 10,000 UIDs sampled over the whole vault (a reservoir), so the reads touch
 * B-tree pages all over the file instead of one hot key.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { KmipClient } from '../src/client/client.js';
import { median } from '../src/bench/report.js';
import { clientOptions, runLoad } from '../src/bench/load.js';
import type { BenchResult, BenchTls } from '../src/bench/load.js';
import type { BenchTarget } from '../src/bench/options.js';
import { spawnFloorServer } from '../src/bench/floor-server.js';
import { BENCH_TENANT, startOpenKcmServer } from '../src/bench/openkcm-server.js';
import type { OpenKcmServer } from '../src/bench/openkcm-server.js';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../src/kmip/registry.generated.js';
import { DevKekProvider } from '../src/vault/kek.js';
import type { NewVaultObject } from '../src/vault/store.js';
import { Vault } from '../src/vault/vault.js';

const env = (k: string, d: string): string => process.env[k] ?? d;
const PARTS = new Set(env('SCALE_PARTS', 'get,rss,handshake').split(','));
const SIZES = env('SCALE_SIZES', '1000,100000,1000000').split(',').map(Number);
const CONNS = env('SCALE_CONNS', '1000,10000').split(',').map(Number);
const REPEAT = Number(env('SCALE_REPEAT', '3'));
const DURATION = Number(env('SCALE_DURATION', '5'));
const WARMUP = 1;
/**
 * A restarted server serves its first few thousand Gets slowly (JIT warm-up and first touches
 * of the memory-mapped vault: docs/performance.md, "Scale runs"); this pass keeps that cold
 * start out of the measured runs.
 */
const GET_WARMUP_S = Number(env('SCALE_GET_WARMUP', '10'));
/** Records per putMany (the vault's MAX_PUT_MANY_OBJECTS is above) and putMany calls per event turn (one durable commit). */
const FILL_CHUNK = 250;
const FILL_TURN = 20 * FILL_CHUNK;
const SAMPLE = 10_000;
/** Concurrent handshakes while opening idle connections or measuring handshake rates. */
const HANDSHAKE_CONCURRENCY = 8;

const log = (s: string): void => { process.stdout.write(s + '\n'); };
const load = (): number[] => os.loadavg().map((v) => Math.round(v * 100) / 100);
const r3 = (v: number): number => Math.round(v * 1000) / 1000;

function rssKiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

function endpoint(s: OpenKcmServer): { target: BenchTarget; tls: BenchTls } {
  return { target: { host: s.host, port: s.port }, tls: { ca: s.ca, cert: s.cert, key: s.key } };
}

// ---- 1. Get vs vault size -----------------------------------------------------------------------

interface GetScale { objects: number; fillSeconds: number; c1: Summary; c16: Summary; runs: BenchResult[] }
interface Summary { throughput_ops_s: number; p50: number; p99: number; p999: number; errors: number }

function summarise(rs: readonly BenchResult[]): Summary {
  return {
    throughput_ops_s: Math.round(median(rs.map((r) => r.throughput_ops_s))),
    p50: r3(median(rs.map((r) => r.latency_ms.p50))),
    p99: r3(median(rs.map((r) => r.latency_ms.p99))),
    p999: r3(median(rs.map((r) => r.latency_ms.p999))),
    errors: rs.reduce((s, r) => s + r.errors, 0),
  };
}

async function getScale(n: number): Promise<GetScale> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `openkcm-scale-${String(n)}-`));
  try {
    // The fill below writes clones through the Vault API, outside the server, so the server seals with the
    // development KEK file (vault.kek "dev"), which this process can open too; under the key hierarchy (the default)
    // only the running server holds the tenant's L3. The Get path differs only in which native key opens the envelope.
    const serverOpts = { dataDir, extraConfig: { vault: { kek: 'dev' } } };
    let srv = await startOpenKcmServer(serverOpts);
    const client = await KmipClient.connect(clientOptions({ ...endpoint(srv), kmipVersion: '2.1' }));
    const templateUid = await client.createSymmetricKey({
      algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt,
    });
    await client.close();
    await srv.stop();

    const vault = await Vault.open({ path: path.join(dataDir, 'vault'), kek: DevKekProvider.open(path.join(dataDir, 'kek.key')), mapSize: 4 * 1024 ** 3 });
    const sample: string[] = [templateUid];
    let fillSeconds = 0;
    try {
      const t = vault.get(BENCH_TENANT, templateUid);
      if (t === undefined) throw new Error('template key not found in the vault');
      const material = await vault.openMaterial(t);
      const clone: NewVaultObject = { tenant: BENCH_TENANT, objectType: t.objectType, state: t.state, attributes: t.attributes, ...(material === undefined ? {} : { material }) };
      let seen = 1;
      const t0 = performance.now();
      for (let done = 1; done < n;) {
        const turn = Math.min(FILL_TURN, n - done);
        const calls = [];
        for (let c = 0; c < turn; c += FILL_CHUNK) calls.push(vault.putMany(Array.from({ length: Math.min(FILL_CHUNK, turn - c) }, () => clone)));
        for (const rec of (await Promise.all(calls)).flat()) {
          seen++;
          if (sample.length < SAMPLE) sample.push(rec.uid);
          else {
            const j = randomInt(seen);
            if (j < SAMPLE) sample[j] = rec.uid;
          }
        }
        done += turn;
        if (n >= 100_000 && done % 100_000 < FILL_TURN) process.stdout.write(`  filled ${String(done)}/${String(n)}\r`);
      }
      fillSeconds = (performance.now() - t0) / 1000;
      material?.fill(0);
    } finally {
      await vault.close();
    }
    log(`vault of ${n.toLocaleString('en')} objects filled in ${fillSeconds.toFixed(1)} s`);

    srv = await startOpenKcmServer(serverOpts);
    const runs: BenchResult[] = [];
    try {
      if (GET_WARMUP_S > 0) {
        await runLoad({ ...endpoint(srv), kmipVersion: '2.1', op: 'get', connections: 16, durationS: GET_WARMUP_S, warmupS: 0, uids: sample, label: 'warm-up' });
      }
      const c1: BenchResult[] = [];
      const c16: BenchResult[] = [];
      for (let rep = 0; rep < REPEAT; rep++) {
        for (const [conns, into] of [[1, c1], [16, c16]] as const) {
          const r = await runLoad({ ...endpoint(srv), kmipVersion: '2.1', op: 'get', connections: conns, durationS: DURATION, warmupS: WARMUP, uids: sample, label: `get@${String(n)}` });
          into.push(r);
          runs.push(r);
          log(`  ${String(n)} objects, ${String(conns)} conn: ${r.throughput_ops_s.toLocaleString('en')} ops/s p50 ${String(r.latency_ms.p50)} p99 ${String(r.latency_ms.p99)} p99.9 ${String(r.latency_ms.p999)} ms, ${String(r.errors)} errors, load ${r.loadavg_before.join(' ')}`);
        }
      }
      return { objects: n, fillSeconds: r3(fillSeconds), c1: summarise(c1), c16: summarise(c16), runs };
    } finally {
      await srv.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---- 2. RSS with idle connections --------------------------------------------------------------

/**
 * One secure context per TLS version, made once: passing PEM strings to every tls.connect
 * would parse the CA, certificate and key again per connection, and the measured rate would be
 * the client's PEM parsing, not the server's handshake.
 */
const contexts = new Map<string, tls.SecureContext>();
function tlsOpts(s: OpenKcmServer, version: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): tls.ConnectionOptions {
  const key = `${String(s.port)}/${version}`;
  let secureContext = contexts.get(key);
  if (secureContext === undefined) {
    secureContext = tls.createSecureContext({ ca: s.ca, cert: s.cert, key: s.key, minVersion: version, maxVersion: version });
    contexts.set(key, secureContext);
  }
  return { host: s.host, port: s.port, secureContext, minVersion: version, maxVersion: version, checkServerIdentity: () => undefined };
}

function handshake(opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect(opts);
    sock.once('secureConnect', () => { sock.off('error', reject); resolve(sock); });
    sock.once('error', reject);
  });
}

interface RssRun { connections: number; baseKiB: number; loadedKiB: number; perConnectionKiB: number; openSeconds: number }


async function idleRss(n: number): Promise<RssRun> {
  const srv = await startOpenKcmServer({ limits: { maxConnections: Math.max(n + 100, 1024) } });
  const sockets: tls.TLSSocket[] = [];
  try {
    // Let start-up garbage settle before the baseline.
    await new Promise((r) => setTimeout(r, 1500));
    const baseKiB = rssKiB(srv.pid);
    const t0 = performance.now();
    let next = 0;
    let failures = 0;
    await Promise.all(Array.from({ length: HANDSHAKE_CONCURRENCY }, async () => {
      while (next < n) {
        next++;
        try {
          const s = await handshake(tlsOpts(srv));
          s.on('error', () => undefined);
          sockets.push(s);
        } catch (e) {
          // A reset handshake is retried; too many mean the server refuses, which is a result too.
          if (++failures > n / 10) throw e;
          next--;
        }
      }
    }));
    const openSeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    const loadedKiB = rssKiB(srv.pid);
    return { connections: n, baseKiB, loadedKiB, perConnectionKiB: r3((loadedKiB - baseKiB) / n), openSeconds: r3(openSeconds) };
  } finally {
    for (const s of sockets) s.destroy();
    await srv.stop();
  }
}

// ---- 3. handshake rates ------------------------------------------------------------------------------

interface HandshakeRun { tls: string; mode: 'full' | 'resumed'; perSecond: number; reusedFraction: number; handshakes: number }

async function handshakeRate(srv: OpenKcmServer, version: 'TLSv1.2' | 'TLSv1.3', resumed: boolean): Promise<HandshakeRun> {
  const base = tlsOpts(srv, version);
  let session: Buffer | undefined;
  if (resumed) {
    // TLS 1.3 tickets arrive after the handshake (NewSessionTicket); TLS 1.2 sessions with it.
    session = await new Promise<Buffer>((resolve, reject) => {
      const s = tls.connect(base);
      s.once('session', (sess: Buffer) => { resolve(sess); setTimeout(() => s.destroy(), 50); });
      s.once('error', reject);
      setTimeout(() => { reject(new Error(`no ${version} session ticket/id from the server within 3 s`)); s.destroy(); }, 3000);
    }).catch((e: unknown) => { log(`  ${(e as Error).message}`); return undefined; });
  }
  let count = 0;
  let reused = 0;
  const end = performance.now() + DURATION * 1000;
  await Promise.all(Array.from({ length: HANDSHAKE_CONCURRENCY }, async () => {
    while (performance.now() < end) {
      const s = await handshake(session === undefined ? base : { ...base, session });
      count++;
      if (s.isSessionReused()) reused++;
      if (resumed) s.once('session', (sess: Buffer) => { session = sess; });
      // TLS 1.3: give the ticket a moment to arrive before closing when we want the next one.
      s.end();
      s.destroy();
    }
  }));
  return { tls: version, mode: resumed ? 'resumed' : 'full', perSecond: Math.round(count / DURATION), reusedFraction: r3(count === 0 ? 0 : reused / count), handshakes: count };
}

// ---- main --------------------------------------------------------------------------------------

const out: Record<string, unknown> = {
  date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length,
  repeat: REPEAT, duration_s: DURATION, get_warmup_s: GET_WARMUP_S, loadavg_start: load(),
};
if (PARTS.has('get')) {
  const results: GetScale[] = [];
  for (const n of SIZES) results.push(await getScale(n));
  out.get = results.map(({ runs, ...rest }) => ({ ...rest, loadavg: runs.map((r) => r.loadavg_before[0]) }));
  for (const r of results) log(`GET ${r.objects.toLocaleString('en')} objects: 1 conn p50 ${String(r.c1.p50)} p99 ${String(r.c1.p99)} (${String(r.c1.throughput_ops_s)}/s); 16 conns p50 ${String(r.c16.p50)} p99 ${String(r.c16.p99)} (${String(r.c16.throughput_ops_s)}/s)`);
}
if (PARTS.has('rss')) {
  const rows = [];
  for (const n of CONNS) {
    const runs: RssRun[] = [];
    // Opening 10k connections takes about a minute on this machine (~180 full handshakes/s, see
    // part 3), so counts above 2,000 are measured once unless SCALE_RSS_REPEAT says otherwise.
    const reps = n > 2000 ? Number(env('SCALE_RSS_REPEAT', '1')) : REPEAT;
    for (let rep = 0; rep < reps; rep++) {
      const r = await idleRss(n);
      runs.push(r);
      log(`  ${String(n)} idle connections: RSS ${String(r.baseKiB)} → ${String(r.loadedKiB)} KiB (${String(r.perConnectionKiB)} KiB/conn), opened in ${String(r.openSeconds)} s`);
    }
    rows.push({
      connections: n,
      baseMiB: r3(median(runs.map((r) => r.baseKiB)) / 1024),
      loadedMiB: r3(median(runs.map((r) => r.loadedKiB)) / 1024),
      perConnectionKiB: r3(median(runs.map((r) => r.perConnectionKiB))),
      runs,
    });
  }
  out.rss = rows;
  for (const r of rows) log(`RSS ${String(r.connections)} idle mTLS connections: ${String(r.loadedMiB)} MiB (baseline ${String(r.baseMiB)} MiB), ${String(r.perConnectionKiB)} KiB per connection`);
}
if (PARTS.has('handshake')) {
  // The floor server (plain Node TLS, same certificates) is measured alongside: it shows what
  // Node's TLS and this client cost before any KMIP server code runs.
  const srv = await startOpenKcmServer();
  const floor = await spawnFloorServer({
    cert: readFileSync(path.join(srv.dataDir, 'pki', 'server.crt'), 'utf8'), key: readFileSync(path.join(srv.dataDir, 'pki', 'server.key'), 'utf8'),
    ca: srv.ca, response: Buffer.alloc(0),
  });
  const floorSrv: OpenKcmServer = { ...srv, host: floor.host, port: floor.port };
  const rows = [];
  try {
    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      for (const resumed of [false, true]) {
        for (const [label, target] of [['openkcm', srv], ['floor', floorSrv]] as const) {
          const runs: HandshakeRun[] = [];
          for (let rep = 0; rep < REPEAT; rep++) runs.push(await handshakeRate(target, version, resumed));
          const row = { target: label, tls: version, mode: resumed ? 'resumed' : 'full', perSecond: Math.round(median(runs.map((r) => r.perSecond))), reusedFraction: r3(median(runs.map((r) => r.reusedFraction))), runs };
          rows.push(row);
          log(`HANDSHAKE ${label} ${version} ${row.mode}: ${String(row.perSecond)}/s (sessions actually resumed: ${String(Math.round(row.reusedFraction * 100))}%), load ${load().join(' ')}`);
        }
      }
    }
  } finally {
    await floor.close();
    await srv.stop();
  }
  out.handshake = rows;
}
out.loadavg_end = load();
const outDir = process.env.SCALE_OUT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'perf', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'scale.json'), JSON.stringify(out, null, 2) + '\n');
log(`wrote ${path.join(outDir, 'scale.json')}`);
