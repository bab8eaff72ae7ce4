/**
 * Every size the vault accepts has a name here, with the attack or failure it stops.
 * The KMIP layer has its own (smaller) message limits; these are the store's last line.
 */

/**
 * Tenant id, UTF-8 bytes. Tenant ids come from our own identity mapping, so they are short;
 * the cap keeps every LMDB key under its 1,978-byte maximum (LMDB `mdb_env_get_maxkeysize`)
 * together with {@link MAX_UID_BYTES} and {@link MAX_INLINE_INDEX_TEXT_BYTES}.
 */
export const MAX_TENANT_BYTES = 255;

/**
 * Unique Identifier, UTF-8 bytes. Server-assigned UIDs are 36 bytes (UUID); imports may carry
 * longer ones. Stops a caller from pushing keys past LMDB's key-size limit.
 */
export const MAX_UID_BYTES = 255;

/**
 * Name / Object Group values up to this many UTF-8 bytes are stored verbatim in index keys;
 * longer ones are indexed by their SHA-256 (see src/vault/keys.ts), so a legal but huge Name
 * can never make an index key exceed LMDB's key-size limit (which would fail the whole commit).
 */
export const MAX_INLINE_INDEX_TEXT_BYTES = 512;

/**
 * Attributes per record. Stops one Register/Add Attribute storm from turning a record into a
 * multi-megabyte blob that every Get must decode (CPU/memory amplification).
 */
export const MAX_ATTRIBUTES_PER_RECORD = 1024;

/** Nesting depth of a stored attribute value. KMIP attributes nest 3 deep at most; stops stack exhaustion on decode. */
export const MAX_ATTRIBUTE_DEPTH = 16;

/** Encoded attribute metadata (JSON) per record, bytes. Bounds per-Get decode cost and map growth. */
export const MAX_METADATA_BYTES = 1024 * 1024;

/**
 * Plaintext key material per record, bytes. An RSA-16384 private key in PKCS#8 is ~10 KiB and
 * certificate chains a few KiB; 1 MiB leaves room for Opaque Objects while stopping one client
 * from filling the map with a single object.
 */
export const MAX_MATERIAL_BYTES = 1024 * 1024;

/**
 * Decimal digits of a stored Big Integer. 8192-bit values have 2,467 digits; the cap stops a
 * corrupted record from making BigInt() parse megabytes (quadratic-time decode).
 */
export const MAX_BIGINT_DIGITS = 4096;

/**
 * Optimistic retries of one update()/delete() when a concurrent writer changed the record.
 * Stops a hot record from live-locking a caller; the caller gets CONFLICT instead.
 */
export const MAX_UPDATE_ATTEMPTS = 8;

/**
 * Records per putMany() call. The batch is one atomic conditional block per record, nested
 * (src/vault/vault.ts), so the cap bounds stack depth and the size of one transaction; callers
 * with more records issue several putMany() calls in the same event turn (still one commit).
 */
export const MAX_PUT_MANY_OBJECTS = 256;

/**
 * Lazy re-wraps (src/vault/base-vault.ts) running in the background at once. After a KEK rotation
 * every read of an old object would start one; the cap stops a client that reads many old
 * objects from queueing unbounded background work (memory, event-loop time). Skipped ones are
 * left to the background job (rewrapTenant).
 */
export const MAX_LAZY_REWRAPS_IN_FLIGHT = 64;

/**
 * Records one batch of the re-wrap job examines (and at most re-seals in one group commit). Bounds
 * the plaintext held at once and the size of one write transaction; progress is reported per batch.
 */
export const MAX_REWRAP_BATCH_RECORDS = 128;
