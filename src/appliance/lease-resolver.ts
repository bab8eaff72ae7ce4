/**
 * The vault's KEK resolver inside a KMIP worker process (src/vault/kek.ts KekResolver; issue 14 Deliver 6): each
 * tenant's L3 lineage is leased from the primary process, which holds the key hierarchy (ARCHITECTURE §5: "Krypton
 * grants a gateway a lease on a tenant's L3 ... the gateway wraps and unwraps L4 locally in native memory").
 *
 * - The first use of a tenant asks the primary (which activates the tenant through L1 if it must) and installs each
 *   L3 version, unwrapped from the transport key straight into a native slot (./transport-key.ts). Every later use is
 *   synchronous: the same live keyring as krypton's own (src/krypton/tenant-keyring.ts).
 * - The primary pushes what must bite at once: a revocation or an offboarding zeroises the tenant's slots here
 *   ({@link LeaseResolver.revoke}), sealing the node zeroises all of them ({@link LeaseResolver.revokeAll}), a
 *   rotation or a dropped L3 version makes the worker lease the lineage again ({@link LeaseResolver.rekey}).
 * - A local worker holds its lease until one of those, or until the primary goes away (the worker then exits): the
 *   link is an in-host IPC channel, so there is no TTL to wait out.
 * - Seals under a leased L3 count against the key's one durable count (NIST SP 800-38D §8.3): the keyring seals
 *   only within blocks of invocations the primary reserved in the hierarchy record for this worker
 *   ({@link LeaseSource.reserveSeals}, src/krypton/seal-reservations.ts), asking for the next one at half.
 */
import { KmipError } from '../kmip/errors.js';
import type { SecureKey } from '../native/index.js';
import { TenantKeyring } from '../krypton/tenant-keyring.js';
import type { KekProvider, KekResolver } from '../vault/kek.js';
import type { SealBlock } from '../vault/seal-counter.js';
import type { Lease } from './ipc.js';
import { unwrapFromTransport } from './transport-key.js';

/** The service every KMIP object of a tenant is sealed under (src/krypton/krypton.ts DEFAULT_SERVICE). */
const SERVICE = 'kmip';

const notLeased = (tenant: string) => (): Error => new KmipError('TENANT_UNAVAILABLE', `tenant '${tenant}' has no key lease on this worker yet; retry`);

/** What the worker asks the primary for (src/appliance/primary.ts leaseLineage, reserveSealsFor). */
export interface LeaseSource {
  /** The tenant's lineage; rejects with the KMIP error the primary gave. */
  lease(tenant: string): Promise<Lease>;
  /** The next block of seals of L3 `version` for this worker, reserved durably; EnvelopeError KEY_EXHAUSTED past the limit. */
  reserveSeals(tenant: string, version: number): Promise<SealBlock>;
}

export class LeaseResolver implements KekResolver {
  readonly #request: (tenant: string) => Promise<Lease>;
  readonly #reserve: (tenant: string, version: number) => Promise<SealBlock>;
  readonly #transport: () => SecureKey;
  readonly #legacy: ReadonlyMap<string, KekProvider>;
  readonly #rings = new Map<string, TenantKeyring>();
  readonly #pending = new Map<string, Promise<TenantKeyring>>();
  /** Bumped by every revocation of a tenant: a lease that arrives after one is discarded. */
  readonly #epoch = new Map<string, number>();

  /**
   * @param source asks the primary for leases and blocks of seals.
   * @param transport this worker's transport key (a slot).
   * @param legacy providers of older lineages that only open (the development KEK being migrated).
   */
  constructor(source: LeaseSource, transport: () => SecureKey, legacy: readonly KekProvider[] = []) {
    this.#request = (tenant) => source.lease(tenant);
    this.#reserve = (tenant, version) => source.reserveSeals(tenant, version);
    this.#transport = transport;
    this.#legacy = new Map(legacy.map((k) => [k.id, k]));
  }

  #usable(tenant: string): TenantKeyring | undefined {
    const ring = this.#rings.get(tenant);
    return ring !== undefined && ring.currentVersion > 0 && ring.slot(ring.currentVersion) !== undefined ? ring : undefined;
  }

  sealingKek(tenant: string): KekProvider | Promise<KekProvider> {
    return this.#usable(tenant) ?? this.#lease(tenant);
  }

  openingKek(tenant: string, keyId: string): KekProvider | Promise<KekProvider> {
    const old = this.#legacy.get(keyId);
    if (old === undefined) return this.sealingKek(tenant);
    // A legacy envelope still obeys the kill-switch: the tenant must be leasable (not revoked).
    return this.#usable(tenant) !== undefined ? old : this.#lease(tenant).then(() => old);
  }

  /** Whether the tenant's lineage is held here now (tests, status). */
  holds(tenant: string): boolean {
    return this.#usable(tenant) !== undefined;
  }

  #lease(tenant: string): Promise<TenantKeyring> {
    let p = this.#pending.get(tenant);
    if (p === undefined) {
      const epoch = this.#epoch.get(tenant) ?? 0;
      p = this.#request(tenant)
        .then((lease) => this.#install(tenant, lease, epoch))
        .finally(() => { this.#pending.delete(tenant); });
      this.#pending.set(tenant, p);
    }
    return p;
  }

  #install(tenant: string, lease: Lease, epoch: number): TenantKeyring {
    if ((this.#epoch.get(tenant) ?? 0) !== epoch) throw new KmipError('TENANT_REVOKED', 'this tenant\'s keys are revoked (kill-switch)');
    let ring = this.#rings.get(tenant);
    if (ring === undefined) {
      ring = new TenantKeyring(tenant, SERVICE, notLeased(tenant), (version) => this.#reserve(tenant, version));
      this.#rings.set(tenant, ring);
    }
    if (ring.id !== lease.keyId) throw new KmipError('GENERAL_FAILURE', `lease of lineage ${lease.keyId} for tenant ${tenant}`);
    const transport = this.#transport();
    const leased = new Set<number>();
    for (const v of lease.versions) {
      ring.install(v.version, unwrapFromTransport(transport, v.wrapped));
      leased.add(v.version);
    }
    // Versions dropped at the source (crypto-shredding depth 2) go here too.
    for (const v of ring.versions) if (!leased.has(v)) ring.drop(v);
    ring.setCurrent(lease.current);
    return ring;
  }

  /** The kill-switch pushed by the primary: the tenant's slots are zeroised now; held keyrings refuse. */
  revoke(tenant: string, blocked: () => Error): void {
    this.#epoch.set(tenant, (this.#epoch.get(tenant) ?? 0) + 1);
    this.#rings.get(tenant)?.zeroise(blocked);
  }

  /** The node was sealed: every tenant's slots are zeroised; the next use leases again (after the unseal). */
  revokeAll(blocked: () => Error): void {
    for (const tenant of this.#rings.keys()) this.revoke(tenant, blocked);
  }

  /** The tenant's lineage changed at the source: lease it again (in the background; failures are the next use's). */
  rekey(tenant: string): Promise<void> {
    if (!this.#rings.has(tenant)) return Promise.resolve();
    const epoch = this.#epoch.get(tenant) ?? 0;
    return this.#request(tenant).then((lease) => { this.#install(tenant, lease, epoch); }, () => undefined);
  }

  /** Zeroises everything (worker shutdown). */
  close(): void {
    for (const ring of this.#rings.values()) ring.zeroise(() => new KmipError('SERVER_SEALED', 'the worker is shutting down'));
    this.#rings.clear();
  }
}
