/**
 * `governance`: the governance plane (src/cmk; docs/governance.md, docs/configuration.md): database URL, tenant
 * registration, four-eyes, L1 health interval, audit queues, client enrolment, and the admin API's listener, TLS
 * files, authentication (rules in src/cmk/api/auth.ts) and limits (src/cmk/api/limits.ts). Files are read here,
 * relative to the data directory.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAdminAuthConfig } from './admin-auth.js';
import type { AdminAuthConfig } from '../cmk/api/auth.js';
import { resolveAdminLimits } from '../cmk/api/limits.js';
import type { AdminLimits } from '../cmk/api/limits.js';
import { APPROVABLE_ACTIONS } from '../cmk/api/ports.js';
import type { ApprovableAction, FourEyesConfig } from '../cmk/api/ports.js';
import { MAX_REQUIRED_APPROVALS } from '../cmk/api/server.js';
import type { AdminTls } from '../cmk/api/server.js';
import { AUDIT_HOLD_MAX_MS, AUDIT_HOLD_MAX_MS_LIMIT, AUDIT_QUEUE_MAX, AUDIT_TENANT_QUEUE_MAX } from '../cmk/audit/index.js';
import { checkKeys, ConfigError } from '../common/config-error.js';
import { isRecord } from '../common/guards.js';
import { DEFAULT_L1_HEALTH_INTERVAL_MS, MIN_L1_HEALTH_INTERVAL_MS } from '../krypton/l1-health.js';
import { ADMIN_CA_CERT_FILE, DEV_ADMIN_IDENTITY } from '../pki/admin-cert.js';
import { DEFAULT_MAX_CSR_BYTES, MAX_MAX_CSR_BYTES } from '../pki/enrol.js';
import { parseListen } from './listen.js';
import type { ListenAddress } from './listen.js';
import type { LoadedConfig } from './load.js';

/** Default admin API port: the one after KMIP's IANA port 5696. */
export const DEFAULT_ADMIN_API_PORT = 5697;
/**
 * `governance.yieldNice` by default (src/appliance/governance-priority.ts): 0, the primary never yields. Measured on
 * this project's 2-core machine (docs/performance.md "Eighth session"): at nice 10 the p99 of 5,000 Gets/s on an open
 * loop fell from 9.1–35 ms to 3.6–9.2 (fresh servers, one load each), but in `bench compare`, where the server idles
 * between interleaved runs and so yields again before each one, the saturating Encrypt run had 6,016 items refused by
 * the audit quota against 361. Latency-first, read-mostly nodes opt in with {@link RECOMMENDED_YIELD_NICE}.
 */
export const DEFAULT_YIELD_NICE = 0;
/** What docs/configuration.md recommends to opt in: most of nice 19's gain on the tail, with ~7× its share of a core. */
export const RECOMMENDED_YIELD_NICE = 10;
/** The highest nice value on Linux (setpriority(2)). */
export const MAX_YIELD_NICE = 19;
/** Default admin API host: loopback; exposing the admin plane on a network is an explicit choice. */
export const DEFAULT_ADMIN_API_HOST = '127.0.0.1';

/** The validated `governance` section of the config file (docs/configuration.md). */
export interface GovernanceSettings {
  /** false: no governance plane at all (the node serves KMIP as before issue 5). Default true. */
  readonly enabled: boolean;
  /** postgres:// URL; else $DATABASE_URL; else embedded PGlite in `<dataDir>/governance-db`. */
  readonly databaseUrl?: string;
  /** Register unknown (governable) KMIP tenants on first use. Default true. */
  readonly autoRegisterTenants: boolean;
  /** Undefined: no admin API. */
  readonly adminApi?: AdminApiSettings;
  readonly fourEyes?: FourEyesConfig;
  readonly l1HealthIntervalMs: number;
  readonly auditQueueMax: number;
  /** Each tenant's audit queue quota (issue 15 item 4); at most auditQueueMax. */
  readonly auditTenantQueueMax: number;
  /** audit.holdMaxMs: the longest a slow tenant's connections are held (src/appliance/governance/audit-backpressure.ts); 0: never. */
  readonly auditHoldMaxMs: number;
  /** Largest CSR `openkcm client issue --csr` accepts, bytes (issue 18; src/pki/enrol.ts). */
  readonly maxCsrBytes: number;
  /**
   * With KMIP workers, the nice value of the primary's threads while its audit backlog is small (0: never yield;
   * src/appliance/governance-priority.ts). Default {@link DEFAULT_YIELD_NICE}.
   */
  readonly yieldNice: number;
}

export interface AdminApiSettings {
  readonly listen: ListenAddress;
  readonly tls: AdminTls;
  readonly auth: AdminAuthConfig;
  /** `governance.adminApi.limits` (src/cmk/api/limits.ts; issue 15 item 7). */
  readonly limits: AdminLimits;
}

async function readPem(dataDir: string, rel: unknown, where: string): Promise<string> {
  if (typeof rel !== 'string' || rel.length === 0) throw new ConfigError(`${where} must be a non-empty file path`);
  const file = path.resolve(dataDir, rel);
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new ConfigError(`cannot read ${where} ${file}${typeof code === 'string' ? ` (${code})` : ''}`);
  }
}

