/**
 * Azure Key Vault keystore plugin: L1 is a Key Vault (or Managed HSM) key, used through the real
 * `@azure/keyvault-keys` CryptographyClient (issue 4, deliverable 4). Documented for users in docs/keystores.md,
 * section "Azure Key Vault".
 *
 * Wrap: `CryptographyClient.wrapKey` with RSA-OAEP-256 (standard vaults, RSA/RSA-HSM keys) or A256KW (Managed HSM
 * oct-HSM keys); unwrap: `unwrapKey`. RSA-OAEP (SHA-1) is refused on purpose: the SDK performs it LOCALLY with the
 * public key (RsaCryptographyProvider), so a wrap would never reach the vault and could not notice that the
 * customer disabled the key.
 *
 * Tenant binding (ARCHITECTURE §2, "the AAD binds the blob to its identity"). Key Vault's wrapKey takes no AAD
 * (RSA-OAEP's label is not exposed, AES-KW has none), so we bind the context inside the wrapped plaintext:
 *
 *   payload = 0x01 | keyLen | 6 zero bytes | 8-byte random nonce | SHA-256(AAD) | key | zero pad to a multiple of 8
 *   AAD     = "openkcm/keystore/v1" 0x00 tenant 0x00 purpose      (the same encoding as the PKCS#11 plugin)
 *
 * and compare the digest on unwrap (mismatch → INVALID_CIPHERTEXT). RSA-OAEP and AES-KW are both non-malleable,
 * so an existing blob cannot be edited to name another tenant, and a blob copied into another tenant's record
 * decrypts to the wrong digest. The digest (not the context itself) keeps the payload at most 112 bytes for any
 * tenant length: RSA-2048 with OAEP-SHA-256 carries at most 190. The 8-byte header keeps the payload a multiple
 * of 8 as AES-KW (RFC 3394) requires, and the nonce makes AES-KW (deterministic) produce a fresh blob per wrap.
 * Known limit (RSA only): the RSA public key is public, so whoever holds it can wrap a key of their choice for
 * any tenant; the binding stops moving or editing EXISTING blobs, not forging new ones by someone who can also
 * write the hierarchy store. A256KW on a Managed HSM has no such property.
 *
 * Blob (version 1): 0x01 | versionLength (1 byte) | key version (ASCII) | wrapped bytes. The version is kept so
 * that a blob wrapped before the customer rotated the key still unwraps under the version that wrapped it.
 *
 * Authentication: the SDK's Key Vault policy first sends each client's first request WITHOUT a token and expects
 * 401 with `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"`
 * (challenge-based auth), then asks our TokenCredential for the scope `<resource>/.default`. We implement the
 * TokenCredential ourselves (OAuth2 client-credentials against Microsoft Entra ID, or a static token) because
 * @azure/identity is not a dependency. The credential only ever requests Key Vault / Managed HSM scopes, so a
 * hostile endpoint cannot make us fetch a token for another resource through a forged challenge.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { CryptographyClient, KeyClient, type CryptographyClientOptions, type KeyVaultKey } from '@azure/keyvault-keys';
import {
  KeystoreError,
  checkUnwrapInput,
  checkWrapInput,
  type HealthStatus,
  type KeyDescription,
  type KeystoreErrorCode,
  type KeystorePlugin,
  type SecretSource,
  type ShadowReference,
  type WrapContext,
} from './types.js';

export const AZURE_KEYVAULT_PLUGIN_KIND = 'azure-keyvault';

/** The wrap algorithms we accept (see the module comment for why RSA-OAEP and RSA1_5 are not among them). */
export const AZURE_WRAP_ALGORITHMS = ['RSA-OAEP-256', 'A256KW'] as const;
export type AzureWrapAlgorithm = (typeof AZURE_WRAP_ALGORITHMS)[number];

// ---------------------------------------------------------------------------------------------------------------
// Limits. Each bounds what a misconfiguration or a hostile endpoint can make us do.

/** Default per-attempt HTTP timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** A hung vault must not pin a tenant activation (and its caller) for minutes: attempts are capped at 2 minutes. */
export const MAX_REQUEST_TIMEOUT_MS = 120_000;
/** Below this no TLS handshake to a cloud region completes; smaller values only produce false UNREACHABLEs. */
export const MIN_REQUEST_TIMEOUT_MS = 100;
/** Retries after the first attempt for throttling (429), 5xx and connection errors. */
export const DEFAULT_RETRIES = 2;
/** Retry storms against a throttled vault make throttling worse and multiply the time an activation waits. */
export const MAX_RETRIES = 10;
/** Base and cap of the SDK's exponential back-off between retries. */
export const RETRY_DELAY_MS = 400;
export const MAX_RETRY_DELAY_MS = 4_000;
/** A hostile or broken token authority cannot make us buffer more than this (memory exhaustion). */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** Entra access tokens are a few KiB; anything larger is refused before it is stored or sent. */
export const MAX_ACCESS_TOKEN_CHARS = 16 * 1024;
/** The credential secret is a small JSON document (room for a maximal static token); more is not a credential. */
export const MAX_CREDENTIAL_SECRET_BYTES = 32 * 1024;
/** A PEM bundle of private CAs; refusing larger files stops a mistyped path (a disk image, a log) being slurped. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;
/** Key identifiers are short URLs; this bounds what we parse and echo in messages. */
export const MAX_KEY_REF_CHARS = 2048;
/** Key Vault versions are 32 hex characters; the bound keeps a forged blob from naming a huge "version". */
export const MAX_KEY_VERSION_CHARS = 64;
/** Versions whose key bundle and client we keep; a flood of blobs naming many versions cannot grow memory. */
export const MAX_CACHED_VERSIONS = 16;
/** How long a fetched key bundle (enabled, expiry, key_ops) is trusted before it is fetched again. */
export const KEY_PROPERTIES_TTL_MS = 5 * 60_000;
/** RSA keys shorter than this are refused (NIST SP 800-57: 2048 bits is the minimum for wrapping). */
export const MIN_RSA_KEY_BITS = 2048;
/** Idle and in-flight sockets per host; a burst of tenant activations must not open hundreds of TLS sessions. */
export const MAX_SOCKETS_PER_HOST = 16;
/** A new token is fetched when less than this (or half its lifetime) remains. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
/** Lifetime assumed for a static token that is not a JWT with `exp`; the secret is re-read after it. */
export const STATIC_TOKEN_ASSUMED_LIFETIME_MS = 60 * 60_000;
/** Where Microsoft Entra ID issues tokens (public cloud). Sovereign clouds set `authorityHost`. */
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/**
 * The only scopes our credential requests. The SDK derives the scope from the vault's 401 challenge; without this
 * list, an endpoint we were pointed at could name any resource (Microsoft Graph, ARM) and receive a token for it.
 */
