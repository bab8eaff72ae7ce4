/** Error mapping: Key Vault REST errors → stable keystore codes. */
import { KeystoreError, type KeystoreErrorCode } from '../types.js';
import { AZURE_KEYVAULT_PLUGIN_KIND } from './constants.js';

interface RestErrorLike {
  readonly name: 'RestError';
  readonly message: string;
  readonly statusCode?: number;
  readonly code?: string;
  readonly details?: unknown;
}

export function isRestErrorLike(err: unknown): err is RestErrorLike {
  return err instanceof Error && err.name === 'RestError';
}

/** `error.innererror.code` of a Key Vault error body (the SDK deserialises it as `innerError`). */
function innerErrorCode(details: unknown): string | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  const error = (details as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return undefined;
  const inner = (error as { innerError?: unknown; innererror?: unknown }).innerError ?? (error as { innererror?: unknown }).innererror;
  if (typeof inner !== 'object' || inner === null) return undefined;
  const code = (inner as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * Maps an SDK failure. Key Vault answers (REST error codes, learn.microsoft.com/azure/key-vault/general/rest-error-codes):
 * - 401 Unauthorized (AKV10000-series): no or bad token → ACCESS_DENIED (or the credential's own failure).
 * - 403 Forbidden: the SAME status for "you may not" and "the key is disabled"; they differ in `innererror.code`:
 *   `KeyDisabled` ("Operation wrapKey is not allowed on a disabled key.") is the customer's kill-switch →
 *   KEY_REVOKED_OR_DISABLED; `AccessDenied` (access policy), `ForbiddenByRbac`, `ForbiddenByPolicy`,
 *   `ForbiddenByFirewall`, `ForbiddenByConnection` are about our identity or network → ACCESS_DENIED.
 *   When a 403 carries no inner code we fall back to the service's message text for the disabled case: reading
 *   a disabled key as "access denied" would keep a tenant alive after its customer pulled the plug.
 * - 404 KeyNotFound: deleted (or never existed) → KEY_REVOKED_OR_DISABLED. Any other 404 (a proxy, a wrong host)
 *   is UNREACHABLE: the kill-switch must not fire on a routing mistake.
 * - 400 BadParameter on unwrap: the blob did not decrypt → INVALID_CIPHERTEXT.
 * - no status (connection refused, DNS, TLS), 408/429/5xx, aborts → UNREACHABLE.
 */
/** What {@link mapAzureError} reads of the credential (./credential.ts AzureSecretCredential): its last token failure. */
export interface CredentialFailure {
  readonly failure: KeystoreError | undefined;
}

export function mapAzureError(err: unknown, operation: string, credential?: CredentialFailure): KeystoreError {
  if (err instanceof KeystoreError) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `${operation}: request aborted (timeout)`);
  }
  if (isRestErrorLike(err)) {
    const status = err.statusCode;
    const inner = innerErrorCode(err.details);
    const what = `${operation}: ${status === undefined ? '' : `HTTP ${String(status)} `}${err.code ?? ''}${inner === undefined ? '' : `/${inner}`} ${err.message.slice(0, 300)}`.replace(/\s+/gu, ' ').trim();
    // No `cause`: the SDK's RestError carries the request, whose headers hold the bearer token.
    const make = (code: KeystoreErrorCode): KeystoreError => new KeystoreError(code, AZURE_KEYVAULT_PLUGIN_KIND, what);
    if (status === undefined) return make('UNREACHABLE');
    if (status === 401) {
      const failure = credential?.failure;
      return failure ?? make('ACCESS_DENIED');
    }
    if (status === 403) {
      if (inner === 'KeyDisabled' || (inner === undefined && /\bdisabled key\b/iu.test(err.message))) return make('KEY_REVOKED_OR_DISABLED');
      return make('ACCESS_DENIED');
    }
    if (status === 404) return make(err.code === 'KeyNotFound' ? 'KEY_REVOKED_OR_DISABLED' : 'UNREACHABLE');
    if (status === 400) return make(operation === 'unwrapKey' ? 'INVALID_CIPHERTEXT' : 'INVALID_ARGUMENT');
    return make('UNREACHABLE');
  }
  return new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `${operation}: ${errorText(err).slice(0, 300)}`);
}
