/**
 * One KMIP worker process of `openkcm serve --workers N` (issue 14 Deliver 6: every core serving). It runs the
 * whole KMIP request path — TLS listener (the cluster shares one listening address), processor, operations, the
 * LMDB vault (shared by every process, LMDB is multi-process), native key slots, Cedar — and owns nothing else:
 *
 * - tenant L3 keys are leased from the primary (./lease-resolver.ts), which holds the key hierarchy;
 * - the seal, krypton's kill-switch, governance tenant states, policies and the audit backlog are pushed by the
 *   primary and mirrored here, so every refusal happens on this event loop exactly as in a single process;
 * - audit events go to the primary, batched per few milliseconds (./worker-audit.ts): the primary owns every audit
 *   chain and its database, so hashing, HMAC and the INSERTs never run on a KMIP event loop (issue 14 Deliver 4);
 * - a tenant seen for the first time is registered by the primary (governance database).
 *
 * If the primary goes away the worker exits at once: what it acknowledged is already durable (LMDB commits before
 * every answer), and without the primary it could not follow a revocation.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { PolicyEngine } from '../cmk/authz/engine.js';
import { kmipAuthorizer, parseIdentityRoles, rolesFromConfig, warmRequests, DEFAULT_CLIENT_ROLES } from '../cmk/authz/kmip.js';
import { KmipError, isKmipErrorCode } from '../kmip/errors.js';
import { initNative } from '../native/index.js';
import { VaultObjectStore } from '../operations/model/vault-store.js';
import { createServices } from '../operations/services.js';
import { getHandler } from '../operations/registry.js';
import type { OperationHandler } from '../operations/types.js';
import { operationsConfig } from './operations-config.js';
import { nativeSettings } from '../config/native.js';
import { vaultSettings } from '../config/vault.js';
import type { LoadedConfig } from '../config/index.js';
import { composeGates, sealedGate, tenantStateGate } from '../server/gates.js';
import type { KmipGate } from '../server/gates.js';
import { governanceGate } from './governance/gate.js';
import { KmipServer } from '../server/listener.js';
import type { KmipHttpsServer } from '../server/https-listener.js';
import { ClientTrust } from '../server/trust.js';
import { serverCertFiles, watchServerCert } from '../server/tls-reload.js';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { AuditAdmission } from '../cmk/audit/index.js';
import { auditAdmissionGate, kmipAuditHook } from './governance/audit-gate.js';
import { AuditBackpressure } from './governance/audit-backpressure.js';
import { NativeKekProvider, singleKek } from '../vault/kek.js';
import type { KekProvider, KekResolver } from '../vault/kek.js';
import { Vault } from '../vault/vault.js';
import { EnvelopeError } from '../vault/errors.js';
import type { SealBlock } from '../vault/seal-counter.js';
import { asToWorker, KEY_EXHAUSTED_CODE } from './ipc.js';
import type { GovernanceState, Lease, Snapshot, ToPrimary, ToWorker } from './ipc.js';
import { LeaseResolver } from './lease-resolver.js';
import { AuditForwarder } from './worker-audit.js';
import type { LeaseSource } from './lease-resolver.js';
import { deriveTransportKey, ephemeralKeyPair } from './transport-key.js';

/** How long a worker waits for the primary's welcome before it gives up (the primary forks it, so this is slack). */
const WELCOME_TIMEOUT_MS = 60_000;

function send(msg: ToPrimary): void {
  process.send?.(msg);
}

/** Requests to the primary with their answers (lease, blocks of seals, register). */
class PrimaryLink implements LeaseSource {
  #nextId = 1;
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  request(op: 'lease' | 'register', tenant: string): Promise<unknown> {
    return this.#send((id) => ({ t: 'req', id, op, tenant }));
  }

  lease(tenant: string): Promise<Lease> {
    return this.request('lease', tenant) as Promise<Lease>;
  }

  reserveSeals(tenant: string, version: number): Promise<SealBlock> {
    return this.#send((id) => ({ t: 'req', id, op: 'seals', tenant, version })) as Promise<SealBlock>;
  }

