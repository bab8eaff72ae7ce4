/**
 * A bench target's processes as /proc sees them (Linux only): the process and every descendant (`openkcm serve`'s
 * KMIP workers, PGlite's initdb child while it lives), and the CPU time they used. The comparisons share one machine
 * with their load generator, so a target's throughput depends on how much CPU the generator leaves it; CPU per
 * operation of each side says what each one costs whatever the other takes (docs/performance.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * The unit of utime and stime in /proc/PID/stat: USER_HZ, which Linux fixes at 100 for user space on every
 * architecture it exports /proc on (proc(5), "clock ticks"; sysconf(_SC_CLK_TCK)).
 */
export const CLOCK_TICKS_PER_S = 100;

export function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // the process exited between listing and reading
  }
}

/** The fields of /proc/PID/stat after the parenthesised command name (which may hold spaces): field 3 first. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The parent pid of every live process (field 4 of /proc/PID/stat). */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readOr(`/proc/${name}/stat`);
    if (stat === undefined) continue;
    out.set(Number(name), Number(statFields(stat)[1]));
  }
  return out;
}

/** `pid` and its live descendants, parents before children; undefined where /proc is not Linux's. */
export function processTree(pid: number): number[] | undefined {
  if (readOr(`/proc/${String(pid)}/stat`) === undefined) return undefined;
  const byParent = new Map<number, number[]>();
  for (const [child, parent] of parents()) {
    const list = byParent.get(parent);
    if (list === undefined) byParent.set(parent, [child]);
    else list.push(child);
  }
  const out: number[] = [];
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    out.push(p);
    queue.push(...(byParent.get(p) ?? []));
  }
  return out;
}

/**
 * CPU time, user plus system, of every thread of the processes `pids` (utime and stime, fields 14 and 15 of
 * /proc/PID/stat, count all of a process's threads), in milliseconds since each started. Resolution 10 ms per
 * process; a pid that is gone counts 0.
 */
export function cpuMsOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const p of pids) {
    const stat = readOr(`/proc/${String(p)}/stat`);
    if (stat === undefined) continue;
    const f = statFields(stat);
    // statFields starts at field 3: utime (14) and stime (15) are at 11 and 12.
    ticks += Number(f[11]) + Number(f[12]);
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}

/** {@link cpuMsOf} `pid` and its live descendants; undefined where /proc is not Linux's or `pid` is gone. */
export function processTreeCpuMs(pid: number): number | undefined {
  const tree = processTree(pid);
  return tree === undefined ? undefined : cpuMsOf(tree);
}

/**
 * CPU time per successful operation (batch item) over the measured window, µs, every thread counted: the target's
 * process tree (null without LoadOptions.serverPid (load.ts) or off Linux) and this load generator's process. On a
 * machine the two share, throughput says how the CPU was split; these say what one operation costs each side.
 */
export interface CpuPerOp {
  readonly server_us: number | null;
  readonly generator_us: number;
}

/** Samples CPU at the start of the measured window (a timer) and at its end; see {@link CpuPerOp}. */
export class CpuWindow {
  /** The target's processes, listed once before the load: /proc is walked at neither sample. */
  readonly #pids: readonly number[] | undefined;
  #timer: NodeJS.Timeout | undefined;
  #generator0: NodeJS.CpuUsage | undefined;
  #server0 = 0;

  constructor(serverPid: number | undefined) {
    this.#pids = serverPid === undefined ? undefined : processTree(serverPid);
  }

  /** Takes the first sample at `at` (performance.now() time). */
  startAt(at: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#generator0 = process.cpuUsage();
      if (this.#pids !== undefined) this.#server0 = cpuMsOf(this.#pids);
    }, Math.max(0, at - performance.now()));
  }

  /** The second sample; null when the window never started or no operation succeeded. */
  finish(ops: number): CpuPerOp | null {
    this.cancel();
    const g0 = this.#generator0;
    if (g0 === undefined || ops <= 0) return null;
    const g = process.cpuUsage(g0);
    const server = this.#pids === undefined ? null : ((cpuMsOf(this.#pids) - this.#server0) * 1000) / ops;
    return { server_us: server === null ? null : Math.round(server * 10) / 10, generator_us: Math.round(((g.user + g.system) / ops) * 10) / 10 };
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
