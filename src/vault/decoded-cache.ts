/**
 * The vault's cache of decoded records (src/vault/base-vault.ts #lookup), bounded in entries and in stored bytes.
 */
import { VaultError } from './errors.js';
import type { VaultRecord } from './store.js';

/**
 * Decoded records the vault keeps, in the order they were decoded (issue 7: decoding the stored record was the largest
 * single cost of a KMIP Get, 9-16% of its CPU). An entry is reused only while the stored value is byte-for-byte
 * what was decoded and carries the same version, so no write path has to remember to invalidate it: a write, a
 * delete and re-create, or another process's commit all change the bytes the next read compares. Entries hold
 * only what LMDB holds (the sealed envelope, never plaintext). 4,096 records of ~2 KiB decoded stay under ~10 MiB;
 * beyond the bound the entry decoded first goes, so a scan of a large vault costs one Map update per read, not memory.
 */
export const DECODED_RECORD_CACHE_ENTRIES = 4_096;

/**
 * Stored bytes the decoded-record cache may hold in all (issue 15 Deliver 2: caps in bytes, not only in entries).
 * A record can be ~2 MiB (a large Opaque Object with many attributes), so 4,096 of them would be gigabytes; the
 * byte cap keeps the cache, decoded form included (about three times the stored bytes), near 100 MiB at worst.
 * A tenant client reading many large objects only evicts other entries; it cannot grow memory past the cap.
 */
export const DECODED_RECORD_CACHE_BYTES = 32 * 1024 * 1024;

/** Ceiling of `vault.decodedCacheBytes`, so a typo cannot turn the byte cap into no cap (the decoded form is ~3x). */
export const DECODED_RECORD_CACHE_BYTES_MAX = 1024 * 1024 * 1024;

/** Larger records are decoded on every read, never cached: one of them would evict hundreds of small ones. */
export const DECODED_RECORD_CACHE_MAX_RECORD_BYTES = 1024 * 1024;

export interface DecodedEntry {
  /** The record's LMDB key, kept so a read that finds its entry does not build the key again. */
  readonly key: Buffer;
  readonly bytes: Buffer;
  readonly version: number;
  readonly record: VaultRecord;
}

export class DecodedRecordCache {
  /** Keyed by `tenant\0uid`. */
  readonly #map = new Map<string, DecodedEntry>();
  /**
   * Insertion order for eviction, as a ring of keys. Not `#map.keys().next()`: a Map that is evicted from its
   * front keeps its deleted slots until it rehashes, and the iterator walks over all of them, which made a miss on
   * a large vault cost more than the decode it was meant to save (vault.bench: get at 100k objects 10.6 → 20.8 µs).
   */
  readonly #ring: (string | undefined)[] = new Array<string | undefined>(DECODED_RECORD_CACHE_ENTRIES).fill(undefined);
  #next = 0;
  /** Stored bytes held by the cache ({@link DECODED_RECORD_CACHE_BYTES}). */
  #bytes = 0;
  /** The byte cap in force (BaseVaultOptions.decodedCacheBytes). */
  readonly #cap: number;

  /** @throws VaultError INVALID_RECORD outside 0..{@link DECODED_RECORD_CACHE_BYTES_MAX} */
  constructor(capBytes: number) {
    if (!Number.isSafeInteger(capBytes) || capBytes < 0 || capBytes > DECODED_RECORD_CACHE_BYTES_MAX) {
      throw new VaultError('INVALID_RECORD', `decodedCacheBytes must be an integer from 0 to ${String(DECODED_RECORD_CACHE_BYTES_MAX)}, got ${String(capBytes)}`);
    }
    this.#cap = capBytes;
  }

  get(ck: string): DecodedEntry | undefined {
    return this.#map.get(ck);
  }

  /** Caches a freshly decoded record ({@link DECODED_RECORD_CACHE_ENTRIES}, {@link DECODED_RECORD_CACHE_BYTES}). */
  remember(ck: string, stale: DecodedEntry | undefined, key: Buffer, value: Buffer, version: number, record: VaultRecord): void {
    if (stale !== undefined) {
      this.#map.delete(ck);
      this.#bytes -= stale.bytes.length;
    }
    if (value.length > DECODED_RECORD_CACHE_MAX_RECORD_BYTES || value.length > this.#cap) return;
    if (stale === undefined) {
      // A new key takes the ring's next position and evicts whatever key held it (possibly already replaced).
      this.#evictRingSlot(this.#next);
      this.#ring[this.#next] = ck;
      this.#next = (this.#next + 1) % DECODED_RECORD_CACHE_ENTRIES;
    }
    // Over the byte cap: the oldest entries go, in ring order (the new entry is the newest, so it is reached last).
    for (let n = 0; this.#bytes + value.length > this.#cap && n < DECODED_RECORD_CACHE_ENTRIES; n++) {
      const at = (this.#next + n) % DECODED_RECORD_CACHE_ENTRIES;
      if (this.#ring[at] !== ck) this.#evictRingSlot(at);
    }
    // e.value is the engine's shared read buffer: keep a copy to compare against.
    this.#map.set(ck, { key, bytes: Buffer.from(value), version, record });
    this.#bytes += value.length;
  }

  #evictRingSlot(at: number): void {
    const evicted = this.#ring[at];
    if (evicted === undefined) return;
    this.#ring[at] = undefined;
    const e = this.#map.get(evicted);
    if (e === undefined) return;
    this.#map.delete(evicted);
    this.#bytes -= e.bytes.length;
  }

  get stats(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.#map.size, bytes: this.#bytes };
  }

  clear(): void {
    this.#map.clear();
    this.#ring.fill(undefined);
    this.#bytes = 0;
  }
}
