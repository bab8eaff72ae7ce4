/**
 * Issue 17 item 8: `openkcm bench` shows a live rate on a terminal and stays quiet when piped. The terminal is stood
 * in for by OPENKCM_PROGRESS=1 (src/cli/progress.ts); piped, stdout carries the result only and stderr nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI_MAIN, startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

function bench(args: readonly string[], env: Readonly<Record<string, string>>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI_MAIN, 'bench', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OPENKCM_PROGRESS: '', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    p.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`bench timed out\n${stderr}`)); }, 60_000);
    p.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

describe('openkcm bench: live rate on a terminal, quiet when piped (issue 17 item 8)', () => {
  let srv: TestServer;
  let dir: string;
  let args: string[];
  before(async () => {
    srv = await startTestServer({ tenants: ['alpha'] });
    dir = await mkdtemp(path.join(tmpdir(), 'openkcm-bench-progress-'));
    const c = srv.clientOptions('alpha');
    await Promise.all([writeFile(path.join(dir, 'ca.pem'), srv.ca), writeFile(path.join(dir, 'c.pem'), String(c.cert)), writeFile(path.join(dir, 'k.pem'), String(c.key))]);
    args = ['--target', `127.0.0.1:${String(srv.port)}`, '--ca', path.join(dir, 'ca.pem'), '--cert', path.join(dir, 'c.pem'), '--key', path.join(dir, 'k.pem'),
      '--op', 'get', '--connections', '1', '--duration', '1.5', '--warmup', '0'];
  });
  after(async () => {
    await srv.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('piped: the result on stdout, no bar, no control characters', async () => {
    const r = await bench(args, {});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ops\/s {2}p50/);
    assert.equal(r.stderr, '');
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(r.stdout, /\x1b|\r/);
  });

  test('terminal: the bar carries the live ops/s rate', async () => {
    const r = await bench(args, { OPENKCM_PROGRESS: '1' });
    assert.equal(r.code, 0, r.stderr);
    // eslint-disable-next-line no-control-regex
    assert.match(r.stderr, /\r\x1b\[Kbench get \[[#-]{24}\] +\d+% \d+s\/2s [\d.k?]+ ops\/s ETA/);
    assert.match(r.stderr, / [1-9][\d.k]* ops\/s/, 'a non-zero rate once operations complete');
  });
});
