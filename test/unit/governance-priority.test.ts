/**
 * The primary's priority follows its audit backlog (src/appliance/governance-priority.ts): it yields to the KMIP
 * workers while the backlog is small, comes back at the high-water mark and yields again only below the low one; a
 * process that could not come back never yields. The last tests run real threads in child processes: as root, and as
 * an unprivileged user with and without CAP_SYS_NICE. (RLIMIT_NICE, the other way back, cannot be raised here: this
 * machine's root lacks CAP_SYS_RESOURCE; lowestNiceAllowed's parsing of it is checked above.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GovernancePriority, lowestNiceAllowed } from '../../src/appliance/governance-priority.js';
import type { ThreadPriorities } from '../../src/appliance/governance-priority.js';

class FakeThreads implements ThreadPriorities {
  readonly nice = new Map<number, number>();
  readonly calls: [number, number][] = [];
  /** The calling thread (tid 0 in setpriority(2)). */
  self = 1;
  failWith: string | undefined;
  constructor(tids: readonly number[], start = 0) {
    for (const t of tids) this.nice.set(t, start);
  }
  threads(): number[] {
    return [...this.nice.keys()];
  }
  get(tid: number): number {
    const n = this.nice.get(tid === 0 ? this.self : tid);
    if (n === undefined) throw Object.assign(new Error('no such thread'), { code: 'ESRCH' });
    return n;
  }
  set(tid: number, nice: number): void {
    if (this.failWith !== undefined) throw Object.assign(new Error(this.failWith), { code: this.failWith });
    const t = tid === 0 ? this.self : tid;
    if (!this.nice.has(t)) throw Object.assign(new Error('no such thread'), { code: 'ESRCH' });
    this.calls.push([t, nice]);
    this.nice.set(t, nice);
  }
  values(): number[] {
    return [...this.nice.values()];
  }
}

const opts = (threads: ThreadPriorities, extra: Partial<ConstructorParameters<typeof GovernancePriority>[0]> = {}): ConstructorParameters<typeof GovernancePriority>[0] =>
  ({ yieldNice: 10, highWater: 100, lowWater: 20, threads, lowestAllowed: -20, holdMs: 0, ...extra });

test('lowestNiceAllowed: CAP_SYS_NICE allows every value; otherwise 20 minus the soft RLIMIT_NICE', () => {
  const limits = (soft: string): string => `Limit                     Soft Limit           Hard Limit           Units\nMax nice priority         ${soft}                    ${soft}                    \nMax realtime priority     0                    0                    \n`;
  // CapEff bit 23 (CAP_SYS_NICE): root's full set, and CAP_SYS_NICE alone.
  assert.equal(lowestNiceAllowed('Name:\tnode\nCapEff:\t000001ffffffffff\n', limits('0')), -20);
  assert.equal(lowestNiceAllowed('CapEff:\t0000000000800000\n', limits('0')), -20);
  // CAP_IPC_LOCK only (the appliance's capability): the rlimit decides.
  assert.equal(lowestNiceAllowed('CapEff:\t0000000000004000\n', limits('0')), 20);
  assert.equal(lowestNiceAllowed('CapEff:\t0000000000000000\n', limits('20')), 0);
  assert.equal(lowestNiceAllowed('CapEff:\t0000000000000000\n', limits('25')), -5);
  assert.equal(lowestNiceAllowed('CapEff:\t0000000000000000\n', limits('unlimited')), -20);
  // Unreadable /proc: never lower anything.
  assert.equal(lowestNiceAllowed('', ''), 20);
});

test('yields at once, comes back at the high-water mark, yields again only at the low one', () => {
  const t = new FakeThreads([1, 2, 3]);
  const p = new GovernancePriority(opts(t));
  assert.deepEqual(t.values(), [10, 10, 10]);
  assert.deepEqual(p.state, { yielding: true, switches: 1 });
  p.update(99);
  assert.equal(p.state.yielding, true, 'below the high-water mark it keeps yielding');
  p.update(100);
  assert.deepEqual(t.values(), [0, 0, 0]);
  assert.equal(p.state.yielding, false);
  p.update(50);
  p.update(21);
  assert.equal(p.state.yielding, false, 'between the marks it stays at full priority (hysteresis)');
  p.update(20);
  assert.deepEqual(t.values(), [10, 10, 10]);
  assert.deepEqual(p.state, { yielding: true, switches: 3 });
  p.close();
  assert.deepEqual(t.values(), [0, 0, 0]);
  p.update(0);
  assert.deepEqual(t.values(), [0, 0, 0], 'closed: no more switches');
});

