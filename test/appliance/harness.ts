/**
 * Shared pieces of the appliance end-to-end tests (boot.e2e.ts, upgrade.e2e.ts): PyKMIP's real client, the
 * operator unseal through the node's socket, TCP readiness, the listening sockets of a set of processes, commands
 * inside a booted container, and the "N+1" artefacts the upgrade tests install.
 * These tests are not part of `npm test` (their files do not end in .test.ts): .ci/run runs them in its own
 * appliance step, as root, after building the artefact and the image (docs/appliance.md "Tests").
 */
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PYTHON = '/usr/bin/python3';
/**
 * Where the tests unpack roots: tmpfs by default, because an unpacked artefact is ~10,000 files and removing them
 * from a loaded disk took longer than the test itself (OPENKCM_APPLIANCE_TEST_TMP overrides; ~1 GB at the peak).
 */
export const SCRATCH = process.env['OPENKCM_APPLIANCE_TEST_TMP'] ?? '/dev/shm';
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DRIVER = path.join(repoRoot, 'test', 'appliance', 'pykmip_keys.py');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export interface Run { readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** Runs a program to completion (never throws on a non-zero exit; the caller asserts). */
export function run(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null;
        resolve({ code, stdout, stderr });
      });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export interface Credentials { readonly ca: string; readonly cert: string; readonly key: string }

export function defaultTenantCredentials(dataDir: string): Credentials {
  const pki = path.join(dataDir, 'pki');
  return { ca: path.join(pki, 'ca.crt'), cert: path.join(pki, 'clients', 'default.crt'), key: path.join(pki, 'clients', 'default.key') };
}

/** PyKMIP's ProxyKmipClient: `create N` or `get UID...`; returns uid → sha256(key value). */
export async function pykmip(port: number, creds: Credentials, op: 'create' | 'get', args: readonly string[]): Promise<Record<string, string>> {
  const r = await run(PYTHON, [DRIVER, '--host', '127.0.0.1', '--port', String(port), '--ca', creds.ca, '--cert', creds.cert,
    '--key', creds.key, op, ...args], { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONWARNINGS: 'ignore' } });
  if (r.code !== 0) throw new Error(`PyKMIP ${op} failed (exit ${String(r.code)}): ${r.stderr.slice(-2000)}`);
  return (JSON.parse(r.stdout) as { keys: Record<string, string> }).keys;
}

/** The Shamir shares first boot wrote (lines "Unseal share i: ..."). */
export function sharesFrom(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('Unseal share ')).map((l) => l.slice(l.indexOf(': ') + 2).trim());
}

/** Submits `threshold` shares through the node's operator socket with the given openkcm binary. */
export async function unseal(openkcm: string, dataDir: string, shares: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(openkcm, ['operator', 'unseal', '--data-dir', dataDir], { env, input: shares.join('\n') + '\n', timeoutMs: 60_000 });
  if (r.code !== 0 || !r.stdout.includes('unsealed')) throw new Error(`unseal failed (exit ${String(r.code)}): ${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** True once HOST:PORT accepts a TCP connection. */
export function accepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', () => { resolve(false); });
  });
}

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** PIDs in the PID namespace of `pid` (the container's processes when pid is its init), seen from the host. */
export function pidsInNamespaceOf(pid: number): number[] {
  const ns = readlinkSync(`/proc/${String(pid)}/ns/pid`);
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/ns/pid`) === ns) out.push(Number(e));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

function hexAddr(hex: string): string {
  const [a = '', p = '0'] = hex.split(':');
  const port = parseInt(p, 16);
  if (a.length === 8) {
    const b = Buffer.from(a, 'hex');
    return `${String(b[3])}.${String(b[2])}.${String(b[1])}.${String(b[0])}:${String(port)}`;
  }
  return `[${a}]:${String(port)}`;
}

/**
 * The TCP listeners and bound UDP sockets owned by `pids`, as "proto addr:port": the socket inodes of their fds
 * matched against /proc/net/{tcp,tcp6,udp,udp6} of the network namespace they share with the host.
 */
export function listenersOf(pids: readonly number[]): string[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[];
    try { fds = readdirSync(`/proc/${String(pid)}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${String(pid)}/fd/${fd}`));
        if (m?.[1] !== undefined) inodes.add(m[1]);
      } catch { /* closed meanwhile */ }
    }
  }
  const found: string[] = [];
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6']) {
    const lines = readFileSync(`/proc/net/${proto}`, 'utf8').split('\n').slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const state = f[3];
      const inode = f[9] ?? '';
      const listening = proto.startsWith('tcp') ? state === '0A' : state === '07';
      if (listening && inodes.has(inode)) found.push(`${proto} ${hexAddr(f[1] ?? '')}`);
    }
  }
  return [...new Set(found)].sort();
}

