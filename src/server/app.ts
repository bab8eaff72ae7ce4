/**
 * Composition root of the KMIP server role: configuration → storage → operation services →
 * operation registry → listener. `openkcm serve`, `npm start` and the in-process test server
 * (test/helpers/server.ts) all start the server through {@link startKmipApp}, so they run
 * the same wiring.
 */
import path from 'node:path';
import { initNative } from '../native/index.js';
import type { NativeOptions } from '../native/index.js';
import { VaultObjectStore } from '../operations/model/vault-store.js';
import { createServices } from '../operations/services.js';
import type { OperationServices } from '../operations/services.js';
import type { OperationHandler } from '../operations/types.js';
import { NativeKekProvider } from '../vault/kek.js';
import { Vault } from '../vault/vault.js';
import { ConfigError } from './config.js';
import type { ListenAddress, LoadedConfig } from './config.js';
import { KmipServer } from './listener.js';
import type { Logger } from './log.js';

export interface KmipAppOptions<S> {
  /** Replace the operation registry (tests with a tiny local handler table). */
  readonly getHandler?: (operation: number) => OperationHandler<unknown, unknown, S> | undefined;
  /** Replace the services (tests). When given, nothing is opened or closed for storage. */
  readonly services?: S;
}

export interface KmipApp<S = OperationServices> {
  readonly server: KmipServer<S>;
  readonly address: ListenAddress;
  /** Graceful: drain the listener, then close storage. */
  close(): Promise<void>;
}

/** Opens storage, builds services, binds the listener. */
export async function startKmipApp<S = OperationServices>(loaded: LoadedConfig, logger: Logger, opts: KmipAppOptions<S> = {}): Promise<KmipApp<S>> {
  // Issue 3 §2: a memory-lock problem fails the start, not the first Encrypt. MLOCK_FAILED's
  // message names RLIMIT_MEMLOCK and the fixes (LimitMEMLOCK, CAP_IPC_LOCK, native.allowUnlocked).
  const native = initNative(nativeSettings(loaded.native));
  logger.info('native key slots ready', { locked: native.locked, arenaBytes: native.arenaBytes, slots: native.smallSlots + native.largeSlots, openssl: native.opensslVersion });
  let services: S;
  let now: (() => Date) | undefined;
  let closeStorage: () => Promise<void> = () => Promise.resolve();
  if (opts.services !== undefined) {
    services = opts.services;
  } else {
    const built = await openServices(loaded, logger);
    services = built.services as S;
    // One clock for ctx.now and the handlers' services.
    now = built.services.clock;
    closeStorage = built.close;
  }
  // Loaded only when needed, so tests with their own handler table do not load every operation.
  const getHandler = opts.getHandler
    ?? ((await import('../operations/registry.js')).getHandler as (op: number) => OperationHandler<unknown, unknown, S> | undefined);
  const server = new KmipServer<S>({ config: loaded.server, deps: { getHandler, services, logger, ...(now === undefined ? {} : { now }) } });
  let address: ListenAddress;
  try {
    address = await server.listen();
  } catch (e) {
    await closeStorage();
    throw e;
  }
  return {
    server,
    address,
    async close(): Promise<void> {
      await server.close();
      await closeStorage();
    },
  };
}

/** Vault settings read from the config file's free-form `vault` section (docs/configuration.md). */
export interface VaultSettings {
  /** LMDB directory, relative to the data directory. Default "vault". */
  readonly path: string;
  /** Development KEK file (32 bytes, mode 0600, created when absent), relative to the data directory. Default "kek.key". */
  readonly kekFile: string;
  /** Initial LMDB map size in bytes (lmdb-js grows it on demand). */
  readonly mapSize?: number;
}

export function vaultSettings(section: Readonly<Record<string, unknown>>): VaultSettings {
  for (const k of Object.keys(section)) {
    if (k !== 'path' && k !== 'kekFile' && k !== 'mapSize') throw new ConfigError(`unknown setting vault.${k} (allowed: path, kekFile, mapSize)`);
  }
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
  return { path: str('path', 'vault'), kekFile: str('kekFile', 'kek.key'), ...(mapSize === undefined ? {} : { mapSize }) };
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

/** The production services: the LMDB vault of the data directory under its development KEK. */
async function openServices(loaded: LoadedConfig, logger: Logger): Promise<{ services: OperationServices; close: () => Promise<void> }> {
  const settings = vaultSettings(loaded.vault);
  // Issue 3 §5: the envelope seals and opens through the addon; the KEK lives in a locked slot.
  const kek = NativeKekProvider.openDevKeyFile(path.resolve(loaded.dataDir, settings.kekFile));
  let vault: Vault;
  try {
    vault = await Vault.open({
      path: path.resolve(loaded.dataDir, settings.path),
      kek,
      ...(settings.mapSize === undefined ? {} : { mapSize: settings.mapSize }),
    });
  } catch (e) {
    kek.destroy();
    throw e;
  }
  logger.info('vault opened', { path: vault.path, objects: vault.count() });
  const services = createServices({
    store: new VaultObjectStore(vault),
    config: {
      onLog: (entry) => { logger.info('client Log operation', { tenant: entry.tenant, identity: entry.identity, message: entry.message }); },
    },
  });
  return {
    services,
    close: async () => {
      // Zeroise the cached DEK slots before the vault goes.
      services.keyCache.clear();
      await vault.close();
      kek.destroy();
    },
  };
}