const ALLOWED_SCOPES = new Set([
  'https://vault.azure.net/.default',
  'https://vault.azure.cn/.default',
  'https://vault.usgovcloudapi.net/.default',
  'https://vault.microsoftazure.de/.default',
  'https://managedhsm.azure.net/.default',
  'https://managedhsm.azure.cn/.default',
  'https://managedhsm.usgovcloudapi.net/.default',
]);

const BLOB_FORMAT_V1 = 0x01;
const PAYLOAD_FORMAT_V1 = 0x01;
const PAYLOAD_HEADER_BYTES = 8;
const PAYLOAD_NONCE_BYTES = 8;
const CONTEXT_DIGEST_BYTES = 32;
const PAYLOAD_PREFIX_BYTES = PAYLOAD_HEADER_BYTES + PAYLOAD_NONCE_BYTES + CONTEXT_DIGEST_BYTES;
const AAD_PREFIX = 'openkcm/keystore/v1';
const KEY_NAME_PATTERN = /^[0-9A-Za-z-]{1,127}$/u;
const KEY_VERSION_PATTERN = /^[0-9A-Za-z]+$/u;
/** Entra tenant ids are GUIDs or domain names; client ids are GUIDs. The pattern keeps them out of URL paths' syntax. */
const DIRECTORY_ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.-]{0,127}$/u;
/** Stands in for a token we could not obtain (see AzureSecretCredential.getToken). Not a secret. */
const UNAVAILABLE_TOKEN = 'openkcm-token-unavailable';

// ---------------------------------------------------------------------------------------------------------------
// Key identifiers

export interface AzureKeyRef {
  /** `https://<vault host>` (with port when not 443). */
  readonly vaultUrl: string;
  readonly name: string;
  /** Pinned key version, or undefined to follow the current version. */
  readonly version: string | undefined;
}

/** Parses `https://<vault>/keys/<name>[/<version>]`; anything else is INVALID_ARGUMENT. */
export function parseAzureKeyRef(keyRef: string): AzureKeyRef {
  const bad = (why: string): KeystoreError => new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `keyRef ${why}`);
  if (typeof keyRef !== 'string' || keyRef.length === 0 || keyRef.length > MAX_KEY_REF_CHARS) {
    throw bad(`must be a key identifier URL of 1..${String(MAX_KEY_REF_CHARS)} characters`);
  }
  let url: URL;
  try {
    url = new URL(keyRef);
  } catch {
    throw bad('is not a URL');
  }
  if (url.protocol !== 'https:') throw bad('must use https');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw bad('must not carry credentials, a query or a fragment');
  }
  const parts = url.pathname.replace(/\/+$/u, '').split('/');
  // ['', 'keys', name] or ['', 'keys', name, version]
  if (parts.length < 3 || parts.length > 4 || parts[0] !== '' || parts[1] !== 'keys') {
    throw bad('must look like https://<vault>/keys/<name>[/<version>]');
  }
  const name = parts[2] ?? '';
  if (!KEY_NAME_PATTERN.test(name)) throw bad('has an invalid key name (1..127 letters, digits and dashes)');
  const version = parts[3];
  if (version !== undefined && !isValidVersion(version)) throw bad('has an invalid key version');
  return { vaultUrl: `https://${url.host}`, name, version };
}

function isValidVersion(version: string): boolean {
  return version.length > 0 && version.length <= MAX_KEY_VERSION_CHARS && KEY_VERSION_PATTERN.test(version);
}

// ---------------------------------------------------------------------------------------------------------------
// Credentials

/** The JSON stored in the node secret named by `credentialSecret`. */
export type AzureCredentialSecret =
  | { readonly tenantId: string; readonly clientId: string; readonly clientSecret: string }
  | { readonly accessToken: string };

