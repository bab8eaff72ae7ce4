/**
 * Krypton: the tenant key hierarchy engine (ARCHITECTURE §1 "krypton", §2 hierarchy, §5 kill-switch; issue 4
 * deliverables 5, 7, 8).
 *
 *   L1 (customer root, via a KeystorePlugin) ─wraps─▶ L2 (tenant key) ─seals─▶ L3 (service key) ─seals─▶ L4 (vault)
 *
 * What enters the JS heap, and when (docs/keystores.md "The key hierarchy"):
 * - L2 plaintext: only in transit to and from the L1 plugin. On onboard/rotateL2 it is generated inside a native
 *   slot, exported once into a buffer handed to `plugin.wrap` and wiped as soon as the call returns; on activation
 *   `plugin.unwrap` returns a buffer that `SecureKey.import` copies into a slot and zero-fills at once. The plugin
 *   (pkcs11js, a cloud SDK) necessarily sees it too: that is L1's job.
 * - L3 plaintext: never. L3 is generated in a slot and sealed/opened slot-to-slot under L2 by the addon
 *   (sealKey/openKey), and L4 work uses the slot through {@link TenantKeyring}.
 *
 * Concurrency: one activation per tenant at a time (concurrent callers share its promise); mutations of one tenant
 * (onboard, rotations, drops, restore) run one after the other on this node, and every store write is a
 * compare-and-swap on the record's revision, retried on conflict, so several nodes can share one store.
 * The kill-switch does NOT queue: revoke zeroises the slots synchronously before anything is awaited, so kek()
 * refuses from that instant; an activation or rotation that finishes after it discards what it opened (epoch).
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { KmipError } from '../kmip/errors.js';
import { isKeystoreError, KeystoreError } from '../keystore/types.js';
import type { HealthStatus, KeystorePlugin, ShadowReference } from '../keystore/types.js';
import { SecureKey } from '../native/index.js';
import { describeError, silentLogger } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { AES_256_KEY_BYTES } from '../vault/kek.js';
import type { KekProvider } from '../vault/kek.js';
import type { SealBlock } from '../vault/seal-counter.js';
import { KryptonError } from './errors.js';
import { destroyUnsealed, newL2, openL3, rewrapL2s, unsealRecord, unwrapL2 } from './hierarchy-blobs.js';
import type { Unsealed } from './hierarchy-blobs.js';
import { MAX_SERVICES_PER_TENANT, MAX_STATE_REASON_BYTES, sameShadow } from './record.js';
import { newHierarchy, withReplacedL1, withRotatedL2, withRotatedL3, withoutL3Version } from './record-edits.js';
import { dropL2NotIn, revokedError, TenantSlots } from './tenant-slots.js';
import type { ActivationResult, TenantEntry, TenantStatus } from './tenant-slots.js';
import { checkService, checkTenant, HierarchyRecords, keystoreFailure, storeError } from './hierarchy-records.js';
import { SealReservations } from './seal-reservations.js';
import type { Lineage } from './hierarchy-records.js';
import { HierarchyStoreError } from './types.js';
import type { HierarchyStore, TenantHierarchy } from './types.js';

export { KryptonError, isKryptonError } from './errors.js';
export type { KryptonErrorCode } from './errors.js';
export type { ActivationResult, TenantStatus } from './tenant-slots.js';
export { L1_RETRY_BACKOFF_MAX_MS, L1_RETRY_BACKOFF_MS, MAX_CAS_RETRIES } from './hierarchy-records.js';
export type { Lineage } from './hierarchy-records.js';
export { sameShadow } from './record.js';

/** The service whose L3 is the vault's KEK for KMIP objects. */
export const DEFAULT_SERVICE = 'kmip';
/** stateReason written when L1 is found revoked/disabled/deleted at the source (checkL1 or an activation). */
export const L1_REVOKED_AT_SOURCE = 'l1-revoked-at-source';
/** stateReason written by a successful restore. */
export const RESTORED_REASON = 'restored';
/** Events: the tenant name is the only argument (no key material ever travels on events). */
export interface KryptonEvents {
  activated: [tenant: string];
  revoked: [tenant: string];
  restored: [tenant: string];
  /**
   * The tenant's keys changed on this node without a revocation: an L2 or L3 rotation, a dropped L3 version
   * (crypto-shredding depth 2), an offboarding (depth 3), or a refresh that followed another node's change. Whoever
   * holds copies of its L3 (the KMIP worker processes' leases, issue 14) takes them again, or drops them.
   */
  changed: [tenant: string];
}

