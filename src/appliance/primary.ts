/**
 * The primary process of `openkcm serve --workers N` (issue 14 Deliver 6, ARCHITECTURE §8 "Each core runs its own KMIP
 * event loop over the shared LMDB vault; one owner keeps the governance database and each audit chain").
 *
 * The primary owns what must have exactly one owner: the MasterKey and krypton (the key hierarchy, L1 calls, the
 * operator socket), the governance plane (its database, every audit chain, Cedar policy storage, the admin API, the
 * kill-switch listener and the L1 health checks), and the start-up migration. It serves no KMIP itself. It forks N
 * worker processes (./worker.ts) that share one listening address through node:cluster and serve every KMIP request
 * on their own event loops, and it:
 *
 * - leases each tenant's L3 lineage to a worker on request, wrapped under that worker's transport key, and grants
 *   it blocks of seals under each L3 version, reserved durably in the hierarchy record before they leave
 *   (src/krypton/seal-reservations.ts: the count of the NIST SP 800-38D §8.3 limit spans every worker);
 * - pushes to every worker what must bite there at once: the seal, krypton's revocations and key changes, governance
 *   tenant states and policies, and the audit backlog of a tenant;
 * - receives the workers' audit records (batched per AUDIT_FORWARD_INTERVAL_MS, ./worker-audit.ts) into the one audit sink;
 * - registers tenants the workers see for the first time;
 * - restarts a worker that died, and on shutdown lets every worker drain before it closes the planes.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { KmipError } from '../kmip/errors.js';
import { DEFAULT_SERVICE } from '../krypton/krypton.js';
import { TenantKeyring } from '../krypton/tenant-keyring.js';
import type { SecureKey } from '../native/index.js';
import { EnvelopeError } from '../vault/errors.js';
import type { SealBlock } from '../vault/seal-counter.js';
import type { Hierarchy } from './hierarchy.js';
import { openOwnerPlanes } from './kmip-app.js';
import type { OwnerPlanes } from './kmip-app.js';
import type { ListenAddress, LoadedConfig } from '../config/index.js';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { EMPTY_TRUST } from '../common/x509.js';
import { asToPrimary, KEY_EXHAUSTED_CODE } from './ipc.js';
import type { Lease, Snapshot, ToPrimary, ToWorker } from './ipc.js';
import { deriveTransportKey, ephemeralKeyPair, transportSalt, wrapForTransport } from './transport-key.js';
import { unpackAuditBatch } from './worker-audit.js';
import { GovernancePriority, PRIORITY_CHECK_INTERVAL_MS } from './governance-priority.js';

/** The worker entry script (compiled next to this file). */
const WORKER_MAIN = fileURLToPath(new URL('./worker-main.js', import.meta.url));

/** A worker that dies is restarted after this delay, doubled per quick death up to the maximum. */
export const WORKER_RESTART_MIN_MS = 250;
export const WORKER_RESTART_MAX_MS = 30_000;

/** How long the primary waits for the first worker to listen before start-up fails. */
export const WORKER_START_TIMEOUT_MS = 120_000;

export interface ClusterOptions {
  readonly workers: number;
  /** What the workers pass to loadConfig (the command line's overrides). */
  readonly overrides: Readonly<Record<string, string>>;
  readonly logLevel: string;
}

export interface ClusterApp {
  readonly address: ListenAddress;
  /** The workers' KMIP-over-HTTPS address (kmip.https.listen), when configured (issue 20). */
  readonly httpsAddress: ListenAddress | undefined;
  readonly planes: OwnerPlanes;
  /** Live worker processes (their pids). */
  workerPids(): number[];
  close(): Promise<void>;
}

interface WorkerState {
  readonly worker: Worker;
  transport: SecureKey | undefined;
  ready: boolean;
}

