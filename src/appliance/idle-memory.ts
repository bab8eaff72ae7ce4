/**
 * Hands the C heap's free pages back to the kernel when a serving process goes idle (issue 14: idle resident memory
 * of `openkcm serve` ≤ 300 MiB). Start-up and load leave tens of MiB of freed malloc memory in glibc's arenas (V8's
 * compiler zones above all); glibc keeps it for reuse and never returns it on its own. Measured on the default
 * 2-worker appliance 10 s after start: PSS 514 MiB before a trim, 356 MiB after (docs/performance.md "Idle memory").
 *
 * First the V8 heap of this thread is compacted and its young generation shrunk (compactJsHeap: 16 MiB per
 * semi-space after load, 1 MiB after, grown again on demand by the next busy stretch), then glibc's free pages go
 * back. Capping the young generation instead (--max-semi-space-size) would cost every request: docs/performance.md.
 *
 * When: once after start-up settles, then after every busy stretch that is followed by an idle check interval.
 * Never under load: a trim walks every arena (a few ms), so it runs only when the event loop was ≤ 2% busy over
 * the last interval, and only once per idle stretch (an idle server is not trimmed over and over).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { compactJsHeap, releaseFreeHeap } from '../native/index.js';

/** After start-up: long enough for V8's background compiles of the start-up code to finish and free their zones. */
export const TRIM_SETTLE_MS = 5_000;
/** How often the event loop's utilisation is sampled to spot the end of a busy stretch. */
export const TRIM_CHECK_MS = 30_000;
/** At or below this event-loop utilisation over one check interval the process counts as idle. */
export const TRIM_IDLE_UTILIZATION = 0.02;

/** What an idle trim does by default: the JS heap first (what it frees is malloc'd memory too), then the C heap. */
export function releaseIdleMemory(): void {
  compactJsHeap();
  releaseFreeHeap();
}

export interface IdleTrim {
  stop(): void;
}

export interface IdleTrimOptions {
  readonly settleMs?: number;
  readonly checkMs?: number;
  readonly idleUtilization?: number;
}

/**
 * Starts the idle trimmer of this process. `trim` is the release itself (tests count calls); its failures are
 * ignored, since memory housekeeping must never take a serving process down.
 */
export function startIdleMemoryTrim(trim: () => unknown = releaseIdleMemory, options: IdleTrimOptions = {}): IdleTrim {
  const { settleMs = TRIM_SETTLE_MS, checkMs = TRIM_CHECK_MS, idleUtilization = TRIM_IDLE_UTILIZATION } = options;
  let interval: NodeJS.Timeout | undefined;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  let busySinceTrim = false;
  const run = (): void => {
    try {
      trim();
    } catch {
      // A missing addon or a non-glibc libc: nothing to give back, nothing to report on every tick.
    }
  };
  const check = (): void => {
    const now = performance.eventLoopUtilization();
    const used = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    if (used > idleUtilization) {
      busySinceTrim = true;
    } else if (busySinceTrim) {
      busySinceTrim = false;
      run();
    }
  };
  const settle = setTimeout(() => {
    run();
    last = performance.eventLoopUtilization();
    interval = setInterval(check, checkMs);
    interval.unref();
  }, settleMs);
  settle.unref();
  return {
    stop: () => {
      clearTimeout(settle);
      if (interval !== undefined) clearInterval(interval);
    },
  };
}