  #send(msg: (id: number) => ToPrimary): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      send(msg(id));
    });
  }

  answer(msg: Extract<ToWorker, { t: 'res' }>): void {
    const w = this.#waiting.get(msg.id);
    if (w === undefined) return;
    this.#waiting.delete(msg.id);
    if (msg.ok) w.resolve(msg.value);
    // The limit refusal stays what it is in a single process (the vault's EnvelopeError, General Failure to KMIP).
    else if (msg.code === KEY_EXHAUSTED_CODE) w.reject(new EnvelopeError('KEY_EXHAUSTED', msg.message));
    else w.reject(new KmipError(isKmipErrorCode(msg.code) ? msg.code : 'GENERAL_FAILURE', msg.message));
  }

  failAll(why: string): void {
    for (const w of this.#waiting.values()) w.reject(new KmipError('TENANT_UNAVAILABLE', why));
    this.#waiting.clear();
  }
}

export interface RunningWorker {
  close(): Promise<void>;
}

function waitForWelcome(): Promise<Extract<ToWorker, { t: 'welcome' }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('the primary process sent no welcome')); }, WELCOME_TIMEOUT_MS);
    const on = (raw: unknown): void => {
      const m = asToWorker(raw);
      if (m?.t !== 'welcome') return;
      clearTimeout(timer);
      process.off('message', on);
      resolve(m);
    };
    process.on('message', on);
  });
}

