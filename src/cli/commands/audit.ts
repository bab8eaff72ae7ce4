/**
 * `openkcm audit verify|export`: prove an audit chain intact (naming the first broken record) or write it out as
 * JSON lines (src/cmk/audit/; format in docs/governance.md "Audit trail"). Issue 16 item 5: audit everywhere.
 *
 * Where the chain comes from, in order:
 * - `verify --file F`: an exported JSON lines file, offline (src/cmk/audit/export-file.ts);
 * - a RUNNING node on the data directory (its operator socket `<dataDir>/operator.sock` answers): the node verifies
 *   or exports inside itself, with its own key and database, whatever its seal type (Shamir, auto-unseal, dev);
 * - offline: --database-url URL (PostgreSQL), else the data directory's database (its config's
 *   governance.databaseUrl, else the embedded PGlite in D/governance-db), else $DATABASE_URL. An embedded database
 *   that a live node holds (src/cmk/embedded-db-holder.ts) is never read behind its back: the command refuses.
 *
 * The data directory defaults like `openkcm operator`: --data-dir, else $OPENKCM_DATA_DIR, else ./.openkcm (unless a
 * database URL is given).
 *
 * The HMAC key (offline verify): $OPENKCM_AUDIT_HMAC_KEY_FILE (raw bytes, or hex text), else derived from the data
 * directory's MasterKey as the node derives it — a development key file opens at once, an auto-unseal node through
 * its seal.auto keystore, a Shamir node with `--unseal` (the custodians' shares on stdin, one per line; the
 * MasterKey lives in this process only for the derivation and is sealed again at once).
 *
 * Exit codes: 0 intact (or exported); 1 the chain is broken (the first broken record's seq is printed);
 * 2 usage error; 3 the chain could not be read (no database, unknown tenant, no key, a live node holds it).
 */
