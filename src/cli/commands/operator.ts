/**
 * `openkcm operator <init|unseal|seal|status>`: the MasterKey ceremony (issue 4 deliverable 6; docs/cli.md,
 * docs/keystores.md "MasterKey, unsealing and node secrets").
 *
 * - `init` works offline on the data directory (it writes seal.json and prints the shares once; `--auto-unseal`
 *   wraps the key through the keystore of the config's `seal.auto` section instead, src/krypton/auto-seal.ts).
 * - `unseal`, `seal`, `status` talk to the running server through its operator socket `<dataDir>/operator.sock`.
 *   A share given as an argument is visible in `ps`; reading shares from stdin (no SHARE, or `-`) avoids that.
 */
import { open as openFile, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { KeystoreFactory } from '../../keystore/factory.js';
import { KeystoreError } from '../../keystore/types.js';
import { autoSealKeystores } from '../../krypton/auto-seal.js';
import { autoSealSettings } from '../../config/seal.js';
import { MasterKey, MasterKeyError, MAX_NODE_SECRET_BYTES, NODE_SECRET_NAME_PATTERN, resolveSealSettings, shamirParamsProblem } from '../../krypton/master-key.js';
import type { MasterKeyStatus } from '../../krypton/master-key.js';
import { OPERATOR_SOCKET_FILE } from '../../krypton/operator-api.js';
import { initNative } from '../../native/index.js';
import { CONFIG_FILE_NAME, parseJsonc, validateConfigFile } from '../../config/index.js';
import { ConfigError } from '../../common/config-error.js';
import { keystoresSettings } from '../../config/index.js';
import { journalOfflineChanges } from '../../krypton/secret-journal.js';
import { forEachArg, parseCommandLine, UsageError } from '../args.js';

const USAGE = `usage: openkcm operator <subcommand> [--data-dir DIR] [options]

  init --shares N --threshold K [--force]
                     make DIR a Shamir-sealed node and print the N unseal shares ONCE
                     (1 <= K <= N <= 255, K >= 2 unless N = 1). A development node (master.key)
                     is converted keeping its key; --force replaces an initialised node's key
                     (everything sealed under the old key becomes unreadable)
  init --auto-unseal [--force]
                     make DIR auto-unseal through the keystore named by the seal.auto section
                     of DIR/openkcm.conf (HSM via PKCS#11, AWS KMS, Azure Key Vault): the key is
                     wrapped there, checked by unwrapping it once, and no shares are printed
  unseal [SHARE|-]   submit one share to the running server; without SHARE (or with -) read
                     shares from stdin, one per line, until unsealed or EOF. Prints progress K/N
  seal               seal the running server: zeroise the master key, every tenant's L2/L3
                     slot and the cached DEKs (not a revocation: tenants re-activate after unseal)
  status             print the seal status; exit 0 unsealed, 2 sealed, 1 error
  secret put NAME [--from-file F]
                     store a node secret (keystore PIN, cloud credential) sealed by the master key. The
                     value is read from stdin (one trailing newline dropped) or, byte for byte, from F;
                     never from the command line (visible in ps). Replaces an existing secret
  secret list        names, sizes and modification times of the node secrets (never their values)
  secret delete NAME overwrite and remove a node secret
                     The secret commands go through the operator socket of the running server; with no
                     server running they work offline when the master key opens without custodians (a
                     development or auto-unseal node). A sealed node refuses them: unseal it first
  reload-keystores   the running server re-reads DIR/openkcm.conf and adds the keystore connections
                     (keystores.connections) it does not have yet, without a restart; audited. Changing
                     or removing a connection, keystores.tenants or keystores.default needs a restart
                     (refused, nothing applied)

  --data-dir DIR     data directory (default: $OPENKCM_DATA_DIR, else ./.openkcm)`;

/** The default data directory, as `npm start` uses it. */
function defaultDataDir(): string {
  return process.env['OPENKCM_DATA_DIR'] ?? './.openkcm';
}

type Sub = 'init' | 'unseal' | 'seal' | 'status' | 'secret' | 'reload-keystores';
type SecretAction = 'put' | 'list' | 'delete';
interface Parsed {
  sub?: Sub; dataDir?: string; shares?: number; threshold?: number; autoUnseal: boolean; force: boolean; share?: string; help: boolean;
  secretAction?: SecretAction; secretName?: string; fromFile?: string;
}

function positiveInt(flag: string, v: string): number {
  if (!/^\d{1,3}$/.test(v)) throw new UsageError(`${flag} must be an integer from 1 to 255, got ${v}`);
  return Number(v);
}

function parseArgs(argv: readonly string[]): Parsed {
  const p: Parsed = { autoUnseal: false, force: false, help: false };
  forEachArg(argv, ({ arg: a, flag, value }) => {
    switch (flag) {
      case '--help': case '-h': p.help = true; break;
      case '--data-dir': p.dataDir = value(); break;
      case '--shares': p.shares = positiveInt('--shares', value()); break;
      case '--threshold': p.threshold = positiveInt('--threshold', value()); break;
      case '--force': p.force = true; break;
      case '--auto-unseal': p.autoUnseal = true; break;
      case '--from-file': p.fromFile = value(); break;
      default:
        if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
        if (p.sub === undefined) {
          if (a !== 'init' && a !== 'unseal' && a !== 'seal' && a !== 'status' && a !== 'secret' && a !== 'reload-keystores') throw new UsageError(`unknown subcommand ${a}`);
          p.sub = a;
        } else if (p.sub === 'unseal' && p.share === undefined) {
          p.share = a;
        } else if (p.sub === 'secret' && p.secretAction === undefined) {
          if (a !== 'put' && a !== 'list' && a !== 'delete') throw new UsageError(`unknown secret action ${a.slice(0, 16)} (put, list, delete)`);
          p.secretAction = a;
        } else if (p.sub === 'secret' && p.secretAction !== 'list' && p.secretName === undefined) {
          p.secretName = a;
        } else if (p.sub === 'secret') {
          // Never echoed: it may be the secret value itself, typed where it does not belong.
          throw new UsageError('a secret value is never taken from the command line (it would show in ps and shell history): pipe it on stdin or use --from-file F');
        } else {
          throw new UsageError(`unexpected argument ${a.slice(0, 16)}`);
        }
    }
  });
  if (p.help) return p;
  if (p.sub === undefined) throw new UsageError('a subcommand is required');
  if (p.sub === 'secret') {
    if (p.secretAction === undefined) throw new UsageError('secret needs an action: put NAME, list or delete NAME');
    if (p.secretAction !== 'list' && p.secretName === undefined) throw new UsageError(`secret ${p.secretAction} needs a NAME`);
    if (p.secretName !== undefined && !NODE_SECRET_NAME_PATTERN.test(p.secretName)) throw new UsageError(`secret name must match ${NODE_SECRET_NAME_PATTERN.source}`);
    if (p.fromFile !== undefined && p.secretAction !== 'put') throw new UsageError('--from-file applies to secret put only');
  } else if (p.fromFile !== undefined) {
    throw new UsageError('--from-file applies to secret put only');
  }
  if (p.sub === 'init' && p.autoUnseal) {
    if (p.shares !== undefined || p.threshold !== undefined) throw new UsageError('--auto-unseal and --shares/--threshold are exclusive: an auto-unseal node has no shares');
  } else if (p.sub === 'init') {
    if (p.shares === undefined || p.threshold === undefined) throw new UsageError('init needs --shares N and --threshold K (or --auto-unseal)');
    const why = shamirParamsProblem(p.shares, p.threshold);
    if (why !== undefined) throw new UsageError(why);
  } else if (p.shares !== undefined || p.threshold !== undefined || p.force || p.autoUnseal) {
    throw new UsageError(`--shares, --threshold, --auto-unseal and --force apply to init only`);
  }
  return p;
}

// ---- the operator socket client --------------------------------------------------------------------------------

interface Reply { status: number; body: Record<string, unknown> }

class SocketError extends Error {}

function call(socketPath: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', route: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // A Buffer body is a secret value: sent as raw bytes (the caller wipes it), never as a JSON string.
    const raw = Buffer.isBuffer(body);
    const payload = body === undefined ? undefined : raw ? body : Buffer.from(JSON.stringify(body), 'utf8');
    const req = request({
      socketPath, method, path: route,
      headers: payload === undefined ? {} : { 'content-type': raw ? 'application/octet-stream' : 'application/json', 'content-length': String(payload.length) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const text = Buffer.concat(chunks).toString('utf8');
          if (text === '' && res.statusCode === 204) {
            resolve({ status: 204, body: {} });
            return;
          }
          const parsed: unknown = JSON.parse(text);
          resolve({ status: res.statusCode ?? 0, body: typeof parsed === 'object' && parsed !== null ? parsed as Record<string, unknown> : {} });
        } catch {
          reject(new SocketError(`unexpected reply from ${socketPath}`));
        }
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no server is running on this data directory' : e.message;
      reject(new SocketError(`cannot reach ${socketPath}: ${why}`));
    });
    req.end(payload);
  });
}

