/**
 * `openkcm init --data-dir DIR [--tenant NAME]... [--force]`: prepare a data directory for
 * `openkcm serve` — a development PKI under DIR/pki and a commented DIR/openkcm.conf.
 * Contract and examples: docs/cli.md. Refuses to overwrite existing material without --force,
 * because a new CA silently invalidates every client certificate issued from the old one.
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { pathExists } from '../../common/secure-fs.js';
import path from 'node:path';
import { writeDevPki } from '../../pki/dev-pki.js';
import type { DevPkiPaths } from '../../pki/dev-pki.js';
import { ADMIN_CA_CERT_FILE, ADMIN_CA_KEY_FILE, writeDevAdminCert } from '../../pki/admin-cert.js';
import type { DevAdminCertPaths } from '../../pki/admin-cert.js';
import { CONFIG_FILE_NAME, renderDefaultConfigFile } from '../../config/index.js';
import { TENANT_NAME_PATTERN } from '../../common/tenant-name.js';
import { TENANT_ID_PATTERN } from '../../cmk/db.js';
import { forEachArg, parseCommandLine, requireDataDir, UsageError } from '../args.js';

const USAGE = `usage: openkcm init --data-dir DIR [--tenant NAME]... [--force]

  --data-dir DIR   directory to initialise (created if missing)
  --tenant NAME    a tenant to issue a client certificate for (repeatable; default: "default")
  --force          overwrite an existing PKI and configuration (the vault is never touched)

Writes DIR/pki/{ca.crt,ca.key,server.crt,server.key}, DIR/pki/clients/NAME.{crt,key} per
tenant, the admin CA DIR/pki/{admin-ca.crt,admin-ca.key} with DIR/pki/admin.{crt,key} (keys
mode 0600) and DIR/${CONFIG_FILE_NAME}.`;

export const DEFAULT_TENANT = 'default';

export interface InitOptions {
  readonly dataDir: string;
  /** Default: ["default"]. */
  readonly tenants?: readonly string[];
  readonly force?: boolean;
}

export interface InitResult {
  readonly dataDir: string;
  readonly configFile: string;
  readonly pki: DevPkiPaths;
  readonly admin: DevAdminCertPaths;
  readonly tenants: readonly string[];
}

export class InitRefusedError extends Error {
  override readonly name = 'InitRefusedError';
}

/** Files whose presence means "already initialised". */
function existingMaterial(dataDir: string): string[] {
  return [
    path.join(dataDir, CONFIG_FILE_NAME),
    path.join(dataDir, 'pki', 'ca.crt'),
    path.join(dataDir, 'pki', 'ca.key'),
    path.join(dataDir, 'pki', 'server.crt'),
    path.join(dataDir, 'pki', 'server.key'),
  ];
}

/** True when DIR already has a CA (what `npm start` checks before running init). */
export function hasPki(dataDir: string): Promise<boolean> {
  return pathExists(path.join(dataDir, 'pki', 'ca.crt'));
}

/** The work of `openkcm init`, callable from tests and scripts. */
export async function initDataDir(opts: InitOptions): Promise<InitResult> {
  const dataDir = path.resolve(opts.dataDir);
  const tenants = opts.tenants === undefined || opts.tenants.length === 0 ? [DEFAULT_TENANT] : [...opts.tenants];
  for (const t of tenants) {
    if (!TENANT_NAME_PATTERN.test(t)) throw new InitRefusedError(`tenant name ${JSON.stringify(t)} must match ${TENANT_NAME_PATTERN.source}`);
  }
  if (new Set(tenants).size !== tenants.length) throw new InitRefusedError('a tenant is named twice');
  if (opts.force !== true) {
    const found: string[] = [];
    for (const f of existingMaterial(dataDir)) if (await pathExists(f)) found.push(f);
    if (found.length > 0) {
      throw new InitRefusedError(`${dataDir} is already initialised (found ${found.map((f) => path.relative(dataDir, f)).join(', ')}); use --force to overwrite the PKI and configuration`);
    }
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pkiDir = path.join(dataDir, 'pki');
  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  // mkdir's mode only applies to directories it creates.
  await chmod(pkiDir, 0o700);
  const pki = await writeDevPki(pkiDir, tenants);
  // The admin API's client certificate (SAN URI urn:openkcm:admin) from the admin CA, a CA of its own: whoever
  // issues tenant certificates cannot mint an admin (issue 15 item 8). --force replaces the admin CA too.
  for (const f of [ADMIN_CA_CERT_FILE, ADMIN_CA_KEY_FILE]) await rm(path.join(pkiDir, f), { force: true });
  const admin = await writeDevAdminCert(pkiDir);
  const configFile = path.join(dataDir, CONFIG_FILE_NAME);
  await writeFile(configFile, renderDefaultConfigFile(tenants), { mode: 0o644 });
  return { dataDir, configFile, pki, admin, tenants };
}

interface Parsed { dataDir?: string; tenants: string[]; force: boolean; help: boolean }


function parseArgs(argv: readonly string[]): Parsed {
  const p: Parsed = { tenants: [], force: false, help: false };
  forEachArg(argv, ({ arg: a, flag, value }) => {
    switch (flag) {
      case '--help': case '-h': p.help = true; break;
      case '--data-dir': p.dataDir = value(); break;
      case '--tenant': p.tenants.push(value()); break;
      case '--force': p.force = true; break;
      default: throw new UsageError(`unknown option ${a}`);
    }
  });
  return p;
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommandLine('init', USAGE, argv, parseArgs);
  if (typeof p === 'number') return p;
  const dataDir = requireDataDir('init', USAGE, p.dataDir);
  if (typeof dataDir === 'number') return dataDir;
  // Issue 16 item 5: the configuration init writes runs the governance plane, which refuses a tenant it cannot
  // govern (no kill-switch for it). Same rule as the admin API's tenant create (src/cmk/db.ts checkTenantId), so a
  // name init accepts is never one the server then refuses.
  const ungoverned = p.tenants.filter((t) => !TENANT_ID_PATTERN.test(t));
  if (ungoverned.length > 0) {
    const first = ungoverned[0] ?? '';
    const suggestion = first.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^_+/, '').slice(0, 40);
    process.stderr.write(`openkcm init: tenant name ${JSON.stringify(first)} cannot be governed (the admin API, four-eyes and the kill-switch need ${TENANT_ID_PATTERN.source}), so the server would refuse it${suggestion === '' ? '' : `; use e.g. ${JSON.stringify(suggestion)}`}\n`);
    return 1;
  }
  try {
    const r = await initDataDir({ dataDir, tenants: p.tenants, force: p.force });
    const lines = [
      `openkcm: initialised ${r.dataDir}`,
      `  config         ${r.configFile}`,
      `  CA             ${r.pki.caCert}`,
      `  server         ${r.pki.serverCert} (SAN 127.0.0.1, localhost)`,
      ...r.tenants.map((t) => `  tenant ${t.padEnd(8)} ${r.pki.clients[t]?.cert ?? ''}`),
      `  admin CA       ${path.join(r.dataDir, 'pki', ADMIN_CA_CERT_FILE)} (admin API only; apart from the KMIP client CA)`,
      `  admin          ${r.admin.cert} (admin API, https://127.0.0.1:5697)`,
      `Start the server with: openkcm serve --data-dir ${r.dataDir}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } catch (e) {
    if (e instanceof InitRefusedError) {
      process.stderr.write(`openkcm init: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