/** Parses and validates the credential secret; never echoes values in errors. */
export function parseCredentialSecret(raw: Uint8Array): AzureCredentialSecret {
  const bad = (why: string): KeystoreError =>
    new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `credential secret ${why}`);
  if (raw.length === 0 || raw.length > MAX_CREDENTIAL_SECRET_BYTES) {
    throw bad(`must be 1..${String(MAX_CREDENTIAL_SECRET_BYTES)} bytes of JSON`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch {
    throw bad('is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('must be a JSON object');
  const record = parsed as Record<string, unknown>;
  const keys = Object.keys(record);
  if ('accessToken' in record) {
    const extra = keys.find((k) => k !== 'accessToken');
    if (extra !== undefined) throw bad(`has an unknown field ${JSON.stringify(extra)}`);
    const token = record['accessToken'];
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_ACCESS_TOKEN_CHARS || /[\s"]/u.test(token)) {
      throw bad('accessToken must be a non-empty token without whitespace');
    }
    return { accessToken: token };
  }
  const extra = keys.find((k) => k !== 'tenantId' && k !== 'clientId' && k !== 'clientSecret');
  if (extra !== undefined) throw bad(`has an unknown field ${JSON.stringify(extra)}`);
  const { tenantId, clientId, clientSecret } = record;
  if (typeof tenantId !== 'string' || !DIRECTORY_ID_PATTERN.test(tenantId)) throw bad('tenantId must be a tenant GUID or domain');
  if (typeof clientId !== 'string' || !DIRECTORY_ID_PATTERN.test(clientId)) throw bad('clientId must be an application (client) id');
  if (typeof clientSecret !== 'string' || clientSecret.length === 0 || clientSecret.length > MAX_CREDENTIAL_SECRET_BYTES) {
    throw bad('clientSecret must be a non-empty string');
  }
  return { tenantId, clientId, clientSecret };
}

export interface AzureSecretCredentialOptions {
  readonly secrets: SecretSource;
  /** Name of the node secret holding the credential JSON. */
  readonly secretName: string;
  /** Microsoft Entra authority, e.g. https://login.microsoftonline.com. */
  readonly authorityHost: string;
  /** Carries the CA bundle and is destroyed by the owning keystore's close(). */
  readonly agent: HttpsAgent;
  readonly timeoutMs: number;
  /**
   * Managed identity (issue 16 item 4): tokens come from the Azure Instance Metadata Service of the machine the node
   * runs on, not from a node secret (`secretName` is then unused). `clientId` selects a user-assigned identity.
   */
  readonly managedIdentity?: { readonly endpoint: string; readonly clientId?: string };
}

/** The Azure Instance Metadata Service token endpoint (link-local, plain HTTP by design: it never leaves the host). */
export const AZURE_IMDS_TOKEN_ENDPOINT = 'http://169.254.169.254/metadata/identity/oauth2/token';
/** IMDS API version of the managed-identity token call. */
const IMDS_API_VERSION = '2018-02-01';

/**
 * A TokenCredential over a node secret: OAuth2 client credentials (RFC 6749 §4.4, Entra v2 endpoint
 * `<authority>/<tenant>/oauth2/v2.0/token`) or a static bearer token.
 *
 * The secret is read from the SecretSource every time a token is needed and wiped at once, so the plugin holds no
 * credential between token fetches and a rotated secret is picked up by the next fetch.
 *
 * getToken NEVER rejects. The SDK's token cycler refreshes in the background without awaiting the promise; a
 * rejection there would be an unhandled rejection and end the process. On failure we return a placeholder token
 * (the vault answers 401) and keep the failure, which the keystore reports instead of the vault's 401.
 */
export class AzureSecretCredential implements TokenCredential {
  readonly #options: AzureSecretCredentialOptions;
  readonly #tokens = new Map<string, AccessToken & { readonly issuedAt: number }>();
  readonly #inflight = new Map<string, Promise<AccessToken>>();
  #failure: KeystoreError | undefined;
  /** Counts successful token fetches (observability and tests). */
  fetches = 0;

  constructor(options: AzureSecretCredentialOptions) {
    this.#options = options;
  }

  /** The reason the last token fetch failed, until one succeeds again. */
  get failure(): KeystoreError | undefined {
    return this.#failure;
  }

  /** Forgets cached tokens: the vault refused one (revoked, or the secret was rotated). */
  invalidate(): void {
    this.#tokens.clear();
  }

  async getToken(scopes: string | string[]): Promise<AccessToken> {
    const list = typeof scopes === 'string' ? [scopes] : scopes;
    const scope = list[0];
    if (list.length !== 1 || scope === undefined || !ALLOWED_SCOPES.has(scope)) {
      this.#failure = new KeystoreError(
        'ACCESS_DENIED',
        AZURE_KEYVAULT_PLUGIN_KIND,
        `refusing to request a token for scope ${JSON.stringify(list.join(' ').slice(0, 200))}: not a Key Vault scope`,
      );
      return placeholderToken();
    }
    const now = Date.now();
    const cached = this.#tokens.get(scope);
    if (cached !== undefined) {
      const lifetime = cached.expiresOnTimestamp - cached.issuedAt;
      const margin = Math.min(TOKEN_REFRESH_MARGIN_MS, lifetime / 2);
      if (cached.expiresOnTimestamp - margin > now) return cached;
    }
    let pending = this.#inflight.get(scope);
    if (pending === undefined) {
      pending = this.#fetch(scope).finally(() => this.#inflight.delete(scope));
      this.#inflight.set(scope, pending);
    }
    try {
      const token = await pending;
      this.#failure = undefined;
      return token;
    } catch (err) {
      this.#failure =
        err instanceof KeystoreError
          ? err
          : new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, 'token acquisition failed');
      // Degrade gracefully: a token that is still valid keeps serving while the authority is unreachable.
      if (cached !== undefined && cached.expiresOnTimestamp > Date.now()) return cached;
      return placeholderToken();
    }
  }

  async #fetch(scope: string): Promise<AccessToken> {
    const mi = this.#options.managedIdentity;
    if (mi !== undefined) {
      const issuedAt = Date.now();
      const token = await this.#imds(mi, scope);
      this.#tokens.set(scope, { ...token, issuedAt });
      this.fetches += 1;
      return token;
    }
    let raw: Buffer;
    try {
      raw = await this.#options.secrets.get(this.#options.secretName);
    } catch (err) {
      throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `credential secret ${this.#options.secretName} is not available`, { cause: err });
    }
    let secret: AzureCredentialSecret;
    try {
      secret = parseCredentialSecret(raw);
    } finally {
      raw.fill(0);
    }
    const issuedAt = Date.now();
    let token: AccessToken;
    if ('accessToken' in secret) {
      const exp = jwtExpiry(secret.accessToken);
      token = {
        token: secret.accessToken,
        tokenType: 'Bearer',
        expiresOnTimestamp: exp ?? issuedAt + STATIC_TOKEN_ASSUMED_LIFETIME_MS,
      };
    } else {
      token = await this.#clientCredentials(secret, scope);
    }
    this.#tokens.set(scope, { ...token, issuedAt });
    this.fetches += 1;
    return token;
  }

  /** A managed-identity token from IMDS: GET with `Metadata: true` (which a server-side request forgery cannot add). */
  async #imds(mi: { readonly endpoint: string; readonly clientId?: string }, scope: string): Promise<AccessToken> {
    const url = new URL(mi.endpoint);
    url.searchParams.set('api-version', IMDS_API_VERSION);
    url.searchParams.set('resource', scope.replace(/\/\.default$/u, ''));
    if (mi.clientId !== undefined) url.searchParams.set('client_id', mi.clientId);
    const response = await getImds(url, this.#options.timeoutMs);
    return tokenFromResponse(response, url.host);
  }

  async #clientCredentials(secret: { tenantId: string; clientId: string; clientSecret: string }, scope: string): Promise<AccessToken> {
    const url = new URL(`${this.#options.authorityHost.replace(/\/+$/u, '')}/${encodeURIComponent(secret.tenantId)}/oauth2/v2.0/token`);
    const form = Buffer.from(
      new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: secret.clientId,
        client_secret: secret.clientSecret,
        scope,
      }).toString(),
      'utf8',
    );
    let response: { status: number; body: Buffer };
    try {
      response = await postForm(url, form, this.#options.agent, this.#options.timeoutMs);
    } finally {
      form.fill(0);
    }
    return tokenFromResponse(response, url.host);
  }
}

