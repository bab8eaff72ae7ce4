/**
 * The governance plane inside `openkcm serve` (ARCHITECTURE §1 "cmk" role, §5 kill-switch, §6; issue 5): one call,
 * {@link startGovernancePlane}, from the composition root (src/appliance/kmip-app.ts) turns on
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
 *
 * The start, step by step (each undone in reverse by ./cleanups.ts on close or on a failed start): settings
 * (src/config/governance.ts) → database (./database.ts) → audit key and repository (./repository.ts) → tenant states
 * and policies (./tenant-states.ts) → certificate registry → NOTIFY listeners and the revocation listener → KMIP hooks
 * → after the unseal: start-up tenants, L1 health checks and the admin API (./admin-api.ts).
 */
import path from 'node:path';
import type { RunningAdminApi } from '../../cmk/api/server.js';
import { PolicyEngine } from '../../cmk/authz/engine.js';
import { DEFAULT_CLIENT_ROLES, kmipAuthorizer, parseIdentityRoles, rolesFromConfig } from '../../cmk/authz/kmip.js';
import { isTenantId, TENANT_ID_PATTERN } from '../../cmk/db.js';
import type { Db } from '../../cmk/db.js';
import { L1_SHADOW_NAME } from '../../cmk/api/governance-port.js';
import { isGovernanceError } from '../../cmk/errors.js';
import type { Governance } from '../../cmk/repository/index.js';
import { describeError } from '../../common/log.js';
import type { Logger } from '../../common/log.js';
import { governanceSettings } from '../../config/governance.js';
import type { GovernanceSettings, ListenAddress } from '../../config/index.js';
import type { Krypton } from '../../krypton/krypton.js';
import { L1_HEALTH_PRINCIPAL, startL1HealthChecks } from '../../krypton/l1-health.js';
import type { L1HealthChecker } from '../../krypton/l1-health.js';
import { startRevocationListener } from '../../krypton/revocation-listener.js';
import { PkiRegistry } from '../../pki/registry.js';
import { logAdminApiReady, watchAdminCert, startPlaneAdminApi } from './admin-api.js';
import { auditAdmissionGate, kmipAuditHook } from './audit-gate.js';
import { Cleanups } from './cleanups.js';
import { openGovernanceDb } from './database.js';
import { governanceGate } from './gate.js';
import { AuditKey, openRepository } from './repository.js';
import { TenantStates } from './tenant-states.js';
import { DISABLED_PLANE, POLICY_CHANNEL } from './types.js';
import type { GovernancePlane, GovernancePlaneOptions } from './types.js';

export { AUDIT_HMAC_PURPOSE, AUTO_REGISTER_PRINCIPAL, POLICY_CHANNEL } from './types.js';
export type { GovernanceChange, GovernancePlane, GovernancePlaneOptions } from './types.js';

/** Starts the governance plane (see the module comment). Throws ConfigError for a bad `governance` section. */
export async function startGovernancePlane(opts: GovernancePlaneOptions): Promise<GovernancePlane> {
  const { loaded, logger: log } = opts;
  const settings = await governanceSettings(loaded);
  if (!settings.enabled) {
    log.warn('governance plane disabled (governance.enabled false): no Cedar, no audit trail, no admin API');
    return DISABLED_PLANE;
  }
  const roleConfig = parseIdentityRoles(loaded.file.identity);
  const cleanups = new Cleanups(log);
  let resync: () => void = () => undefined;
  const db = await openGovernanceDb(settings, loaded.dataDir, log, cleanups, () => { resync(); });
  try {
    return await assemble(opts, settings, roleConfig, db, cleanups, (fn) => { resync = fn; });
  } catch (e) {
    await cleanups.closeAll();
    throw e;
  }
}

