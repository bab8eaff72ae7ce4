/**
 * `openkcm audit verify|export`: prove an audit chain intact (naming the first broken record) or write it out as
 * JSON lines (src/cmk/audit.ts; format in docs/governance.md "Audit trail").
 *
 * Database: --database-url URL (PostgreSQL), else --data-dir D (the embedded PGlite database in D/governance-db),
 * else $DATABASE_URL.
 *
 * The HMAC key (verify only): until the lead wires the MasterKey-derived key (`deriveKey('audit-hmac')`), it comes
 * from a caller-supplied function ({@link runAudit} deps.hmac) or from the file named by
 * $OPENKCM_AUDIT_HMAC_KEY_FILE (raw bytes, or hex text), HMAC-SHA-256. The key is moved into a KeyObject and the
 * buffer read from the file is wiped.
 *
 * Exit codes: 0 intact (or exported); 1 the chain is broken (the first broken record's seq is printed);
 * 2 usage error; 3 the chain could not be read (no database, unknown tenant, no key).
 */
import { createHmac, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { AuditTrail } from '../../cmk/audit.js';
import type { AuditHmac } from '../../cmk/audit.js';
import { dbOptionsFrom, openDb } from '../../cmk/db.js';
import { isGovernanceError } from '../../cmk/errors.js';
import { forEachArg, parseCommandLine, UsageError } from '../args.js';

const USAGE = `usage: openkcm audit verify [--tenant T] [--data-dir D] [--database-url URL]
       openkcm audit export [--tenant T] [--out FILE] [--data-dir D] [--database-url URL]

  verify              walk the chain; exit 0 when intact, 1 naming the first broken record
  export              write the chain as JSON lines (stdout, or FILE created with mode 0600)
  --tenant T          the tenant's chain (default: the global chain in the public schema)
  --data-dir D        the node's data directory: its MasterKey derives the HMAC key, and its database is the
                      config's governance.databaseUrl or the embedded one in D/governance-db
  --database-url URL  PostgreSQL (overrides the node's database; default: $DATABASE_URL)

verify needs the audit HMAC key: with --data-dir it is derived from that node's MasterKey (a development or\nauto-unsealed node; a Shamir-sealed one is verified through its admin API), or $OPENKCM_AUDIT_HMAC_KEY_FILE\nnames a file holding it (raw or hex).
Exit codes: 0 ok, 1 chain broken, 2 usage, 3 chain unreadable.`;

/** Key file bounds: an HMAC-SHA-256 key shorter than 16 bytes is weak; a huge file is not a key. */
export const AUDIT_KEY_MIN_BYTES = 16;
export const AUDIT_KEY_MAX_BYTES = 1024;

export const AUDIT_HMAC_KEY_FILE_ENV = 'OPENKCM_AUDIT_HMAC_KEY_FILE';

interface Parsed {
  help: boolean;
  action?: 'verify' | 'export';
  tenant?: string;
  out?: string;
  databaseUrl?: string;
  dataDir?: string;
}

function parseArgs(argv: readonly string[]): Parsed {
  const p: Parsed = { help: false };
  forEachArg(argv, ({ arg: a, flag, value }) => {
    switch (flag) {
      case '--help': case '-h': p.help = true; break;
      case '--tenant': p.tenant = value(); break;
      case '--out': p.out = value(); break;
      case '--database-url': p.databaseUrl = value(); break;
      case '--data-dir': p.dataDir = value(); break;
      case 'verify': case 'export':
        if (p.action !== undefined) throw new UsageError(`one action only, got ${p.action} and ${flag}`);
        p.action = flag;
        break;
      default: throw new UsageError(`unknown argument ${a}`);
    }
  });
  if (!p.help && p.action === undefined) throw new UsageError('verify or export?');
  if (p.out !== undefined && p.action !== 'export') throw new UsageError('--out belongs to export');
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

/**
 * The audit HMAC of a data directory's node: its MasterKey's derived 'audit-hmac' key (src/server/governance.ts
 * AUDIT_HMAC_PURPOSE), computed in a native slot. Works when the MasterKey opens without shares (development key
 * file); a Shamir-sealed node cannot be verified offline without its shares, so the message points at the admin
 * API, whose verify runs inside the unsealed node.
 */
export async function hmacFromMasterKey(dataDir: string): Promise<{ hmac: AuditHmac; close: () => void }> {
  const [{ loadConfig }, { MasterKey }, native, { AUDIT_HMAC_PURPOSE }] = await Promise.all([
    import('../../server/config.js'), import('../../krypton/master-key.js'), import('../../native/index.js'), import('../../server/governance.js'),
  ]);
  const loaded = await loadConfig(dataDir);
  const { nativeSettings } = await import('../../server/app.js');
  native.initNative(nativeSettings(loaded.native));
  const mk = await MasterKey.open(dataDir, loaded.seal);
  const status = mk.status();
  if (status.sealed) {
    mk.seal();
    throw new Error(`the MasterKey of ${dataDir} is sealed (${status.type}): verify through the running node's admin API ` +
      `(GET /v1/tenants/<id>/audit/verify), or set ${AUDIT_HMAC_KEY_FILE_ENV}`);
  }
  const key = mk.deriveKey(AUDIT_HMAC_PURPOSE);
  mk.seal();
  return {
    hmac: (data) => native.mac(key, 'HMAC-SHA256', data),
    close: () => { key.destroy(); },
  };
}

export interface AuditCommandDeps {
  /** The audit HMAC (the MasterKey-derived key); default: from $OPENKCM_AUDIT_HMAC_KEY_FILE. */
  readonly hmac?: AuditHmac;
  readonly env?: NodeJS.ProcessEnv;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
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
  // --data-dir names the node: its MasterKey (the HMAC key) and its database — the config's governance.databaseUrl,
  // else the embedded PGlite in D/governance-db. --database-url overrides the database.
  let url = p.databaseUrl;
  if (url === undefined && p.dataDir !== undefined) {
    try {
      const { loadConfig } = await import('../../server/config.js');
      const configured = (await loadConfig(p.dataDir)).governance.databaseUrl;
      if (typeof configured === 'string' && configured !== '') url = configured;
    } catch (e) {
      return fail(`cannot read the configuration of ${p.dataDir}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const dbOpts = dbOptionsFrom({ url, dataDir: p.dataDir, env });
  if (dbOpts.url === undefined && dbOpts.pgliteDir === undefined) {
    stderr.write(`openkcm audit: no database: give --database-url, --data-dir or $DATABASE_URL\n\n${USAGE}\n`);
    return 2;
  }
  if (dbOpts.pgliteDir !== undefined && !existsSync(dbOpts.pgliteDir)) {
    // PGlite would create an empty database there: a read-only tool must not.
    return fail(`no embedded governance database at ${dbOpts.pgliteDir}`);
  }
  let hmac = deps.hmac;
  let cleanup: () => void = () => undefined;
  if (hmac === undefined) {
    if (p.action === 'verify') {
      const file = env[AUDIT_HMAC_KEY_FILE_ENV];
      if (file !== undefined && file !== '') {
        try {
          hmac = await hmacFromKeyFile(file);
        } catch (e) {
          return fail(`cannot read the audit HMAC key: ${e instanceof Error ? e.message : String(e)}`);
        }
      } else if (p.dataDir !== undefined) {
        // The appliance's key: derived from the data directory's MasterKey, as the running node derives it.
        try {
          const derived = await hmacFromMasterKey(p.dataDir);
          hmac = derived.hmac;
          cleanup = derived.close;
        } catch (e) {
          return fail(e instanceof Error ? e.message : String(e));
        }
      } else {
        return fail(`verify needs the audit HMAC key: give --data-dir (the node's MasterKey) or set ${AUDIT_HMAC_KEY_FILE_ENV}`);
      }
    } else {
      // Export copies stored fields only; it never computes an HMAC.
      hmac = () => {
        throw new Error('export does not use the HMAC key');
      };
    }
  }
  let db;
  try {
    db = await openDb(dbOpts);
  } catch (e) {
    return fail(`cannot open the database: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    const trail = new AuditTrail(db, hmac);
    if (p.action === 'verify') {
      const v = await trail.verify(p.tenant);
      if (v.ok) {
        const g = v.gaps;
        // A gap is not tampering (the gap record is chained and HMACed like the rest), so the exit code stays 0;
        // it says that records were lost while the audit queue was full (issue 15 item 4).
        const gap = g === undefined ? '' : `; ${String(g.records)} gap record${g.records === 1 ? '' : 's'} (records ${String(g.firstSeq)}..${String(g.lastSeq)}): ` +
          `${String(g.dropped)} records dropped and ${String(g.refused)} operations refused while the audit queue was full, ${g.from} .. ${g.to}`;
        stdout.write(`audit: ${which} is intact: ${v.count} records${gap}\n`);
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
    cleanup();
    await db.close();
  }
}

export function run(argv: string[]): Promise<number> {
  return runAudit(argv);
}
