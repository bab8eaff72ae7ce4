/**
 * The memory guarantees of the native key slots (issue 3 acceptance), each proven in a child process
 * (test/helpers/native-child.ts) because the arena is per process and some proofs end in a fault:
 * - the slot pages are locked: VmLck in /proc/self/status grows by the arena;
 * - they are excluded from core dumps: the `dd` flag in /proc/self/smaps (and `lo`, locked);
 * - a freed slot reads back as zeros through the debug-only hook;
 * - the guard pages fault (SIGSEGV);
 * - keys generated or opened into slots never appear in a V8 heap snapshot;
 * - a failed mlock() stops start-up with a message naming the limit and the fix, unless allowed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const child = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../helpers/native-child.js');
const isRoot = process.getuid?.() === 0;

/** Run a scenario: `[...wrap] node [...nodeArgs] native-child.js scenario [...extra]`. */
function run(scenario: string, opts: { env?: Record<string, string>; wrap?: string[]; nodeArgs?: string[]; extra?: string[] } = {}) {
  const [cmd, ...pre] = opts.wrap ?? [process.execPath];
  const args = [...pre, ...(opts.wrap === undefined ? [] : [process.execPath]), ...(opts.nodeArgs ?? []), child, scenario, ...(opts.extra ?? [])];
  const env: NodeJS.ProcessEnv = { ...process.env, OPENKCM_NATIVE_DEBUG: '1', ...opts.env };
  delete env.OPENKCM_ALLOW_UNLOCKED_MEMORY;
  if (opts.env?.OPENKCM_ALLOW_UNLOCKED_MEMORY !== undefined) env.OPENKCM_ALLOW_UNLOCKED_MEMORY = opts.env.OPENKCM_ALLOW_UNLOCKED_MEMORY;
  const r = spawnSync(cmd!, args, { env, encoding: 'utf8', timeout: 60_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { status: r.status, signal: r.signal, stderr: r.stderr, json: line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : undefined };
}

describe('native key-slot memory, proven in child processes', () => {
  test('the arena is locked (VmLck grows by it), non-dumpable (dd), wiped on fork (wf) and fenced by guard pages', () => {
    const r = run('lock');
    assert.equal(r.status, 0, r.stderr);
    const j = r.json!;
    const info = j.info as { locked: boolean; arenaBytes: number };
    assert.equal(info.locked, true);
    assert.equal(info.arenaBytes, 4096 * 64 + 64 * 256);
    assert.ok((j.after as number) - (j.before as number) >= info.arenaBytes / 1024, `VmLck ${String(j.before)} kB → ${String(j.after)} kB, arena ${info.arenaBytes} B`);
    const vma = j.vma as { flags: string[]; perms: string; start: string; end: string };
    assert.ok(vma.flags.includes('dd'), `VmFlags ${vma.flags.join(' ')} lacks dd (MADV_DONTDUMP)`);
    assert.ok(vma.flags.includes('lo'), `VmFlags ${vma.flags.join(' ')} lacks lo (mlock)`);
    assert.ok(vma.flags.includes('wf'), `VmFlags ${vma.flags.join(' ')} lacks wf (MADV_WIPEONFORK)`);
    assert.equal(vma.perms, 'rw-p');
    assert.equal(BigInt(`0x${vma.end}`) - BigInt(`0x${vma.start}`), BigInt(info.arenaBytes), 'the VMA is exactly the arena');
    // The mappings just below and above are the PROT_NONE guard pages.
    const prev = j.prev as { perms: string; end: string };
    const next = j.next as { perms: string; start: string };
    assert.equal(prev.perms, '---p');
    assert.equal(prev.end, vma.start);
    assert.equal(next.perms, '---p');
    assert.equal(next.start, vma.end);
  });

  test('a freed slot reads back as zeros (debug hook), also after unwrap and a failed open', () => {
    const r = run('zeroise');
    assert.equal(r.status, 0, r.stderr);
    const j = r.json!;
    assert.equal(j.live, 'a5'.repeat(32) + '00'.repeat(32), 'the live cell holds the key');
    assert.equal(j.freed, '00'.repeat(j.cell as number));
    assert.equal(j.failedOpen, true);
    assert.equal(j.uLive, '3c'.repeat(32) + '00'.repeat(32));
    assert.equal(j.uFreed, '00'.repeat(64));
  });

  for (const which of ['before', 'after'] as const) {
    test(`touching the guard page ${which} the arena kills the process with SIGSEGV`, () => {
      const r = run(`guard-${which}`);
      assert.equal(r.signal, 'SIGSEGV', `status ${String(r.status)} signal ${String(r.signal)} ${r.stderr}`);
    });
  }

  test('a SecureKey collected without destroy() is freed and zeroised by the FinalizationRegistry backstop', () => {
    const r = run('finalizer', { nodeArgs: ['--expose-gc'] });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.json, { before: 8, after: 0, allZero: true });
  });

  test('without OPENKCM_NATIVE_DEBUG=1 the debug hooks do not exist', () => {
    const r = run('zeroise', { env: { OPENKCM_NATIVE_DEBUG: '0' } });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /native debug hooks are off/);
  });

  test('keys generated or opened into slots never appear in a V8 heap snapshot', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'okcm-heap-'));
    try {
      const r = run('heap-snapshot', { extra: [path.join(dir, 'after-use.heapsnapshot')] });
      assert.equal(r.status, 0, r.stderr);
      const j = r.json as { file: string; control: string; l2: string; l3: string };
      const snap = readFileSync(j.file);
      const text = snap.toString('latin1');
      // The control proves the search can find a secret that is in the heap.
      assert.ok(text.includes(j.control), 'the control secret must be found in the snapshot');
      for (const [name, keyHex] of [['L2', j.l2], ['L3', j.l3]] as const) {
        const raw = Buffer.from(keyHex, 'hex');
        assert.equal(text.includes(keyHex), false, `${name} as hex`);
        assert.equal(text.includes(keyHex.toUpperCase()), false, `${name} as HEX`);
        assert.equal(text.includes(raw.toString('base64')), false, `${name} as base64`);
        assert.equal(snap.includes(raw), false, `${name} raw bytes`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // RLIMIT_MEMLOCK binds only without CAP_IPC_LOCK: as root, drop the capability for the child.
  const lowLimit = ['prlimit', '--memlock=4096:4096', ...(isRoot ? ['setpriv', '--bounding-set', '-ipc_lock', '--inh-caps', '-ipc_lock'] : [])];

  test('a failed mlock() refuses to start, naming RLIMIT_MEMLOCK and the fixes', () => {
    const r = run('init', { wrap: lowLimit });
    assert.equal(r.status, 0, r.stderr);
    const j = r.json!;
    assert.equal(j.ok, false);
    assert.equal(j.code, 'MLOCK_FAILED');
    const m = j.message as string;
    assert.match(m, /RLIMIT_MEMLOCK is soft 4096/);
    assert.match(m, /LimitMEMLOCK=/);
    assert.match(m, /CAP_IPC_LOCK/);
    assert.match(m, /ulimit -l/);
    assert.match(m, /OPENKCM_ALLOW_UNLOCKED_MEMORY=1/);
  });

  test('OPENKCM_ALLOW_UNLOCKED_MEMORY=1 runs unlocked, with a warning', () => {
    const r = run('init', { wrap: lowLimit, env: { OPENKCM_ALLOW_UNLOCKED_MEMORY: '1' } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.json, { ok: true, locked: false, strict: 'MLOCK_FAILED' });
    assert.match(r.stderr, /OPENKCM_UNLOCKED_MEMORY/);
  });

  test('an addon that is not built gives UNAVAILABLE with the build command', () => {
    const r = run('unbuilt', { env: { OPENKCM_NATIVE_ADDON: '/nonexistent/openkcm_native.node' } });
    assert.equal(r.status, 0, r.stderr);
    const j = r.json!;
    assert.equal(j.code, 'UNAVAILABLE');
    assert.match(j.message as string, /not built: \/nonexistent\/openkcm_native\.node does not exist.*npm ci/);
  });
});