/** The server's error message, or the HTTP status. */
function replyMessage(r: Reply): string {
  const m = r.body['message'];
  return typeof m === 'string' ? m : `HTTP ${String(r.status)}`;
}

function progressLine(s: Partial<MasterKeyStatus>): string {
  if (s.initialized === false) return 'not initialised (run openkcm operator init)';
  if (s.sealed === false) return `unsealed (${String(s.type)})`;
  if (s.type === 'shamir') return `sealed, progress ${String(s.progress ?? 0)}/${String(s.threshold ?? 0)}`;
  return `sealed (${String(s.type)})`;
}

async function submit(socketPath: string, share: string): Promise<{ ok: boolean; status: Partial<MasterKeyStatus> }> {
  const r = await call(socketPath, 'POST', '/v1/sys/unseal', { share: share.trim() });
  if (r.status !== 200) {
    process.stderr.write(`openkcm operator unseal: ${replyMessage(r)}\n`);
    return { ok: false, status: {} };
  }
  const s = r.body as Partial<MasterKeyStatus>;
  process.stdout.write(`${s.sealed === false ? 'unsealed' : `${String(s.progress ?? 0)}/${String(s.threshold ?? 0)}`}\n`);
  return { ok: true, status: s };
}

async function unsealFromStdin(socketPath: string): Promise<number> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  let failed = false;
  let sealed = true;
  for await (const line of rl) {
    const share = line.trim();
    if (share === '' || share.startsWith('#')) continue;
    const r = await submit(socketPath, share);
    if (!r.ok) failed = true;
    else if (r.status.sealed === false) {
      sealed = false;
      break;
    }
  }
  rl.close();
  if (!sealed) return 0;
  if (!failed) process.stderr.write('openkcm operator unseal: end of input; the server is still sealed\n');
  return failed ? 1 : 2;
}

