/**
 * Issue 17 item 8: the background re-wrap's progress through the admin API and the CLI. After an L3 rotation,
 * `openkcm keys rewrap T --watch` starts the job and follows it to the end (plain lines when piped, no control
 * characters), `keys rewrap-status T --json` reports done = total with the records re-wrapped, and on a terminal
 * (OPENKCM_PROGRESS=1 stands in for one) the watch draws the bar on stderr. A tenant with no job, and an unknown
 * tenant, get 404.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { adminCliEnv } from '../helpers/admin-client.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { CLI_MAIN, startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const KEYS = 40;

describe('re-wrap progress through the CLI (issue 17 item 8)', () => {
  let tdb: Awaited<ReturnType<typeof createThrowawayDatabase>>;
  let srv: TestServer;
  let env: Record<string, string>;
  before(async () => {
    tdb = await createThrowawayDatabase();
    srv = await startTestServer({ tenants: ['alpha', 'beta'], identity: { tenants: { alpha: 'alpha', beta: 'beta' } }, governance: { databaseUrl: tdb.url } });
    await srv.app?.governance?.started;
    const a = srv.app?.governance?.adminApiAddress();
    assert.ok(a !== undefined);
    env = adminCliEnv(a.port, path.join(srv.dataDir, 'pki'));
    assert.ok((await readFile(env.OPENKCM_ADMIN_CA ?? '', 'utf8')).includes('BEGIN CERTIFICATE'));
    const c = await srv.connect('alpha');
    for (let i = 0; i < KEYS; i++) await c.createSymmetricKey({ algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt });
    await c.close();
  });
  after(async () => {
    await srv.stop();
    await tdb.drop();
  });

  const cli = (args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, [CLI_MAIN, 'keys', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, OPENKCM_PROGRESS: '', ...env, ...extra } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });

  test('rotate-l3, then rewrap --watch piped: plain lines to the end; rewrap-status reports every record done', async () => {
    const none = await cli(['rewrap-status', 'alpha']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /404 NOT_FOUND: no re-wrap job has run for tenant alpha/);
    assert.equal((await cli(['rotate-l3', 'alpha'])).code, 0);

    const run = await cli(['rewrap', 'alpha', '--watch']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.match(lines.at(-1) ?? '', new RegExp(`^tenant alpha: re-wrap done (\\d+)/\\1 \\(100%\\): (\\d+) re-wrapped, 0 failed in \\d+s$`));
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(run.stdout + run.stderr, /\x1b|\r/, 'no bar when piped');

    const st = await cli(['rewrap-status', 'alpha', '--json']);
    assert.equal(st.code, 0);
    const job = JSON.parse(st.stdout) as Record<string, number | string>;
    assert.equal(job.state, 'done');
    assert.equal(job.done, job.total);
    assert.ok(Number(job.rewrapped) >= KEYS, `every key was re-sealed under the new L3 (${String(job.rewrapped)})`);
    assert.equal(typeof job.ratePerSecond, 'number');
  });

  test('on a terminal the watch draws the bar with rate and ETA on stderr', async () => {
    const tty = await cli(['rewrap-status', 'alpha', '--watch'], { OPENKCM_PROGRESS: '1' });
    assert.equal(tty.code, 0, tty.stderr);
    // eslint-disable-next-line no-control-regex
    assert.match(tty.stderr, /\r\x1b\[Kre-wrap alpha \[#{24}\] 100% (\d+)\/\1 \S+\/s ETA 0s/);
    assert.match(tty.stdout, /re-wrap done/);
  });

  test('usage: --watch belongs to the re-wrap actions; a tenant with no job is 404', async () => {
    assert.equal((await cli(['show', 'alpha', '--watch'])).code, 2);
    assert.match((await cli(['rewrap-status', 'beta'])).stderr, /404 NOT_FOUND/);
    assert.match((await cli(['rewrap-status', 'nosuch'])).stderr, /404 NOT_FOUND: no tenant nosuch/);
  });
});