/** An OAuth2 token answer (Entra v2 endpoint or IMDS) → AccessToken; refusals classified (RFC 6749 §5.2). */
function tokenFromResponse(response: { status: number; body: Buffer }, host: string): AccessToken {
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(response.body.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: classified by status below.
  } finally {
    response.body.fill(0);
  }
  if (response.status !== 200) {
    const error = typeof json['error'] === 'string' ? json['error'].slice(0, 64) : 'unknown_error';
    const aadsts = typeof json['error_description'] === 'string' ? /AADSTS\d+/u.exec(json['error_description'])?.[0] : undefined;
    // RFC 6749 §5.2: 400/401 with an error code is a refusal of OUR credentials; anything else is the authority.
    const code: KeystoreErrorCode = response.status === 400 || response.status === 401 ? 'ACCESS_DENIED' : 'UNREACHABLE';
    throw new KeystoreError(
      code,
      AZURE_KEYVAULT_PLUGIN_KIND,
      `token request to ${host} refused: HTTP ${String(response.status)} ${error}${aadsts === undefined ? '' : ` (${aadsts})`}`,
    );
  }
  const accessToken = json['access_token'];
  const expiresIn = Number(json['expires_in']);
  if (typeof accessToken !== 'string' || accessToken.length === 0 || accessToken.length > MAX_ACCESS_TOKEN_CHARS || /[\s"]/u.test(accessToken)) {
    throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `token response from ${host} has no usable access_token`);
  }
  if (!Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `token response from ${host} has no usable expires_in`);
  }
  return { token: accessToken, tokenType: 'Bearer', expiresOnTimestamp: Date.now() + expiresIn * 1000 };
}


function placeholderToken(): AccessToken {
  // Short-lived so the SDK asks again on its next request rather than caching the failure.
  return { token: UNAVAILABLE_TOKEN, tokenType: 'Bearer', expiresOnTimestamp: Date.now() + 2_000 };
}

/** The `exp` of a JWT-shaped token in ms, or undefined. The signature is not ours to check: the vault checks it. */
function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof payload === 'object' && payload !== null && typeof (payload as { exp?: unknown }).exp === 'number') {
      return (payload as { exp: number }).exp * 1000;
    }
  } catch {
    // Opaque token.
  }
  return undefined;
}

/** GET an IMDS-style token endpoint (http or https), bounded like postForm. */
function getImds(url: URL, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const unreachable = (why: string, cause?: unknown): KeystoreError =>
      new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `managed identity endpoint ${url.host}: ${why}`, cause === undefined ? undefined : { cause });
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', timeout: timeoutMs, headers: { Metadata: 'true', accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_TOKEN_RESPONSE_BYTES) {
          for (const c of chunks) c.fill(0);
          chunks.length = 0;
          reject(unreachable(`response larger than ${String(MAX_TOKEN_RESPONSE_BYTES)} bytes`));
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }); });
      res.on('error', (e) => { reject(unreachable(e.message, e)); });
    });
    req.on('timeout', () => { req.destroy(unreachable(`no answer within ${String(timeoutMs)} ms`)); });
    req.on('error', (e) => { reject(e instanceof KeystoreError ? e : unreachable(e.message, e)); });
    req.end();
  });
}

function postForm(url: URL, body: Buffer, agent: HttpsAgent, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const unreachable = (why: string, cause?: unknown): KeystoreError =>
      new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `token authority ${url.host}: ${why}`, cause === undefined ? undefined : { cause });
    const req = httpsRequest(
      url,
      {
        method: 'POST',
        agent,
        timeout: timeoutMs,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(body.length),
          accept: 'application/json',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_TOKEN_RESPONSE_BYTES) {
            for (const c of chunks) c.fill(0);
            chunks.length = 0;
            reject(unreachable(`response larger than ${String(MAX_TOKEN_RESPONSE_BYTES)} bytes`));
            req.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          for (const c of chunks) c.fill(0);
          resolve({ status: res.statusCode ?? 0, body: all });
        });
        res.on('error', (err) => {
          reject(err instanceof KeystoreError ? err : unreachable('response failed', err));
        });
      },
    );
    req.on('timeout', () => req.destroy(unreachable(`no answer within ${String(timeoutMs)} ms`)));
    req.on('error', (err) => {
      reject(err instanceof KeystoreError ? err : unreachable(errorText(err), err));
    });
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Error mapping: Key Vault REST errors → stable keystore codes.

interface RestErrorLike {
  readonly name: 'RestError';
  readonly message: string;
  readonly statusCode?: number;
  readonly code?: string;
  readonly details?: unknown;
}

