/**
 * The L3 lineage of one (tenant, service) as the vault's KEK (src/vault/kek.ts KekProvider): id
 * `l3:<tenant>:<service>`, one native slot (SecureKey) per readable L3 version, L4 sealed/opened with AES-256-GCM
 * inside the addon (ARCHITECTURE §2, §3: L3 plaintext never enters JS).
 *
 * The object is LIVE and owned by Krypton: `currentVersion` follows rotateL3, versions appear (rotation) and
 * disappear (dropL3Version, crypto-shredding depth 2), and a kill-switch zeroises every slot at once. A caller that
 * kept a reference across a revocation gets KmipError TENANT_REVOKED from seal/open (fail closed), never stale keys.
 *
 * Seal counter (src/vault/seal-counter.ts ReservedSealCounter, NIST SP 800-38D §8.3): an L3 outlives the process,
 * and krypton's owner process and every KMIP worker (src/appliance/lease-resolver.ts) seal under their own copy, so
 * the count of record is a reservation kept with the L3 version in the hierarchy record (StoredL3.reserved). The
 * owner of krypton grants blocks of invocations, writing the new high-water mark durably before handing a block out
 * (src/krypton/seal-reservations.ts); this keyring seals only with numbers from blocks granted to it (`grant`, per
 * version), asks for the next block when half of the current one is used, and when it has none the seal waits for
 * the grant (refused past the limit: EnvelopeError KEY_EXHAUSTED). A restart resumes from the stored mark; what was
 * granted and not used is lost, which only over-counts. Installing a slot starts a new counter for that version (a
 * re-onboarded tenant's v1 is another key, counted in its own record), dropping blocks not used.
 */
import { NativeError } from '../native/index.js';
import type { SecureKey } from '../native/index.js';
import { EnvelopeError } from '../vault/errors.js';
import { gcmOpenUnder, gcmSealUnder, settle } from '../vault/kek.js';
import { processSealGrant, ReservedSealCounter } from '../vault/seal-counter.js';
import type { SealBlock } from '../vault/seal-counter.js';
import type { KekProvider } from '../vault/kek.js';

export function l3KeyId(tenant: string, service: string): string {
  return `l3:${tenant}:${service}`;
}

export class TenantKeyring implements KekProvider {
  readonly id: string;
  readonly tenant: string;
  readonly service: string;
  readonly #keys = new Map<number, SecureKey>();
  /** Versions this lineage holds, even while zeroised: a revoked keyring answers hasVersion() true so that the
   *  caller reaches seal/open and gets TENANT_REVOKED, not a misleading WRONG_KEY. */
  readonly #known = new Set<number>();
  #current = 0;
  /** Seal counters by version, made on the version's first seal after its slot was installed. */
  readonly #seals = new Map<number, ReservedSealCounter>();
  readonly #grant: ((version: number) => Promise<SealBlock>) | undefined;
  /** Set while the keyring must refuse (revoked, offboarded, closed); thrown by seal/open. */
  #blocked: () => Error;

  /**
   * `grant(version)` asks the owner of the hierarchy for the next durably reserved block of seals of `version`
   * (krypton, or the primary through a lease). Without it (tests, tools) the count is kept in this process only.
   */
  constructor(tenant: string, service: string, blocked: () => Error, grant?: (version: number) => Promise<SealBlock>) {
    this.id = l3KeyId(tenant, service);
    this.tenant = tenant;
    this.service = service;
    this.#blocked = blocked;
    this.#grant = grant;
  }

  get currentVersion(): number {
    return this.#current;
  }

  /** Versions of the lineage (readable while active), ascending. */
  get versions(): number[] {
    return [...this.#known].sort((a, b) => a - b);
  }

  hasVersion(version: number): boolean {
    return this.#known.has(version);
  }

  /** @internal Krypton: takes ownership of `key` (replacing and zeroising a previous slot of that version). */
  install(version: number, key: SecureKey): void {
    this.#keys.get(version)?.destroy();
    this.#keys.set(version, key);
    this.#seals.delete(version);
    this.#known.add(version);
  }

  /** @internal Krypton: after a durable rotateL3. */
  setCurrent(version: number): void {
    if (!this.#keys.has(version)) throw new Error(`keyring ${this.id} has no version ${String(version)}`);
    this.#current = version;
  }

  /** @internal The slot of `version` (for re-sealing under a rotated L2), or undefined. */
  slot(version: number): SecureKey | undefined {
    return this.#keys.get(version);
  }

  /** @internal Crypto-shredding depth 2: zeroise one version's slot. */
  drop(version: number): void {
    this.#keys.get(version)?.destroy();
    this.#keys.delete(version);
    this.#seals.delete(version);
    this.#known.delete(version);
  }

  /** @internal Kill-switch / offboard / close: zeroise every slot; later seal/open throw `blocked()`. */
  zeroise(blocked: () => Error): void {
    this.#blocked = blocked;
    for (const key of this.#keys.values()) key.destroy();
    this.#keys.clear();
  }

  #key(version: number): SecureKey {
    const key = this.#keys.get(version);
    if (key !== undefined) return key;
    if (this.#known.has(version)) throw this.#blocked();
    throw new EnvelopeError('WRONG_KEY', `KEK '${this.id}' has no version ${String(version)}`);
  }

  /** The seal counter of `version` (tests and status: {@link ReservedSealCounter.count}). */
  sealCounter(version: number): ReservedSealCounter {
    let c = this.#seals.get(version);
    if (c === undefined) {
      const key = `'${this.id}' v${String(version)}`;
      const grant = this.#grant;
      c = new ReservedSealCounter(key, grant === undefined ? processSealGrant(key) : () => grant(version));
      this.#seals.set(version, c);
    }
    return c;
  }

  /**
   * Synchronous while the version's counter holds a granted block (the Create hot path gains no await); otherwise
   * the seal waits for the next block, and fails with the grant's error (KEY_EXHAUSTED past the limit).
   */
  seal(version: number, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    if (this.#keys.has(version)) {
      const counter = this.sealCounter(version);
      if (!counter.available()) return counter.refill().then(() => this.seal(version, nonce, plaintext, aad));
      return settle(() => gcmSealUnder(this.#key(version), nonce, plaintext, aad, counter));
    }
    return settle(() => gcmSealUnder(this.#key(version), nonce, plaintext, aad, this.sealCounter(version)));
  }

  open(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return settle(() => this.openSync(version, nonce, sealed, aad));
  }

  openSync(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
    const key = this.#key(version);
    try {
      return gcmOpenUnder(key, nonce, sealed, aad);
    } catch (cause) {
      // Zeroised under our feet (a revocation between #key and the addon call): the refusal, not a native error.
      if (cause instanceof NativeError && cause.code === 'STALE_KEY') throw this.#blocked();
      throw cause;
    }
  }
}

