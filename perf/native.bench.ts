/**
 * The native crypto core against node:crypto (issue 3 acceptance), tinybench, 32-byte keys:
 * AES-256-GCM seal and open of a 32-byte payload (a DEK under its KEK) with 16 bytes of AAD, and AES
 * key wrap (RFC 3394) of a 32-byte key — each as single calls and as a batch of 64.
 *
 *   npx tsc -p . && node dist/perf/native.bench.js
 *
 * Every task processes ITEMS (64) items per call so the timer's own cost does not swamp
 * sub-microsecond work; ops/s counts items. node:crypto has no batch API, so its "batch of 64" is 64
 * single calls — the work a caller without the addon would do.
 * Goals (issue 3): single ≥ 3× node:crypto, batch ≥ 10× node:crypto.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Bench } from 'tinybench';
import { gcmOpen, gcmOpenBatch, gcmSeal, gcmSealBatch, initNative, keyWrap, keyWrapBatch, SecureKey } from '../src/native/index.js';
import { benchTiming, resultsPath } from './common.js';

const ITEMS = 64;
const GOAL_SINGLE = 3;
const GOAL_BATCH = 10;

initNative({ allowUnlocked: process.env.OPENKCM_ALLOW_UNLOCKED_MEMORY === '1' });

const raw = randomBytes(32);
const key = SecureKey.import(Buffer.from(raw));
const aad = randomBytes(16);
const WRAP_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex'); // RFC 3394 §2.2.3.1 default IV
const ivs = Array.from({ length: ITEMS }, () => randomBytes(12));
const payloads = Array.from({ length: ITEMS }, () => randomBytes(32));
const sealed = payloads.map((p, i) => gcmSeal(key, ivs[i]!, p, aad));
const sealItems = payloads.map((plaintext, i) => ({ key, iv: ivs[i]!, plaintext, aad }));
const openItems = sealed.map((s, i) => ({ key, iv: ivs[i]!, sealed: s, aad }));
const wrapItems = payloads.map((data) => ({ kek: key, data }));

let sink = 0;

function nodeSeal(iv: Buffer, pt: Buffer): number {
  const c = createCipheriv('aes-256-gcm', raw, iv);
  c.setAAD(aad);
  const a = c.update(pt);
  const b = c.final();
  return a.length + b.length + c.getAuthTag().length;
}
function nodeOpen(iv: Buffer, s: Uint8Array): number {
  const d = createDecipheriv('aes-256-gcm', raw, iv);
  d.setAAD(aad);
  d.setAuthTag(s.subarray(s.length - 16));
  return d.update(s.subarray(0, s.length - 16)).length + d.final().length;
}
function nodeWrap(data: Buffer): number {
  const c = createCipheriv('id-aes256-wrap', raw, WRAP_IV);
  return c.update(data).length + c.final().length;
}

const bench = new Bench(benchTiming(1500, 300));
bench
  .add('seal | node:crypto', () => { for (let i = 0; i < ITEMS; i++) sink += nodeSeal(ivs[i]!, payloads[i]!); })
  .add('seal | addon single', () => { for (let i = 0; i < ITEMS; i++) sink += gcmSeal(key, ivs[i]!, payloads[i]!, aad).length; })
  .add('seal | addon batch', () => { sink += gcmSealBatch(sealItems).length; })
  .add('open | node:crypto', () => { for (let i = 0; i < ITEMS; i++) sink += nodeOpen(ivs[i]!, sealed[i]!); })
  .add('open | addon single', () => { for (let i = 0; i < ITEMS; i++) sink += gcmOpen(key, ivs[i]!, sealed[i]!, aad).length; })
  .add('open | addon batch', () => { sink += gcmOpenBatch(openItems).length; })
  .add('wrap | node:crypto', () => { for (let i = 0; i < ITEMS; i++) sink += nodeWrap(payloads[i]!); })
  .add('wrap | addon single', () => { for (let i = 0; i < ITEMS; i++) sink += keyWrap(key, payloads[i]!, 'rfc3394').length; })
  .add('wrap | addon batch', () => { sink += keyWrapBatch(wrapItems, 'rfc3394').length; });

const loadBefore = os.loadavg()[0] ?? 0;
await bench.run();
const loadAfter = os.loadavg()[0] ?? 0;

const opsPerSec = new Map<string, number>();
for (const task of bench.tasks) {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`);
  opsPerSec.set(task.name, Math.round((ITEMS * 1000) / r.period));
}
const rows = ['seal', 'open', 'wrap'].map((op) => {
  const node = opsPerSec.get(`${op} | node:crypto`) ?? 0;
  const single = opsPerSec.get(`${op} | addon single`) ?? 0;
  const batch = opsPerSec.get(`${op} | addon batch`) ?? 0;
  return {
    op,
    nodeOpsPerSec: node,
    addonSingleOpsPerSec: single,
    addonBatchOpsPerSec: batch,
    singleSpeedup: Number((single / node).toFixed(2)),
    batchSpeedup: Number((batch / node).toFixed(2)),
  };
});
const fmt = (n: number): string => n.toLocaleString('en-US');
console.table(rows.map((r) => ({
  op: r.op,
  'node:crypto ops/s': fmt(r.nodeOpsPerSec),
  'addon single ops/s': fmt(r.addonSingleOpsPerSec),
  'addon batch(64) ops/s': fmt(r.addonBatchOpsPerSec),
  single: `${r.singleSpeedup}× (goal ${GOAL_SINGLE}×) ${r.singleSpeedup >= GOAL_SINGLE ? 'MET' : 'NOT MET'}`,
  batch: `${r.batchSpeedup}× (goal ${GOAL_BATCH}×) ${r.batchSpeedup >= GOAL_BATCH ? 'MET' : 'NOT MET'}`,
})));
console.log(`1-minute load average: ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (${os.cpus().length} CPUs)`);

const out = resultsPath('native.json');
writeFileSync(out, `${JSON.stringify({
  date: new Date().toISOString(),
  node: process.version,
  openssl: process.versions.openssl,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cpus: os.cpus().length,
  loadAverage1m: { before: loadBefore, after: loadAfter },
  itemsPerCall: ITEMS,
  goals: { single: GOAL_SINGLE, batch: GOAL_BATCH },
  results: rows,
  sink,
}, null, 2)}\n`);
console.log(`wrote ${out}`);
key.destroy();
