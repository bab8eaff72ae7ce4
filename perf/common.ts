/**
 * What the micro-benchmarks share (perf/*.bench.ts): where their JSON goes, and how long they run.
 *
 *   OPENKCM_BENCH_OUT=DIR   results directory (default perf/results, git-ignored)
 *   OPENKCM_BENCH_QUICK=1   a few milliseconds per task and few samples: proves the bench runs and writes its
 *                           JSON (test/integration/micro-bench-smoke.test.ts); its figures mean nothing
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const QUICK = process.env.OPENKCM_BENCH_QUICK === '1';

/** tinybench's time and warm-up per task, in ms, shortened in quick mode. */
export function benchTiming(timeMs: number, warmupMs: number): { time: number; warmupTime: number } {
  return QUICK ? { time: 20, warmupTime: 5 } : { time: timeMs, warmupTime: warmupMs };
}

/** A sample count, cut to `quick` in quick mode. */
export function samples(full: number, quick: number): number {
  return QUICK ? quick : full;
}

/** The path of a result file (the directory is created). dist/perf/common.js → <repo>/perf/results by default. */
export function resultsPath(file: string): string {
  const dir = process.env.OPENKCM_BENCH_OUT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'perf', 'results');
  mkdirSync(dir, { recursive: true });
  return path.join(dir, file);
}
