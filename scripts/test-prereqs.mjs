#!/usr/bin/env node
// Pretest step: make sure the real components the tests talk to are installed.
// The brief's non-negotiable is "real components": PyKMIP (an independent KMIP peer) and, for the
// hierarchy, SoftHSM2. When they are missing and we run as root, install them from Debian; otherwise
// say exactly what to install and fail, so a test never silently runs against nothing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PACKAGES = [
  { deb: 'python3-pykmip', present: () => existsSync('/usr/bin/pykmip-server') &&
      spawnSync('/usr/bin/python3', ['-c', 'import kmip'], { stdio: 'ignore' }).status === 0 },
  { deb: 'softhsm2', present: () => existsSync('/usr/lib/softhsm/libsofthsm2.so') },
];

const missing = PACKAGES.filter((p) => !p.present()).map((p) => p.deb);
if (missing.length === 0) process.exit(0);

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
