/**
 * Composition root of the KMIP server role: configuration → MasterKey and key hierarchy → storage →
 * operation services → operation registry → gates → listener. `openkcm serve`, `npm start` and the
 * in-process test server (test/helpers/server.ts) all start the server through {@link startKmipApp},
 * so they run the same wiring.
 *
 * Key hierarchy (ARCHITECTURE §2, issue 4): the vault seals each tenant's material under the tenant's L3
 * (krypton, src/appliance/hierarchy.ts). The embedded default — a development MasterKey file and the `local`
 * L1 plugin — needs no configuration, so the quick start works on a fresh clone. A vault written before the
 * hierarchy (under the development KEK file) is migrated: its envelopes open under the old key, are
 * re-sealed under L3 lazily on access and by a background job at start, and the server logs when the old
 * key file is no longer needed (docs/vault.md "Migrating a development vault").
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { AuditBackpressure } from './governance/audit-backpressure.js';
import { initNative } from '../native/index.js';
import { VaultObjectStore } from '../operations/model/vault-store.js';
import { operationsConfig } from './operations-config.js';
import { nativeSettings, vaultSettings } from '../config/index.js';
import type { VaultSettings } from '../config/index.js';
import { createServices } from '../operations/services.js';
import type { OperationServices } from '../operations/services.js';
import type { OperationHandler } from '../operations/types.js';
import type { RewrapOptions, RewrapProgress } from '../vault/base-vault.js';
import { NativeKekProvider } from '../vault/kek.js';
import type { KekProvider } from '../vault/kek.js';
import { Vault } from '../vault/vault.js';
import type { ListenAddress, LoadedConfig } from '../config/index.js';
import { composeGates, sealedGate, tenantStateGate } from '../server/gates.js';
import { startGovernancePlane } from './governance/plane.js';
import type { GovernancePlane } from './governance/plane.js';
import type { KmipAuditEvent } from '../server/processor.js';
import type { KmipGate } from '../server/gates.js';
import { Hierarchy } from './hierarchy.js';
import { keystoresSettings } from '../config/index.js';
import { KmipServer } from '../server/listener.js';
import { KmipHttpsServer } from '../server/https-listener.js';
import { ClientTrust } from '../server/trust.js';
import { serverCertFiles, watchServerCert } from '../server/tls-reload.js';
import { RewrapJobs } from '../server/rewrap-jobs.js';
import type { TlsReloader } from '../server/tls-reload.js';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';

export { logOperations } from './operations-config.js';

export interface KmipAppOptions<S> {
  /** Replace the operation registry (tests with a tiny local handler table). */
  readonly getHandler?: (operation: number) => OperationHandler<unknown, unknown, S> | undefined;
  /** Replace the services (tests). When given, nothing is opened or closed for storage. */
  readonly services?: S;
}

/** The running key hierarchy of an app (absent with `vault.kek: "dev"` or injected services). */
export interface AppHierarchy {
  readonly hierarchy: Hierarchy;
  readonly vault: Vault;
  /** The re-wrap job for one tenant (after a rotation of its L3): see BaseVault.rewrapTenant. */
  rewrapTenant(tenant: string, options?: RewrapOptions): Promise<RewrapProgress>;
  /** The start-up migration of legacy (development KEK) envelopes; resolves when done or stopped. */
  readonly migration: Promise<void>;
}

export interface KmipApp<S = OperationServices> {
  readonly server: KmipServer<S>;
  readonly address: ListenAddress;
  /** KMIP over HTTPS (kmip.https.listen), when configured: the same deps as `server` (issue 20). */
  readonly https: KmipHttpsServer<S> | undefined;
  readonly httpsAddress: ListenAddress | undefined;
  readonly hierarchy: AppHierarchy | undefined;
  /** The governance plane (admin API address, repository, audit flush); undefined for injected services. */
  readonly governance: GovernancePlane | undefined;
  /** Watches the server certificate files (issue 18 item 5); `check()` looks now. */
  readonly tlsReloader: TlsReloader;
  /** Graceful: drain the listener, then close storage. */
  close(): Promise<void>;
}

