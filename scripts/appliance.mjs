#!/usr/bin/env node
/**
 * `npm run appliance`: the self-contained artefact dist/appliance/openkcm-<version>-linux-x64.tar.gz (issue 17,
 * docs/appliance.md "The artefact"). Run after `npm run build` (the npm script does both). Prints the artefact's
 * path as its last line.
 *
 * The tree inside the tarball (one top-level directory, openkcm-<version>/):
 *   bin/openkcm              sh wrapper: the bundled runtime runs the compiled CLI; no Node needed on PATH
 *   node/bin/node            the Node runtime this build runs on (its licence in node/LICENSE)
 *   app/                     package.json, dist/src (compiled application, no tests), build/Release/*.node
 *                            (the native addon), node_modules (production dependencies only, with the
 *                            workspace packages @openkcm/ttlv and @openkcm/client as `npm pack` would publish them)
 *   systemd/                 openkcm.service, openkcm-firstboot.service
 *   sysusers.d/, tmpfiles.d/ the service user and the config directory's mode
 *   etc/openkcm.conf         the appliance's default configuration (installed as /etc/openkcm/openkcm.conf)
 *   libexec/                 firstboot, install (also upgrades), rollback, ready (the readiness check)
 *   LICENSE, THIRD-PARTY-NOTICES, VERSION
 *
 * Production dependencies come from the installed node_modules (`npm ls --omit=dev`), so the build needs no
 * network and ships exactly the versions the tests ran against. The tarball is reproducible for one input: entries
 * are sorted, owned by 0:0 and dated at the last commit.
 *
 * Environment: OPENKCM_APPLIANCE_VERSION overrides the version (the upgrade test builds "N+1" this way);
 * OPENKCM_APPLIANCE_OUT overrides the output directory.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const version = process.env.OPENKCM_APPLIANCE_VERSION ?? pkg.version;
if (!/^[0-9A-Za-z.+-]{1,64}$/.test(version)) throw new Error(`version ${JSON.stringify(version)} is not a plain version string`);
const outDir = path.resolve(process.env.OPENKCM_APPLIANCE_OUT ?? path.join(root, 'dist', 'appliance'));
const name = `openkcm-${version}`;
const stage = path.join(outDir, '.stage', name);
const artefact = path.join(outDir, `${name}-linux-x64.tar.gz`);

function log(msg) { process.stderr.write(`appliance: ${msg}\n`); }

if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the artefact is linux-x64; this is ${process.platform}-${process.arch}`);
const addon = path.join(root, 'build', 'Release', 'openkcm_native.node');
if (!existsSync(addon)) throw new Error(`native addon missing: ${addon} (run npm ci / scripts/build-native.sh)`);
if (!existsSync(path.join(root, 'dist', 'src', 'cli', 'main.js'))) throw new Error('dist/src is missing: run npm run build first');

rmSync(path.join(outDir, '.stage'), { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

// ---- the runtime ---------------------------------------------------------------------------------------------------
mkdirSync(path.join(stage, 'node', 'bin'), { recursive: true });
cpSync(process.execPath, path.join(stage, 'node', 'bin', 'node'));
chmodSync(path.join(stage, 'node', 'bin', 'node'), 0o755);
const nodeLicence = ['/usr/share/doc/nodejs/LICENSE', path.join(path.dirname(process.execPath), '..', 'LICENSE'),
  path.join(path.dirname(process.execPath), '..', 'share', 'doc', 'node', 'LICENSE')].find((f) => existsSync(f));
if (nodeLicence === undefined) throw new Error('cannot find the Node runtime\'s LICENSE to ship beside it');
cpSync(nodeLicence, path.join(stage, 'node', 'LICENSE'));

// ---- the application -------------------------------------------------------------------------------------------------
const app = path.join(stage, 'app');
mkdirSync(app, { recursive: true });
// Only what runs: the compiled src tree without source maps' sources and declaration files.
cpSync(path.join(root, 'dist', 'src'), path.join(app, 'dist', 'src'), {
  recursive: true,
  filter: (src) => !src.endsWith('.d.ts') && !src.endsWith('.map'),
});
mkdirSync(path.join(app, 'build', 'Release'), { recursive: true });
cpSync(addon, path.join(app, 'build', 'Release', 'openkcm_native.node'));
const appPkg = { name: pkg.name, version, description: pkg.description, license: pkg.license, type: pkg.type,
  private: true, dependencies: pkg.dependencies };
writeFileSync(path.join(app, 'package.json'), JSON.stringify(appPkg, null, 2) + '\n');

// Production dependencies: every package npm resolves without the dev tree, copied from the tested node_modules.
const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8', maxBuffer: 16 << 20 })
  .split('\n').map((s) => s.trim()).filter((s) => s !== '' && s !== root);
const prodDirs = new Set();
for (const p of listed) {
  const rel = path.relative(root, p);
  if (!rel.startsWith('node_modules' + path.sep)) continue;
  prodDirs.add(rel);
}
// Copy top-most package directories only (a nested node_modules comes along with its parent package).
const sorted = [...prodDirs].sort();
const top = sorted.filter((d) => !sorted.some((o) => o !== d && d.startsWith(o + path.sep)));
const notices = [];
// What a dependency needs at run time: not its type declarations, source maps, TypeScript sources or
// documentation (licence and notice files are kept whatever their extension). Fewer files also make installs,
// upgrades and image builds faster.
const devOnly = (file) => {
  const base = path.basename(file);
  if (/^(licen[cs]e|copying|notice)/i.test(base)) return false;
  return /\.(d\.[cm]?ts|map|md|markdown|ts|mts|cts)$/i.test(base) && !statSync(file).isDirectory();
};
// The workspace packages (@openkcm/ttlv, @openkcm/client; issue 19) are links into packages/: copy what `npm pack`
// would publish of them (their package.json "files"), not their sources and build state.
const workspaceFiles = (dir) => JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' }))[0]
  .files.map((f) => f.path);
for (const rel of top) {
  const real = realpathSync(path.join(root, rel));
  if (!real.startsWith(path.join(root, 'packages') + path.sep)) {
    cpSync(path.join(root, rel), path.join(app, rel), { recursive: true, dereference: true, filter: (src) => !devOnly(src) });
    continue;
  }
  for (const f of workspaceFiles(real)) {
    if (devOnly(path.join(real, f))) continue;
    mkdirSync(path.dirname(path.join(app, rel, f)), { recursive: true });
    cpSync(path.join(real, f), path.join(app, rel, f));
  }
}
for (const rel of sorted) {
  const dir = path.join(root, rel);
  let meta;
  try { meta = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')); } catch { continue; }
  const licFile = readdirSync(dir).find((f) => /^(licen[cs]e|copying|notice)(\.|$)/i.test(f));
  notices.push({ name: meta.name, version: meta.version, license: typeof meta.license === 'string' ? meta.license : JSON.stringify(meta.license ?? meta.licenses ?? 'UNKNOWN'),
    text: licFile === undefined ? undefined : readFileSync(path.join(dir, licFile), 'utf8') });
}

// ---- licences ----------------------------------------------------------------------------------------------------------
const apache = ['/usr/share/common-licenses/Apache-2.0', path.join(root, 'LICENSE')].find((f) => existsSync(f));
if (apache === undefined) throw new Error('cannot find the Apache-2.0 licence text');
cpSync(apache, path.join(stage, 'LICENSE'));
notices.sort((a, b) => a.name.localeCompare(b.name) || String(a.version).localeCompare(String(b.version)));
const seen = new Set();
let third = `OpenKCM ${version}: third-party software shipped in this artefact\n\n` +
  `The Node.js runtime (node/bin/node) is distributed under the licence in node/LICENSE, which also lists the\n` +
  `libraries statically linked into it (OpenSSL, V8, libuv, ...).\n\n` +
  `Production dependencies under app/node_modules (name, version, declared licence, then the licence text each\n` +
  `package ships):\n\n`;
for (const n of notices) third += `  ${n.name}@${n.version}  ${n.license}\n`;
for (const n of notices) {
  const k = `${n.name}@${n.version}`;
  if (seen.has(k) || n.text === undefined) continue;
  seen.add(k);
  third += `\n${'-'.repeat(78)}\n${k} (${n.license})\n${'-'.repeat(78)}\n${n.text.trimEnd()}\n`;
}
writeFileSync(path.join(stage, 'THIRD-PARTY-NOTICES'), third);
writeFileSync(path.join(stage, 'VERSION'), version + '\n');

// ---- appliance files ----------------------------------------------------------------------------------------------------
const A = path.join(root, 'appliance');
for (const [from, to, mode] of [
  ['systemd/openkcm.service', 'systemd/openkcm.service', 0o644],
  ['systemd/openkcm-firstboot.service', 'systemd/openkcm-firstboot.service', 0o644],
  ['sysusers.d/openkcm.conf', 'sysusers.d/openkcm.conf', 0o644],
  ['tmpfiles.d/openkcm.conf', 'tmpfiles.d/openkcm.conf', 0o644],
  ['openkcm.conf', 'etc/openkcm.conf', 0o644],
  ['firstboot.mjs', 'libexec/firstboot.mjs', 0o644],
  ['install.sh', 'libexec/install', 0o755],
  ['rollback.sh', 'libexec/rollback', 0o755],
  ['ready.mjs', 'libexec/ready.mjs', 0o644],
  ['container-entrypoint.sh', 'libexec/container-entrypoint', 0o755],
  ['Containerfile', 'Containerfile', 0o644],
]) {
  mkdirSync(path.dirname(path.join(stage, to)), { recursive: true });
  cpSync(path.join(A, from), path.join(stage, to));
  chmodSync(path.join(stage, to), mode);
}
mkdirSync(path.join(stage, 'bin'), { recursive: true });
writeFileSync(path.join(stage, 'bin', 'openkcm'), `#!/bin/sh
# OpenKCM ${version}: runs the bundled Node runtime on the compiled CLI; needs no Node on PATH.
# Resolves its own location through symlinks (/usr/local/bin/openkcm -> /opt/openkcm/current/bin/openkcm).
here=$(dirname "$(readlink -f "$0")")
root=$(dirname "$here")
exec "$root/node/bin/node" "$root/app/dist/src/cli/main.js" "$@"
`);
chmodSync(path.join(stage, 'bin', 'openkcm'), 0o755);

// ---- the tarball ---------------------------------------------------------------------------------------------------------
let mtime = '@0';
try { mtime = '@' + execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' }).trim(); } catch { /* not a git checkout */ }
rmSync(artefact, { force: true });
log(`packing ${name} (${top.length} production packages)`);
execFileSync('tar', ['--sort=name', `--mtime=${mtime}`, '--owner=0', '--group=0', '--numeric-owner',
  '-C', path.dirname(stage), '-czf', artefact, name], { stdio: 'inherit' });
rmSync(path.join(outDir, '.stage'), { recursive: true, force: true });
const mb = (statSync(artefact).size / (1024 * 1024)).toFixed(1);
log(`${artefact} (${mb} MiB)`);
process.stdout.write(artefact + '\n');
