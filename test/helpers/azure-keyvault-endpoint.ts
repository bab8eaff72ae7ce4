/**
 * A local HTTPS endpoint that speaks the subset of the Azure Key Vault REST API the keystore plugin and the
 * integration tests use, plus a Microsoft Entra-style OAuth2 token endpoint (client-credentials grant). The real
 * `@azure/keyvault-keys` SDK talks to it exactly as it talks to a vault (issue 4, deliverable 4).
 *
 * Behaviour copied from the service (REST reference api-version 7.x and
 * learn.microsoft.com/azure/key-vault/general/rest-error-codes):
 * - Every request needs `Authorization: Bearer <token>`; without one, or with an unknown/expired token, the answer
 *   is 401 with `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"`
 *   (the SDK's challenge-based authentication depends on it).
 * - A principal without access to a key gets 403 `{"error":{"code":"Forbidden",...,"innererror":{"code":"AccessDenied"}}}`.
 * - A disabled key version gets 403 `Forbidden` with innererror `KeyDisabled` ("Operation <op> is not allowed on a
 *   disabled key."), for get as for wrap/unwrap.
 * - A missing or deleted key is 404 `KeyNotFound`; a failed unwrap is 400 `BadParameter`.
 * - Keys: RSA/RSA-HSM (RSA-OAEP-256 through node:crypto) and oct-HSM (A256KW, RFC 3394 through node:crypto).
 * key_ops, exp and nbf are stored and returned but not enforced here (the plugin checks them client-side).
 */
import { constants, createCipheriv, createDecipheriv, createHmac, generateKeyPair, privateDecrypt, publicEncrypt, randomBytes, randomUUID, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { testPki } from './pki.js';

export const VAULT_RESOURCE = 'https://vault.azure.net';
export const VAULT_SCOPE = `${VAULT_RESOURCE}/.default`;
/** The helper's own body cap: a test endpoint should not buffer unbounded input either. */
const MAX_BODY_BYTES = 64 * 1024;
const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
const DEFAULT_OPS = ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'];
/** RSA-2048 key pairs generated in the background at start (libuv pool), so key creation in tests rarely waits. */
const DEFAULT_RSA_POOL = 8;

interface RsaPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

function generateRsa(bits: number): Promise<RsaPair> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: bits }, (err, publicKey, privateKey) => {
      if (err !== null) reject(err);
      else resolve({ publicKey, privateKey });
    });
  });
}

interface Principal {
  readonly clientId: string;
  readonly clientSecret: string;
  keys: '*' | Set<string>;
}

interface VersionRecord {
  readonly version: string;
  readonly kty: 'RSA' | 'RSA-HSM' | 'oct-HSM';
  readonly rsa?: { readonly privateKey: KeyObject; readonly publicKey: KeyObject; readonly n: Buffer; readonly e: Buffer };
  readonly aes?: Buffer;
  enabled: boolean;
  readonly created: number;
  updated: number;
  keyOps: string[];
  exp?: number;
  nbf?: number;
}

interface KeyRecord {
  readonly name: string;
  readonly versions: Map<string, VersionRecord>;
  current: string;
  deletedAt?: number;
}

export interface EndpointStats {
  tokenRequests: number;
  tokensIssued: number;
  /** 401 answers carrying the WWW-Authenticate challenge. */
  challenges: number;
  /** Vault requests that presented a token that was expired or unknown. */
  rejectedTokens: number;
  vaultRequests: number;
  wrapCalls: number;
  unwrapCalls: number;
  /** Tokens issued for a federated client assertion (workload identity). */
  federatedTokens: number;
}

export interface AzureKeyVaultEndpoint {
  /** `https://127.0.0.1:<port>`: the vault URL and, with the tenant in the path, the token authority. */
  readonly url: string;
  readonly tenantId: string;
  /** PEM of the CA that issued the endpoint's certificate. */
  readonly caPem: string;
  readonly stats: EndpointStats;
  /** Lifetime of tokens from the token endpoint (seconds); tests shorten it to exercise refresh. */
  tokenTtlSeconds: number;
  /** When set, successful token responses are padded to exactly this many bytes (tests of the client's cap). */
  tokenResponseBytes: number | undefined;
  addPrincipal(clientId: string, clientSecret: string, keys: '*' | readonly string[]): void;
  setAccess(clientId: string, keys: '*' | readonly string[]): void;
  /** Trusts `assertion` (an OIDC token) as a client assertion for the principal (a federated identity credential). */
  addFederatedCredential(clientId: string, assertion: string): void;
  /** A token as the authority would issue it, for static-token credentials and admin clients. */
  issueToken(clientId: string, ttlSeconds?: number): string;
  keyUrl(name: string, version?: string): string;
  close(): Promise<void>;
}

