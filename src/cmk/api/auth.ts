/**
 * Admin authentication (docs/governance.md "Authentication"). Two ways in, both strong:
 *
 * - **Admin client certificates.** The API listens on HTTPS with `requestCert`; the TLS stack verifies the
 *   chain against the admin CA, and the certificate's SAN URI or subject CN (same rules as KMIP identities,
 *   src/server/identity.ts) names the admin. Roles come from configuration (`mtls.identities`), never from the
 *   certificate itself, so issuing a certificate grants nothing until an operator maps it.
 * - **OIDC bearer tokens** (RFC 6750) verified with `jose`: signature against the issuer's JWKS (remote URL,
 *   or a local JWKS for tests and air-gapped sites), `iss`, `aud` and `exp` required and checked; roles from
 *   a configurable claim (a dotted path such as `realm_access.roles` for Keycloak).
 *
 * A request that presents a bearer token is judged on the token alone (an invalid token is 401 even when a
 * valid certificate is also present: no silent fallback between credentials).
 */
import type { TLSSocket } from 'node:tls';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from 'jose';
import { certCommonName, certCommonNames, certSanUris } from '../../common/x509.js';
import { checkKeys } from '../../common/config-error.js';
import { ApiError } from './errors.js';
import { isAdminRole } from './ports.js';
import type { AdminPrincipal, AdminRole } from './ports.js';

/**
 * Longest accepted `Authorization` bearer token. Real OIDC access tokens are 1-4 KiB; the bound stops a
 * client from making us base64-decode and JSON-parse megabytes before the signature check fails.
 */
export const MAX_BEARER_TOKEN_BYTES = 8192;
/** Clock skew tolerated on exp/nbf/iat, in seconds (RFC 7519 §4.1.4 "some small leeway"). */
export const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
/** Upper bound on the configured tolerance: a large leeway would revive expired tokens. */
export const MAX_CLOCK_TOLERANCE_SEC = 300;
/** Remote JWKS fetch timeout (ms): a slow issuer must not hold admin requests open indefinitely. */
export const JWKS_FETCH_TIMEOUT_MS = 5000;
/** Asymmetric algorithms only: an HMAC ("HS256") token would let anyone holding the JWKS secret mint admins. */
export const DEFAULT_JWT_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface MtlsAuthConfig {
  /** Which certificate field names the admin: `uri` (first SAN URI), `cn`, or `uri-then-cn` (default). */
  readonly identitySource: 'cn' | 'uri' | 'uri-then-cn';
  /** Admin identity → roles. An authenticated certificate not listed here gets no roles (403 on everything). */
  readonly identities: Readonly<Record<string, readonly AdminRole[]>>;
}

export interface OidcAuthConfig {
  /** Expected `iss`. */
  readonly issuer: string;
  /** Expected `aud` (one of). */
  readonly audience: string | readonly string[];
  /** The issuer's JWKS URL (https). Exactly one of jwksUrl / jwks. */
  readonly jwksUrl?: string;
  /** A local JWKS (tests, air-gapped). */
  readonly jwks?: JSONWebKeySet;
  /** Claim holding the roles: an array of strings or a space-separated string; dotted path allowed. Default `roles`. */
  readonly rolesClaim?: string;
  /** Claim naming the admin. Default `sub`. */
  readonly identityClaim?: string;
  /** Optional mapping from the IdP's role names to ours (e.g. `{"kms-admins": "admin"}`); unmapped names that are
   *  already AdminRole names are taken as they are, others ignored. */
  readonly roleMap?: Readonly<Record<string, AdminRole>>;
  readonly clockToleranceSec?: number;
  readonly algorithms?: readonly string[];
}

export interface AdminAuthConfig {
  readonly mtls?: MtlsAuthConfig;
  readonly oidc?: OidcAuthConfig;
}

export class AuthConfigError extends Error {
  override readonly name = 'AuthConfigError';
}

