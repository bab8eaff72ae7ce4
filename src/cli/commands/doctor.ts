/**
 * `openkcm doctor --data-dir DIR`: checks a node BEFORE it is started and says what to fix (issue 17 item 8;
 * docs/appliance.md "openkcm doctor"). Each check prints one line `ok|warn|FAIL  <check>  <finding>`, a FAIL line
 * followed by `      fix: <what to do>`. Exit 0 when nothing failed (warnings allowed), 1 otherwise, 2 on a usage error.
 *
 * It reads and binds, and changes nothing: the governance database is opened read-only in spirit (a `select 1`;
 * an embedded database is opened, which PGlite does without migrating), the listen addresses are bound and released
 * at once, and no key is unsealed. Run it as the service user (`runuser -u openkcm -- openkcm doctor ...`) so the
 * memlock limit, the permissions and the ports are the ones the server will meet.
 */
import { X509Certificate } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { access, lstat, readdir, readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { CONFIG_FILE_NAME, formatListen, parseJsonc, resolveConfig, validateConfigFile } from '../../config/index.js';
import { ConfigError } from '../../common/config-error.js';
import type { ConfigFile, ListenAddress, LoadedConfig } from '../../config/index.js';
import { forEachArg, parseCommandLine, requireDataDir, UsageError } from '../args.js';

const USAGE = `usage: openkcm doctor --data-dir DIR [--warn-days N]

  --data-dir DIR   the data directory the server will run on (its openkcm.conf is read)
  --warn-days N    warn about certificates that expire within N days (default 30)

Checks, without starting anything: the configuration, the memlock limit against the key arena, the data
directory's owner and permissions, the certificates and their expiry, the MasterKey seal, the governance
database, each keystore connection, and that the KMIP and admin API addresses are free.
Exit 0: nothing failed; 1: something must be fixed (each FAIL line says how).`;

/** The native arena of a default config: 768 × 64 B + 64 × 256 B (docs/security.md "Limits"). */
const DEFAULT_SMALL_SLOTS = 768;
const DEFAULT_LARGE_SLOTS = 64;
const PAGE = 4096;
/** CAP_IPC_LOCK's bit in /proc/self/status CapEff (linux/capability.h). */
const CAP_IPC_LOCK_BIT = 14n;
/** Largest --warn-days: ten years; beyond that every certificate "expires soon". */
const MAX_WARN_DAYS = 3650;

export type Verdict = 'ok' | 'warn' | 'FAIL';
export interface Finding { readonly verdict: Verdict; readonly check: string; readonly detail: string; readonly fix?: string }

interface Parsed { dataDir?: string; warnDays: number; help: boolean }

function parseArgs(argv: readonly string[]): Parsed {
  const p: Parsed = { warnDays: 30, help: false };
  forEachArg(argv, ({ arg: a, flag, value }) => {
    switch (flag) {
      case '--help': case '-h': p.help = true; break;
      case '--data-dir': p.dataDir = value(); break;
      case '--warn-days': {
        const v = value();
        if (!/^\d{1,4}$/.test(v) || Number(v) > MAX_WARN_DAYS) throw new UsageError(`--warn-days must be an integer from 0 to ${String(MAX_WARN_DAYS)}, got ${v}`);
        p.warnDays = Number(v);
        break;
      }
      default: throw new UsageError(`unknown option ${a}`);
    }
  });
  return p;
}

const ok = (check: string, detail: string): Finding => ({ verdict: 'ok', check, detail });
const warn = (check: string, detail: string, fix?: string): Finding => ({ verdict: 'warn', check, detail, ...(fix === undefined ? {} : { fix }) });
const fail = (check: string, detail: string, fix: string): Finding => ({ verdict: 'FAIL', check, detail, fix });

function errno(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
}

// ---- memlock ---------------------------------------------------------------------------------------------------------

/** RLIMIT_MEMLOCK (soft) in bytes from /proc/self/limits; Infinity for unlimited; undefined when unreadable. */
export function memlockFromLimits(text: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith('Max locked memory'));
  const soft = line?.slice('Max locked memory'.length).trim().split(/\s+/)[0];
  if (soft === undefined) return undefined;
  if (soft === 'unlimited') return Infinity;
  const n = Number(soft);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function hasCapIpcLock(statusText: string): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText);
  return m?.[1] !== undefined && ((BigInt('0x' + m[1]) >> CAP_IPC_LOCK_BIT) & 1n) === 1n;
}