function b64url(data: Buffer): string {
  return data.toString('base64url');
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function kvError(res: ServerResponse, status: number, code: string, message: string, inner?: string, headers?: Record<string, string>): void {
  send(res, status, { error: { code, message, ...(inner === undefined ? {} : { innererror: { code: inner } }) } }, headers);
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export async function startAzureKeyVaultEndpoint(options: { tokenTtlSeconds?: number; rsaPool?: number } = {}): Promise<AzureKeyVaultEndpoint> {
  // Every created key still gets its own key pair; the pool only moves the generation off the request path.
  const rsaPool = Array.from({ length: options.rsaPool ?? DEFAULT_RSA_POOL }, () => {
    const pair = generateRsa(2048);
    pair.catch(() => undefined);
    return pair;
  });
  const pki = await testPki();
  const tenantId = randomUUID();
  const signingKey = randomBytes(32);
  const principals = new Map<string, Principal>();
  const keys = new Map<string, KeyRecord>();
  const stats: EndpointStats = { tokenRequests: 0, tokensIssued: 0, challenges: 0, rejectedTokens: 0, vaultRequests: 0, wrapCalls: 0, unwrapCalls: 0, federatedTokens: 0 };
  const federated = new Map<string, string>();
  let url = '';

  const endpoint = {
    url: '',
    tenantId,
    caPem: pki.ca.certPem,
    stats,
    tokenTtlSeconds: options.tokenTtlSeconds ?? 3600,
    tokenResponseBytes: undefined as number | undefined,
    addPrincipal(clientId: string, clientSecret: string, access: '*' | readonly string[]): void {
      principals.set(clientId, { clientId, clientSecret, keys: access === '*' ? '*' : new Set(access) });
    },
    setAccess(clientId: string, access: '*' | readonly string[]): void {
      const principal = principals.get(clientId);
      if (principal === undefined) throw new Error(`no principal ${clientId}`);
      principal.keys = access === '*' ? '*' : new Set(access);
    },
    addFederatedCredential(clientId: string, assertion: string): void {
      federated.set(clientId, assertion);
    },
    issueToken(clientId: string, ttlSeconds?: number): string {
      return issue(clientId, ttlSeconds ?? endpoint.tokenTtlSeconds);
    },
    keyUrl(name: string, version?: string): string {
      return `${url}/keys/${name}${version === undefined ? '' : `/${version}`}`;
    },
    close(): Promise<void> {
      return new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
    },
  };

  // Tokens are HS256 JWTs signed by the endpoint, shaped like Entra's (aud, iss, tid, appid, exp).
  function issue(clientId: string, ttlSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
    const payload = b64url(
      Buffer.from(
        JSON.stringify({ aud: VAULT_RESOURCE, iss: `https://sts.windows.net/${tenantId}/`, tid: tenantId, appid: clientId, iat: now, nbf: now, exp: now + ttlSeconds, jti: randomUUID() }),
      ),
    );
    const sig = b64url(createHmac('sha256', signingKey).update(`${header}.${payload}`).digest());
    stats.tokensIssued += 1;
    return `${header}.${payload}.${sig}`;
  }

  function verify(token: string): { clientId: string } | 'invalid' | 'expired' {
    const parts = token.split('.');
    if (parts.length !== 3) return 'invalid';
    const [header = '', payload = '', sig = ''] = parts;
    const expected = createHmac('sha256', signingKey).update(`${header}.${payload}`).digest();
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { aud: string; tid: string; appid: string; exp: number };
    if (claims.aud !== VAULT_RESOURCE || claims.tid !== tenantId) return 'invalid';
    if (claims.exp * 1000 <= Date.now()) return 'expired';
    return { clientId: claims.appid };
  }

  function challenge(res: ServerResponse, message: string): void {
    stats.challenges += 1;
    kvError(res, 401, 'Unauthorized', message, undefined, {
      'www-authenticate': `Bearer authorization="${url}/${tenantId}", resource="${VAULT_RESOURCE}"`,
    });
  }

  function bundle(record: KeyRecord, v: VersionRecord): Record<string, unknown> {
    const key: Record<string, unknown> = { kid: endpoint.keyUrl(record.name, v.version), kty: v.kty, key_ops: v.keyOps };
    if (v.rsa !== undefined) {
      key['n'] = b64url(v.rsa.n);
      key['e'] = b64url(v.rsa.e);
    }
    return {
      key,
      attributes: {
        enabled: v.enabled,
        created: v.created,
        updated: v.updated,
        ...(v.exp === undefined ? {} : { exp: v.exp }),
        ...(v.nbf === undefined ? {} : { nbf: v.nbf }),
        recoveryLevel: 'Recoverable+Purgeable',
        recoverableDays: 90,
      },
      tags: {},
    };
  }

  function notFound(res: ServerResponse, what: string): void {
    kvError(
      res,
      404,
      'KeyNotFound',
      `A key with (name/id) ${what} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command.`,
    );
  }

  async function createVersion(kty: string, size: number, keyOps: string[]): Promise<VersionRecord | string> {
    const now = Math.floor(Date.now() / 1000);
    const version = randomBytes(16).toString('hex');
    if (kty === 'RSA' || kty === 'RSA-HSM') {
      if (![2048, 3072, 4096].includes(size)) return 'key_size must be 2048, 3072 or 4096';
      const { privateKey, publicKey } = await ((size === 2048 ? rsaPool.shift() : undefined) ?? generateRsa(size));
      const jwk = publicKey.export({ format: 'jwk' });
      return {
        version,
        kty,
        rsa: { privateKey, publicKey, n: Buffer.from(jwk.n ?? '', 'base64url'), e: Buffer.from(jwk.e ?? '', 'base64url') },
        enabled: true,
        created: now,
        updated: now,
        keyOps,
      };
    }
    if (kty === 'oct-HSM') {
      if (size !== 256) return 'key_size must be 256 for oct-HSM in this endpoint';
      return { version, kty, aes: randomBytes(32), enabled: true, created: now, updated: now, keyOps };
    }
    return `unsupported kty ${kty}`;
  }

  function allowed(principal: Principal, keyName: string): boolean {
    return principal.keys === '*' || principal.keys.has(keyName);
  }

  async function vault(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    stats.vaultRequests += 1;
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ')) {
      challenge(res, 'AKV10000: Request is missing a Bearer or PoP token.');
      return;
    }
    const verdict = verify(auth.slice('Bearer '.length));
    if (verdict === 'invalid' || verdict === 'expired') {
      stats.rejectedTokens += 1;
      challenge(res, verdict === 'expired' ? 'AKV10022: Token is expired.' : 'AKV10021: Invalid bearer token.');
      return;
    }
    const principal = principals.get(verdict.clientId);
    if (principal === undefined) {
      challenge(res, 'AKV10021: Unknown principal.');
      return;
    }
    if (!query.has('api-version')) {
      kvError(res, 400, 'BadParameter', 'The api-version query parameter is required.');
      return;
    }
    const segments = path.split('/').slice(1); // ['keys', name, version?, op?]
    const collection = segments[0];
    const name = segments[1] ?? '';
    const denied = (permission: string): void => {
      kvError(
        res,
        403,
        'Forbidden',
        `The user, group or application 'appid=${principal.clientId};iss=https://sts.windows.net/${tenantId}/' does not have keys ${permission} permission on key vault '127.0.0.1;location=local'.`,
        'AccessDenied',
      );
    };
    const body = await readBody(req);
    if (body === undefined) {
      kvError(res, 413, 'RequestTooLarge', 'The request body is too large.');
      return;
    }
    let json: Record<string, unknown> = {};
    if (body.length > 0) {
      try {
        json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        kvError(res, 400, 'BadParameter', 'The request body is not valid JSON.');
        return;
      }
    }
    const record = keys.get(name);
    const live = record !== undefined && record.deletedAt === undefined ? record : undefined;

    if (collection === 'deletedkeys' && req.method === 'GET' && segments.length === 2) {
      if (!allowed(principal, name)) { denied('get'); return; }
      if (record?.deletedAt === undefined) { notFound(res, name); return; }
      const current = record.versions.get(record.current);
      if (current === undefined) { notFound(res, name); return; }
      send(res, 200, { ...bundle(record, current), recoveryId: `${url}/deletedkeys/${name}`, deletedDate: record.deletedAt, scheduledPurgeDate: record.deletedAt + 90 * 86400 });
      return;
    }
    if (collection !== 'keys' || name === '') {
      kvError(res, 404, 'NotFound', 'No such resource.');
      return;
    }

    // POST /keys/{name}/create
    if (req.method === 'POST' && segments.length === 3 && segments[2] === 'create') {
      if (!allowed(principal, name)) { denied('create'); return; }
      if (record?.deletedAt !== undefined) {
        kvError(res, 409, 'Conflict', `Key ${name} is currently in a deleted but recoverable state, and its name cannot be reused.`, 'ObjectIsDeletedButRecoverable');
        return;
      }
      const kty = typeof json['kty'] === 'string' ? json['kty'] : '';
      const size = typeof json['key_size'] === 'number' ? json['key_size'] : kty === 'oct-HSM' ? 256 : 2048;
      const ops = Array.isArray(json['key_ops']) ? (json['key_ops'] as string[]) : DEFAULT_OPS;
      const made = await createVersion(kty, size, [...ops]);
      if (typeof made === 'string') {
        kvError(res, 400, 'BadParameter', made);
        return;
      }
      const attrs = (json['attributes'] ?? {}) as { enabled?: boolean; exp?: number; nbf?: number };
      if (attrs.enabled === false) made.enabled = false;
      if (typeof attrs.exp === 'number') made.exp = attrs.exp;
      if (typeof attrs.nbf === 'number') made.nbf = attrs.nbf;
      const target = record ?? { name, versions: new Map<string, VersionRecord>(), current: made.version };
      target.versions.set(made.version, made);
      target.current = made.version;
      keys.set(name, target);
      send(res, 200, bundle(target, made));
      return;
    }

    // DELETE /keys/{name}
    if (req.method === 'DELETE' && segments.length === 2) {
      if (!allowed(principal, name)) { denied('delete'); return; }
      if (live === undefined) { notFound(res, name); return; }
      live.deletedAt = Math.floor(Date.now() / 1000);
      const current = live.versions.get(live.current);
      if (current === undefined) { notFound(res, name); return; }
      send(res, 200, { ...bundle(live, current), recoveryId: `${url}/deletedkeys/${name}`, deletedDate: live.deletedAt, scheduledPurgeDate: live.deletedAt + 90 * 86400 });
      return;
    }

    // /keys/{name}[/{version}[/{op}]]  (version may be empty: the current one)
    const versionSegment = segments[2] ?? '';
    const op = segments[3];
    if (segments.length > 4) {
      kvError(res, 404, 'NotFound', 'No such resource.');
      return;
    }
    const permission = req.method === 'GET' ? 'get' : req.method === 'PATCH' ? 'update' : op === 'wrapkey' ? 'wrapKey' : op === 'unwrapkey' ? 'unwrapKey' : undefined;
    if (permission === undefined || (op !== undefined && req.method !== 'POST') || (req.method === 'POST' && op === undefined)) {
      kvError(res, 405, 'MethodNotAllowed', 'The requested method is not supported for this resource.');
      return;
    }
    if (!allowed(principal, name)) { denied(permission); return; }
    if (live === undefined) { notFound(res, name); return; }
    const version = versionSegment === '' ? live.current : versionSegment;
    const v = live.versions.get(version);
    if (v === undefined) { notFound(res, `${name}/${version}`); return; }

    if (req.method === 'PATCH') {
      const attrs = (json['attributes'] ?? {}) as { enabled?: boolean; exp?: number | null; nbf?: number | null };
      if (typeof attrs.enabled === 'boolean') v.enabled = attrs.enabled;
      if (typeof attrs.exp === 'number') v.exp = attrs.exp;
      if (typeof attrs.nbf === 'number') v.nbf = attrs.nbf;
      if (Array.isArray(json['key_ops'])) v.keyOps = [...(json['key_ops'] as string[])];
      v.updated = Math.floor(Date.now() / 1000);
      send(res, 200, bundle(live, v));
      return;
    }
    if (!v.enabled) {
      kvError(res, 403, 'Forbidden', `Operation ${permission} is not allowed on a disabled key.`, 'KeyDisabled');
      return;
    }
    if (req.method === 'GET') {
      send(res, 200, bundle(live, v));
      return;
    }

    // wrapkey / unwrapkey
    const alg = json['alg'];
    const value = typeof json['value'] === 'string' ? Buffer.from(json['value'], 'base64url') : undefined;
    if (value === undefined || value.length === 0) {
      kvError(res, 400, 'BadParameter', 'Property value is required.');
      return;
    }
    let out: Buffer;
    try {
      if (alg === 'RSA-OAEP-256' && v.rsa !== undefined) {
        const padding = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };
        if (op === 'wrapkey') {
          stats.wrapCalls += 1;
          out = publicEncrypt({ key: v.rsa.publicKey, ...padding }, value);
        } else {
          stats.unwrapCalls += 1;
          if (value.length !== v.rsa.n.length) throw new Error('length');
          out = privateDecrypt({ key: v.rsa.privateKey, ...padding }, value);
        }
      } else if (alg === 'A256KW' && v.aes !== undefined) {
        if (value.length < 16 || value.length % 8 !== 0) throw new Error('length');
        if (op === 'wrapkey') {
          stats.wrapCalls += 1;
          const c = createCipheriv('id-aes256-wrap', v.aes, AES_KW_IV);
          out = Buffer.concat([c.update(value), c.final()]);
        } else {
          stats.unwrapCalls += 1;
          const d = createDecipheriv('id-aes256-wrap', v.aes, AES_KW_IV);
          out = Buffer.concat([d.update(value), d.final()]);
        }
      } else {
        kvError(res, 400, 'BadParameter', `Invalid algorithm ${String(alg)} for key type ${v.kty}.`);
        return;
      }
    } catch {
      kvError(res, 400, 'BadParameter', op === 'wrapkey' ? 'Wrap failed.' : 'Unwrap failed: the ciphertext is invalid for this key.');
      return;
    }
    send(res, 200, { kid: endpoint.keyUrl(name, version), value: b64url(out) });
  }

  async function token(req: IncomingMessage, res: ServerResponse, tenant: string): Promise<void> {
    stats.tokenRequests += 1;
    const body = await readBody(req);
    const form = new URLSearchParams(body?.toString('utf8') ?? '');
    const oauthError = (status: number, error: string, description: string): void => {
      send(res, status, { error, error_description: description, error_codes: [], timestamp: new Date().toISOString() });
    };
    if (tenant !== tenantId) { oauthError(400, 'invalid_request', `AADSTS90002: Tenant '${tenant}' not found.`); return; }
    if (form.get('grant_type') !== 'client_credentials') { oauthError(400, 'unsupported_grant_type', 'AADSTS70003: The app requested an unsupported grant type.'); return; }
    const principal = principals.get(form.get('client_id') ?? '');
    if (principal === undefined) { oauthError(400, 'unauthorized_client', `AADSTS700016: Application not found in the directory.`); return; }
    // RFC 7523 §2.2 client assertion (a federated identity credential), else the client secret.
    const assertion = form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
    const secret = Buffer.from(form.get(assertion ? 'client_assertion' : 'client_secret') ?? '');
    const expected = Buffer.from((assertion ? federated.get(principal.clientId) : principal.clientSecret) ?? '');
    if (assertion && (expected.length === 0 || secret.length !== expected.length || !timingSafeEqual(secret, expected))) {
      oauthError(401, 'invalid_client', 'AADSTS700213: No matching federated identity record found for presented assertion.'); return;
    }
    if (assertion) stats.federatedTokens += 1;
    else if (secret.length !== expected.length || !timingSafeEqual(secret, expected)) {
      oauthError(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.'); return;
    }
    if (form.get('scope') !== VAULT_SCOPE) { oauthError(400, 'invalid_scope', 'AADSTS70011: The provided value for scope is not valid.'); return; }
    const ttl = endpoint.tokenTtlSeconds;
    const answer: Record<string, unknown> = { token_type: 'Bearer', expires_in: ttl, ext_expires_in: ttl, access_token: issue(principal.clientId, ttl) };
    const target = endpoint.tokenResponseBytes;
    if (target !== undefined) {
      const base = Buffer.byteLength(JSON.stringify({ ...answer, filler: '' }));
      answer['filler'] = 'x'.repeat(Math.max(0, target - base));
    }
    send(res, 200, answer);
  }

  const server: Server = createServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (req, res) => {
    const parsed = new URL(req.url ?? '/', 'https://127.0.0.1');
    const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/u.exec(parsed.pathname);
    const work = tokenPath !== null && req.method === 'POST' ? token(req, res, decodeURIComponent(tokenPath[1] ?? '')) : vault(req, res, parsed.pathname, parsed.searchParams);
    work.catch((err: unknown) => {
      if (!res.headersSent) kvError(res, 500, 'InternalServerError', err instanceof Error ? err.message : 'error');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  endpoint.url = url;
  return endpoint;
}

/**
 * A local Azure Instance Metadata Service token endpoint (issue 16 item 4: managed identity), as the real one answers
 * `GET /metadata/identity/oauth2/token?api-version=...&resource=...[&client_id=...]` with the header `Metadata: true`:
 * 400 without the header, the api-version or a known resource; 400 `invalid_request` ("Identity not found") for an
 * unknown user-assigned client id; else 200 `{access_token, expires_in, expires_on, resource, token_type}` with
 * `expires_in` as a STRING, as IMDS sends it. Tokens are the vault endpoint's, for the identity's client id.
 */
export interface ImdsEndpoint {
  readonly tokenUrl: string;
  requests: number;
  /** client ids of the requests, in order (undefined: the system-assigned identity). */
  readonly clientIds: (string | undefined)[];
  close(): Promise<void>;
}

export async function startImdsEndpoint(vault: AzureKeyVaultEndpoint, identities: { system: string; userAssigned?: readonly string[] }): Promise<ImdsEndpoint> {
  const { createServer } = await import('node:http');
  const state = { requests: 0, clientIds: [] as (string | undefined)[] };
  const server = createServer((req, res) => {
    state.requests += 1;
    const url = new URL(req.url ?? '/', 'http://imds');
    const clientId = url.searchParams.get('client_id') ?? undefined;
    state.clientIds.push(clientId);
    if (url.pathname !== '/metadata/identity/oauth2/token' || req.method !== 'GET') { send(res, 404, { error: 'not_found' }); return; }
    if (req.headers['metadata'] !== 'true') { send(res, 400, { error: 'invalid_request', error_description: 'Required metadata header not specified' }); return; }
    if (url.searchParams.get('api-version') === null) { send(res, 400, { error: 'invalid_request', error_description: 'Required query variable api-version is missing' }); return; }
    if (url.searchParams.get('resource') !== VAULT_RESOURCE) { send(res, 400, { error: 'invalid_resource' }); return; }
    const id = clientId ?? identities.system;
    if (clientId !== undefined && !(identities.userAssigned ?? []).includes(clientId)) {
      send(res, 400, { error: 'invalid_request', error_description: 'Identity not found' });
      return;
    }
    const ttl = vault.tokenTtlSeconds;
    send(res, 200, {
      access_token: vault.issueToken(id, ttl), expires_in: String(ttl), expires_on: String(Math.floor(Date.now() / 1000) + ttl),
      resource: VAULT_RESOURCE, token_type: 'Bearer',
    });
  });
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const port = (server.address() as { port: number }).port;
  return {
    tokenUrl: `http://127.0.0.1:${String(port)}/metadata/identity/oauth2/token`,
    get requests() { return state.requests; },
    set requests(n: number) { state.requests = n; },
    clientIds: state.clientIds,
    close: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); }),
  };
}
