/**
 * Seal counters: how many AES-GCM encryptions one key has done with random 96-bit nonces, refused past the NIST
 * limit (HashiCorp Vault's barrier keeps the same count per key term).
 *
 * NIST SP 800-38D §8.3: with nonces that are random 96-bit strings (the RBG construction of §8.2.2), "the total
 * number of invocations of the authenticated encryption function shall not exceed 2^32" for a given key; past it,
 * the probability of two invocations sharing a nonce (which reveals the GHASH key and the XOR of two plaintexts)
 * exceeds 2^-32. Decryption does not count. Every seal under a key this process holds goes through
 * {@link SealCounter.take} before the cipher runs, so the refusal happens before the 2^32+1-th nonce is drawn.
 *
 * The count lives in TypeScript, next to the object that owns the key (a KEK provider's version, a krypton L2
 * slot, the MasterKey): the native surface stays tiny and dumb (STYLE.md §6). Where each count starts after a
 * restart, and why, is written at each owner (docs/vault.md "Seal counters").
 */
import { EnvelopeError } from './errors.js';

/** NIST SP 800-38D §8.3: at most 2^32 invocations of GCM encryption with random 96-bit IVs per key. */
export const GCM_RANDOM_NONCE_INVOCATION_LIMIT = 2 ** 32;

let limit = GCM_RANDOM_NONCE_INVOCATION_LIMIT;

/** The limit in force for every counter of this process (default {@link GCM_RANDOM_NONCE_INVOCATION_LIMIT}). */
export function gcmSealLimit(): number {
  return limit;
}

/**
 * Lowers (or restores) the per-key invocation limit of this process. Tests set it low to reach the limit; an
 * operator may set it lower to rotate keys earlier. It can never be raised above the NIST limit.
 * @throws RangeError outside 1..{@link GCM_RANDOM_NONCE_INVOCATION_LIMIT}
 */
export function setGcmSealLimit(invocations: number = GCM_RANDOM_NONCE_INVOCATION_LIMIT): void {
  if (!Number.isSafeInteger(invocations) || invocations < 1 || invocations > GCM_RANDOM_NONCE_INVOCATION_LIMIT) {
    throw new RangeError(`the GCM seal limit must be an integer in 1..2^32 (NIST SP 800-38D §8.3), got ${String(invocations)}`);
  }
  limit = invocations;
}

/** The invocation count of one key. */
export class SealCounter {
  /** Names the key in the refusal (a key id and version, never key material). */
  readonly key: string;
  #count: number;
  readonly #persist: ((count: number) => void) | undefined;

  /**
   * `initial` is the count persisted with the key (0 for a new key); `persist`, when the key outlives the process,
   * stores the new count durably before the seal proceeds (if it throws, the seal is refused).
   */
  constructor(key: string, initial = 0, persist?: (count: number) => void) {
    if (!Number.isSafeInteger(initial) || initial < 0) throw new RangeError(`a seal count must be a non-negative integer, got ${String(initial)}`);
    this.key = key;
    this.#count = initial;
    this.#persist = persist;
  }

  /** Invocations counted so far (including ones whose cipher call then failed: a nonce may have been used). */
  get count(): number {
    return this.#count;
  }

  /**
   * Counts `n` invocations about to happen, or refuses them all.
   * @throws EnvelopeError KEY_EXHAUSTED when the count would pass the limit; nothing is counted then.
   */
  take(n = 1): void {
    const max = limit;
    if (this.#count + n > max) {
      throw new EnvelopeError('KEY_EXHAUSTED', `key ${this.key} has sealed ${String(this.#count)} times; the limit is ${String(max)} AES-GCM invocations with random nonces per key (NIST SP 800-38D §8.3): rotate it`);
    }
    this.#count += n;
    this.#persist?.(this.#count);
  }
}

/** One counter per key version of a lineage (KEK providers and krypton's keyrings). */
export class SealCounters {
  readonly #id: string;
  readonly #byVersion = new Map<number, SealCounter>();

  constructor(id: string) {
    this.#id = id;
  }

  /** The counter of `version`, created at 0 on first use. */
  of(version: number): SealCounter {
    let c = this.#byVersion.get(version);
    if (c === undefined) {
      c = new SealCounter(`'${this.#id}' v${String(version)}`);
      this.#byVersion.set(version, c);
    }
    return c;
  }

  /** A version's slot was replaced or dropped: its new key starts at 0. */
  reset(version: number): void {
    this.#byVersion.delete(version);
  }
}