/** Everything on top of the open database; `setResync` receives what a reconnected LISTEN connection runs. */
async function assemble(opts: GovernancePlaneOptions, settings: GovernanceSettings, roleConfig: ReturnType<typeof parseIdentityRoles>, db: Db, cleanups: Cleanups, setResync: (fn: () => void) => void): Promise<GovernancePlane> {
  const { loaded, logger: log, krypton, masterKey } = opts;
  // Every distinct role set a client can have: what the Cedar warm-up computes decisions for (issue 14).
  const roleSets = new Map<string, readonly string[]>();
  for (const set of [...Object.values(roleConfig.roles), roleConfig.defaultRoles ?? DEFAULT_CLIENT_ROLES]) roleSets.set(JSON.stringify(set), set);

  // ---- audit key (sealed node: derived at unseal), policy engine, repository ---------------------------------
  const auditKey = new AuditKey(masterKey);
  cleanups.pushSync(() => { auditKey.drop(); });
  auditKey.derive();
  const engine = new PolicyEngine();
  cleanups.pushSync(() => { engine.close(); });
  /** The change fan-out, once it exists (the repository opens first). */
  const fanOut: { states?: TenantStates } = {};
  const governance: Governance = await openRepository({
    db, settings, krypton, masterKey, engine, auditKey, log, cleanups,
    // KMIP worker processes mirror the backlog (src/appliance): once the change fan-out exists.
    onBacklogChange: () => { fanOut.states?.changed({ t: 'backlog', backlog: governance.auditSink.backlog(), slow: governance.auditSink.slowTenants() }); },
  });

  // ---- tenant states and policies; certificate registry (issue 18) -------------------------------------------
  // No role sets, no warm-up: a primary that serves no KMIP client never uses those decisions (servesKmip).
  const warmRoleSets = opts.servesKmip === false ? [] : [...roleSets.values()];
  const states = new TenantStates({ governance, engine, autoRegister: settings.autoRegisterTenants, roleSets: warmRoleSets, log });
  fanOut.states = states;
  // Revocations and identity mappings reach every KMIP listener.
  const pki = await PkiRegistry.open({ db, audit: governance.audit, pkiDir: path.join(loaded.dataDir, 'pki'), logger: log, maxCsrBytes: settings.maxCsrBytes });
  cleanups.push(() => pki.close());
  pki.onChange(() => { states.changed({ t: 'trust', trust: pki.snapshot() }); });
  await states.resyncAll();
  const startTenants = new Set<string>([...Object.values(loaded.server.identity.tenants), ...(opts.tenantsOf?.() ?? [])]);
  await states.listen(db, cleanups);

  // ---- kill-switch: NOTIFY → krypton ------------------------------------------------------------------------
  const listener = await startRevocationListener({
    db,
    krypton,
    tenantStates: () => governance.listTenants({ includeTerminated: true }),
    logger: log,
  });
  cleanups.push(() => listener.stop());
  setResync(() => {
    states.resyncAll().then(() => listener.reconcile()).catch((e: unknown) => { log.error('governance resync failed', describeError(e)); });
  });
  const notifyPolicies = async (tenant: string): Promise<void> => {
    await states.refreshPolicies(tenant);
    await db.notify(POLICY_CHANNEL, JSON.stringify({ tenant }));
  };

  // ---- KMIP hooks -------------------------------------------------------------------------------------------
  const authz = kmipAuthorizer(engine, {
    rolesOf: rolesFromConfig(roleConfig),
    onDeny: (e) => { log.info('KMIP request denied by policy', { tenant: e.tenant, identity: e.identity, action: e.action, ...(e.uid === undefined ? {} : { uid: e.uid }) }); },
  });
  // Issue 15 item 4: a tenant whose audit queue is full gets AUDIT_BACKLOGGED for what must be audited.
  const authorize = governanceGate({
    stateOf: (tenant) => states.states.get(tenant),
    register: (tenant) => states.ensureRegistered(tenant),
    authz,
    admitAudit: auditAdmissionGate(governance.auditSink),
    logger: log,
  });

  const keyed = await startWhenUnsealed({ opts, settings, governance, engine, states, pki, auditKey, startTenants, notifyPolicies, cleanups });

  return {
    enabled: true,
    authorize,
    authorizeObject: authz.authorizeObject,
    audit: kmipAuditHook(governance.auditSink),
    governance,
    db,
    engine,
    adminApiAddress: () => keyed.adminApiAddress(),
    started: keyed.started,
    policiesChanged: notifyPolicies,
    flushAudit: () => governance.auditSink.flush(),
    close: () => cleanups.closeAll(),
    tenantStates: () => [...states.states],
    tenantPolicies: () => [...states.states.keys()].flatMap((t) => {
      const text = engine.tenantPolicies(t);
      return text === undefined ? [] : [[t, text] as [string, string]];
    }),
    auditBacklog: () => governance.auditSink.backlog(),
    auditSlow: () => governance.auditSink.slowTenants(),
    auditHoldMaxMs: settings.auditHoldMaxMs,
    auditPending: () => governance.auditSink.pending,
    auditQuota: Math.min(settings.auditQueueMax, settings.auditTenantQueueMax),
    yieldNice: settings.yieldNice,
    recordAudit: (batches) => { for (const b of batches) governance.auditSink.recordMany(b.tenant, b.entries); },
    onChange: (l) => states.onChange(l),
    register: async (tenant) => {
      await states.ensureRegistered(tenant);
      return states.states.get(tenant) ?? null;
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
}

interface UnsealedStep {
  readonly opts: GovernancePlaneOptions;
  readonly settings: GovernanceSettings;
  readonly governance: Governance;
  readonly engine: PolicyEngine;
  readonly states: TenantStates;
  readonly pki: PkiRegistry;
  readonly auditKey: AuditKey;
  readonly startTenants: ReadonlySet<string>;
  readonly notifyPolicies: (tenant: string) => Promise<void>;
  readonly cleanups: Cleanups;
}

/**
 * What needs the MasterKey: the audit key follows seal and unseal; start-up tenants (registration writes audit
 * records), the L1 health checks and the admin API start at once on an unsealed node, at the unseal on a sealed one.
 */
async function startWhenUnsealed(step: UnsealedStep): Promise<{ readonly started: Promise<void>; adminApiAddress(): ListenAddress | undefined }> {
  const { opts, settings, governance, states, auditKey, cleanups } = step;
  const { loaded, logger: log, krypton, masterKey } = opts;
  let api: RunningAdminApi | undefined;
  let health: L1HealthChecker | undefined;
  let closed = false;
  /** Read through a function: `closed` changes while startKeyed awaits. */
  const isClosed = (): boolean => closed;
  const startKeyed = async (): Promise<void> => {
    await registerStartTenants(step.startTenants, states, log);
    if (isClosed()) return;
    health = startHealthChecks(krypton, governance, settings, log);
    const adminApi = settings.adminApi;
    if (adminApi === undefined) return;
    api = await startPlaneAdminApi({
      loaded, settings: { ...settings, adminApi }, governance, engine: step.engine, tenants: states, krypton, masterKey, pki: step.pki,
      notifyPolicies: step.notifyPolicies, keystoreFor: opts.keystoreFor, bindL1: opts.bindL1, rewrap: opts.rewrap, log,
    });
    if (isClosed()) {
      const late = api;
      api = undefined;
      await late.close();
      return;
    }
    cleanups.pushSync(watchAdminCert(api, loaded, adminApi, log));
    logAdminApiReady(api, loaded.dataDir, log);
  };
  let keyed: Promise<void> | undefined;
  const onUnsealed = (): void => {
    auditKey.derive();
    auditKey.sealedNoticeShown = false;
    // Records queued while sealed are written now rather than at the next tick.
    governance.auditSink.flush().catch(() => undefined);
  };
  const onSealed = (): void => {
    auditKey.drop();
  };
  masterKey.on('unsealed', onUnsealed);
  masterKey.on('sealed', onSealed);
  cleanups.pushSync(() => {
    masterKey.off('unsealed', onUnsealed);
    masterKey.off('sealed', onSealed);
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
  return { started: keyed.catch(() => undefined), adminApiAddress: () => api?.address };
}

/** The config's identity tenants and the node's KMIP tenants, registered in governance (or refused by name). */
async function registerStartTenants(startTenants: ReadonlySet<string>, states: TenantStates, log: Logger): Promise<void> {
  for (const t of startTenants) {
    if (states.states.has(t)) continue;
    if (!isTenantId(t)) {
      log.warn('tenant name cannot be governed: its KMIP requests are refused', { tenant: t, pattern: TENANT_ID_PATTERN.source });
      continue;
    }
    await states.ensureRegistered(t);
  }
}

function startHealthChecks(krypton: Krypton, governance: Governance, settings: GovernanceSettings, log: Logger): L1HealthChecker {
  return startL1HealthChecks({
    krypton,
    // Every active governance tenant, not only those activated on this node since the start (issue 16 item 2): an
    // L1 deleted at the source while the node was down takes its tenant dark at the first round, before any
    // client asks. A tenant without keys yet is skipped by checkL1 (UNKNOWN_TENANT).
    activeTenants: async () => (await governance.listTenants()).filter((t) => t.state === 'active').map((t) => t.id),
    revokeInGovernance: async (tenant, reason) => { await governance.revokeTenant(tenant, L1_HEALTH_PRINCIPAL, reason); },
    intervalMs: settings.l1HealthIntervalMs,
    logger: log,
  });
}
