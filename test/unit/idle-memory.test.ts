/**
 * Idle memory (issue 14: idle resident memory of `openkcm serve` ≤ 300 MiB): releaseFreeHeap gives glibc's free
 * pages back to the kernel, and the idle trimmer calls it after start-up and after each busy stretch, never under
 * load and never twice for one idle stretch.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { releaseIdleMemory, startIdleMemoryTrim } from '../../src/appliance/idle-memory.js';
import { processTreePss } from '../../src/bench/memory.js';

const nativeIndex = fileURLToPath(new URL('../../src/native/index.js', import.meta.url));

describe('releaseFreeHeap', () => {
  test('returns freed C-heap pages that glibc would keep to the kernel', () => {
    // In a child: 64 MiB of 64 KiB Buffers (below glibc's mmap threshold, so they come from the heap arena), every
    // tenth kept so the free ones are holes glibc's automatic top-of-heap trim cannot reach; then gc, then RSS
    // before and after the trim. Without the trim the holes stay resident.
    const script = `
      import { releaseFreeHeap } from ${JSON.stringify(nativeIndex)};
      import { readFileSync } from 'node:fs';
      const rssKb = () => Number(/^VmRSS:\\s+(\\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
      let all = [];
      for (let i = 0; i < 1024; i++) all.push(Buffer.alloc(64 * 1024, 1));
      const kept = all.filter((_b, i) => i % 10 === 0);
      all = undefined;
      for (let i = 0; i < 3; i++) globalThis.gc();
      await new Promise((r) => setTimeout(r, 50));
      const before = rssKb();
      const released = releaseFreeHeap();
      const after = rssKb();
      process.stdout.write(JSON.stringify({ before, after, released, kept: kept.length }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' })) as { before: number; after: number; released: boolean };
    assert.equal(out.released, true);
    // ~57 MiB of holes; allow for what V8 and glibc keep around them.
    assert.ok(out.before - out.after > 32 * 1024, `RSS ${String(out.before)} kB -> ${String(out.after)} kB: expected more than 32 MiB back`);
  });
});

describe('compactJsHeap', () => {
  test('gives back the young generation that load grew and an idle process keeps', () => {
    // In a child: allocation with many survivors grows V8's young generation (up to 16 MiB per semi-space); an idle
    // pause does not shrink it; compactJsHeap does, and the process keeps working (and growing it again).
    const script = `
      import { compactJsHeap } from ${JSON.stringify(nativeIndex)};
      import v8 from 'node:v8';
      const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size >> 10;
      let keep = [];
      for (let i = 0; i < 2_000_000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 100_000) keep = []; }
      keep = undefined;
      await new Promise((r) => setTimeout(r, 300));
      const before = young();
      compactJsHeap();
      const after = young();
      let again = [];
      for (let i = 0; i < 2_000_000; i++) { again.push({ i }); if (again.length > 100_000) again = []; }
      process.stdout.write(JSON.stringify({ before, after, regrown: young() }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { before: number; after: number; regrown: number };
    assert.ok(out.before >= 8 * 1024, `the load grew the young generation: ${String(out.before)} KiB`);
    assert.ok(out.after <= 2 * 1024, `compacted: ${String(out.before)} -> ${String(out.after)} KiB`);
    assert.ok(out.regrown > out.after, `and it grows again under load: ${String(out.regrown)} KiB`);
  });
});

describe('startIdleMemoryTrim', () => {
  const sleep = (ms: number): Promise<void> => new Promise((r) => { setTimeout(r, ms); });
  /** Keeps this event loop busy for `ms` (the utilisation the trimmer samples). */
  const spin = (ms: number): void => { const end = Date.now() + ms; while (Date.now() < end); };

  test('trims once after start-up, not again while idle, once after a busy stretch, never while busy', async () => {
    let calls = 0;
    // A 10% idle bound over 400 ms intervals: a loaded test machine that deschedules this process for a few ms
    // while a timer runs must not read as busy (production: 2% of 30 s).
    const trim = startIdleMemoryTrim(() => { calls++; }, { settleMs: 30, checkMs: 400, idleUtilization: 0.1 });
    try {
      await sleep(200);
      assert.equal(calls, 1, 'after settling');
      await sleep(900); // two idle intervals: nothing new was freed, so no trim
      assert.equal(calls, 1, 'idle');
      // Busy: ~90% of each interval, in slices so the interval timer still runs.
      for (let i = 0; i < 10; i++) { spin(90); await sleep(10); }
      assert.equal(calls, 1, 'busy: no trim under load');
      await sleep(900); // the next quiet interval ends the busy stretch
      assert.equal(calls, 2, 'one trim after the busy stretch');
      await sleep(900);
      assert.equal(calls, 2, 'and only one');
    } finally {
      trim.stop();
    }
  });

  test('a failing trim never throws into the process', async () => {
    let calls = 0;
    const trim = startIdleMemoryTrim(() => { calls++; throw new Error('no addon'); }, { settleMs: 10, checkMs: 1000 });
    await sleep(80);
    trim.stop();
    assert.equal(calls, 1);
  });

  test('the default trim compacts the JS heap and trims the C heap without throwing', () => {
    releaseIdleMemory();
  });

  test('stop() before settling cancels every trim', async () => {
    let calls = 0;
    const trim = startIdleMemoryTrim(() => { calls++; }, { settleMs: 50, checkMs: 50 });
    trim.stop();
    await sleep(200);
    assert.equal(calls, 0);
  });
});

describe('processTreePss (bench compare: idle memory of a target)', () => {
  test('sums the PSS of a process and all its descendants', async () => {
    // A child that starts a grandchild, both idle; the tree is three processes with this one left out.
    const script = "const { spawn } = require('node:child_process'); spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' }); console.log('up'); setTimeout(() => {}, 60000);";
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((r) => { child.stdout.once('data', () => { r(); }); });
      let tree = processTreePss(child.pid!);
      for (let i = 0; i < 50 && (tree?.perProcessKiB.length ?? 0) < 2; i++) {
        await new Promise((r) => { setTimeout(r, 100); });
        tree = processTreePss(child.pid!);
      }
      assert.ok(tree !== undefined);
      assert.equal(tree.perProcessKiB.length, 2, 'the child and its grandchild');
      assert.ok(tree.perProcessKiB.every((k) => k > 1024), `each node process holds more than 1 MiB: ${tree.perProcessKiB.join(', ')}`);
      assert.equal(tree.totalKiB, tree.perProcessKiB.reduce((a, b) => a + b, 0));
      assert.equal(processTreePss(2 ** 22 + 12345), undefined, 'no such process');
    } finally {
      // The grandchild first, by parentage, while it is still the child's.
      spawnSync('pkill', ['-KILL', '-P', String(child.pid)]);
      child.kill('SIGKILL');
    }
  });
});