export function arenaBytes(native: Readonly<Record<string, unknown>>): number {
  const small = typeof native['smallSlots'] === 'number' ? native['smallSlots'] : DEFAULT_SMALL_SLOTS;
  const large = typeof native['largeSlots'] === 'number' ? native['largeSlots'] : DEFAULT_LARGE_SLOTS;
  return Math.ceil((small * 64 + large * 256) / PAGE) * PAGE;
}

async function checkMemlock(native: Readonly<Record<string, unknown>>): Promise<Finding> {
  const C = 'memlock';
  const need = arenaBytes(native);
  if (native['allowUnlocked'] === true) return warn(C, 'native.allowUnlocked is true: key memory may be swapped to disk', 'set native.allowUnlocked to false in production');
  let limit: number | undefined;
  let cap = false;
  try {
    limit = memlockFromLimits(await readFile('/proc/self/limits', 'utf8'));
    cap = hasCapIpcLock(await readFile('/proc/self/status', 'utf8'));
  } catch { /* not Linux: fall through */ }
  if (cap) return ok(C, `CAP_IPC_LOCK held; arena ${String(need)} bytes per process`);
  if (limit === undefined) return warn(C, 'cannot read RLIMIT_MEMLOCK (/proc/self/limits)');
  if (limit >= need) return ok(C, `RLIMIT_MEMLOCK ${limit === Infinity ? 'unlimited' : `${String(limit)} bytes`} >= arena ${String(need)} bytes per process`);
  return fail(C, `RLIMIT_MEMLOCK ${String(limit)} bytes < key arena ${String(need)} bytes: the server will refuse to start (MLOCK_FAILED)`,
    `raise it: systemd LimitMEMLOCK=${String(Math.ceil(need / 1048576) * 2)}M or AmbientCapabilities=CAP_IPC_LOCK; a shell: ulimit -l ${String(Math.ceil(need / 1024) * 2)} (docs/security.md)`);
}

// ---- data directory --------------------------------------------------------------------------------------------------

async function checkDataDir(dataDir: string): Promise<Finding[]> {
  const C = 'data directory';
  const out: Finding[] = [];
  let st;
  try {
    st = await stat(dataDir);
  } catch (e) {
    return [fail(C, `${dataDir}: ${errno(e)}`, `create it: openkcm init --data-dir ${dataDir} (the appliance's first boot does this)`)];
  }
  if (!st.isDirectory()) return [fail(C, `${dataDir} is not a directory`, 'point --data-dir at the data directory')];
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    out.push(fail(C, `${dataDir} is owned by uid ${String(st.uid)}, this process runs as uid ${String(uid)}`,
      `run doctor (and the server) as the owner, or: chown -R <service user> ${dataDir}`));
  }
  if ((st.mode & 0o077) !== 0) {
    out.push(fail(C, `${dataDir} has mode ${(st.mode & 0o777).toString(8)}: other users can reach the vault and the PKI`, `chmod 700 ${dataDir}`));
  }
  try {
    await access(dataDir, fsc.R_OK | fsc.W_OK | fsc.X_OK);
  } catch {
    out.push(fail(C, `${dataDir} is not writable by this user`, `chown the directory to the service user, or run as it`));
  }
  // Private keys must not be readable by group or others.
  const keyFiles: string[] = [];
  for (const sub of ['pki', path.join('pki', 'clients')]) {
    try {
      for (const f of await readdir(path.join(dataDir, sub))) if (f.endsWith('.key')) keyFiles.push(path.join(dataDir, sub, f));
    } catch { /* no PKI: reported by the certificates check */ }
  }
  for (const f of ['master.key', 'kek.key', 'seal.json']) keyFiles.push(path.join(dataDir, f));
  for (const f of keyFiles) {
    try {
      const s = await lstat(f);
      if ((s.mode & 0o077) !== 0) out.push(fail(C, `${f} has mode ${(s.mode & 0o777).toString(8)}`, `chmod 600 ${f}`));
    } catch { /* absent is fine here */ }
  }
  if (out.length === 0) out.push(ok(C, `${dataDir}: owner and modes are right (0700, keys 0600)`));
  return out;
}

// ---- certificates ----------------------------------------------------------------------------------------------------