/** Opens storage, builds services, binds the listener. */
export async function startKmipApp<S = OperationServices>(loaded: LoadedConfig, logger: Logger, opts: KmipAppOptions<S> = {}): Promise<KmipApp<S>> {
  // Issue 3 §2: a memory-lock problem fails the start, not the first Encrypt. MLOCK_FAILED's
  // message names RLIMIT_MEMLOCK and the fixes (LimitMEMLOCK, CAP_IPC_LOCK, native.allowUnlocked).
  const native = initNative(nativeSettings(loaded.native));
  logger.info('native key slots ready', { locked: native.locked, arenaBytes: native.arenaBytes, slots: native.smallSlots + native.largeSlots, openssl: native.opensslVersion });
  let services: S;
  let now: (() => Date) | undefined;
  let closeStorage: () => Promise<void> = () => Promise.resolve();
  let hierarchy: AppHierarchy | undefined;
  let authorize: KmipGate | undefined;
  let audit: ((event: KmipAuditEvent) => void) | undefined;
  let governance: GovernancePlane | undefined;
  if (opts.services !== undefined) {
    services = opts.services;
  } else {
    const built = await openServices(loaded, logger);
    services = built.services as S;
    // One clock for ctx.now and the handlers' services.
    now = built.services.clock;
    closeStorage = built.close;
    hierarchy = built.hierarchy;
    authorize = built.authorize;
    audit = built.audit;
    governance = built.governance;
  }
  // Loaded only when needed, so tests with their own handler table do not load every operation.
  const getHandler = opts.getHandler
    ?? ((await import('../operations/registry.js')).getHandler as (op: number) => OperationHandler<unknown, unknown, S> | undefined);
  // Issue 18: revocations and the run-time identity map from the governance plane; enterprise anchors' CRLs.
  const trust = new ClientTrust({ identity: loaded.server.identity, anchors: loaded.server.trust ?? [], logger });
  const plane = governance;
  if (plane !== undefined) trust.update(plane.trust());
  // The audit trail's back-pressure (./governance/audit-backpressure.ts) holds a slow tenant's connections.
  const held: { backpressure?: AuditBackpressure } = {};
  const unfollow = plane?.onChange((c) => {
    if (c.t === 'trust') trust.update(c.trust);
    else if (c.t === 'backlog') held.backpressure?.update(c.slow ?? []);
  });
  await trust.start();
  const deps = {
    getHandler, services, logger, maxBatchItems: loaded.server.limits.maxBatchItems,
    ...(now === undefined ? {} : { now }), ...(authorize === undefined ? {} : { authorize }), ...(audit === undefined ? {} : { audit }),
  };
  const server = new KmipServer<S>({ config: loaded.server, trust, deps });
  const backpressure = new AuditBackpressure((tenant, on) => { server.holdTenant(tenant, on); }, { maxHoldMs: plane?.auditHoldMaxMs ?? 0 });
  held.backpressure = backpressure;
  if (plane !== undefined) backpressure.update(plane.auditSlow());
  // Issue 20: KMIP over HTTPS, when configured, is a second transport over the same processor deps.
  const https = loaded.server.https === undefined ? undefined : new KmipHttpsServer<S>({ config: loaded.server, deps, trust });
  let address: ListenAddress;
  let httpsAddress: ListenAddress | undefined;
  try {
    address = await server.listen();
    httpsAddress = await https?.listen();
  } catch (e) {
    backpressure.close();
    await Promise.all([server.close(), https?.close()]);
    unfollow?.();
    trust.stop();
    await closeStorage();
    throw e;
  }
  // Issue 18 item 5: a replaced server certificate is served without a restart.
  const reloader = watchServerCert({
    files: serverCertFiles(loaded.dataDir, loaded.file.kmip?.tls), logger,
    ...(loaded.file.kmip?.tls?.reloadIntervalMs === undefined ? {} : { intervalMs: loaded.file.kmip.tls.reloadIntervalMs }),
    apply: (cert, key) => { server.reloadTls(cert, key); https?.reloadTls(cert, key); },
  });
  return {
    server,
    address,
    https,
    httpsAddress,
    hierarchy,
    governance,
    tlsReloader: reloader,
    async close(): Promise<void> {
      reloader.stop();
      backpressure.close();
      await Promise.all([server.close(), https?.close()]);
      unfollow?.();
      trust.stop();
      await closeStorage();
    },
  };
}

