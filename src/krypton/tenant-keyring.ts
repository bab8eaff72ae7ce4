/**
 * The L3 lineage of one (tenant, service) as the vault's KEK (src/vault/kek.ts KekProvider): id
 * `l3:<tenant>:<service>`, one native slot (SecureKey) per readable L3 version, L4 sealed/opened with AES-256-GCM
 * inside the addon (ARCHITECTURE §2, §3: L3 plaintext never enters JS).
 *
 * The object is LIVE and owned by Krypton: `currentVersion` follows rotateL3, versions appear (rotation) and
 * disappear (dropL3Version, crypto-shredding depth 2), and a kill-switch zeroises every slot at once. A caller that
 * kept a reference across a revocation gets KmipError TENANT_REVOKED from seal/open (fail closed), never stale keys.
 */
import { gcmSeal, NativeError } from '../native/index.js';
import type { SecureKey } from '../native/index.js';
import { EnvelopeError, KekError } from '../vault/errors.js';
import { GCM_NONCE_BYTES, GCM_TAG_BYTES, gcmOpenUnder, settle } from '../vault/kek.js';
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
  /** Set while the keyring must refuse (revoked, offboarded, closed); thrown by seal/open. */
  #blocked: () => Error;

  constructor(tenant: string, service: string, blocked: () => Error) {
    this.id = l3KeyId(tenant, service);
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
    return settle(() => {
      const key = this.#key(version);
      if (nonce.length !== GCM_NONCE_BYTES) throw new KekError('INVALID_ARGUMENT', `nonce must be ${String(GCM_NONCE_BYTES)} bytes`);
      const out = gcmSeal(key, nonce, plaintext, aad, GCM_TAG_BYTES);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    });
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

