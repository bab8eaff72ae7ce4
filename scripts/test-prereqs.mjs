#!/usr/bin/env node
// Pretest step: make sure the real components the tests talk to are installed.
// The brief's non-negotiable is "real components": PyKMIP (an independent KMIP peer) and, for the
// hierarchy, SoftHSM2; the governance tests also need a PostgreSQL server (checked last). When they are missing and we run as root, install them from Debian; otherwise
// say exactly what to install and fail, so a test never silently runs against nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const PACKAGES = [
  { deb: 'python3-pykmip', present: () => existsSync('/usr/bin/pykmip-server') &&
      spawnSync('/usr/bin/python3', ['-c', 'import kmip'], { stdio: 'ignore' }).status === 0 },
  { deb: 'softhsm2', present: () => existsSync('/usr/lib/softhsm/libsofthsm2.so') },
  // OpenSC's pkcs11-tool makes the customer's L1 key in the per-tenant SoftHSM2 tokens of the PKCS#11 end-to-end test.
  { deb: 'opensc', present: () => spawnSync('pkcs11-tool', ['--version'], { stdio: 'ignore' }).error === undefined },
];

const missing = PACKAGES.filter((p) => !p.present()).map((p) => p.deb);
if (missing.length === 0) await checkPostgres();

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot) {
  console.error(`Missing system packages for the tests: ${missing.join(' ')}\n` +
    `Install them with:\n  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`);
  process.exit(1);
}
console.error(`Installing missing system packages: ${missing.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...missing]]) {
  const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`apt-get ${args.join(' ')} failed (exit ${r.status}); install by hand: apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
}
const still = PACKAGES.filter((p) => !p.present()).map((p) => p.deb);
if (still.length > 0) {
  console.error(`Still missing after install: ${still.join(' ')}`);
  process.exit(1);
}
await checkPostgres();

/**
 * The governance tests run against a real PostgreSQL (issue 5): postgres@127.0.0.1:5432 with trust auth, or
 * OPENKCM_TEST_PG_URL. A stopped local cluster is started when we are root; anything else is explained.
 */
async function checkPostgres() {
  const url = process.env.OPENKCM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (await pgAnswers(url)) process.exit(0);
  const isRootUser = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRootUser && existsSync('/etc/postgresql') && process.env.OPENKCM_TEST_PG_URL === undefined) {
    for (const version of readdirSync('/etc/postgresql')) {
      console.error(`PostgreSQL is not answering; starting the local cluster ${version}/main`);
      spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'inherit' });
    }
    for (let i = 0; i < 20; i++) {
      if (await pgAnswers(url)) process.exit(0);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  console.error(`The tests need a PostgreSQL server at ${url} (trust authentication for user postgres).\n` +
    'Install and start one, e.g.:\n  sudo apt-get install -y postgresql && sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n' +
    'and allow local trust authentication in pg_hba.conf, or point OPENKCM_TEST_PG_URL at a server you can use.');
  process.exit(1);
}

async function pgAnswers(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
