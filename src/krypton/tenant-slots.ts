/**
 * Krypton's tenant slot state: what this node holds about each tenant (its L2 slots, one live TenantKeyring per
 * service, the local state and the activation bookkeeping), and the synchronous moves between states — install
 * what an activation opened, zeroise on a kill-switch, deactivate on a node seal. No store and no L1 calls here
 * (src/krypton/krypton.ts runs the lifecycle; src/krypton/hierarchy-blobs.ts does the crypto).
 *
 * The kill-switch does NOT queue: {@link TenantSlots.zeroise} destroys the slots synchronously, so kek() refuses
 * from that instant; work started in an older `epoch` discards what it opened instead of installing it.
 */
import { KmipError } from '../kmip/errors.js';
import type { SecureKey } from '../native/index.js';
import type { KekProvider } from '../vault/kek.js';
import type { SealBlock } from '../vault/seal-counter.js';
import { KryptonError } from './errors.js';
import type { Unsealed } from './hierarchy-blobs.js';
import { TenantKeyring } from './tenant-keyring.js';
import type { TenantHierarchy, TenantKeyState } from './types.js';

export interface ActivationResult {
  /** true when L1 was called (the tenant was not active on this node). */
  readonly cold: boolean;
  /** Wall time of the call, milliseconds (performance.now()). */
  readonly ms: number;
}

export interface TenantStatus {
  readonly state: TenantKeyState | 'unknown';
  readonly active: boolean;
  readonly l2Version: number;
  readonly l3Versions: Readonly<Record<string, number[]>>;
}

export type LocalState = 'inactive' | 'active' | 'revoked' | 'destroyed';

/** Everything this node holds about one tenant. */
export interface TenantEntry {
  readonly tenant: string;
  state: LocalState;
  /** The record as last read or written by this node (public data and ciphertext only). */
  record: TenantHierarchy | undefined;
  /** L2 slots by version (only versions the record still holds). */
  readonly l2: Map<number, SecureKey>;
  /** One live keyring per service; stable across revoke/restore so held references fail closed, then recover. */
  readonly keyrings: Map<string, TenantKeyring>;
  activation: Promise<ActivationResult> | undefined;
  /** Bumped by every zeroisation: work started in an older epoch discards its slots instead of installing them. */
  epoch: number;
  failures: number;
  retryAt: number;
  lastFailure: KmipError | undefined;
  /** Serialises this tenant's mutations on this node. */
  queue: Promise<unknown>;
}

export function revokedError(tenant: string, why: string, cause?: unknown): KmipError {
  return new KmipError('TENANT_REVOKED', `tenant '${tenant}' ${why}`, cause === undefined ? {} : { cause });
}

const closedError = (): KryptonError => new KryptonError('CLOSED', 'krypton is closed');

/** Destroys the L2 slots of versions `rec` no longer holds. */
export function dropL2NotIn(entry: TenantEntry, rec: TenantHierarchy): void {
  for (const [v, k] of entry.l2) {
    if (!rec.l2.some((e) => e.version === v)) {
      k.destroy();
      entry.l2.delete(v);
    }
  }
}

/** The per-tenant entries of one Krypton. */
export class TenantSlots {
  readonly #entries = new Map<string, TenantEntry>();
  readonly #closed: () => boolean;
  readonly #grant: (tenant: string, service: string, version: number) => Promise<SealBlock>;

  /** `grant` reserves the next block of seals of an L3 version durably (src/krypton/seal-reservations.ts). */
  constructor(closed: () => boolean, grant: (tenant: string, service: string, version: number) => Promise<SealBlock>) {
    this.#closed = closed;
    this.#grant = grant;
  }

  get(tenant: string): TenantEntry | undefined {
    return this.#entries.get(tenant);
  }

  has(tenant: string): boolean {
    return this.#entries.has(tenant);
  }

  forget(tenant: string): void {
    this.#entries.delete(tenant);
  }