/** Starts a long-running process; resolves its handle (stdout/stderr collected). */
export function start(file: string, args: readonly string[], env: NodeJS.ProcessEnv): { child: ReturnType<typeof spawn>; out: () => string } {
  const child = spawn(file, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  child.stdout.on('data', (d: Buffer) => { buf += d.toString('utf8'); });
  child.stderr.on('data', (d: Buffer) => { buf += d.toString('utf8'); if (buf.length > 4 << 20) buf = buf.slice(-(1 << 20)); });
  return { child, out: () => buf };
}

/** SIGTERM, then SIGKILL after graceMs; resolves the exit code (null when killed by a signal). */
export function stop(child: ReturnType<typeof spawn>, graceMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); }, graceMs);
    child.once('exit', (code) => { clearTimeout(t); resolve(code); });
    child.kill('SIGTERM');
  });
}

/**
 * Version N+1 of the artefact: the same tree under the version `<N>-upgrade`, built by the same script
 * (OPENKCM_APPLIANCE_VERSION), into `outDir`. OPENKCM_ARTEFACT_NEXT names one already built (.ci/run builds it once
 * for both upgrade tests).
 */
export async function nextArtefact(outDir: string): Promise<{ version: string; artefact: string }> {
  const version = `${packageVersion()}-upgrade`;
  const given = process.env['OPENKCM_ARTEFACT_NEXT'];
  if (given !== undefined && given !== '') {
    if (!given.endsWith(`openkcm-${version}-linux-x64.tar.gz`) || !existsSync(given)) {
      throw new Error(`OPENKCM_ARTEFACT_NEXT=${given} is not an existing openkcm-${version}-linux-x64.tar.gz`);
    }
    return { version, artefact: given };
  }
  const b = await run(process.execPath, [path.join(repoRoot, 'scripts', 'appliance.mjs')],
    { env: { ...process.env, OPENKCM_APPLIANCE_VERSION: version, OPENKCM_APPLIANCE_OUT: outDir }, timeoutMs: 600_000 });
  if (b.code !== 0) throw new Error(`building N+1 failed: ${b.stderr.slice(-2000)}`);
  const artefact = b.stdout.trim().split('\n').pop() ?? '';
  if (!artefact.endsWith(`openkcm-${version}-linux-x64.tar.gz`) || !existsSync(artefact)) throw new Error(`N+1 artefact not written: ${artefact}`);
  return { version, artefact };
}

/**
 * An artefact derived from `artefact` (whose tree is `openkcm-<fromVersion>/`) under `toVersion`, with
 * `extraModuleCode` appended to the compiled module `app/<modulePath>`: how the upgrade test makes a release that
 * migrates the data (a governance migration the older release does not know) without shipping a fake migration.
 */
export async function derivedArtefact(artefact: string, fromVersion: string, toVersion: string, outDir: string,
  modulePath: string, extraModuleCode: string): Promise<string> {
  const stage = path.join(outDir, `.derive-${toVersion}`);
  mkdirSync(stage, { recursive: true });
  const x = await run('tar', ['-C', stage, '-xzf', artefact]);
  if (x.code !== 0) throw new Error(x.stderr);
  const tree = path.join(stage, `openkcm-${toVersion}`);
  renameSync(path.join(stage, `openkcm-${fromVersion}`), tree);
  writeFileSync(path.join(tree, 'VERSION'), `${toVersion}\n`);
  const pkgFile = path.join(tree, 'app', 'package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string };
  writeFileSync(pkgFile, JSON.stringify({ ...pkg, version: toVersion }, null, 2) + '\n');
  appendFileSync(path.join(tree, 'app', modulePath), `\n${extraModuleCode}\n`);
  const out = path.join(outDir, `openkcm-${toVersion}-linux-x64.tar.gz`);
  // gzip -1: this tarball lives for one test; the default level costs ~4x the time for 10% less.
  const c = await run('tar', ['-C', stage, '-I', 'gzip -1', '-cf', out, `openkcm-${toVersion}`]);
  if (c.code !== 0) throw new Error(c.stderr);
  return out;
}

/**
 * Runs `script` with /bin/sh inside the booted container whose init is `initPid`, as root, in all its namespaces
 * and its root directory: what an operator's shell on the node does (`systemctl` talks to the container's systemd).
 * nsenter rather than `machinectl shell`, because the container is not registered (--register=no).
 */
export function inContainer(initPid: number, script: string, timeoutMs = 300_000): Promise<Run> {
  return run('nsenter', ['--target', String(initPid), '--mount', '--uts', '--ipc', '--net', '--pid', '--cgroup', '--root', '--wd',
    '--', '/usr/bin/env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'SYSTEMD_PAGER=',
    '/bin/sh', '-c', script], { timeoutMs });
}
