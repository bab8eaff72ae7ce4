/**
 * `openkcm client`, `openkcm admin` and `openkcm identity` (issue 18; docs/clients.md, docs/cli.md): thin clients of
 * the admin API's enrolment routes (src/pki/api-routes.ts), with the same flags and environment as `openkcm tenant`,
 * so every action is authenticated, limited to the caller's role and tenant, and audited by the running node.
 *
 *   openkcm client issue NAME --tenant T [--csr FILE | --key-out FILE] --out CERT [--days N] [--san URI:x|DNS:x]...
 *   openkcm client list [--tenant T] | show NAME | revoke NAME [--reason TEXT]
 *   openkcm admin issue NAME --role ROLE [--tenant T] [--csr FILE | --key-out FILE] --out CERT [--days N]
 *   openkcm admin list | revoke NAME [--reason TEXT]
 *   openkcm identity map IDENTITY --tenant T | unmap IDENTITY | list [--tenant T]
 *   common: --url https://host:port --ca FILE --cert FILE --key FILE [--json]
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { actionAndTarget, adminArgDefaults, checkAdminConnection, safe, scanAdminArgv, send } from './admin-command.js';
import type { AdminCall, AdminCommandArgs, AdminFlags, AdminReply } from './admin-command.js';
import { parseCommandLine, UsageError } from './args.js';

export type EnrolCommand = 'client' | 'admin' | 'identity';

const ACTIONS: Readonly<Record<EnrolCommand, readonly string[]>> = {
  client: ['issue', 'list', 'show', 'revoke'],
  admin: ['issue', 'list', 'revoke'],
  identity: ['map', 'unmap', 'list'],
};

const COMMON = `common: --url https://HOST:PORT --ca FILE --cert FILE --key FILE [--json]
Environment: OPENKCM_ADMIN_URL, OPENKCM_ADMIN_CA, OPENKCM_ADMIN_CERT, OPENKCM_ADMIN_KEY stand in for the flags.`;

const USAGES: Readonly<Record<EnrolCommand, string>> = {
  client: `usage: openkcm client <action> [args] (admin API, mutual TLS)

  issue NAME --tenant T [--csr FILE | --key-out FILE] --out CERT [--days N] [--san URI:x|DNS:x|IP:x]...
                  sign the client's CSR (or make its key pair: --key-out) with the appliance CA; the
                  certificate (CN=NAME, EKU clientAuth) is mapped to tenant T
  list [--tenant T]       enrolled clients
  show NAME               one client, with its certificate
  revoke NAME [--reason TEXT]
                  refused on every node within seconds; its open connections are closed

${COMMON}`,
  admin: `usage: openkcm admin <action> [args] (admin API, mutual TLS)

  issue NAME --role admin|security-officer|auditor|operator [--tenant T] [--csr FILE | --key-out FILE] --out CERT [--days N]
                  an admin certificate from the admin CA (a second approver for four-eyes); never a role
                  above the caller's; --tenant makes a tenant admin
  list                    issued admin certificates
  revoke NAME [--reason TEXT]

${COMMON}`,
  identity: `usage: openkcm identity <action> [args] (admin API, mutual TLS)

  map IDENTITY --tenant T   map a certificate identity (CN, SAN URI, SPIFFE ID) to a tenant, without a restart
  unmap IDENTITY            remove it; connections it admitted are closed
  list [--tenant T]         the run-time map (openkcm.conf's identity.tenants stays the bootstrap)

${COMMON}`,
};

interface EnrolArgs extends AdminCommandArgs {
  tenant: string | undefined;
  csr: string | undefined;
  keyOut: string | undefined;
  out: string | undefined;
  days: string | undefined;
  role: string | undefined;
  reason: string | undefined;
  sans: string[];
}

const FLAGS: AdminFlags<EnrolArgs> = {
  values: {
    '--url': 'url', '--ca': 'ca', '--cert': 'cert', '--key': 'key', '--tenant': 'tenant', '--csr': 'csr', '--key-out': 'keyOut',
    '--out': 'out', '--days': 'days', '--role': 'role', '--reason': 'reason',
  },
  lists: { '--san': 'sans' },
};

export function parseEnrolArgs(command: EnrolCommand, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): EnrolArgs {
  const a: EnrolArgs = {
    ...adminArgDefaults(env), tenant: undefined, csr: undefined, keyOut: undefined,
    out: undefined, days: undefined, role: undefined, reason: undefined, sans: [],
  };
  const positional = scanAdminArgv(argv, a, FLAGS);
  if (a.help) return a;
  const { action, target } = actionAndTarget(positional, ACTIONS[command], () => (command === 'identity' ? 'an identity' : 'a name'));
  a.action = action;
  a.target = target;
  if (action === 'issue') {
    if (a.out === undefined) throw new UsageError('issue needs --out CERT (where the certificate is written)');
    if ((a.csr === undefined) === (a.keyOut === undefined)) throw new UsageError('issue needs exactly one of --csr FILE (sign its request) and --key-out FILE (make its key pair)');
    if (command === 'client' && a.tenant === undefined) throw new UsageError('client issue needs --tenant T');
    if (command === 'admin' && a.role === undefined) throw new UsageError('admin issue needs --role ROLE');
    if (a.days !== undefined && !/^[1-9][0-9]{0,4}$/.test(a.days)) throw new UsageError('--days must be a positive integer');
  }
  if (command === 'identity' && action === 'map' && a.tenant === undefined) throw new UsageError('map needs --tenant T');
  checkAdminConnection(a);
  return a;
}

async function callFor(command: EnrolCommand, a: EnrolArgs): Promise<AdminCall> {
  const name = encodeURIComponent(a.target ?? '');
  const q = a.tenant === undefined ? '' : `?tenant=${encodeURIComponent(a.tenant)}`;
  const reason = a.reason === undefined ? {} : { reason: a.reason };
  const issueBody = async (): Promise<Record<string, unknown>> => ({
    name: a.target,
    ...(a.csr === undefined ? {} : { csr: await readFile(a.csr, 'utf8') }),
    ...(a.days === undefined ? {} : { days: Number(a.days) }),
  });
  if (command === 'client') {
    switch (a.action) {
      case 'issue': return { method: 'POST', path: '/v1/clients', body: { ...await issueBody(), tenant: a.tenant, ...(a.sans.length === 0 ? {} : { sans: a.sans }) } };
      case 'list': return { method: 'GET', path: `/v1/clients${q}` };
      case 'show': return { method: 'GET', path: `/v1/clients/${name}` };
      default: return { method: 'POST', path: `/v1/clients/${name}/revoke`, body: reason };
    }
  }
  if (command === 'admin') {
    switch (a.action) {
      case 'issue': return { method: 'POST', path: '/v1/admins', body: { ...await issueBody(), role: a.role, ...(a.tenant === undefined ? {} : { tenant: a.tenant }) } };
      case 'list': return { method: 'GET', path: '/v1/admins' };
      default: return { method: 'POST', path: `/v1/admins/${name}/revoke`, body: reason };
    }
  }
  switch (a.action) {
    case 'map': return { method: 'POST', path: '/v1/identities', body: { identity: a.target, tenant: a.tenant } };
    case 'unmap': return { method: 'POST', path: '/v1/identities/unmap', body: { identity: a.target } };
    default: return { method: 'GET', path: `/v1/identities${q}` };
  }
}

/** Certificates within this many days of expiry are flagged (issue 18 item 5). */
export const EXPIRY_WARNING_DAYS = 30;

