/**
 * The admin API's one error catalog (STYLE.md rule 5, the fastify habit "an error catalog kept in sync with
 * the docs"): every failure the API answers maps to exactly one entry here, giving the HTTP status and a
 * stable machine code. Clients and the `openkcm tenant` CLI switch on `error.code`, never on text.
 *
 * The body of every error response is `{ "error": { "code": <ApiErrorCode>, "message": <string> } }`.
 * Messages are written for operators and never carry a stack trace, SQL, key material or a credential
 * (docs/governance.md "Admin API", "Errors").
 */

export interface ApiErrorCatalogEntry {
  readonly status: number;
  readonly description: string;
}

export const API_ERRORS = {
  INVALID_REQUEST: { status: 400, description: 'The request does not match the route schema (body, parameters or query)' },
  UNAUTHENTICATED: { status: 401, description: 'No valid admin client certificate and no valid bearer token' },
  FORBIDDEN: { status: 403, description: "The admin's roles do not allow this action" },
  NOT_FOUND: { status: 404, description: 'No such tenant, policy, approval or route' },
  METHOD_NOT_ALLOWED: { status: 405, description: 'The route exists but not with this method' },
  CONFLICT: { status: 409, description: "The target's state does not allow the action (exists already, terminated, ...)" },
  APPROVAL_INVALID: { status: 409, description: 'The approval is expired, already executed, or the approver already approved / requested it' },
  LIMIT_EXCEEDED: { status: 409, description: 'A per-tenant limit of the repository is reached (policies, shadow references, pending approvals)' },
  BODY_TOO_LARGE: { status: 413, description: 'The request body exceeds ADMIN_BODY_LIMIT_BYTES' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'Request bodies must be application/json' },
  INVALID_POLICY: { status: 422, description: 'The policy text does not parse or does not validate against the schema' },
  L1_UNHEALTHY: { status: 424, description: "The tenant's L1 key did not pass its keystore health check" },
  // Issue 16 item 2: registering an L1 names why it was refused (the keystore's code), never a 500.
  L1_KEY_REVOKED_OR_DISABLED: { status: 424, description: 'The L1 key is unknown at the source, disabled, scheduled for deletion or deleted' },
  L1_ACCESS_DENIED: { status: 424, description: "The keystore refused this node's credentials (PIN, IAM policy, token) for the L1 key" },
  L1_UNREACHABLE: { status: 424, description: 'The keystore of the L1 key cannot be reached (module not loadable, token absent, network down)' },
  L1_INVALID: { status: 422, description: 'The keystore refused the reference or its connection settings (no connection configured for the plugin, malformed key reference)' },
  NODE_SECRET_MISSING: { status: 424, description: 'A node secret the keystore connection names (PIN, credential) is not stored: openkcm operator secret put NAME' },
  L1_CONFLICT: { status: 409, description: 'The registered L1 and the one openkcm.conf names for the tenant disagree' },
  NOT_CONFIGURED: { status: 501, description: 'This node has no component for the action (e.g. no keystore validator wired)' },
  UNAVAILABLE: { status: 503, description: 'The node is sealed or its database is unreachable' },
  INTERNAL: { status: 500, description: 'An unexpected error; details are in the server log only' },
} as const satisfies Record<string, ApiErrorCatalogEntry>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export function isApiErrorCode(s: string): s is ApiErrorCode {
  return Object.hasOwn(API_ERRORS, s);
}

/** The one error class route handlers throw; the error handler turns it into the catalog's response. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ApiErrorCode;
  readonly status: number;
  /** Extra JSON-safe, non-secret fields for the response (e.g. `{ tenant }`). */
  readonly details: Readonly<Record<string, string | number | boolean>> | undefined;

  constructor(code: ApiErrorCode, message: string, options?: { cause?: unknown; details?: Readonly<Record<string, string | number | boolean>> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = API_ERRORS[code].status;
    this.details = options?.details;
  }
}

export interface ApiErrorBody {
  readonly error: { readonly code: ApiErrorCode; readonly message: string; readonly details?: Readonly<Record<string, string | number | boolean>> };
}

export function errorBody(e: ApiError): ApiErrorBody {
  return { error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) } };
}

/**
 * Errors thrown by the governance repository and the policy engine carry their own stable `code`
 * (src/cmk/repository/, src/cmk/authz). Mapped here by code (never by message text) so a repository error
 * never reaches the client as a 500 with its internals.
 */
const FOREIGN_CODE_MAP: Readonly<Record<string, ApiErrorCode>> = {
  // GovernanceError (src/cmk/errors.ts)
  INVALID_ARGUMENT: 'INVALID_REQUEST',
  TENANT_EXISTS: 'CONFLICT',
  TENANT_NOT_FOUND: 'NOT_FOUND',
  INVALID_STATE: 'CONFLICT',
  NOT_FOUND: 'NOT_FOUND',
  APPROVAL_EXPIRED: 'APPROVAL_INVALID',
  APPROVER_NOT_ALLOWED: 'APPROVAL_INVALID',
  SHRED_FAILED: 'INTERNAL',
  ALREADY_EXISTS: 'CONFLICT',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  CLOSED: 'UNAVAILABLE',
  // KryptonError (src/krypton/errors.ts), reached through the injected kill-switch
  UNKNOWN_TENANT: 'NOT_FOUND',
  EXISTS: 'CONFLICT',
  CONFLICT: 'CONFLICT',
  L1_UNHEALTHY: 'L1_UNHEALTHY',
  L1_CONFLICT: 'L1_CONFLICT',
  INVALID: 'INVALID_REQUEST',
  // ... and through rotation (issue 16 item 3)
  UNKNOWN_SERVICE: 'NOT_FOUND',
  UNKNOWN_VERSION: 'NOT_FOUND',
  LIMIT: 'LIMIT_EXCEEDED',
  TAMPERED: 'L1_UNHEALTHY',
  TENANT_REVOKED: 'CONFLICT',
  // KmipError codes that can surface through krypton
  TENANT_UNAVAILABLE: 'L1_UNHEALTHY',
  SERVER_SEALED: 'UNAVAILABLE',
  // Policy engine (src/cmk/authz)
  INVALID_POLICY: 'INVALID_POLICY',
  POLICY_INVALID: 'INVALID_POLICY',
};

/** The catalog code of an L1 that failed its health round trip, by the keystore's code (src/keystore/types.ts). */
export function l1FailureCode(keystoreCode: string): ApiErrorCode {
  switch (keystoreCode) {
    case 'KEY_REVOKED_OR_DISABLED': return 'L1_KEY_REVOKED_OR_DISABLED';
    case 'ACCESS_DENIED': return 'L1_ACCESS_DENIED';
    case 'SECRET_MISSING': return 'NODE_SECRET_MISSING';
    case 'INVALID_ARGUMENT': case 'INVALID_CIPHERTEXT': return 'L1_INVALID';
    default: return 'L1_UNREACHABLE';
  }
}

/** Converts anything thrown by a handler or a dependency to an ApiError. Unknown errors become INTERNAL. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === 'string') {
      const mapped = FOREIGN_CODE_MAP[code];
      // The repository's messages name the tenant/policy and the rule broken; they are safe to show.
      if (mapped !== undefined) return new ApiError(mapped, mapped === 'INTERNAL' ? 'internal error' : e.message, { cause: e });
    }
  }
  return new ApiError('INTERNAL', 'internal error', { cause: e });
}
