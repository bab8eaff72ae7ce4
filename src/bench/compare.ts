/**
 * `openkcm bench compare` (issue 7 §3): in ONE run, on one machine, the same load generator
 * against three targets, each in its own process:
 *   - openkcm: our server (`openkcm serve` on a fresh data directory, durable LMDB vault);
 *   - pykmip:  PyKMIP 0.10's server (Debian python3-pykmip), with its SQLite store;
 *   - floor:   src/bench/floor-server.ts, a TLS echo that replays OUR server's response to
 *              the same request, so bytes on the wire are identical.
 * Same client code, same protocol version (KMIP 1.4 by default: PyKMIP has no 2.1), same
 * request sizes (the floor gets the very key identifier our server issued), same connection
 * counts. Runs are interleaved (rep 1 of every cell, then rep 2, ...), so a neighbour's load
 * spike on this shared machine hits all targets alike instead of one whole column.
 *
 * Output: a terminal summary with ratios, and OUT/compare.{json,md,svg}.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TRIM_SETTLE_MS } from '../appliance/idle-memory.js';
import { KmipClient } from '../client/client.js';
import type { KmipVersionString } from '../client/client.js';
import { CLIENT_PROTOCOL_VERSIONS } from '../client/client.js';
import { spawnFloorServer } from './floor-server.js';
import type { FloorChild } from './floor-server.js';
import { captureExchange, clientOptions, formatResult, prepareFixture, runLoad } from './load.js';
import type { BenchResult, BenchTls, ClientMode, Exchange } from './load.js';
import { startOpenKcmServer } from './openkcm-server.js';
import type { OpenKcmServer } from './openkcm-server.js';
import { BenchUsageError, PACINGS } from './options.js';
import type { BenchOp, BenchTarget, Pacing } from './options.js';
import { processTreePss } from './memory.js';
import { startPyKmipServer } from './pykmip.js';
import type { PyKmipServer } from './pykmip.js';
import { cellOf, markdownReport, ratioLines, ratiosFor, svgPlot, TARGET_NAMES } from './report.js';
import type { Cell, TargetName } from './report.js';

export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly op: BenchOp;
  readonly connections: number;
  readonly pipeline?: number;
  /** Batch items per request message (throughput counts items). */
  readonly batch?: number;
  /**
   * Load-generator client for this scenario on every target, overriding --client. Batches use `wire`: the floor
   * replays one captured response, whose Unique Batch Item IDs only a client that sends the captured IDs accepts.
   */
  readonly client?: ClientMode;
  /** Open loop, total ops/s. */
  readonly rate?: number;
  readonly targets: readonly TargetName[];
}

const ALL: readonly TargetName[] = ['openkcm', 'pykmip', 'floor'];
/**
 * PyKMIP serves about a hundred requests per second; an open loop at thousands per second
 * only measures how fast its queue grows, so the open-loop rows leave it out.
 */
const NO_PYKMIP: readonly TargetName[] = ['openkcm', 'floor'];

/** The loads of issue 7's target table. */
export const DEFAULT_SCENARIOS: readonly Scenario[] = [
  { id: 'get-c1', title: 'Get, 1 connection, closed loop', op: 'get', connections: 1, targets: ALL },
  { id: 'get-c16', title: 'Get, 16 connections, closed loop', op: 'get', connections: 16, targets: ALL },
  { id: 'get-open5k', title: 'Get, open loop 5,000/s over 16 connections', op: 'get', connections: 16, rate: 5000, targets: NO_PYKMIP },
  { id: 'get-open10k', title: 'Get, open loop 10,000/s over 16 connections', op: 'get', connections: 16, rate: 10_000, targets: NO_PYKMIP },
  { id: 'create-c1', title: 'Create, 1 connection, closed loop', op: 'create', connections: 1, targets: ALL },
  { id: 'create-c16', title: 'Create, 16 connections, closed loop', op: 'create', connections: 16, targets: ALL },
  { id: 'encrypt-b10-c16', title: 'Encrypt 64 B, batches of 10, 16 connections, closed loop', op: 'encrypt', connections: 16, batch: 10, client: 'wire', targets: ALL },
];