async function checkCertificates(dataDir: string, file: ConfigFile, warnDays: number): Promise<Finding[]> {
  const C = 'certificates';
  const rel = (p: string | undefined, dflt: string): string => path.resolve(dataDir, p ?? dflt);
  const tls = file.kmip?.tls ?? {};
  const certs: { what: string; file: string }[] = [
    { what: 'CA', file: rel(tls.clientCa, 'pki/ca.crt') },
    { what: 'server', file: rel(tls.cert, 'pki/server.crt') },
  ];
  try {
    for (const f of (await readdir(path.join(dataDir, 'pki', 'clients'))).sort()) {
      if (f.endsWith('.crt')) certs.push({ what: `client ${f.slice(0, -4)}`, file: path.join(dataDir, 'pki', 'clients', f) });
    }
  } catch { /* no client credentials on this node */ }
  const out: Finding[] = [];
  const now = Date.now();
  let ca: X509Certificate | undefined;
  for (const c of certs) {
    let x: X509Certificate;
    try {
      x = new X509Certificate(await readFile(c.file));
    } catch (e) {
      out.push(fail(C, `${c.what} ${c.file}: ${errno(e)}`, `run openkcm init --data-dir ${dataDir}, or fix kmip.tls in ${CONFIG_FILE_NAME}`));
      continue;
    }
    if (c.what === 'CA') ca = x;
    const to = Date.parse(x.validTo);
    const days = Math.floor((to - now) / 86_400_000);
    if (Date.parse(x.validFrom) > now) {
      out.push(fail(C, `${c.what} certificate is not valid before ${x.validFrom}`, 'check the clock (timedatectl), or reissue the certificate'));
    } else if (to <= now) {
      out.push(fail(C, `${c.what} certificate expired on ${x.validTo}`, `issue a new one (${c.file})`));
    } else if (days < warnDays) {
      out.push(warn(C, `${c.what} certificate expires in ${String(days)} day(s) (${x.validTo})`, `renew ${c.file} before then`));
    } else if (c.what !== 'CA' && ca !== undefined && !x.verify(ca.publicKey)) {
      out.push(fail(C, `${c.what} certificate is not signed by the configured CA`, 'issue it from the CA in kmip.tls.clientCa, or point clientCa at its issuer'));
    } else {
      out.push(ok(C, `${c.what} valid until ${x.validTo} (${String(days)} days)`));
    }
  }
  return out;
}

// ---- seal ---------------------------------------------------------------------------------------------------------------

async function checkSeal(dataDir: string, seal: Readonly<Record<string, unknown>>): Promise<Finding> {
  const C = 'seal';
  let sealJson: { type?: unknown; shares?: unknown; threshold?: unknown } | undefined;
  try {
    sealJson = JSON.parse(await readFile(path.join(dataDir, 'seal.json'), 'utf8')) as typeof sealJson;
  } catch (e) {
    if (errno(e) !== 'ENOENT') return fail(C, `seal.json unreadable: ${errno(e)}`, 'restore seal.json from the backup of this node');
  }
  if (sealJson === undefined) {
    if (seal['allowDev'] === false) {
      return fail(C, 'the MasterKey is not initialised and seal.allowDev is false: the server would stay sealed',
        `openkcm operator init --data-dir ${dataDir} --shares 5 --threshold 3 (or --auto-unseal with a seal.auto section)`);
    }
    let dev = false;
    try { await access(path.join(dataDir, 'master.key')); dev = true; } catch { /* created at the first start */ }
    return warn(C, `DEVELOPMENT MasterKey (${dev ? 'master.key, in the clear' : 'master.key will be created in the clear at the first start'})`,
      'production: openkcm operator init --shares N --threshold K, or --auto-unseal');
  }
  if (sealJson.type === 'shamir') return ok(C, `Shamir ${String(sealJson.threshold)} of ${String(sealJson.shares)}: after start, custodians run openkcm operator unseal`);
  if (sealJson.type === 'auto') return seal['auto'] === undefined
    ? fail(C, 'seal.json says auto-unseal but the config has no seal.auto section', 'restore the seal.auto section the node was initialised with')
    : ok(C, 'auto-unseal through the seal.auto keystore');
  if (sealJson.type === 'dev') return warn(C, 'DEVELOPMENT MasterKey (master.key, in the clear)', 'production: openkcm operator init --shares N --threshold K');
  return fail(C, `seal.json has an unknown type ${JSON.stringify(sealJson.type)}`, 'restore seal.json from the backup of this node');
}