  /** Tenants this node has an entry for (activated, revoked or offboarded here, or asked about). */
  tenants(): string[] {
    return [...this.#entries.keys()];
  }

  /** The tenant's entry, created inactive on first use. */
  entry(tenant: string): TenantEntry {
    return this.#entries.get(tenant) ?? this.reset(tenant);
  }

  /** A fresh entry (zeroising the old one): a tombstone of an earlier offboarded tenant must not leak into a new one. */
  reset(tenant: string): TenantEntry {
    const old = this.#entries.get(tenant);
    if (old !== undefined) this.zeroise(old, 'destroyed');
    const entry: TenantEntry = {
      tenant, state: 'inactive', record: undefined, l2: new Map(), keyrings: new Map(), activation: undefined,
      epoch: (old?.epoch ?? 0) + 1, failures: 0, retryAt: 0, lastFailure: undefined, queue: old?.queue ?? Promise.resolve(),
    };
    this.#entries.set(tenant, entry);
    return entry;
  }

  keyring(entry: TenantEntry, service: string): TenantKeyring {
    let ring = entry.keyrings.get(service);
    if (ring === undefined) {
      const tenant = entry.tenant;
      ring = new TenantKeyring(tenant, service, () => (this.#closed()
        ? closedError()
        : new KryptonError('NOT_ACTIVE', `tenant '${tenant}' is not active on this node`, { tenant })), (version) => this.#grant(tenant, service, version));
      entry.keyrings.set(service, ring);
    }
    return ring;
  }

  /**
   * The tenant's L3 lineage for `service` as a KekProvider (Krypton.kek, the hot path). Synchronous.
   * @throws KmipError TENANT_REVOKED; KryptonError NOT_ACTIVE | UNKNOWN_SERVICE
   */
  kek(tenant: string, service: string): KekProvider {
    const entry = this.#entries.get(tenant);
    if (entry === undefined || entry.state === 'inactive') {
      throw new KryptonError('NOT_ACTIVE', `tenant '${tenant}' is not active on this node; await ensureActive() first`, { tenant });
    }
    if (entry.state === 'revoked') throw revokedError(tenant, 'is revoked (kill-switch)');
    if (entry.state === 'destroyed') throw revokedError(tenant, 'was offboarded (crypto-shredded)');
    const ring = entry.keyrings.get(service);
    if (ring === undefined) throw new KryptonError('UNKNOWN_SERVICE', `tenant '${tenant}' has no service '${service}'`, { tenant });
    return ring;
  }

  /** Zeroises the tenant's slots now (synchronously) and moves it to `state`. */
  zeroise(entry: TenantEntry, state: 'revoked' | 'destroyed'): void {
    const tenant = entry.tenant;
    entry.state = state;
    this.#wipe(entry, state === 'revoked'
      ? (): Error => revokedError(tenant, 'is revoked (kill-switch)')
      : (): Error => revokedError(tenant, 'was offboarded (crypto-shredded)'));
  }

  /** Bumps the epoch and destroys every slot of the entry; held keyrings throw `blocked()` from now on. */
  #wipe(entry: TenantEntry, blocked: () => Error): void {
    entry.epoch += 1;
    for (const k of entry.l2.values()) k.destroy();
    entry.l2.clear();
    for (const ring of entry.keyrings.values()) ring.zeroise(blocked);
  }

  /** Installs what an activation or restore opened from `rec` and makes the tenant active. */
  install(entry: TenantEntry, rec: TenantHierarchy, opened: Unsealed): void {
    for (const k of entry.l2.values()) k.destroy();
    entry.l2.clear();
    for (const [v, k] of opened.l2) entry.l2.set(v, k);
    for (const [service, versions] of opened.l3) {
      const ring = this.keyring(entry, service);
      for (const v of ring.versions) if (!versions.has(v)) ring.drop(v);
      for (const [v, k] of versions) ring.install(v, k);
      ring.setCurrent(rec.currentL3[service] ?? 0);
    }
    entry.record = rec;
    entry.state = 'active';
    entry.failures = 0;
    entry.retryAt = 0;
    entry.lastFailure = undefined;
  }

  /**
   * An active tenant follows `rec` (changed by another node): installs the L2 and L3 slots opened for it, zeroises
   * versions the record no longer holds, and follows currentL3.
   */
  follow(entry: TenantEntry, rec: TenantHierarchy, newL2: ReadonlyMap<number, SecureKey>, newL3: readonly { service: string; version: number; key: SecureKey }[]): void {
    for (const [v, k] of newL2) entry.l2.set(v, k);
    dropL2NotIn(entry, rec);
    for (const x of newL3) this.keyring(entry, x.service).install(x.version, x.key);
    for (const [service, ring] of entry.keyrings) {
      for (const v of ring.versions) if (!rec.l3.some((e) => e.service === service && e.version === v)) ring.drop(v);
      const current = rec.currentL3[service];
      if (current !== undefined) ring.setCurrent(current);
    }
    entry.record = rec;
  }

  /**
   * The node was sealed: every active (or activating) tenant's slots are zeroised and it goes back to inactive,
   * nothing persisted. Returns the number of tenants that were active.
   */
  deactivateAll(blocked: ((tenant: string) => () => Error)): number {
    let n = 0;
    for (const entry of this.#entries.values()) {
      if (entry.state !== 'active' && entry.activation === undefined) continue;
      this.#wipe(entry, blocked(entry.tenant));
      if (entry.state === 'active') {
        entry.state = 'inactive';
        n += 1;
      }
    }
    return n;
  }

  /** Krypton.close(): every slot of every tenant zeroised; held keyrings answer CLOSED. */
  closeAll(): void {
    for (const entry of this.#entries.values()) {
      this.#wipe(entry, closedError);
      if (entry.state === 'active') entry.state = 'inactive';
    }
  }

  /**
   * True when the tenant is revoked (kill-switch) or offboarded on this node: the KMIP gate asks this for every
   * request, so it builds nothing (issue 14).
   */
  isRevokedOrDestroyed(tenant: string): boolean {
    const entry = this.#entries.get(tenant);
    if (entry === undefined) return false;
    if (entry.state === 'destroyed' || entry.state === 'revoked') return true;
    const s = entry.record?.state;
    return s === 'revoked' || s === 'destroyed';
  }

  /** What this node knows about the tenant (no store read: synchronous). */
  status(tenant: string): TenantStatus {
    const entry = this.#entries.get(tenant);
    if (entry === undefined) return { state: 'unknown', active: false, l2Version: 0, l3Versions: {} };
    const rec = entry.record;
    const state: TenantKeyState | 'unknown' =
      entry.state === 'destroyed' ? 'destroyed' : entry.state === 'revoked' ? 'revoked' : rec?.state ?? 'unknown';
    const l3Versions: Record<string, number[]> = {};
    for (const svc of Object.keys(rec?.currentL3 ?? {})) {
      l3Versions[svc] = (rec?.l3 ?? []).filter((e) => e.service === svc).map((e) => e.version).sort((a, b) => a - b);
    }
    return { state, active: entry.state === 'active', l2Version: rec?.currentL2 ?? 0, l3Versions };
  }
}
