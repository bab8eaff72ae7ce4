/**
 * The governance plane inside `openkcm serve` (ARCHITECTURE §1 "cmk" role, §5 kill-switch, §6; issue 5): one call,
 * {@link startGovernancePlane}, from the composition root (src/server/app.ts) turns on
 *
 *   - the governance database: `governance.databaseUrl`, else $DATABASE_URL, else the embedded PGlite database in
 *     `<dataDir>/governance-db` (src/cmk/db.ts), migrated at start;
 *   - Cedar on the KMIP path (src/cmk/authz): operation level (`authorize`, a ProcessorDeps gate) and object level
 *     (`authorizeObject`, for createServices), client roles from the config file's `identity.roles`;
 *     every tenant's stored policies loaded at start and re-loaded on a policy change (NOTIFY {@link POLICY_CHANNEL});
 *   - the audit trail of every KMIP batch item (`audit`, the ProcessorDeps hook): enqueued into the AuditSink
 *     (flushed within AUDIT_FLUSH_INTERVAL_MS), HMAC under `masterKey.deriveKey('audit-hmac')`;
 *   - the kill-switch: the revocation listener (NOTIFY `openkcm_tenant` → krypton.revoke/restore), a governance
 *     tenant-state gate, and the periodic L1 health checks;
 *   - the admin REST API (src/cmk/api), by default on 127.0.0.1:5697 with mutual TLS (the development admin
 *     certificate `pki/admin.crt`, src/pki/admin-cert.ts).
 *
 * Tenants (docs/governance.md "Running it in the appliance"): a KMIP tenant without a governance row is registered
 * (state active, principal {@link AUTO_REGISTER_PRINCIPAL}) at start when the config names it, or on its first
 * request, so the quick start (`openkcm init` makes tenant `default`) keeps working and every tenant that ever
 * spoke KMIP can be revoked through the admin API. A tenant name outside the governed pattern
 * (src/cmk/db.ts TENANT_ID_PATTERN: lowercase letters, digits, `_`) cannot be governed and is REFUSED rather than
 * served without a kill-switch. `autoRegisterTenants: false` refuses every tenant an admin has not created.
 *
 * Sealed start: everything that needs no key starts at once; the audit key is derived, and the admin API and the
 * L1 checks start, when the MasterKey unseals ('unsealed' event). KMIP traffic is refused while sealed anyway
 * (src/server/gates.ts sealedGate); audit records queue in memory meanwhile (bounded, AUDIT_QUEUE_MAX).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { parseAdminAuthConfig } from '../cmk/api/auth.js';
import type { AdminAuthConfig } from '../cmk/api/auth.js';
import { policyEngineAdapter } from '../cmk/api/policy-engine.js';
import { MAX_REQUIRED_APPROVALS, startAdminApi } from '../cmk/api/server.js';
import { resolveAdminLimits } from '../cmk/api/limits.js';
import type { AdminLimits } from '../cmk/api/limits.js';
import type { AdminTls, FourEyesConfig, RunningAdminApi } from '../cmk/api/server.js';
import { APPROVABLE_ACTIONS } from '../cmk/api/ports.js';
import type { ApprovableAction, BindL1 } from '../cmk/api/ports.js';
import { L1_SHADOW_NAME } from '../cmk/api/governance-port.js';
import { AUDIT_QUEUE_MAX, AUDIT_TENANT_QUEUE_MAX } from '../cmk/audit.js';
import type { AuditBacklog, AuditBatch } from '../cmk/audit.js';
import { auditMetricsRegistry } from '../cmk/api/metrics.js';
import { PolicyEngine } from '../cmk/authz/engine.js';
import { DEFAULT_CLIENT_ROLES, kmipAuthorizer, parseIdentityRoles, rolesFromConfig, warmRequests } from '../cmk/authz/kmip.js';
import type { KmipAuthorizer } from '../cmk/authz/kmip.js';
import { dbOptionsFrom, isTenantId, openDb, TENANT_CHANNEL, TENANT_ID_PATTERN } from '../cmk/db.js';
import type { Db } from '../cmk/db.js';
import { holdEmbeddedDb } from '../cmk/embedded-db-holder.js';
import { recordL1Replacement } from '../cmk/shadow-replace.js';
import { isGovernanceError } from '../cmk/errors.js';
import { Governance, parseTenantEvent } from '../cmk/repository.js';
import type { TenantState } from '../cmk/repository.js';
import { KmipError } from '../kmip/errors.js';
import type { KeystorePlugin, ShadowReference } from '../keystore/types.js';
import { isKryptonError } from '../krypton/errors.js';
import type { Krypton } from '../krypton/krypton.js';
import { DEFAULT_L1_HEALTH_INTERVAL_MS, L1_HEALTH_PRINCIPAL, MIN_L1_HEALTH_INTERVAL_MS, probeL1, startL1HealthChecks } from '../krypton/l1-health.js';
import type { L1HealthChecker } from '../krypton/l1-health.js';
import type { MasterKey } from '../krypton/master-key.js';
import { GOVERNANCE_REVOKE_REASON, MAX_TENANT_EVENT_BYTES, startRevocationListener } from '../krypton/revocation-listener.js';
import type { RevocationListener } from '../krypton/revocation-listener.js';
import { mac } from '../native/index.js';
import type { SecureKey } from '../native/index.js';
import { pkiRoutes } from '../pki/api-routes.js';
import { DEFAULT_MAX_CSR_BYTES, MAX_MAX_CSR_BYTES } from '../pki/enrol.js';
import { PkiRegistry } from '../pki/registry.js';
import { pkiMetricsRegistry } from '../pki/metrics.js';
import { rewrapRoutes } from '../cmk/api/rewrap-routes.js';
import { rewrapPort } from './rewrap-jobs.js';
import type { RewrapJobs } from './rewrap-jobs.js';
import { adminCertFiles, serverCertFiles, swapSecureContext, watchServerCert } from './tls-reload.js';
import { EMPTY_TRUST } from './trust.js';
import type { TrustSnapshot } from './trust.js';
import { ADMIN_CA_CERT_FILE, DEV_ADMIN_CERT_FILE, DEV_ADMIN_IDENTITY } from '../pki/admin-cert.js';
import { auditAdmissionGate, kmipAuditHook } from './audit-gate.js';
import { governanceGate } from './governance-gate.js';
import { ConfigError, parseListen } from './config.js';
import type { ListenAddress, LoadedConfig } from './config.js';
import type { KmipGate } from './gates.js';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { OFFLINE_SECRET_JOURNAL, replayOfflineChanges } from '../krypton/secret-journal.js';
import type { KmipAuditEvent } from './processor.js';
import { isRecord } from '../common/guards.js';

/** Default admin API port: the one after KMIP's IANA port 5696. */
export const DEFAULT_ADMIN_API_PORT = 5697;
/** Default admin API host: loopback; exposing the admin plane on a network is an explicit choice. */
export const DEFAULT_ADMIN_API_HOST = '127.0.0.1';
/** NOTIFY channel of policy changes: payload = JSON {tenant}; every node re-loads that tenant's policies. */
export const POLICY_CHANNEL = 'openkcm_policy';
/** Governance principal of tenants registered on first use (audit trail). */
export const AUTO_REGISTER_PRINCIPAL = 'system:kmip-first-use';
/** Purpose of the MasterKey-derived audit HMAC key (src/krypton/master-key.ts deriveKey). */
export const AUDIT_HMAC_PURPOSE = 'audit-hmac';

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
  /** Largest CSR `openkcm client issue --csr` accepts, bytes (issue 18; src/pki/enrol.ts). */
  readonly maxCsrBytes: number;
}

