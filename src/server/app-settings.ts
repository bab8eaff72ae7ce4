/**
 * The small settings of the server's composition that KMIP worker processes need too (src/appliance/worker.ts): the
 * `vault` and `native` sections of the config file and the Log operation's sink. Kept apart from app.ts so that a
 * worker does not load the governance plane, the keystore plugins and their SDKs only to read two config sections
 * (issue 14: a worker's start-up time and resident memory).
 */
import type { NativeOptions } from '../native/index.js';
import { DECODED_RECORD_CACHE_BYTES_MAX } from '../vault/base-vault.js';
import type { OperationsConfig } from '../operations/services.js';
import { compatSettings } from '../operations/model/compat.js';
import { ConfigError } from './config.js';
import type { ServerLimits } from './config.js';
import type { Logger } from '../common/log.js';

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
}

export function vaultSettings(section: Readonly<Record<string, unknown>>): VaultSettings {
  for (const k of Object.keys(section)) {
    if (k !== 'path' && k !== 'kekFile' && k !== 'mapSize' && k !== 'kek' && k !== 'decodedCacheBytes') {
      throw new ConfigError(`unknown setting vault.${k} (allowed: path, kekFile, mapSize, kek, decodedCacheBytes)`);
    }
  }
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
  return {
    path: str('path', 'vault'), kekFile: str('kekFile', 'kek.key'), kek,
    ...(mapSize === undefined ? {} : { mapSize }),
    ...(decodedCacheBytes === undefined ? {} : { decodedCacheBytes }),
  };
}

/**
 * The config file's `native` section (docs/configuration.md): the key-slot arena of src/native.
 * `allowUnlocked` defaults to false — without locked memory keys can be swapped to disk, so that
 * is an explicit choice (the OPENKCM_ALLOW_UNLOCKED_MEMORY=1 environment variable also makes it).
 */
export function nativeSettings(section: Readonly<Record<string, unknown>>): NativeOptions {
  const allowed = ['allowUnlocked', 'smallSlots', 'largeSlots', 'cacheContexts'];
  for (const k of Object.keys(section)) {
    if (!allowed.includes(k)) throw new ConfigError(`unknown setting native.${k} (allowed: ${allowed.join(', ')})`);
  }
  const bool = (k: 'allowUnlocked' | 'cacheContexts'): boolean | undefined => {
    const v = section[k];
    if (v !== undefined && typeof v !== 'boolean') throw new ConfigError(`native.${k} must be true or false`);
    return v;
  };
  const slots = (k: 'smallSlots' | 'largeSlots'): number | undefined => {
    const v = section[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) throw new ConfigError(`native.${k} must be a non-negative integer`);
    return v;
  };
  const allowUnlocked = bool('allowUnlocked') ?? (process.env.OPENKCM_ALLOW_UNLOCKED_MEMORY === '1');
  const cacheContexts = bool('cacheContexts');
  const smallSlots = slots('smallSlots');
  const largeSlots = slots('largeSlots');
  return {
    allowUnlocked,
    ...(cacheContexts === undefined ? {} : { cacheContexts }),
    ...(smallSlots === undefined ? {} : { smallSlots }),
    ...(largeSlots === undefined ? {} : { largeSlots }),
  };
}

/**
 * The operations' configuration from the server's limits and logger: the Log operation's sink and the attribute
 * limits of issue 15 (kmip.limits.maxAttributeBytes / maxAttributeValues / maxLocateItems), one place for the server and its workers.
 */
export function operationsConfig(
  limits: Pick<ServerLimits, 'maxAttributeBytes' | 'maxAttributeValues' | 'maxLocateItems'>,
  logger: Logger,
  compat?: Parameters<typeof compatSettings>[0],
): Partial<OperationsConfig> {
  return {
    ...logOperations(logger),
    maxAttributeBytes: limits.maxAttributeBytes, maxAttributeValues: limits.maxAttributeValues, maxLocateItems: limits.maxLocateItems,
    compat: compatSettings(compat),
  };
}

export function logOperations(logger: Logger): { onLog: (entry: { tenant: string; identity: string; message: string }) => void } {
  return { onLog: (entry) => { logger.info('client Log operation', { tenant: entry.tenant, identity: entry.identity, message: entry.message }); } };
}