import { createHmac, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { AuditTrail, verifyAuditExport } from '../../cmk/audit/index.js';
import type { AuditGapSummary, AuditHmac } from '../../cmk/audit/index.js';
import { dbOptionsFrom, openDb } from '../../cmk/db.js';
import { EMBEDDED_DB_PID_FILE, embeddedDbHolder } from '../../cmk/embedded-db-holder.js';
import { isGovernanceError } from '../../cmk/errors.js';
import { OPERATOR_SOCKET_FILE } from '../../krypton/operator-api.js';
import { forEachArg, parseCommandLine, UsageError } from '../args.js';

const USAGE = `usage: openkcm audit verify [--tenant T] [--data-dir D] [--database-url URL] [--unseal]
       openkcm audit verify --file EXPORT.jsonl [--data-dir D | --hash-only] [--unseal]
       openkcm audit export [--tenant T] [--out FILE] [--data-dir D] [--database-url URL]

  verify              walk the chain; exit 0 when intact, 1 naming the first broken record
  export              write the chain as JSON lines (stdout, or FILE created with mode 0600)
  --tenant T          the tenant's chain (default: the global chain of admin actions)
  --data-dir D        the node's data directory (default: $OPENKCM_DATA_DIR, else ./.openkcm). When the node
                      runs, it answers through its operator socket D/operator.sock (any seal type); when it
                      does not, its database is read and its MasterKey derives the HMAC key
  --database-url URL  PostgreSQL (read directly, even while the node runs; default: the node's database,
                      else $DATABASE_URL)
  --unseal            a Shamir-sealed node that is not running: read unseal shares from stdin (one per line)
                      to derive the HMAC key in this process
  --file F            verify an exported chain offline (the key as above; the export has no chain head, so
                      records cut off at its end are not detected)
  --hash-only         with --file and no key: check the hash links only (NOT proof against a rewritten file)

Exit codes: 0 ok, 1 chain broken, 2 usage, 3 chain unreadable (no key, no database, a live node holds it).`;

/** Key file bounds: an HMAC-SHA-256 key shorter than 16 bytes is weak; a huge file is not a key. */
export const AUDIT_KEY_MIN_BYTES = 16;
export const AUDIT_KEY_MAX_BYTES = 1024;

export const AUDIT_HMAC_KEY_FILE_ENV = 'OPENKCM_AUDIT_HMAC_KEY_FILE';

/** The default data directory, as `openkcm operator` and `npm start` use it. */
function defaultDataDir(env: NodeJS.ProcessEnv): string {
  const d = env['OPENKCM_DATA_DIR'];
  return d !== undefined && d !== '' ? d : './.openkcm';
}

/** The default data directory when it exists (without one, the command asks for a database instead). */
function existingDefaultDataDir(env: NodeJS.ProcessEnv): string | undefined {
  const d = defaultDataDir(env);
  return existsSync(d) ? d : undefined;
}

interface Parsed {
  help: boolean;
  action?: 'verify' | 'export';
  tenant?: string;
  out?: string;
  databaseUrl?: string;
  dataDir?: string;
  file?: string;
  hashOnly: boolean;
  unseal: boolean;
}

function parseArgs(argv: readonly string[]): Parsed {
  const p: Parsed = { help: false, hashOnly: false, unseal: false };
  forEachArg(argv, ({ arg: a, flag, value }) => {
    switch (flag) {
      case '--help': case '-h': p.help = true; break;
      case '--tenant': p.tenant = value(); break;
      case '--out': p.out = value(); break;
      case '--database-url': p.databaseUrl = value(); break;
      case '--data-dir': p.dataDir = value(); break;
      case '--file': p.file = value(); break;
      case '--hash-only': p.hashOnly = true; break;
      case '--unseal': p.unseal = true; break;
      case 'verify': case 'export':
        if (p.action !== undefined) throw new UsageError(`one action only, got ${p.action} and ${flag}`);
        p.action = flag;
        break;
      default: throw new UsageError(`unknown argument ${a}`);
    }
  });
  if (!p.help && p.action === undefined) throw new UsageError('verify or export?');
  if (p.out !== undefined && p.action !== 'export') throw new UsageError('--out belongs to export');
  if (p.file !== undefined) {
    if (p.action !== 'verify') throw new UsageError('--file belongs to verify');
    if (p.tenant !== undefined || p.databaseUrl !== undefined) throw new UsageError('--file verifies the file alone: no --tenant or --database-url');
  }
  if (p.hashOnly && p.file === undefined) throw new UsageError('--hash-only belongs to verify --file');
  if (p.hashOnly && (p.dataDir !== undefined || p.unseal)) throw new UsageError('--hash-only uses no key: no --data-dir or --unseal');
  if (p.unseal && p.action !== 'verify') throw new UsageError('--unseal belongs to verify (export needs no key)');
  return p;
}

/** HMAC-SHA-256 under a key read from `file` (raw bytes, or hex text); the read buffer is wiped. */
export async function hmacFromKeyFile(file: string): Promise<AuditHmac> {
  const raw = await readFile(file);
  let key: KeyObject;
  try {
    const text = raw.toString('latin1').trim();
    const bytes = /^(?:[0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, 'hex') : raw;
    try {
      if (bytes.length < AUDIT_KEY_MIN_BYTES || bytes.length > AUDIT_KEY_MAX_BYTES) {
        throw new Error(`the audit HMAC key must be ${AUDIT_KEY_MIN_BYTES}..${AUDIT_KEY_MAX_BYTES} bytes`);
      }
      key = createSecretKey(bytes);
    } finally {
      if (bytes !== raw) bytes.fill(0);
    }
  } finally {
    raw.fill(0);
  }
  return (data) => new Uint8Array(createHmac('sha256', key).update(data).digest());
}

/** Unseal shares, one per line (blank lines and # comments skipped); the source `openkcm operator unseal` reads. */
async function* sharesFrom(input: Readable): AsyncGenerator<string> {
  const rl = createInterface({ input, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of rl) {
      const share = line.trim();
      if (share !== '' && !share.startsWith('#')) yield share;
    }
  } finally {
    rl.close();
  }
}

/**
 * The audit HMAC of a data directory's node: its MasterKey's derived 'audit-hmac' key (src/appliance/governance/plane.ts
 * AUDIT_HMAC_PURPOSE), computed in a native slot. The MasterKey opens the way `serve` opens it: a development key
 * file at once, an auto-unseal node through the keystore of its seal.auto section, a Shamir node with `shares`
 * (custodians unsealing in this process). The MasterKey is sealed again as soon as the key is derived.
 */
export async function hmacFromMasterKey(dataDir: string, shares?: AsyncIterable<string>): Promise<{ hmac: AuditHmac; close: () => void }> {
  const [{ keystoresSettings, loadConfig, nativeSettings }, { MasterKey }, native, { AUDIT_HMAC_PURPOSE }, autoSeal] = await Promise.all([
    import('../../config/index.js'), import('../../krypton/master-key.js'), import('../../native/index.js'), import('../../appliance/governance/plane.js'),
    import('../../krypton/auto-seal.js'),
  ]);
  const loaded = await loadConfig(dataDir);
  native.initNative(nativeSettings(loaded.native));
  const auto = autoSeal.autoSealSettings(loaded.seal);
  const sealKeystores = auto === undefined ? undefined : autoSeal.autoSealKeystores(auto, keystoresSettings(loaded.keystores).connections, dataDir);
  let mk;
  try {
    mk = await MasterKey.open(dataDir, loaded.seal, { keystoreFor: sealKeystores?.keystoreFor ?? autoSeal.noAutoSealConfigured });
  } finally {
    await sealKeystores?.close();
  }
  try {
    let status = mk.status();
    if (status.sealed && status.type === 'shamir' && shares !== undefined) {
      for await (const share of shares) {
        status = await mk.submitShare(share);
        if (!status.sealed) break;
      }
      if (status.sealed) throw new Error(`not enough unseal shares on stdin: ${String(status.progress ?? 0)} of ${String(status.threshold ?? 0)}`);
    }
    if (status.sealed) {
      const how = status.type === 'shamir'
        ? 'give --unseal and the custodians\' shares on stdin, or start the node and unseal it (the running node answers through its operator socket)'
        : 'its seal keystore did not unwrap the MasterKey (see the message above); start the node or fix seal.auto';
      throw new Error(`the MasterKey of ${dataDir} is sealed (${status.type}): ${how}; or set ${AUDIT_HMAC_KEY_FILE_ENV}`);
    }
    const key = mk.deriveKey(AUDIT_HMAC_PURPOSE);
    return {
      hmac: (data) => native.mac(key, 'HMAC-SHA256', data),
      close: () => { key.destroy(); },
    };
  } finally {
    mk.seal();
  }
}

export interface AuditCommandDeps {
  /** The audit HMAC (the MasterKey-derived key); default: from $OPENKCM_AUDIT_HMAC_KEY_FILE or the data directory. */
  readonly hmac?: AuditHmac;
  readonly env?: NodeJS.ProcessEnv;
  readonly stdin?: Readable;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
}

// ---- the running node, through its operator socket ------------------------------------------------------------------

/** Longest JSON answer read from the operator socket (a verify result is ~300 bytes). */
const SOCKET_REPLY_MAX_BYTES = 64 * 1024;

class NotRunning extends Error {}

function socketGet(socketPath: string, route: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'GET', path: route }, resolve);
    req.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? new NotRunning(e.message) : e);
    });
    req.end();
  });
}