/** Validates the `governance.adminApi.auth` config section (docs/configuration.md) into an AdminAuthConfig. */
export function parseAdminAuthConfig(raw: unknown, where = 'governance.adminApi.auth'): AdminAuthConfig {
  const obj = asRecord(raw, where);
  checkKeys(where, obj, ['mtls', 'oidc'], AuthConfigError);
  const out: { mtls?: MtlsAuthConfig; oidc?: OidcAuthConfig } = {};
  if (obj.mtls !== undefined) {
    const m = asRecord(obj.mtls, `${where}.mtls`);
    checkKeys(`${where}.mtls`, m, ['identitySource', 'identities'], AuthConfigError);
    const src = m.identitySource ?? 'uri-then-cn';
    if (src !== 'cn' && src !== 'uri' && src !== 'uri-then-cn') throw new AuthConfigError(`${where}.mtls.identitySource must be cn, uri or uri-then-cn`);
    const ids = asRecord(m.identities ?? {}, `${where}.mtls.identities`);
    const identities: Record<string, readonly AdminRole[]> = {};
    for (const [who, roles] of Object.entries(ids)) identities[who] = parseRoles(roles, `${where}.mtls.identities[${JSON.stringify(who)}]`);
    out.mtls = { identitySource: src, identities };
  }
  if (obj.oidc !== undefined) {
    const o = asRecord(obj.oidc, `${where}.oidc`);
    checkKeys(`${where}.oidc`, o, ['issuer', 'audience', 'jwksUrl', 'jwks', 'rolesClaim', 'identityClaim', 'roleMap', 'clockToleranceSec', 'algorithms'], AuthConfigError);
    const str = (k: string): string | undefined => {
      const v = o[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || v.length === 0) throw new AuthConfigError(`${where}.oidc.${k} must be a non-empty string`);
      return v;
    };
    const issuer = str('issuer');
    if (issuer === undefined) throw new AuthConfigError(`${where}.oidc.issuer is required`);
    const aud = o.audience;
    let audience: string | string[];
    if (typeof aud === 'string' && aud.length > 0) audience = aud;
    else if (Array.isArray(aud) && aud.length > 0 && aud.every((a): a is string => typeof a === 'string' && a.length > 0)) audience = aud;
    else throw new AuthConfigError(`${where}.oidc.audience is required (a string or a list of strings)`);
    const jwksUrl = str('jwksUrl');
    const jwks = o.jwks;
    if ((jwksUrl === undefined) === (jwks === undefined)) throw new AuthConfigError(`${where}.oidc needs exactly one of jwksUrl and jwks`);
    if (jwksUrl !== undefined) {
      let u: URL;
      try { u = new URL(jwksUrl); } catch { throw new AuthConfigError(`${where}.oidc.jwksUrl is not a URL`); }
      // Keys fetched over plain HTTP could be swapped by anyone on the path: they decide who is admin.
      if (u.protocol !== 'https:') throw new AuthConfigError(`${where}.oidc.jwksUrl must be https`);
    }
    if (jwks !== undefined && !(typeof jwks === 'object' && jwks !== null && Array.isArray((jwks as { keys?: unknown }).keys))) {
      throw new AuthConfigError(`${where}.oidc.jwks must be a JWKS object {"keys": [...]}`);
    }
    const tol = o.clockToleranceSec;
    if (tol !== undefined && (typeof tol !== 'number' || !Number.isInteger(tol) || tol < 0 || tol > MAX_CLOCK_TOLERANCE_SEC)) {
      throw new AuthConfigError(`${where}.oidc.clockToleranceSec must be an integer 0..${MAX_CLOCK_TOLERANCE_SEC}`);
    }
    const algs = o.algorithms;
    if (algs !== undefined && !(Array.isArray(algs) && algs.length > 0 && algs.every((a) => typeof a === 'string' && DEFAULT_JWT_ALGORITHMS.includes(a)))) {
      throw new AuthConfigError(`${where}.oidc.algorithms must be a non-empty subset of ${DEFAULT_JWT_ALGORITHMS.join(', ')}`);
    }
    const roleMapRaw = o.roleMap === undefined ? undefined : asRecord(o.roleMap, `${where}.oidc.roleMap`);
    const roleMap: Record<string, AdminRole> = {};
    for (const [k, v] of Object.entries(roleMapRaw ?? {})) {
      if (typeof v !== 'string' || !isAdminRole(v)) throw new AuthConfigError(`${where}.oidc.roleMap[${JSON.stringify(k)}] must be an admin role`);
      roleMap[k] = v;
    }
    const rolesClaim = str('rolesClaim');
    const identityClaim = str('identityClaim');
    out.oidc = {
      issuer, audience,
      ...(jwksUrl === undefined ? {} : { jwksUrl }),
      ...(jwks === undefined ? {} : { jwks: jwks as JSONWebKeySet }),
      ...(rolesClaim === undefined ? {} : { rolesClaim }),
      ...(identityClaim === undefined ? {} : { identityClaim }),
      ...(roleMapRaw === undefined ? {} : { roleMap }),
      ...(tol === undefined ? {} : { clockToleranceSec: tol }),
      ...(algs === undefined ? {} : { algorithms: algs as string[] }),
    };
  }
  return out;
}

