/**
 * The small settings of the server's composition that KMIP worker processes need too (src/appliance/worker.ts): the
 * `vault` and `native` sections of the config file and the Log operation's sink. Kept apart from app.ts so that a
 * worker does not load the governance plane, the keystore plugins and their SDKs only to read two config sections
 * (issue 14: a worker's start-up time and resident memory).
 */
import type { NativeOptions } from '../native/index.js';
import { ConfigError } from './config.js';
import type { Logger } from './log.js';

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
}

export function vaultSettings(section: Readonly<Record<string, unknown>>): VaultSettings {
  for (const k of Object.keys(section)) {
    if (k !== 'path' && k !== 'kekFile' && k !== 'mapSize' && k !== 'kek') throw new ConfigError(`unknown setting vault.${k} (allowed: path, kekFile, mapSize, kek)`);
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
  return { path: str('path', 'vault'), kekFile: str('kekFile', 'kek.key'), kek, ...(mapSize === undefined ? {} : { mapSize }) };
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

export function logOperations(logger: Logger): { onLog: (entry: { tenant: string; identity: string; message: string }) => void } {
  return { onLog: (entry) => { logger.info('client Log operation', { tenant: entry.tenant, identity: entry.identity, message: entry.message }); } };
}
