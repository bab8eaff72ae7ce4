/**
 * A bench target's processes and their CPU time, read from /proc (src/bench/proc.ts): what `bench compare` reports as
 * CPU per operation of each target and of its load generator (docs/performance.md).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpuMsOf, processTree, processTreeCpuMs } from '../../src/bench/proc.js';

/** Spins this thread until it has used `ms` of CPU (process.cpuUsage, the kernel's own count). */
function burn(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const u = process.cpuUsage(start);
    if ((u.user + u.system) / 1000 >= ms) return;
  }
}

describe('bench /proc readings', () => {
  test('cpuMsOf this process follows the CPU it uses, to the 10 ms tick', () => {
    const before = cpuMsOf([process.pid]);
    const cpu0 = process.cpuUsage();
    burn(300);
    const used = process.cpuUsage(cpu0);
    const delta = cpuMsOf([process.pid]) - before;
    const expected = (used.user + used.system) / 1000;
    // Two samples of a 10 ms counter, and this process's other threads (GC helpers) count in /proc as well.
    assert.ok(Math.abs(delta - expected) <= 40, `/proc said ${String(delta)} ms, process.cpuUsage ${String(expected)} ms`);
  });

  test('a process tree holds the children, and their CPU counts in the tree\'s', async () => {
    // A child that burns ~250 ms of CPU and then waits to be killed.
    const child = spawn(process.execPath, ['-e', 'const s=process.cpuUsage();for(;;){const u=process.cpuUsage(s);if(u.user+u.system>=250000)break}process.stdout.write("ready\\n");setInterval(()=>{},1000)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(child.stdout, 'data');
      const pid = child.pid;
      assert.ok(pid !== undefined);
      assert.ok(processTree(process.pid)?.includes(pid), 'the child is in this process\'s tree');
      assert.deepEqual(processTree(pid), [pid]);
      const childMs = processTreeCpuMs(pid);
      assert.ok(childMs !== undefined && childMs >= 230, `child CPU ${String(childMs)} ms`);
      const own = cpuMsOf([process.pid]);
      const tree = processTreeCpuMs(process.pid);
      assert.ok(tree !== undefined && tree >= own + childMs - 20, `tree ${String(tree)} vs own ${String(own)} + child ${String(childMs)}`);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  test('a pid that is gone: no tree, and it counts 0', async () => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await once(child, 'exit');
    const pid = child.pid;
    assert.ok(pid !== undefined);
    assert.equal(processTree(pid), undefined);
    assert.equal(processTreeCpuMs(pid), undefined);
    assert.equal(cpuMsOf([pid]), 0);
  });
});
