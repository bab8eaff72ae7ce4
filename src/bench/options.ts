/**
 * Command-line options of `openkcm bench` and the SLO expression of `--slo` (issue 7 §2, §4).
 * Pure functions: no I/O, so every rule is unit-tested (test/unit/bench-options.test.ts).
 */
import type { KmipVersionString } from '../client/client.js';
import { CLIENT_PROTOCOL_VERSIONS } from '../client/client.js';
import type { LatencySummary } from './histogram.js';

export type BenchOp = 'get' | 'create' | 'encrypt' | 'locate' | 'mix';
export const BENCH_OPS: readonly BenchOp[] = ['get', 'create', 'encrypt', 'locate', 'mix'];

/**
 * Bounds on the load shape. Each stops a typo from turning the generator into a denial of
 * service against the target or against this machine (fds, memory of pending promises).
 */
export const BENCH_LIMITS = Object.freeze({
  /** Most connections; each is a TLS socket and a file descriptor on both sides. */
  maxConnections: 20_000,
  /** Most requests in flight per connection (the server's own cap, maxInFlightPerConnection, is 64 by default). */
  maxPipeline: 1024,
  /** Most batch items per message: the server's Batch Count limit is far above, the client's memory is not. */
  maxBatch: 1000,
  /** Longest run, seconds. */
  maxDurationS: 3600,
  /** Highest open-loop arrival rate, ops/s. */
  maxRate: 10_000_000,
});

/**
 * Open loop without --pipeline: the server's default maxInFlightPerConnection. Arrivals do not
 * wait for earlier answers (that is the point of an open loop), up to what the server reads.
 */
export const OPEN_LOOP_DEFAULT_PIPELINE = 64;

export interface BenchTarget { readonly host: string; readonly port: number }

/** How the open loop waits for its next arrival: a pacer thread (src/bench/pacer.ts) or setImmediate polling. */
export type Pacing = 'thread' | 'spin';
export const PACINGS: readonly Pacing[] = ['thread', 'spin'];

export interface BenchArgs {
  readonly target: BenchTarget;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** Fixed protocol version; undefined = negotiate with Discover Versions. */
  readonly kmipVersion: KmipVersionString | undefined;
  readonly op: BenchOp;
  readonly connections: number;
  /**
   * Requests in flight per connection (closed loop: workers per connection; open loop: cap).
   * undefined = the default of the load model (closed 1, open {@link OPEN_LOOP_DEFAULT_PIPELINE}).
   */
  readonly pipeline: number | undefined;
  /** Open loop: total arrival rate across all connections, ops/s. undefined = closed loop. */
  readonly rate: number | undefined;
  readonly durationS: number;
  readonly warmupS: number;
  /** Batch items per request message. */
  readonly batch: number;
  readonly json: string | undefined;
  readonly slo: readonly SloClause[];
  /** Servername checked against the server certificate (default: none, the IP SAN is checked). */
  readonly servername: string | undefined;
  /** Open loop: how the generator waits for its arrivals (src/bench/pacer.ts). */
  readonly pacing: Pacing;
  /** full (KmipClient), wire (pre-encoded frames on our transport) or https (the same frames as POST /kmip): src/bench/load.ts ClientMode. */
  readonly client: 'full' | 'wire' | 'https';
  /** --client https: the KMIP-over-HTTPS port of the target host (setup still runs over --target). */
  readonly httpsPort: number | undefined;
  readonly quiet: boolean;
}

export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

export function parseTarget(text: string): BenchTarget {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (m === null || host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BenchUsageError(`--target must be HOST:PORT, got ${JSON.stringify(text)}`);
  }
  return { host, port };
}

function intIn(flag: string, text: string, min: number, max: number): number {
  const v = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new BenchUsageError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return v;
}

