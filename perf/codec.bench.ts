/**
 * Micro-benchmark of the binary TTLV codec (tinybench).
 *
 *   npm run bench            # builds, then runs this file
 *   node dist/perf/codec.bench.js
 *
 * Goal (issue): >= 1,000,000 decodes/s of a typical Get request on one core.
 * Each task runs BATCH operations per call, so that the timer's own cost (tens of
 * nanoseconds per performance.now()) does not swamp sub-microsecond operations; ops/s is
 * BATCH / mean call time. Results go to stdout and to perf/results/codec.json.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { Bench } from 'tinybench';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { TtlvFramer } from '@openkcm/ttlv';
import { getRequest, getResponseAes256 } from '../test/helpers/ttlv-vectors.js';
import { benchTiming, resultsPath } from './common.js';

const BATCH = 1000;
const GOAL_DECODES_PER_SEC = 1_000_000;

const getReq = getRequest();
const getReqWire = encodeTtlv(getReq);
const getResp = getResponseAes256();
const getRespWire = encodeTtlv(getResp);
/** 64 Get requests back to back, as a busy connection's read might deliver them. */
const pipelined = Buffer.concat(Array.from({ length: 64 }, () => getReqWire));

// Results are accumulated here so the JIT cannot drop the work as dead code.
let sink = 0;

const bench = new Bench(benchTiming(1500, 300));
bench
  .add(`decode Get request (${getReqWire.length} B)`, () => {
    for (let i = 0; i < BATCH; i++) sink += decodeTtlv(getReqWire).tag;
  })
  .add(`encode Get request (${getReqWire.length} B)`, () => {
    for (let i = 0; i < BATCH; i++) sink += encodeTtlv(getReq).length;
  })
  .add(`decode Get response, AES-256 key (${getRespWire.length} B)`, () => {
    for (let i = 0; i < BATCH; i++) sink += decodeTtlv(getRespWire).tag;
  })
  .add(`encode Get response, AES-256 key (${getRespWire.length} B)`, () => {
    for (let i = 0; i < BATCH; i++) sink += encodeTtlv(getResp).length;
  })
  .add('frame 64 pipelined Get requests (per message)', () => {
    // BATCH / 64 pushes of 64 messages each = BATCH messages framed.
    for (let i = 0; i < BATCH / 64; i++) sink += new TtlvFramer().push(pipelined).length;
  });

const loadBefore = os.loadavg()[0] ?? 0;
await bench.run();
const loadAfter = os.loadavg()[0] ?? 0;

interface Row {
  task: string;
  opsPerSec: number;
  nsPerOp: number;
  rme: string;
  samples: number;
}
const rows: Row[] = [];
for (const task of bench.tasks) {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`);
  const batch = task.name.startsWith('frame') ? Math.floor(BATCH / 64) * 64 : BATCH;
  const msPerCall = r.period;
  rows.push({
    task: task.name,
    opsPerSec: Math.round((batch * 1000) / msPerCall),
    nsPerOp: Math.round((msPerCall * 1e6) / batch),
    rme: `±${((r.latency.moe / r.latency.mean) * 100).toFixed(2)}%`,
    samples: r.latency.df + 1,
  });
}
console.table(rows.map((r) => ({ task: r.task, 'ops/s': r.opsPerSec.toLocaleString('en-US'), 'ns/op': r.nsPerOp, rme: r.rme, samples: r.samples })));

const decodeGet = rows[0]?.opsPerSec ?? 0;
console.log(
  `decode Get request: ${decodeGet.toLocaleString('en-US')} ops/s — goal ${GOAL_DECODES_PER_SEC.toLocaleString('en-US')} ops/s: ${decodeGet >= GOAL_DECODES_PER_SEC ? 'MET' : 'NOT MET'}`,
);

console.log(`1-minute load average: ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (${os.cpus().length} CPUs)`);

const out = resultsPath('codec.json');
writeFileSync(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cpus: os.cpus().length,
      // Other work on the machine slows every number; record how busy it was.
      loadAverage1m: { before: loadBefore, after: loadAfter },
      batch: BATCH,
      goalDecodesPerSec: GOAL_DECODES_PER_SEC,
      results: rows,
      sink,
    },
    null,
    2,
  ) + '\n',
);
console.log(`wrote ${out}`);
