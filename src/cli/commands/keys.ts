/**
 * `openkcm keys`: key rotation and L1 replacement over the admin API (issue 16 item 3; docs/cli.md "keys",
 * docs/governance.md "Rotation and L1 replacement"). Like `openkcm tenant`, a thin mutual-TLS client: every action is
 * authorised (Cedar action TenantRotate), four-eyes gated where configured, and audited by the server.
 *
 *   openkcm keys show <tenant>
 *   openkcm keys rotate-l2 <tenant> [--reason TEXT]
 *   openkcm keys rotate-l3 <tenant> [--service S] [--reason TEXT]
 *   openkcm keys drop-l3 <tenant> --version N [--service S] [--reason TEXT]
 *   openkcm keys replace-l1 <tenant> --plugin KIND --key-ref REF [--key-version V] [--reason TEXT]
 *   openkcm keys rewrap <tenant> [--watch]         start the background re-wrap (issue 17 item 8)
 *   openkcm keys rewrap-status <tenant> [--watch]  its progress: done/total, rate, ETA; --watch follows it to the end
 *                                                  with a bar on a terminal and one plain line per change when piped
 *   common: --url https://host:port --ca FILE --cert FILE --key FILE [--json] (or OPENKCM_ADMIN_*)
 *
 * Exit codes: 0 done; 1 error (the API's code printed); 2 usage; 3 waiting for four-eyes approval.
 */
import { forEachArg, parseCommandLine, UsageError } from '../args.js';
import { EXIT_PENDING_APPROVAL, send } from './tenant.js';
import type { Call } from './tenant.js';
import { formatDuration, Progress } from '../progress.js';
import { safe } from '../admin-command.js';

const USAGE = `usage: openkcm keys <action> <tenant> [options] --url https://HOST:PORT --ca FILE --cert FILE --key FILE [--json]

actions:
  show <tenant>                        the key lineage: L1 reference, L2 and L3 versions (no key material)
  rotate-l2 <tenant>                   new L2 version wrapped by L1; every L3 re-sealed under it
  rotate-l3 <tenant> [--service S]     new current L3 version (default service: kmip); old ones stay readable
  drop-l3 <tenant> --version N [--service S]
                                       crypto-shred an old L3 version: every key sealed under it is gone
  replace-l1 <tenant> --plugin KIND --key-ref REF [--key-version V]
                                       move the tenant to a new L1 key: the old key must still unwrap, the new
                                       one must pass its health check; four-eyes when configured
  rewrap <tenant> [--watch]            start the background re-wrap: every envelope not sealed under the current
                                       KEK version is re-sealed while the node serves (after rotate-l3)
  rewrap-status <tenant> [--watch]     the re-wrap's progress: done/total, rate, ETA; --watch follows it to the end
                                       (a bar on a terminal, plain lines when piped)
  --reason TEXT                        recorded in the audit trail

Environment: OPENKCM_ADMIN_URL, OPENKCM_ADMIN_CA, OPENKCM_ADMIN_CERT, OPENKCM_ADMIN_KEY stand in for the flags.
Exit codes: 0 done, 1 error, 2 usage, ${String(EXIT_PENDING_APPROVAL)} waiting for approval.`;

const ACTIONS = ['show', 'rotate-l2', 'rotate-l3', 'drop-l3', 'replace-l1', 'rewrap', 'rewrap-status'] as const;
type Action = (typeof ACTIONS)[number];

interface KeysArgs {
  help: boolean;
  json: boolean;
  watch: boolean;
  action?: Action;
  tenant?: string;
  url: string | undefined;
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  service?: string;
  version?: number;
  plugin?: string;
  keyRef?: string;
  keyVersion?: string;
  reason?: string;
}