/**
 * Validates the config file's `governance` section. Every unknown key is a ConfigError naming it.
 * Admin API defaults: listen 127.0.0.1:5697 — port 0 (ephemeral) when the KMIP listener itself uses port 0, so
 * parallel test servers never collide —, TLS = the KMIP server certificate, client CA = the admin CA
 * `pki/admin-ca.crt` (never the KMIP client CA: issue 15 item 8), and
 * mutual-TLS admins = {@link DEV_ADMIN_IDENTITY} (SAN URI) → role admin. `"adminApi": false` turns it off.
 */
export async function governanceSettings(loaded: Pick<LoadedConfig, 'dataDir' | 'governance' | 'server'>): Promise<GovernanceSettings> {
  const g = loaded.governance;
  const W = 'governance';
  checkKeys(W, g, ['enabled', 'databaseUrl', 'autoRegisterTenants', 'adminApi', 'fourEyes', 'l1HealthIntervalMs', 'audit', 'pki', 'yieldNice']);
  const bool = (k: string, dflt: boolean): boolean => {
    const v = g[k];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw new ConfigError(`${W}.${k} must be true or false`);
    return v;
  };
  const enabled = bool('enabled', true);
  const autoRegisterTenants = bool('autoRegisterTenants', true);
  let databaseUrl: string | undefined;
  if (g.databaseUrl !== undefined) {
    if (typeof g.databaseUrl !== 'string' || !/^postgres(?:ql)?:\/\//.test(g.databaseUrl)) {
      throw new ConfigError(`${W}.databaseUrl must be a postgres:// or postgresql:// URL`);
    }
    databaseUrl = g.databaseUrl;
  }
  const interval = g.l1HealthIntervalMs ?? DEFAULT_L1_HEALTH_INTERVAL_MS;
  if (typeof interval !== 'number' || !Number.isSafeInteger(interval) || interval < MIN_L1_HEALTH_INTERVAL_MS) {
    throw new ConfigError(`${W}.l1HealthIntervalMs must be an integer of at least ${String(MIN_L1_HEALTH_INTERVAL_MS)}`);
  }
  let auditQueueMax = AUDIT_QUEUE_MAX;
  let auditTenantQueueMax: number | undefined;
  let auditHoldMaxMs = AUDIT_HOLD_MAX_MS;
  if (g.audit !== undefined) {
    if (!isRecord(g.audit)) throw new ConfigError(`${W}.audit must be an object`);
    checkKeys(`${W}.audit`, g.audit, ['queueMax', 'tenantQueueMax', 'holdMaxMs']);
    const q = g.audit.queueMax;
    if (q !== undefined) {
      if (typeof q !== 'number' || !Number.isSafeInteger(q) || q < 1 || q > AUDIT_QUEUE_MAX) {
        throw new ConfigError(`${W}.audit.queueMax must be an integer 1..${String(AUDIT_QUEUE_MAX)}`);
      }
      auditQueueMax = q;
    }
    const t = g.audit.tenantQueueMax;
    if (t !== undefined) {
      if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1 || t > auditQueueMax) {
        throw new ConfigError(`${W}.audit.tenantQueueMax must be an integer 1..${String(auditQueueMax)} (at most audit.queueMax)`);
      }
      auditTenantQueueMax = t;
    }
    const h = g.audit.holdMaxMs;
    if (h !== undefined) {
      if (typeof h !== 'number' || !Number.isSafeInteger(h) || h < 0 || h > AUDIT_HOLD_MAX_MS_LIMIT) {
        throw new ConfigError(`${W}.audit.holdMaxMs must be an integer 0..${String(AUDIT_HOLD_MAX_MS_LIMIT)} (0: never hold a tenant whose audit queue is half full)`);
      }
      auditHoldMaxMs = h;
    }
  }
  let fourEyes: FourEyesConfig | undefined;
  if (g.fourEyes !== undefined) {
    const f = g.fourEyes;
    if (!isRecord(f)) throw new ConfigError(`${W}.fourEyes must be an object {actions, approvals, ttlMs?}`);
    checkKeys(`${W}.fourEyes`, f, ['actions', 'approvals', 'ttlMs']);
    const actions = f.actions ?? [...APPROVABLE_ACTIONS];
    if (!Array.isArray(actions) || !actions.every((a): a is ApprovableAction => typeof a === 'string' && (APPROVABLE_ACTIONS as readonly string[]).includes(a))) {
      throw new ConfigError(`${W}.fourEyes.actions must be a list of ${APPROVABLE_ACTIONS.join(', ')}`);
    }
    const approvals = f.approvals ?? 1;
    if (typeof approvals !== 'number' || !Number.isInteger(approvals) || approvals < 1 || approvals > MAX_REQUIRED_APPROVALS) {
      throw new ConfigError(`${W}.fourEyes.approvals must be an integer 1..${String(MAX_REQUIRED_APPROVALS)}`);
    }
    const ttlMs = f.ttlMs;
    if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs < 1)) throw new ConfigError(`${W}.fourEyes.ttlMs must be a positive integer`);
    fourEyes = { actions, approvals, ...(ttlMs === undefined ? {} : { ttlMs }) };
  }
  // Issue 18: client enrolment (src/pki/registry.ts).
  let maxCsrBytes = DEFAULT_MAX_CSR_BYTES;
  if (g.pki !== undefined) {
    if (!isRecord(g.pki)) throw new ConfigError(`${W}.pki must be an object {maxCsrBytes}`);
    checkKeys(`${W}.pki`, g.pki, ['maxCsrBytes']);
    const m = g.pki.maxCsrBytes;
    if (m !== undefined) {
      if (typeof m !== 'number' || !Number.isSafeInteger(m) || m < 256 || m > MAX_MAX_CSR_BYTES) {
        throw new ConfigError(`${W}.pki.maxCsrBytes must be an integer 256..${String(MAX_MAX_CSR_BYTES)}`);
      }
      maxCsrBytes = m;
    }
  }
  const yieldNice = g.yieldNice ?? DEFAULT_YIELD_NICE;
  if (typeof yieldNice !== 'number' || !Number.isInteger(yieldNice) || yieldNice < 0 || yieldNice > MAX_YIELD_NICE) {
    throw new ConfigError(`${W}.yieldNice must be an integer 0..${String(MAX_YIELD_NICE)} (0: the primary never yields to the KMIP workers)`);
  }
  const adminApi = await adminApiSettings(loaded, g.adminApi);
  return {
    maxCsrBytes, yieldNice,
    enabled, autoRegisterTenants, l1HealthIntervalMs: interval, auditQueueMax, auditHoldMaxMs,
    auditTenantQueueMax: auditTenantQueueMax ?? Math.min(AUDIT_TENANT_QUEUE_MAX, auditQueueMax),
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
    ...(adminApi === undefined ? {} : { adminApi }),
    ...(fourEyes === undefined ? {} : { fourEyes }),
  };
}