function numberIn(flag: string, text: string, min: number, max: number): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw new BenchUsageError(`${flag} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return v;
}

// ---- SLO ----------------------------------------------------------------------------------

export type SloMetric = 'p50' | 'p90' | 'p99' | 'p999' | 'max' | 'mean';
const SLO_METRICS: readonly SloMetric[] = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'];

export interface SloClause {
  readonly metric: SloMetric;
  readonly comparator: '<' | '<=';
  readonly limitMs: number;
  /** As written, for the report. */
  readonly text: string;
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, µs: 0.001, ms: 1, s: 1000 };

/**
 * `p99<1ms,p999<10ms`: comma-separated clauses METRIC(<|<=)NUMBER UNIT, metric one of
 * p50 p90 p99 p999 max mean, unit us|µs|ms|s. Upper bounds only: an SLO on latency is a ceiling.
 */
export function parseSlo(text: string): SloClause[] {
  const out: SloClause[] = [];
  for (const raw of text.split(',')) {
    const clause = raw.trim();
    if (clause === '') continue;
    const m = /^(p50|p90|p99|p999|max|mean)\s*(<=|<)\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s)$/.exec(clause);
    if (m === null) {
      throw new BenchUsageError(`--slo clause ${JSON.stringify(clause)} must look like p99<1ms (metric ${SLO_METRICS.join('|')}, < or <=, unit us|ms|s)`);
    }
    const [, metric, comparator, value, unit] = m;
    out.push({
      metric: metric as SloMetric,
      comparator: comparator as '<' | '<=',
      limitMs: Number(value) * (UNIT_MS[unit ?? 'ms'] ?? 1),
      text: clause,
    });
  }
  if (out.length === 0) throw new BenchUsageError('--slo needs at least one clause, e.g. p99<1ms');
  return out;
}

export interface SloVerdict {
  readonly clause: string;
  readonly observedMs: number | undefined;
  readonly pass: boolean;
  readonly note?: string;
}

/**
 * One verdict per clause, plus an implicit `errors=0`: latency percentiles are computed over
 * successful operations only, so a run where requests fail could otherwise pass its SLO by
 * failing fast. A run with no successful operation fails every clause.
 */
export function evaluateSlo(clauses: readonly SloClause[], latency: LatencySummary, errors: number): SloVerdict[] {
  const verdicts: SloVerdict[] = clauses.map((c) => {
    if (latency.count === 0) return { clause: c.text, observedMs: undefined, pass: false, note: 'no successful operation' };
    const observed = latency[c.metric];
    const pass = c.comparator === '<' ? observed < c.limitMs : observed <= c.limitMs;
    return { clause: c.text, observedMs: observed, pass };
  });
  verdicts.push({ clause: 'errors=0', observedMs: undefined, pass: errors === 0, note: `${errors} errors` });
  return verdicts;
}

// ---- argv --------------------------------------------------------------------------------------

export const BENCH_USAGE = `usage: openkcm bench --target HOST:PORT --ca FILE --cert FILE --key FILE
                     --op get|create|encrypt|locate|mix --connections N --duration S
                     [--kmip-version V] [--pipeline D] [--rate R] [--warmup S] [--batch B]
                     [--json FILE] [--slo p99<1ms,p999<10ms] [--client full|wire|https]
                     [--https-port P] [--servername NAME] [--pacing thread|spin] [--quiet]
       openkcm bench compare [options]     (run \`openkcm bench compare --help\`)

  --target HOST:PORT   KMIP server (mutual TLS)
  --ca/--cert/--key    CA of the server certificate; client certificate and key (PEM files)
  --kmip-version V     1.0 .. 2.1 (default: negotiate with Discover Versions)
  --op                 get: Get of one pre-created AES-256 key; create: Create AES-256 (durable);
                       encrypt: Encrypt 64 bytes (AES-CBC-PKCS5, random IV) with a pre-created key;
                       locate: Locate by the Name of a pre-created key;
                       mix: 70% get, 20% locate, 10% create
  --connections N      TLS connections (TCP_NODELAY on)
  --pipeline D         requests in flight per connection. Closed loop: D workers per connection
                       (default 1); open loop: at most D in flight (default 64), later arrivals
                       queue, and their wait counts in their latency
  --rate R             open loop: R operations/s in total, spread round-robin over the connections,
                       latency measured from each request's INTENDED send time (coordinated-omission
                       correction). Without --rate: closed loop
  --duration S         measured seconds (after the warm-up)
  --warmup S           unmeasured seconds first (default 1)
  --batch B            batch items per request message (default 1); throughput counts items
  --json FILE          write the result as JSON
  --client full|wire   full (default): every request through KmipClient (encode, decode, match);
                       wire: our TLS transport with requests encoded once and answers only checked
                       for Result Status, so the generator takes less CPU from the server;
                       https: the same pre-encoded frames as POST /kmip (KMIP over HTTPS, TTLV body)
                       on --https-port, one keep-alive HTTPS connection per --connections (HTTP/1.1
                       carries one request at a time per connection: --pipeline workers queue on it)
  --https-port P       with --client https: the server's KMIP-over-HTTPS port (kmip.https.listen)
  --pacing P           open loop: spin (default) polls with setImmediate near each arrival and keeps one
                       core busy, but sends on time; thread sleeps until each arrival in a helper thread,
                       so the generator leaves the cores to the server, at ~0.1-0.3 ms of wake-up lag that
                       is charged to every latency (docs/performance.md "Open-loop tail")
  --slo CLAUSES        e.g. p99<1ms,p999<10ms: pass/fail per clause (plus errors=0); exit 1 on a violation

Exit status: 0 done (and every SLO clause passed), 1 SLO violated, 2 usage error.`;

/** Parses argv of `openkcm bench` (files are read by the caller). Throws BenchUsageError. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs & { help: boolean } {
  const p: Record<string, string> = {};
  let help = false;
  let quiet = false;
  const valued = new Set(['--target', '--ca', '--cert', '--key', '--kmip-version', '--op', '--connections', '--pipeline',
    '--rate', '--duration', '--warmup', '--batch', '--json', '--slo', '--servername', '--client', '--https-port', '--pacing']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (flag === '--help' || flag === '-h') { help = true; continue; }
    if (flag === '--quiet') { quiet = true; continue; }
    if (!valued.has(flag)) throw new BenchUsageError(`unknown option ${a}`);
    let v: string | undefined;
    if (a.startsWith('--') && eq > 0) v = a.slice(eq + 1);
    else {
      v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new BenchUsageError(`${flag} needs a value`);
    }
    if (p[flag] !== undefined) throw new BenchUsageError(`${flag} given twice`);
    p[flag] = v;
  }
  const empty = {
    target: { host: '', port: 0 }, ca: '', cert: '', key: '', kmipVersion: undefined, op: 'get' as BenchOp, connections: 1,
    pipeline: undefined, rate: undefined, durationS: 0, warmupS: 0, batch: 1, json: undefined, slo: [], servername: undefined, client: 'full' as const, httpsPort: undefined, pacing: 'spin' as Pacing, quiet, help,
  };
  if (help) return empty;
  const need = (flag: string): string => {
    const v = p[flag];
    if (v === undefined) throw new BenchUsageError(`${flag} is required`);
    return v;
  };
  const opText = need('--op');
  if (!(BENCH_OPS as readonly string[]).includes(opText)) throw new BenchUsageError(`--op must be one of ${BENCH_OPS.join(', ')}, got ${JSON.stringify(opText)}`);
  const versionText = p['--kmip-version'];
  if (versionText !== undefined && !(CLIENT_PROTOCOL_VERSIONS as readonly string[]).includes(versionText)) {
    throw new BenchUsageError(`--kmip-version must be one of ${CLIENT_PROTOCOL_VERSIONS.join(', ')}, got ${JSON.stringify(versionText)}`);
  }
  const rateText = p['--rate'];
  const client = p['--client'] ?? 'full';
  if (client !== 'full' && client !== 'wire' && client !== 'https') throw new BenchUsageError(`--client must be full, wire or https, got ${JSON.stringify(client)}`);
  const httpsPortText = p['--https-port'];
  const pacing = p['--pacing'] ?? 'spin';
  if (!(PACINGS as readonly string[]).includes(pacing)) throw new BenchUsageError(`--pacing must be ${PACINGS.join(' or ')}, got ${JSON.stringify(pacing)}`);
  if ((client === 'https') !== (httpsPortText !== undefined)) throw new BenchUsageError('--client https and --https-port go together');
  return {
    target: parseTarget(need('--target')),
    ca: need('--ca'),
    cert: need('--cert'),
    key: need('--key'),
    kmipVersion: versionText as KmipVersionString | undefined,
    op: opText as BenchOp,
    connections: intIn('--connections', need('--connections'), 1, BENCH_LIMITS.maxConnections),
    pipeline: p['--pipeline'] === undefined ? undefined : intIn('--pipeline', p['--pipeline'], 1, BENCH_LIMITS.maxPipeline),
    rate: rateText === undefined ? undefined : numberIn('--rate', rateText, 0.001, BENCH_LIMITS.maxRate),
    durationS: numberIn('--duration', need('--duration'), 0.01, BENCH_LIMITS.maxDurationS),
    warmupS: p['--warmup'] === undefined ? 1 : numberIn('--warmup', p['--warmup'], 0, BENCH_LIMITS.maxDurationS),
    batch: p['--batch'] === undefined ? 1 : intIn('--batch', p['--batch'], 1, BENCH_LIMITS.maxBatch),
    json: p['--json'],
    slo: p['--slo'] === undefined ? [] : parseSlo(p['--slo']),
    servername: p['--servername'],
    client,
    httpsPort: httpsPortText === undefined ? undefined : intIn('--https-port', httpsPortText, 1, 65535),
    pacing: pacing as Pacing,
    quiet,
    help,
  };
}
