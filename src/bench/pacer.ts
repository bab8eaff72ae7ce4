/**
 * The open loop's clock (src/bench/load.ts): wakes the generator's event loop when the next arrival is due, without
 * keeping a core busy.
 *
 * Node's timers cannot fire sooner than 1 ms, and at 5,000 arrivals/s they are 0.2 ms apart, so the generator used to
 * yield with setImmediate until the next arrival: its event loop never slept, and it took one whole core. On the
 * 2-core machine the comparison runs on, that core was taken from the server under test (and from the TLS floor):
 * the server's processes shared the other one, and their scheduling delays were most of the measured tail
 * (docs/performance.md "Open-loop tail").
 *
 * Here a worker thread sleeps until each arrival's time in Atomics.wait (a futex wait with a sub-millisecond
 * timeout) and posts one message; the message wakes the generator's event loop like any I/O, and its tick sends
 * what is due. The wake-up's own lateness is what `send_lag_ms` reports, and it is charged to every latency, as
 * before (latency runs from the intended send time).
 */
import { Worker } from 'node:worker_threads';

/** Wake-up this long after each arrival's time: more than the error of converting the schedule between the clocks. */
const PACER_GUARD_NS = 10_000;

/**
 * The thread's loop, in hrtime nanoseconds (process.hrtime is one monotonic clock for every thread of the process;
 * performance.now() has a time origin per thread). It sleeps until arrival k (plus {@link PACER_GUARD_NS}, so the
 * generator's own clock, converted once, surely sees it due), posts k, and skips to the arrival due now when it fell
 * behind (the tick sends every due arrival anyway). Once `end` has passed it posts -1.
 */
const PACER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const cell = new Int32Array(new SharedArrayBuffer(4));
parentPort.once('message', (s) => {
  const t0 = BigInt(s.t0Ns), interval = s.intervalNs, end = BigInt(s.endNs), guard = BigInt(s.guardNs);
  let k = 0;
  for (;;) {
    const due = t0 + BigInt(Math.round(k * interval));
    if (due >= end) break;
    let now = process.hrtime.bigint();
    while (now < due + guard) {
      Atomics.wait(cell, 0, 0, Number(due + guard - now) / 1e6);
      now = process.hrtime.bigint();
    }
    parentPort.postMessage(k);
    const behind = Math.floor(Number(now - t0) / interval);
    k = behind >= k + 1 ? behind + 1 : k + 1;
  }
  // The closing wake-up comes when the schedule is over, not right after its last arrival: posted at once, it could
  // reach a late generator in the same turn as that arrival, before the end.
  let now = process.hrtime.bigint();
  while (now < end + guard) {
    Atomics.wait(cell, 0, 0, Number(end + guard - now) / 1e6);
    now = process.hrtime.bigint();
  }
  parentPort.postMessage(-1);
});
parentPort.postMessage('ready');
`;

export interface PacerSchedule {
  /** First arrival and end of the schedule, in the generator's performance.now() milliseconds. */
  readonly t0: number;
  readonly endAt: number;
  readonly intervalMs: number;
}

/**
 * A thread that calls `onTick` (on the generator's thread) at every arrival of a schedule, and once more when the
 * schedule is over (so the last arrival is sent even if its own message found it a hair early).
 */
export class PacerThread {
  readonly #worker: Worker;

  private constructor(worker: Worker) {
    this.#worker = worker;
  }

  /** Starts the thread and waits until it runs: a thread starts in tens of milliseconds, the schedule must not. */
  static async start(): Promise<PacerThread> {
    const worker = new Worker(PACER_SOURCE, { eval: true });
    worker.unref();
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => { resolve(); });
      worker.once('error', reject);
    });
    return new PacerThread(worker);
  }

  /** Runs `schedule`, calling `onTick` at each arrival (once per thread). */
  run(schedule: PacerSchedule, onTick: () => void): void {
    // One reading of both clocks: the schedule moves from performance.now() to hrtime.
    const offsetNs = process.hrtime.bigint() - BigInt(Math.round(performance.now() * 1e6));
    const toNs = (ms: number): string => String(offsetNs + BigInt(Math.round(ms * 1e6)));
    this.#worker.on('message', onTick);
    this.#worker.postMessage({ t0Ns: toNs(schedule.t0), endNs: toNs(schedule.endAt), intervalNs: schedule.intervalMs * 1e6, guardNs: PACER_GUARD_NS });
  }

  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}
