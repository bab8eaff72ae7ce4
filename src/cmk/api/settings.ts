/**
 * The config file's `governance.adminApi` section (docs/configuration.md, docs/governance.md "Admin API"),
 * validated into what {@link startAdminApi} needs. Unknown keys are refused by name, like every other section.
 *
 *   "adminApi": {
 *     "listen": "127.0.0.1:8443",
 *     "tls": { "cert": "pki/admin-server.crt", "key": "pki/admin-server.key", "ca": "pki/admin-ca.crt" },
 *     "auth": { "mtls": {...}, "oidc": {...} },                       // src/cmk/api/auth.ts
 *     "fourEyes": { "actions": ["revoke", "restore", "terminate"], "approvals": 1, "ttlMs": 3600000 },
 *     "l1HealthIntervalMs": 60000
 *   }
 *
 * File paths are relative to the data directory. The TLS files are read by the caller (the composition root).
 */
import path from 'node:path';
import { isIP } from 'node:net';
import { AuthConfigError, parseAdminAuthConfig } from './auth.js';
import { checkKeys } from '../../common/config-error.js';
import type { AdminAuthConfig } from './auth.js';
import { APPROVABLE_ACTIONS } from './ports.js';
import type { ApprovableAction } from './ports.js';
import { MAX_REQUIRED_APPROVALS } from './server.js';
import type { FourEyesConfig } from './ports.js';

/** Default admin listener: loopback only; exposing the admin plane is an explicit choice. */
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:8443';
/** Longest approval window accepted from configuration (the repository's own bound is 30 days). */
export const MAX_APPROVAL_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export interface AdminApiSettings {
  readonly host: string;
  readonly port: number;
  /** Absolute paths. Absent: no HTTPS (then only OIDC over a trusted proxy; client certificates need TLS). */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca?: string };
  readonly auth: AdminAuthConfig;
  readonly fourEyes?: FourEyesConfig;
  /** Interval of src/krypton/l1-health.ts; default there (60 s). */
  readonly l1HealthIntervalMs?: number;
}

function record(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AuthConfigError(`${where} must be an object`);
  return v as Record<string, unknown>;
}

export function parseAdminApiSettings(section: unknown, dataDir: string, where = 'governance.adminApi'): AdminApiSettings {
  const s = record(section, where);
  checkKeys(where, s, ['listen', 'tls', 'auth', 'fourEyes', 'l1HealthIntervalMs'], AuthConfigError);
  const listen = s.listen ?? DEFAULT_ADMIN_LISTEN;
  if (typeof listen !== 'string') throw new AuthConfigError(`${where}.listen must be "host:port"`);
  const m = /^(.+):(\d{1,5})$/.exec(listen);
  const host = (m?.[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  const port = Number(m?.[2]);
  if (m === null || port > 65535 || (isIP(host) === 0 && !/^[A-Za-z0-9.-]{1,253}$/.test(host))) {
    throw new AuthConfigError(`${where}.listen must be "host:port" (port 0..65535)`);
  }
  let tls: AdminApiSettings['tls'];
  if (s.tls !== undefined) {
    const t = record(s.tls, `${where}.tls`);
    checkKeys(`${where}.tls`, t, ['cert', 'key', 'ca'], AuthConfigError);
    const file = (k: 'cert' | 'key' | 'ca'): string | undefined => {
      const v = t[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || v.length === 0) throw new AuthConfigError(`${where}.tls.${k} must be a file path`);
      return path.resolve(dataDir, v);
    };
    const cert = file('cert');
    const key = file('key');
    const ca = file('ca');
    if (cert === undefined || key === undefined) throw new AuthConfigError(`${where}.tls needs cert and key`);
    tls = { cert, key, ...(ca === undefined ? {} : { ca }) };
  }
  const auth = parseAdminAuthConfig(s.auth ?? {}, `${where}.auth`);
  if (auth.mtls === undefined && auth.oidc === undefined) throw new AuthConfigError(`${where}.auth needs mtls and/or oidc`);
  if (auth.mtls !== undefined && tls?.ca === undefined) throw new AuthConfigError(`${where}.auth.mtls needs ${where}.tls with a ca (the admin CA)`);
  let fourEyes: FourEyesConfig | undefined;
  if (s.fourEyes !== undefined) {
    const f = record(s.fourEyes, `${where}.fourEyes`);
    checkKeys(`${where}.fourEyes`, f, ['actions', 'approvals', 'ttlMs'], AuthConfigError);
    const actions = f.actions ?? [...APPROVABLE_ACTIONS];
    if (!Array.isArray(actions) || !actions.every((a): a is ApprovableAction => typeof a === 'string' && (APPROVABLE_ACTIONS as readonly string[]).includes(a))) {
      throw new AuthConfigError(`${where}.fourEyes.actions must be a list of ${APPROVABLE_ACTIONS.join(', ')}`);
    }
    const approvals = f.approvals ?? 1;
    if (typeof approvals !== 'number' || !Number.isInteger(approvals) || approvals < 1 || approvals > MAX_REQUIRED_APPROVALS) {
      throw new AuthConfigError(`${where}.fourEyes.approvals must be an integer 1..${MAX_REQUIRED_APPROVALS}`);
    }
    const ttlMs = f.ttlMs;
    if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > MAX_APPROVAL_TTL_MS)) {
      throw new AuthConfigError(`${where}.fourEyes.ttlMs must be an integer 1000..${MAX_APPROVAL_TTL_MS}`);
    }
    fourEyes = { actions: [...new Set(actions)], approvals, ...(ttlMs === undefined ? {} : { ttlMs }) };
  }
  const interval = s.l1HealthIntervalMs;
  if (interval !== undefined && (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 1000)) {
    throw new AuthConfigError(`${where}.l1HealthIntervalMs must be an integer of at least 1000`);
  }
  return {
    host, port, auth,
    ...(tls === undefined ? {} : { tls }),
    ...(fourEyes === undefined ? {} : { fourEyes }),
    ...(interval === undefined ? {} : { l1HealthIntervalMs: interval }),
  };
}