export interface AdminApiSettings {
  readonly listen: ListenAddress;
  readonly tls: AdminTls;
  readonly auth: AdminAuthConfig;
  /** `governance.adminApi.limits` (src/cmk/api/limits.ts; issue 15 item 7). */
  readonly limits: AdminLimits;
}

function checkKeys(where: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ConfigError(`unknown setting ${where}.${k} (allowed: ${allowed.join(', ')})`);
  }
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
  checkKeys(W, g, ['enabled', 'databaseUrl', 'autoRegisterTenants', 'adminApi', 'fourEyes', 'l1HealthIntervalMs', 'audit', 'pki']);
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
  if (g.audit !== undefined) {
    if (!isRecord(g.audit)) throw new ConfigError(`${W}.audit must be an object`);
    checkKeys(`${W}.audit`, g.audit, ['queueMax', 'tenantQueueMax']);
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
  const adminApi = await adminApiSettings(loaded, g.adminApi);
  return {
    maxCsrBytes,
    enabled, autoRegisterTenants, l1HealthIntervalMs: interval, auditQueueMax,
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

export interface GovernancePlaneOptions {
  readonly loaded: LoadedConfig;
  readonly logger: Logger;
  readonly krypton: Krypton;
  readonly masterKey: MasterKey;
  /** KMIP tenants this node serves (e.g. vault.tenants()); registered at start like the config's identity tenants. */
  readonly tenantsOf?: () => Iterable<string>;
  /** Opens a keystore plugin for the admin API's L1 validation (health() only). Without it: 501 on validate. */
  readonly keystoreFor?: (shadow: ShadowReference) => Promise<KeystorePlugin>;
  /** Binds a registered L1 to the tenant's keys (src/server/hierarchy.ts Hierarchy.bindL1). */
  readonly bindL1?: BindL1;
  /** The node's background re-wrap jobs (src/server/rewrap-jobs.ts): their routes on the admin API. */
  readonly rewrap?: RewrapJobs;
}

export interface GovernancePlane {
  /** False when `governance.enabled` is false: every hook below is then undefined. */
  readonly enabled: boolean;
  /** ProcessorDeps.authorize gate: governance tenant state (kill-switch, first-use registration), then Cedar. */
  readonly authorize: KmipGate | undefined;
  /** OperationServices.authorizeObject (createServices): Cedar at object level. */
  readonly authorizeObject: KmipAuthorizer['authorizeObject'] | undefined;
  /** ProcessorDeps.audit: enqueues one record per KMIP batch item; never awaited. */
  readonly audit: ((event: KmipAuditEvent) => void) | undefined;
  /** The repository (tests, tools). */
  readonly governance: Governance | undefined;
  readonly db: Db | undefined;
  readonly engine: PolicyEngine | undefined;
  /** Where the admin API listens; undefined while it is off or not started yet (sealed node). */
  adminApiAddress(): ListenAddress | undefined;
  /** Resolves when the admin API and L1 checks run (after the unseal on a sealed node); at once without them. */
  readonly started: Promise<void>;
  /** Re-loads one tenant's policies on every node (after a change made without the admin API). */
  policiesChanged(tenant: string): Promise<void>;
  /** Writes the queued audit records now (tests, shutdown). */
  flushAudit(): Promise<void>;
  /** Governance state of every tenant this node knows (KMIP worker processes mirror it: src/appliance/worker.ts). */
  tenantStates(): [string, TenantState][];
  /** Every tenant's own Cedar policy text (tenants without one are decided by the defaults). */
  tenantPolicies(): [string, string][];
  /** Whose audit queue is full (their audited operations are refused until it drains). */
  auditBacklog(): AuditBacklog;
  /** Takes audit records a KMIP worker process forwarded (src/appliance), as if its own hook had produced them. */
  recordAudit(batches: readonly AuditBatch[]): void;
  /** Calls `listener` on every change a KMIP worker must mirror; returns the unsubscribe function. */
  onChange(listener: (change: GovernanceChange) => void): () => void;
  /** Registers (or re-reads) a tenant on first use; resolves with its state, null when it is not governed. */
  register(tenant: string): Promise<TenantState | null>;
  /** The L1 registered for the tenant through the admin API (issue 16 item 2); undefined when none or ungoverned. */
  registeredShadow(tenant: string): Promise<ShadowReference | undefined>;
  /** What every KMIP listener applies (issue 18): the run-time identity map and the revoked serials. */
  trust(): TrustSnapshot;
  /** The certificate registry (clients, admins, identities, CRL); undefined with the plane off. */
  readonly pki: PkiRegistry | undefined;
  /** Stops everything, flushes the audit trail, closes the database. Call BEFORE the hierarchy closes. */
  close(): Promise<void>;
}

/** A change KMIP worker processes mirror (the messages of src/appliance/ipc.ts). */
export type GovernanceChange =
  | { readonly t: 'state'; readonly tenant: string; readonly state: TenantState }
  /** `text` undefined: the defaults decide; `failed`: the policies could not be loaded, the tenant is denied. */
  | { readonly t: 'policies'; readonly tenant: string; readonly text: string | undefined; readonly failed?: boolean }
  | { readonly t: 'backlog'; readonly backlog: AuditBacklog }
  /** Issue 18: a revocation or identity mapping changed (src/server/trust.ts ClientTrust.update). */
  | { readonly t: 'trust'; readonly trust: TrustSnapshot };

const DISABLED: GovernancePlane = Object.freeze({
  enabled: false, authorize: undefined, authorizeObject: undefined, audit: undefined, governance: undefined, db: undefined,
  engine: undefined, adminApiAddress: () => undefined, started: Promise.resolve(), policiesChanged: () => Promise.resolve(),
  flushAudit: () => Promise.resolve(), close: () => Promise.resolve(),
  tenantStates: () => [], tenantPolicies: () => [], auditBacklog: () => ({ node: false, tenants: [] }), recordAudit: () => undefined,
  onChange: () => () => undefined, register: () => Promise.resolve(null), registeredShadow: () => Promise.resolve(undefined),
  trust: () => EMPTY_TRUST, pki: undefined,
});


/** Starts the governance plane (see the module comment). Throws ConfigError for a bad `governance` section. */
export async function startGovernancePlane(opts: GovernancePlaneOptions): Promise<GovernancePlane> {
  const { loaded, logger: log, krypton, masterKey } = opts;
  const settings = await governanceSettings(loaded);
  if (!settings.enabled) {
    log.warn('governance plane disabled (governance.enabled false): no Cedar, no audit trail, no admin API');
    return DISABLED;
  }
  const roleConfig = parseIdentityRoles(loaded.file.identity);
  const roles = rolesFromConfig(roleConfig);
  // Every distinct role set a client can have: what the Cedar warm-up computes decisions for (issue 14).
  const roleSets = new Map<string, readonly string[]>();
  for (const set of [...Object.values(roleConfig.roles), roleConfig.defaultRoles ?? DEFAULT_CLIENT_ROLES]) roleSets.set(JSON.stringify(set), set);
  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        log.error('governance plane: error while closing', describeError(e));
      }
    }
  };

  // ---- database ------------------------------------------------------------------------------------------
  // Precedence (ARCHITECTURE §6 "PGlite serves when no DATABASE_URL is given"): config URL, $DATABASE_URL, PGlite.
  const envUrl = process.env.DATABASE_URL;
  const url = settings.databaseUrl ?? (envUrl !== undefined && envUrl !== '' ? envUrl : undefined);
  let resync: () => void = () => undefined;
  const db = await openDb({
    ...dbOptionsFrom({ url, dataDir: loaded.dataDir }),
    onListenEvent: (ev) => {
      if (ev.type === 'reconnected') {
        log.warn('governance database: LISTEN connection back; re-reading tenant states and policies');
        resync();
      } else {
        log.warn('governance database: connection error', describeError(ev.error));
      }
    },
  });
  if (db.kind === 'pglite') {
    // Readers of the embedded database (`openkcm audit`) must know a live node holds it (src/cmk/embedded-db-holder.ts);
    // released after the database closed (cleanups run in reverse).
    const release = holdEmbeddedDb(loaded.dataDir);
    cleanups.push(() => {
      release();
      return Promise.resolve();
    });
  }
  cleanups.push(() => db.close());
  log.info('governance database open', { kind: db.kind, ...(db.kind === 'pglite' ? { dir: path.join(loaded.dataDir, 'governance-db') } : {}) });

  try {
    // ---- audit key (sealed node: derived at unseal) ---------------------------------------------------------
    let auditKey: SecureKey | undefined;
    const deriveAuditKey = (): void => {
      if (auditKey === undefined && !masterKey.status().sealed) auditKey = masterKey.deriveKey(AUDIT_HMAC_PURPOSE);
    };
    const dropAuditKey = (): void => {
      auditKey?.destroy();
      auditKey = undefined;
    };
    cleanups.push(() => {
      dropAuditKey();
      return Promise.resolve();
    });
    deriveAuditKey();
    let sealedNoticeShown = false;
    let onBacklogChange: () => void = () => undefined;
    const engine = new PolicyEngine();
    cleanups.push(() => {
      engine.close();
      return Promise.resolve();
    });
    const governance = await Governance.open({
      db,
      auditHmac: (data) => {
        if (auditKey === undefined) throw new KmipError('SERVER_SEALED', 'the audit key needs an unsealed MasterKey');
        return mac(auditKey, 'HMAC-SHA256', data);
      },
      policyValidator: (body) => {
        const d = engine.validateTenantPolicies(body);
        if (d.length > 0) throw new Error(d.join('; '));
      },
      cryptoShred: (tenant) => ignoreUnknown(krypton.offboard(tenant)),
      auditSink: {
        queueMax: settings.auditQueueMax,
        tenantQueueMax: settings.auditTenantQueueMax,
        // KMIP worker processes mirror the backlog (src/appliance): set below, once the change fan-out exists.
        onBacklogChange: () => { onBacklogChange(); },
        // Rate-limited by the sink: one line per tenant per AUDIT_DROP_REPORT_INTERVAL_MS, with counts.
        onDrop: (r) => {
          log.warn('audit queue full: records dropped and operations refused (a gap record follows in the chain)', {
            tenant: r.tenant, dropped: r.dropped, refused: r.refused, cause: r.cause, since: new Date(r.since).toISOString(),
          });
        },
        onError: (err) => {
          if (err instanceof KmipError && err.code === 'SERVER_SEALED') {
            // Records stay queued and are written after the unseal; say so once per sealed period.
            if (!sealedNoticeShown) log.warn('audit records wait for the unseal (the audit HMAC key needs the MasterKey)');
            sealedNoticeShown = true;
            return;
          }
          log.error('audit trail: write failed (records kept and retried)', describeError(err));
        },
      },
    });
    cleanups.push(() => governance.close());
    // Issue 16 item 1: every change of the node's secrets (operator socket, admin API) in the global chain: the
    // name, the size and who asked; never the value.
    const unwatchSecrets = masterKey.secrets.onChange((c) => {
      governance.audit.appendSync({
        principal: c.by, operation: `node-secret.${c.op}`, object: c.op === 'put' ? `${c.name} (${String(c.bytes)} bytes)` : c.name,
        result: c.op === 'delete' && c.bytes === 0 ? 'not-found' : 'ok',
      }, { global: true }).catch((e: unknown) => { log.error('audit: a node secret change could not be recorded', { name: c.name, op: c.op, ...describeError(e) }); });
    });
    cleanups.push(() => {
      unwatchSecrets();
      return Promise.resolve();
    });
    // Changes made with the node stopped (`operator secret … --data-dir`) were journaled by the CLI: into the chain.
    if (!masterKey.status().sealed) {
      const replayed = await replayOfflineChanges(masterKey.secrets.dir, async (e) => {
        await governance.audit.appendSync(e === undefined
          ? { principal: 'offline-cli', operation: 'node-secret.journal-unreadable', object: OFFLINE_SECRET_JOURNAL, result: 'unknown' }
          : { principal: e.by, operation: `node-secret.${e.op}`, object: e.op === 'put' ? `${e.name} (${String(e.bytes)} bytes)` : e.name,
            result: e.op === 'delete' && e.bytes === 0 ? 'not-found' : 'ok', time: e.at }, { global: true });
      }).catch((e: unknown) => { log.error('audit: offline node secret changes could not be recorded (kept for the next start)', describeError(e)); return 0; });
      if (replayed > 0) log.info('audit: node secret changes made offline recorded', { entries: replayed });
    }

    // ---- tenant states ----------------------------------------------------------------------------------
    /** Governance state of every tenant this node has seen. */
    const states = new Map<string, TenantState>();
    const registering = new Map<string, Promise<void>>();
    const loadPolicies = async (tenant: string): Promise<string | undefined> => {
      const all = await governance.listPolicies(tenant);
      return all.length === 0 ? undefined : all.map((p) => p.body).join('\n');
    };
    const changeListeners = new Set<(change: GovernanceChange) => void>();
    const changed = (change: GovernanceChange): void => {
      for (const l of changeListeners) {
        try {
          l(change);
        } catch (e) {
          log.error('governance change listener failed', describeError(e));
        }
      }
    };
    onBacklogChange = () => { changed({ t: 'backlog', backlog: governance.auditSink.backlog() }); };
    // ---- certificate registry (issue 18): revocations and identity mappings reach every KMIP listener ----------
    const pki = await PkiRegistry.open({ db, audit: governance.audit, pkiDir: path.join(loaded.dataDir, 'pki'), logger: log, maxCsrBytes: settings.maxCsrBytes });
    cleanups.push(() => pki.close());
    pki.onChange(() => { changed({ t: 'trust', trust: pki.snapshot() }); });
    const refreshPolicies = async (tenant: string): Promise<void> => {
      try {
        await engine.refreshTenant(tenant, loadPolicies);
      } catch (e) {
        // refreshTenant left the tenant fail-closed (every decision denied) until a later refresh succeeds.
        log.error('policies of a tenant could not be loaded: its clients are denied until they can', { tenant, ...describeError(e) });
        changed({ t: 'policies', tenant, text: undefined, failed: true });
        return;
      }
      changed({ t: 'policies', tenant, text: engine.tenantPolicies(tenant) });
      // The tenant's decisions per role and object class are computed in the background now, so that no request
      // pays a first wasm evaluation (issue 14 Deliver 4). Never awaited; failures only cost the warm-up.
      engine.warm(warmRequests(engine, tenant, roleSets.values())).catch((e: unknown) => {
        log.warn('Cedar warm-up failed; decisions are computed on first use', { tenant, ...describeError(e) });
      });
    };
    // One entry per governance tenant row (registration creates the row first), so the catalog bounds the map.
    const setState = (tenant: string, state: TenantState): void => {
      if (states.get(tenant) === state) return;
      states.set(tenant, state);
      changed({ t: 'state', tenant, state });
    };
    const resyncAll = async (): Promise<void> => {
      const all = await governance.listTenants({ includeTerminated: true });
      for (const t of all) {
        setState(t.id, t.state);
        if (t.state !== 'terminated') await refreshPolicies(t.id);
      }
    };
    /** Registers (or reads) a tenant's governance row; its state lands in `states`. */
    const register = async (tenant: string): Promise<void> => {
      if (!isTenantId(tenant)) return;
      let t = await governance.getTenant(tenant);
      if (t === undefined && settings.autoRegisterTenants) {
        try {
          t = await governance.createTenant({ id: tenant }, AUTO_REGISTER_PRINCIPAL);
          log.info('tenant registered in governance on first use', { tenant });
        } catch (e) {
          if (!isGovernanceError(e, 'TENANT_EXISTS')) throw e;
          t = await governance.getTenant(tenant);
        }
      }
      if (t === undefined) return;
      setState(t.id, t.state);
      if (t.state !== 'terminated') await refreshPolicies(t.id);
    };
    const ensureRegistered = (tenant: string): Promise<void> => {
      let p = registering.get(tenant);
      if (p === undefined) {
        p = register(tenant).finally(() => registering.delete(tenant));
        registering.set(tenant, p);
      }
      return p;
    };

    await resyncAll();
    const startTenants = new Set<string>([...Object.values(loaded.server.identity.tenants), ...(opts.tenantsOf?.() ?? [])]);

    // Tenant events: the state map here; krypton through the revocation listener below.
    const unlistenTenants = await db.listen(TENANT_CHANNEL, (payload) => {
      if (payload.length > MAX_TENANT_EVENT_BYTES) return;
      const ev = parseTenantEvent(payload);
      if (ev === undefined) return;
      const next: TenantState = ev.action === 'revoke' ? 'revoked' : ev.action === 'suspend' ? 'suspended' : ev.action === 'terminate' ? 'terminated' : 'active';
      setState(ev.tenant, next);
      if (next === 'terminated') engine.removeTenant(ev.tenant);
    });
    cleanups.push(unlistenTenants);
    const unlistenPolicies = await db.listen(POLICY_CHANNEL, (payload) => {
      if (payload.length > MAX_TENANT_EVENT_BYTES) return;
      let tenant: unknown;
      try {
        tenant = (JSON.parse(payload) as { tenant?: unknown }).tenant;
      } catch {
        return;
      }
      if (isTenantId(tenant)) void refreshPolicies(tenant);
    });
    cleanups.push(unlistenPolicies);

    // ---- kill-switch: NOTIFY → krypton ------------------------------------------------------------------
    const listener: RevocationListener = await startRevocationListener({
      db,
      krypton,
      tenantStates: () => governance.listTenants({ includeTerminated: true }),
      logger: log,
    });
    cleanups.push(() => listener.stop());
    resync = () => {
      resyncAll().then(() => listener.reconcile()).catch((e: unknown) => { log.error('governance resync failed', describeError(e)); });
    };

    const notifyPolicies = async (tenant: string): Promise<void> => {
      await refreshPolicies(tenant);
      await db.notify(POLICY_CHANNEL, JSON.stringify({ tenant }));
    };

    // ---- KMIP hooks ---------------------------------------------------------------------------------------
    const authz = kmipAuthorizer(engine, {
      rolesOf: roles,
      onDeny: (e) => { log.info('KMIP request denied by policy', { tenant: e.tenant, identity: e.identity, action: e.action, ...(e.uid === undefined ? {} : { uid: e.uid }) }); },
    });
    // Issue 15 item 4: a tenant whose audit queue is full gets AUDIT_BACKLOGGED for what must be audited.
    const authorize = governanceGate({
      stateOf: (tenant) => states.get(tenant),
      register: ensureRegistered,
      authz,
      admitAudit: auditAdmissionGate(governance.auditSink),
      logger: log,
    });

    const audit = kmipAuditHook(governance.auditSink);

    // ---- after the unseal: audit key, start-up tenants, L1 checks, admin API ------------------------------
    let api: RunningAdminApi | undefined;
    let health: L1HealthChecker | undefined;
    let closed = false;
    /** Read through a function: `closed` changes while startKeyed awaits. */
    const isClosed = (): boolean => closed;
    const startKeyed = async (): Promise<void> => {
      // Registration writes audit records, which need the audit key: hence after the unseal.
      for (const t of startTenants) {
        if (states.has(t)) continue;
        if (!isTenantId(t)) {
          log.warn('tenant name cannot be governed: its KMIP requests are refused', { tenant: t, pattern: TENANT_ID_PATTERN.source });
          continue;
        }
        await ensureRegistered(t);
      }
      if (isClosed()) return;
      health = startL1HealthChecks({
        krypton,
        // Every active governance tenant, not only those activated on this node since the start (issue 16 item 2): an
        // L1 deleted at the source while the node was down takes its tenant dark at the first round, before any
        // client asks. A tenant without keys yet is skipped by checkL1 (UNKNOWN_TENANT).
        activeTenants: async () => (await governance.listTenants()).filter((t) => t.state === 'active').map((t) => t.id),
        revokeInGovernance: async (tenant, reason) => { await governance.revokeTenant(tenant, L1_HEALTH_PRINCIPAL, reason); },
        intervalMs: settings.l1HealthIntervalMs,
        logger: log,
      });
      if (settings.adminApi === undefined) return;
      const keystoreFor = opts.keystoreFor;
      api = await startAdminApi({
        governance,
        policyEngine: { ...policyEngineAdapter(engine, governance), policiesChanged: notifyPolicies },
        cryptoShred: (tenant) => ignoreUnknown(krypton.offboard(tenant)),
        // This node's krypton at once; other nodes follow the NOTIFY (revocation listener).
        // The API calls these after the state change committed: the gate's view follows at once, too.
        killSwitch: {
          revoke: async (tenant) => {
            setState(tenant, 'revoked');
            await ignoreUnknown(krypton.revoke(tenant, GOVERNANCE_REVOKE_REASON));
          },
          restore: async (tenant) => {
            await ignoreUnknown(krypton.restore(tenant));
            setState(tenant, 'active');
          },
        },
        ...(keystoreFor === undefined ? {} : { validateShadow: (shadow: ShadowReference) => probeL1(keystoreFor, shadow) }),
        ...(opts.bindL1 === undefined ? {} : { bindL1: opts.bindL1 }),
        nodeSecrets: {
          list: () => sealedAsUnavailable(() => masterKey.secrets.entries()),
          put: (name, value, by) => sealedAsUnavailableAsync(() => masterKey.secrets.put(name, value, by)),
          delete: (name, by) => sealedAsUnavailableAsync(() => masterKey.secrets.delete(name, by)),
        },
        masterKeyStatus: () => masterKey.status(),
        // Issue 16 item 3: rotation and L1 replacement through krypton on this (owner) node; workers follow its
        // 'changed' event (src/appliance/primary.ts).
        rotation: {
          rotateL2: (tenant) => krypton.rotateL2(tenant),
          rotateL3: (tenant, service) => krypton.rotateL3(tenant, service),
          dropL3Version: (tenant, service, version) => krypton.dropL3Version(tenant, service, version),
          replaceL1: async (tenant, shadow, actor) => {
            await krypton.replaceL1(tenant, shadow);
            await recordL1Replacement(governance, tenant, L1_SHADOW_NAME, shadow, actor);
          },
          describe: async (tenant) => {
            const l = await krypton.lineage(tenant);
            return l === undefined ? undefined : { l1: l.shadow, state: l.state, currentL2: l.currentL2, l2Versions: l.l2Versions, services: l.services };
          },
        },
        metrics: { registries: [auditMetricsRegistry(governance.auditSink), pkiMetricsRegistry(loaded.dataDir, serverCertFiles(loaded.dataDir, loaded.file.kmip?.tls).cert, pki)] },
        auth: settings.adminApi.auth,
        tls: settings.adminApi.tls,
        limits: settings.adminApi.limits,
        adminDirectory: (identity) => pki.adminOf(identity),
        extraRoutes: (r, ctx) => {
          pkiRoutes({ registry: pki, ensureTenant: async (tenant) => { await ensureRegistered(tenant); return states.get(tenant) ?? null; } })(r, ctx);
          if (opts.rewrap !== undefined) rewrapRoutes(rewrapPort(opts.rewrap, governance))(r, ctx);
        },
        ...(settings.fourEyes === undefined ? {} : { fourEyes: settings.fourEyes }),
        logger: log,
      }, settings.adminApi.listen);
      if (isClosed()) {
        const late = api;
        api = undefined;
        await late.close();
        return;
      }
      // Issue 18 item 5: a replaced certificate is served by the admin API without a restart, like the KMIP listener.
      const adminTls = settings.adminApi.tls;
      const reloader = watchServerCert({
        files: adminCertFiles(loaded.dataDir, isRecord(loaded.governance.adminApi) ? loaded.governance.adminApi.tls : undefined, loaded.file.kmip?.tls), logger: log,
        ...(loaded.file.kmip?.tls?.reloadIntervalMs === undefined ? {} : { intervalMs: loaded.file.kmip.tls.reloadIntervalMs }),
        apply: swapSecureContext(api.app.server as unknown as TlsServer, { minVersion: 'TLSv1.2', ...(adminTls.ca === undefined ? {} : { ca: adminTls.ca }) }),
      });
      cleanups.push(() => { reloader.stop(); return Promise.resolve(); });
      log.info('admin API ready', { host: api.address.host, port: api.address.port, devAdminCert: path.join(loaded.dataDir, 'pki', DEV_ADMIN_CERT_FILE) });
    };
    let keyed: Promise<void> | undefined;
    const onUnsealed = (): void => {
      deriveAuditKey();
      sealedNoticeShown = false;
      // Records queued while sealed are written now rather than at the next tick.
      governance.auditSink.flush().catch(() => undefined);
    };
    const onSealed = (): void => {
      dropAuditKey();
    };
    masterKey.on('unsealed', onUnsealed);
    masterKey.on('sealed', onSealed);
    cleanups.push(() => {
      masterKey.off('unsealed', onUnsealed);
      masterKey.off('sealed', onSealed);
      return Promise.resolve();
    });
    // Stopped before the audit sink's final flush (governance.close) and the database.
    /** Ends the wait for an unseal that never came (close of a node that stayed sealed). */
    let cancelWait: () => void = () => undefined;
    cleanups.push(async () => {
      closed = true;
      cancelWait();
      await keyed?.catch(() => undefined);
      await health?.stop();
      await api?.close();
    });
    if (masterKey.status().sealed) {
      log.warn('governance plane waits for the unseal: start-up tenants, admin API and L1 health checks start then');
      keyed = new Promise<void>((resolve) => {
        const once = (): void => {
          masterKey.off('unsealed', once);
          resolve();
        };
        cancelWait = once;
        masterKey.on('unsealed', once);
      }).then(() => (isClosed() ? undefined : startKeyed()));
      keyed.catch((e: unknown) => { log.error('governance: could not start after the unseal', describeError(e)); });
    } else {
      keyed = startKeyed();
      await keyed;
    }
    const started = keyed.catch(() => undefined);

    return {
      enabled: true,
      authorize,
      authorizeObject: authz.authorizeObject,
      audit,
      governance,
      db,
      engine,
      adminApiAddress: () => api?.address,
      started,
      policiesChanged: notifyPolicies,
      flushAudit: () => governance.auditSink.flush(),
      close: closeAll,
      tenantStates: () => [...states],
      tenantPolicies: () => [...states.keys()].flatMap((t) => {
        const text = engine.tenantPolicies(t);
        return text === undefined ? [] : [[t, text] as [string, string]];
      }),
      auditBacklog: () => governance.auditSink.backlog(),
      recordAudit: (batches) => { for (const b of batches) governance.auditSink.recordMany(b.tenant, b.entries); },
      onChange: (listener) => {
        changeListeners.add(listener);
        return () => { changeListeners.delete(listener); };
      },
      register: async (tenant) => {
        await ensureRegistered(tenant);
        return states.get(tenant) ?? null;
      },
      registeredShadow: async (tenant) => {
        if (!isTenantId(tenant)) return undefined;
        try {
          return (await governance.getShadowRef(tenant, L1_SHADOW_NAME))?.shadow;
        } catch (e) {
          // No governance row (not registered yet, or terminated): nothing registered.
          if (isGovernanceError(e, 'TENANT_NOT_FOUND')) return undefined;
          throw e;
        }
      },
      trust: () => pki.snapshot(),
      pki,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** krypton calls for a tenant with no hierarchy on this node: nothing to do (it was never onboarded here). */
async function ignoreUnknown(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!isKryptonError(e, 'UNKNOWN_TENANT')) throw e;
  }
}

const SEALED_SECRETS = 'the node is sealed: unseal it (openkcm operator unseal) before managing its secrets; they are sealed by the master key';

/** A sealed MasterKey answers the admin API's node secret routes with 503 UNAVAILABLE and a clear message. */
function sealedAsUnavailable<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof KmipError && e.code === 'SERVER_SEALED') throw new KmipError('SERVER_SEALED', SEALED_SECRETS, { cause: e });
    throw e;
  }
}

async function sealedAsUnavailableAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof KmipError && e.code === 'SERVER_SEALED') throw new KmipError('SERVER_SEALED', SEALED_SECRETS, { cause: e });
    throw e;
  }
}
