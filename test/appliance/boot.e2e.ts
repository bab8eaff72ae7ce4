/**
 * The image boots and upgrades under systemd (issue 17 items 5 and 6; docs/appliance.md "Boot test" and "Upgrade and
 * rollback"). dist/appliance/openkcm-image-<version>.tar, unpacked, boots under `systemd-nspawn --boot --register=no
 * --keep-unit`, sharing the host's network. First boot makes the PKI, the Shamir-sealed MasterKey and the governance
 * database; openkcm.service starts (cluster, one KMIP worker per core); the host unseals with the shares first boot
 * wrote, and PyKMIP's real client creates and gets keys with tenant "default"'s first-boot credentials. Nothing else
 * in the container listens. Boot-to-ready is printed.
 *
 * Then, in the same running container, as an operator's root shell on the node would (nsenter: the container is not
 * registered), the documented upgrade and rollback, each followed by an unseal and a Get of every key:
 *   1. N -> N+1 (the same build under `<N>-upgrade`): `tar -xzf` into /opt/openkcm, `libexec/install` stops the unit
 *      (it drains), snapshots /var/lib/openkcm, switches `current`, starts the unit and returns once it is ready;
 *   2. `libexec/rollback` back to N (no migration in between): the keys N+1 created are there too;
 *   3. N -> N+2, a release that migrates the governance catalog (N+1 with a `public` migration 2 appended to its
 *      compiled migrations, which N does not know), applied as N+2 starts;
 *   4. `libexec/rollback` without the snapshot: N refuses the migrated database at start ("newer than this
 *      program"), and rollback puts N+2 back, serving, and exits 1;
 *   5. `libexec/rollback --restore-snapshot`: N serves the data of the snapshot taken when it was left; what was
 *      created after that upgrade is gone, as documented.
 * Last, the container halts cleanly. The tests share the container and run in order; each later one needs the
 * boot test to have passed. The times of every step are printed.
 *
 * Run by .ci/run's appliance step as root (not by `npm test`):
 *   node --test --test-concurrency=1 dist/test/appliance/boot.e2e.js
 * Environment: OPENKCM_IMAGE (default dist/appliance/openkcm-image-<version>.tar), OPENKCM_ARTEFACT_NEXT (N+1, already
 * built; default: built here), OPENKCM_BOOT_TEST_PORT (KMIP port inside the container, default 15696: the other
 * tests use ephemeral ports and 5696/5697 are left to a real node).
 * The container is stopped and its root removed on every exit path, a failing assertion included.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { SCRATCH, accepts, defaultTenantCredentials, derivedArtefact, inContainer, listenersOf, nextArtefact, packageVersion, pidsInNamespaceOf,
  pykmip, repoRoot, run, sharesFrom, start, stop, unseal, waitFor } from './harness.js';
import type { Credentials, Run } from './harness.js';

const version = packageVersion();
const IMAGE = process.env['OPENKCM_IMAGE'] ?? path.join(repoRoot, 'dist', 'appliance', `openkcm-image-${version}.tar`);
const PORT = Number(process.env['OPENKCM_BOOT_TEST_PORT'] ?? 15696);
/** First boot on a loaded 2-core CI machine: PGlite's first initialisation alone took ~26 s here. */
const BOOT_TIMEOUT_MS = 240_000;

const work = mkdtempSync(path.join(SCRATCH, 'openkcm-boot-'));
const root = path.join(work, 'root');
let container: ReturnType<typeof start> | undefined;

/** What the boot test leaves for the upgrade tests: the running container and how to reach its node. */
interface Booted {
  readonly c: ReturnType<typeof start>;
  /** The container's init (systemd), as the host sees it: nsenter's target. */
  readonly init: number;
  readonly dataDir: string;
  readonly creds: Credentials;
  readonly shares: readonly string[];
  /** A PATH with no node on it: the artefact's CLI must bring its own runtime. */
  readonly bare: NodeJS.ProcessEnv;
}
let booted: Booted | undefined;
/** uid -> sha256(value) of every key the node must still serve. */
const keys: Record<string, string> = {};
const timings: string[] = [];

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
  timings.push(summary);
  Object.assign(keys, created);
  booted = { c, init, dataDir, creds, shares: shares.slice(0, 3), bare };
});

