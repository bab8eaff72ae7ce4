/**
 * What the admin-API commands share (`openkcm tenant`, and `client`, `admin`, `identity` in ./enrol.ts): their
 * argument syntax and their HTTPS call.
 *
 * Arguments: `ACTION [TARGET]`, the connection options --url --ca --cert --key (defaults from OPENKCM_ADMIN_URL,
 * _CA, _CERT, _KEY), --json, --help, and each command's own `--flag VALUE` options. Options take their value as the
 * next argument (`--flag VALUE`; `--flag=VALUE` is an unknown option here).
 */
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { UsageError } from './args.js';

/** The longest API response the CLI buffers: an admin answer is small; a hostile endpoint must not OOM the CLI. */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** Per-request timeout. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** What every admin-API command's arguments hold. */
export interface AdminCommandArgs {
  help: boolean;
  action: string | undefined;
  target: string | undefined;
  url: string | undefined;
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  json: boolean;
}

/** The common fields before parsing: connection options from the environment, the rest unset. */
export function adminArgDefaults(env: NodeJS.ProcessEnv): AdminCommandArgs {
  return {
    help: false, action: undefined, target: undefined, json: false,
    url: env.OPENKCM_ADMIN_URL, ca: env.OPENKCM_ADMIN_CA, cert: env.OPENKCM_ADMIN_CERT, key: env.OPENKCM_ADMIN_KEY,
  };
}

/** A command's options: each `--flag` and the field its value goes to (`lists`: repeatable, values appended). */
export interface AdminFlags<A> {
  readonly values: Readonly<Record<string, keyof A>>;
  readonly lists?: Readonly<Record<string, keyof A>>;
}

/** Walks `argv` into `a` (--help, --json, the command's flags); returns the bare words. Unknown options are errors. */
export function scanAdminArgv<A extends AdminCommandArgs>(argv: readonly string[], a: A, flags: AdminFlags<A>): string[] {
  const fields = a as unknown as Record<string, unknown>;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') { a.help = true; continue; }
    if (arg === '--json') { a.json = true; continue; }
    const field = flags.values[arg] ?? flags.lists?.[arg];
    if (field !== undefined) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      const list = fields[field as string];
      if (Array.isArray(list)) list.push(v);
      else fields[field as string] = v;
      continue;
    }
    if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    positional.push(arg);
  }
  return positional;
}

/**
 * The action and its target from the bare words: the action must be one of `actions`; `list` takes no target,
 * every other action exactly one (`needs` names it in the error, e.g. "a tenant id").
 */
export function actionAndTarget(
  positional: readonly string[], actions: readonly string[], needs: (action: string) => string,
): { action: string; target: string | undefined } {
  const [action, target, ...extra] = positional;
  if (action === undefined) throw new UsageError('an action is required');
  if (!actions.includes(action)) throw new UsageError(`unknown action ${action}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0] ?? ''}`);
  if (action === 'list') {
    if (target !== undefined) throw new UsageError('list takes no argument');
  } else if (target === undefined) {
    throw new UsageError(`${action} needs ${needs(action)}`);
  }
  return { action, target };
}

/** Every connection option is given, and the URL is https: the client certificate and its key only ever go over TLS. */
export function checkAdminConnection(a: AdminCommandArgs): void {
  for (const k of ['url', 'ca', 'cert', 'key'] as const) {
    if (a[k] === undefined) throw new UsageError(`--${k} is required (or OPENKCM_ADMIN_${k.toUpperCase()})`);
  }
  let u: URL;
  try { u = new URL(a.url ?? ''); } catch { throw new UsageError('--url is not a URL'); }
  if (u.protocol !== 'https:') throw new UsageError('--url must be https://');
}

/** One admin API request. */
export interface AdminCall { method: 'GET' | 'POST'; path: string; body?: Record<string, unknown> }

export interface AdminReply { status: number; body: string }

/** Sends `call` over mutual TLS with the admin's certificate; the key's bytes are wiped after. */
export async function send(a: Pick<AdminCommandArgs, 'url' | 'ca' | 'cert' | 'key'>, call: AdminCall): Promise<AdminReply> {
  const [ca, cert, key] = await Promise.all([readFile(a.ca ?? ''), readFile(a.cert ?? ''), readFile(a.key ?? '')]);
  const url = new URL(call.path, a.url);
  const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
  try {
    return await new Promise<AdminReply>((resolve, reject) => {
      const req = httpsRequest(url, {
        method: call.method, ca, cert, key, timeout: REQUEST_TIMEOUT_MS,
        headers: payload === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new Error(`response larger than ${String(MAX_RESPONSE_BYTES)} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }); });
        res.on('error', reject);
      });
      req.on('timeout', () => { req.destroy(new Error(`no answer within ${String(REQUEST_TIMEOUT_MS)} ms`)); });
      req.on('error', reject);
      req.end(payload);
    });
  } finally {
    key.fill(0);
  }
}

/** Terminal-safe: replaces control characters (but tab and newline) in server-provided text before printing it. */
export function safe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f\u009b]/g, '?');
}
