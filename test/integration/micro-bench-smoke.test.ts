/**
 * The micro-benchmarks of perf/ (issue 7 deliverable 1) in quick mode: each one runs to the end and writes its
 * JSON with a figure per task. No number is judged here (timed assertions belong in benchmarks, not tests); this
 * only keeps the benchmarks from breaking unnoticed, as perf/scale.ts once did.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/integration → dist/perf */
const PERF = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'perf');

interface Run { code: number | null; out: string }

function runBench(name: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(PERF, `${name}.bench.js`)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    p.stderr.setEncoding('utf8').on('data', (s: string) => { out += s; });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${name}.bench.js timed out\n${out}`)); }, 60_000);
    p.once('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

describe('micro-benchmarks (quick mode)', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(path.join(tmpdir(), 'openkcm-micro-bench-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  /** Each bench and how many tasks (rows of its JSON's `results`) it reports. */
  const cases: readonly { name: string; count: number }[] = [
    { name: 'codec', count: 5 },
    { name: 'native', count: 3 }, // seal, open, wrap: each row compares node:crypto, addon single and batch
    { name: 'envelope', count: 5 },
    { name: 'cedar', count: 6 },
    { name: 'vault', count: 1 }, // one vault size in quick mode
    { name: 'audit', count: 2 }, // the audit sink over PGlite and PostgreSQL
  ];
  for (const c of cases) {
    test(`${c.name}.bench.js runs and writes ${c.name}.json`, async () => {
      const out = path.join(dir, c.name);
      const r = await runBench(c.name, {
        OPENKCM_BENCH_QUICK: '1', OPENKCM_BENCH_OUT: out, VAULT_BENCH_SIZES: '1000', VAULT_BENCH_DIR: dir,
      });
      assert.equal(r.code, 0, r.out);
      const json = JSON.parse(await readFile(path.join(out, `${c.name}.json`), 'utf8')) as Record<string, unknown>;
      const rows = json.results;
      assert.ok(Array.isArray(rows), `${c.name}.json has no results array: keys ${Object.keys(json).join(', ')}`);
      assert.equal(rows.length, c.count, JSON.stringify(rows).slice(0, 500));
      // Every row carries a positive figure (ops/s, decisions/s, µs), directly or one level down (vault: per size).
      const positive = (v: unknown): boolean => (typeof v === 'number' && v > 0)
        || (typeof v === 'object' && v !== null && Object.values(v).some((w) => typeof w === 'number' && w > 0));
      for (const row of rows as Record<string, unknown>[]) {
        assert.ok(Object.values(row).some(positive), `${c.name}: a row without figures: ${JSON.stringify(row)}`);
      }
    });
  }
});
