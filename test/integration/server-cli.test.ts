/**
 * The CLI contract of docs/cli.md: `openkcm init` (files, refusal without --force), `openkcm
 * serve` (one `listening` line, SIGTERM → exit 0 within 5 s) and `npm start`
 * (scripts/start.mjs: init when needed, then serve).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeCert } from '../../src/pki/dev-pki.js';
import { parseJsonc, validateConfigFile } from '../../src/config/index.js';
import { CLI_MAIN, startTestServer } from '../helpers/server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/integration → the repository root. */
const REPO_ROOT = path.resolve(here, '..', '..', '..');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'openkcm-cli-'));
}

/** Resolves with the first stdout line containing `listening`, and every stdout line seen so far. */
function listeningLine(child: ChildProcess, stdout: { text: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    // A first start initialises the PKI, the MasterKey and the embedded governance database (PGlite's initdb, in a
    // process of its own): 5-10 s on a quiet runner, but up to 77 s was seen on a 2-core runner at load average 18.
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('no listening line within 120 s')); }, 120_000);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      stdout.text += s;
      const line = stdout.text.split('\n').find((l) => l.includes('listening'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${String(code)} before listening`));
    });
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => { child.once('exit', (code, signal) => { resolve({ code, signal }); }); });
}

describe('openkcm init', () => {
  test('creates the PKI and a commented config; refuses to overwrite without --force', async () => {
    const dir = await tempDir();
    try {
      const dataDir = path.join(dir, 'data');
      const first = cli('init', '--data-dir', dataDir, '--tenant', 'alice', '--tenant', 'bob');
      assert.equal(first.status, 0, first.stderr);
      for (const f of ['ca.crt', 'ca.key', 'server.crt', 'server.key', 'clients/alice.crt', 'clients/alice.key', 'clients/bob.crt', 'clients/bob.key']) {
        await stat(path.join(dataDir, 'pki', f));
      }
      for (const key of ['ca.key', 'server.key', 'clients/alice.key']) {
        assert.equal((await stat(path.join(dataDir, 'pki', key))).mode & 0o777, 0o600, `${key} is private`);
      }
      const server = describeCert(await readFile(path.join(dataDir, 'pki', 'server.crt'), 'utf8'));
      assert.match(server.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
      assert.match(server.subjectAltName ?? '', /DNS:localhost/);
      const alice = describeCert(await readFile(path.join(dataDir, 'pki', 'clients', 'alice.crt'), 'utf8'));
      assert.match(alice.subject, /CN=alice/);
      assert.ok(alice.extendedKeyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'EKU clientAuth');

      const conf = await readFile(path.join(dataDir, 'openkcm.conf'), 'utf8');
      assert.match(conf, /^\/\/ /m, 'the config file is commented');
      validateConfigFile(parseJsonc(conf));

      const caBefore = await readFile(path.join(dataDir, 'pki', 'ca.crt'), 'utf8');
      const again = cli('init', '--data-dir', dataDir);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /already initialised.*--force/);
      assert.equal(await readFile(path.join(dataDir, 'pki', 'ca.crt'), 'utf8'), caBefore, 'nothing was overwritten');

      const forced = cli('init', '--data-dir', dataDir, '--force');
      assert.equal(forced.status, 0, forced.stderr);
      assert.notEqual(await readFile(path.join(dataDir, 'pki', 'ca.crt'), 'utf8'), caBefore);
      await stat(path.join(dataDir, 'pki', 'clients', 'default.crt'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('bad arguments exit 2; a bad tenant name exits 1', () => {
    assert.equal(cli('init').status, 2);
    assert.equal(cli('init', '--data-dir').status, 2);
    assert.equal(cli('init', '--data-dir', '/tmp/x', '--bogus').status, 2);
    const bad = cli('init', '--data-dir', path.join(tmpdir(), 'openkcm-never'), '--tenant', '../evil');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /tenant name/);
  });
});

describe('openkcm serve', () => {
  test('prints one listening line, serves, and exits 0 within 5 s of SIGTERM', async () => {
    const srv = await startTestServer({ mode: 'child', tenants: ['alice'] });
    try {
      const lines = srv.stdout().split('\n').filter((l) => l.includes('listening'));
      assert.equal(lines.length, 1);
      assert.match(lines[0] ?? '', new RegExp(`127\\.0\\.0\\.1:${String(srv.port)}`));
      const client = await srv.connect('alice');
      const versions = await client.discoverVersions();
      assert.ok(versions.length > 0);
      const t0 = Date.now();
      const child = srv.child;
      assert.ok(child !== undefined);
      const exited = exitOf(child);
      child.kill('SIGTERM');
      const { code } = await exited;
      assert.equal(code, 0);
      assert.ok(Date.now() - t0 < 5_000, `exited in ${String(Date.now() - t0)} ms`);
      await assert.rejects(client.discoverVersions(), 'the server closed the client connection');
    } finally {
      await srv.stop();
    }
  });

  test('without init it exits 1 and says what to do', async () => {
    const dir = await tempDir();
    try {
      const r = cli('serve', '--data-dir', dir, '--kmip-listen', '127.0.0.1:0');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /openkcm init/);
      assert.equal(cli('serve', '--data-dir', dir, '--kmip-listen', 'nonsense').status, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('npm start (scripts/start.mjs)', () => {
  test('initialises ./.openkcm when needed, serves, and stops on SIGTERM', async () => {
    const cwd = await tempDir();
    try {
      for (const round of [1, 2]) {
        const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts', 'start.mjs'), '--kmip-listen', '127.0.0.1:0'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        child.stderr.resume();
        const out = { text: '' };
        const exited = exitOf(child);
        await listeningLine(child, out);
        await stat(path.join(cwd, '.openkcm', 'pki', 'ca.crt'));
        await stat(path.join(cwd, '.openkcm', 'pki', 'clients', 'default.crt'));
        if (round === 2) assert.doesNotMatch(out.text, /initialised/, 'the second start reuses the data directory');
        child.kill('SIGTERM');
        assert.equal((await exited).code, 0);
      }
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
