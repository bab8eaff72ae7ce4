/**
 * Errors of the native crypto core (issue 3 §4). The addon returns negative status codes
 * (native/status.h); this module is the one place that turns them into exceptions, each with a stable
 * `code` so callers (the vault envelope, the KMIP Encrypt/Decrypt/MAC handlers) branch on `code`, never
 * on message text.
 *
 * Suggested KMIP mapping (the server owns it, src/kmip/errors.ts): AUTHENTICATION_FAILED and
 * DECRYPT_FAILED → Cryptographic Failure; INVALID_ARGUMENT → Invalid Field / Invalid Message;
 * STALE_KEY → Item Not Found / Wrong Key Lifecycle State; everything else → General Failure.
 */
import { CodedError } from '../common/coded-error.js';

export type NativeErrorCode =
  /** The addon is not built or could not be loaded (build/Release/openkcm_native.node). */
  | 'UNAVAILABLE'
  /** A call needed the key-slot arena before initNative() succeeded. */
  | 'NOT_INITIALIZED'
  /** initNative() was called again with different options. */
  | 'ALREADY_INITIALIZED'
  /** The SecureKey was destroyed, or a slot/stream handle is stale (freed and possibly reused). */
  | 'STALE_KEY'
  /** Every key slot of the arena is in use. */
  | 'ARENA_FULL'
  /** AEAD tag mismatch, or the RFC 3394/5649 integrity check failed on unwrap. */
  | 'AUTHENTICATION_FAILED'
  /** A non-AEAD decryption failed at the end (bad PKCS#5 padding). */
  | 'DECRYPT_FAILED'
  /** OpenSSL failed where it should not have. */
  | 'CRYPTO_FAILURE'
  /** The random generator failed to produce key material. */
  | 'RANDOM_FAILURE'
  /** mlock() of the arena failed (RLIMIT_MEMLOCK) and unlocked memory was not allowed. */
  | 'MLOCK_FAILED'
  /** mmap/mprotect/madvise of the arena failed. */
  | 'MMAP_FAILED'
  /** The addon was used from a JS environment (worker thread) other than the one that initialised it. */
  | 'WRONG_THREAD'
  /** Every streaming context is in use. */
  | 'STREAMS_FULL'
  /** This OpenSSL lacks an algorithm the addon needs. */
  | 'UNSUPPORTED';

export class NativeError extends CodedError<NativeErrorCode> {
  override readonly name = 'NativeError';
}

/**
 * A caller broke a documented constraint (a size, a range, a type). It is a TypeError, as issue 3
 * asks ("wrong sizes raise a TypeError, never a crash"), and carries a code like NativeError.
 */
export class NativeArgumentError extends TypeError {
  override readonly name = 'NativeArgumentError';
  readonly code = 'INVALID_ARGUMENT' as const;
}

/** Status codes of native/status.h. */
export const Status = {
  OK: 0,
  NOT_INITIALIZED: -1,
  STALE_HANDLE: -2,
  ARENA_FULL: -3,
  ARGUMENT: -4,
  AUTH: -5,
  CRYPTO: -6,
  RANDOM: -7,
  MLOCK: -8,
  MMAP: -9,
  ALREADY_INITIALIZED: -10,
  WRONG_THREAD: -11,
  STREAMS_FULL: -12,
  UNSUPPORTED: -13,
  DECRYPT: -14,
  KEY_SIZE: -15,
} as const;

const STATUS_TEXT: Readonly<Record<number, readonly [NativeErrorCode | 'INVALID_ARGUMENT', string]>> = {
  [Status.NOT_INITIALIZED]: ['NOT_INITIALIZED', 'the native key-slot arena is not initialised (call initNative())'],
  [Status.STALE_HANDLE]: ['STALE_KEY', 'the key (or stream) was destroyed; its handle is stale'],
  [Status.ARENA_FULL]: ['ARENA_FULL', 'every native key slot is in use (raise smallSlots/largeSlots in initNative())'],
  [Status.ARGUMENT]: ['INVALID_ARGUMENT', 'the addon rejected an argument size'],
  [Status.AUTH]: ['AUTHENTICATION_FAILED', 'authentication failed: the tag, IV, AAD, key or ciphertext does not match'],
  [Status.CRYPTO]: ['CRYPTO_FAILURE', 'an OpenSSL operation failed'],
  [Status.RANDOM]: ['RANDOM_FAILURE', 'RAND_bytes failed to generate key material'],
  [Status.MLOCK]: ['MLOCK_FAILED', 'mlock() of the key-slot arena failed'],
  [Status.MMAP]: ['MMAP_FAILED', 'mmap/mprotect/madvise of the key-slot arena failed'],
  [Status.ALREADY_INITIALIZED]: ['ALREADY_INITIALIZED', 'the native key-slot arena is already initialised'],
  [Status.WRONG_THREAD]: ['WRONG_THREAD', 'the native addon is bound to the JS thread that initialised it'],
  [Status.STREAMS_FULL]: ['STREAMS_FULL', 'every native streaming context is in use'],
  [Status.UNSUPPORTED]: ['UNSUPPORTED', 'this OpenSSL build lacks an algorithm the addon needs'],
  [Status.DECRYPT]: ['DECRYPT_FAILED', 'decryption failed (bad padding, wrong key or corrupt data)'],
  [Status.KEY_SIZE]: ['INVALID_ARGUMENT', 'the key length does not fit the algorithm'],
};

/** Every status code mapped above (tests check native/status.h against it). */
export const KNOWN_STATUSES: readonly number[] = Object.keys(STATUS_TEXT).map(Number);

/** The exception for a negative status; `what` names the operation. */
export function statusError(status: number, what: string): NativeError | NativeArgumentError {
  const entry = STATUS_TEXT[status];
  if (entry === undefined) return new NativeError('CRYPTO_FAILURE', `${what}: unknown native status ${status}`);
  const [code, text] = entry;
  if (code === 'INVALID_ARGUMENT') return new NativeArgumentError(`${what}: ${text}`);
  return new NativeError(code, `${what}: ${text}`);
}

/** Returns a non-negative result, or throws the error for a negative status. */
export function check(result: number, what: string): number {
  if (result < 0) throw statusError(result, what);
  return result;
}
