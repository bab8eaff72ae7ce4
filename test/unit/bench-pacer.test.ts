/**
 * The open loop's pacer thread (src/bench/pacer.ts): it wakes the generator at each arrival, never before it, and
 * once more after the schedule, while the generator's own event loop sleeps between arrivals (the old setImmediate
 * loop kept it 100% busy, a core taken from the server under test).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { PacerThread } from '../../src/bench/pacer.js';

test('one wake-up per arrival, none early, one after the last; the generator\'s event loop sleeps in between', async () => {
  const intervalMs = 2;
  const ticks: number[] = [];
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => { resolveDone = r; });
  const pacer = await PacerThread.start();
  const t0 = performance.now() + 5;
  const endAt = t0 + 40 * intervalMs;
  pacer.run({ t0, endAt, intervalMs }, () => {
    ticks.push(performance.now());
    if (performance.now() >= endAt - intervalMs) resolveDone();
  });
  const elu0 = performance.eventLoopUtilization();
  try {
    await Promise.race([done, sleep(10_000).then(() => { assert.fail('the pacer never passed the end of its schedule'); })]);
  } finally {
    await pacer.stop();
  }
  const elu = performance.eventLoopUtilization(elu0);
  // Every arrival k is due at t0 + k·interval: the n-th wake-up is never before the n-th arrival. A loaded machine may
  // wake it late (and then it skips to the arrival due now), so there are at most 40 + 1 wake-ups, and at least 2.
  assert.ok(ticks.length >= 2 && ticks.length <= 41, `${String(ticks.length)} wake-ups`);
  for (const [n, at] of ticks.entries()) assert.ok(at >= t0 + n * intervalMs, `wake-up ${String(n)} came ${String(t0 + n * intervalMs - at)} ms early`);
  assert.ok((ticks.at(-1) ?? 0) >= endAt - intervalMs, 'a wake-up follows the last arrival');
  // Busy-waiting would keep the loop at ~1.0; waking 41 times in ~130 ms is a few per cent.
  assert.ok(elu.utilization < 0.5, `event-loop utilisation ${elu.utilization.toFixed(2)}`);
});