function row(c: Record<string, unknown>): string {
  const notAfter = typeof c.notAfter === 'string' ? c.notAfter : '';
  const days = Math.floor((Date.parse(notAfter) - Date.now()) / 86_400_000);
  const warn = c.state === 'active' && days < EXPIRY_WARNING_DAYS ? `  EXPIRES IN ${String(days)} DAYS` : '';
  const str = (v: unknown, dflt: string): string => (typeof v === 'string' ? v : dflt);
  return `${str(c.name, '?').padEnd(24)} ${str(c.tenant, '-').padEnd(16)} ${str(c.role, str(c.kind, '')).padEnd(16)} ${str(c.state, '?').padEnd(8)} ${notAfter.slice(0, 10)}${warn}`;
}

function human(command: EnrolCommand, a: EnrolArgs, v: Record<string, unknown>): string {
  const list = (v.clients ?? v.admins) as Record<string, unknown>[] | undefined;
  if (Array.isArray(list)) return [`${'NAME'.padEnd(24)} ${'TENANT'.padEnd(16)} ${'ROLE/KIND'.padEnd(16)} ${'STATE'.padEnd(8)} NOT AFTER`, ...list.map(row)].join('\n');
  if (Array.isArray(v.identities)) {
    return [`${'IDENTITY'.padEnd(48)} TENANT`, ...(v.identities as Record<string, unknown>[]).map((m) => `${String(m.identity).padEnd(48)} ${String(m.tenant)}`)].join('\n');
  }
  if (command === 'identity') return `${String(v.identity)} -> ${String(v.tenant)} (${a.action === 'unmap' ? 'removed' : 'mapped'})`;
  if (a.action === 'revoke') return `${String(v.name)}: revoked (serial ${String(v.serial)})`;
  return [row(v), `  identity ${String(v.identity)}  serial ${String(v.serial)}`, ...(typeof v.certificate === 'string' && a.action === 'show' ? [v.certificate] : [])].join('\n');
}

export async function runEnrol(command: EnrolCommand, argv: string[]): Promise<number> {
  const parsed = parseCommandLine(command, USAGES[command], argv, (x) => parseEnrolArgs(command, x));
  if (typeof parsed === 'number') return parsed;
  let reply: AdminReply;
  try {
    reply = await send(parsed, await callFor(command, parsed));
  } catch (e) {
    process.stderr.write(`openkcm ${command}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  let value: Record<string, unknown> = {};
  try { value = reply.body === '' ? {} : JSON.parse(reply.body) as Record<string, unknown>; } catch { /* printed raw below */ }
  if (reply.status >= 400) {
    const err = value.error as { code?: unknown; message?: unknown } | undefined;
    process.stderr.write(`openkcm ${command}: ${String(reply.status)} ${safe(typeof err?.code === 'string' ? err.code : 'ERROR')}: ${safe(typeof err?.message === 'string' ? err.message : reply.body.slice(0, 500))}\n`);
    return 1;
  }
  if (parsed.action === 'issue') {
    // The key exists only in this answer (the appliance never stores it): written owner-only, before the certificate.
    if (typeof value.key === 'string' && parsed.keyOut !== undefined) {
      await writeFile(parsed.keyOut, value.key, { mode: 0o600 });
      await chmod(parsed.keyOut, 0o600);
    }
    await writeFile(parsed.out ?? '', typeof value.certificate === 'string' ? value.certificate : '', { mode: 0o644 });
    delete value.key;
  }
  process.stdout.write(safe(parsed.json ? JSON.stringify(value, null, 2) : human(command, parsed, value)) + '\n');
  return 0;
}
