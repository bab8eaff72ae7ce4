/**
 * Named limits of the native crypto core. Each says what it stops. The C++ side asserts its own,
 * looser, bounds (native/arena.h, native/ops.h); these are the ones a caller meets, with a message
 * that names them.
 */

/** Largest key a slot holds (native/arena.h LARGE_SLOT_BYTES): bounds the locked memory one key takes. */
export const MAX_KEY_BYTES = 256;
/** Keys up to this length take a small cell; longer ones (HMAC keys) a large cell. */
export const SMALL_SLOT_BYTES = 64;
export const LARGE_SLOT_BYTES = 256;

/**
 * Default arena: 768 small + 64 large cells = exactly 64 KiB locked, the traditional default
 * RLIMIT_MEMLOCK, so a default install starts without raising any limit. A gateway caching many DEKs
 * raises it (docs/security.md).
 */
export const DEFAULT_SMALL_SLOTS = 768;
export const DEFAULT_LARGE_SLOTS = 64;
/** The handle's 20-bit index field (native/arena.h MAX_SLOTS). */
export const MAX_SLOTS = 0xF_FFFF;

/**
 * Largest input of one synchronous call. The addon runs on the event loop: a multi-gigabyte
 * encrypt would stall every other client. KMIP streaming (Init/Final Indicator) covers bigger data.
 */
export const MAX_DATA_BYTES = 16 * 1024 * 1024;
/** Largest AEAD additional data (KMIP AAD is a few dozen bytes; this only stops abuse). */
export const MAX_AAD_BYTES = 1024 * 1024;
/** Items in one batch call: bounds the time one crossing holds the event loop. */
export const MAX_BATCH_ITEMS = 4096;

/** GCM IV: OpenSSL's GCM_IV_MAX_SIZE is 1024 bits; SP 800-38D §5.2.1.1 recommends 96 bits. */
export const GCM_MIN_IV_BYTES = 1;
export const GCM_MAX_IV_BYTES = 128;
/** The 96-bit nonce of the vault envelope and of every batch call. */
export const GCM_NONCE_BYTES = 12;
/** SP 800-38D §5.2.1.2: tags of 128, 120, 112, 104, 96 bits, and 64/32 bits for special uses. */
export const AEAD_TAG_LENGTHS: readonly number[] = [4, 8, 12, 13, 14, 15, 16];
export const AEAD_DEFAULT_TAG_BYTES = 16;
/** RFC 8439 §2.8: the ChaCha20-Poly1305 nonce is 96 bits. */
export const CHACHA20_POLY1305_NONCE_BYTES = 12;

/**
 * Shortest MAC accepted by macVerify(): RFC 2104 §5 advises at least 80 bits; a shorter truncation
 * would let an attacker forge by guessing.
 */
export const MIN_MAC_VERIFY_BYTES = 10;

/** Largest RFC 3394/5649 input of one call (key material, not bulk data). */
export const MAX_WRAP_INPUT_BYTES = 64 * 1024;
