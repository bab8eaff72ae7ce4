/**
 * The governance plane's one error class (STYLE.md "one error module"): every failure of src/cmk carries a
 * stable code that the admin API and the CLI switch on, never on the message text.
 *
 * src/cmk deliberately does not reuse src/kmip/errors.ts: that module imports src/native (its error mapping),
 * and ARCHITECTURE §6 bars src/cmk from the native key-slot layer, even transitively.
 */
import { CodedError } from '../common/coded-error.js';
export const GovernanceErrorCode = {
  /** A caller-supplied value breaks its contract (pattern, length, type). Nothing was changed. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** Onboarding lost the race or the id is taken (terminated ids are never reused: audit refers to them). */
  TENANT_EXISTS: 'TENANT_EXISTS',
  TENANT_NOT_FOUND: 'TENANT_NOT_FOUND',
  /** The tenant's state does not allow the transition (e.g. restore of an active tenant). */
  INVALID_STATE: 'INVALID_STATE',
  /** A shadow reference with that name already exists (they are immutable: register a new name). */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** A shadow reference, policy or approval that does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** Four-eyes: the approval window passed before enough distinct approvers agreed. */
  APPROVAL_EXPIRED: 'APPROVAL_EXPIRED',
  /** Four-eyes: the requester, or someone who already approved, tried to approve (again). */
  APPROVER_NOT_ALLOWED: 'APPROVER_NOT_ALLOWED',
  /** The crypto-shred hook of an offboarding failed: nothing was dropped. */
  SHRED_FAILED: 'SHRED_FAILED',
  /** Too many policies, shadow references or pending approvals for one tenant. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** Used after close(). */
  CLOSED: 'CLOSED',
} as const;
export type GovernanceErrorCode = (typeof GovernanceErrorCode)[keyof typeof GovernanceErrorCode];

export class GovernanceError extends CodedError<GovernanceErrorCode> {
  override readonly name = 'GovernanceError';
}

export function isGovernanceError(err: unknown, code?: GovernanceErrorCode): err is GovernanceError {
  return err instanceof GovernanceError && (code === undefined || err.code === code);
}
