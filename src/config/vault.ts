/** `vault`: the storage layer's settings (src/vault; docs/configuration.md). */
import { checkKeys, ConfigError } from '../common/config-error.js';
import { DECODED_RECORD_CACHE_BYTES_MAX } from '../vault/base-vault.js';
import { DEFAULT_SEAL_RESERVATION_BLOCK, MAX_SEAL_RESERVATION_BLOCK } from '../vault/seal-counter.js';

/** Vault settings read from the config file's free-form `vault` section (docs/configuration.md). */
export interface VaultSettings {
  /** LMDB directory, relative to the data directory. Default "vault". */
  readonly path: string;
  /** Development KEK file (32 bytes, mode 0600, created when absent), relative to the data directory. Default "kek.key". */
  readonly kekFile: string;
  /** Initial LMDB map size in bytes (lmdb-js grows it on demand). */
  readonly mapSize?: number;
  /**
   * What seals the material: "hierarchy" (default: each tenant's L3, issue 4) or "dev" (the single development
   * KEK file, the wiring before the hierarchy; development and migration tests only).
   */
  readonly kek: 'hierarchy' | 'dev';
  /**
   * Stored bytes the vault's decoded-record cache may hold (src/vault/base-vault.ts DECODED_RECORD_CACHE_BYTES,
   * 32 MiB by default; 0 turns the cache off). Issue 15: the cache is capped in bytes so that a tenant reading many
   * large records cannot grow the server's memory past it.
   */
  readonly decodedCacheBytes?: number;
  /**
   * AES-GCM seals under a tenant's L3 reserved per durable write of the L3's seal count (src/vault/seal-counter.ts
   * DEFAULT_SEAL_RESERVATION_BLOCK, 2^20; 1..MAX_SEAL_RESERVATION_BLOCK, 2^24): smaller blocks mean more writes,
   * larger ones lose more of the key's 2^32 invocations at every restart (docs/vault.md "Seal counters").
   */
  readonly sealReservationBlock: number;
}

export function vaultSettings(section: Readonly<Record<string, unknown>>): VaultSettings {
  checkKeys('vault', section, ['path', 'kekFile', 'mapSize', 'kek', 'decodedCacheBytes', 'sealReservationBlock']);
  const kek = section.kek ?? 'hierarchy';
  if (kek !== 'hierarchy' && kek !== 'dev') throw new ConfigError('vault.kek must be "hierarchy" or "dev"');
  const str = (k: 'path' | 'kekFile', dflt: string): string => {
    const v = section[k];
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`vault.${k} must be a non-empty string`);
    return v;
  };
  const mapSize = section.mapSize;
  if (mapSize !== undefined && (typeof mapSize !== 'number' || !Number.isSafeInteger(mapSize) || mapSize < 1024 * 1024)) {
    throw new ConfigError('vault.mapSize must be an integer of at least 1048576 bytes');
  }
  const decodedCacheBytes = section.decodedCacheBytes;
  if (decodedCacheBytes !== undefined && (typeof decodedCacheBytes !== 'number' || !Number.isSafeInteger(decodedCacheBytes)
    || decodedCacheBytes < 0 || decodedCacheBytes > DECODED_RECORD_CACHE_BYTES_MAX)) {
    throw new ConfigError(`vault.decodedCacheBytes must be an integer from 0 to ${String(DECODED_RECORD_CACHE_BYTES_MAX)}`);
  }
  const block = section.sealReservationBlock === undefined ? DEFAULT_SEAL_RESERVATION_BLOCK : section.sealReservationBlock;
  if (typeof block !== 'number' || !Number.isSafeInteger(block) || block < 1 || block > MAX_SEAL_RESERVATION_BLOCK) {
    throw new ConfigError(`vault.sealReservationBlock must be an integer from 1 to ${String(MAX_SEAL_RESERVATION_BLOCK)}`);
  }
  return {
    path: str('path', 'vault'), kekFile: str('kekFile', 'kek.key'), kek, sealReservationBlock: block,
    ...(mapSize === undefined ? {} : { mapSize }),
    ...(decodedCacheBytes === undefined ? {} : { decodedCacheBytes }),
  };
}