export interface KryptonOptions {
  readonly store: HierarchyStore;
  /** Returns an OPEN plugin for an L1 shadow reference; the caller (app wiring) caches plugins. */
  keystoreFor(shadow: ShadowReference): Promise<KeystorePlugin>;
  readonly logger?: Logger;
  /** Time source for persisted timestamps and the L1 retry backoff (tests). */
  readonly clock?: () => Date;
  /** L3 seals reserved per durable write of their count (vault.sealReservationBlock; default 2^20). */
  readonly sealBlock?: number;
}

export class Krypton extends EventEmitter<KryptonEvents> {
  readonly #records: HierarchyRecords;
  readonly #keystoreFor: (shadow: ShadowReference) => Promise<KeystorePlugin>;
  readonly #log: Logger;
  readonly #clock: () => Date;
  readonly #seals: SealReservations;
  readonly #slots = new TenantSlots(() => this.#closed, (tenant, service, version) => this.reserveSeals(tenant, service, version));
  #closed = false;
  /** The error of the last deactivateAll (node sealed), for activations it overtook. */
  #deactivated: (() => Error) | undefined;

  private constructor(opts: KryptonOptions) {
    super();
    this.#records = new HierarchyRecords(opts.store);
    this.#seals = new SealReservations(this.#records, opts.sealBlock);
    this.#keystoreFor = (shadow) => opts.keystoreFor(shadow);
    this.#log = opts.logger ?? silentLogger;
    this.#clock = opts.clock ?? (() => new Date());
  }

  /** Nothing is activated up front: tenants activate on first use (ensureActive) or explicitly. */
  static open(opts: KryptonOptions): Promise<Krypton> {
    return Promise.resolve(new Krypton(opts));
  }

  // ---- lifecycle --------------------------------------------------------------------------------------------

