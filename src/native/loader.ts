/**
 * Loads the addon (build/Release/openkcm_native.node) and describes its raw surface. Nothing outside
 * src/native calls the binding directly: every argument goes through the validating wrappers first
 * (STYLE.md rule 6: TypeScript validates, C++ returns status).
 *
 * The path is resolved from this file (dist/src/native/loader.js → ../../../build/Release), so it does
 * not depend on the working directory; OPENKCM_NATIVE_ADDON overrides it (a packaged appliance).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeError } from './errors.js';

/** Raw binding. Results >= 0 are values; < 0 are native/status.h codes. */
export interface NativeBinding {
  readonly abiVersion: number;
  init(smallSlots: number, largeSlots: number, allowUnlocked: boolean, cacheContexts: boolean): { status: number; errno: number };
  info(): RawInfo;
  slotImport(key: Uint8Array): number;
  slotGenerate(length: number): number;
  slotExport(handle: number, out: Uint8Array): number;
  slotLength(handle: number): number;
  slotFree(handle: number): number;
  gcmSeal(handle: number, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): number;
  gcmOpen(handle: number, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array): number;
  keyWrap(handle: number, pad: boolean, input: Uint8Array, out: Uint8Array): number;
  keyUnwrap(handle: number, pad: boolean, input: Uint8Array, out: Uint8Array): number;
  slotWrap(kek: number, target: number, pad: boolean, out: Uint8Array): number;
  slotUnwrap(kek: number, pad: boolean, input: Uint8Array): number;
  slotSeal(kek: number, target: number, iv: Uint8Array, aad: Uint8Array, out: Uint8Array, tagLength: number): number;
  slotOpen(kek: number, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array, tagLength: number): number;
  cipher(handle: number, alg: number, flags: number, iv: Uint8Array, aad: Uint8Array, input: Uint8Array, out: Uint8Array, tag: Uint8Array): number;
  streamCipherInit(handle: number, alg: number, flags: number, iv: Uint8Array, aad: Uint8Array): number;
  streamCipherUpdate(stream: number, input: Uint8Array, out: Uint8Array): number;
  streamCipherFinal(stream: number, out: Uint8Array, tag: Uint8Array): number;
  streamMacInit(handle: number, hash: number): number;
  streamMacUpdate(stream: number, input: Uint8Array): number;
  streamMacFinal(stream: number, out: Uint8Array): number;
  streamFree(stream: number): number;
  hmac(handle: number, hash: number, input: Uint8Array, out: Uint8Array): number;
  hmacVerify(handle: number, hash: number, input: Uint8Array, expected: Uint8Array): number;
  /** The audit chain step (native/ops.h audit_chain): n records, `off` n+1 offsets into `data`, out 64 n bytes. */
  auditChain(handle: number, data: Uint8Array, off: Uint32Array, prev: Uint8Array, out: Uint8Array): number;
  gcmSealBatch(handles: Float64Array, ivs: Uint8Array, aad: Uint8Array, aadOff: Uint32Array, pt: Uint8Array, ptOff: Uint32Array, out: Uint8Array, status: Int32Array): number;
  gcmOpenBatch(handles: Float64Array, ivs: Uint8Array, aad: Uint8Array, aadOff: Uint32Array, sealed: Uint8Array, sealedOff: Uint32Array, out: Uint8Array, status: Int32Array): number;
  keyWrapBatch(handles: Float64Array, pad: boolean, input: Uint8Array, inOff: Uint32Array, out: Uint8Array, outOff: Uint32Array, status: Int32Array): number;
  keyUnwrapBatch(handles: Float64Array, pad: boolean, input: Uint8Array, inOff: Uint32Array, out: Uint8Array, outOff: Uint32Array, status: Int32Array): number;
  slotWrapBatch(keks: Float64Array, targets: Float64Array, pad: boolean, out: Uint8Array, outOff: Uint32Array, status: Int32Array): number;
  slotUnwrapBatch(keks: Float64Array, pad: boolean, input: Uint8Array, inOff: Uint32Array, handles: Float64Array, status: Int32Array): number;
  slotSealBatch(keks: Float64Array, targets: Float64Array, ivs: Uint8Array, aad: Uint8Array, aadOff: Uint32Array, out: Uint8Array, outOff: Uint32Array, status: Int32Array): number;
  slotOpenBatch(keks: Float64Array, ivs: Uint8Array, aad: Uint8Array, aadOff: Uint32Array, sealed: Uint8Array, sealedOff: Uint32Array, handles: Float64Array, status: Int32Array): number;
  /** glibc malloc_trim(0): 1 released, 0 nothing to release, < 0 unsupported (not glibc). */
  heapTrim(): number;
  /** V8 Isolate::LowMemoryNotification on the calling thread's isolate: 0, < 0 when there is none. */
  heapCompact(): number;
  /** Debug hooks: present only when OPENKCM_NATIVE_DEBUG=1 was set when the addon loaded. */
  debugPeek?: (index: number, out: Uint8Array) => number;
  debugIndex?: (handle: number) => number;
  debugBase?: () => bigint;
  debugTouchGuard?: (which: number) => never;
}

