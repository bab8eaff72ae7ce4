/**
 * Idle memory of a bench target (issue 14: idle resident memory of `openkcm serve` ≤ 300 MiB): the proportional
 * set size (PSS) of the process and every descendant (the KMIP workers, PGlite's initdb child while it lives), read
 * from /proc. PSS, not RSS: the workers share the node binary's pages with the primary, and RSS would count them
 * once per process. Linux only; elsewhere undefined.
 */
import { processTree, readOr } from './proc.js';

/** PSS in KiB of `pid` and its descendants, with each process's own figure; undefined where /proc is not Linux's. */
export function processTreePss(pid: number): { readonly totalKiB: number; readonly perProcessKiB: readonly number[] } | undefined {
  if (readOr(`/proc/${String(pid)}/smaps_rollup`) === undefined) return undefined;
  const perProcessKiB: number[] = [];
  for (const p of processTree(pid) ?? []) {
    const rollup = readOr(`/proc/${String(p)}/smaps_rollup`);
    const m = rollup === undefined ? null : /^Pss:\s+(\d+) kB/m.exec(rollup);
    if (m !== null) perProcessKiB.push(Number(m[1]));
  }
  return { totalKiB: perProcessKiB.reduce((a, b) => a + b, 0), perProcessKiB };
}
