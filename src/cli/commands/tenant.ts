/**
 * `openkcm tenant`: the governance admin commands (docs/cli.md, docs/governance.md "Admin API"), a thin client
 * of the admin REST API over HTTPS with an admin client certificate (mutual TLS). The CLI never touches the
 * database itself: every action goes through the API, so it is authorised, four-eyes gated and audited the same
 * way as any other admin call.
 *
 *   openkcm tenant create <id> [--description TEXT]
 *   openkcm tenant list [--state active|suspended|revoked|terminated]
 *   openkcm tenant get <id>
 *   openkcm tenant suspend|resume|terminate|revoke|restore <id> [--reason TEXT]
 *   openkcm tenant register-l1 <id> --plugin KIND --key-ref REF [--key-version V]
 *   openkcm tenant validate-l1 <id>
 *   openkcm tenant approve <approval-id>
 *   common: --url https://host:port --ca FILE --cert FILE --key FILE [--json]
 *
 * Exit codes: 0 done; 2 usage error; 3 accepted but waiting for four-eyes approval (202); 1 any error (the API's
 * stable error code is printed).
 */
import { actionAndTarget, adminArgDefaults, checkAdminConnection, safe, scanAdminArgv, send } from '../admin-command.js';
import type { AdminCommandArgs, AdminFlags, AdminReply } from '../admin-command.js';
import { parseCommandLine, UsageError } from '../args.js';

// `openkcm keys` (./keys.ts) sends its calls through the same client.
export { MAX_RESPONSE_BYTES, REQUEST_TIMEOUT_MS, send } from '../admin-command.js';

/** Exit code of an action accepted for four-eyes approval (202). */
export const EXIT_PENDING_APPROVAL = 3;

const USAGE = `usage: openkcm tenant <action> [args] --url https://HOST:PORT --ca FILE --cert FILE --key FILE [--json]

actions:
  create <id> [--description TEXT]     onboard a tenant
  list [--state STATE]                 list tenants
  get <id>                             one tenant
  suspend <id> [--reason TEXT]         refuse its KMIP traffic, keep its keys (four-eyes if configured)
  resume <id> [--reason TEXT]          serve a suspended tenant again (four-eyes if configured)
  terminate <id> [--reason TEXT]       offboard (crypto-shred; usually four-eyes)
  revoke <id> [--reason TEXT]          kill-switch: zeroise L2/L3, KMIP answers Permission Denied
  restore <id> [--reason TEXT]         undo a revoke (L1 must be healthy)
  register-l1 <id> --plugin KIND --key-ref REF [--key-version V]
                                       register (or correct) the tenant's L1: validated at the source first,
                                       then its keys are onboarded or re-wrapped under it (pkcs11, aws-kms,
                                       azure-keyvault, local)
  validate-l1 <id>                     run the keystore's health check against the registered L1
  approve <approval-id>                approve a pending four-eyes request

Environment: OPENKCM_ADMIN_URL, OPENKCM_ADMIN_CA, OPENKCM_ADMIN_CERT, OPENKCM_ADMIN_KEY stand in for the flags.
Exit codes: 0 done, 1 error, 2 usage, ${EXIT_PENDING_APPROVAL} waiting for approval.`;

const ACTIONS = ['create', 'list', 'get', 'suspend', 'resume', 'terminate', 'revoke', 'restore', 'register-l1', 'validate-l1', 'approve'] as const;
type Action = (typeof ACTIONS)[number];

interface TenantArgs extends AdminCommandArgs {
  action: Action | undefined;
  description: string | undefined;
  reason: string | undefined;
  state: string | undefined;
  plugin: string | undefined;
  keyRef: string | undefined;
  keyVersion: string | undefined;
}

const FLAGS: AdminFlags<TenantArgs> = {
  values: {
    '--url': 'url', '--ca': 'ca', '--cert': 'cert', '--key': 'key', '--description': 'description', '--reason': 'reason',
    '--state': 'state', '--plugin': 'plugin', '--key-ref': 'keyRef', '--key-version': 'keyVersion',
  },
};