function isRestErrorLike(err: unknown): err is RestErrorLike {
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

function errorText(err: unknown): string {
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
export function mapAzureError(err: unknown, operation: string, credential?: AzureSecretCredential): KeystoreError {
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

// ---------------------------------------------------------------------------------------------------------------
// The tenant-binding payload (see the module comment).

function contextDigest(context: WrapContext): Buffer {
  return createHash('sha256').update(`${AAD_PREFIX}\0${context.tenant}\0${context.purpose ?? ''}`, 'utf8').digest();
}

function paddedLength(keyLength: number): number {
  return PAYLOAD_PREFIX_BYTES + Math.ceil(keyLength / 8) * 8;
}

function encodePayload(key: Uint8Array, context: WrapContext): Buffer {
  const out = Buffer.alloc(paddedLength(key.length));
  out[0] = PAYLOAD_FORMAT_V1;
  out[1] = key.length;
  randomBytes(PAYLOAD_NONCE_BYTES).copy(out, PAYLOAD_HEADER_BYTES);
  contextDigest(context).copy(out, PAYLOAD_HEADER_BYTES + PAYLOAD_NONCE_BYTES);
  out.set(key, PAYLOAD_PREFIX_BYTES);
  return out;
}

function decodePayload(plain: Uint8Array, context: WrapContext): Uint8Array {
  const invalid = (): KeystoreError =>
    new KeystoreError('INVALID_CIPHERTEXT', AZURE_KEYVAULT_PLUGIN_KIND, 'unwrapped payload is malformed or bound to another tenant/purpose');
  if (plain.length < PAYLOAD_PREFIX_BYTES + 1 || plain[0] !== PAYLOAD_FORMAT_V1) throw invalid();
  const keyLength = plain[1] ?? 0;
  if (keyLength === 0 || plain.length !== paddedLength(keyLength)) throw invalid();
  for (let i = 2; i < PAYLOAD_HEADER_BYTES; i += 1) if (plain[i] !== 0) throw invalid();
  const digest = plain.subarray(PAYLOAD_HEADER_BYTES + PAYLOAD_NONCE_BYTES, PAYLOAD_PREFIX_BYTES);
  if (!timingSafeEqual(digest, contextDigest(context))) throw invalid();
  for (let i = PAYLOAD_PREFIX_BYTES + keyLength; i < plain.length; i += 1) if (plain[i] !== 0) throw invalid();
  return Uint8Array.from(plain.subarray(PAYLOAD_PREFIX_BYTES, PAYLOAD_PREFIX_BYTES + keyLength));
}

function encodeBlob(version: string, wrapped: Uint8Array): Uint8Array {
  const v = Buffer.from(version, 'ascii');
  const out = new Uint8Array(2 + v.length + wrapped.length);
  out[0] = BLOB_FORMAT_V1;
  out[1] = v.length;
  out.set(v, 2);
  out.set(wrapped, 2 + v.length);
  return out;
}

function decodeBlob(blob: Uint8Array): { version: string; wrapped: Uint8Array } {
  const invalid = (): KeystoreError =>
    new KeystoreError('INVALID_CIPHERTEXT', AZURE_KEYVAULT_PLUGIN_KIND, 'not a version-1 Azure Key Vault wrapped blob');
  if (blob.length < 3 || blob[0] !== BLOB_FORMAT_V1) throw invalid();
  const vlen = blob[1] ?? 0;
  if (vlen === 0 || vlen > MAX_KEY_VERSION_CHARS || blob.length <= 2 + vlen) throw invalid();
  const version = Buffer.from(blob.subarray(2, 2 + vlen)).toString('latin1');
  if (!isValidVersion(version)) throw invalid();
  return { version, wrapped: blob.subarray(2 + vlen) };
}

// ---------------------------------------------------------------------------------------------------------------

export interface AzureKeyVaultKeystoreConfig {
  /** Key identifier URL `https://<vault>/keys/<name>[/<version>]`. Without a version, wraps use the current one. */
  readonly keyRef: string;
  readonly credential: TokenCredential;
  /** Default RSA-OAEP-256. */
  readonly algorithm?: AzureWrapAlgorithm;
  /** Extra trust anchors (PEM) for private endpoints and tests, added to Node's bundled roots. */
  readonly caPem?: string;
  /** Per-attempt timeout, MIN_REQUEST_TIMEOUT_MS..MAX_REQUEST_TIMEOUT_MS; default DEFAULT_REQUEST_TIMEOUT_MS. */
  readonly requestTimeoutMs?: number;
  /** Retries after the first attempt, 0..MAX_RETRIES; default DEFAULT_RETRIES. */
  readonly retries?: number;
  /**
   * The SDK checks that the challenge's resource domain is a suffix of the vault host (`*.vault.azure.net`).
   * Only set this for a vault reached under another name (a local test endpoint, a custom DNS name).
   */
  readonly disableChallengeResourceVerification?: boolean;
  /** HTTPS agent the plugin takes ownership of (destroyed by close()); one is created when absent. */
  readonly agent?: HttpsAgent;
}

interface VersionEntry {
  readonly version: string;
  readonly key: KeyVaultKey;
  readonly crypto: CryptographyClient;
  readonly fetchedAt: number;
  /** The first call on a client runs alone: see #call. */
  warm: boolean;
  warming: Promise<void> | undefined;
}

function validateNumber(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `${name} must be an integer ${String(min)}..${String(max)}`);
  }
  return value;
}

export function createAzureAgent(caPem: string | undefined): HttpsAgent {
  return new HttpsAgent({
    keepAlive: true,
    maxSockets: MAX_SOCKETS_PER_HOST,
    maxFreeSockets: MAX_SOCKETS_PER_HOST,
    // Per-agent trust (never process-global): Node's bundled roots plus the configured private CA.
    ...(caPem === undefined ? {} : { ca: [...rootCertificates, caPem] }),
  });
}

export class AzureKeyVaultKeystore implements KeystorePlugin {
  readonly kind = AZURE_KEYVAULT_PLUGIN_KIND;
  readonly keyRef: string;
  readonly algorithm: AzureWrapAlgorithm;
  readonly #ref: AzureKeyRef;
  readonly #credential: TokenCredential;
  readonly #agent: HttpsAgent;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #disableChallengeResourceVerification: boolean;
  #keyClient: KeyClient | undefined;
  readonly #versions = new Map<string, VersionEntry>();
  readonly #fetching = new Map<string, Promise<VersionEntry>>();
  /** The version wraps use when the keyRef is not pinned, and when it was resolved. */
  #current: { version: string; at: number } | undefined;
  #closed = false;

  constructor(config: AzureKeyVaultKeystoreConfig) {
    this.#ref = parseAzureKeyRef(config.keyRef);
    this.keyRef = config.keyRef;
    const algorithm = config.algorithm ?? 'RSA-OAEP-256';
    if (!(AZURE_WRAP_ALGORITHMS as readonly string[]).includes(algorithm)) {
      throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `algorithm must be one of ${AZURE_WRAP_ALGORITHMS.join(', ')}`);
    }
    this.algorithm = algorithm;
    this.#timeoutMs = validateNumber('requestTimeoutMs', config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, MIN_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS);
    this.#retries = validateNumber('retries', config.retries ?? DEFAULT_RETRIES, 0, MAX_RETRIES);
    this.#disableChallengeResourceVerification = config.disableChallengeResourceVerification ?? false;
    this.#credential = config.credential;
    this.#agent = config.agent ?? createAzureAgent(config.caPem);
  }

  async wrap(plaintextKey: Uint8Array, context: WrapContext): Promise<Uint8Array> {
    checkWrapInput(AZURE_KEYVAULT_PLUGIN_KIND, plaintextKey, context);
    return await this.#guard('wrapKey', async () => {
      const entry = await this.#currentEntry(false);
      this.#assertUsable(entry, 'wrapKey');
      const payload = encodePayload(plaintextKey, context);
      try {
        const result = await this.#call(entry, () => entry.crypto.wrapKey(this.algorithm, payload, this.#operationOptions()));
        return encodeBlob(entry.version, result.result);
      } finally {
        payload.fill(0);
      }
    });
  }

  async unwrap(wrapped: Uint8Array, context: WrapContext): Promise<Uint8Array> {
    checkUnwrapInput(AZURE_KEYVAULT_PLUGIN_KIND, wrapped, context);
    const blob = decodeBlob(wrapped);
    if (this.#ref.version !== undefined && blob.version !== this.#ref.version) {
      throw new KeystoreError('INVALID_CIPHERTEXT', AZURE_KEYVAULT_PLUGIN_KIND, 'blob was wrapped by another key version than the pinned keyRef');
    }
    return await this.#guard('unwrapKey', async () => {
      const entry = await this.#versionForUnwrap(blob.version);
      this.#assertUsable(entry, 'unwrapKey');
      const modulus = entry.key.key?.n;
      if (modulus !== undefined && this.algorithm === 'RSA-OAEP-256' && blob.wrapped.length !== rsaBytes(modulus)) {
        throw new KeystoreError('INVALID_CIPHERTEXT', AZURE_KEYVAULT_PLUGIN_KIND, 'wrapped bytes do not match the RSA modulus length');
      }
      const result = await this.#call(entry, () => entry.crypto.unwrapKey(this.algorithm, blob.wrapped, this.#operationOptions()));
      try {
        return decodePayload(result.result, context);
      } finally {
        result.result.fill(0);
      }
    });
  }

  async describe(): Promise<KeyDescription> {
    return await this.#guard('describe', async () => {
      const entry = await this.#currentEntry(false);
      const key = entry.key;
      const props = key.properties;
      const details: Record<string, string | number | boolean> = {
        vaultUrl: this.#ref.vaultUrl,
        keyName: this.#ref.name,
        keyVersion: entry.version,
        pinnedVersion: this.#ref.version !== undefined,
        keyType: key.keyType ?? '',
        keyOperations: (key.keyOperations ?? []).join(','),
        enabled: props.enabled ?? true,
      };
      if (props.createdOn !== undefined) details['createdOn'] = props.createdOn.toISOString();
      if (props.updatedOn !== undefined) details['updatedOn'] = props.updatedOn.toISOString();
      if (props.expiresOn !== undefined) details['expiresOn'] = props.expiresOn.toISOString();
      if (props.notBefore !== undefined) details['notBefore'] = props.notBefore.toISOString();
      if (props.recoveryLevel !== undefined) details['recoveryLevel'] = props.recoveryLevel;
      if (props.exportable !== undefined) details['exportable'] = props.exportable;
      return {
        shadow: { plugin: AZURE_KEYVAULT_PLUGIN_KIND, keyRef: this.keyRef, keyVersion: entry.version },
        mechanism: this.algorithm,
        keySizeBits: key.key?.n !== undefined ? rsaBytes(key.key.n) * 8 : 256,
        details,
      };
    });
  }

  async health(): Promise<HealthStatus> {
    const base = { plugin: AZURE_KEYVAULT_PLUGIN_KIND, keyRef: this.keyRef } as const;
    const probe = randomBytes(32);
    try {
      // Fetch the key again: health is how a disable/delete/rotation at the source is noticed between operations.
      const entry = await this.#guard('health', () => this.#currentEntry(true));
      this.#assertUsable(entry, 'wrapKey');
      this.#assertUsable(entry, 'unwrapKey');
      const context = { tenant: 'openkcm-health-probe' };
      const back = await this.unwrap(await this.wrap(probe, context), context);
      const same = Buffer.from(back).equals(probe);
      back.fill(0);
      if (!same) return { ...base, ok: false, checkedAt: new Date(), code: 'UNREACHABLE', message: 'round trip returned different bytes' };
      return { ...base, ok: true, checkedAt: new Date() };
    } catch (err) {
      const mapped = mapAzureError(err, 'health', this.#secretCredential());
      return { ...base, ok: false, checkedAt: new Date(), code: mapped.code, message: mapped.message };
    } finally {
      probe.fill(0);
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#forget();
    this.#keyClient = undefined;
    this.#agent.destroy();
    return Promise.resolve();
  }

  // -------------------------------------------------------------------------------------------------------------

  /** Key versions whose bundle and client are cached (bounded by MAX_CACHED_VERSIONS). */
  get cachedVersionCount(): number {
    return this.#versions.size;
  }

  #secretCredential(): AzureSecretCredential | undefined {
    return this.#credential instanceof AzureSecretCredential ? this.#credential : undefined;
  }

  /** Runs an operation, maps its failure, and drops cached state when the source's answer says it is stale. */
  async #guard<T>(operation: string, body: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, 'keystore is closed');
    try {
      return await body();
    } catch (err) {
      const mapped = mapAzureError(err, operation, this.#secretCredential());
      if (mapped.code === 'KEY_REVOKED_OR_DISABLED' || mapped.code === 'ACCESS_DENIED') {
        // Re-read the key and, on refusal, get a fresh token next time, so that re-enabling the key or restoring
        // our access recovers without a restart.
        this.#forget();
        if (mapped.code === 'ACCESS_DENIED') {
          // The SDK clients cache the token they were given; new clients ask the credential again.
          this.#keyClient = undefined;
          this.#secretCredential()?.invalidate();
        }
      }
      throw mapped;
    }
  }

  #forget(): void {
    this.#versions.clear();
    this.#current = undefined;
  }

  #pipelineOptions(): CryptographyClientOptions {
    return {
      agent: this.#agent,
      retryOptions: { maxRetries: this.#retries, retryDelayInMs: RETRY_DELAY_MS, maxRetryDelayInMs: MAX_RETRY_DELAY_MS },
      // A vault never redirects; following one would carry the request (and a token) somewhere else.
      redirectOptions: { maxRetries: 0 },
      disableChallengeResourceVerification: this.#disableChallengeResourceVerification,
      userAgentOptions: { userAgentPrefix: 'openkcm' },
      additionalPolicies: [{ policy: attemptTimeoutPolicy(this.#timeoutMs), position: 'perRetry' }],
    };
  }

  #operationOptions(): Record<string, never> {
    // The per-attempt timeout lives in attemptTimeoutPolicy, not in the SDK's `requestOptions.timeout`.
    return {};
  }

  #client(): KeyClient {
    this.#keyClient ??= new KeyClient(this.#ref.vaultUrl, this.#credential, this.#pipelineOptions());
    return this.#keyClient;
  }

  /**
   * The SDK's challenge policy strips the body of a client's first request and restores it when the 401 arrives;
   * if a concurrent request completes the challenge first, the stripped request is retried without its body.
   * So the first call on each CryptographyClient runs alone and the others wait for it. Only the very first
   * request is stripped, so after it (success or failure) concurrent calls are safe.
   */
  async #call<T>(entry: VersionEntry, fn: () => Promise<T>): Promise<T> {
    if (entry.warm) return await fn();
    if (entry.warming !== undefined) {
      await entry.warming;
      return await fn();
    }
    const first = fn();
    entry.warming = first.then(
      () => {
        entry.warm = true;
      },
      () => undefined,
    );
    return await first;
  }

  async #currentEntry(refresh: boolean): Promise<VersionEntry> {
    if (this.#ref.version !== undefined) return await this.#versionEntry(this.#ref.version, refresh);
    const current = this.#current;
    if (!refresh && current !== undefined && Date.now() - current.at < KEY_PROPERTIES_TTL_MS) {
      return await this.#versionEntry(current.version, false);
    }
    const entry = await this.#fetch(undefined);
    this.#current = { version: entry.version, at: entry.fetchedAt };
    return entry;
  }

  async #versionForUnwrap(version: string): Promise<VersionEntry> {
    try {
      return await this.#versionEntry(version, false);
    } catch (err) {
      const notFound = isRestErrorLike(err) && err.statusCode === 404 && err.code === 'KeyNotFound';
      if (!notFound || this.#ref.version !== undefined) throw err;
      // The blob names a version the vault does not know. Key Vault never deletes single versions, so if the key
      // itself still exists the blob is forged or corrupted (INVALID_CIPHERTEXT) and must not trip the kill-switch.
      // A disabled version (403 KeyDisabled) or a deleted key (this GET fails too) stays KEY_REVOKED_OR_DISABLED.
      await this.#currentEntry(true);
      throw new KeystoreError('INVALID_CIPHERTEXT', AZURE_KEYVAULT_PLUGIN_KIND, 'blob names a key version the vault does not have');
    }
  }

  async #versionEntry(version: string, refresh: boolean): Promise<VersionEntry> {
    const cached = this.#versions.get(version);
    if (!refresh && cached !== undefined && Date.now() - cached.fetchedAt < KEY_PROPERTIES_TTL_MS) return cached;
    return await this.#fetch(version);
  }

  /** GET /keys/<name>[/<version>] (keys/get permission), deduplicated per version, into a bounded cache. */
  async #fetch(version: string | undefined): Promise<VersionEntry> {
    const slot = version ?? '';
    let pending = this.#fetching.get(slot);
    if (pending === undefined) {
      pending = (async () => {
        const options = this.#operationOptions();
        const key = await this.#client().getKey(this.#ref.name, version === undefined ? options : { ...options, version });
        const resolved = key.properties.version ?? '';
        if (!isValidVersion(resolved) || (version !== undefined && resolved !== version)) {
          throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, 'vault returned a key bundle for another version');
        }
        this.#checkKeyType(key);
        if (this.#closed) throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, 'keystore is closed');
        const entry: VersionEntry = {
          version: resolved,
          key,
          // A client per version (a CryptographyClient addresses one key version), new with every fetch: the SDK
          // checks expiry and key_ops against the bundle it was built with, which must be the one we checked.
          crypto: new CryptographyClient(key, this.#credential, this.#pipelineOptions()),
          fetchedAt: Date.now(),
          warm: false,
          warming: undefined,
        };
        this.#versions.delete(resolved);
        this.#versions.set(resolved, entry);
        while (this.#versions.size > MAX_CACHED_VERSIONS) {
          const oldest = this.#versions.keys().next().value;
          if (oldest === undefined) break;
          this.#versions.delete(oldest);
        }
        return entry;
      })().finally(() => this.#fetching.delete(slot));
      this.#fetching.set(slot, pending);
    }
    return await pending;
  }

  #checkKeyType(key: KeyVaultKey): void {
    const type = key.keyType ?? '';
    if (this.algorithm === 'RSA-OAEP-256') {
      if (type !== 'RSA' && type !== 'RSA-HSM') {
        throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `RSA-OAEP-256 needs an RSA key, the vault key is ${type}`);
      }
      const n = key.key?.n;
      if (n === undefined || rsaBytes(n) * 8 < MIN_RSA_KEY_BITS) {
        throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `RSA key must have at least ${String(MIN_RSA_KEY_BITS)} bits`);
      }
    } else if (type !== 'oct' && type !== 'oct-HSM') {
      throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `A256KW needs an AES (oct-HSM) key, the vault key is ${type}`);
    }
  }

  /**
   * What the SDK's CryptographyClient would otherwise refuse with untyped errors, checked from the same key bundle:
   * a disabled, expired or not-yet-valid key, or key_ops without the operation, is the customer switching L1 off
   * (the analogue of CKR_KEY_FUNCTION_NOT_PERMITTED in the PKCS#11 plugin).
   */
  #assertUsable(entry: VersionEntry, operation: 'wrapKey' | 'unwrapKey'): void {
    const props = entry.key.properties;
    const now = Date.now();
    let why: string | undefined;
    if (props.enabled === false) why = 'is disabled';
    else if (props.expiresOn !== undefined && props.expiresOn.getTime() <= now) why = 'has expired';
    else if (props.notBefore !== undefined && props.notBefore.getTime() > now) why = 'is not valid yet';
    else if (entry.key.keyOperations !== undefined && !entry.key.keyOperations.includes(operation)) why = `does not permit ${operation}`;
    if (why !== undefined) {
      this.#forget();
      throw new KeystoreError('KEY_REVOKED_OR_DISABLED', AZURE_KEYVAULT_PLUGIN_KIND, `key ${this.#ref.name} version ${entry.version} ${why}`);
    }
  }
}