async function adminApiSettings(loaded: Pick<LoadedConfig, 'dataDir' | 'server'>, raw: unknown): Promise<AdminApiSettings | undefined> {
  const W = 'governance.adminApi';
  if (raw === false) return undefined;
  const a = raw ?? {};
  if (!isRecord(a)) throw new ConfigError(`${W} must be an object or false`);
  checkKeys(W, a, ['listen', 'tls', 'auth', 'limits']);
  let listen: ListenAddress;
  if (a.listen === undefined) {
    listen = { host: DEFAULT_ADMIN_API_HOST, port: loaded.server.listen.port === 0 ? 0 : DEFAULT_ADMIN_API_PORT };
  } else {
    if (typeof a.listen !== 'string') throw new ConfigError(`${W}.listen must be "HOST:PORT"`);
    listen = parseListen(a.listen);
  }
  // The admin CA (issue 15 item 8): never the KMIP client CA, so whoever issues tenant certificates cannot mint an
  // admin. Read only when the admin API uses client certificates (the default); an OIDC-only API needs no anchor.
  const adminCa = async (): Promise<string> => {
    try {
      return await readPem(loaded.dataDir, `pki/${ADMIN_CA_CERT_FILE}`, `${W}.tls.clientCa (default)`);
    } catch (e) {
      throw new ConfigError(`${e instanceof Error ? e.message : String(e)}: the admin API trusts its own CA, not the KMIP client CA; create it with \`openkcm pki admin-ca --data-dir ${loaded.dataDir}\` (it re-issues pki/admin.crt) or set ${W}.tls.clientCa`);
    }
  };
  const t = a.tls ?? {};
  if (!isRecord(t)) throw new ConfigError(`${W}.tls must be an object {cert, key, clientCa}`);
  checkKeys(`${W}.tls`, t, ['cert', 'key', 'clientCa']);
  const tls: AdminTls = {
    cert: t.cert === undefined ? loaded.server.tls.cert : await readPem(loaded.dataDir, t.cert, `${W}.tls.cert`),
    key: t.key === undefined ? loaded.server.tls.key : await readPem(loaded.dataDir, t.key, `${W}.tls.key`),
    ...(t.clientCa !== undefined ? { ca: await readPem(loaded.dataDir, t.clientCa, `${W}.tls.clientCa`) }
      : a.auth !== undefined && isRecord(a.auth) && a.auth.mtls === undefined ? {} : { ca: await adminCa() }),
  };
  let auth: AdminAuthConfig;
  if (a.auth === undefined) {
    auth = { mtls: { identitySource: 'uri', identities: { [DEV_ADMIN_IDENTITY]: ['admin'] } } };
  } else {
    try {
      auth = parseAdminAuthConfig(a.auth, `${W}.auth`);
    } catch (e) {
      throw new ConfigError(e instanceof Error ? e.message : String(e));
    }
    if (auth.mtls === undefined && auth.oidc === undefined) throw new ConfigError(`${W}.auth needs mtls and/or oidc`);
  }
  let limits: AdminLimits;
  try {
    limits = resolveAdminLimits(a.limits, `${W}.limits`);
  } catch (e) {
    throw new ConfigError(e instanceof Error ? e.message : String(e));
  }
  return { listen, tls, auth, limits };
}
