/**
 * SecureKey: a key that lives in a locked native slot (issue 3 §2, §4). JS holds only an opaque
 * handle; the bytes are in mlock'ed, MADV_DONTDUMP pages (native/arena.h).
 *
 * Lifecycle: import (copies in, then wipes the caller's buffer) or generate (RAND_bytes straight into
 * the slot) → use → destroy() (zeroises the slot). A FinalizationRegistry frees the slot of a key that
 * is garbage-collected without destroy(), but that is a backstop: GC timing is unbounded, so owners
 * (the DEK cache, the hierarchy) call destroy() explicitly.
 */
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { check, NativeArgumentError, NativeError, Status } from './errors.js';
import { loadNative } from './loader.js';
import type { NativeBinding, RawInfo } from './loader.js';
import { DEFAULT_LARGE_SLOTS, DEFAULT_SMALL_SLOTS, MAX_KEY_BYTES, MAX_SLOTS } from './limits.js';
import { bytes, integer } from './validate.js';

export interface NativeOptions {
  /** Cells of 64 bytes (keys up to 64 bytes). Default 768. */
  readonly smallSlots?: number;
  /** Cells of 256 bytes (longer HMAC keys; small keys overflow here). Default 64. */
  readonly largeSlots?: number;
  /**
   * Carry on with unlocked memory when mlock() fails. Off by default: without it, keys can be swapped
   * to disk. The environment variable OPENKCM_ALLOW_UNLOCKED_MEMORY=1 sets it too.
   */
  readonly allowUnlocked?: boolean;
  /**
   * Keep an expanded cipher context per slot (default true): the hot path then only sets an IV. The
   * contexts hold key schedules in OpenSSL's heap (docs/security.md); false trades speed for none.
   */
  readonly cacheContexts?: boolean;
}

export interface NativeInfo {
  /** The arena is mlock'ed (false only when allowUnlocked let a failed mlock() pass). */
  readonly locked: boolean;
  /** Bytes of key-slot memory (locked when `locked`). */
  readonly arenaBytes: number;
  /** Bytes mapped including the two PROT_NONE guard pages. */
  readonly mappedBytes: number;
  /** MADV_WIPEONFORK took: a fork()ed child sees zeros in the arena. */
  readonly wipeOnFork: boolean;
  readonly smallSlots: number;
  readonly largeSlots: number;
  readonly slotsInUse: number;
  readonly streamsOpen: number;
  readonly cacheContexts: boolean;
  readonly opensslVersion: string;
}

let settings: Required<NativeOptions> | undefined;

function resolveOptions(options: NativeOptions): Required<NativeOptions> {
  const smallSlots = integer('smallSlots', options.smallSlots ?? DEFAULT_SMALL_SLOTS, 0, MAX_SLOTS);
  const largeSlots = integer('largeSlots', options.largeSlots ?? DEFAULT_LARGE_SLOTS, 0, MAX_SLOTS);
  if (smallSlots + largeSlots === 0 || smallSlots + largeSlots > MAX_SLOTS) {
    throw new NativeArgumentError(`smallSlots + largeSlots must be within 1..${MAX_SLOTS} (MAX_SLOTS), got ${smallSlots + largeSlots}`);
  }
  return {
    smallSlots,
    largeSlots,
    allowUnlocked: options.allowUnlocked ?? process.env.OPENKCM_ALLOW_UNLOCKED_MEMORY === '1',
    cacheContexts: options.cacheContexts ?? true,
  };
}

/** RLIMIT_MEMLOCK as /proc/self/limits shows it ("Max locked memory  65536  65536  bytes"). */
function memlockLimit(): string {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max locked memory'));
    const parts = line?.trim().split(/\s{2,}/) ?? [];
    return `soft ${parts[1] ?? '?'} / hard ${parts[2] ?? '?'} bytes`;
  } catch {
    return 'unknown';
  }
}

function errnoName(n: number): string {
  const entry = Object.entries(osConstants.errno).find(([, v]) => v === n);
  return entry === undefined ? `errno ${n}` : entry[0];
}

function mlockMessage(raw: RawInfo, errno: number): string {
  const kib = Math.ceil(raw.dataBytes / 1024);
  return (
    `mlock() of the ${raw.dataBytes}-byte native key-slot arena failed (${errnoName(errno)}): ` +
    `RLIMIT_MEMLOCK is ${memlockLimit()}. Keys must not be swappable, so OpenKCM refuses to start. Fix one of: ` +
    `systemd unit \`LimitMEMLOCK=${Math.max(kib, 64)}K\` (or more), or grant CAP_IPC_LOCK ` +
    `(\`AmbientCapabilities=CAP_IPC_LOCK\`), or \`ulimit -l ${kib}\` in the starting shell ` +
    `(/etc/security/limits.conf \`memlock\` for a login user), or shrink the arena (smallSlots/largeSlots). ` +
    'To run WITHOUT locked memory (development only), set OPENKCM_ALLOW_UNLOCKED_MEMORY=1 or ' +
    'initNative({ allowUnlocked: true }). See docs/security.md.'
  );
}

/**
 * Initialise the key-slot arena. Call it once at start-up so that a memory-lock problem fails the
 * start (issue 3 §2), not the first request. Calling it again with the same options is a no-op;
 * with different options it throws ALREADY_INITIALIZED (the arena is per process and cannot move).
 * Operations call it implicitly with the defaults when nothing did.
 */