// ---- upgrade and rollback under systemd, in the same container (docs/appliance.md "Upgrade and rollback") ----------

const opt = path.join(root, 'opt', 'openkcm');
const next = `${version}-upgrade`;
/** N+2: N+1 plus a governance migration N does not know. */
const migrating = `${version}-migrates`;
const re = (v: string): string => v.replace(/[.+]/g, '\\$&');
/** What N+2 appends to its compiled src/cmk/migrations.js: `public` migration 2 (the rules: append, never edit). */
const MIGRATION_2 = '// Appended by test/appliance/boot.e2e.ts: this release migrates the governance catalog to version 2.\n' +
  'PUBLIC_MIGRATIONS.push({ version: 2, name: "upgrade test: a catalog change the release before does not know", ' +
  'sql: (s) => "CREATE TABLE " + s + ".upgrade_probe (id integer PRIMARY KEY)" });';

/** N+1, built at most once (tests 2 and 4 both need it). */
let n1: ReturnType<typeof nextArtefact> | undefined;
const nextOnce = (): ReturnType<typeof nextArtefact> => (n1 ??= nextArtefact(path.join(work, 'next')));

function need(): Booted {
  assert.ok(booted !== undefined, 'the boot test brought the node up (see its failure)');
  return booted;
}

function snapshots(): string[] {
  const dir = path.join(root, 'var', 'backups', 'openkcm');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** An operator's root shell on the node; returns the result (the caller asserts the exit code). */
async function onNode(b: Booted, script: string): Promise<Run & { ms: number }> {
  const t0 = Date.now();
  const r = await inContainer(b.init, script);
  return { ...r, ms: Date.now() - t0 };
}

/** The documented upgrade: the artefact copied onto the node, unpacked into /opt/openkcm, its install run there. */
async function upgradeTo(b: Booted, artefact: string, v: string): Promise<{ out: string; unpackMs: number; installMs: number }> {
  const file = path.basename(artefact);
  copyFileSync(artefact, path.join(root, 'var', 'tmp', file));
  const x = await onNode(b, `tar -xzf /var/tmp/${file} -C /opt/openkcm && rm /var/tmp/${file}`);
  assert.equal(x.code, 0, x.stderr);
  const i = await onNode(b, `/opt/openkcm/openkcm-${v}/libexec/install`);
  assert.equal(i.code, 0, `install ${v}: ${i.stdout}${i.stderr}`);
  return { out: i.stdout, unpackMs: x.ms, installMs: i.ms };
}

/**
 * The node serves version `v` under systemd: openkcm.service active, its main process the bundled runtime of
 * openkcm-<v>; then the custodians' unseal and a Get of every key. Returns the time of unseal + Get.
 */
async function servesEveryKey(b: Booted, v: string, what: string): Promise<number> {
  const st = await onNode(b, 'systemctl show -p ActiveState --value openkcm.service; ' +
    'tr "\\0" " " </proc/$(systemctl show -p MainPID --value openkcm.service)/cmdline');
  const [state = '', cmdline = ''] = st.stdout.split('\n');
  assert.equal(state, 'active', `${what}: openkcm.service is active (${st.stdout}${st.stderr})`);
  assert.match(cmdline, new RegExp(`^/opt/openkcm/openkcm-${re(v)}/node/bin/node /opt/openkcm/openkcm-${re(v)}/app/dist/src/cli/main\\.js serve `),
    `${what}: the unit runs openkcm-${v}`);
  assert.equal(readlinkSync(path.join(opt, 'current')), `openkcm-${v}`);
  const t0 = Date.now();
  await unseal(path.join(opt, 'current', 'bin', 'openkcm'), b.dataDir, b.shares, b.bare);
  const got = await pykmip(PORT, b.creds, 'get', Object.keys(keys));
  assert.deepEqual(got, keys, `${what}: Get returns every key`);
  return Date.now() - t0;
}

/** The step times install and rollback print ("install: stopped (3s)", "... snapshot ... (1s)", "... is active (41s)"). */
function installSteps(out: string): string {
  const s = (pattern: RegExp): string => pattern.exec(out)?.[1] ?? '?';
  return `stop ${s(/install: stopped \((\d+)s\)/)} s, snapshot ${s(/install: data snapshot \S+ \((\d+)s\)/)} s, ` +
    `start until ready ${s(/openkcm\.service is active \((\d+)s\)/)} s`;
}

function timed(what: string, parts: Record<string, number>, note = ''): string {
  const line = `${what}: ${Object.entries(parts).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(', ')}${note === '' ? '' : ` (${note})`}`;
  timings.push(line);
  return line;
}

test('upgrade N -> N+1 under systemd: install drains, snapshots, switches and restarts the unit; every key is served', { timeout: 600_000 }, async (t) => {
  const b = need();
  const { version: v, artefact } = await nextOnce();
  assert.equal(v, next);
  const before = snapshots();
  const u = await upgradeTo(b, artefact, next);
  assert.match(u.out, new RegExp(`install: stopping openkcm\\.service \\(openkcm-${re(version)}\\)`));
  assert.match(u.out, new RegExp(`install: starting openkcm\\.service \\(openkcm-${re(next)}\\)`));
  assert.match(u.out, new RegExp(`openkcm-${re(next)} is current \\(was openkcm-${re(version)}\\)`));
  assert.equal(readlinkSync(path.join(opt, 'previous')), `openkcm-${version}`);
  const snap = snapshots().filter((f) => !before.includes(f));
  assert.equal(snap.length, 1, 'the upgrade snapshotted the data directory');
  assert.match(snap[0] ?? '', new RegExp(`^data-openkcm-${re(version)}-\\d{8}T\\d{6}Z\\.tar$`));
  assert.equal(statSync(path.join(root, 'var', 'backups', 'openkcm', snap[0] ?? '')).mode & 0o777, 0o600);
  assert.ok(readFileSync(path.join(root, 'etc', 'openkcm', 'openkcm.conf'), 'utf8').includes(`127.0.0.1:${String(PORT)}`), 'the operator\'s config survives');
  const v1 = await run(path.join(opt, 'current', 'bin', 'openkcm'), ['--version'], { env: b.bare });
  assert.match(v1.stdout, new RegExp(`^openkcm ${re(next)} `), 'the CLI on the node is N+1\'s');
  const serveMs = await servesEveryKey(b, next, 'N+1');
  Object.assign(keys, await pykmip(PORT, b.creds, 'create', ['2']));
  t.diagnostic(timed(`upgrade ${version} -> ${next}`, { 'unpack': u.unpackMs, 'install': u.installMs, 'unseal + Get': serveMs },
    installSteps(u.out)));
});

test('rollback to N under systemd (no migration in between): every key is served, those N+1 created included', { timeout: 600_000 }, async (t) => {
  const b = need();
  const r = await onNode(b, '/opt/openkcm/current/libexec/rollback');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`rollback: openkcm-${re(version)} is current and openkcm\\.service is active`));
  assert.equal(readlinkSync(path.join(opt, 'previous')), `openkcm-${next}`);
  const serveMs = await servesEveryKey(b, version, 'rolled back to N');
  t.diagnostic(timed(`rollback ${next} -> ${version}`, { 'rollback': r.ms, 'unseal + Get': serveMs }, installSteps(r.stdout)));
});