// ---- database -------------------------------------------------------------------------------------------------------------

async function checkDatabase(loaded: LoadedConfig): Promise<Finding> {
  const C = 'database';
  const g = loaded.governance;
  if (g['enabled'] === false) return ok(C, 'governance disabled (governance.enabled: false)');
  const envUrl = process.env['DATABASE_URL'];
  const url = typeof g['databaseUrl'] === 'string' ? g['databaseUrl'] : envUrl !== undefined && envUrl !== '' ? envUrl : undefined;
  const { openDb, dbOptionsFrom } = await import('../../cmk/db.js');
  const where = url === undefined ? `embedded (${path.join(loaded.dataDir, 'governance-db')})` : redactUrl(url);
  if (url === undefined) {
    try {
      await access(path.join(loaded.dataDir, 'governance-db'));
    } catch {
      return warn(C, `${where} does not exist yet: the first start creates it`);
    }
  }
  let db;
  try {
    db = await openDb(dbOptionsFrom({ url, dataDir: loaded.dataDir }));
    await db.query('select 1');
    return ok(C, `${where} answers`);
  } catch (e) {
    return fail(C, `${where}: ${e instanceof Error ? e.message : String(e)}`,
      url === undefined ? 'stop any other openkcm on this data directory; check its permissions' : 'check that PostgreSQL runs, the URL, and pg_hba.conf');
  } finally {
    await db?.close();
  }
}