  /**
   * Creates the tenant's hierarchy: L2 v1 (wrapped by L1) and L3 v1 per service (sealed by L2), durably, and leaves
   * the tenant active. L2 is generated in a slot and exported only to be handed to `plugin.wrap` (wiped at once);
   * the slot kept is the one imported from `plugin.unwrap`, which proves L1 can give it back before anything is
   * sealed under it.
   * @throws KryptonError EXISTS | INVALID | LIMIT | CLOSED; KeystoreError as the plugin reports it (L1 unreachable,
   *         revoked, access denied): nothing is stored then.
   */
  async onboard(tenant: string, shadow: ShadowReference, services: readonly string[] = [DEFAULT_SERVICE]): Promise<void> {
    this.#checkOpen();
    checkTenant(tenant);
    if (typeof shadow !== 'object' || typeof shadow.plugin !== 'string' || shadow.plugin === '' || typeof shadow.keyRef !== 'string' || shadow.keyRef === '' || typeof shadow.keyVersion !== 'string') {
      throw new KryptonError('INVALID', 'shadow must be {plugin, keyRef, keyVersion} (plugin and keyRef non-empty)', { tenant });
    }
    if (services.length === 0 || services.length > MAX_SERVICES_PER_TENANT) {
      throw new KryptonError('LIMIT', `a tenant has 1..${String(MAX_SERVICES_PER_TENANT)} services (MAX_SERVICES_PER_TENANT), got ${String(services.length)}`, { tenant });
    }
    if (new Set(services).size !== services.length) throw new KryptonError('INVALID', 'services must be distinct', { tenant });
    for (const s of services) checkService(tenant, s);
    const entry = this.#slots.entry(tenant);
    await this.#serial(entry, async () => {
      const t0 = performance.now();
      if ((await this.#records.store.get(tenant)) !== undefined) throw new KryptonError('EXISTS', `tenant '${tenant}' already has a key hierarchy`, { tenant });
      const plugin = await this.#keystoreFor(shadow);
      const now = this.#clock();
      const { key: l2, wrapped } = await newL2(plugin, tenant, 1);
      const l3 = new Map<string, SecureKey>();
      try {
        for (const service of services) l3.set(service, SecureKey.generate(AES_256_KEY_BYTES));
        const record = newHierarchy(tenant, shadow, l2, wrapped, l3, now);
        await this.#records.store.create(record).catch((err: unknown) => {
          throw storeError(tenant, err);
        });
        // A fresh entry: a tombstone of an earlier offboarded tenant of that name must not leak into this one.
        const fresh = this.#slots.reset(tenant);
        fresh.l2.set(1, l2);
        for (const [service, k] of l3) {
          const ring = this.#slots.keyring(fresh, service);
          ring.install(1, k);
          ring.setCurrent(1);
        }
        fresh.record = record;
        fresh.state = 'active';
      } catch (err) {
        l2.destroy();
        for (const k of l3.values()) k.destroy();
        throw err;
      }
      this.#log.info('krypton tenant onboarded', { tenant, plugin: shadow.plugin, services: services.join(','), ms: Math.round(performance.now() - t0) });
      this.#emit('activated', tenant);
    });
  }

  /**
   * Recursive unsealing (ARCHITECTURE §2): L1.unwrap(L2) into a slot, then every readable L3 opened slot-to-slot.
   * Idempotent; concurrent callers share one activation. `cold` is true when L1 was called.
   * @throws KmipError TENANT_REVOKED (revoked/destroyed, or L1 revoked at the source: then the tenant is revoked
   *         durably with reason 'l1-revoked-at-source'), KmipError TENANT_UNAVAILABLE (L1 unreachable or access
   *         denied; retried after a backoff), KryptonError UNKNOWN_TENANT | TAMPERED | CLOSED.
   */
  activate(tenant: string): Promise<ActivationResult> {
    const t0 = performance.now();
    try {
      this.#checkOpen();
      checkTenant(tenant);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const entry = this.#slots.entry(tenant);
    if (entry.state === 'active') return Promise.resolve({ cold: false, ms: performance.now() - t0 });
    if (entry.state === 'revoked') return Promise.reject(revokedError(tenant, 'is revoked (kill-switch)'));
    if (entry.state === 'destroyed') return Promise.reject(revokedError(tenant, 'was offboarded (crypto-shredded)'));
    if (entry.activation !== undefined) return entry.activation;
    const now = this.#clock().getTime();
    if (entry.lastFailure !== undefined && now < entry.retryAt) return Promise.reject(entry.lastFailure);
    const p = this.#coldActivate(entry, t0).finally(() => {
      entry.activation = undefined;
    });
    entry.activation = p;
    return p;
  }

  async ensureActive(tenant: string): Promise<void> {
    await this.activate(tenant);
  }

  isActive(tenant: string): boolean {
    return this.#slots.get(tenant)?.state === 'active';
  }

  /**
   * The hot path: the tenant's L3 lineage for `service` as a KekProvider (id `l3:<tenant>:<service>`). Synchronous.
   * @throws KmipError TENANT_REVOKED when revoked or offboarded; KryptonError NOT_ACTIVE when not activated on this
   *         node yet (await ensureActive and retry); KryptonError UNKNOWN_SERVICE; KryptonError CLOSED.
   */
  kek(tenant: string, service: string = DEFAULT_SERVICE): KekProvider {
    this.#checkOpen();
    return this.#slots.kek(tenant, service);
  }

  /**
   * The next block of seals of L3 `version` of (tenant, service), written to the record before this resolves
   * (src/krypton/seal-reservations.ts, which lists the errors): this node's keyrings and the primary's workers ask.
   */
  reserveSeals(tenant: string, service: string, version: number): Promise<SealBlock> {
    if (this.#closed) return Promise.reject(new KryptonError('CLOSED', 'krypton is closed'));
    return this.#seals.reserve(tenant, service, version);
  }

  /**
   * The kill-switch (ARCHITECTURE §5): zeroises the tenant's L2/L3 slots synchronously (kek() and held keyrings
   * refuse from this instant), then persists state 'revoked' and emits 'revoked'. Idempotent.
   */
  async revoke(tenant: string, reason: string): Promise<void> {
    this.#checkOpen();
    checkTenant(tenant);
    if (typeof reason !== 'string' || reason === '' || Buffer.byteLength(reason, 'utf8') > MAX_STATE_REASON_BYTES) {
      throw new KryptonError('INVALID', `reason must be 1..${String(MAX_STATE_REASON_BYTES)} UTF-8 bytes`, { tenant });
    }
    const t0 = performance.now();
    const known = this.#slots.has(tenant);
    const entry = this.#slots.entry(tenant);
    const wasRevoked = entry.state === 'revoked';
    if (entry.state !== 'destroyed') this.#slots.zeroise(entry, 'revoked');
    const zeroisedMs = performance.now() - t0;
    let persisted: boolean;
    try {
      const { after } = await this.#records.mutate(tenant, (rec) => {
        if (rec.state !== 'active') return undefined;
        return { ...rec, state: 'revoked', stateReason: reason, stateChangedAt: this.#clock(), revision: rec.revision + 1 };
      });
      persisted = after !== undefined;
      if (after !== undefined) entry.record = after;
    } catch (err) {
      if (err instanceof KryptonError && err.code === 'UNKNOWN_TENANT' && !known) this.#slots.forget(tenant);
      throw err;
    }
    this.#log.info('krypton tenant revoked', { tenant, reason, zeroisedMs: round(zeroisedMs), ms: round(performance.now() - t0), persisted });
    if (!wasRevoked || persisted) this.#emit('revoked', tenant);
  }

  /**
   * Lifts a revocation: L1 must be healthy again at the source (plugin.health()), then L2 is unwrapped and the L3s
   * reopened, the state persisted 'active', and 'restored' emitted. Idempotent on an active tenant.
   * @throws KryptonError L1_UNHEALTHY (L1 still revoked/disabled/deleted/unreachable, or it no longer unwraps this
   *         tenant's L2: a re-created key is not the original), UNKNOWN_TENANT, INVALID (offboarded).
   */
  async restore(tenant: string): Promise<void> {
    this.#checkOpen();
    checkTenant(tenant);
    const entry = this.#slots.entry(tenant);
    await this.#serial(entry, async () => {
      const t0 = performance.now();
      const rec = await this.#records.store.get(tenant);
      if (rec === undefined) throw new KryptonError('UNKNOWN_TENANT', `tenant '${tenant}' has no key hierarchy`, { tenant });
      if (rec.state === 'destroyed') throw new KryptonError('INVALID', `tenant '${tenant}' is destroyed; it cannot be restored`, { tenant });
      if (rec.state === 'active' && entry.state === 'active') return;
      const unhealthy = (why: string, cause?: unknown): KryptonError =>
        new KryptonError('L1_UNHEALTHY', `cannot restore tenant '${tenant}': L1 ${rec.shadow.plugin} '${rec.shadow.keyRef}' ${why}; the tenant stays revoked`, { tenant, cause });
      let plugin: KeystorePlugin;
      try {
        plugin = await this.#keystoreFor(rec.shadow);
      } catch (cause) {
        throw unhealthy(`cannot be opened (${describeError(cause).errMessage})`, cause);
      }
      const health = await plugin.health();
      if (!health.ok) throw unhealthy(`is not healthy at the source (${health.code}: ${health.message})`);
      const epoch = entry.epoch;
      let opened: Unsealed;
      try {
        opened = await unsealRecord(plugin, rec);
      } catch (cause) {
        if (cause instanceof KeystoreError) {
          throw unhealthy(cause.code === 'INVALID_CIPHERTEXT'
            ? 'does not unwrap this tenant\'s L2 (a re-created key is not the original: L2 is unrecoverable without it)'
            : `refused to unwrap L2 (${cause.code})`, cause);
        }
        throw cause;
      }
      try {
        const { after } = await this.#records.mutate(tenant, (r) => {
          if (r.state === 'destroyed') throw new KryptonError('INVALID', `tenant '${tenant}' is destroyed`, { tenant });
          if (r.state === 'active') return undefined;
          return { ...r, state: 'active', stateReason: RESTORED_REASON, stateChangedAt: this.#clock(), revision: r.revision + 1 };
        });
        if (entry.epoch !== epoch) throw revokedError(tenant, 'was revoked again while being restored');
        this.#slots.install(entry, after ?? (await this.#records.store.get(tenant)) ?? rec, opened);
      } catch (err) {
        destroyUnsealed(opened);
        throw err;
      }
      this.#log.info('krypton tenant restored', { tenant, ms: round(performance.now() - t0) });
      this.#emit('restored', tenant);
    });
  }

  /**
   * Asks L1 whether it is healthy (plugin.health()). KEY_REVOKED_OR_DISABLED means the customer revoked, disabled or
   * deleted L1 at the source: the tenant is revoked here (reason 'l1-revoked-at-source'). Other failures are
   * reported, not acted on (a network blip must not shred a tenant).
   */
  async checkL1(tenant: string): Promise<HealthStatus> {
    this.#checkOpen();
    checkTenant(tenant);
    const rec = await this.#records.store.get(tenant);
    if (rec === undefined) throw new KryptonError('UNKNOWN_TENANT', `tenant '${tenant}' has no key hierarchy`, { tenant });
    let health: HealthStatus;
    try {
      health = await (await this.#keystoreFor(rec.shadow)).health();
    } catch (err) {
      const code = isKeystoreError(err) ? err.code : 'UNREACHABLE';
      health = { ok: false, plugin: rec.shadow.plugin, keyRef: rec.shadow.keyRef, checkedAt: this.#clock(), code, message: describeError(err).errMessage };
    }
    if (!health.ok) {
      this.#log.warn('krypton L1 health check failed', { tenant, plugin: health.plugin, code: health.code });
      if (health.code === 'KEY_REVOKED_OR_DISABLED' && rec.state === 'active') await this.revoke(tenant, L1_REVOKED_AT_SOURCE);
    }
    return health;
  }

  /** The shadow reference of the L1 holding the tenant's keys (its hierarchy record), or undefined without one. */
  async shadowOf(tenant: string): Promise<ShadowReference | undefined> {
    this.#checkOpen();
    checkTenant(tenant);
    const rec = await this.#records.read(tenant);
    return rec === undefined ? undefined : { ...rec.shadow };
  }

  // ---- rotation and crypto-shredding -------------------------------------------------------------------------

  /**
   * Rotates L2: a new version wrapped by L1, every stored L3 re-sealed under it slot-to-slot (L3 never enters JS), and
   * in the same durable write every L2 version no longer referenced is removed from the record. Returns the new
   * version.
   */
  async rotateL2(tenant: string): Promise<number> {
    this.#checkOpen();
    checkTenant(tenant);
    const entry = this.#slots.entry(tenant);
    return await this.#serial(entry, async () => {
      await this.ensureActive(tenant);
      const t0 = performance.now();
      const rec0 = await this.#records.mustGet(tenant);
      await this.#sync(entry, rec0);
      const epoch = entry.epoch;
      const version = rec0.currentL2 + 1;
      const plugin = await this.#keystoreFor(rec0.shadow);
      const { key: l2, wrapped } = await newL2(plugin, tenant, version).catch((err: unknown) => {
        throw keystoreFailure(entry, err, this.#clock().getTime(), this.#log);
      });
      let next: TenantHierarchy;
      try {
        const result = await this.#records.mutate(tenant, (rec) => withRotatedL2(rec, entry, version, l2, wrapped, this.#clock()));
        if (result.after === undefined) throw new Error('unreachable: rotateL2 always writes');
        next = result.after;
        if (entry.epoch !== epoch || entry.state !== 'active') throw revokedError(tenant, 'was revoked during L2 rotation');
      } catch (err) {
        l2.destroy();
        throw err;
      }
      dropL2NotIn(entry, next);
      entry.l2.set(version, l2);
      entry.record = next;
      this.#log.info('krypton L2 rotated', { tenant, l2Version: version, resealed: next.l3.length, ms: round(performance.now() - t0) });
      this.#emit('changed', tenant);
      return version;
    });
  }

  /** Adds L3 version current+1 for `service` (sealed by the current L2) and makes it current; old versions stay
   *  readable until dropped. Returns the new version. */
  async rotateL3(tenant: string, service: string = DEFAULT_SERVICE): Promise<number> {
    this.#checkOpen();
    checkTenant(tenant);
    checkService(tenant, service);
    const entry = this.#slots.entry(tenant);
    return await this.#serial(entry, async () => {
      await this.ensureActive(tenant);
      const t0 = performance.now();
      await this.#sync(entry, await this.#records.mustGet(tenant));
      const epoch = entry.epoch;
      const l3 = SecureKey.generate(AES_256_KEY_BYTES);
      let version = 0;
      try {
        const { after } = await this.#records.mutate(tenant, (rec) => {
          const r = withRotatedL3(rec, entry, service, l3, this.#clock());
          version = r.version;
          return r.rec;
        });
        if (entry.epoch !== epoch || entry.state !== 'active') throw revokedError(tenant, 'was revoked during L3 rotation');
        const ring = this.#slots.keyring(entry, service);
        ring.install(version, l3);
        ring.setCurrent(version);
        entry.record = after;
      } catch (err) {
        l3.destroy();
        throw err;
      }
      this.#log.info('krypton L3 rotated', { tenant, service, l3Version: version, ms: round(performance.now() - t0) });
      this.#emit('changed', tenant);
      return version;
    });
  }

  /**
   * Crypto-shredding depth 2: removes L3 `version` of `service` from the record (durably) and zeroises its slot.
   * Every L4 envelope sealed under it becomes unreadable. The current version is refused (INVALID): rotate first.
   * Works whether or not the tenant is active or revoked (shredding needs no key).
   */
  async dropL3Version(tenant: string, service: string, version: number): Promise<void> {
    this.#checkOpen();
    checkTenant(tenant);
    checkService(tenant, service);
    if (!Number.isInteger(version) || version < 1) throw new KryptonError('INVALID', `version must be an integer >= 1, got ${String(version)}`, { tenant });
    const entry = this.#slots.entry(tenant);
    await this.#serial(entry, async () => {
      const { after } = await this.#records.mutate(tenant, (rec) => withoutL3Version(rec, service, version));
      entry.keyrings.get(service)?.drop(version);
      if (after !== undefined) {
        dropL2NotIn(entry, after);
        if (entry.record !== undefined) entry.record = after;
      }
      this.#log.info('krypton L3 version dropped (crypto-shred)', { tenant, service, l3Version: version });
      this.#emit('changed', tenant);
    });
  }

  /**
   * L1 replacement (issue 16 item 3: the customer moves to a new root key). Every stored L2 version is unwrapped
   * through the CURRENT L1 — which proves the old key still opens what it wrapped, so nothing is re-wrapped from a
   * copy that L1 no longer stands behind —, wrapped under `next`, unwrapped back through `next` and compared (a new
   * L1 that cannot return what it wrapped is refused before anything is written), and then the record's shadow
   * reference and wrapped L2 blobs are replaced in one compare-and-swap write. L2/L3 slots and every L4 envelope are
   * unchanged: only the outermost wrap moves. Plaintext L2 exists in JS only inside the plugin call buffers, wiped
   * when each call returns.
   *
   * Idempotent: when the record already names `next`, nothing is done (false), so an interrupted replacement can be
   * retried after the governance side failed. Refused for a revoked tenant (KMIP TENANT_REVOKED): restore first.
   * @returns true when the record was rewritten.
   */
  async replaceL1(tenant: string, next: ShadowReference): Promise<boolean> {
    this.#checkOpen();
    checkTenant(tenant);
    const entry = this.#slots.entry(tenant);
    return await this.#serial(entry, async () => {
      const t0 = performance.now();
      const rec0 = await this.#records.mustGet(tenant);
      if (rec0.state !== 'active') throw revokedError(tenant, 'is revoked (kill-switch): restore it before replacing its L1');
      if (sameShadow(rec0.shadow, next)) return false;
      const oldPlugin = await this.#keystoreFor(rec0.shadow);
      const newPlugin = await this.#keystoreFor(next);
      const rewrapped = await rewrapL2s(rec0, oldPlugin, newPlugin, next);
      const { after } = await this.#records.mutate(tenant, (rec) => withReplacedL1(rec, rec0.revision, next, rewrapped));
      if (after !== undefined && entry.record !== undefined) entry.record = after;
      this.#log.info('krypton L1 replaced (L2 re-wrapped)', {
        tenant, from: `${rec0.shadow.plugin}:${rec0.shadow.keyRef}`, to: `${next.plugin}:${next.keyRef}`, l2Versions: rec0.l2.length, ms: round(performance.now() - t0),
      });
      this.#emit('changed', tenant);
      return true;
    });
  }

  /** The stored lineage (public data only: the L1 reference, states and versions; no blob); undefined without one. */
  async lineage(tenant: string): Promise<Lineage | undefined> {
    this.#checkOpen();
    checkTenant(tenant);
    return this.#records.lineage(tenant);
  }

  /**
   * Crypto-shredding depth 3: zeroises every slot of the tenant and deletes its whole record (L2 wrapped blobs and
   * L3 sealed blobs). Without the wrapped L2, the tenant's L4 data is unrecoverable even with L1.
   */
  async offboard(tenant: string): Promise<void> {
    this.#checkOpen();
    checkTenant(tenant);
    const known = this.#slots.has(tenant);
    const entry = this.#slots.entry(tenant);
    this.#slots.zeroise(entry, 'destroyed');
    entry.record = undefined;
    const existed = await this.#records.store.delete(tenant).catch((err: unknown) => {
      throw storeError(tenant, err);
    });
    if (!existed && !known) {
      this.#slots.forget(tenant);
      throw new KryptonError('UNKNOWN_TENANT', `tenant '${tenant}' has no key hierarchy`, { tenant });
    }
    this.#log.info('krypton tenant offboarded (crypto-shred)', { tenant, existed });
    this.#emit('changed', tenant);
  }

  /**
   * Re-reads the tenant's record and brings this node's slots in line with what other nodes sharing the store did:
   * L3 versions added by a rotation elsewhere are opened (and an L2 rotated elsewhere is unwrapped through L1),
   * versions dropped elsewhere are zeroised, `currentVersion` follows, and a revocation or offboarding elsewhere
   * zeroises the tenant here. A tenant revoked on this node is left alone: only restore() lifts that.
   * Call it from the cluster's change notification (Postgres LISTEN/NOTIFY, ARCHITECTURE §1). A no-op for a tenant
   * this node never activated.
   */
  async refresh(tenant: string): Promise<void> {
    this.#checkOpen();
    checkTenant(tenant);
    const entry = this.#slots.get(tenant);
    if (entry === undefined) return;
    await this.#serial(entry, async () => {
      const rec = await this.#records.store.get(tenant).catch((err: unknown) => {
        throw storeError(tenant, err);
      });
      if (rec === undefined) {
        if (entry.state !== 'destroyed' && entry.state !== 'inactive') {
          this.#slots.zeroise(entry, 'destroyed');
          entry.record = undefined;
          this.#log.info('krypton tenant offboarded elsewhere: zeroised', { tenant });
        }
        return;
      }
      if (entry.state !== 'active') return;
      try {
        await this.#sync(entry, rec);
      } catch (err) {
        if (err instanceof KmipError && err.code === 'TENANT_REVOKED') return;
        throw err;
      }
      this.#emit('changed', tenant);
    });
  }

  /**
   * True when the tenant is revoked (kill-switch) or offboarded on this node: the KMIP gate asks this for every
   * request, so it builds nothing (issue 14; {@link status} builds the whole TenantStatus).
   */
  isRevokedOrDestroyed(tenant: string): boolean {
    return this.#slots.isRevokedOrDestroyed(tenant);
  }

  /** Tenants this node has an entry for (activated, revoked or offboarded here, or asked about). */
  tenants(): string[] {
    return this.#slots.tenants();
  }

  /** What this node knows about the tenant (no store read: synchronous). */
  status(tenant: string): TenantStatus {
    return this.#slots.status(tenant);
  }

  /**
   * The node was sealed (MasterKey 'sealed', src/appliance/hierarchy.ts): zeroises every tenant's L2/L3 slots on this
   * node at once and forgets the activations, WITHOUT persisting anything. Unlike {@link revoke} the tenants are not
   * revoked: their records stay 'active' and the first use after the unseal re-activates them through L1 as after a
   * restart. Revoked and offboarded tenants keep their state. An activation in flight discards what it opened
   * (epoch). A caller still holding a keyring gets `blocked()` from seal/open (default NOT_ACTIVE) until then.
   * Synchronous. Returns the number of tenants that were active.
   */
  deactivateAll(blocked?: () => Error): number {
    if (this.#closed) return 0;
    this.#deactivated = blocked ?? ((): Error => new KryptonError('NOT_ACTIVE', 'the tenant was deactivated on this node during its activation; activate it again'));
    const n = this.#slots.deactivateAll((tenant) => blocked ?? ((): Error => new KryptonError('NOT_ACTIVE', `tenant '${tenant}' was deactivated on this node; activate it again`, { tenant })));
    this.#log.info('krypton: every tenant deactivated on this node (slots zeroised, nothing persisted)', { tenants: n });
    return n;
  }

  /** Zeroises every slot of every tenant. The store is the caller's to close. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#slots.closeAll();
    this.removeAllListeners();
    return Promise.resolve();
  }

  // ---- internals -----------------------------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#closed) throw new KryptonError('CLOSED', 'krypton is closed');
  }

  #serial<T>(entry: TenantEntry, fn: () => Promise<T>): Promise<T> {
    const run = entry.queue.then(fn, fn);
    entry.queue = run.then(() => undefined, () => undefined);
    return run;
  }

  /**
   * Brings an ACTIVE tenant's slots in line with `rec` (which another node may have changed): follows a revocation,
   * unwraps L2 versions this node lacks (an L1 call, only after an L2 rotation elsewhere), opens L3 versions it
   * lacks, zeroises versions no longer in the record, and follows currentL3.
   */
  async #sync(entry: TenantEntry, rec: TenantHierarchy): Promise<void> {
    const tenant = entry.tenant;
    if (entry.state !== 'active') return;
    if (rec.state !== 'active') {
      this.#slots.zeroise(entry, rec.state === 'destroyed' ? 'destroyed' : 'revoked');
      entry.record = rec;
      this.#log.info('krypton tenant revoked elsewhere: zeroised', { tenant, reason: rec.stateReason });
      this.#emit('revoked', tenant);
      throw revokedError(tenant, `is ${rec.state} (${rec.stateReason})`);
    }
    const epoch = entry.epoch;
    const newL2 = new Map<number, SecureKey>();
    const newL3: { service: string; version: number; key: SecureKey }[] = [];
    try {
      const missing = rec.l2.filter((e) => !entry.l2.has(e.version));
      if (missing.length > 0) {
        const plugin = await this.#keystoreFor(rec.shadow);
        for (const e of missing) newL2.set(e.version, await unwrapL2(plugin, tenant, e));
      }
      if (entry.epoch !== epoch) throw revokedError(tenant, 'was revoked while being refreshed');
      const l2All = new Map([...entry.l2, ...newL2]);
      for (const e of rec.l3) {
        if (entry.keyrings.get(e.service)?.slot(e.version) !== undefined) continue;
        newL3.push({ service: e.service, version: e.version, key: openL3(tenant, l2All, e) });
      }
    } catch (err) {
      for (const k of newL2.values()) k.destroy();
      for (const x of newL3) x.key.destroy();
      throw await this.#activationFailure(entry, epoch, err);
    }
    this.#slots.follow(entry, rec, newL2, newL3);
    if (newL2.size > 0 || newL3.length > 0) this.#log.debug('krypton tenant refreshed', { tenant, l2Opened: newL2.size, l3Opened: newL3.length });
  }

  async #coldActivate(entry: TenantEntry, t0: number): Promise<ActivationResult> {
    const tenant = entry.tenant;
    const epoch = entry.epoch;
    let l1Ms: number;
    try {
      const rec = await this.#records.mustGet(tenant);
      if (rec.state !== 'active') {
        if (entry.epoch === epoch) {
          this.#slots.zeroise(entry, rec.state === 'destroyed' ? 'destroyed' : 'revoked');
          entry.record = rec;
        }
        throw revokedError(tenant, `is ${rec.state} (${rec.stateReason})`);
      }
      const plugin = await this.#keystoreFor(rec.shadow);
      const tl1 = performance.now();
      const opened = await unsealRecord(plugin, rec);
      l1Ms = performance.now() - tl1;
      if (entry.epoch !== epoch || this.#closed || entry.state !== 'inactive') {
        destroyUnsealed(opened);
        this.#checkOpen();
        // Deactivated (node sealed) rather than revoked: say so, not "revoked".
        if (entry.state === 'inactive' && this.#deactivated !== undefined) throw this.#deactivated();
        throw revokedError(tenant, 'was revoked during activation');
      }
      this.#slots.install(entry, rec, opened);
    } catch (err) {
      throw await this.#activationFailure(entry, epoch, err);
    }
    const ms = performance.now() - t0;
    this.#log.debug('krypton tenant activated', { tenant, cold: true, ms: round(ms), unsealMs: round(l1Ms), l3Versions: entry.record?.l3.length ?? 0 });
    this.#emit('activated', tenant);
    return { cold: true, ms };
  }

  /** Maps an activation failure; L1 revoked at the source fires the kill-switch durably. */
  async #activationFailure(entry: TenantEntry, epoch: number, err: unknown): Promise<unknown> {
    const tenant = entry.tenant;
    if (err instanceof KryptonError && err.code === 'UNKNOWN_TENANT' && entry.state === 'inactive' && entry.record === undefined && this.#slots.get(tenant) === entry) {
      // Do not keep an entry per unknown name a client tried.
      this.#slots.forget(tenant);
    }
    if (isKeystoreError(err, 'KEY_REVOKED_OR_DISABLED')) {
      this.#log.warn('krypton L1 revoked at the source during activation', { tenant, ...describeError(err) });
      if (entry.epoch === epoch) {
        try {
          await this.revoke(tenant, L1_REVOKED_AT_SOURCE);
        } catch (e) {
          // The slots are zeroised and the local state is revoked even if persisting failed; report the L1 cause.
          this.#log.error('krypton could not persist the revocation', { tenant, ...describeError(e) });
        }
      }
      return revokedError(tenant, 'is revoked: its root key (L1) is revoked or disabled at the source', err);
    }
    if (err instanceof HierarchyStoreError) return storeError(tenant, err);
    return keystoreFailure(entry, err, this.#clock().getTime(), this.#log);
  }

  #emit(event: keyof KryptonEvents, tenant: string): void {
    try {
      this.emit(event, tenant);
    } catch (err) {
      this.#log.error('krypton event listener threw', { event, tenant, ...describeError(err) });
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
