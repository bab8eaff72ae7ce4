/**
 * The image boots (issue 17 item 5; docs/appliance.md "Boot test"): dist/appliance/openkcm-image-<version>.tar,
 * unpacked, boots under `systemd-nspawn --boot --register=no --keep-unit`, sharing the host's network. First boot
 * makes the PKI, the Shamir-sealed MasterKey and the governance database; openkcm.service starts (cluster, one KMIP
 * worker per core); the host unseals with the shares first boot wrote, and PyKMIP's real client creates and gets keys
 * with tenant "default"'s first-boot credentials. Nothing else in the container listens. Boot-to-ready is printed.
 *
 * Run by .ci/run's appliance step as root (not by `npm test`):
 *   node --test --test-concurrency=1 dist/test/appliance/boot.e2e.js
 * Environment: OPENKCM_IMAGE (default dist/appliance/openkcm-image-<version>.tar), OPENKCM_BOOT_TEST_PORT (KMIP port
 * inside the container, default 15696: the other tests use ephemeral ports and 5696/5697 are left to a real node).
 * The container is stopped and its root removed on every exit path, a failing assertion included.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { SCRATCH, accepts, defaultTenantCredentials, listenersOf, packageVersion, pidsInNamespaceOf, pykmip, repoRoot, run, sharesFrom,
  start, stop, unseal, waitFor } from './harness.js';

const version = packageVersion();
const IMAGE = process.env['OPENKCM_IMAGE'] ?? path.join(repoRoot, 'dist', 'appliance', `openkcm-image-${version}.tar`);
const PORT = Number(process.env['OPENKCM_BOOT_TEST_PORT'] ?? 15696);
/** First boot on a loaded 2-core CI machine: PGlite's first initialisation alone took ~26 s here. */
const BOOT_TIMEOUT_MS = 240_000;

const work = mkdtempSync(path.join(SCRATCH, 'openkcm-boot-'));
const root = path.join(work, 'root');
let container: ReturnType<typeof start> | undefined;

async function cleanup(): Promise<void> {
  if (container !== undefined) {
    // SIGTERM asks nspawn to halt the container (systemd stops openkcm.service, which drains); a second signal,
    // or SIGKILL after the grace period, ends it at once.
    await stop(container.child, 60_000);
    container = undefined;
  }
  rmSync(work, { recursive: true, force: true });
}
after(cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => { void cleanup().finally(() => process.exit(130)); });
}