/** Keys created on N+2, after its governance migration: what a rollback from the snapshot loses. */
const onlyOnMigrated: Record<string, string> = {};

test('upgrade N -> N+2, which migrates the governance database as it starts: every key is served', { timeout: 600_000 }, async (t) => {
  const b = need();
  const { artefact: built } = await nextOnce();
  const artefact = await derivedArtefact(built, next, migrating, path.join(work, 'migrating'), path.join('dist', 'src', 'cmk', 'migrations.js'), MIGRATION_2);
  const u = await upgradeTo(b, artefact, migrating);
  assert.match(u.out, new RegExp(`openkcm-${re(migrating)} is current \\(was openkcm-${re(version)}\\)`));
  const serveMs = await servesEveryKey(b, migrating, 'N+2 (migrated)');
  Object.assign(onlyOnMigrated, await pykmip(PORT, b.creds, 'create', ['1']));
  Object.assign(keys, onlyOnMigrated);
  t.diagnostic(timed(`upgrade ${version} -> ${migrating} (migrates)`, { 'unpack': u.unpackMs, 'install': u.installMs, 'unseal + Get': serveMs },
    installSteps(u.out)));
});

test('rollback after a migration, without the snapshot: N refuses the newer schema, N+2 is put back and serves', { timeout: 600_000 }, async (t) => {
  const b = need();
  const r = await onNode(b, '/opt/openkcm/current/libexec/rollback');
  assert.equal(r.code, 1, `rollback refuses: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, new RegExp(`rollback: openkcm-${re(version)} did not start on /var/lib/openkcm`));
  // N's own reason, from its journal: the database was migrated by a newer program (src/cmk/migrations.ts).
  assert.match(r.stderr, /schema public is at version 2, newer than this program \(1\)/);
  assert.match(r.stderr, new RegExp(`rollback: REFUSED; openkcm-${re(migrating)} is current again and openkcm\\.service is active`));
  assert.match(r.stderr, /--restore-snapshot/);
  assert.equal(readlinkSync(path.join(opt, 'previous')), `openkcm-${version}`);
  const serveMs = await servesEveryKey(b, migrating, 'after the refused rollback');
  t.diagnostic(timed(`refused rollback ${migrating} -> ${version}`, { 'rollback, refusal and restart of N+2': r.ms, 'unseal + Get': serveMs }));
});

test('rollback from the snapshot: N serves the data of before the upgrade; keys created since are gone', { timeout: 600_000 }, async (t) => {
  const b = need();
  const before = snapshots();
  const r = await onNode(b, '/opt/openkcm/current/libexec/rollback --restore-snapshot');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`rollback: /var/lib/openkcm restored from /var/backups/openkcm/data-openkcm-${re(version)}-\\d{8}T\\d{6}Z\\.tar`));
  // The data being replaced was snapshotted first, so this rollback can itself be undone.
  assert.ok(snapshots().some((f) => !before.includes(f) && f.startsWith(`data-openkcm-${migrating}-`)), 'N+2\'s data was snapshotted');
  for (const uid of Object.keys(onlyOnMigrated)) Reflect.deleteProperty(keys, uid);
  const serveMs = await servesEveryKey(b, version, 'rolled back to N from the snapshot');
  await assert.rejects(pykmip(PORT, b.creds, 'get', Object.keys(onlyOnMigrated)), /ITEM_NOT_FOUND/, 'the key created after the upgrade is gone');
  t.diagnostic(timed(`rollback ${migrating} -> ${version} from the snapshot`, { 'rollback (restore included)': r.ms, 'unseal + Get': serveMs }));
  t.diagnostic(`${String(Object.keys(keys).length)} keys served across 2 upgrades and 3 rollbacks`);
});

test('the container halts cleanly: openkcm.service drains and stops within its TimeoutStopSec', { timeout: 120_000 }, async (t) => {
  const { c } = need();
  const tStop = Date.now();
  const since = `@${String(Math.floor(tStop / 1000))}`;
  container = undefined;
  const code = await stop(c.child, 60_000);
  const stopMs = Date.now() - tStop;
  assert.equal(code, 0, `nspawn exits 0 after the container halts: ${c.out().slice(-1000)}`);
  const halted = await run('journalctl', ['-D', path.join(root, 'var', 'log', 'journal'), '--no-pager', '-o', 'cat', '-u', 'openkcm.service', '--since', since]);
  assert.match(halted.stdout, /Deactivated successfully|Stopped openkcm\.service/);
  t.diagnostic(`halt took ${String(stopMs)} ms`);
  process.stdout.write(`# appliance boot and upgrade under systemd:\n${timings.map((l) => `#   ${l}`).join('\n')}\n`);
});
