// openkcm-firstboot.service: makes the data directory once (docs/appliance.md "First boot"). Runs as root with the
// bundled runtime, before openkcm.service. Steps, each skipped when its result already exists (a first boot cut by a
// power loss is simply run again, and never replaces a CA or a MasterKey):
//   1. /etc/openkcm/openkcm.conf: the shipped default when absent; parsed and validated now, so a bad edit is
//      reported with its line and column before anything is created;
//   2. the development PKI (`openkcm init`): CA, server certificate, tenant "default"'s client credentials under
//      /var/lib/openkcm/pki/clients; the data directory's openkcm.conf becomes a link to /etc/openkcm/openkcm.conf;
//   3. the MasterKey in the mode the config's `seal` section chooses: `seal.auto` = auto-unseal through the HSM/KMS;
//      `seal.allowDev: false` = Shamir, N shares (OPENKCM_SHAMIR_SHARES, default 5) of which K
//      (OPENKCM_SHAMIR_THRESHOLD, default 3) unseal, written ONCE to a root-only file (OPENKCM_SHARES_FILE, default
//      /root/openkcm-unseal-shares.txt) and logged as such, never the shares themselves; otherwise development
//      (master.key, created by the first start);
//   4. the governance database: the embedded PGlite database under the data directory, or the PostgreSQL of
//      governance.databaseUrl / $DATABASE_URL, created and migrated;
//   5. ownership: the data directory belongs to the service user, mode 0700; then .firstboot-done.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync,
  readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const app = (rel) => import(path.join(root, 'app', 'dist', 'src', rel));
const DATA = process.env.OPENKCM_DATA_DIR ?? '/var/lib/openkcm';
const CONF = process.env.OPENKCM_CONFIG ?? '/etc/openkcm/openkcm.conf';
const SHARES_FILE = process.env.OPENKCM_SHARES_FILE ?? '/root/openkcm-unseal-shares.txt';
const USER = process.env.OPENKCM_USER ?? 'openkcm';
const DONE = path.join(DATA, '.firstboot-done');
const openkcm = path.join(root, 'bin', 'openkcm');

function log(msg) { process.stdout.write(`openkcm-firstboot: ${msg}\n`); }
function fail(msg) { process.stderr.write(`openkcm-firstboot: ${msg}\n`); process.exit(1); }
function run(args, opts = {}) {
  return execFileSync(openkcm, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });
}

if (existsSync(DONE)) { log(`${DONE} exists; nothing to do`); process.exit(0); }
const t0 = Date.now();

// 1. configuration
if (!existsSync(CONF)) {
  mkdirSync(path.dirname(CONF), { recursive: true, mode: 0o750 });
  copyFileSync(path.join(root, 'etc', 'openkcm.conf'), CONF);
  chmodSync(CONF, 0o640);
  log(`wrote the default configuration ${CONF}`);
}
const { CONFIG_FILE_NAME, parseJsonc, validateConfigFile } = await app('config/index.js');
const { ConfigError } = await app('common/config-error.js');
let cfg;
try {
  cfg = validateConfigFile(parseJsonc(readFileSync(CONF, 'utf8')));
} catch (e) {
  if (e instanceof ConfigError) fail(`${CONF}: ${e.message}`);
  throw e;
}

// 2. PKI
mkdirSync(DATA, { recursive: true, mode: 0o700 });
chmodSync(DATA, 0o700);
const dataConf = path.join(DATA, CONFIG_FILE_NAME);
if (!existsSync(path.join(DATA, 'pki', 'ca.crt'))) {
  rmSync(dataConf, { force: true });
  run(['init', '--data-dir', DATA]);
  log(`development PKI written: ${path.join(DATA, 'pki')} (tenant "default": ${path.join(DATA, 'pki', 'clients', 'default.crt')})`);
}
let isLink = false;
try { isLink = lstatSync(dataConf).isSymbolicLink(); } catch { /* absent */ }
if (!isLink) {
  rmSync(dataConf, { force: true });
  symlinkSync(CONF, dataConf);
}

// 3. MasterKey
const seal = cfg.seal ?? {};
if (existsSync(path.join(DATA, 'seal.json'))) {
  log('MasterKey already initialised (seal.json)');
} else if (seal.auto !== undefined) {
  run(['operator', 'init', '--auto-unseal', '--data-dir', DATA], { stdio: ['ignore', 'inherit', 'inherit'] });
  log('MasterKey initialised: auto-unseal');
} else if (seal.allowDev === false) {
  const shares = process.env.OPENKCM_SHAMIR_SHARES ?? '5';
  const threshold = process.env.OPENKCM_SHAMIR_THRESHOLD ?? '3';
  // The shares file is created exclusively (never overwritten) and root-only before the shares exist.
  mkdirSync(path.dirname(SHARES_FILE), { recursive: true, mode: 0o700 });
  let fd;
  try {
    fd = openSync(SHARES_FILE, 'wx', 0o600);
  } catch (e) {
    if (e?.code === 'EEXIST') fail(`${SHARES_FILE} already exists: move it away (after the custodians have their shares) and reboot`);
    fail(`cannot create the shares file ${SHARES_FILE}: ${e?.code ?? e}`);
  }
  const out = run(['operator', 'init', '--shares', shares, '--threshold', threshold, '--data-dir', DATA]);
  writeSync(fd, out);
  closeSync(fd);
  log(`MasterKey initialised: Shamir ${threshold} of ${shares}; the shares were written ONCE to ${SHARES_FILE} (root only, mode 0600). ` +
    'Give each share to a custodian, then delete the file (docs/appliance.md "The MasterKey ceremony on a rack")');
} else {
  log('MasterKey: DEVELOPMENT mode (seal.allowDev is not false): master.key is created in the clear at the first start');
}

// 4. governance database
const g = cfg.governance ?? {};
if (g.enabled !== false) {
  const { openDb, dbOptionsFrom } = await app('cmk/db.js');
  const { migratePublic } = await app('cmk/migrations.js');
  const envUrl = process.env.DATABASE_URL;
  const url = typeof g.databaseUrl === 'string' ? g.databaseUrl : (envUrl !== undefined && envUrl !== '' ? envUrl : undefined);
  const db = await openDb(dbOptionsFrom({ url, dataDir: DATA }));
  try {
    await migratePublic(db);
  } finally {
    await db.close();
  }
  log(`governance database ready: ${url === undefined ? `embedded (${path.join(DATA, 'governance-db')})` : 'PostgreSQL (governance.databaseUrl / DATABASE_URL)'}`);
}

// 5. ownership
const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
const gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
function chownTree(p) {
  chownSync(p, uid, gid);
  if (lstatSync(p).isDirectory()) for (const e of readdirSync(p)) chownTree(path.join(p, e));
}
for (const e of readdirSync(DATA)) {
  const p = path.join(DATA, e);
  if (lstatSync(p).isSymbolicLink()) continue;
  chownTree(p);
}
chownSync(DATA, uid, gid);
try { chownSync(path.dirname(CONF), 0, gid); chownSync(CONF, 0, gid); } catch { /* read-only /etc: already right */ }
writeFileSync(DONE, `${new Date().toISOString()}\n`, { mode: 0o600 });
chownSync(DONE, uid, gid);
log(`done in ${String(Date.now() - t0)} ms`);
