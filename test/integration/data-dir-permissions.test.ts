/**
 * Issue 15 Deliver 6 through `openkcm serve`: "the governance database is world-writable when the data directory is
 * not already 0700. PGlite creates files 0666 and directories 0755". A data directory left 0755 by whoever made it is
 * served owner-only — the embedded governance database (governance-db) included, also the files it creates while
 * serving — and a group- or world-writable one is refused with the fix (chmod 700).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { initDataDir } from '../../src/cli/commands/init.js';
import { CLI_MAIN, startTestServer } from '../helpers/server.js';

/** Every file and directory under `dir` whose mode gives group or others any access. */
function notOwnerOnly(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const s = lstatSync(p);
      if (s.isSymbolicLink()) continue;
      if ((s.mode & 0o077) !== 0) out.push(`${path.relative(dir, p)} ${(s.mode & 0o777).toString(8)}`);
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('the data directory under serve', () => {
  test('a 0755 data directory is served 0700, with every file (governance-db included) owner-only', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'openkcm-perm-'));
    chmodSync(dataDir, 0o755);
    // governance enabled without a URL: the embedded PGlite database in <dataDir>/governance-db.
    const srv = await startTestServer({ mode: 'child', dataDir, tenants: ['alice'], governance: {}, workers: 0, startTimeoutMs: 120_000 });
    try {
      const client = await srv.connect('alice');
      // Work that writes the vault and the governance database (tenant registration, audit) while serving.
      const uid = await client.createSymmetricKey({ algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt });
      assert.ok(uid.length > 0);
      await client.close();
      assert.ok(statSync(path.join(dataDir, 'governance-db')).isDirectory(), 'the embedded governance database is in the data directory');
      assert.equal(statSync(dataDir).mode & 0o777, 0o700);
      assert.deepEqual(notOwnerOnly(dataDir), [], 'every entry of the data directory is owner-only');
    } finally {
      await srv.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('a group- or world-writable data directory is refused, and the message says to chmod 700 it', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'openkcm-perm-'));
    try {
      await initDataDir({ dataDir, tenants: ['alice'], force: true });
      for (const mode of [0o777, 0o775]) {
        chmodSync(dataDir, mode);
        const r = spawnSync(process.execPath, [CLI_MAIN, 'serve', '--data-dir', dataDir, '--kmip-listen', '127.0.0.1:0', '--workers', '0'], { encoding: 'utf8', timeout: 60_000 });
        assert.equal(r.status, 1, r.stderr);
        assert.ok(r.stderr.includes(`chmod 700 ${dataDir}`), r.stderr);
        assert.doesNotMatch(r.stdout, /listening/);
        assert.equal(statSync(dataDir).mode & 0o777, mode, 'left as it was for the operator to inspect');
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