function failure(e: unknown): { code: string; message: string } {
  if (e instanceof KmipError) return { code: e.code, message: e.message };
  if (e instanceof EnvelopeError && e.code === 'KEY_EXHAUSTED') return { code: KEY_EXHAUSTED_CODE, message: e.message };
  return { code: 'GENERAL_FAILURE', message: 'the key hierarchy could not serve this tenant' };
}

/**
 * A worker's lease of the tenant's L3 lineage: every version wrapped under the worker's transport key, after the
 * tenant was activated (or onboarded) as a request in a single process would do it.
 */
export async function leaseLineage(hierarchy: Hierarchy, tenant: string, transport: SecureKey): Promise<Lease> {
  await hierarchy.ensureTenant(tenant);
  const ring = hierarchy.krypton.kek(tenant);
  if (!(ring instanceof TenantKeyring)) throw new KmipError('GENERAL_FAILURE', 'the tenant key lineage cannot be leased');
  const versions = ring.versions.flatMap((version) => {
    const slot = ring.slot(version);
    return slot === undefined ? [] : [{ version, wrapped: wrapForTransport(transport, slot) }];
  });
  return { keyId: ring.id, current: ring.currentVersion, versions };
}

/** A worker's next block of seals of the tenant's L3 `version`: its end is in the hierarchy record before it leaves. */
export function reserveSealsFor(hierarchy: Hierarchy, tenant: string, version: number): Promise<SealBlock> {
  return hierarchy.krypton.reserveSeals(tenant, DEFAULT_SERVICE, version);
}