export function parseKeysArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): KeysArgs {
  const a: KeysArgs = { help: false, json: false, watch: false, url: env.OPENKCM_ADMIN_URL, ca: env.OPENKCM_ADMIN_CA, cert: env.OPENKCM_ADMIN_CERT, key: env.OPENKCM_ADMIN_KEY };
  const positional: string[] = [];
  forEachArg(argv, ({ arg, flag, value }) => {
    switch (flag) {
      case '--help': case '-h': a.help = true; break;
      case '--json': a.json = true; break;
      case '--watch': a.watch = true; break;
      case '--url': a.url = value(); break;
      case '--ca': a.ca = value(); break;
      case '--cert': a.cert = value(); break;
      case '--key': a.key = value(); break;
      case '--service': a.service = value(); break;
      case '--plugin': a.plugin = value(); break;
      case '--key-ref': a.keyRef = value(); break;
      case '--key-version': a.keyVersion = value(); break;
      case '--reason': a.reason = value(); break;
      case '--version': {
        const v = value();
        if (!/^[1-9]\d{0,9}$/.test(v) || Number(v) > 2 ** 31 - 1) throw new UsageError(`--version must be a positive integer, got ${v}`);
        a.version = Number(v);
        break;
      }
      default:
        if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
        positional.push(arg);
    }
  });
  if (a.help) return a;
  const [action, tenant, ...extra] = positional;
  if (action === undefined) throw new UsageError('an action is required');
  if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown action ${action}`);
  a.action = action as Action;
  if (tenant === undefined) throw new UsageError(`${action} needs a tenant id`);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0] ?? ''}`);
  a.tenant = tenant;
  if (a.watch && a.action !== 'rewrap' && a.action !== 'rewrap-status') throw new UsageError('--watch belongs to rewrap and rewrap-status');
  if (a.watch && a.json) throw new UsageError('--watch and --json do not go together');
  if (a.action === 'drop-l3' && a.version === undefined) throw new UsageError('drop-l3 needs --version N');
  if (a.action !== 'drop-l3' && a.version !== undefined) throw new UsageError('--version belongs to drop-l3');
  if (a.service !== undefined && a.action !== 'rotate-l3' && a.action !== 'drop-l3') throw new UsageError('--service belongs to rotate-l3 and drop-l3');
  if (a.action === 'replace-l1' && (a.plugin === undefined || a.keyRef === undefined)) throw new UsageError('replace-l1 needs --plugin and --key-ref');
  if (a.action !== 'replace-l1' && (a.plugin !== undefined || a.keyRef !== undefined || a.keyVersion !== undefined)) throw new UsageError('--plugin, --key-ref and --key-version belong to replace-l1');
  for (const k of ['url', 'ca', 'cert', 'key'] as const) {
    if (a[k] === undefined) throw new UsageError(`--${k} is required (or OPENKCM_ADMIN_${k.toUpperCase()})`);
  }
  let u: URL;
  try { u = new URL(a.url ?? ''); } catch { throw new UsageError('--url is not a URL'); }
  if (u.protocol !== 'https:') throw new UsageError('--url must be https://');
  return a;
}

function callFor(a: KeysArgs): Call {
  const t = encodeURIComponent(a.tenant ?? '');
  const reason = a.reason === undefined ? {} : { reason: a.reason };
  const service = a.service === undefined ? {} : { service: a.service };
  switch (a.action) {
    case 'show': return { method: 'GET', path: `/v1/tenants/${t}/keys` };
    case 'rotate-l2': return { method: 'POST', path: `/v1/tenants/${t}/keys/rotate-l2`, body: reason };
    case 'rotate-l3': return { method: 'POST', path: `/v1/tenants/${t}/keys/rotate-l3`, body: { ...service, ...reason } };
    case 'drop-l3': return { method: 'POST', path: `/v1/tenants/${t}/keys/drop-l3`, body: { ...service, version: a.version ?? 0, ...reason } };
    case 'replace-l1':
      return { method: 'POST', path: `/v1/tenants/${t}/keystore/replace`, body: { plugin: a.plugin ?? '', keyRef: a.keyRef ?? '', keyVersion: a.keyVersion ?? '', ...reason } };
    case 'rewrap': return { method: 'POST', path: `/v1/tenants/${t}/keys/rewrap` };
    case 'rewrap-status': return { method: 'GET', path: `/v1/tenants/${t}/keys/rewrap` };
    default: throw new UsageError('an action is required');
  }
}

function human(a: KeysArgs, v: Record<string, unknown>): string {
  if (typeof v['approvalId'] === 'string') return `pending approval ${v['approvalId']}: ${String(v['needed'])} more approval(s) needed (openkcm tenant approve ${v['approvalId']})`;
  switch (a.action) {
    case 'rotate-l2': return `tenant ${String(v['tenant'])}: L2 rotated to version ${String(v['l2Version'])}`;
    case 'rotate-l3': return `tenant ${String(v['tenant'])}: L3 of ${String(v['service'])} rotated to version ${String(v['l3Version'])}`;
    case 'drop-l3': return `tenant ${String(v['tenant'])}: L3 version ${String(v['dropped'])} of ${String(v['service'])} dropped (crypto-shredded)`;
    case 'replace-l1': {
      const s = v['shadow'] as Record<string, unknown> | undefined;
      return `tenant ${String(v['id'])}: L1 replaced; L2 now wrapped by ${String(s?.['plugin'])} ${String(s?.['keyRef'])}`;
    }
    case 'rewrap': case 'rewrap-status': return rewrapLine(v);
    default: return JSON.stringify(v, null, 2);
  }
}

