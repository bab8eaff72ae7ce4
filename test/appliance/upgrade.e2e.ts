/**
 * Upgrades keep every object (issue 17 item 6; docs/appliance.md "Upgrade and rollback"). Version N (the artefact of
 * this tree) is installed by its own libexec/install into a scratch root, provisioned by its first-boot program
 * (Shamir seal, embedded governance database), served (the default cluster) and given keys through PyKMIP. Then
 * version N+1 (the same tree built with OPENKCM_APPLIANCE_VERSION=<N>-upgrade, i.e. the path every upgrade takes:
 * a new tree beside the old, a data snapshot, `current` switched) is installed over it; it starts on the same
 * /var/lib/openkcm, runs the vault and governance migrations at start, unseals with the same shares, and Gets every
 * key. Last, the documented rollback (point `current` back at `previous`) serves the keys again.
 *
 * What this does not cover: a schema change between N and N+1 and systemd driving the upgrade; boot.e2e.ts covers
 * both inside the booted image (an upgrade that migrates, a rollback that refuses, a rollback from the snapshot).
 *
 * Run by .ci/run's appliance step as root (not by `npm test`):
 *   node --test --test-concurrency=1 dist/test/appliance/upgrade.e2e.js
 * Environment: OPENKCM_ARTEFACT (default dist/appliance/openkcm-<version>-linux-x64.tar.gz), OPENKCM_ARTEFACT_NEXT
 * (N+1 already built; default: built here), OPENKCM_UPGRADE_TEST_PORT (default 15698).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { SCRATCH, accepts, defaultTenantCredentials, nextArtefact, packageVersion, pykmip, repoRoot, run, sharesFrom, start, stop, unseal, waitFor } from './harness.js';

const version = packageVersion();
const next = `${version}-upgrade`;
const ARTEFACT = process.env['OPENKCM_ARTEFACT'] ?? path.join(repoRoot, 'dist', 'appliance', `openkcm-${version}-linux-x64.tar.gz`);
const PORT = Number(process.env['OPENKCM_UPGRADE_TEST_PORT'] ?? 15698);
const START_TIMEOUT_MS = 180_000;

const work = mkdtempSync(path.join(SCRATCH, 'openkcm-upgrade-'));
const R = path.join(work, 'root');
const dataDir = path.join(R, 'var', 'lib', 'openkcm');
const running = new Set<ReturnType<typeof start>>();
const bare = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

after(async () => {
  for (const s of running) await stop(s.child, 10_000);
  rmSync(work, { recursive: true, force: true });
});

/** The documented install: unpack into /opt/openkcm, run the unpacked tree's libexec/install. */
async function install(artefact: string, name: string): Promise<string> {
  const opt = path.join(R, 'opt', 'openkcm');
  mkdirSync(opt, { recursive: true });
  const x = await run('tar', ['-C', opt, '-xzf', artefact]);
  assert.equal(x.code, 0, x.stderr);
  const r = await run(path.join(opt, name, 'libexec', 'install'), ['--root', R], { env: bare });
  assert.equal(r.code, 0, `install ${name}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Starts `serve` of the installed `current` (as the unit would), waits for KMIP, unseals. */
async function serveCurrent(shares: readonly string[]): Promise<ReturnType<typeof start>> {
  const bin = path.join(R, 'opt', 'openkcm', 'current', 'bin', 'openkcm');
  const s = start(bin, ['serve', '--data-dir', dataDir], bare);
  running.add(s);
  await waitFor('KMIP to listen', START_TIMEOUT_MS, () => {
    if (s.child.exitCode !== null) throw new Error(`serve exited ${String(s.child.exitCode)}: ${s.out().slice(-3000)}`);
    return s.out().includes('KMIP listening on') ? true : undefined;
  });
  await unseal(bin, dataDir, shares, bare);
  return s;
}

async function halt(s: ReturnType<typeof start>): Promise<void> {
  const code = await stop(s.child, 15_000);
  running.delete(s);
  assert.equal(code, 0, `serve drains and exits 0: ${s.out().slice(-2000)}`);
  await waitFor('the port to close', 30_000, async () => ((await accepts(PORT)) ? undefined : true));
}

test('install N, create keys, upgrade to N+1, Get them all; roll back to N', { timeout: 900_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'the upgrade test runs as root (install chowns, sysusers)');
  assert.ok(existsSync(ARTEFACT), `${ARTEFACT} is missing: run npm run appliance first`);
  assert.equal(await accepts(PORT), false, `port ${String(PORT)} is in use; set OPENKCM_UPGRADE_TEST_PORT`);

  const t0 = Date.now();
  const phase = (what: string): void => { t.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`); };
  // N+1: the same tree under a new version, built by the same script (or once by .ci/run for both upgrade tests).
  const { version: nextVersion, artefact: artefactNext } = await nextArtefact(path.join(work, 'next'));
  assert.equal(nextVersion, next);

  phase('N+1 artefact built');
  // ---- version N: install, first boot, keys ----
  await install(ARTEFACT, `openkcm-${version}`);
  assert.equal(readlinkSync(path.join(R, 'opt', 'openkcm', 'current')), `openkcm-${version}`);
  const conf = path.join(R, 'etc', 'openkcm', 'openkcm.conf');
  const shipped = readFileSync(conf, 'utf8');
  writeFileSync(conf, shipped.replace('"listen": "127.0.0.1:5696"', `"listen": "127.0.0.1:${String(PORT)}"`)
    .replace('"adminApi": { "listen": "127.0.0.1:5697" }', '"adminApi": false'));
  const sharesFile = path.join(R, 'root', 'openkcm-unseal-shares.txt');
  const fb = await run(process.execPath, [path.join(R, 'opt', 'openkcm', 'current', 'libexec', 'firstboot.mjs')], {
    env: { ...bare, OPENKCM_DATA_DIR: dataDir, OPENKCM_CONFIG: conf, OPENKCM_SHARES_FILE: sharesFile, OPENKCM_USER: 'root' },
  });
  assert.equal(fb.code, 0, fb.stdout + fb.stderr);
  const shares = sharesFrom(sharesFile).slice(0, 3);
  const creds = defaultTenantCredentials(dataDir);

  phase('N installed and provisioned');
  let s = await serveCurrent(shares);
  const keys = await pykmip(PORT, creds, 'create', ['5']);
  assert.equal(Object.keys(keys).length, 5);
  await halt(s);
  phase('N served 5 keys');

  // ---- upgrade to N+1 ----
  const out = await install(artefactNext, `openkcm-${next}`);
  assert.match(out, new RegExp(`openkcm-${next.replace(/\./g, '\\.')} is current \\(was openkcm-${version.replace(/\./g, '\\.')}\\)`));
  assert.equal(readlinkSync(path.join(R, 'opt', 'openkcm', 'current')), `openkcm-${next}`);
  assert.equal(readlinkSync(path.join(R, 'opt', 'openkcm', 'previous')), `openkcm-${version}`);
  const snaps = readdirSync(path.join(R, 'var', 'backups', 'openkcm'));
  assert.equal(snaps.length, 1, 'the upgrade snapshotted the data directory');
  assert.match(snaps[0] ?? '', new RegExp(`^data-openkcm-${version.replace(/\./g, '\\.')}-\\d{8}T\\d{6}Z\\.tar$`));
  assert.equal(readFileSync(conf, 'utf8').includes(`127.0.0.1:${String(PORT)}`), true, 'the operator\'s config survives the upgrade');
  const v = await run(path.join(R, 'opt', 'openkcm', 'current', 'bin', 'openkcm'), ['--version'], { env: bare });
  assert.match(v.stdout, new RegExp(`^openkcm ${next.replace(/\./g, '\\.')} `));

  s = await serveCurrent(shares);
  const got = await pykmip(PORT, creds, 'get', Object.keys(keys));
  assert.deepEqual(got, keys, 'N+1 Gets every key N created');
  const more = await pykmip(PORT, creds, 'create', ['1']);
  await halt(s);
  phase('N+1 served them');

  // ---- rollback (docs/appliance.md): current -> previous; same data (no migration happened between N and N+1) ----
  const opt = path.join(R, 'opt', 'openkcm');
  symlinkSync(readlinkSync(path.join(opt, 'previous')), path.join(opt, '.current.rollback'));
  renameSync(path.join(opt, '.current.rollback'), path.join(opt, 'current'));
  s = await serveCurrent(shares);
  const back = await pykmip(PORT, creds, 'get', [...Object.keys(keys), ...Object.keys(more)]);
  assert.deepEqual(back, { ...keys, ...more }, 'after rollback N Gets every key, the one N+1 created included');
  await halt(s);
  t.diagnostic(`upgrade ${version} -> ${next} -> rollback: ${String(Object.keys(back).length)} keys intact`);
});