/**
 * Per-attempt timeout. The SDK's own `requestOptions.timeout` timer is cleared only when a response arrives
 * (@typespec/ts-http-runtime nodeHttpClient), so every refused connection or TLS failure leaves a referenced timer
 * that holds a shutting-down process open for up to the timeout. Ours is unref'd and always cleared. On expiry
 * the request's abort signal fires and the SDK rejects with AbortError (→ UNREACHABLE); an aborted attempt is not
 * retried.
 */
function attemptTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: 'openkcmAttemptTimeout',
    async sendRequest(request, next) {
      const outer = request.abortSignal;
      const controller = new AbortController();
      const forward = (): void => {
        controller.abort();
      };
      if (outer?.aborted === true) controller.abort();
      outer?.addEventListener('abort', forward);
      const timer = setTimeout(forward, timeoutMs);
      timer.unref();
      request.abortSignal = controller.signal;
      try {
        return await next(request);
      } finally {
        clearTimeout(timer);
        outer?.removeEventListener('abort', forward);
        if (outer === undefined) delete request.abortSignal;
        else request.abortSignal = outer;
      }
    },
  };
}

function rsaBytes(n: Uint8Array): number {
  let i = 0;
  while (i < n.length && n[i] === 0) i += 1;
  return n.length - i;
}