test('records that waited too long bring it back, and it keeps full priority for the hold time', () => {
  const t = new FakeThreads([1, 2]);
  let clock = 1_000;
  const p = new GovernancePriority(opts(t, { maxLagMs: 100, holdMs: 1_000, now: () => clock }));
  p.update(0, 99);
  assert.equal(p.state.yielding, true, 'a lag under the bound changes nothing');
  p.update(0, 100);
  assert.equal(p.state.yielding, false, 'a starved primary reads records late although its queue is short');
  assert.deepEqual(t.values(), [0, 0]);
  clock += 999;
  p.update(0);
  assert.equal(p.state.yielding, false, 'held');
  clock += 1;
  p.update(0);
  assert.equal(p.state.yielding, true);
  p.update(150);
  clock += 5_000;
  p.update(21);
  assert.equal(p.state.yielding, false, 'after the hold, the low-water mark still decides');
  p.update(20);
  assert.equal(p.state.yielding, true);
});

test('coming back soon after each yield doubles the hold (sustained saturation stays at full priority); a long yield resets it', () => {
  const t = new FakeThreads([1]);
  let clock = 100_000;
  const p = new GovernancePriority(opts(t, { holdMs: 1_000, now: () => clock }));
  const holds: number[] = [];
  for (let i = 0; i < 8; i++) {
    p.update(1_000); // back at full priority
    const from = clock;
    while (!p.state.yielding) {
      clock += 100;
      p.update(0);
    }
    holds.push(clock - from);
  }
  assert.deepEqual(holds, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  clock += 20_000; // a yield that lasted: the next hold is the base again
  p.update(1_000);
  const from = clock;
  while (!p.state.yielding) {
    clock += 100;
    p.update(0);
  }
  assert.equal(clock - from, 1_000);
});

test('each thread goes back to its own value; a thread started while yielding goes back to the primary\'s', () => {
  const t = new FakeThreads([1, 2], 3);
  t.nice.set(2, 5);
  const p = new GovernancePriority(opts(t));
  assert.deepEqual(t.values(), [10, 10]);
  t.nice.set(7, 10); // started by a yielding thread: inherited nice 10
  t.nice.delete(2); // ended meanwhile: skipped (ESRCH is never an error here)
  p.update(1_000);
  assert.deepEqual([...t.nice], [[1, 3], [7, 3]]);
  p.close();
});

test('atOwnPriority: a worker is forked at the primary\'s own priority, then the thread yields again', () => {
  const t = new FakeThreads([1, 2]);
  const p = new GovernancePriority(opts(t));
  let seen: number | undefined;
  const r = p.atOwnPriority(() => { seen = t.nice.get(1); return 42; });
  assert.equal(r, 42);
  assert.equal(seen, 0);
  assert.equal(t.nice.get(1), 10);
  assert.throws(() => p.atOwnPriority(() => { throw new Error('fork failed'); }), /fork failed/);
  assert.equal(t.nice.get(1), 10);
  p.update(100);
  p.atOwnPriority(() => { seen = t.nice.get(1); });
  assert.equal(seen, 0);
  assert.equal(t.nice.get(1), 0, 'at full priority it changes nothing');
});

test('never yields when it could not come back, when yieldNice is 0, or when it already runs that low', () => {
  const logs: string[] = [];
  const logger = { debug: () => undefined, info: (m: string, f?: unknown) => { logs.push(`${m} ${JSON.stringify(f)}`); }, warn: () => undefined, error: () => undefined } as never;
  const cases: [number, number, number][] = [[10, 20, 0], [0, -20, 0], [10, -20, 12]];
  for (const [yieldNice, lowestAllowed, start] of cases) {
    const t = new FakeThreads([1, 2], start);
    const p = new GovernancePriority(opts(t, { yieldNice, lowestAllowed, logger }));
    p.update(0);
    p.update(1_000);
    assert.equal(t.calls.length, 0, `yieldNice ${String(yieldNice)}, lowest ${String(lowestAllowed)}, start ${String(start)}`);
    assert.equal(p.state.yielding, false);
  }
  assert.match(logs[0] ?? '', /could not return to nice 0 .*CAP_SYS_NICE or RLIMIT_NICE/);
  assert.match(logs[1] ?? '', /already runs at nice 12/);
});

test('a thread that refuses the change stops the switching, back at full priority', () => {
  const warned: string[] = [];
  const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => { warned.push(m); }, error: () => undefined } as never;
  const t = new FakeThreads([1, 2]);
  const p = new GovernancePriority(opts(t, { logger }));
  t.failWith = 'EACCES';
  p.update(1_000);
  assert.equal(p.state.yielding, false);
  assert.match(warned[0] ?? '', /stops yielding/);
  t.failWith = undefined;
  p.update(0);
  assert.equal(p.state.yielding, false, 'no more switches after a failure');
});

