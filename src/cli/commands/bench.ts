/**
 * `openkcm bench`: the KMIP load generator (issue 7 §2, §4), and `openkcm bench compare`, the
 * side-by-side run against PyKMIP and the TLS floor (§3). Options and the JSON contract:
 * src/bench/options.ts, src/bench/load.ts; method and results: docs/performance.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { COMPARE_USAGE, parseCompareArgs, runCompare } from '../../bench/compare.js';
import { formatResult, runLoad } from '../../bench/load.js';
import { BENCH_USAGE, BenchUsageError, evaluateSlo, parseBenchArgs } from '../../bench/options.js';
import { Progress } from '../progress.js';

async function runCompareCommand(argv: string[]): Promise<number> {
  let o;
  try {
    o = parseCompareArgs(argv);
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    process.stderr.write(`openkcm bench compare: ${e.message}\n\n${COMPARE_USAGE}\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(COMPARE_USAGE + '\n');
    return 0;
  }
  // A bar over the load runs on a terminal only (src/cli/progress.ts): runCompare logs one "[rep/repeat] ..." line
  // per finished run, which is what the bar counts; every other line is printed as before.
  const runs = o.repeat * o.scenarios.reduce((n, sc) => n + sc.targets.filter((t) => o.targets.includes(t)).length, 0);
  const bar = new Progress({ label: 'bench compare', total: runs, rateUnit: '' });
  let finished = 0;
  const timer = bar.enabled ? setInterval(() => { bar.update(finished, NaN); }, 500) : undefined;
  timer?.unref();
  try {
    await runCompare({ ...o, log: (line: string) => {
      bar.clear();
      process.stdout.write(line + '\n');
      if (/^\[\d+\/\d+\] /.test(line)) finished++;
      bar.update(finished, NaN);
    } });
  } finally {
    clearInterval(timer);
    bar.done();
  }
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'compare') return runCompareCommand(argv.slice(1));
  let a;
  try {
    a = parseBenchArgs(argv);
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    process.stderr.write(`openkcm bench: ${e.message}\n\n${BENCH_USAGE}\n`);
    return 2;
  }
  if (a.help) {
    process.stdout.write(BENCH_USAGE + '\n');
    return 0;
  }
  const [ca, cert, key] = await Promise.all([readFile(a.ca, 'utf8'), readFile(a.cert, 'utf8'), readFile(a.key, 'utf8')]);
  // Time-driven bar on a terminal only (src/cli/progress.ts): warm-up plus measurement, with an ETA and the live
  // rate (successful operations per second over the last tick, from the generator's own counter).
  const bar = new Progress({ label: `bench ${a.op}`, total: (a.warmupS + a.durationS) * 1000, rateUnit: ' ops/s',
    show: (ms) => `${(ms / 1000).toFixed(0)}s` });
  let live: { readonly ops: number } | undefined;
  const last = { ops: 0, at: Date.now() };
  const tick = (): void => {
    let rate = NaN;
    if (live !== undefined) {
      const at = Date.now();
      rate = ((live.ops - last.ops) * 1000) / Math.max(1, at - last.at);
      last.ops = live.ops;
      last.at = at;
    }
    bar.update(Math.min(bar.elapsedMs(), (a.warmupS + a.durationS) * 1000), rate);
  };
  const barTimer = bar.enabled ? setInterval(tick, 250) : undefined;
  barTimer?.unref();
  const result = await runLoad({
    target: a.target,
    tls: { ca, cert, key, ...(a.servername === undefined ? {} : { servername: a.servername }) },
    kmipVersion: a.kmipVersion,
    op: a.op,
    connections: a.connections,
    pipeline: a.pipeline,
    rate: a.rate,
    durationS: a.durationS,
    warmupS: a.warmupS,
    batch: a.batch,
    client: a.client,
    pacing: a.pacing,
    ...(a.httpsPort === undefined ? {} : { httpsPort: a.httpsPort }),
    ...(bar.enabled ? { onTally: (t: { readonly ops: number }) => { live = t; } } : {}),
  }).finally(() => { clearInterval(barTimer); bar.done(); });
  const out: Record<string, unknown> = { ...result };
  let failed = false;
  if (!a.quiet) process.stdout.write(formatResult(result) + '\n');
  if (result.errors > 0) process.stderr.write(`openkcm bench: ${String(result.errors)} operations failed: ${JSON.stringify(result.error_kinds)}\n`);
  if (a.slo.length > 0) {
    const verdicts = evaluateSlo(a.slo, result.latency_ms, result.errors);
    out.slo = verdicts;
    for (const v of verdicts) {
      const observed = v.observedMs === undefined ? (v.note ?? '') : `${v.observedMs.toFixed(3)} ms`;
      process.stdout.write(`SLO ${v.clause.padEnd(14)} ${v.pass ? 'PASS' : 'FAIL'}  (${observed})\n`);
      if (!v.pass) failed = true;
    }
  }
  if (a.json !== undefined) await writeFile(a.json, JSON.stringify(out, null, 2) + '\n');
  return failed ? 1 : 0;
}