/** Small and fast: what the CI smoke test runs (it proves the plumbing and judges no number). */
export const QUICK_SCENARIOS: readonly Scenario[] = [
  { id: 'get-c1', title: 'Get, 1 connection, closed loop', op: 'get', connections: 1, targets: ALL },
  { id: 'get-open', title: 'Get, open loop 200/s over 2 connections', op: 'get', connections: 2, rate: 200, targets: NO_PYKMIP },
  { id: 'create-c2', title: 'Create, 2 connections, closed loop', op: 'create', connections: 2, targets: ALL },
];

export interface CompareOptions {
  readonly outDir: string;
  readonly durationS: number;
  readonly warmupS: number;
  readonly repeat: number;
  readonly kmipVersion: KmipVersionString;
  readonly scenarios: readonly Scenario[];
  /** Targets to include (a scenario's own list is intersected with it). */
  readonly targets: readonly TargetName[];
  /** Load-generator client for every target (src/bench/load.ts ClientMode). */
  readonly client: ClientMode;
  /** `openkcm serve --workers N` for our server; undefined = serve's default (one worker per CPU). */
  readonly workers?: number;
  /** Open-loop scenarios: how the generator waits for its arrivals (src/bench/pacer.ts); default thread. */
  readonly pacing?: Pacing;
  readonly log?: (line: string) => void;
}

export interface CompareReport {
  readonly meta: Readonly<Record<string, unknown>>;
  readonly scenarios: readonly Scenario[];
  readonly cells: readonly Cell[];
  readonly ratios: readonly ReturnType<typeof ratiosFor>[];
  readonly files: { json: string; markdown: string; svg: string };
}

export const COMPARE_USAGE = `usage: openkcm bench compare [--out DIR] [--duration S] [--warmup S] [--repeat N]
                             [--kmip-version V] [--scenarios ID,...] [--targets openkcm,pykmip,floor]
                             [--client full|wire] [--workers N] [--pacing thread|spin] [--quick]

Starts OpenKCM (openkcm serve, fresh data dir), PyKMIP's server (python3-pykmip) and a TLS floor
server (replays OpenKCM's response), runs the same loads against each, interleaved, and writes
DIR/compare.json, DIR/compare.md and DIR/compare.svg (latency vs throughput).

  --out DIR          output directory (default perf/results/compare)
  --duration S       measured seconds per run (default 5)
  --warmup S         warm-up seconds per run (default 1)
  --repeat N         runs per cell; the report shows medians (default 3)
  --kmip-version V   protocol version for all three (default 1.4; PyKMIP has no 2.1)
  --scenarios IDS    subset of: ${DEFAULT_SCENARIOS.map((s) => s.id).join(', ')}
  --targets LIST     subset of openkcm, pykmip, floor (default all)
  --client full|wire load-generator client for all targets (openkcm bench --help; default full)
  --workers N        openkcm serve --workers N (default: serve's default, one worker per CPU;
                     0 serves KMIP in the one process)
  --pacing P         open loop: spin (default) sends on time and keeps one core busy; thread sleeps
                     until each arrival in a helper thread, leaving the cores to the targets at the
                     cost of wake-up lag charged to every latency (see openkcm bench --help)
  --quick            the CI smoke set: ${QUICK_SCENARIOS.map((s) => s.id).join(', ')}`;