async function jsonOf(res: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > SOCKET_REPLY_MAX_BYTES) throw new Error('the operator socket answered more than expected');
    chunks.push(c);
  }
  const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  return typeof v === 'object' && v !== null ? v as Record<string, unknown> : {};
}

function gapText(g: AuditGapSummary | undefined): string {
  // A gap is not tampering (the gap record is chained and HMACed like the rest), so the exit code stays 0;
  // it says that records were lost while the audit queue was full (issue 15 item 4).
  return g === undefined ? '' : `; ${String(g.records)} gap record${g.records === 1 ? '' : 's'} (records ${String(g.firstSeq)}..${String(g.lastSeq)}): ` +
    `${String(g.dropped)} records dropped and ${String(g.refused)} operations refused while the audit queue was full, ${g.from} .. ${g.to}`;
}

export async function runAudit(argv: string[], deps: AuditCommandDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const env = deps.env ?? process.env;
  const p = parseCommandLine('audit', USAGE, argv, parseArgs);
  if (typeof p === 'number') return p;
  const which = p.tenant === undefined ? 'the global chain' : `the chain of tenant ${p.tenant}`;
  const fail = (msg: string): number => {
    stderr.write(`openkcm audit: ${msg}\n`);
    return 3;
  };
  const keyFile = env[AUDIT_HMAC_KEY_FILE_ENV];
  const shares = p.unseal ? sharesFrom(deps.stdin ?? process.stdin) : undefined;
  /** The offline key: injected, key file, or the data directory's MasterKey. */
  const offlineKey = async (dataDir: string | undefined): Promise<{ hmac: AuditHmac; close: () => void } | string> => {
    if (deps.hmac !== undefined) return { hmac: deps.hmac, close: () => undefined };
    if (keyFile !== undefined && keyFile !== '') {
      try {
        return { hmac: await hmacFromKeyFile(keyFile), close: () => undefined };
      } catch (e) {
        return `cannot read the audit HMAC key: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    if (dataDir === undefined) return `verify needs the audit HMAC key: give --data-dir (the node's MasterKey) or set ${AUDIT_HMAC_KEY_FILE_ENV}`;
    try {
      return await hmacFromMasterKey(dataDir, shares);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  };

  // ---- an exported file, offline -------------------------------------------------------------------------------
  if (p.file !== undefined) {
    const key = p.hashOnly ? undefined : await offlineKey(p.dataDir ?? (deps.hmac !== undefined || (keyFile ?? '') !== '' ? undefined : existingDefaultDataDir(env)));
    if (typeof key === 'string') return fail(`${key} (or --hash-only to check the hash links alone)`);
    try {
      const v = await verifyAuditExport(createReadStream(p.file), key?.hmac);
      const what = v.hmacChecked ? 'hash links and HMACs checked' : 'hash links only, HMACs NOT checked';
      if (v.ok) {
        stdout.write(`audit: ${p.file} is intact: ${String(v.count)} records (${what}; an export has no chain head: records cut off at its end are not detected)${gapText(v.gaps)}\n`);
        return 0;
      }
      stdout.write(`audit: ${p.file} is BROKEN at record ${String(v.firstBadSeq)}: ${v.reason} (${String(v.count)} records before it verified; ${what})\n`);
      return 1;
    } catch (e) {
      return fail(`cannot read ${p.file}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      key?.close();
    }
  }

  const envUrl = env['DATABASE_URL'];
  const dataDir = p.dataDir ?? (p.databaseUrl === undefined && (envUrl === undefined || envUrl === '') ? existingDefaultDataDir(env) : undefined);

  // ---- a running node answers for itself -------------------------------------------------------------------------
  if (dataDir !== undefined && p.databaseUrl === undefined && deps.hmac === undefined && (keyFile ?? '') === '') {
    const socketPath = path.join(path.resolve(dataDir), OPERATOR_SOCKET_FILE);
    const query = p.tenant === undefined ? '' : `?tenant=${encodeURIComponent(p.tenant)}`;
    let res: IncomingMessage | undefined;
    try {
      res = await socketGet(socketPath, `/v1/sys/audit/${p.action === 'verify' ? 'verify' : 'export'}${query}`);
    } catch (e) {
      if (!(e instanceof NotRunning)) return fail(`cannot reach ${socketPath}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (res !== undefined) {
      try {
        if (res.statusCode !== 200) {
          const body = await jsonOf(res);
          const m = typeof body['message'] === 'string' ? body['message'] : `HTTP ${String(res.statusCode)}`;
          return fail(`the node running on ${dataDir} answered: ${m}`);
        }
        if (p.action === 'verify') {
          const v = await jsonOf(res);
          const count = typeof v['count'] === 'number' ? v['count'] : 0;
          if (v['ok'] === true) {
            stdout.write(`audit: ${which} is intact: ${String(count)} records${gapText(v['gaps'] as AuditGapSummary | undefined)} (verified by the running node)\n`);
            return 0;
          }
          stdout.write(`audit: ${which} is BROKEN at record ${String(v['firstBadSeq'])}: ${String(v['reason'])} (${String(count)} records before it verified; verified by the running node)\n`);
          return 1;
        }
        if (p.out === undefined) {
          await pipeline(res, stdout, { end: false });
        } else {
          await pipeline(res, createWriteStream(p.out, { mode: 0o600 }));
          stderr.write(`audit: exported ${which} to ${p.out} (from the running node)\n`);
        }
        return 0;
      } catch (e) {
        return fail(`the operator socket of ${dataDir}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  // ---- offline: the database itself -----------------------------------------------------------------------------------
  // --data-dir names the node: its database is the config's governance.databaseUrl, else the embedded PGlite in
  // D/governance-db. --database-url overrides the database.
  let url = p.databaseUrl;
  if (url === undefined && dataDir !== undefined) {
    try {
      const { loadConfig } = await import('../../config/index.js');
      const configured = (await loadConfig(dataDir)).governance.databaseUrl;
      if (typeof configured === 'string' && configured !== '') url = configured;
    } catch (e) {
      return fail(`cannot read the configuration of ${dataDir}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const dbOpts = dbOptionsFrom({ url, dataDir, env });
  if (dbOpts.url === undefined && dbOpts.pgliteDir === undefined) {
    stderr.write(`openkcm audit: no database: give --database-url, --data-dir or $DATABASE_URL\n\n${USAGE}\n`);
    return 2;
  }
  if (dbOpts.pgliteDir !== undefined) {
    if (!existsSync(dbOpts.pgliteDir)) {
      // PGlite would create an empty database there: a read-only tool must not.
      return fail(`no embedded governance database at ${dbOpts.pgliteDir}`);
    }
    const holder = dataDir === undefined ? undefined : embeddedDbHolder(dataDir);
    if (holder !== undefined) {
      return fail(`the embedded governance database ${dbOpts.pgliteDir} is held by a running node (pid ${String(holder)}, ` +
        `${path.join(dataDir ?? '', EMBEDDED_DB_PID_FILE)}), and its operator socket does not answer: reading the files behind its back ` +
        `would show a stale chain. Verify through its admin API (GET /v1/audit/verify, GET /v1/tenants/<id>/audit/verify), or stop it first`);
    }
  }
  let key: { hmac: AuditHmac; close: () => void };
  if (p.action === 'verify') {
    const k = await offlineKey(dataDir);
    if (typeof k === 'string') return fail(k);
    key = k;
  } else {
    // Export copies stored fields only; it never computes an HMAC.
    key = { hmac: () => { throw new Error('export does not use the HMAC key'); }, close: () => undefined };
  }
  let db;
  try {
    db = await openDb(dbOpts);
  } catch (e) {
    key.close();
    return fail(`cannot open the database: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    const trail = new AuditTrail(db, key.hmac);
    if (p.action === 'verify') {
      const v = await trail.verify(p.tenant);
      if (v.ok) {
        stdout.write(`audit: ${which} is intact: ${v.count} records${gapText(v.gaps)}\n`);
        return 0;
      }
      stdout.write(`audit: ${which} is BROKEN at record ${v.firstBadSeq}: ${v.reason} (${v.count} records before it verified)\n`);
      return 1;
    }
    if (p.out === undefined) {
      await trail.export(p.tenant, stdout);
      return 0;
    }
    const file = createWriteStream(p.out, { mode: 0o600 });
    const n = await trail.export(p.tenant, file);
    file.end();
    await finished(file);
    stderr.write(`audit: exported ${n} records of ${which} to ${p.out}\n`);
    return 0;
  } catch (e) {
    if (isGovernanceError(e)) return fail(e.message);
    const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '';
    if (code === '42P01' || code === '3F000') return fail(`no governance audit chain in this database (${which})`);
    throw e;
  } finally {
    key.close();
    await db.close();
  }
}

export function run(argv: string[]): Promise<number> {
  return runAudit(argv);
}
