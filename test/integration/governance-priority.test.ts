/**
 * `openkcm serve --workers 1` (real primary and worker processes, embedded PGlite): the primary's threads run at
 * `governance.yieldNice` while its audit backlog is small, the KMIP worker it forked runs at the primary's own
 * priority, a burst of audited requests brings the primary back to full priority, and it yields again once the
 * records are written (src/appliance/governance-priority.ts). By default (`yieldNice` 0) it never yields.
 * Runs as root on CI (CAP_SYS_NICE); an unprivileged run never yields and the yielding test is skipped.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runLoad } from '../../src/bench/load.js';
import { startOpenKcmServer } from '../../src/bench/openkcm-server.js';
import type { OpenKcmServer } from '../../src/bench/openkcm-server.js';
import { processTree } from '../../src/bench/proc.js';
import { RECOMMENDED_YIELD_NICE } from '../../src/config/governance.js';
import { until } from '../helpers/wait.js';

/** Every thread's nice value (proc(5): /proc/PID/task/TID/stat field 19). */
function nices(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${String(pid)}/task`)) {
    try {
      const stat = readFileSync(`/proc/${String(pid)}/task/${t}/stat`, 'utf8');
      out.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread ended
    }
  }
  return out;
}

const privileged = process.getuid?.() === 0 && process.platform === 'linux';
/** A small audit quota, so a short burst passes the high-water mark (half of it) before the 1 s flush. */
const QUOTA = 40;

describe('the governance plane yields to the KMIP workers', { skip: !privileged && 'needs CAP_SYS_NICE (root) to come back from a raised nice value' }, () => {
  const servers: OpenKcmServer[] = [];
  after(async () => { await Promise.all(servers.map((s) => s.stop())); });

  test('idle primary at yieldNice, worker at nice 0; a burst brings the primary back, the drain lets it yield again', async () => {
    const s = await startOpenKcmServer({ workers: 1, extraConfig: { governance: { yieldNice: 12, audit: { tenantQueueMax: QUOTA } } } });
    servers.push(s);
    const primary = s.pid as number;
    await until('the primary yields', () => (nices(primary).every((n) => n === 12) ? true : undefined), 20_000);
    const workers = (processTree(primary) ?? []).filter((p) => p !== primary);
    assert.equal(workers.length, 1);
    assert.ok(nices(workers[0] as number).every((n) => n === 0), `the worker was forked at the primary's own priority: ${JSON.stringify(nices(workers[0] as number))}`);

    // Audited Gets on 4 connections for 1.5 s: far more than QUOTA / 2 records reach the primary between two flushes.
    let sawFull = false;
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        if (nices(primary).every((n) => n === 0)) sawFull = true;
        await sleep(5);
      }
    })();
    const r = await runLoad({
      target: { host: s.host, port: s.port }, tls: { ca: s.ca, cert: s.cert, key: s.key }, op: 'get', connections: 4,
      durationS: 1.5, warmupS: 0, kmipVersion: '1.4', client: 'wire',
    });
    sampling.on = false;
    await sampler;
    assert.ok(r.throughput_ops_s > 0);
    assert.ok(sawFull, 'the primary came back to nice 0 under the audit burst');
    assert.ok(nices(workers[0] as number).every((n) => n === 0), 'the worker never yields');
    // Written out (1 s timer) and checked (every 250 ms): yielding again.
    await until('the primary yields again after the drain', () => (nices(primary).every((n) => n === 12) ? true : undefined), 10_000);
  });

  test('by default the primary keeps its priority; the recommended yieldNice 10 yields', async () => {
    const s = await startOpenKcmServer({ workers: 1 });
    servers.push(s);
    const y = await startOpenKcmServer({ workers: 1, extraConfig: { governance: { yieldNice: RECOMMENDED_YIELD_NICE } } });
    servers.push(y);
    await until('yieldNice 10 yields', () => (nices(y.pid as number).every((n) => n === 10) ? true : undefined), 20_000);
    assert.ok(nices(s.pid as number).every((n) => n === 0), JSON.stringify(nices(s.pid as number)));
  });
});