function asRecord(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AuthConfigError(`${where} must be an object`);
  return v as Record<string, unknown>;
}

function parseRoles(v: unknown, where: string): AdminRole[] {
  if (!Array.isArray(v) || !v.every((r): r is AdminRole => typeof r === 'string' && isAdminRole(r))) {
    throw new AuthConfigError(`${where} must be a list of roles (admin, security-officer, auditor, operator)`);
  }
  return [...new Set(v)];
}

/** The minimal view of a request the authenticator needs (fastify's request satisfies it). */
export interface AuthRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly raw: { readonly socket: unknown };
}

export interface AdminAuthenticator {
  authenticate(req: AuthRequest): Promise<AdminPrincipal>;
}

/**
 * Admins issued at run time (issue 18 `openkcm admin issue`, src/pki/registry.ts): roles and tenant scope of an
 * identity the configuration does not list. Consulted only for certificates verified against the admin CA.
 */
export type AdminDirectory = (identity: string) => { readonly roles: readonly string[]; readonly tenant: string | undefined } | undefined;

/** Builds the authenticator for a config; throws AuthConfigError when no method is configured. */
export function createAuthenticator(cfg: AdminAuthConfig, directory?: AdminDirectory): AdminAuthenticator {
  if (cfg.mtls === undefined && cfg.oidc === undefined) throw new AuthConfigError('admin API authentication needs mtls and/or oidc configured');
  const oidc = cfg.oidc;
  let keys: JWTVerifyGetKey | undefined;
  if (oidc !== undefined) {
    if (oidc.jwks !== undefined) keys = createLocalJWKSet(oidc.jwks);
    else if (oidc.jwksUrl !== undefined) keys = createRemoteJWKSet(new URL(oidc.jwksUrl), { timeoutDuration: JWKS_FETCH_TIMEOUT_MS });
  }
  return {
    async authenticate(req: AuthRequest): Promise<AdminPrincipal> {
      const authz = req.headers.authorization;
      if (typeof authz === 'string' && authz.length > 0) {
        if (oidc === undefined || keys === undefined) throw new ApiError('UNAUTHENTICATED', 'bearer tokens are not accepted by this API (no OIDC issuer configured)');
        return verifyBearer(authz, oidc, keys);
      }
      if (cfg.mtls !== undefined) {
        const p = certPrincipal(req.raw.socket, cfg.mtls, directory);
        if (p !== undefined) return p;
      }
      throw new ApiError('UNAUTHENTICATED', cfg.mtls === undefined ? 'a bearer token is required' : 'a valid admin client certificate or bearer token is required');
    },
  };
}

