/**
 * Idle memory of a bench target (issue 14: idle resident memory of `openkcm serve` ≤ 300 MiB): the proportional
 * set size (PSS) of the process and every descendant (the KMIP workers, PGlite's initdb child while it lives), read
 * from /proc. PSS, not RSS: the workers share the node binary's pages with the primary, and RSS would count them
 * once per process. Linux only; elsewhere undefined.
 */
import { readdirSync, readFileSync } from 'node:fs';

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // the process exited between listing and reading
  }
}

/** The parent pid of every live process (field 4 of /proc/PID/stat, after the parenthesised command name). */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readOr(`/proc/${name}/stat`);
    if (stat === undefined) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    out.set(Number(name), ppid);
  }
  return out;
}

/** PSS in KiB of `pid` and its descendants, with each process's own figure; undefined where /proc is not Linux's. */
export function processTreePss(pid: number): { readonly totalKiB: number; readonly perProcessKiB: readonly number[] } | undefined {
  if (readOr(`/proc/${String(pid)}/smaps_rollup`) === undefined) return undefined;
  const byParent = new Map<number, number[]>();
  for (const [child, parent] of parents()) byParent.set(parent, [...(byParent.get(parent) ?? []), child]);
  const perProcessKiB: number[] = [];
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    const rollup = readOr(`/proc/${String(p)}/smaps_rollup`);
    const m = rollup === undefined ? null : /^Pss:\s+(\d+) kB/m.exec(rollup);
    if (m !== null) perProcessKiB.push(Number(m[1]));
    queue.push(...(byParent.get(p) ?? []));
  }
  return { totalKiB: perProcessKiB.reduce((a, b) => a + b, 0), perProcessKiB };
}
