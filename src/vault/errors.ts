/**
 * Errors of the vault layer: one class per concern, each with a stable string code so that
 * callers (the KMIP operation handlers) branch on `code`, never on message text.
 *
 * Mapping to KMIP Result Reasons is the server's job (one place, src/kmip/errors.ts); the
 * suggested mapping is in docs/vault.md ("Errors").
 */
import { CodedError } from '../common/coded-error.js';

/** Store-level failures (src/vault/vault.ts, src/vault/memory-vault.ts). */
export type VaultErrorCode =
  /** update() of a record that does not exist for this tenant (→ KMIP Item Not Found). */
  | 'NOT_FOUND'
  /** put() with a UID that already exists for this tenant. */
  | 'EXISTS'
  /** The record changed under an optimistic update/delete (expectedVersion mismatch or too many retries). */
  | 'CONFLICT'
  /** The record handed to put()/update() breaks the record rules (reserved attribute, bad type, ...). */
  | 'INVALID_RECORD'
  /** A named size limit was exceeded (see src/vault/limits.ts). */
  | 'LIMIT_EXCEEDED'
  /** Bytes read from the store do not decode: disk corruption or a foreign writer. */
  | 'CORRUPT'
  /** The data directory holds a vault format this code does not know. */
  | 'UNSUPPORTED_FORMAT'
  /** The store was closed. */
  | 'CLOSED';

export class VaultError extends CodedError<VaultErrorCode> {
  override readonly name = 'VaultError';
}

/** Envelope failures (src/vault/envelope.ts). None of them reveals any plaintext. */
export type EnvelopeErrorCode =
  /** The envelope names a wrapping key id or key version this KEK provider does not hold. */
  | 'WRONG_KEY'
  /** AES-GCM authentication failed: ciphertext, tag, header or AAD (tenant/uid/version) differ. */
  | 'TAMPERED'
  /** The format version byte is not one this code can read. */
  | 'UNKNOWN_VERSION'
  /** The envelope is too short or its length fields are inconsistent. */
  | 'MALFORMED'
  /** The sealing key reached its AES-GCM invocation limit (NIST SP 800-38D §8.3, src/vault/seal-counter.ts): rotate it. */
  | 'KEY_EXHAUSTED';

export class EnvelopeError extends CodedError<EnvelopeErrorCode> {
  override readonly name = 'EnvelopeError';
}

/** KEK provider failures (src/vault/kek.ts). */
export type KekErrorCode =
  /** The key file is readable or writable by group/others, or not owned by this user. */
  | 'INSECURE_KEY_FILE'
  /** The key file is not a regular file of exactly 32 bytes. */
  | 'INVALID_KEY_FILE'
  /** A caller passed an argument that breaks a documented constraint (key size, version range, ...). */
  | 'INVALID_ARGUMENT';

export class KekError extends CodedError<KekErrorCode> {
  override readonly name = 'KekError';
}
