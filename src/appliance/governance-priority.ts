/**
 * The governance plane yields the CPU to the KMIP workers while it keeps up (issue 14: the open-loop tail).
 *
 * With `serve --workers N`, the primary process runs the audit chain, its embedded database (PGlite's thread) and the
 * rest of the governance plane beside the KMIP workers on the same cores. Each flush is a burst of work on the
 * primary's threads; on a machine with no spare core it preempts a worker and lands in the tail of the KMIP latency
 * (docs/performance.md "What the tail is, by experiment": the primary under SCHED_IDLE cut the 5,000 Gets/s p99 from
 * 4–9 ms to 1.5–4.3 ms, but under saturation starved the chain and the audit quota refused 31,442 Gets in 4 s).
 *
 * So the primary's threads run at a lower priority (`nice`, setpriority(2)) while the audit backlog is small, and
 * back at their own priority once it passes a high-water mark, until it drains below a low-water mark. A nice value,
 * not SCHED_IDLE: a niced thread still gets its weighted share of a busy core (nice 10: about a tenth of a nice-0
 * thread's), so the primary keeps reading the workers' records and notices a growing backlog, and the kill-switch
 * path (krypton's revocation → the broadcast to every worker, which runs in the primary) is delayed by a few
 * scheduling slices at most, not starved.
 *
 * Going back to the original priority needs CAP_SYS_NICE or an RLIMIT_NICE that allows it (setpriority(2): an
 * unprivileged thread may only raise its nice value). Without either, the primary never yields: a governance plane
 * stuck below the workers would fall behind under load and refuse audited operations.
 *
 * Linux only: a thread's nice value is per thread there (setpriority(PRIO_PROCESS, tid)), and /proc/self/task lists
 * the threads, the embedded database's included. Elsewhere the primary never yields.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { Logger } from '../common/log.js';

/** The highest nice value on Linux (setpriority(2)); also what "never lower anything" reads as. */
const MAX_NICE = 19;
/** How often the backlog is looked at when no records arrive (an idle node drains and yields again). */
export const PRIORITY_CHECK_INTERVAL_MS = 250;
/**
 * Records that reach the primary this late (their time against the clock when it reads them) say it is not keeping
 * up: they waited in the IPC pipe, where the sink's count does not see them. Workers forward every 10 ms
 * (AUDIT_FORWARD_INTERVAL_MS), so a yielding primary that keeps up reads them well within this.
 */
export const PRIORITY_MAX_LAG_MS = 150;
/**
 * After it comes back, the primary keeps full priority at least this long; each time it has to come back soon after it
 * yielded (within {@link PRIORITY_RECENT_MS}), the hold doubles, up to {@link PRIORITY_HOLD_MAX_MS}. Under a load the
 * primary only just keeps up with at full priority, every yield lets a backlog build up, and the audit quota then
 * refuses operations: a sustained saturation keeps it at full priority instead of flapping.
 */
export const PRIORITY_HOLD_MS = 1_000;
export const PRIORITY_HOLD_MAX_MS = 60_000;
/** A yield that ended sooner than this after it began doubles the next hold. */
export const PRIORITY_RECENT_MS = 10_000;
/** CAP_SYS_NICE (capabilities(7)): the bit in /proc/self/status CapEff. */
const CAP_SYS_NICE = 23n;

/** The threads of this process and their priorities (real: /proc/self/task and setpriority; tests: a fake). */
export interface ThreadPriorities {
  threads(): number[];
  get(tid: number): number;
  set(tid: number, nice: number): void;
}

export const linuxThreads: ThreadPriorities = {
  threads: () => readdirSync('/proc/self/task').map(Number).filter((t) => Number.isSafeInteger(t) && t > 0),
  get: (tid) => getPriority(tid),
  set: (tid, nice) => { setPriority(tid, nice); },
};

/**
 * The lowest nice value this process may set (setpriority(2)): anything with CAP_SYS_NICE, else 20 minus the soft
 * RLIMIT_NICE. `status` and `limits` are the texts of /proc/self/status and /proc/self/limits.
 */