export async function startCluster(loaded: LoadedConfig, logger: Logger, opts: ClusterOptions): Promise<ClusterApp> {
  if (!cluster.isPrimary) throw new Error('startCluster runs in the primary process only');
  const planes = await openOwnerPlanes(loaded, logger, { servesKmip: false });
  const { hierarchy, governance } = planes;
  const workers = new Map<number, WorkerState>();
  let closing = false;
  let restartDelay = WORKER_RESTART_MIN_MS;
  // The governance plane yields the CPU to the workers while its audit backlog is small (./governance-priority.ts):
  // back at full priority at half the smallest audit quota (refusals start at all of it; a quarter was too close to a
  // flush's 2,048 records, and tripped at 5,000 Gets/s), yielding again below an eighth.
  const quota = governance?.auditQuota ?? 0;
  const priority = governance?.enabled === true && governance.yieldNice > 0 && quota > 0
    ? new GovernancePriority({ yieldNice: governance.yieldNice, highWater: Math.max(1, Math.floor(quota / 2)), lowWater: Math.floor(quota / 8), logger })
    : undefined;
  const priorityCheck = priority === undefined ? undefined : setInterval(() => { priority.update(governance?.auditPending() ?? 0); }, PRIORITY_CHECK_INTERVAL_MS);
  priorityCheck?.unref();

  const broadcast = (msg: ToWorker): void => {
    for (const w of workers.values()) if (w.transport !== undefined && w.worker.isConnected()) w.worker.send(msg);
  };

  const snapshot = (): Snapshot => ({
    sealed: hierarchy?.masterKey.sealed ?? false,
    dark: hierarchy === undefined ? [] : planes.knownTenants().filter((t) => hierarchy.isRevoked(t)),
    governance: governance?.enabled === true,
    states: governance?.tenantStates() ?? [],
    policies: governance?.tenantPolicies() ?? [],
    backlog: governance?.auditBacklog() ?? { node: false, tenants: [] },
    slow: governance?.auditSlow() ?? [],
    holdMaxMs: governance?.auditHoldMaxMs ?? 0,
    trust: governance?.trust() ?? EMPTY_TRUST,
  });

  // ---- what must reach every worker ---------------------------------------------------------------------------
  const unsubscribe: (() => void)[] = [];
  if (hierarchy !== undefined) {
    const sealed = (): void => { broadcast({ t: 'sealed', sealed: true }); };
    const unsealed = (): void => { broadcast({ t: 'sealed', sealed: false }); };
    const revoked = (tenant: string): void => { broadcast({ t: 'tenant', tenant, dark: true }); };
    const restored = (tenant: string): void => { broadcast({ t: 'tenant', tenant, dark: false }); };
    const changed = (tenant: string): void => {
      broadcast(hierarchy.isRevoked(tenant) ? { t: 'tenant', tenant, dark: true } : { t: 'rekey', tenant });
    };
    hierarchy.masterKey.on('sealed', sealed);
    hierarchy.masterKey.on('unsealed', unsealed);
    hierarchy.krypton.on('revoked', revoked);
    hierarchy.krypton.on('restored', restored);
    hierarchy.krypton.on('changed', changed);
    unsubscribe.push(() => {
      hierarchy.masterKey.off('sealed', sealed);
      hierarchy.masterKey.off('unsealed', unsealed);
      hierarchy.krypton.off('revoked', revoked);
      hierarchy.krypton.off('restored', restored);
      hierarchy.krypton.off('changed', changed);
    });
  }
  if (governance?.enabled === true) {
    unsubscribe.push(governance.onChange((c) => { broadcast(c); }));
  }

  // ---- requests from workers ------------------------------------------------------------------------------------
  const lease = (w: WorkerState, tenant: string): Promise<Lease> => {
    if (hierarchy === undefined || w.transport === undefined) return Promise.reject(new KmipError('GENERAL_FAILURE', 'this node has no key hierarchy'));
    return leaseLineage(hierarchy, tenant, w.transport);
  };

  const seals = async (w: WorkerState, tenant: string, version: number): Promise<SealBlock> => {
    if (hierarchy === undefined) throw new KmipError('GENERAL_FAILURE', 'this node has no key hierarchy');
    try {
      const block = await reserveSealsFor(hierarchy, tenant, version);
      logger.debug('L3 seal block reserved for a worker', { worker: w.worker.id, tenant, l3Version: version, start: block.start, end: block.end });
      return block;
    } catch (e) {
      if (e instanceof EnvelopeError && e.code === 'KEY_EXHAUSTED') logger.warn('tenant L3 reached its AES-GCM seal limit: rotate it', { tenant, l3Version: version });
      throw e;
    }
  };

  const onMessage = (w: WorkerState, raw: unknown): void => {
    const m = asToPrimary(raw);
    if (m === undefined) return;
    handle(w, m).catch((e: unknown) => { logger.error('cluster: a worker message failed', { worker: w.worker.id, ...describeError(e) }); });
  };

  const answer = (w: WorkerState, id: number, p: Promise<unknown>): Promise<void> => p.then(
    (value) => { if (w.worker.isConnected()) w.worker.send({ t: 'res', id, ok: true, value } satisfies ToWorker); },
    (e: unknown) => { if (w.worker.isConnected()) w.worker.send({ t: 'res', id, ok: false, ...failure(e) } satisfies ToWorker); },
  );

  let firstReady: ((a: ListenAddress, https: ListenAddress | undefined) => void) | undefined;
  let firstFailed: ((e: Error) => void) | undefined;
  const handle = async (w: WorkerState, m: ToPrimary): Promise<void> => {
    switch (m.t) {
      case 'hello': {
        const own = ephemeralKeyPair();
        const salt = transportSalt();
        w.transport?.destroy();
        w.transport = deriveTransportKey(own, m.workerPublicKey, salt);
        w.worker.send({ t: 'welcome', primaryPublicKey: own.publicKeyDer, salt, snapshot: snapshot() } satisfies ToWorker);
        return;
      }
      case 'ready':
        w.ready = true;
        restartDelay = WORKER_RESTART_MIN_MS;
        logger.info('KMIP worker listening', { worker: w.worker.id, pid: w.worker.process.pid, host: m.host, port: m.port });
        firstReady?.({ host: m.host, port: m.port }, m.https === undefined ? undefined : { host: m.https.host, port: m.https.port });
        return;
      case 'req':
        if (m.op === 'lease') return answer(w, m.id, lease(w, m.tenant));
        if (m.op === 'seals') return answer(w, m.id, seals(w, m.tenant, m.version));
        return answer(w, m.id, governance?.register(m.tenant) ?? Promise.resolve(null));
      case 'audit':
        // A malformed batch throws here and is logged below ("a worker message failed"), never queued in part.
        governance?.recordAudit(m.batches.map(unpackAuditBatch));
        if (priority !== undefined) {
          // How long the oldest record of the message waited (the IPC pipe included): a starved primary reads late.
          let oldest = Infinity;
          for (const b of m.batches) oldest = Math.min(oldest, b.at[0] ?? Infinity);
          priority.update(governance?.auditPending() ?? 0, oldest === Infinity ? 0 : Date.now() - oldest);
        }
        return;
      case 'fatal':
        logger.error('KMIP worker failed to start', { worker: w.worker.id, reason: m.message });
        firstFailed?.(new Error(`a KMIP worker failed to start: ${m.message}`));
        return;
    }
  };

  const fork = (): void => {
    const env = { OPENKCM_WORKER: JSON.stringify({ dataDir: loaded.dataDir, overrides: opts.overrides, logLevel: opts.logLevel, workers: opts.workers }) };
    const worker = priority === undefined ? cluster.fork(env) : priority.atOwnPriority(() => cluster.fork(env));
    const state: WorkerState = { worker, transport: undefined, ready: false };
    workers.set(worker.id, state);
    worker.on('message', (raw: unknown) => { onMessage(state, raw); });
    worker.on('exit', (code, signal) => {
      workers.delete(worker.id);
      state.transport?.destroy();
      if (closing) return;
      logger.error('KMIP worker exited; restarting it', { worker: worker.id, code, signal, restartInMs: restartDelay });
      const delay = restartDelay;
      restartDelay = Math.min(restartDelay * 2, WORKER_RESTART_MAX_MS);
      setTimeout(() => { if (!closing) fork(); }, delay).unref();
    });
  };

  cluster.setupPrimary({ exec: WORKER_MAIN, serialization: 'advanced', silent: false });
  let httpsAddress: ListenAddress | undefined;
  const ready = new Promise<ListenAddress>((resolve, reject) => {
    firstReady = (a, https) => {
      httpsAddress ??= https;
      resolve(a);
    };
    firstFailed = reject;
    setTimeout(() => { reject(new Error(`no KMIP worker listened within ${String(WORKER_START_TIMEOUT_MS)} ms`)); }, WORKER_START_TIMEOUT_MS).unref();
  });
  for (let i = 0; i < opts.workers; i++) fork();

  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    clearInterval(priorityCheck);
    // Full priority for the drain and the last audit flush.
    priority?.close();
    for (const u of unsubscribe) u();
    const exits = [...workers.values()].map((w) => new Promise<void>((resolve) => {
      if (w.worker.isDead()) {
        resolve();
        return;
      }
      w.worker.once('exit', () => { resolve(); });
      if (w.worker.isConnected()) w.worker.send({ t: 'shutdown' } satisfies ToWorker);
      else w.worker.kill();
    }));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, loaded.server.limits.drainTimeoutMs + 500); });
    await Promise.race([Promise.all(exits), deadline]);
    clearTimeout(timer);
    for (const w of workers.values()) if (!w.worker.isDead()) w.worker.process.kill('SIGKILL');
    await planes.close();
  };

  let address: ListenAddress;
  try {
    address = await ready;
  } catch (e) {
    await close();
    throw e;
  }
  return {
    address,
    httpsAddress,
    planes,
    workerPids: () => [...workers.values()].flatMap((w) => (w.worker.process.pid === undefined ? [] : [w.worker.process.pid])),
    close,
  };
}
