// Polling for what a running node does in its own time (a health check, a NOTIFY, a worker's restart): the one
// `until` of the integration tests. Bounds here are bounds on a hang, not timing assertions, unless a test passes
// the bound it asserts (issue 18's 5 s revocation) and reads the time `msUntil` reports.
import { performance } from 'node:perf_hooks';

/** Polls `probe` until it returns a value; a wait longer than `giveUpMs` is a failure, not a slow result. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, giveUpMs = 20_000, everyMs = 25): Promise<T> {
  const giveUp = performance.now() + giveUpMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > giveUp) throw new Error(`${what}: not seen within ${String(giveUpMs)} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** How long (ms) it took `probe` to say yes; not within `boundMs` is a failure. */
export async function msUntil(what: string, boundMs: number, probe: () => Promise<boolean> | boolean): Promise<number> {
  const t0 = performance.now();
  await until(what, async () => ((await probe()) ? true : undefined), boundMs, 50);
  return performance.now() - t0;
}