test('the marks are checked', () => {
  const t = new FakeThreads([1]);
  assert.throws(() => new GovernancePriority(opts(t, { highWater: 10, lowWater: 10 })), RangeError);
  assert.throws(() => new GovernancePriority(opts(t, { highWater: 10, lowWater: -1 })), RangeError);
});

// ---- real threads, in child processes (the test runner's own priority is never touched) ------------------------

const MODULE = fileURLToPath(new URL('../../src/appliance/governance-priority.js', import.meta.url));

/** Runs a child that yields (real /proc/self/task, real setpriority), then reads every thread's nice value. */
function childNice(spawnOpts: { user?: number; capSysNice?: boolean }): { yielding: number[]; back: number[]; state: unknown } {
  const script = `
    const { readdirSync, readFileSync } = require('node:fs');
    const { Worker } = require('node:worker_threads');
    const nices = () => readdirSync('/proc/self/task').map((t) => Number(readFileSync('/proc/self/task/' + t + '/stat', 'utf8').split(') ')[1].split(' ')[16]));
    (async () => {
      const { GovernancePriority } = await import(${JSON.stringify(MODULE)});
      // A second thread of our own, as PGlite's is in the primary.
      const w = new Worker('setInterval(() => {}, 1000)', { eval: true });
      await new Promise((r) => w.once('online', r));
      const p = new GovernancePriority({ yieldNice: 10, highWater: 100, lowWater: 20 });
      const yielding = nices();
      p.update(1000);
      const back = nices();
      process.stdout.write(JSON.stringify({ yielding, back, state: p.state }));
      p.close();
      await w.terminate();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  // setpriv drops to the user, and with it every capability but CAP_SYS_NICE when asked (ambient, as a systemd unit's
  // AmbientCapabilities= would keep it); RLIMIT_NICE stays at its default 0 (only raising nice values is allowed).
  const caps = spawnOpts.capSysNice === true ? ['--inh-caps=+sys_nice', '--ambient-caps=+sys_nice'] : [];
  const args = [
    ...(spawnOpts.user === undefined ? [] : ['setpriv', `--reuid=${String(spawnOpts.user)}`, `--regid=${String(spawnOpts.user)}`, '--clear-groups', ...caps]),
    process.execPath, '-e', script,
  ];
  const r = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { yielding: number[]; back: number[]; state: unknown };
}

const isRoot = process.getuid?.() === 0 && process.platform === 'linux';
const NOBODY = 65534;

test('real threads: every thread of the process yields and comes back (CAP_SYS_NICE)', { skip: !isRoot && 'needs root to spawn as other users' }, () => {
  const r = childNice({});
  assert.ok(r.yielding.length >= 3, `threads: ${JSON.stringify(r.yielding)}`);
  assert.ok(r.yielding.every((n) => n === 10), JSON.stringify(r.yielding));
  assert.ok(r.back.every((n) => n === 0), JSON.stringify(r.back));
});

test('real threads, unprivileged: with CAP_SYS_NICE it yields and comes back; without it (RLIMIT_NICE 0), it never yields', { skip: !isRoot && 'needs root to spawn as other users' }, () => {
  const allowed = childNice({ user: NOBODY, capSysNice: true });
  assert.ok(allowed.yielding.every((n) => n === 10), JSON.stringify(allowed.yielding));
  assert.ok(allowed.back.every((n) => n === 0), JSON.stringify(allowed.back));
  const refused = childNice({ user: NOBODY });
  assert.ok(refused.yielding.every((n) => n === 0), `never lowered: ${JSON.stringify(refused.yielding)}`);
  assert.deepEqual(refused.state, { yielding: false, switches: 0 });
});