/** One plain line of a re-wrap job (GET /v1/tenants/:id/keys/rewrap). */
export function rewrapLine(v: Record<string, unknown>): string {
  const n = (k: string): number => (typeof v[k] === 'number' ? v[k] : 0);
  const total = n('total');
  const pct = total > 0 ? ` (${String(Math.floor((n('done') * 100) / total))}%)` : '';
  const head = `tenant ${String(v['tenant'])}: re-wrap ${String(v['state'])} ${String(n('done'))}/${String(total)}${pct}`;
  if (v['state'] === 'running') return `${head} ${String(n('ratePerSecond'))}/s ETA ${typeof v['etaSeconds'] === 'number' ? formatDuration(v['etaSeconds'] * 1000) : '?'}`;
  const took = typeof v['finishedAt'] === 'string' && typeof v['startedAt'] === 'string' ? ` in ${formatDuration(Date.parse(v['finishedAt']) - Date.parse(v['startedAt']))}` : '';
  return `${head}: ${String(n('rewrapped'))} re-wrapped, ${String(n('failed'))} failed${took}${typeof v['error'] === 'string' ? ` (${v['error']})` : ''}`;
}

/** Between two polls of `--watch`, ms. */
export const REWRAP_WATCH_INTERVAL_MS = 500;

/**
 * Follows a re-wrap job to its end: a bar (src/cli/progress.ts) on a terminal, else one plain line each time the
 * count moves, and the final line on stdout either way. Exit 0 when it finished, 1 when it failed or stopped.
 */
async function watchRewrap(a: KeysArgs, first: Record<string, unknown>): Promise<number> {
  let v = first;
  const bar = new Progress({ label: `re-wrap ${a.tenant ?? ''}`, total: typeof v['total'] === 'number' ? v['total'] : 0,
    ...(typeof v['startedAt'] === 'string' ? { startedAt: Date.parse(v['startedAt']) } : {}) });
  let last = '';
  for (;;) {
    if (v['state'] !== 'running') break;
    if (bar.enabled) {
      bar.setTotal(typeof v['total'] === 'number' ? v['total'] : 0);
      bar.update(typeof v['done'] === 'number' ? v['done'] : 0);
    } else {
      const line = rewrapLine(v);
      if (line.replace(/ \S+\/s ETA .*$/, '') !== last) process.stdout.write(safe(line) + '\n');
      last = line.replace(/ \S+\/s ETA .*$/, '');
    }
    await new Promise((r) => setTimeout(r, REWRAP_WATCH_INTERVAL_MS));
    const reply = await send(a, callFor({ ...a, action: 'rewrap-status' }));
    if (reply.status !== 200) throw new Error(`HTTP ${String(reply.status)}: ${reply.body.slice(0, 200)}`);
    v = JSON.parse(reply.body) as Record<string, unknown>;
  }
  if (bar.enabled) bar.update(typeof v['done'] === 'number' ? v['done'] : 0);
  bar.done();
  process.stdout.write(safe(rewrapLine(v)) + '\n');
  return v['state'] === 'done' ? 0 : 1;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandLine('keys', USAGE, argv, (x) => parseKeysArgs(x));
  if (typeof parsed === 'number') return parsed;
  let reply: { status: number; body: string };
  try {
    reply = await send(parsed, callFor(parsed));
  } catch (e) {
    process.stderr.write(`openkcm keys: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  let value: unknown;
  try { value = reply.body === '' ? {} : JSON.parse(reply.body); } catch { value = undefined; }
  if (reply.status >= 400) {
    const err = (value as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    process.stderr.write(`openkcm keys: ${String(reply.status)} ${safe(typeof err?.code === 'string' ? err.code : 'ERROR')}: ${safe(typeof err?.message === 'string' ? err.message : reply.body.slice(0, 500))}\n`);
    return 1;
  }
  const obj = typeof value === 'object' && value !== null ? value as Record<string, unknown> : undefined;
  if (parsed.watch && obj !== undefined) {
    try {
      return await watchRewrap(parsed, obj);
    } catch (e) {
      process.stderr.write(`openkcm keys: ${e instanceof Error ? e.message : String(e)}\n`);
      return 1;
    }
  }
  process.stdout.write(safe(parsed.json || obj === undefined ? (obj === undefined ? reply.body : JSON.stringify(obj, null, 2)) : human(parsed, obj)) + '\n');
  return reply.status === 202 ? EXIT_PENDING_APPROVAL : 0;
}
