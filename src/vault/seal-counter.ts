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

/** The one refusal of every counter: `key` (a key id and version) has done `count` invocations of at most `max`. */
export function keyExhausted(key: string, count: number, max: number): EnvelopeError {
  return new EnvelopeError('KEY_EXHAUSTED', `key ${key} has sealed ${String(count)} times; the limit is ${String(max)} AES-GCM invocations with random nonces per key (NIST SP 800-38D §8.3): rotate it`);
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
    if (this.#count + n > max) throw keyExhausted(this.key, this.#count, max);
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

/**
 * Invocations of one key counted by its owner across processes and restarts: numbers `start .. end-1` of the key's
 * invocations, reserved durably (the owner wrote the new high-water mark `end` before handing the block out), for
 * one holder only. Blocks never overlap, so the owner's mark is at least every seal done under the key anywhere.
 */
export interface SealBlock {
  readonly start: number;
  readonly end: number;
}

/**
 * Invocations reserved per durable write of a key's seal count (krypton's L3, docs/vault.md "Seal counters"): the
 * `vault.sealReservationBlock` default. Each block costs one durable write; what a process has not used of its
 * blocks when it stops (at most two per key: the current one and the next, asked for at half) is lost, counted as
 * used, so the key is rotated that much earlier, never later. 2^20 is one write per million seals and at most
 * 2^21 of the 2^32 lost per process restart.
 */
export const DEFAULT_SEAL_RESERVATION_BLOCK = 2 ** 20;
/**
 * The largest block a configuration may ask for: every restart of every process that sealed may lose up to two
 * blocks, so a block near the limit would exhaust a busy tenant's key in a few restarts (a denial of service by
 * configuration: every object created after it fails until the key is rotated). 2^24 keeps 128 restarts per
 * worker before a key is spent by restarts alone.
 */
export const MAX_SEAL_RESERVATION_BLOCK = 2 ** 24;

/**
 * The counter of a key that outlives the process and that several processes seal under (krypton's L3: the owner of
 * the key hierarchy and every KMIP worker holding a leased copy). The count of record is the owner's: `grant` asks
 * it for the next {@link SealBlock}, which it has persisted before answering; this counter only hands out numbers
 * from blocks it was granted, so a seal is never done uncounted.
 *
 * The hot path is synchronous: {@link take} counts from the current block (no promise, no allocation). When half
 * of the block is used the next one is asked for in the background, so a steady stream of seals never waits; if
 * the blocks run out anyway {@link available} is false and the caller waits for {@link refill}. A grant refused
 * with KEY_EXHAUSTED is final for this counter (the owner's count reached the limit); any other failure is the
 * waiting seals' and the next seal asks again.
 */
export class ReservedSealCounter {
  readonly key: string;
  readonly #grant: () => Promise<SealBlock>;
  /** The current block: the next invocation number, and the end (exclusive). Empty at first. */
  #next = 0;
  #end = 0;
  /** A block granted ahead of need, used when the current one runs out; empty when spareEnd === spareStart. */
  #spareStart = 0;
  #spareEnd = 0;
  /** When #next reaches it, the next block is asked for (half of the current one). */
  #askAt = 0;
  #asking: Promise<void> | undefined;
  #exhausted: Error | undefined;
  #count = 0;

  /** `key` names the key in refusals (a key id and version); `grant` asks the owner for the next block. */
  constructor(key: string, grant: () => Promise<SealBlock>) {
    this.key = key;
    this.#grant = grant;
  }

  /** Seals counted by this counter (in this process). */
  get count(): number {
    return this.#count;
  }

  /** Whether {@link take} can count one invocation now, without waiting for a grant. */
  available(): boolean {
    return this.#next < this.#end || this.#spareEnd > this.#spareStart;
  }

  /**
   * Counts one invocation from a granted block.
   * @throws EnvelopeError KEY_EXHAUSTED past the limit (the owner's, or this process's); Error when no block is
   *         available (a caller bug: it checks {@link available} and waits for {@link refill} first).
   */
  take(): void {
    if (this.#next >= this.#end && !this.#useSpare()) {
      throw this.#exhausted ?? new Error(`key ${this.key} has no reserved invocations: wait for refill() before take()`);
    }
    const max = limit;
    if (this.#next >= max) throw keyExhausted(this.key, this.#next, max);
    this.#next += 1;
    this.#count += 1;
    if (this.#next === this.#askAt) this.#prefetch();
  }

  /** Resolves when a block is available; rejects with the grant's failure (KEY_EXHAUSTED past the limit). */
  refill(): Promise<void> {
    if (this.available()) return Promise.resolve();
    return this.#ask();
  }

  #useSpare(): boolean {
    if (this.#spareEnd <= this.#spareStart) return false;
    this.#use(this.#spareStart, this.#spareEnd);
    this.#spareStart = 0;
    this.#spareEnd = 0;
    return true;
  }

  #use(start: number, end: number): void {
    this.#next = start;
    this.#end = end;
    this.#askAt = start + Math.ceil((end - start) / 2);
  }

  #prefetch(): void {
    // A failed prefetch is not retried before the block runs out (then a waiting seal asks): no storm of grants.
    if (this.#spareEnd <= this.#spareStart && this.#exhausted === undefined) this.#ask().catch(() => undefined);
  }

  #ask(): Promise<void> {
    if (this.#exhausted !== undefined) return Promise.reject(this.#exhausted);
    if (this.#asking !== undefined) return this.#asking;
    let granted: Promise<SealBlock>;
    try {
      granted = this.#grant();
    } catch (e) {
      granted = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const asking = granted.then((b) => {
      this.#asking = undefined;
      this.#accept(b);
    }, (e: unknown) => {
      this.#asking = undefined;
      if (e instanceof EnvelopeError && e.code === 'KEY_EXHAUSTED') this.#exhausted = e;
      throw e;
    });
    this.#asking = asking;
    return asking;
  }

  #accept(b: SealBlock): void {
    const { start, end } = b;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start || end > GCM_RANDOM_NONCE_INVOCATION_LIMIT) {
      throw new RangeError(`key ${this.key}: a seal block must be integers 0 <= start < end <= 2^32, got [${String(start)}, ${String(end)})`);
    }
    if (this.#next >= this.#end) this.#use(start, end);
    else {
      this.#spareStart = start;
      this.#spareEnd = end;
    }
  }
}

/**
 * Grants of a key kept in this process only (from 0, refused past the limit): what a keyring made by a test or a tool
 * counts with. Krypton and the KMIP workers' lease resolver always grant durably (src/krypton/seal-reservations.ts).
 */
export function processSealGrant(key: string, block = DEFAULT_SEAL_RESERVATION_BLOCK): () => Promise<SealBlock> {
  let reserved = 0;
  return () => {
    const max = limit;
    if (reserved >= max) return Promise.reject(keyExhausted(key, reserved, max));
    const start = reserved;
    reserved = Math.min(start + block, max);
    return Promise.resolve({ start, end: reserved });
  };
}
