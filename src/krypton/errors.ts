/**
 * Krypton's error catalog (STYLE.md "one error module": stable codes, never switch on text).
 *
 * Two conditions are NOT KryptonErrors because they must reach KMIP clients as-is (src/kmip/errors.ts):
 * - KmipError('TENANT_REVOKED')   the kill-switch fired (admin revoke, L1 revoked at the source, offboarded);
 * - KmipError('TENANT_UNAVAILABLE') L1 cannot be reached right now (transient; retried after a backoff), or a block of
 *   L3 seals could not be reserved durably (src/krypton/seal-reservations.ts; retry).
 * And one is the vault's: EnvelopeError('KEY_EXHAUSTED') when an L3's reserved seal count reached the NIST limit.
 */
import { CodedError } from '../common/coded-error.js';

export type KryptonErrorCode =
  /** The tenant exists but is not activated on this node: `await ensureActive(tenant)` and retry (kek() only). */
  | 'NOT_ACTIVE'
  /** No hierarchy record for the tenant. */
  | 'UNKNOWN_TENANT'
  /** The tenant has no L3 lineage for that service. */
  | 'UNKNOWN_SERVICE'
  /** The L3 version does not exist (never created, or already dropped). */
  | 'UNKNOWN_VERSION'
  /** An argument is outside the contract (bad tenant/service name, dropping the current version, ...). */
  | 'INVALID'
  /** onboard: the tenant already has a hierarchy. */
  | 'EXISTS'
  /** The record kept changing under us (another node writing) beyond the retry budget. */
  | 'CONFLICT'
  /** A stored blob does not authenticate: tampered, corrupted, or moved from another tenant/service/version. */
  | 'TAMPERED'
  /** restore: L1 is still not healthy at the source (revoked, disabled, deleted or unreachable). */
  | 'L1_UNHEALTHY'
  /**
   * The L1 registered through the admin API and the one named in openkcm.conf (`keystores.tenants`) disagree, or
   * the L1 holding the tenant's keys is not the registered one (issue 16 item 2): the server refuses rather than
   * silently using another root key than the one the customer believes holds the kill-switch.
   */
  | 'L1_CONFLICT'
  /** A named limit (services per tenant, L3 versions per service) would be exceeded. */
  | 'LIMIT'
  /** Krypton.close() was called. */
  | 'CLOSED';

export class KryptonError extends Error {
  override readonly name = 'KryptonError';
  readonly code: KryptonErrorCode;
  readonly tenant: string | undefined;

  constructor(code: KryptonErrorCode, message: string, options?: { tenant?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.tenant = options?.tenant;
  }
}

export function isKryptonError(err: unknown, code?: KryptonErrorCode): err is KryptonError {
  return err instanceof KryptonError && (code === undefined || err.code === code);
}

/** The MasterKey's catalog (src/krypton/master-key.ts, seal-file.ts, shamir.ts, node-secrets.ts). */
export type MasterKeyErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIG'
  | 'NOT_INITIALIZED'
  | 'ALREADY_INITIALIZED'
  | 'INVALID_SHARE'
  | 'DUPLICATE_SHARE'
  | 'WRONG_SHARES'
  | 'NOT_SHAMIR'
  | 'CORRUPT'
  | 'AUTO_UNSEAL_FAILED'
  | 'SECRET_NOT_FOUND';

export class MasterKeyError extends CodedError<MasterKeyErrorCode> {
  override readonly name = 'MasterKeyError';
}