export function parseTenantArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): TenantArgs {
  const a: TenantArgs = {
    ...adminArgDefaults(env), action: undefined,
    description: undefined, reason: undefined, state: undefined, plugin: undefined, keyRef: undefined, keyVersion: undefined,
  };
  const positional = scanAdminArgv(argv, a, FLAGS);
  if (a.help) return a;
  const { action, target } = actionAndTarget(positional, ACTIONS, (x) => (x === 'approve' ? 'an approval id' : 'a tenant id'));
  a.action = action as Action;
  a.target = target;
  if (a.action === 'register-l1' && (a.plugin === undefined || a.keyRef === undefined)) throw new UsageError('register-l1 needs --plugin and --key-ref');
  checkAdminConnection(a);
  return a;
}

export interface Call { method: 'GET' | 'POST'; path: string; body?: Record<string, string | number> }

function callFor(a: TenantArgs): Call {
  const t = encodeURIComponent(a.target ?? '');
  const reason = a.reason === undefined ? {} : { reason: a.reason };
  switch (a.action) {
    case 'create': return { method: 'POST', path: '/v1/tenants', body: { id: a.target ?? '', ...(a.description === undefined ? {} : { description: a.description }) } };
    case 'list': return { method: 'GET', path: `/v1/tenants${a.state === undefined ? '' : `?state=${encodeURIComponent(a.state)}`}` };
    case 'get': return { method: 'GET', path: `/v1/tenants/${t}` };
    case 'suspend': case 'resume': case 'terminate': case 'revoke': case 'restore':
      return { method: 'POST', path: `/v1/tenants/${t}/${a.action}`, body: reason };
    case 'register-l1':
      return { method: 'POST', path: `/v1/tenants/${t}/keystore`, body: { plugin: a.plugin ?? '', keyRef: a.keyRef ?? '', keyVersion: a.keyVersion ?? '' } };
    case 'validate-l1': return { method: 'POST', path: `/v1/tenants/${t}/keystore/validate`, body: {} };
    case 'approve': return { method: 'POST', path: `/v1/approvals/${t}/approve`, body: {} };
    case undefined: throw new UsageError('an action is required');
  }
}

/** A JSON value as one line of text (strings as they are). */
function text(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
}

function human(a: TenantArgs, value: unknown): string {
  const v = value as Record<string, unknown>;
  if (a.action === 'list' && Array.isArray(v.tenants)) {
    const rows = (v.tenants as Record<string, unknown>[]).map((t) => `${String(t.id).padEnd(42)} ${String(t.state).padEnd(11)} ${text(t.stateReason)}`);
    return ['ID'.padEnd(42) + ' ' + 'STATE'.padEnd(11) + ' REASON', ...rows].join('\n');
  }
  if (typeof v.approvalId === 'string') return `pending approval ${v.approvalId}: ${String(v.needed)} more approval(s) needed (openkcm tenant approve ${v.approvalId})`;
  if (typeof v.id === 'string' && typeof v.state === 'string') return `tenant ${v.id}: ${v.state}${typeof v.stateReason === 'string' ? ` (${v.stateReason})` : ''}`;
  if (typeof v.ok === 'boolean') return v.ok ? `L1 healthy (${String(v.plugin)} ${String(v.keyRef)})` : `L1 NOT healthy: ${String(v.code)} ${String(v.message)}`;
  if (typeof v.executed === 'boolean') return v.executed ? 'approved and executed' : 'approval recorded; more approvals needed';
  return JSON.stringify(value, null, 2);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandLine('tenant', USAGE, argv, (x) => parseTenantArgs(x));
  if (typeof parsed === 'number') return parsed;
  let reply: AdminReply;
  try {
    reply = await send(parsed, callFor(parsed));
  } catch (e) {
    process.stderr.write(`openkcm tenant: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  let value: unknown = undefined;
  try { value = reply.body === '' ? {} : JSON.parse(reply.body); } catch { /* not JSON: printed raw below */ }
  if (reply.status >= 400) {
    const err = (value as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    process.stderr.write(`openkcm tenant: ${reply.status} ${safe(err?.code === undefined ? 'ERROR' : text(err.code))}: ${safe(err?.message === undefined ? reply.body.slice(0, 500) : text(err.message))}\n`);
    return 1;
  }
  process.stdout.write(safe(parsed.json || value === undefined ? (value === undefined ? reply.body : JSON.stringify(value, null, 2)) : human(parsed, value)) + '\n');
  return reply.status === 202 ? EXIT_PENDING_APPROVAL : 0;
}