export interface RawInfo {
  initialized: boolean;
  locked: boolean;
  wipeOnFork: boolean;
  dataBytes: number;
  mappedBytes: number;
  smallSlots: number;
  largeSlots: number;
  slotsInUse: number;
  streamsOpen: number;
  mlockErrno: number;
  smallSlotBytes: number;
  largeSlotBytes: number;
  maxStreams: number;
  opensslVersion: string;
}

/** The ABI this TypeScript was written against (addon.cc `abiVersion`; 2 added heapTrim, 3 heapCompact, 4 auditChain). */
const ABI_VERSION = 4;
const ADDON_FILE = 'openkcm_native.node';

let cached: NativeBinding | undefined;
let loadError: NativeError | undefined;

/** Where the addon is expected: OPENKCM_NATIVE_ADDON, else build/Release under the package root. */
export function addonPath(): string {
  const override = process.env.OPENKCM_NATIVE_ADDON;
  if (override !== undefined && override !== '') return path.resolve(override);
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/src/native → package root is three levels up; src/native (ts run directly) is two.
  for (const up of ['../../..', '../..']) {
    const candidate = path.resolve(here, up, 'build', 'Release', ADDON_FILE);
    if (existsSync(candidate)) return candidate;
  }
  return path.resolve(here, '../../..', 'build', 'Release', ADDON_FILE);
}

/** The loaded binding; throws NativeError('UNAVAILABLE') with the fix when the addon is not built. */
export function loadNative(): NativeBinding {
  if (cached !== undefined) return cached;
  if (loadError !== undefined) throw loadError;
  const file = addonPath();
  if (!existsSync(file)) {
    loadError = new NativeError(
      'UNAVAILABLE',
      `The OpenKCM native addon is not built: ${file} does not exist. ` +
        'Build it with `npm ci` (which runs node-gyp for binding.gyp) or `bash scripts/build-native.sh`; ' +
        "it needs python3, make, g++ and Node's headers (/usr/include/node).",
    );
    throw loadError;
  }
  try {
    const binding = createRequire(import.meta.url)(file) as NativeBinding;
    if (binding.abiVersion !== ABI_VERSION) {
      throw new Error(`addon ABI ${String(binding.abiVersion)}, expected ${ABI_VERSION}: rebuild it (npm ci)`);
    }
    cached = binding;
    return binding;
  } catch (cause) {
    loadError = new NativeError('UNAVAILABLE', `The OpenKCM native addon at ${file} failed to load: ${(cause as Error).message}`, { cause });
    throw loadError;
  }
}

/** True when the addon is built and loads (for tests and `openkcm doctor`-style checks). */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}
