/**
 * `governance.adminApi.auth` (docs/configuration.md, docs/governance.md "Admin API"): mutual-TLS identities and
 * OIDC bearer tokens. The types and the authenticator they configure live in src/cmk/api/auth.ts; the section is
 * validated here (src/config/governance.ts applies it). Errors are AuthConfigError, as the authenticator's own.
 */
import type { JSONWebKeySet } from 'jose';
import { AuthConfigError, DEFAULT_JWT_ALGORITHMS, MAX_CLOCK_TOLERANCE_SEC } from '../cmk/api/auth.js';
import type { AdminAuthConfig, MtlsAuthConfig, OidcAuthConfig } from '../cmk/api/auth.js';
import { isAdminRole } from '../cmk/api/ports.js';
import type { AdminRole } from '../cmk/api/ports.js';
import { checkKeys } from '../common/config-error.js';

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