interface BuiltServices {
  readonly services: OperationServices;
  readonly close: () => Promise<void>;
  readonly hierarchy?: AppHierarchy;
  readonly authorize?: KmipGate | undefined;
  readonly audit?: (event: KmipAuditEvent) => void;
  readonly governance?: GovernancePlane;
}

/** The production services: the LMDB vault of the data directory, sealed under the key hierarchy (or the dev KEK). */
async function openServices(loaded: LoadedConfig, logger: Logger): Promise<BuiltServices> {
  const settings = vaultSettings(loaded.vault);
  return settings.kek === 'dev' ? openDevServices(loaded, settings, logger) : openHierarchyServices(loaded, logger);
}

function vaultOptions(loaded: LoadedConfig, settings: VaultSettings): { path: string; mapSize?: number; decodedCacheBytes?: number } {
  return {
    path: path.resolve(loaded.dataDir, settings.path), ...(settings.mapSize === undefined ? {} : { mapSize: settings.mapSize }),
    ...(settings.decodedCacheBytes === undefined ? {} : { decodedCacheBytes: settings.decodedCacheBytes }),
  };
}

/** The vault under the development KEK file (vault.kek "dev"), for the in-process server and the owner process. */
async function openDevVault(loaded: LoadedConfig, settings: VaultSettings, logger: Logger): Promise<{ vault: Vault; kek: NativeKekProvider }> {
  // Issue 3 §5: the envelope seals and opens through the addon; the KEK lives in a locked slot.
  const kek = NativeKekProvider.openDevKeyFile(path.resolve(loaded.dataDir, settings.kekFile));
  let vault: Vault;
  try {
    vault = await Vault.open({ ...vaultOptions(loaded, settings), kek, logger });
  } catch (e) {
    kek.destroy();
    throw e;
  }
  logger.warn('DEVELOPMENT ONLY: vault.kek is "dev": every tenant\'s material is sealed under one key file', { path: vault.path, objects: vault.count() });
  return { vault, kek };
}

/** The wiring before the hierarchy: one development KEK for every tenant (vault.kek "dev"). */
async function openDevServices(loaded: LoadedConfig, settings: VaultSettings, logger: Logger): Promise<BuiltServices> {
  const { vault, kek } = await openDevVault(loaded, settings, logger);
  const services = createServices({ store: new VaultObjectStore(vault), config: operationsConfig(loaded.server.limits, logger, loaded.file.compat) });
  return {
    services,
    close: async () => {
      // Zeroise the cached DEK slots before the vault goes.
      services.keyCache.clear();
      await vault.close();
      kek.destroy();
    },
  };
}

/** Resolves once the MasterKey is unsealed (at once when it is), or when `signal` aborts. */
function whenUnsealed(hierarchy: Hierarchy, signal: AbortSignal): Promise<void> {
  if (!hierarchy.masterKey.status().sealed || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      hierarchy.masterKey.off('unsealed', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    hierarchy.masterKey.on('unsealed', done);
    signal.addEventListener('abort', done);
  });
}

/**
 * The start-up migration (issue 4 §5): every tenant that still has envelopes under the development KEK is re-sealed
 * under its L3 by the background job, one tenant after another, once the node is unsealed. Never throws.
 */
async function migrateLegacy(vault: Vault, hierarchy: Hierarchy, legacy: KekProvider, logger: Logger, signal: AbortSignal, jobs: RewrapJobs): Promise<void> {
  await whenUnsealed(hierarchy, signal);
  for (const tenant of vault.tenants()) {
    if (signal.aborted) return;
    const count = vault.envelopeKeyIds(tenant).get(legacy.id) ?? 0;
    if (count === 0) continue;
    logger.info('migrating a tenant from the development KEK to its L3', { tenant, envelopes: count });
    try {
      // A tracked job: its progress shows in `openkcm keys rewrap-status` (issue 17 item 8).
      const p = await jobs.run(tenant);
      logger.info('tenant migration finished', { tenant, ...p });
    } catch (e) {
      logger.warn('tenant migration failed; it is retried at the next start', { tenant, ...describeError(e) });
    }
  }
  if (signal.aborted) return;
  const left = vault.tenants().reduce((n, t) => n + (vault.envelopeKeyIds(t).get(legacy.id) ?? 0), 0);
  if (left === 0) logger.info('migration complete: the development KEK file is no longer needed and can be removed', { keyId: legacy.id });
  else logger.warn('migration incomplete: envelopes still need the development KEK file', { keyId: legacy.id, envelopes: left });
}