export function parseCompareArgs(argv: readonly string[]): CompareOptions & { help: boolean } {
  const v: Record<string, string> = {};
  let quick = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--help' || a === '-h') { help = true; continue; }
    if (a === '--quick') { quick = true; continue; }
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (!['--out', '--duration', '--warmup', '--repeat', '--kmip-version', '--scenarios', '--targets', '--client', '--workers', '--pacing'].includes(flag)) {
      throw new BenchUsageError(`unknown option ${a}`);
    }
    const val = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (val === undefined) throw new BenchUsageError(`${flag} needs a value`);
    v[flag] = val;
  }
  const num = (flag: string, dflt: number, min: number, max: number): number => {
    const t = v[flag];
    if (t === undefined) return dflt;
    const n = Number(t);
    if (!Number.isFinite(n) || n < min || n > max) throw new BenchUsageError(`${flag} must be a number from ${String(min)} to ${String(max)}`);
    return n;
  };
  const version = v['--kmip-version'] ?? '1.4';
  if (!(CLIENT_PROTOCOL_VERSIONS as readonly string[]).includes(version)) throw new BenchUsageError(`--kmip-version: unknown version ${version}`);
  const pool = quick ? QUICK_SCENARIOS : DEFAULT_SCENARIOS;
  let scenarios = pool;
  const ids = v['--scenarios'];
  if (ids !== undefined) {
    const want = ids.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const id of want) if (!pool.some((s) => s.id === id)) throw new BenchUsageError(`--scenarios: unknown scenario ${id} (known: ${pool.map((s) => s.id).join(', ')})`);
    scenarios = pool.filter((s) => want.includes(s.id));
  }
  let targets: TargetName[] = [...TARGET_NAMES];
  const tl = v['--targets'];
  if (tl !== undefined) {
    const want = tl.split(',').map((s) => s.trim());
    for (const t of want) if (!(TARGET_NAMES as readonly string[]).includes(t)) throw new BenchUsageError(`--targets: unknown target ${t}`);
    targets = TARGET_NAMES.filter((t) => want.includes(t));
  }
  const client = v['--client'] ?? 'full';
  if (client !== 'full' && client !== 'wire') throw new BenchUsageError(`--client must be full or wire, got ${client}`);
  const pacing = v['--pacing'] ?? 'spin';
  if (!(PACINGS as readonly string[]).includes(pacing)) throw new BenchUsageError(`--pacing must be ${PACINGS.join(' or ')}, got ${pacing}`);
  if (targets.includes('floor') && !targets.includes('openkcm')) throw new BenchUsageError('--targets: the floor replays OpenKCM\'s responses, so it needs openkcm too');
  return {
    outDir: v['--out'] ?? path.join('perf', 'results', 'compare'),
    durationS: num('--duration', 5, 0.05, 30),
    warmupS: num('--warmup', 1, 0, 30),
    repeat: Math.round(num('--repeat', 3, 1, 20)),
    kmipVersion: version as KmipVersionString,
    scenarios,
    targets,
    client,
    ...(v['--workers'] === undefined ? {} : { workers: Math.round(num('--workers', 0, 0, 256)) }),
    pacing: pacing as Pacing,
    help,
  };
}

/** Where a target listens, and its pid for CPU per operation (load.ts LoadOptions.serverPid). */
interface Endpoint { readonly target: BenchTarget; readonly tls: BenchTls; readonly pid: number | undefined }

/** After the servers' first idle trim (TRIM_SETTLE_MS from start), before measuring idle memory. */
const IDLE_MEASURE_MARGIN_MS = 3_000;