test('the appliance image boots, first boot provisions it, and PyKMIP creates and gets keys', { timeout: 600_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'the boot test runs as root (systemd-nspawn)');
  assert.ok(existsSync(IMAGE), `${IMAGE} is missing: run npm run appliance:image first`);
  assert.equal(await accepts(PORT), false, `port ${String(PORT)} is already in use on this host; set OPENKCM_BOOT_TEST_PORT`);

  mkdirSync(root, { mode: 0o755 });
  const tar = await run('tar', ['--numeric-owner', '-C', root, '-xf', IMAGE]);
  assert.equal(tar.code, 0, tar.stderr);

  // Configure before first boot, as an operator would: the test's KMIP port, and no admin API (one listener only).
  const conf = path.join(root, 'etc', 'openkcm', 'openkcm.conf');
  const shipped = readFileSync(conf, 'utf8');
  const edited = shipped.replace('"listen": "127.0.0.1:5696"', `"listen": "127.0.0.1:${String(PORT)}"`)
    .replace('"adminApi": { "listen": "127.0.0.1:5697" }', '"adminApi": false');
  assert.notEqual(edited, shipped, 'the shipped config has the documented KMIP listen line');
  assert.match(edited, /"adminApi": false/);
  writeFileSync(conf, edited);

  const t0 = Date.now();
  // CAP_IPC_LOCK: nspawn withholds it (and its seccomp filter then refuses mlock), while openkcm.service needs it,
  // as it has it on real hardware. Sharing the host network is nspawn's default without --private-network.
  container = start('systemd-nspawn', ['--boot', '--register=no', '--keep-unit', '--capability=CAP_IPC_LOCK', '--console=pipe', '-q',
    `--directory=${root}`], { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' });
  const c = container;
  c.child.once('exit', (code) => { if (container === c) t.diagnostic(`nspawn exited early (${String(code)}): ${c.out().slice(-2000)}`); });

  const journalTail = async (): Promise<string> =>
    (await run('journalctl', ['-D', path.join(root, 'var', 'log', 'journal'), '--no-pager', '-o', 'short-precise', '-n', '60'])).stdout;
  try {
    await waitFor('KMIP to accept connections', BOOT_TIMEOUT_MS, async () => {
      if (c.child.exitCode !== null) throw new Error(`the container stopped: ${c.out().slice(-2000)}`);
      // A failed unit will not recover by itself: fail now, with its journal, instead of at the timeout.
      if (existsSync(path.join(root, 'var', 'log', 'journal'))) {
        const failed = await run('journalctl', ['-D', path.join(root, 'var', 'log', 'journal'), '--no-pager', '-o', 'cat', '-g', 'Failed to start openkcm']);
        if (failed.stdout.includes('Failed to start')) throw new Error('a unit failed');
      }
      return (await accepts(PORT)) ? true : undefined;
    });
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}; the container's journal:\n${await journalTail()}`, { cause: e });
  }
  const acceptMs = Date.now() - t0;

  // First boot's results.
  const dataDir = path.join(root, 'var', 'lib', 'openkcm');
  const passwd = readFileSync(path.join(root, 'etc', 'passwd'), 'utf8');
  const uid = Number(/^openkcm:x:(\d+):/m.exec(passwd)?.[1]);
  assert.ok(uid > 0 && uid < 1000, 'a system user openkcm exists');
  const st = statSync(dataDir);
  assert.equal(st.uid, uid, '/var/lib/openkcm belongs to the service user');
  assert.equal(st.mode & 0o777, 0o700);
  const creds = defaultTenantCredentials(dataDir);
  for (const f of [creds.ca, creds.cert, creds.key]) assert.ok(existsSync(f), `${f} written by first boot`);
  assert.equal(statSync(creds.key).mode & 0o077, 0, 'client key is private');
  const seal = JSON.parse(readFileSync(path.join(dataDir, 'seal.json'), 'utf8')) as { type: string; shares: number; threshold: number };
  assert.deepEqual([seal.type, seal.shares, seal.threshold], ['shamir', 5, 3], 'the shipped config chooses Shamir 3 of 5');
  assert.ok(!existsSync(path.join(dataDir, 'master.key')), 'no development key in the clear');
  assert.ok(existsSync(path.join(dataDir, 'governance-db')), 'embedded governance database created');
  assert.ok(existsSync(path.join(dataDir, '.firstboot-done')));
  const sharesFile = path.join(root, 'root', 'openkcm-unseal-shares.txt');
  const sf = statSync(sharesFile);
  assert.deepEqual([sf.uid, sf.mode & 0o777], [0, 0o600], 'the shares file is root-only');
  const shares = sharesFrom(sharesFile);
  assert.equal(shares.length, 5);

  // The artefact's own CLI (bundled runtime) from the host, with no Node on PATH, talks to the operator socket.
  const openkcm = path.join(root, 'opt', 'openkcm', `openkcm-${version}`, 'bin', 'openkcm');
  // PATH holds only what the wrapper script uses (sh, dirname, readlink): no node anywhere on it. (/bin is /usr/bin
  // on Debian 12, so a PATH of system directories would still find the host's node.)
  const binDir = path.join(work, 'bin');
  mkdirSync(binDir);
  for (const [name, target] of [['sh', '/bin/sh'], ['dirname', '/usr/bin/dirname'], ['readlink', '/usr/bin/readlink']] as const) {
    symlinkSync(target, path.join(binDir, name));
  }
  const bare = { PATH: binDir, LANG: 'C' };
  assert.equal((await run('/bin/sh', ['-c', 'command -v node || echo none'], { env: bare })).stdout.trim(), 'none');
  const v = await run(openkcm, ['--version'], { env: bare });
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`^openkcm ${version.replace(/\./g, '\\.')} `));
  await unseal(openkcm, dataDir, shares.slice(0, 3), bare);

  const created = await pykmip(PORT, creds, 'create', ['3']);
  const readyMs = Date.now() - t0;
  assert.equal(Object.keys(created).length, 3);
  const got = await pykmip(PORT, creds, 'get', Object.keys(created));
  assert.deepEqual(got, created, 'Get returns the keys Create made');

  // Nothing else listening: every TCP listener and bound UDP socket of the container's processes.
  const init = Number(readFileSync(`/proc/${String(c.child.pid)}/task/${String(c.child.pid)}/children`, 'utf8').trim().split(/\s+/)[0]);
  const listeners = listenersOf(pidsInNamespaceOf(init));
  assert.deepEqual(listeners, [`tcp 127.0.0.1:${String(PORT)}`], `only KMIP listens; found ${listeners.join(', ')}`);

  // Locked key memory in the serving processes (the arena is mlock'ed: VmLck > 0).
  const serving = pidsInNamespaceOf(init).filter((p) => {
    try { return readFileSync(`/proc/${String(p)}/cmdline`, 'utf8').includes('serve'); } catch { return false; }
  });
  assert.ok(serving.length >= 2, `the primary and at least one worker run (found ${String(serving.length)})`);
  for (const p of serving) {
    const lck = Number(/^VmLck:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${String(p)}/status`, 'utf8'))?.[1]);
    assert.ok(lck >= 64, `process ${String(p)} holds its key arena locked (VmLck ${String(lck)} kB)`);
  }

  const journal = await run('journalctl', ['-D', path.join(root, 'var', 'log', 'journal'), '--no-pager', '-o', 'cat']);
  assert.match(journal.stdout, /the shares were written ONCE to \/root\/openkcm-unseal-shares\.txt/);
  assert.doesNotMatch(journal.stdout, new RegExp(shares[0]?.slice(0, 24) ?? 'never', 'u'), 'no share is logged');
  const startup = /Startup finished in ([^\n]+)\./.exec(journal.stdout)?.[1];

  const summary = `boot-to-ready: KMIP accepts ${(acceptMs / 1000).toFixed(1)} s after nspawn started (first boot included; systemd: ${startup ?? '?'}); ` +
    `first PyKMIP Create answered ${(readyMs / 1000).toFixed(1)} s after start (unseal included)`;
  t.diagnostic(summary);
  process.stdout.write(`# ${summary}\n`);

  // Shut down cleanly: openkcm.service drains and stops within its TimeoutStopSec.
  const tStop = Date.now();
  container = undefined;
  const code = await stop(c.child, 60_000);
  const stopMs = Date.now() - tStop;
  assert.equal(code, 0, `nspawn exits 0 after the container halts: ${c.out().slice(-1000)}`);
  const after2 = await run('journalctl', ['-D', path.join(root, 'var', 'log', 'journal'), '--no-pager', '-o', 'cat', '-u', 'openkcm.service']);
  assert.match(after2.stdout, /Deactivated successfully|Stopped openkcm\.service/);
  t.diagnostic(`halt took ${String(stopMs)} ms`);
});