// ---- subcommands -------------------------------------------------------------------------------------------------

async function init(dataDir: string, shares: number, threshold: number, force: boolean): Promise<number> {
  initNative();
  if (force) process.stderr.write('openkcm operator init: WARNING --force: if this node is already initialised, a NEW master key replaces the old one and every secret sealed under the old key becomes unreadable\n');
  let list: string[];
  try {
    list = await MasterKey.initShamir(dataDir, { shares, threshold, force });
  } catch (e) {
    if (e instanceof MasterKeyError) {
      process.stderr.write(`openkcm operator init: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const lines = [
    `openkcm: ${path.resolve(dataDir)} is now sealed by Shamir's scheme: ${String(threshold)} of ${String(shares)} shares unseal it.`,
    '',
    ...list.map((s, i) => `Unseal share ${String(i + 1)}: ${s}`),
    '',
    'These shares are shown ONCE and stored nowhere. Give each to a different custodian now.',
    `After every start, ${String(threshold)} custodian(s) run: openkcm operator unseal --data-dir ${dataDir}  (and paste the share)`,
    `Fewer than ${String(threshold)} shares reveal nothing about the key; losing more than ${String(shares - threshold)} share(s) loses the node's secrets.`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** The `seal` and `keystores` sections of DIR/openkcm.conf (absent file: empty); the PKI is not needed here. */
async function readSealConfig(dataDir: string): Promise<{ seal: Record<string, unknown>; keystores: Record<string, unknown> }> {
  const file = path.join(dataDir, CONFIG_FILE_NAME);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { seal: {}, keystores: {} };
    throw e;
  }
  try {
    const cfg = validateConfigFile(parseJsonc(text));
    return { seal: cfg.seal ?? {}, keystores: cfg.keystores ?? {} };
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${file}: ${e.message}`);
    throw e;
  }
}

/**
 * `init --auto-unseal`: wraps the master key (the dev key of a converted node, or a new one) through the plugin named
 * by `seal.auto`, then opens the result once the way `serve` will, so a wrong PIN, module or key is reported now and
 * not at the next start.
 */
async function initAutoUnseal(dataDir: string, force: boolean): Promise<number> {
  initNative();
  const fail = (e: unknown): number => {
    if (e instanceof MasterKeyError || e instanceof ConfigError || e instanceof KeystoreError) {
      process.stderr.write(`openkcm operator init: ${e.message}\n`);
      return 1;
    }
    throw e;
  };
  let factory: KeystoreFactory | undefined;
  try {
    const cfg = await readSealConfig(dataDir);
    const auto = autoSealSettings(cfg.seal);
    if (auto === undefined) {
      throw new ConfigError(`${path.join(dataDir, CONFIG_FILE_NAME)} has no seal.auto section: add {"plugin", "keyRef", "connection", "secrets"} naming the HSM/KMS key that wraps the master key (docs/keystores.md "Auto-unseal")`);
    }
    resolveSealSettings(cfg.seal);
    if (force) process.stderr.write('openkcm operator init: WARNING --force: if this node is already initialised, a NEW master key replaces the old one and every secret sealed under the old key becomes unreadable\n');
    factory = autoSealKeystores(auto, keystoresSettings(cfg.keystores).connections, dataDir);
    const plugin = await factory.keystoreFor(auto.shadow);
    await MasterKey.initAuto(dataDir, auto.shadow, plugin, { force });
    const mk = await MasterKey.open(dataDir, cfg.seal, { keystoreFor: factory.keystoreFor });
    mk.seal();
    process.stdout.write([
      `openkcm: ${path.resolve(dataDir)} now auto-unseals through ${auto.shadow.plugin} (${auto.shadow.keyRef}).`,
      'The master key is stored wrapped by that key in seal.json; the server unwraps it at every start, no shares needed.',
      'Disabling or deleting that key at the HSM/KMS keeps the node sealed (its secrets unreadable) until it is enabled again.',
    ].join('\n') + '\n');
    return 0;
  } catch (e) {
    return fail(e);
  } finally {
    await factory?.close();
  }
}

// ---- node secrets (issue 16 item 1) --------------------------------------------------------------------------

/** Reads at most MAX_NODE_SECRET_BYTES + 1 bytes (one more tells "too large" apart); the caller wipes the result. */
async function readBounded(read: (buf: Buffer, offset: number) => Promise<number>): Promise<Buffer> {
  const buf = Buffer.alloc(MAX_NODE_SECRET_BYTES + 1);
  let n = 0;
  for (;;) {
    const got = await read(buf, n);
    if (got === 0) break;
    n += got;
    if (n > MAX_NODE_SECRET_BYTES) {
      buf.fill(0);
      throw new SocketError(`the secret value is larger than ${String(MAX_NODE_SECRET_BYTES)} bytes (MAX_NODE_SECRET_BYTES)`);
    }
  }
  const out = Buffer.from(buf.subarray(0, n));
  buf.fill(0);
  return out;
}

async function readSecretValue(fromFile: string | undefined): Promise<Buffer> {
  if (fromFile !== undefined) {
    const fh = await openFile(fromFile, 'r');
    try {
      return await readBounded(async (b, off) => (await fh.read(b, off, b.length - off, null)).bytesRead);
    } finally {
      await fh.close();
    }
  }
  if (process.stdin.isTTY) process.stderr.write('enter the secret value, then Ctrl-D (it is not echoed back by openkcm, but the terminal may show it)\n');
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of process.stdin) {
      const chunk = c as Buffer;
      size += chunk.length;
      chunks.push(chunk);
      if (size > MAX_NODE_SECRET_BYTES + 2) break;
    }
    let value = Buffer.concat(chunks);
    // `echo PIN |` adds one newline that is not part of the PIN; --from-file keeps every byte.
    let end = value.length;
    if (value[end - 1] === 0x0a) end -= 1;
    if (end > 0 && value[end - 1] === 0x0d && end === value.length - 1) end -= 1;
    if (end !== value.length) {
      const trimmed = Buffer.from(value.subarray(0, end));
      value.fill(0);
      value = trimmed;
    }
    if (value.length > MAX_NODE_SECRET_BYTES) {
      value.fill(0);
      throw new SocketError(`the secret value is larger than ${String(MAX_NODE_SECRET_BYTES)} bytes (MAX_NODE_SECRET_BYTES)`);
    }
    return value;
  } finally {
    for (const c of chunks) c.fill(0);
  }
}

/** True when a server answers on the operator socket; false when none runs (then the offline path applies). */
async function serverRuns(socketPath: string): Promise<boolean> {
  try {
    await call(socketPath, 'GET', '/v1/sys/seal-status');
    return true;
  } catch (e) {
    if (e instanceof SocketError && e.message.includes('no server is running')) return false;
    throw e;
  }
}

function printEntries(list: readonly { name: string; bytes: number; modifiedAt: string }[]): void {
  const rows = list.map((e) => `${e.name.padEnd(40)} ${String(e.bytes).padStart(7)} ${e.modifiedAt}`);
  process.stdout.write(['NAME'.padEnd(40) + ' ' + 'BYTES'.padStart(7) + ' MODIFIED', ...rows].join('\n') + '\n');
}

async function secretOnline(socketPath: string, p: Parsed): Promise<number> {
  const name = encodeURIComponent(p.secretName ?? '');
  switch (p.secretAction) {
    case 'list': {
      const r = await call(socketPath, 'GET', '/v1/sys/secrets');
      if (r.status !== 200) throw new SocketError(replyMessage(r));
      printEntries(r.body['secrets'] as { name: string; bytes: number; modifiedAt: string }[]);
      return 0;
    }
    case 'delete': {
      const r = await call(socketPath, 'DELETE', `/v1/sys/secrets/${name}`);
      if (r.status !== 204) throw new SocketError(replyMessage(r));
      process.stdout.write(`deleted node secret ${p.secretName ?? ''}\n`);
      return 0;
    }
    default: {
      // Ask first, so a sealed node refuses before the operator types the value.
      const st = await call(socketPath, 'GET', '/v1/sys/seal-status');
      if (st.body['sealed'] === true) throw new SocketError('the node is sealed: unseal it (openkcm operator unseal) before storing secrets; they are sealed by the master key');
      const value = await readSecretValue(p.fromFile);
      try {
        if (value.length === 0) throw new SocketError('the secret value is empty');
        const r = await call(socketPath, 'PUT', `/v1/sys/secrets/${name}`, value);
        if (r.status !== 204) throw new SocketError(replyMessage(r));
        process.stdout.write(`stored node secret ${p.secretName ?? ''} (${String(value.length)} bytes)\n`);
        return 0;
      } finally {
        value.fill(0);
      }
    }
  }
}

/** No server runs: open the master key here, when it opens without custodians (dev or auto-unseal node). */
async function secretOffline(dataDir: string, p: Parsed): Promise<number> {
  initNative();
  const cfg = await readSealConfig(dataDir);
  const auto = autoSealSettings(cfg.seal);
  const factory = auto === undefined ? undefined : autoSealKeystores(auto, keystoresSettings(cfg.keystores).connections, dataDir);
  let mk: MasterKey | undefined;
  try {
    mk = await MasterKey.open(dataDir, cfg.seal, factory === undefined ? {} : { keystoreFor: factory.keystoreFor });
    const st = mk.status();
    if (!st.initialized) throw new SocketError(`${path.resolve(dataDir)} has no master key yet: run openkcm init (development) or openkcm operator init first`);
    if (st.sealed) {
      throw new SocketError(`no server runs on ${path.resolve(dataDir)} and its master key is sealed (${st.type}): start the server, unseal it (openkcm operator unseal), then run this again`);
    }
    const secrets = mk.secrets;
    // No governance database is open here: the change is journaled and audited by the next serve (issue 16).
    journalOfflineChanges(secrets);
    switch (p.secretAction) {
      case 'list':
        printEntries(secrets.entries().map((e) => ({ name: e.name, bytes: e.bytes, modifiedAt: e.modifiedAt.toISOString() })));
        return 0;
      case 'delete':
        if (!await secrets.delete(p.secretName ?? '', 'offline-cli')) throw new SocketError(`no node secret named ${p.secretName ?? ''}`);
        process.stdout.write(`deleted node secret ${p.secretName ?? ''}\n`);
        return 0;
      default: {
        const value = await readSecretValue(p.fromFile);
        try {
          if (value.length === 0) throw new SocketError('the secret value is empty');
          await secrets.put(p.secretName ?? '', value, 'offline-cli');
          process.stdout.write(`stored node secret ${p.secretName ?? ''} (${String(value.length)} bytes, offline)\n`);
          return 0;
        } finally {
          value.fill(0);
        }
      }
    }
  } finally {
    mk?.seal();
    await factory?.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommandLine('operator', USAGE, argv, parseArgs);
  if (typeof p === 'number') return p;
  const dataDir = p.dataDir ?? defaultDataDir();
  const socketPath = path.join(path.resolve(dataDir), OPERATOR_SOCKET_FILE);
  try {
    switch (p.sub) {
      case 'init':
        if (p.autoUnseal) return await initAutoUnseal(dataDir, p.force);
        return await init(dataDir, p.shares ?? 0, p.threshold ?? 0, p.force);
      case 'unseal':
        if (p.share === undefined || p.share === '-') return await unsealFromStdin(socketPath);
        return (await submit(socketPath, p.share)).ok ? 0 : 1;
      case 'secret':
        return await serverRuns(socketPath) ? await secretOnline(socketPath, p) : await secretOffline(dataDir, p);
      case 'reload-keystores': {
        const r = await call(socketPath, 'POST', '/v1/sys/keystores/reload');
        if (r.status !== 200) throw new SocketError(`${String(r.body['error'])}: ${replyMessage(r)}`);
        const added = r.body['added'] as string[];
        process.stdout.write(added.length === 0 ? 'no new keystore connection\n' : `added keystore connection(s): ${added.join(', ')}\n`);
        return 0;
      }
      case 'seal': {
        const r = await call(socketPath, 'POST', '/v1/sys/seal');
        if (r.status !== 200) throw new SocketError(replyMessage(r));
        process.stdout.write('sealed\n');
        return 0;
      }
      default: {
        const r = await call(socketPath, 'GET', '/v1/sys/seal-status');
        if (r.status !== 200) throw new SocketError(replyMessage(r));
        const s = r.body as Partial<MasterKeyStatus>;
        process.stdout.write(progressLine(s) + '\n');
        return s.sealed === false ? 0 : 2;
      }
    }
  } catch (e) {
    if (e instanceof SocketError || (p.sub === 'secret' && (e instanceof MasterKeyError || e instanceof ConfigError || e instanceof KeystoreError))) {
      process.stderr.write(`openkcm operator ${p.sub ?? ''}: ${e.message}\n`);
      return 1;
    }
    if (p.sub === 'secret' && (e as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write(`openkcm operator secret: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}
