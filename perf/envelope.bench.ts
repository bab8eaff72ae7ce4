/**
 * Micro-benchmark of the vault's envelope (src/vault/envelope.ts; issue 7 deliverable 1): sealing and opening a
 * 32-byte DEK with its (tenant, uid, version) AAD, under the native KEK provider (the key in a locked native
 * slot, what the key hierarchy's L3 keyrings use) and under the node:crypto provider, plus parsing the header
 * alone (what every read does to pick the opening key).
 *
 *   npx tsc -p . && node dist/perf/envelope.bench.js
 *
 * Each task seals or opens ITEMS envelopes per call, awaited one after another as the vault does, so the timer's
 * own cost does not swamp microsecond work; ops/s counts envelopes. Results: stdout and
 * perf/results/envelope.json, with the 1-minute load average before and after (compare quiet runs only).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { Bench } from 'tinybench';
import { initNative } from '../src/native/index.js';
import { open, parseEnvelope, seal } from '../src/vault/envelope.js';
import type { EnvelopeAad } from '../src/vault/envelope.js';
import { NativeKekProvider, NodeCryptoKekProvider } from '../src/vault/kek.js';
import type { KekProvider } from '../src/vault/kek.js';
import { benchTiming, resultsPath } from './common.js';

const ITEMS = 100;

initNative({ allowUnlocked: true });
const providers: readonly [string, KekProvider][] = [
  ['native', NativeKekProvider.random('bench-native')],
  ['node:crypto', NodeCryptoKekProvider.random('bench-node')],
];
const dek = Buffer.alloc(32, 7);
const aads: EnvelopeAad[] = Array.from({ length: ITEMS }, (_, i) => ({ tenant: 'bench', uid: `0190c3f2-1234-7abc-8def-${String(i).padStart(12, '0')}`, version: 1 }));

// Results are accumulated here so the JIT cannot drop the work as dead code.
let sink = 0;
const bench = new Bench(benchTiming(1500, 300));
for (const [name, kek] of providers) {
  const sealed = await Promise.all(aads.map((aad) => seal(kek, dek, aad)));
  bench
    .add(`seal 32-byte DEK | ${name}`, async () => {
      for (const aad of aads) sink += (await seal(kek, dek, aad)).length;
    })
    .add(`open 32-byte DEK | ${name}`, async () => {
      for (let i = 0; i < ITEMS; i++) {
        const plain = await open(kek, sealed[i] ?? Buffer.alloc(0), aads[i] ?? { tenant: '', uid: '', version: 0 });
        sink += plain.length;
        plain.fill(0);
      }
    });
  if (name === 'native') {
    bench.add('parse envelope header', () => {
      for (const s of sealed) sink += parseEnvelope(s).keyVersion;
    });
  }
}

const loadBefore = os.loadavg()[0] ?? 0;
await bench.run();
const loadAfter = os.loadavg()[0] ?? 0;

const rows = bench.tasks.map((task) => {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`);
  return {
    task: task.name,
    opsPerSec: Math.round((ITEMS * 1000) / r.period),
    nsPerOp: Math.round((r.period * 1e6) / ITEMS),
    rme: `±${((r.latency.moe / r.latency.mean) * 100).toFixed(2)}%`,
    samples: r.latency.df + 1,
  };
});
console.table(rows.map((r) => ({ task: r.task, 'ops/s': r.opsPerSec.toLocaleString('en-US'), 'ns/op': r.nsPerOp, rme: r.rme, samples: r.samples })));
console.log(`1-minute load average: ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (${os.cpus().length} CPUs); sink ${sink > 0 ? 'ok' : '0'}`);

const out = resultsPath('envelope.json');
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: { before: loadBefore, after: loadAfter }, items: ITEMS, results: rows }, null, 2) + '\n');
console.log(`wrote ${out}`);
