/**
 * Step 5 of the governance plane, once the node is unsealed: the admin REST API (src/cmk/api) over this node's
 * repository, policy engine, krypton (kill-switch, rotation, L1 replacement), node secrets and certificate registry.
 */
import path from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { L1_SHADOW_NAME } from '../../cmk/api/governance-port.js';
import { auditMetricsRegistry } from '../../cmk/api/metrics.js';
import { policyEngineAdapter } from '../../cmk/api/policy-engine.js';
import type { BindL1 } from '../../cmk/api/ports.js';
import { startAdminApi } from '../../cmk/api/server.js';
import type { RunningAdminApi } from '../../cmk/api/server.js';
import type { PolicyEngine } from '../../cmk/authz/engine.js';
import type { Governance } from '../../cmk/repository/index.js';
import { recordL1Replacement } from '../../cmk/shadow-replace.js';
import type { Logger } from '../../common/log.js';
import type { AdminApiSettings, GovernanceSettings, LoadedConfig } from '../../config/index.js';
import { KmipError } from '../../kmip/errors.js';
import type { KeystorePlugin, ShadowReference } from '../../keystore/types.js';
import type { Krypton } from '../../krypton/krypton.js';
import { probeL1 } from '../../krypton/l1-health.js';
import type { MasterKey } from '../../krypton/master-key.js';
import { GOVERNANCE_REVOKE_REASON } from '../../krypton/revocation-listener.js';
import { DEV_ADMIN_CERT_FILE } from '../../pki/admin-cert.js';
import { pkiRoutes } from '../../pki/api-routes.js';
import { pkiMetricsRegistry } from '../../pki/metrics.js';
import type { PkiRegistry } from '../../pki/registry.js';
import { adminCertFiles, serverCertFiles, swapSecureContext, watchServerCert } from '../../server/tls-reload.js';
import { rewrapRoutes } from '../../cmk/api/rewrap-routes.js';
import { rewrapPort } from '../../server/rewrap-jobs.js';
import type { RewrapJobs } from '../../server/rewrap-jobs.js';
import { isRecord } from '../../common/guards.js';
import { ignoreUnknown } from './repository.js';
import type { TenantStates } from './tenant-states.js';

export interface AdminApiStep {
  readonly loaded: LoadedConfig;
  readonly settings: GovernanceSettings & { readonly adminApi: AdminApiSettings };
  readonly governance: Governance;
  readonly engine: PolicyEngine;
  readonly tenants: TenantStates;
  readonly krypton: Krypton;
  readonly masterKey: MasterKey;
  readonly pki: PkiRegistry;
  readonly notifyPolicies: (tenant: string) => Promise<void>;
  readonly keystoreFor: ((shadow: ShadowReference) => Promise<KeystorePlugin>) | undefined;
  readonly bindL1: BindL1 | undefined;
  readonly rewrap: RewrapJobs | undefined;
  readonly log: Logger;
}

export async function startPlaneAdminApi(step: AdminApiStep): Promise<RunningAdminApi> {
  const { loaded, settings, governance, engine, tenants, krypton, masterKey, pki, keystoreFor, log } = step;
  const api = await startAdminApi({
    governance,
    policyEngine: { ...policyEngineAdapter(engine, governance), policiesChanged: step.notifyPolicies },
    cryptoShred: (tenant) => ignoreUnknown(krypton.offboard(tenant)),
    // This node's krypton at once; other nodes follow the NOTIFY (revocation listener).
    // The API calls these after the state change committed: the gate's view follows at once, too.
    killSwitch: {
      revoke: async (tenant) => {
        tenants.setState(tenant, 'revoked');
        await ignoreUnknown(krypton.revoke(tenant, GOVERNANCE_REVOKE_REASON));
      },
      restore: async (tenant) => {
        await ignoreUnknown(krypton.restore(tenant));
        tenants.setState(tenant, 'active');
      },
    },
    ...(keystoreFor === undefined ? {} : { validateShadow: (shadow: ShadowReference) => probeL1(keystoreFor, shadow) }),
    ...(step.bindL1 === undefined ? {} : { bindL1: step.bindL1 }),
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
      pkiRoutes({ registry: pki, ensureTenant: async (tenant) => { await tenants.ensureRegistered(tenant); return tenants.states.get(tenant) ?? null; } })(r, ctx);
      if (step.rewrap !== undefined) rewrapRoutes(rewrapPort(step.rewrap, governance))(r, ctx);
    },
    ...(settings.fourEyes === undefined ? {} : { fourEyes: settings.fourEyes }),
    logger: log,
  }, settings.adminApi.listen);
  return api;
}

/**
 * Issue 18 item 5: a replaced certificate is served by the admin API without a restart, like the KMIP listener.
 * Returns the watcher's stop.
 */
export function watchAdminCert(api: RunningAdminApi, loaded: LoadedConfig, adminApi: AdminApiSettings, log: Logger): () => void {
  const adminTls = adminApi.tls;
  const reloader = watchServerCert({
    files: adminCertFiles(loaded.dataDir, isRecord(loaded.governance.adminApi) ? loaded.governance.adminApi.tls : undefined, loaded.file.kmip?.tls), logger: log,
    ...(loaded.file.kmip?.tls?.reloadIntervalMs === undefined ? {} : { intervalMs: loaded.file.kmip.tls.reloadIntervalMs }),
    apply: swapSecureContext(api.app.server as unknown as TlsServer, { minVersion: 'TLSv1.2', ...(adminTls.ca === undefined ? {} : { ca: adminTls.ca }) }),
  });
  return () => { reloader.stop(); };
}

/** Logged once the API listens. */
export function logAdminApiReady(api: RunningAdminApi, dataDir: string, log: Logger): void {
  log.info('admin API ready', { host: api.address.host, port: api.address.port, devAdminCert: path.join(dataDir, 'pki', DEV_ADMIN_CERT_FILE) });
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