// ---------------------------------------------------------------------------------------------------------------
// Factory (contracts.md: openXxxKeystore(shadow, settings, secrets))

const SETTINGS = new Set([
  'credentialSecret',
  'algorithm',
  'caFile',
  'authorityHost',
  'requestTimeoutMs',
  'retries',
  'disableChallengeResourceVerification',
  'identity',
  'managedIdentityClientId',
  'imdsEndpoint',
]);

/** Longest managed identity client id accepted (a GUID is 36 characters). */
const MAX_MI_CLIENT_ID_CHARS = 64;

/**
 * Opens the plugin for a shadow reference with the `keystores.connections.azure-keyvault` settings:
 * `{credentialSecret, algorithm?, caFile?, authorityHost?, requestTimeoutMs?, retries?,
 *   disableChallengeResourceVerification?}`. The credential secret is read once here to fail fast on a bad one,
 * then again whenever a token is needed.
 */
export async function openAzureKeyVaultKeystore(
  shadow: ShadowReference,
  settings: Readonly<Record<string, unknown>>,
  secrets: SecretSource,
): Promise<KeystorePlugin> {
  const bad = (why: string): KeystoreError => new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, why);
  if (shadow.plugin !== AZURE_KEYVAULT_PLUGIN_KIND) throw bad(`shadow reference is for plugin ${shadow.plugin}`);
  const ref = parseAzureKeyRef(shadow.keyRef);
  if (shadow.keyVersion !== '' && ref.version !== undefined && shadow.keyVersion !== ref.version) {
    throw bad('shadow keyVersion differs from the version in keyRef');
  }
  for (const field of Object.keys(settings)) {
    if (!SETTINGS.has(field)) throw bad(`unknown setting ${JSON.stringify(field)}`);
  }
  // Issue 16 item 4: `"identity": "managed"` takes tokens from the host's managed identity (IMDS) instead of a
  // node secret; the two are exclusive so a config never silently uses the other.
  const identity = settings['identity'];
  if (identity !== undefined && identity !== 'managed') throw bad('identity must be "managed" (or absent: credentialSecret)');
  const credentialSecret = settings['credentialSecret'];
  let managedIdentity: { endpoint: string; clientId?: string } | undefined;
  if (identity === 'managed') {
    if (credentialSecret !== undefined) throw bad('identity "managed" and credentialSecret are exclusive');
    const endpoint = settings['imdsEndpoint'] ?? AZURE_IMDS_TOKEN_ENDPOINT;
    if (typeof endpoint !== 'string' || !isHttpBase(endpoint)) throw bad('imdsEndpoint must be an http(s) URL without credentials, query or fragment');
    const clientId = settings['managedIdentityClientId'];
    if (clientId !== undefined && (typeof clientId !== 'string' || !/^[\w-]{1,64}$/u.test(clientId))) {
      throw bad(`managedIdentityClientId must be 1..${String(MAX_MI_CLIENT_ID_CHARS)} word characters or dashes`);
    }
    managedIdentity = { endpoint, ...(clientId === undefined ? {} : { clientId }) };
  } else {
    if (settings['imdsEndpoint'] !== undefined || settings['managedIdentityClientId'] !== undefined) throw bad('imdsEndpoint and managedIdentityClientId need identity "managed"');
    if (typeof credentialSecret !== 'string' || credentialSecret.length === 0) throw bad('credentialSecret must name a node secret');
  }
  const algorithm = settings['algorithm'] ?? 'RSA-OAEP-256';
  if (typeof algorithm !== 'string' || !(AZURE_WRAP_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw bad(`algorithm must be one of ${AZURE_WRAP_ALGORITHMS.join(', ')}`);
  }
  const authorityHost = settings['authorityHost'] ?? DEFAULT_AUTHORITY_HOST;
  if (typeof authorityHost !== 'string' || !isHttpsBase(authorityHost)) throw bad('authorityHost must be an https URL');
  const timeout = settings['requestTimeoutMs'] ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const retries = settings['retries'] ?? DEFAULT_RETRIES;
  if (typeof timeout !== 'number') throw bad('requestTimeoutMs must be a number');
  if (typeof retries !== 'number') throw bad('retries must be a number');
  validateNumber('requestTimeoutMs', timeout, MIN_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS);
  validateNumber('retries', retries, 0, MAX_RETRIES);
  const disableVerification = settings['disableChallengeResourceVerification'] ?? false;
  if (typeof disableVerification !== 'boolean') throw bad('disableChallengeResourceVerification must be a boolean');
  const caFile = settings['caFile'];
  let caPem: string | undefined;
  if (caFile !== undefined) {
    if (typeof caFile !== 'string' || caFile.length === 0) throw bad('caFile must be a path');
    caPem = await readCaFile(caFile);
  }

  if (typeof credentialSecret === 'string') {
    let raw: Buffer;
    try {
      raw = await secrets.get(credentialSecret);
    } catch (err) {
      throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `credential secret ${credentialSecret} is not available`, { cause: err });
    }
    try {
      parseCredentialSecret(raw);
    } finally {
      raw.fill(0);
    }
  }

  const agent = createAzureAgent(caPem);
  const credential = new AzureSecretCredential({
    secrets, secretName: typeof credentialSecret === 'string' ? credentialSecret : '', authorityHost, agent, timeoutMs: timeout,
    ...(managedIdentity === undefined ? {} : { managedIdentity }),
  });
  return new AzureKeyVaultKeystore({
    keyRef: shadow.keyRef,
    credential,
    algorithm: algorithm as AzureWrapAlgorithm,
    requestTimeoutMs: timeout,
    retries,
    disableChallengeResourceVerification: disableVerification,
    agent,
  });
}

function isHttpBase(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

function isHttpsBase(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

async function readCaFile(path: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `caFile ${path} cannot be read`, { cause: err });
  }
  if (data.length > MAX_CA_FILE_BYTES) {
    throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `caFile ${path} is larger than ${String(MAX_CA_FILE_BYTES)} bytes`);
  }
  const pem = data.toString('utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `caFile ${path} holds no PEM certificate`);
  }
  return pem;
}
