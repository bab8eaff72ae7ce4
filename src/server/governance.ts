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
import path from 'node:path';
import { policyEngineAdapter } from '../cmk/api/policy-engine.js';
import { startAdminApi } from '../cmk/api/server.js';
import type { RunningAdminApi } from '../cmk/api/server.js';
import type { BindL1 } from '../cmk/api/ports.js';
import { L1_SHADOW_NAME } from '../cmk/api/governance-port.js';
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
import { L1_HEALTH_PRINCIPAL, probeL1, startL1HealthChecks } from '../krypton/l1-health.js';
import type { L1HealthChecker } from '../krypton/l1-health.js';
import type { MasterKey } from '../krypton/master-key.js';
import { GOVERNANCE_REVOKE_REASON, MAX_TENANT_EVENT_BYTES, startRevocationListener } from '../krypton/revocation-listener.js';
import type { RevocationListener } from '../krypton/revocation-listener.js';
import { mac } from '../native/index.js';
import type { SecureKey } from '../native/index.js';
import { pkiRoutes } from '../pki/api-routes.js';
import { PkiRegistry } from '../pki/registry.js';
import { pkiMetricsRegistry } from '../pki/metrics.js';
import { serverCertFiles } from './tls-reload.js';
import { EMPTY_TRUST } from '../common/x509.js';
import type { TrustSnapshot } from '../common/x509.js';
import { DEV_ADMIN_CERT_FILE } from '../pki/admin-cert.js';
import { auditAdmissionGate, kmipAuditHook } from './audit-gate.js';
import { governanceGate } from './governance-gate.js';
import type { ListenAddress, LoadedConfig } from '../config/index.js';
import { governanceSettings } from '../config/governance.js';
import type { KmipGate } from './gates.js';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';
import type { KmipAuditEvent } from './processor.js';

/** NOTIFY channel of policy changes: payload = JSON {tenant}; every node re-loads that tenant's policies. */
export const POLICY_CHANNEL = 'openkcm_policy';
/** Governance principal of tenants registered on first use (audit trail). */
export const AUTO_REGISTER_PRINCIPAL = 'system:kmip-first-use';
/** Purpose of the MasterKey-derived audit HMAC key (src/krypton/master-key.ts deriveKey). */
export const AUDIT_HMAC_PURPOSE = 'audit-hmac';

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
        extraRoutes: pkiRoutes({ registry: pki, ensureTenant: async (tenant) => { await ensureRegistered(tenant); return states.get(tenant) ?? null; } }),
        ...(settings.fourEyes === undefined ? {} : { fourEyes: settings.fourEyes }),
        logger: log,
      }, settings.adminApi.listen);
      if (isClosed()) {
        const late = api;
        api = undefined;
        await late.close();
        return;
      }
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