export function lowestNiceAllowed(status: string, limits: string): number {
  const cap = /^CapEff:\s*([0-9a-f]+)\s*$/mi.exec(status)?.[1];
  if (cap !== undefined && ((BigInt(`0x${cap}`) >> CAP_SYS_NICE) & 1n) === 1n) return -20;
  const m = /^Max nice priority\s+(\d+|unlimited)\s/m.exec(limits)?.[1];
  if (m === undefined) return MAX_NICE + 1;
  // RLIMIT_NICE's ceiling is 20 - rlim_cur, so "unlimited" (or anything >= 40) allows every value.
  return m === 'unlimited' ? -20 : Math.max(-20, 20 - Number(m));
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export interface GovernancePriorityOptions {
  /** The nice value of a yielding primary (1..MAX_NICE; 0 never yields). */
  readonly yieldNice: number;
  /** Records waiting in the audit sink at or above which the primary stops yielding. */
  readonly highWater: number;
  /** Records waiting at or below which it yields again. */
  readonly lowWater: number;
  readonly logger?: Logger;
  /** Default {@link PRIORITY_MAX_LAG_MS}. */
  readonly maxLagMs?: number;
  /** Default {@link PRIORITY_HOLD_MS}. */
  readonly holdMs?: number;
  /** Milliseconds clock (tests). */
  readonly now?: () => number;
  /** Default {@link linuxThreads} on Linux. */
  readonly threads?: ThreadPriorities;
  /** The lowest nice value allowed (default: read from /proc/self on Linux). */
  readonly lowestAllowed?: number;
}

/** Whether the primary yields now, and how often it switched (tests; nothing reports it yet). */
export interface PriorityState {
  readonly yielding: boolean;
  readonly switches: number;
}

/**
 * Switches the primary's threads between their own priority and `yieldNice` on the audit backlog it is told
 * ({@link update}); {@link close} puts every thread back.
 */
export class GovernancePriority {
  readonly #threads: ThreadPriorities;
  readonly #opts: GovernancePriorityOptions;
  /** Each thread's own nice value, as found the first time it was lowered. */
  readonly #base = new Map<number, number>();
  readonly #enabled: boolean;
  /** The nice value of the thread that built this (threads started while yielding go back to it). */
  readonly #own: number;
  #yielding = false;
  #heldUntil = 0;
  /** The current hold (doubles on quick returns; see PRIORITY_HOLD_MS). */
  #hold = 0;
  #yieldedAt = -Infinity;
  #switches = 0;
  #closed = false;

  constructor(opts: GovernancePriorityOptions) {
    if (!(opts.lowWater >= 0 && opts.highWater > opts.lowWater)) throw new RangeError('governance priority: lowWater must be below highWater');
    this.#opts = opts;
    this.#threads = opts.threads ?? linuxThreads;
    const linux = opts.threads !== undefined || process.platform === 'linux';
    const lowest = opts.lowestAllowed ?? (linux ? lowestNiceAllowed(readOr('/proc/self/status'), readOr('/proc/self/limits')) : MAX_NICE + 1);
    let own: number;
    try {
      own = this.#threads.get(0);
    } catch {
      own = MAX_NICE;
    }
    this.#own = own;
    this.#enabled = linux && opts.yieldNice > own && lowest <= own;
    if (opts.yieldNice > 0 && !this.#enabled) {
      opts.logger?.info('governance priority: the primary does not yield to the KMIP workers', {
        reason: !linux ? 'not Linux' : opts.yieldNice <= own ? `it already runs at nice ${String(own)}` : `it could not return to nice ${String(own)} (needs CAP_SYS_NICE or RLIMIT_NICE; lowest allowed ${String(lowest)})`,
      });
    }
    this.update(0);
  }

  get state(): PriorityState {
    return { yielding: this.#yielding, switches: this.#switches };
  }

  /**
   * The audit sink holds `pending` records, and the records just read waited `lagMs` on their way: stop yielding at
   * the high-water mark or at {@link PRIORITY_MAX_LAG_MS}; yield again at the low-water mark, once the hold is over.
   */
  update(pending: number, lagMs = 0): void {
    if (!this.#enabled || this.#closed) return;
    const now = (this.#opts.now ?? Date.now)();
    if (this.#yielding) {
      if (pending >= this.#opts.highWater || lagMs >= (this.#opts.maxLagMs ?? PRIORITY_MAX_LAG_MS)) {
        const base = this.#opts.holdMs ?? PRIORITY_HOLD_MS;
        this.#hold = now - this.#yieldedAt < PRIORITY_RECENT_MS ? Math.min(Math.max(base, this.#hold * 2), PRIORITY_HOLD_MAX_MS) : base;
        this.#heldUntil = now + this.#hold;
        this.#apply(false);
      }
    } else if (pending <= this.#opts.lowWater && now >= this.#heldUntil) {
      this.#yieldedAt = now;
      this.#apply(true);
    }
  }

  /**
   * Runs `fn` with the calling thread at its own priority: a process forked now (a KMIP worker) inherits the forking
   * thread's nice value (setpriority(2)), and a worker must not start below the primary.
   */
  atOwnPriority<T>(fn: () => T): T {
    if (!this.#yielding) return fn();
    this.#threads.set(0, this.#own);
    try {
      return fn();
    } finally {
      this.#threads.set(0, this.#opts.yieldNice);
    }
  }

  /** Every thread back at its own priority; no more switches. */
  close(): void {
    if (this.#closed) return;
    if (this.#yielding) this.#apply(false);
    this.#closed = true;
  }

  #apply(yielding: boolean): void {
    let failed: unknown;
    // Every thread of the process, as listed now: the embedded database's thread and those started since the last
    // switch included. A thread that ended meanwhile (ESRCH) is skipped.
    for (const tid of this.#threads.threads()) {
      try {
        if (yielding) {
          if (!this.#base.has(tid)) this.#base.set(tid, this.#threads.get(tid));
          this.#threads.set(tid, this.#opts.yieldNice);
        } else {
          this.#threads.set(tid, this.#base.get(tid) ?? this.#own);
        }
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'ESRCH') failed ??= e;
      }
    }
    this.#yielding = yielding;
    this.#switches++;
    if (failed !== undefined) {
      // Cannot happen with the check in the constructor; if it does, stop switching rather than risk staying low.
      this.#opts.logger?.warn('governance priority: a thread\'s priority could not be changed; the primary stops yielding', { error: failed instanceof Error ? failed.message : 'unknown' });
      if (yielding) this.#apply(false);
      this.#closed = true;
    } else {
      // Restored: each thread's own value is read again at the next yield (threads come and go).
      if (!yielding) this.#base.clear();
      this.#opts.logger?.debug(yielding ? 'governance priority: yielding to the KMIP workers' : 'governance priority: audit backlog, back at full priority', { nice: yielding ? this.#opts.yieldNice : 'own' });
    }
  }
}
