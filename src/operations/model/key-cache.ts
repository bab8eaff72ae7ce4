/**
 * The DEK cache of the cryptographic operations (issue 3 §5): a symmetric key opened from the
 * vault goes into a native locked slot (SecureKey) and stays there, keyed by tenant and UID, so
 * the next Encrypt/Decrypt on it neither unseals the envelope again nor brings the key into the
 * JS heap.
 *
 * Wiping: every way out of the cache destroys (zeroises) the slot — LRU eviction, an explicit
 * {@link KeyCache.evict} (Revoke, Destroy), a record version that no longer matches (the object
 * changed since the key was opened: its material may have been replaced, e.g. by Undo), and
 * {@link KeyCache.clear} at shutdown.
 *
 * The API is synchronous on purpose: a handler takes the key with {@link KeyCache.peek} or
 * {@link KeyCache.put} and uses it in the same synchronous stretch, so no other request can
 * evict (destroy) it in between.
 */
import { SecureKey } from '../../native/index.js';

/**
 * Most keys held at once. Bounds the native arena a tenant's clients can pin by touching many
 * keys (without it, a client cycling through UIDs would fill every slot: ARENA_FULL for the
 * vault and the hierarchy). The arena has 768 small slots by default (src/native/limits.ts);
 * this leaves a third of them to everything else.
 */
export const DEFAULT_MAX_CACHED_KEYS = 512;

interface Entry {
  readonly key: SecureKey;
  /** The store's record version when the key was opened (undefined: the store keeps none). */
  readonly version: number | undefined;
}

function cacheKey(tenant: string, uid: string): string {
  // A NUL cannot occur in a tenant name, so (tenant, uid) pairs cannot collide.
  return `${tenant}\u0000${uid}`;
}

export class KeyCache {
  /** Map iteration order is insertion order: the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  /** The entry at the most-recently-used end of #entries (set by peek and put; a dropped entry never matches). */
  #newest: Entry | undefined;

  constructor(maxEntries: number = DEFAULT_MAX_CACHED_KEYS) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${String(maxEntries)}`);
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The cached key of (tenant, uid) when it was opened from the same record version; a stale
   * entry is destroyed and undefined returned.
   */
  peek(tenant: string, uid: string, version: number | undefined): SecureKey | undefined {
    const k = cacheKey(tenant, uid);
    const e = this.#entries.get(k);
    if (e === undefined) return undefined;
    if (e.version !== version || e.key.destroyed) {
      this.#drop(k, e);
      return undefined;
    }
    // Move to the most-recently-used end, unless it is there already (a batch of items on one key: issue 14).
    if (e !== this.#newest) {
      this.#entries.delete(k);
      this.#entries.set(k, e);
      this.#newest = e;
    }
    return e.key;
  }

  /**
   * Imports `material` into a slot (the addon wipes `material`), caches it and returns it. An
   * older entry of the same UID is destroyed; the least recently used entries go when full.
   */
  put(tenant: string, uid: string, version: number | undefined, material: Uint8Array): SecureKey {
    const k = cacheKey(tenant, uid);
    const old = this.#entries.get(k);
    if (old !== undefined) this.#drop(k, old);
    while (this.#entries.size >= this.#max) {
      const first = this.#entries.entries().next();
      if (first.done === true) break;
      this.#drop(first.value[0], first.value[1]);
    }
    const key = SecureKey.import(material);
    const e = { key, version };
    this.#entries.set(k, e);
    this.#newest = e;
    return key;
  }

  /** Destroys the cached key of (tenant, uid), if any (Revoke, Destroy, material change). */
  evict(tenant: string, uid: string): void {
    const k = cacheKey(tenant, uid);
    const e = this.#entries.get(k);
    if (e !== undefined) this.#drop(k, e);
  }

  /**
   * Destroys every cached key of `tenant` (the kill-switch: a revoked tenant's DEKs must not outlive its L2/L3,
   * ARCHITECTURE §5). Returns how many were destroyed.
   */
  evictTenant(tenant: string): number {
    const prefix = cacheKey(tenant, '');
    let n = 0;
    for (const [k, e] of [...this.#entries]) {
      if (k.startsWith(prefix)) {
        this.#drop(k, e);
        n++;
      }
    }
    return n;
  }

  /** Destroys every cached key (server shutdown). */
  clear(): void {
    for (const [k, e] of [...this.#entries]) this.#drop(k, e);
  }

  #drop(k: string, e: Entry): void {
    if (e === this.#newest) this.#newest = undefined;
    this.#entries.delete(k);
    e.key.destroy();
  }
}