/**
 * What exactly one process owns (issue 14 Deliver 6): the MasterKey and krypton (key hierarchy), the vault handle
 * the start-up migration and the re-wrap jobs use, the governance plane (database, audit chains, admin API,
 * kill-switch listener, L1 health checks) and the migration of a development-KEK vault. The single-process server
 * builds its KMIP services on top of these; with `serve --workers N` the primary process holds them and the workers
 * serve KMIP (src/appliance/primary.ts).
 */
export interface OwnerPlanes {
  /** Absent with `vault.kek: "dev"`: one development KEK, no hierarchy, no governance plane. */
  readonly hierarchy: Hierarchy | undefined;
  readonly vault: Vault;
  readonly governance: GovernancePlane | undefined;
  /** The development KEK file's provider: the vault's KEK with `vault.kek: "dev"`, else a legacy key being migrated. */
  readonly devKek: NativeKekProvider | undefined;
  /** The start-up migration of legacy (development KEK) envelopes; resolves when done or stopped. */
  readonly migration: Promise<void>;
  /** Tenants with objects in the vault or known to krypton on this node. */
  knownTenants(): string[];
  /** Stops the migration, then closes the governance plane, the vault and the hierarchy (in that order). */
  close(): Promise<void>;
}

/** `servesKmip` false: the primary of `serve --workers N`, whose workers answer every KMIP request (GovernancePlaneOptions). */
export async function openOwnerPlanes(loaded: LoadedConfig, logger: Logger, opts: { readonly servesKmip?: boolean } = {}): Promise<OwnerPlanes> {
  initNative(nativeSettings(loaded.native));
  const settings = vaultSettings(loaded.vault);
  if (settings.kek === 'dev') {
    const { vault, kek } = await openDevVault(loaded, settings, logger);
    return {
      hierarchy: undefined, vault, governance: undefined, devKek: kek, migration: Promise.resolve(),
      knownTenants: () => vault.tenants(),
      close: async () => {
        await vault.close();
        kek.destroy();
      },
    };
  }
  const keystores = keystoresSettings(loaded.keystores);
  // A development KEK file left by the wiring before the hierarchy: opened (never created) to read old envelopes.
  const devFile = path.resolve(loaded.dataDir, settings.kekFile);
  const legacy = existsSync(devFile) ? NativeKekProvider.openDevKeyFile(devFile) : undefined;
  let hierarchy: Hierarchy;
  try {
    hierarchy = await Hierarchy.open({ dataDir: loaded.dataDir, seal: loaded.seal, keystores, logger, sealBlock: settings.sealReservationBlock, ...(legacy === undefined ? {} : { legacy: [legacy] }) });
  } catch (e) {
    legacy?.destroy();
    throw e;
  }
  let vault: Vault;
  try {
    vault = await Vault.open({ ...vaultOptions(loaded, settings), kek: hierarchy.resolver, logger });
  } catch (e) {
    await hierarchy.close();
    legacy?.destroy();
    throw e;
  }
  logger.info('vault opened', { path: vault.path, objects: vault.count(), legacyKek: legacy?.id });
  // The governance plane (issue 5): Cedar on every operation, the audit trail, the admin API, the kill-switch
  // listener and the L1 health checks. It reaches krypton and keystores only through these handles.
  // Issue 17 item 8: re-wrap jobs (the migration below, and those started through the admin API) report progress.
  const rewrap = new RewrapJobs((tenant, options) => vault.rewrapTenant(tenant, options), logger);
  let governance: GovernancePlane;
  try {
    governance = await startGovernancePlane({
      loaded, logger, krypton: hierarchy.krypton, masterKey: hierarchy.masterKey,
      keystoreFor: hierarchy.keystores.keystoreFor, tenantsOf: () => vault.tenants(),
      bindL1: (tenant, shadow) => hierarchy.bindL1(tenant, shadow), rewrap,
      ...(opts.servesKmip === undefined ? {} : { servesKmip: opts.servesKmip }),
    });
    // Issue 16 item 2: the L1 registered through the admin API decides where a tenant's keys live.
    const plane = governance;
    if (plane.enabled) hierarchy.setRegisteredShadows((tenant) => plane.registeredShadow(tenant));
  } catch (e) {
    await vault.close();
    await hierarchy.close();
    legacy?.destroy();
    throw e;
  }
  // `openkcm audit verify|export` on this live node goes through the operator socket (issue 16 item 5).
  const chains = governance.governance?.audit;
  if (chains !== undefined) {
    hierarchy.operatorApi?.attachAudit({
      verify: (tenant) => chains.verify(tenant),
      exportLines: (tenant) => chains.exportLines(tenant),
    });
  }
  // Keystore reloads (issue 16 item 4), done or refused, in the global chain: who, which connections, the outcome.
  const audit = governance.governance?.audit;
  const unReload = audit === undefined ? undefined : hierarchy.onKeystoresReload((r) =>
    // Returned: the reload answers after its record is durable.
    audit.appendSync({ principal: r.by, operation: 'keystores.reload', object: r.added.join(',') || '-', result: r.result }, { global: true })
      .then(() => undefined, (e: unknown) => { logger.error('audit: a keystore reload could not be recorded', describeError(e)); }));
  const stop = new AbortController();
  const migration = legacy === undefined ? Promise.resolve() : migrateLegacy(vault, hierarchy, legacy, logger, stop.signal, rewrap);
  return {
    hierarchy, vault, governance, devKek: legacy, migration,
    knownTenants: () => [...new Set([...vault.tenants(), ...hierarchy.krypton.tenants()])],
    close: async () => {
      stop.abort();
      unReload?.();
      await migration;
      await rewrap.stop();
      // Before the hierarchy: closing it seals the MasterKey, and the last audit flush needs its HMAC key.
      await governance.close();
      await vault.close();
      await hierarchy.close();
      legacy?.destroy();
    },
  };
}