/** Starts the worker: handshake with the primary, vault, services, gates, listener. Reports 'ready' when listening. */
export async function startWorker(loaded: LoadedConfig, logger: Logger, workers: number): Promise<RunningWorker> {
  initNative(nativeSettings(loaded.native));
  const own = ephemeralKeyPair();
  const welcomed = waitForWelcome();
  send({ t: 'hello', workerPublicKey: own.publicKeyDer });
  const welcome = await welcomed;
  const transport = deriveTransportKey(own, welcome.primaryPublicKey, welcome.salt);
  const snapshot: Snapshot = welcome.snapshot;
  const link = new PrimaryLink();

  // ---- keys -------------------------------------------------------------------------------------------------
  const settings = vaultSettings(loaded.vault);
  const devFile = path.resolve(loaded.dataDir, settings.kekFile);
  let devKek: NativeKekProvider | undefined;
  let leases: LeaseResolver | undefined;
  let resolver: KekResolver;
  if (settings.kek === 'dev') {
    devKek = NativeKekProvider.openDevKeyFile(devFile);
    resolver = singleKek(devKek);
  } else {
    const legacy: KekProvider[] = [];
    if (existsSync(devFile)) {
      devKek = NativeKekProvider.openDevKeyFile(devFile);
      legacy.push(devKek);
    }
    leases = new LeaseResolver(link, () => transport, legacy);
    resolver = leases;
  }
  const vault = await Vault.open({ path: path.resolve(loaded.dataDir, settings.path), kek: resolver, logger, ...(settings.mapSize === undefined ? {} : { mapSize: settings.mapSize }),
    ...(settings.decodedCacheBytes === undefined ? {} : { decodedCacheBytes: settings.decodedCacheBytes }) });

  // ---- mirrored state ---------------------------------------------------------------------------------------
  let sealed = snapshot.sealed;
  const dark = new Set(snapshot.dark);
  const states = new Map<string, GovernanceState>(snapshot.states);
  const admission = new AuditAdmission();
  admission.update(snapshot.backlog);
  const sealedError = (): Error => new KmipError('SERVER_SEALED', 'the server is sealed: an operator must unseal it before it serves keys');
  const revokedError = (): Error => new KmipError('TENANT_REVOKED', 'this tenant\'s keys are revoked (kill-switch)');

  let engine: PolicyEngine | undefined;
  let authorizeObject: ReturnType<typeof kmipAuthorizer>['authorizeObject'] | undefined;
  let governance: KmipGate | undefined;
  const audit = snapshot.governance ? new AuditForwarder({ send: (batches) => { send({ t: 'audit', batches }); } }) : undefined;
  const roleConfig = parseIdentityRoles(loaded.file.identity);
  const roleSets = [...Object.values(roleConfig.roles), roleConfig.defaultRoles ?? DEFAULT_CLIENT_ROLES];
  const failClosed = (tenant: string, why: unknown): void => {
    void engine?.refreshTenant(tenant, () => Promise.reject(why instanceof Error ? why : new Error(String(why)))).catch(() => undefined);
  };
  const installPolicies = (tenant: string, text: string | undefined, failed = false): void => {
    if (engine === undefined) return;
    if (failed) {
      failClosed(tenant, new Error('the primary could not load this tenant\'s policies'));
      return;
    }
    try {
      if (text === undefined) engine.removeTenant(tenant);
      else engine.setTenantPolicies(tenant, text);
    } catch (e) {
      // The primary installed the same text: a refusal here means this worker cannot decide for the tenant. Fail
      // closed for it, as the primary does for policies it cannot load.
      failClosed(tenant, e);
      logger.error('worker: policies of a tenant could not be installed; its clients are denied', { tenant, ...describeError(e) });
      return;
    }
    engine.warm(warmRequests(engine, tenant, roleSets)).catch(() => undefined);
  };
  if (snapshot.governance) {
    // Loaded only with governance on: the Cedar wasm module is the largest part of a worker's start-up.
    const { PolicyEngine: Engine } = await import('../cmk/authz/engine.js');
    engine = new Engine();
    for (const [tenant, text] of snapshot.policies) installPolicies(tenant, text);
    for (const tenant of states.keys()) if (!snapshot.policies.some(([t]) => t === tenant)) engine.warm(warmRequests(engine, tenant, roleSets)).catch(() => undefined);
    const authz = kmipAuthorizer(engine, {
      rolesOf: rolesFromConfig(roleConfig),
      onDeny: (e) => { logger.info('KMIP request denied by policy', { tenant: e.tenant, identity: e.identity, action: e.action, ...(e.uid === undefined ? {} : { uid: e.uid }) }); },
    });
    authorizeObject = authz.authorizeObject;
    governance = governanceGate({
      stateOf: (tenant) => states.get(tenant),
      register: async (tenant) => {
        const state = await link.request('register', tenant) as GovernanceState | null;
        if (state !== null) states.set(tenant, state);
      },
      authz,
      admitAudit: auditAdmissionGate(admission),
      logger,
    });
  }

  const services = createServices({
    store: new VaultObjectStore(vault),
    config: operationsConfig(loaded.server.limits, logger, loaded.file.compat),
    ...(authorizeObject === undefined ? {} : { authorizeObject }),
  });

  const authorize = composeGates(sealedGate(() => sealed), tenantStateGate((t) => dark.has(t)), governance);
  const config = perWorker(loaded, workers);
  // Issue 18: revocations and identity mappings from the primary, enterprise CRLs read by this process itself.
  const trust = new ClientTrust({ identity: loaded.server.identity, anchors: loaded.server.trust ?? [], logger });
  trust.update(snapshot.trust);
  await trust.start();
  const deps = {
    getHandler: getHandler as (op: number) => OperationHandler<unknown, unknown, typeof services> | undefined,
    services, logger, now: services.clock, maxBatchItems: config.limits.maxBatchItems,
    ...(authorize === undefined ? {} : { authorize }),
    ...(audit === undefined ? {} : { audit: kmipAuditHook(audit) }),
  };
  const server = new KmipServer({ config, trust, deps });
  // The audit trail's back-pressure: the primary reports which tenants' audit queues are half full.
  const backpressure = new AuditBackpressure((tenant, on) => { server.holdTenant(tenant, on); }, { maxHoldMs: snapshot.holdMaxMs ?? 0 });
  backpressure.update(snapshot.slow ?? []);
  // Issue 20: KMIP over HTTPS on the same deps (gates, Cedar, audit forwarding); node:cluster shares its port too.
  // Loaded only when configured (issue 14 "Memory"): fastify and its ~90 modules cost a worker about 3 MiB of heap,
  // and KMIP over HTTPS is off by default; test/unit/lazy-modules.test.ts keeps it out of a default worker.
  let https: KmipHttpsServer<typeof services> | undefined;
  if (config.https !== undefined) {
    const { KmipHttpsServer: HttpsServer } = await import('../server/https-listener.js');
    https = new HttpsServer({ config, deps, trust });
  }
  // ---- messages from the primary ----------------------------------------------------------------------------
  let closing: Promise<void> | undefined;
  const onMessage = (raw: unknown): void => {
    const m = asToWorker(raw);
    if (m === undefined) return;
    switch (m.t) {
      case 'res': link.answer(m); break;
      case 'sealed':
        sealed = m.sealed;
        if (sealed) {
          leases?.revokeAll(sealedError);
          services.keyCache.clear();
        }
        break;
      case 'tenant':
        if (m.dark) {
          dark.add(m.tenant);
          leases?.revoke(m.tenant, revokedError);
          services.keyCache.evictTenant(m.tenant);
        } else {
          dark.delete(m.tenant);
        }
        break;
      case 'state': states.set(m.tenant, m.state); break;
      case 'policies': installPolicies(m.tenant, m.text, m.failed === true); break;
      case 'rekey':
        services.keyCache.evictTenant(m.tenant);
        void leases?.rekey(m.tenant);
        break;
      case 'backlog':
        admission.update(m.backlog);
        backpressure.update(m.slow ?? []);
        break;
      case 'trust': trust.update(m.trust); break;
      case 'shutdown': break; // worker-main.ts closes and exits
      case 'welcome': break;
    }
  };
  process.on('message', onMessage);

  const address = await server.listen();
  // Issue 18 item 5: each worker swaps in a replaced server certificate itself (no restart, no dropped connection).
  const reloader = watchServerCert({
    files: serverCertFiles(loaded.dataDir, loaded.file.kmip?.tls), logger,
    ...(loaded.file.kmip?.tls?.reloadIntervalMs === undefined ? {} : { intervalMs: loaded.file.kmip.tls.reloadIntervalMs }),
    apply: (cert, key) => { server.reloadTls(cert, key); https?.reloadTls(cert, key); },
  });
  const httpsAddress = await https?.listen();
  send({ t: 'ready', host: address.host, port: address.port, ...(httpsAddress === undefined ? {} : { https: httpsAddress }) });

  const close = (): Promise<void> => {
    closing ??= (async () => {
      reloader.stop();
      backpressure.close();
      await Promise.all([server.close(), https?.close()]);
      trust.stop();
      audit?.flush();
      services.keyCache.clear();
      leases?.close();
      await vault.close();
      devKek?.destroy();
      engine?.close();
      transport.destroy();
      process.off('message', onMessage);
    })();
    return closing;
  };
  // The primary is gone (crashed or killed): stop at once rather than serve without it (see the file comment).
  process.once('disconnect', () => {
    link.failAll('the primary process is gone');
    process.exit(1);
  });
  return { close };
}

/**
 * The listener's configuration for one of `workers` processes: connection counts (pre-handshake ones too) and the
 * unread-response budget are server-wide limits in the config file, so each worker takes its share (rounded up).
 */
function perWorker(loaded: LoadedConfig, workers: number): LoadedConfig['server'] {
  const l = loaded.server.limits;
  const share = (n: number): number => Math.max(1, Math.ceil(n / workers));
  // maxHandshakingPerAddress stays per process (docs/configuration.md): node:cluster hands connections out in
  // turn, so one address's pending handshakes spread over the workers rather than landing in one.
  const limits = Object.assign({}, l, {
    maxConnections: share(l.maxConnections), maxResponseBytesBuffered: share(l.maxResponseBytesBuffered),
    maxHandshakingConnections: share(l.maxHandshakingConnections),
  });
  return Object.assign({}, loaded.server, { limits });
}