/** Runs the comparison; always stops the servers it started. */
export async function runCompare(o: CompareOptions): Promise<CompareReport> {
  const log = o.log ?? ((l: string): void => { process.stdout.write(l + '\n'); });
  const wanted = new Set(o.scenarios.flatMap((s) => s.targets.filter((t) => o.targets.includes(t))));
  let ours: OpenKcmServer | undefined;
  let py: PyKmipServer | undefined;
  const floors = new Map<string, { child: FloorChild; exchange: Exchange }>();
  const loadStart = os.loadavg();
  try {
    ours = await startOpenKcmServer(o.workers === undefined ? {} : { workers: o.workers });
    const startedAt = Date.now();
    log(`openkcm serve: pid ${String(ours.pid)}, port ${String(ours.port)}, workers ${o.workers === undefined ? `default (${String(os.availableParallelism())})` : String(o.workers)}`);
    const oursEp: Endpoint = { target: { host: ours.host, port: ours.port }, tls: { ca: ours.ca, cert: ours.cert, key: ours.key }, pid: ours.pid };
    if (wanted.has('pykmip')) {
      py = await startPyKmipServer();
      log(`pykmip-server: pid ${String(py.pid)}, port ${String(py.port)}`);
    }
    const pyEp: Endpoint | undefined = py === undefined ? undefined
      : { target: { host: py.host, port: py.port }, tls: { ca: py.ca, cert: py.cert, key: py.key }, pid: py.pid };
    if (wanted.has('floor')) {
      // One floor per op and batch size, each replaying our server's answer to that very request.
      for (const s of o.scenarios.filter((x) => x.targets.includes('floor'))) {
        const key = floorKey(s);
        if (floors.has(key)) continue;
        const base = { ...oursEp, kmipVersion: o.kmipVersion, op: s.op, connections: 1, durationS: 0, warmupS: 0, ...(s.batch === undefined ? {} : { batch: s.batch }) };
        const client = await KmipClient.connect(clientOptions(base));
        let exchange: Exchange;
        try {
          exchange = await captureExchange(base, await prepareFixture(client, s.op), client.protocolVersion);
        } finally {
          await client.close();
        }
        const child = await spawnFloorServer({ cert: await serverCert(ours, 'crt'), key: await serverCert(ours, 'key'), ca: ours.ca, response: exchange.response });
        floors.set(key, { child, exchange });
        log(`floor for ${key}: pid ${String(child.pid)}, port ${String(child.port)}, replays ${String(exchange.response.length)}-byte response to ${String(exchange.request.length)}-byte request`);
      }
    }
    // Idle memory before any load: long enough after start-up for every process's first trim (idle-memory.ts).
    const idleAt = startedAt + TRIM_SETTLE_MS + IDLE_MEASURE_MARGIN_MS;
    if (Date.now() < idleAt) await new Promise((r) => { setTimeout(r, idleAt - Date.now()); });
    const idle = {
      openkcm: ours.pid === undefined ? undefined : processTreePss(ours.pid),
      pykmip: py?.pid === undefined ? undefined : processTreePss(py.pid),
    };
    const idlePssMiB = {
      ...(idle.openkcm === undefined ? {} : { openkcm: Math.round(idle.openkcm.totalKiB / 1024) }),
      ...(idle.pykmip === undefined ? {} : { pykmip: Math.round(idle.pykmip.totalKiB / 1024) }),
    };
    if (idle.openkcm !== undefined) log(`idle memory (PSS) before load: openkcm ${String(idlePssMiB.openkcm)} MiB (${idle.openkcm.perProcessKiB.map((k) => String(Math.round(k / 1024))).join(' + ')})${idlePssMiB.pykmip === undefined ? '' : `, pykmip ${String(idlePssMiB.pykmip)} MiB`}`);
    const runs = new Map<string, BenchResult[]>();
    for (let rep = 1; rep <= o.repeat; rep++) {
      for (const s of o.scenarios) {
        for (const t of s.targets) {
          if (!o.targets.includes(t)) continue;
          let ep: Endpoint | undefined;
          let fixture;
          if (t === 'openkcm') ep = oursEp;
          else if (t === 'pykmip') ep = pyEp;
          else {
            const f = floors.get(floorKey(s));
            if (f !== undefined) {
              ep = { target: { host: f.child.host, port: f.child.port }, tls: oursEp.tls, pid: f.child.pid };
              fixture = f.exchange.fixture;
            }
          }
          if (ep === undefined) continue;
          const r = await runLoad({
            target: ep.target, tls: ep.tls, serverPid: ep.pid, label: t, kmipVersion: o.kmipVersion, op: s.op, connections: s.connections, pipeline: s.pipeline,
            rate: s.rate, ...(s.batch === undefined ? {} : { batch: s.batch }), durationS: o.durationS, warmupS: o.warmupS, fixture, client: s.client ?? o.client, pacing: o.pacing,
          });
          log(`[${String(rep)}/${String(o.repeat)}] ${formatResult(r)}`);
          const key = `${s.id}\u0000${t}`;
          runs.set(key, [...(runs.get(key) ?? []), r]);
        }
      }
    }
    const cells: Cell[] = [];
    for (const s of o.scenarios) {
      for (const t of TARGET_NAMES) {
        const rs = runs.get(`${s.id}\u0000${t}`);
        if (rs !== undefined) cells.push(cellOf(s.id, t, rs));
      }
    }
    const ratios = o.scenarios.map((s) => ratiosFor(s.id, cells));
    log('');
    for (const line of ratioLines(o.scenarios, cells)) log(line);
    await mkdir(o.outDir, { recursive: true });
    const files = {
      json: path.join(o.outDir, 'compare.json'),
      markdown: path.join(o.outDir, 'compare.md'),
      svg: path.join(o.outDir, 'compare.svg'),
    };
    const meta = {
      date: new Date().toISOString(),
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.cpus().length,
      kmip_version: o.kmipVersion,
      client: o.client,
      pacing: o.pacing ?? 'spin',
      openkcm_workers: o.workers ?? os.availableParallelism(),
      duration_s: o.durationS,
      warmup_s: o.warmupS,
      repeat: o.repeat,
      loadavg_start: loadStart.map((v) => Math.round(v * 100) / 100),
      loadavg_end: os.loadavg().map((v) => Math.round(v * 100) / 100),
      idle_pss_mib: idlePssMiB,
      method: 'same client (src/bench/load.ts) against each target in its own process; runs interleaved; medians per figure',
    };
    await writeFile(files.json, JSON.stringify({ meta, scenarios: o.scenarios, cells, ratios }, null, 2) + '\n');
    await writeFile(files.markdown, `# openkcm bench compare, ${meta.date}\n\nKMIP ${o.kmipVersion}; client ${o.client}; openkcm serve --workers ${String(meta.openkcm_workers)}; ${String(o.durationS)} s measured after ${String(o.warmupS)} s warm-up per run; load average ${meta.loadavg_start.join(' ')} → ${meta.loadavg_end.join(' ')}.${idlePssMiB.openkcm === undefined ? '' : ` Idle memory before load (PSS of the process tree): openkcm ${String(idlePssMiB.openkcm)} MiB${idlePssMiB.pykmip === undefined ? '' : `, PyKMIP ${String(idlePssMiB.pykmip)} MiB`}.`}\n\n${markdownReport(o.scenarios, cells, o.repeat)}`);
    await writeFile(files.svg, svgPlot(o.scenarios, cells, `KMIP latency vs throughput (${String(meta.cores)} cores, ${meta.date.slice(0, 10)})`));
    log(`wrote ${files.json}, ${files.markdown}, ${files.svg}`);
    return { meta, scenarios: o.scenarios, cells, ratios, files };
  } finally {
    for (const f of floors.values()) await f.child.close();
    await py?.stop();
    await ours?.stop();
  }
}

function floorKey(s: Scenario): string {
  return s.batch === undefined || s.batch === 1 ? s.op : `${s.op}×${String(s.batch)}`;
}

/** The floor presents our server's own certificate, so the client verifies the same chain. */
function serverCert(s: OpenKcmServer, ext: 'crt' | 'key'): Promise<string> {
  return readFile(path.join(s.dataDir, 'pki', `server.${ext}`), 'utf8');
}
