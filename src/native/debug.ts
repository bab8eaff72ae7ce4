/**
 * Debug-only hooks of the addon (issue 3 acceptance: "a freed slot reads back as zeros through a
 * debug-only hook"). The addon puts them on its exports only when OPENKCM_NATIVE_DEBUG=1 is in the
 * environment when it loads; a production process cannot reach them. Tests use them in child
 * processes only.
 */
import { check, NativeError } from './errors.js';
import { loadNative } from './loader.js';
import { binding, handleOf } from './secure-key.js';
import type { SecureKey } from './secure-key.js';
import { integer } from './validate.js';

export interface NativeDebugHooks {
  /** The arena cell index of a live key (stays valid after destroy(), for peekSlot). */
  slotIndex(key: SecureKey): number;
  /** The raw bytes of cell `index`, whatever its state (64 or 256 bytes). */
  peekSlot(index: number): Uint8Array;
  /** Address of the first cell (to find the arena's mapping in /proc/self/smaps). */
  arenaBase(): bigint;
  /** Read a guard page: the process must die of SIGSEGV. */
  touchGuardPage(which: 'before' | 'after'): never;
}

export function nativeDebugEnabled(): boolean {
  return typeof loadNative().debugPeek === 'function';
}

export function nativeDebug(): NativeDebugHooks {
  const b = loadNative();
  const { debugPeek, debugIndex, debugBase, debugTouchGuard } = b;
  if (debugPeek === undefined || debugIndex === undefined || debugBase === undefined || debugTouchGuard === undefined) {
    throw new NativeError('UNAVAILABLE', 'native debug hooks are off: start the process with OPENKCM_NATIVE_DEBUG=1');
  }
  return {
    slotIndex: (key) => check(debugIndex(handleOf(key)), 'debugIndex'),
    peekSlot: (index) => {
      binding();
      const out = new Uint8Array(256);
      const n = check(debugPeek(integer('index', index, 0, 0xF_FFFF), out), 'debugPeek');
      return out.subarray(0, n);
    },
    arenaBase: () => {
      binding();
      return debugBase();
    },
    touchGuardPage: (which) => {
      binding();
      return debugTouchGuard(which === 'before' ? 0 : 1);
    },
  };
}