function certPrincipal(socket: unknown, cfg: MtlsAuthConfig, directory?: AdminDirectory): AdminPrincipal | undefined {
  const tlsSocket = socket as Partial<TLSSocket> | null;
  // `authorized` is true only when the chain verified against the admin CA and the cert is in its validity
  // window (the server runs with rejectUnauthorized false so bearer clients without a cert still connect).
  if (tlsSocket === null || typeof tlsSocket.getPeerCertificate !== 'function' || tlsSocket.authorized !== true) return undefined;
  const cert = tlsSocket.getPeerCertificate();
  if (Object.keys(cert).length === 0) return undefined;
  // A subject naming two principals is not one admin (issue 15 item 8), whichever field names the identity.
  if (certCommonNames(cert).length > 1) throw new ApiError('UNAUTHENTICATED', 'the client certificate has more than one subject CN');
  const uri = cfg.identitySource === 'cn' ? undefined : certSanUris(cert)[0];
  const cn = cfg.identitySource === 'uri' ? undefined : certCommonName(cert);
  const identity = uri ?? cn;
  if (identity === undefined) throw new ApiError('UNAUTHENTICATED', 'the client certificate names no admin identity');
  if (Object.hasOwn(cfg.identities, identity)) return { identity, roles: cfg.identities[identity] ?? [], via: 'mtls' };
  const issued = directory?.(identity);
  if (issued !== undefined) {
    return { identity, roles: issued.roles.filter(isAdminRole), via: 'mtls', ...(issued.tenant === undefined ? {} : { tenant: issued.tenant }) };
  }
  return { identity, roles: [], via: 'mtls' };
}

async function verifyBearer(header: string, cfg: OidcAuthConfig, keys: JWTVerifyGetKey): Promise<AdminPrincipal> {
  const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
  if (m === null) throw new ApiError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"');
  const token = m[1] ?? '';
  if (token.length > MAX_BEARER_TOKEN_BYTES) throw new ApiError('UNAUTHENTICATED', `bearer token longer than ${MAX_BEARER_TOKEN_BYTES} bytes`);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: cfg.issuer,
      audience: typeof cfg.audience === 'string' ? cfg.audience : [...cfg.audience],
      algorithms: [...(cfg.algorithms ?? DEFAULT_JWT_ALGORITHMS)],
      clockTolerance: cfg.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC,
      // A token without exp would be valid forever.
      requiredClaims: ['exp', 'iss', 'aud'],
    }));
  } catch (e) {
    // jose's codes (ERR_JWT_EXPIRED, ERR_JWT_CLAIM_VALIDATION_FAILED, ERR_JWS_SIGNATURE_VERIFICATION_FAILED) are
    // safe to show and help the operator; the token itself is never echoed.
    const code = (e as { code?: unknown }).code;
    throw new ApiError('UNAUTHENTICATED', `bearer token rejected${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  const idClaim = claimAt(payload, cfg.identityClaim ?? 'sub');
  if (typeof idClaim !== 'string' || idClaim.length === 0 || idClaim.length > 256) {
    throw new ApiError('UNAUTHENTICATED', `bearer token has no usable ${cfg.identityClaim ?? 'sub'} claim`);
  }
  return { identity: `oidc:${idClaim}`, roles: rolesFromClaim(claimAt(payload, cfg.rolesClaim ?? 'roles'), cfg.roleMap), via: 'oidc' };
}

function claimAt(payload: JWTPayload, pathSpec: string): unknown {
  let cur: unknown = payload;
  for (const part of pathSpec.split('.')) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function rolesFromClaim(v: unknown, map: Readonly<Record<string, AdminRole>> | undefined): AdminRole[] {
  const names = typeof v === 'string' ? v.split(' ') : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  const out = new Set<AdminRole>();
  for (const n of names) {
    const mapped = map !== undefined && Object.hasOwn(map, n) ? map[n] : undefined;
    if (mapped !== undefined) out.add(mapped);
    else if (isAdminRole(n)) out.add(n);
  }
  return [...out];
}