export function initNative(options: NativeOptions = {}): NativeInfo {
  const wanted = resolveOptions(options);
  if (settings !== undefined) {
    // The arena's shape cannot change once mapped. allowUnlocked only matters if the arena ended up
    // unlocked: a caller that insists on locked memory must not get an unlocked arena silently.
    const current = settings;
    const same = wanted.smallSlots === current.smallSlots && wanted.largeSlots === current.largeSlots && wanted.cacheContexts === current.cacheContexts;
    if (!same) {
      throw new NativeError('ALREADY_INITIALIZED', `the native key-slot arena is already initialised with ${JSON.stringify(current)}; it cannot change to ${JSON.stringify(wanted)}`);
    }
    const info = nativeInfo();
    if (!info.locked && !wanted.allowUnlocked) {
      throw new NativeError('MLOCK_FAILED', `the native key-slot arena was initialised WITHOUT locked memory (allowUnlocked), and this caller requires it locked. RLIMIT_MEMLOCK is ${memlockLimit()}. See docs/security.md.`);
    }
    return info;
  }
  const binding = loadNative();
  const r = binding.init(wanted.smallSlots, wanted.largeSlots, wanted.allowUnlocked, wanted.cacheContexts);
  if (r.status === Status.MLOCK) throw new NativeError('MLOCK_FAILED', mlockMessage(binding.info(), r.errno));
  if (r.status === Status.MMAP) throw new NativeError('MMAP_FAILED', `mapping the native key-slot arena failed (${errnoName(r.errno)})`);
  check(r.status, 'initNative');
  settings = wanted;
  const info = nativeInfo();
  if (!info.locked) {
    process.emitWarning(
      `OpenKCM native key slots are NOT locked in memory (mlock failed, allowUnlocked is set): keys may be swapped to disk. RLIMIT_MEMLOCK is ${memlockLimit()}.`,
      { code: 'OPENKCM_UNLOCKED_MEMORY' },
    );
  }
  return info;
}

/** The binding, initialising the arena with the defaults if nothing did yet. */
export function binding(): NativeBinding {
  if (settings === undefined) initNative();
  return loadNative();
}

export function nativeInfo(): NativeInfo {
  const raw = loadNative().info();
  return {
    locked: raw.locked,
    arenaBytes: raw.dataBytes,
    mappedBytes: raw.mappedBytes,
    wipeOnFork: raw.wipeOnFork,
    smallSlots: raw.smallSlots,
    largeSlots: raw.largeSlots,
    slotsInUse: raw.slotsInUse,
    streamsOpen: raw.streamsOpen,
    cacheContexts: settings?.cacheContexts ?? true,
    opensslVersion: raw.opensslVersion,
  };
}

// The backstop: frees (and so zeroises) the slot of a SecureKey that was collected without destroy().
const finalizer = new FinalizationRegistry<number>((handle) => {
  loadNative().slotFree(handle);
});

let adopt: (handle: number, length: number) => SecureKey;
let handleOfKey: (key: SecureKey) => number;

export class SecureKey {
  #handle: number;
  readonly #length: number;

  static {
    adopt = (handle, length) => new SecureKey(handle, length);
    handleOfKey = (key) => {
      if (key.#handle === 0) throw new NativeError('STALE_KEY', 'the SecureKey was destroyed');
      return key.#handle;
    };
  }

  private constructor(handle: number, length: number) {
    this.#handle = handle;
    this.#length = length;
    finalizer.register(this, handle, this);
  }

  /**
   * Copy key bytes into a locked slot, then wipe `bytes` (it is zero-filled on return). Copies of the
   * key the caller made elsewhere are the caller's to wipe.
   */
  static import(bytesIn: Uint8Array): SecureKey {
    const key = bytes('key', bytesIn, 1, MAX_KEY_BYTES);
    const length = key.length;
    return new SecureKey(check(binding().slotImport(key), 'SecureKey.import'), length);
  }

  /** A fresh random key (OpenSSL RAND_bytes) generated inside the slot: it never exists in JS. */
  static generate(length: number): SecureKey {
    const n = integer('length', length, 1, MAX_KEY_BYTES);
    return new SecureKey(check(binding().slotGenerate(n), 'SecureKey.generate'), n);
  }

  /** Key length in bytes. */
  get length(): number {
    return this.#length;
  }

  get destroyed(): boolean {
    return this.#handle === 0;
  }

  /**
   * The only way key bytes leave the slot. The returned array is a fresh, unpooled allocation the
   * caller owns and should fill(0) when done (KMIP Get of an L4 key is the legitimate use).
   */
  export(): Uint8Array {
    const out = new Uint8Array(this.#length);
    check(binding().slotExport(handleOfKey(this), out), 'SecureKey.export');
    return out;
  }

  /** Zeroise and release the slot. Idempotent. Any later use throws STALE_KEY. */
  destroy(): void {
    if (this.#handle === 0) return;
    const h = this.#handle;
    this.#handle = 0;
    finalizer.unregister(this);
    check(loadNative().slotFree(h), 'SecureKey.destroy');
  }
}

/** @internal The slot handle of a live key (throws STALE_KEY after destroy()). */
export function handleOf(key: SecureKey): number {
  if (!(key instanceof SecureKey)) throw new NativeArgumentError(`key must be a SecureKey, got ${typeof key}`);
  return handleOfKey(key);
}

/** @internal Wrap a handle the addon just created (unwrap/open into a slot). */
export function adoptHandle(handle: number): SecureKey {
  return adopt(handle, check(loadNative().slotLength(handle), 'slotLength'));
}