/** A database URL without its password, for output. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}

// ---- keystores ---------------------------------------------------------------------------------------------------------------

async function checkKeystores(keystores: Readonly<Record<string, unknown>>): Promise<Finding[]> {
  const C = 'keystores';
  const { keystoresSettings } = await import('../../config/keystores.js');
  let s;
  try {
    s = keystoresSettings(keystores);
  } catch (e) {
    return [fail(C, e instanceof Error ? e.message : String(e), 'fix the keystores section (docs/keystores.md)')];
  }
  const out: Finding[] = [];
  for (const [kind, settings] of Object.entries(s.connections)) {
    if (kind === 'pkcs11') {
      const mod = settings['modulePath'];
      if (typeof mod !== 'string') { out.push(fail(`${C} ${kind}`, 'modulePath is missing', 'set keystores.connections.pkcs11.modulePath')); continue; }
      try {
        await access(mod, fsc.R_OK);
        out.push(ok(`${C} ${kind}`, `module ${mod} is readable (the token is opened at start, with the unsealed PIN)`));
      } catch (e) {
        out.push(fail(`${C} ${kind}`, `module ${mod}: ${errno(e)}`, 'install the PKCS#11 library (e.g. apt-get install softhsm2) or fix modulePath'));
      }
      continue;
    }
    const endpoint = settings['endpoint'] ?? settings['vaultUrl'] ?? settings['address'];
    if (typeof endpoint === 'string') {
      out.push(await reachable(`${C} ${kind}`, endpoint));
    } else {
      out.push(ok(`${C} ${kind}`, 'configured; its credentials are node secrets, so it is contacted only after unseal'));
    }
  }
  out.push(ok(C, `default for new tenants: ${s.default}; ${String(Object.keys(s.tenants).length)} tenant(s) pinned to a keystore`));
  return out;
}

async function reachable(check: string, endpoint: string): Promise<Finding> {
  let host: string;
  let port: number;
  try {
    const u = new URL(endpoint);
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = u.port === '' ? (u.protocol === 'http:' ? 80 : 443) : Number(u.port);
  } catch {
    return fail(check, `endpoint ${JSON.stringify(endpoint)} is not a URL`, 'write it as https://host[:port]');
  }
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(3000);
    s.once('connect', () => { s.destroy(); resolve(ok(check, `${host}:${String(port)} accepts connections`)); });
    s.once('timeout', () => { s.destroy(); resolve(fail(check, `${host}:${String(port)}: no answer in 3 s`, 'check the route and firewall to the keystore')); });
    s.once('error', (e) => { resolve(fail(check, `${host}:${String(port)}: ${errno(e)}`, 'check the endpoint, DNS and firewall')); });
  });
}

// ---- ports ---------------------------------------------------------------------------------------------------------------------

export function portFree(addr: ListenAddress): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (e) => { resolve(errno(e)); });
    srv.listen({ host: addr.host, port: addr.port, exclusive: true }, () => { srv.close(() => { resolve(undefined); }); });
  });
}

async function checkPorts(loaded: LoadedConfig): Promise<Finding[]> {
  const out: Finding[] = [];
  const addrs: { what: string; addr: ListenAddress }[] = [{ what: 'KMIP', addr: loaded.server.listen }];
  if (loaded.governance['enabled'] !== false) {
    try {
      const { governanceSettings } = await import('../../config/governance.js');
      const g = await governanceSettings(loaded);
      if (g.adminApi !== undefined) addrs.push({ what: 'admin API', addr: g.adminApi.listen });
    } catch (e) {
      out.push(fail('ports', `governance section: ${e instanceof Error ? e.message : String(e)}`, 'fix the governance section (docs/configuration.md)'));
    }
  }
  for (const { what, addr } of addrs) {
    if (addr.port === 0) { out.push(ok(`port ${what}`, 'port 0: any free port')); continue; }
    const problem = await portFree(addr);
    out.push(problem === undefined
      ? ok(`port ${what}`, `${formatListen(addr)} is free`)
      : fail(`port ${what}`, `${formatListen(addr)}: ${problem}${problem === 'EADDRINUSE' ? ' (another process listens there: a running openkcm?)' : ''}`,
        problem === 'EADDRINUSE' ? `stop the other process (ss -ltnp 'sport = :${String(addr.port)}') or change the address in ${CONFIG_FILE_NAME}` : 'use an address of this host'));
  }
  return out;
}

// ---- the command ------------------------------------------------------------------------------------------------------------------

/** Runs every check; the configuration first, because the others need it. */
export async function diagnose(dataDir: string, warnDays = 30): Promise<Finding[]> {
  const out: Finding[] = [];
  const confPath = path.join(dataDir, CONFIG_FILE_NAME);
  let file: ConfigFile = {};
  try {
    file = validateConfigFile(parseJsonc(await readFile(confPath, 'utf8')));
    out.push(ok('config', `${confPath} is valid`));
  } catch (e) {
    if (errno(e) === 'ENOENT') out.push(warn('config', `${confPath} is absent: every setting at its default`));
    else if (e instanceof ConfigError) { out.push(fail('config', `${confPath}: ${e.message}`, 'fix the setting named (docs/configuration.md)')); return out; }
    else { out.push(fail('config', `${confPath}: ${errno(e)}`, 'make it readable by the service user')); return out; }
  }
  out.push(await checkMemlock(file.native ?? {}));
  out.push(...await checkDataDir(dataDir));
  out.push(...await checkCertificates(dataDir, file, warnDays));
  out.push(await checkSeal(dataDir, file.seal ?? {}));
  let loaded: LoadedConfig | undefined;
  try {
    loaded = await resolveConfig(dataDir, file);
  } catch (e) {
    out.push(fail('config', e instanceof Error ? e.message : String(e), 'fix the file or setting named'));
  }
  if (loaded !== undefined) {
    out.push(await checkDatabase(loaded));
    out.push(...await checkKeystores(loaded.keystores));
    out.push(...await checkPorts(loaded));
  }
  return out;
}

export function formatFindings(findings: readonly Finding[]): string {
  const w = Math.max(...findings.map((f) => f.check.length));
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${f.verdict.padEnd(4)}  ${f.check.padEnd(w)}  ${f.detail}`);
    if (f.fix !== undefined && f.verdict !== 'ok') lines.push(`${' '.repeat(6 + w)}  fix: ${f.fix}`);
  }
  const failed = findings.filter((f) => f.verdict === 'FAIL').length;
  const warned = findings.filter((f) => f.verdict === 'warn').length;
  lines.push('', failed === 0 ? `doctor: ready to start (${String(warned)} warning(s))` : `doctor: ${String(failed)} problem(s) to fix before starting`);
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommandLine('doctor', USAGE, argv, parseArgs);
  if (typeof p === 'number') return p;
  const dataDir = requireDataDir('doctor', USAGE, p.dataDir);
  if (typeof dataDir === 'number') return dataDir;
  const findings = await diagnose(path.resolve(dataDir), p.warnDays);
  process.stdout.write(formatFindings(findings) + '\n');
  return findings.some((f) => f.verdict === 'FAIL') ? 1 : 0;
}
