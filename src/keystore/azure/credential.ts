/**
 * The Azure plugin's TokenCredential (see ./keystore.ts, "Authentication"): OAuth2 client credentials or a static
 * token from a node secret, or a managed identity through IMDS.
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { type Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { KeystoreError, secretJsonObject, type KeystoreErrorCode, type SecretSource } from '../types.js';
import {
  ALLOWED_SCOPES,
  AZURE_KEYVAULT_PLUGIN_KIND,
  MAX_ACCESS_TOKEN_CHARS,
  MAX_CREDENTIAL_SECRET_BYTES,
  MAX_TOKEN_RESPONSE_BYTES,
  STATIC_TOKEN_ASSUMED_LIFETIME_MS,
  TOKEN_REFRESH_MARGIN_MS,
} from './constants.js';
import { errorText } from './errors.js';

/** Entra tenant ids are GUIDs or domain names; client ids are GUIDs. The pattern keeps them out of URL paths' syntax. */
export const DIRECTORY_ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.-]{0,127}$/u;
/** Stands in for a token we could not obtain (see AzureSecretCredential.getToken). Not a secret. */
const UNAVAILABLE_TOKEN = 'openkcm-token-unavailable';

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
  const record = secretJsonObject(raw, bad);
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
  /**
   * Workload identity (issue 16 item 4; AKS workload identity, or any OIDC federation): the token in `tokenFile`
   * (projected and rotated by the kubelet) is presented as a client assertion (RFC 7521/7523 jwt-bearer) in the
   * client-credentials grant of `clientId` in `tenantId`. The file is re-read at every token fetch.
   */
  readonly workloadIdentity?: AzureWorkloadIdentity;
}

export interface AzureWorkloadIdentity {
  readonly tenantId: string;
  readonly clientId: string;
  readonly tokenFile: string;
}

/** RFC 7523 §2.2: the client assertion type of a JWT bearer assertion. */
const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

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
    const wi = this.#options.workloadIdentity;
    if (wi !== undefined) {
      const issuedAt = Date.now();
      const assertion = await readAssertion(wi.tokenFile);
      const token = await this.#tokenRequest(wi.tenantId, { client_id: wi.clientId, client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: assertion }, scope);
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
      token = await this.#tokenRequest(secret.tenantId, { client_id: secret.clientId, client_secret: secret.clientSecret }, scope);
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

  /** The client-credentials grant with a client secret or a client assertion (workload identity). */
  async #tokenRequest(tenantId: string, client: Readonly<Record<string, string>>, scope: string): Promise<AccessToken> {
    const url = new URL(`${this.#options.authorityHost.replace(/\/+$/u, '')}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`);
    const form = Buffer.from(new URLSearchParams({ grant_type: 'client_credentials', ...client, scope }).toString(), 'utf8');
    let response: { status: number; body: Buffer };
    try {
      response = await postForm(url, form, this.#options.agent, this.#options.timeoutMs);
    } finally {
      form.fill(0);
    }
    return tokenFromResponse(response, url.host);
  }
}

/** The federated token of a workload identity, bounded like a credential secret; its content is never echoed. */
async function readAssertion(tokenFile: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(tokenFile);
  } catch (err) {
    throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `workload identity token file ${tokenFile} cannot be read`, { cause: err });
  }
  const assertion = data.toString('utf8').trim();
  data.fill(0);
  if (assertion.length === 0 || assertion.length > MAX_CREDENTIAL_SECRET_BYTES || /[\s"]/u.test(assertion)) {
    throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `workload identity token file ${tokenFile} holds no usable token (1..${String(MAX_CREDENTIAL_SECRET_BYTES)} characters, no whitespace)`);
  }
  return assertion;
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

/** GET an IMDS-style token endpoint (http or https), with `Metadata: true`. */
function getImds(url: URL, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
  return tokenHttp(url, { method: 'GET', timeout: timeoutMs, headers: { Metadata: 'true', accept: 'application/json' } }, undefined, 'managed identity endpoint');
}

function postForm(url: URL, body: Buffer, agent: HttpsAgent, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length), accept: 'application/json' };
  return tokenHttp(url, { method: 'POST', agent, timeout: timeoutMs, headers }, body, 'token authority');
}

/**
 * One token request; the answer is buffered up to MAX_TOKEN_RESPONSE_BYTES (a hostile or broken endpoint cannot
 * make us buffer more) and every chunk is wiped once copied. Failures are UNREACHABLE naming `what` and the host.
 */
function tokenHttp(url: URL, options: RequestOptions, body: Buffer | undefined, what: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const unreachable = (why: string, cause?: unknown): KeystoreError =>
      new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `${what} ${url.host}: ${why}`, cause === undefined ? undefined : { cause });
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, options, (res) => {
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
    });
    req.on('timeout', () => req.destroy(unreachable(`no answer within ${String(options.timeout ?? 0)} ms`)));
    req.on('error', (err) => {
      reject(err instanceof KeystoreError ? err : unreachable(errorText(err), err));
    });
    req.end(body);
  });
}
