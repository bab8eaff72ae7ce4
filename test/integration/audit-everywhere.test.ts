/**
 * Issue 16 item 5, "Audit on sealed and auto-unseal nodes", through the product's interfaces only (the real
 * `openkcm` CLI in child processes, the admin API over mutual TLS, KMIP):
 *
 * - a Shamir node running `openkcm serve` (embedded PGlite governance database): `openkcm audit verify|export
 *   --data-dir` answer through the node's operator socket; the admin API verifies the global chain;
 * - the live node's embedded database is never read behind its back: with the socket unreachable the CLI refuses,
 *   naming the holder's pid;
 * - an exported file verifies offline with the key the custodians unseal in the CLI (--unseal, shares on stdin), and
 *   an edited line is named; --hash-only says the HMACs were not checked;
 * - the node stopped: offline verify with --unseal; without shares it says how;
 * - an auto-unseal node (SoftHSM2): offline verify derives the key through the HSM.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initDataDir } from '../../src/cli/commands/init.js';
import { EMBEDDED_DB_PID_FILE } from '../../src/cmk/embedded-db-holder.js';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { OPERATOR_SOCKET_FILE } from '../../src/krypton/operator-api.js';
import { adminOf } from '../helpers/admin-client.js';
import { runCli } from '../helpers/cli.js';
import type { CliOptions, CliResult } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';
import { generateL1Key, initToken, setupSoftHsm, USER_PIN } from '../helpers/softhsm.js';
import type { SoftHsm } from '../helpers/softhsm.js';

const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };

/** The real CLI, without an audit key file or database URL from the caller's environment. */
function cli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return runCli(args, { ...opts, env: { OPENKCM_AUDIT_HMAC_KEY_FILE: '', DATABASE_URL: '', ...opts.env } });
}