async function openHierarchyServices(loaded: LoadedConfig, logger: Logger): Promise<BuiltServices> {
  const planes = await openOwnerPlanes(loaded, logger);
  const { hierarchy, vault, governance } = planes;
  if (hierarchy === undefined || governance === undefined) throw new Error('unreachable: openOwnerPlanes without a hierarchy');
  const services = createServices({
    store: new VaultObjectStore(vault),
    config: operationsConfig(loaded.server.limits, logger, loaded.file.compat),
    ...(governance.authorizeObject === undefined ? {} : { authorizeObject: governance.authorizeObject }),
  });
  // The kill-switch reaches the DEK cache: a revoked tenant's keys are zeroised here too (ARCHITECTURE §5).
  const onRevoked = (tenant: string): void => {
    const n = services.keyCache.evictTenant(tenant);
    logger.info('kill-switch: cached keys of the tenant zeroised', { tenant, keys: n });
  };
  hierarchy.krypton.on('revoked', onRevoked);
  // A dropped L3 version or an offboarding shreds what was sealed under it: DEKs opened from it must go too.
  const onChanged = (tenant: string): void => { services.keyCache.evictTenant(tenant); };
  hierarchy.krypton.on('changed', onChanged);
  // Sealing the node zeroises the DEK cache too (krypton's slots: src/appliance/hierarchy.ts); nothing is persisted.
  const onSealed = (): void => {
    services.keyCache.clear();
  };
  hierarchy.masterKey.on('sealed', onSealed);
  const authorize = composeGates(
    sealedGate(() => hierarchy.masterKey.sealed),
    tenantStateGate((tenant) => hierarchy.isRevoked(tenant)),
    governance.authorize,
  );
  return {
    services,
    authorize,
    ...(governance.audit === undefined ? {} : { audit: governance.audit }),
    governance,
    hierarchy: {
      hierarchy,
      vault,
      rewrapTenant: (tenant, options) => vault.rewrapTenant(tenant, options),
      migration: planes.migration,
    },
    close: async () => {
      hierarchy.krypton.off('revoked', onRevoked);
      hierarchy.krypton.off('changed', onChanged);
      hierarchy.masterKey.off('sealed', onSealed);
      services.keyCache.clear();
      await planes.close();
    },
  };
}
