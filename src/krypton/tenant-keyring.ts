/**
 * The L3 lineage of one (tenant, service) as the vault's KEK (src/vault/kek.ts KekProvider): id
 * `l3:<tenant>:<service>`, one native slot (SecureKey) per readable L3 version, L4 sealed/opened with AES-256-GCM
 * inside the addon (ARCHITECTURE §2, §3: L3 plaintext never enters JS).
 *
 * The object is LIVE and owned by Krypton: `currentVersion` follows rotateL3, versions appear (rotation) and
 * disappear (dropL3Version, crypto-shredding depth 2), and a kill-switch zeroises every slot at once. A caller that
 * kept a reference across a revocation gets KmipError TENANT_REVOKED from seal/open (fail closed), never stale keys.
 *
 * Seal counter (src/vault/seal-counter.ts): one per installed slot, starting at 0 when the slot is installed, in
 * this process only. NOT persisted yet: an L3 outlives the process, and the KMIP worker processes seal under their
 * own leased copies (src/appliance/lease-resolver.ts), so the count here is a lower bound of the key's invocations
 * across the cluster. Persisting it needs a reservation kept in the hierarchy record (docs/vault.md "Seal counters").
 */
import { NativeError } from '../native/index.js';
import type { SecureKey } from '../native/index.js';
import { EnvelopeError } from '../vault/errors.js';
import { gcmOpenUnder, gcmSealUnder, settle } from '../vault/kek.js';
import { SealCounters } from '../vault/seal-counter.js';
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
  readonly #seals: SealCounters;
  /** Set while the keyring must refuse (revoked, offboarded, closed); thrown by seal/open. */
  #blocked: () => Error;

  constructor(tenant: string, service: string, blocked: () => Error) {
    this.id = l3KeyId(tenant, service);
    this.#seals = new SealCounters(this.id);
    this.tenant = tenant;
    this.service = service;
    this.#blocked = blocked;
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
    this.#seals.reset(version);
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
    this.#seals.reset(version);
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

  seal(version: number, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return settle(() => gcmSealUnder(this.#key(version), nonce, plaintext, aad, this.#seals.of(version)));
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