describe('openkcm audit on a Shamir node (running and stopped)', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(tmpdir(), 'okaud-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('running: verify/export through the operator socket, global chain on the admin API, refusal of a held database; stopped: --unseal; export file offline', async () => {
    const dataDir = path.join(dir, 'n');
    await initDataDir({ dataDir, tenants: ['alpha'], force: true });
    const init = await cli(['operator', 'init', '--shares', '3', '--threshold', '2', '--data-dir', dataDir]);
    assert.equal(init.code, 0, init.stderr);
    const shares = [...init.stdout.matchAll(/Unseal share \d+: (\S+)/g)].map((m) => m[1] ?? '');
    assert.equal(shares.length, 3);
    const srv = await startTestServer({ dataDir, mode: 'child', workers: 1, governance: {}, seal: { allowDev: false } });
    try {
      // Sealed: the socket answers, and says why it cannot verify.
      const sealed = await cli(['audit', 'verify', '--data-dir', dataDir]);
      assert.equal(sealed.code, 3, sealed.stderr);
      assert.match(sealed.stderr, /sealed/);
      const un = await cli(['operator', 'unseal', '--data-dir', dataDir], { stdin: `${shares[0] ?? ''}\n${shares[2] ?? ''}\n` });
      assert.equal(un.code, 0, un.stderr);
      const admin = await adminOf(srv, 120_000);
      const c = await srv.connect('alpha');
      try {
        await c.createSymmetricKey(AES);
      } finally {
        await c.close();
      }

      // The tenant chain fills as the node flushes (every second): verify through the node until it has records.
      let v: CliResult;
      const deadline = Date.now() + 60_000;
      do {
        v = await cli(['audit', 'verify', '--tenant', 'alpha', '--data-dir', dataDir]);
        assert.equal(v.code, 0, v.stderr);
      } while (/intact: 0 records/.test(v.stdout) && Date.now() < deadline);
      assert.match(v.stdout, /the chain of tenant alpha is intact: [1-9]\d* records .*verified by the running node/);
      const global = await cli(['audit', 'verify', '--data-dir', dataDir]);
      assert.equal(global.code, 0, global.stderr);
      assert.match(global.stdout, /the global chain is intact: [1-9]\d* records/);
      const unknown = await cli(['audit', 'verify', '--tenant', 'nosuch', '--data-dir', dataDir]);
      assert.equal(unknown.code, 3);
      assert.match(unknown.stderr, /nosuch/);

      // The admin API: the global chain's verify and export routes (auditor actions, platform resource).
      const apiVerify = await admin('GET', '/v1/audit/verify');
      assert.equal(apiVerify.status, 200, JSON.stringify(apiVerify.body));
      assert.equal((apiVerify.body as { ok: boolean }).ok, true);
      const apiExport = await admin('GET', '/v1/audit/export');
      assert.equal(apiExport.status, 200);
      const globalLines = apiExport.text.trim().split('\n');
      assert.equal(globalLines.length, (apiVerify.body as { count: number }).count);
      assert.equal((JSON.parse(globalLines[0] ?? '{}') as { seq: number }).seq, 1);

      // Export through the node, then verify the file offline: the custodians unseal the key in the CLI.
      const file = path.join(dir, 'alpha.jsonl');
      const ex = await cli(['audit', 'export', '--tenant', 'alpha', '--data-dir', dataDir, '--out', file]);
      assert.equal(ex.code, 0, ex.stderr);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      assert.ok(lines.length >= 1);
      const fileOk = await cli(['audit', 'verify', '--file', file, '--data-dir', dataDir, '--unseal'], { stdin: `${shares[1] ?? ''}\n${shares[0] ?? ''}\n` });
      assert.equal(fileOk.code, 0, fileOk.stderr);
      assert.match(fileOk.stdout, new RegExp(`intact: ${String(lines.length)} records \\(hash links and HMACs checked`));
      const noKey = await cli(['audit', 'verify', '--file', file, '--data-dir', dataDir]);
      assert.equal(noKey.code, 3);
      assert.match(noKey.stderr, /sealed \(shamir\).*--unseal/);
      // An edited record is named, with and without the key.
      const edited = lines.map((l, i) => (i === 0 ? l.replace(/"result":"[^"]*"/, '"result":"forged"') : l));
      assert.notDeepEqual(edited, lines);
      const bad = path.join(dir, 'bad.jsonl');
      writeFileSync(bad, edited.join('\n') + '\n');
      const badHash = await cli(['audit', 'verify', '--file', bad, '--hash-only']);
      assert.equal(badHash.code, 1, badHash.stderr);
      assert.match(badHash.stdout, /BROKEN at record 1: record 1: content does not match its hash.*HMACs NOT checked/);
      const okHash = await cli(['audit', 'verify', '--file', file, '--hash-only']);
      assert.equal(okHash.code, 0);
      assert.match(okHash.stdout, /hash links only, HMACs NOT checked/);

      // A live holder whose socket does not answer: the embedded database is not read behind its back.
      assert.ok(existsSync(path.join(dataDir, EMBEDDED_DB_PID_FILE)), 'the node records that it holds the database');
      const sock = path.join(dataDir, OPERATOR_SOCKET_FILE);
      renameSync(sock, `${sock}.away`);
      try {
        const held = await cli(['audit', 'verify', '--tenant', 'alpha', '--data-dir', dataDir]);
        assert.equal(held.code, 3, held.stdout);
        assert.match(held.stderr, /held by a running node \(pid \d+/);
        const heldExport = await cli(['audit', 'export', '--tenant', 'alpha', '--data-dir', dataDir]);
        assert.equal(heldExport.code, 3);
        assert.equal(heldExport.stdout, '', 'nothing stale was exported');
      } finally {
        renameSync(`${sock}.away`, sock);
      }
    } finally {
      await srv.stop();
    }
    assert.equal(existsSync(path.join(dataDir, EMBEDDED_DB_PID_FILE)), false, 'released at shutdown');

    // Stopped: offline, the custodians unseal a derived key in the CLI process.
    const off = await cli(['audit', 'verify', '--tenant', 'alpha', '--data-dir', dataDir, '--unseal'], { stdin: `# custodian 2\n${shares[1] ?? ''}\n${shares[2] ?? ''}\n` });
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stdout, /the chain of tenant alpha is intact: [1-9]\d* records\n$/);
    const offGlobal = await cli(['audit', 'verify', '--data-dir', dataDir, '--unseal'], { stdin: `${shares[1] ?? ''}\n${shares[2] ?? ''}\n` });
    assert.equal(offGlobal.code, 0, offGlobal.stderr);
    const short = await cli(['audit', 'verify', '--tenant', 'alpha', '--data-dir', dataDir, '--unseal'], { stdin: `${shares[1] ?? ''}\n` });
    assert.equal(short.code, 3);
    assert.match(short.stderr, /not enough unseal shares on stdin: 1 of 2/);
    const none = await cli(['audit', 'verify', '--tenant', 'alpha', '--data-dir', dataDir]);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /sealed \(shamir\): give --unseal/);
    // Export needs no key; the data directory defaults like `openkcm operator` ($OPENKCM_DATA_DIR).
    const exOff = await cli(['audit', 'export', '--tenant', 'alpha'], { env: { OPENKCM_DATA_DIR: dataDir } });
    assert.equal(exOff.code, 0, exOff.stderr);
    assert.ok(exOff.stdout.trim().split('\n').length >= 1);
    assert.equal((JSON.parse(exOff.stdout.split('\n')[0] ?? '{}') as { seq: number }).seq, 1);
  });
});

describe('openkcm audit on an auto-unseal node (SoftHSM2)', () => {
  let hsm: SoftHsm;
  before(() => {
    hsm = setupSoftHsm();
    initToken(hsm, 'okaud-seal');
    generateL1Key(hsm, 'okaud-seal', 'mk');
  });
  after(() => { hsm.cleanup(); });

  test('offline verify derives the audit key through the seal keystore', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'okaud-auto-'));
    const seal = {
      auto: {
        plugin: 'pkcs11', keyRef: 'token=okaud-seal;object=mk',
        connection: { modulePath: hsm.modulePath, pinSecret: 'seal-pin' },
        secrets: { 'seal-pin': { file: 'seal.pin' } },
      },
    };
    try {
      writeFileSync(path.join(dataDir, 'seal.pin'), `${USER_PIN}\n`, { mode: 0o600 });
      const dev = await startTestServer({ dataDir, tenants: ['beta'], seal, governance: {} });
      try {
        const c = await dev.connect('beta');
        try {
          await c.createSymmetricKey(AES);
        } finally {
          await c.close();
        }
      } finally {
        await dev.stop();
      }
      const conv = await cli(['operator', 'init', '--auto-unseal', '--data-dir', dataDir]);
      assert.equal(conv.code, 0, conv.stderr);
      const v = await cli(['audit', 'verify', '--tenant', 'beta', '--data-dir', dataDir]);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /the chain of tenant beta is intact: [1-9]\d* records/);
      assert.doesNotMatch(v.stdout + v.stderr, new RegExp(USER_PIN));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
