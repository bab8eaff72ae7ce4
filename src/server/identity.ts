/**
 * Client identity and tenancy (ARCHITECTURE §4): the identity comes from the verified client
 * certificate — its subject CN, or a SAN URI such as `spiffe://example.org/app` — and maps to
 * a tenant. KMIP's own Authentication header field (KMIP 1.4 §6.6) is not used for identity:
 * the certificate was verified by the TLS handshake, a header credential would be weaker.
 */
import type { PeerCertificate } from 'node:tls';
import { certCommonName, certCommonNames, certSanUris } from '../common/x509.js';
import type { Principal } from '../operations/types.js';
import { TENANT_NAME_PATTERN } from '../common/tenant-name.js';
import type { IdentityConfig } from '../config/index.js';

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

/** The identity of `cert` under `cfg.source`; throws IdentityError when it has none. */
export function identityOf(cert: Pick<PeerCertificate, 'subject' | 'subjectaltname'>, cfg: Pick<IdentityConfig, 'source'>): string {
  // Refused whatever the source: a certificate whose subject names two principals is not one identity (issue 15).
  if (certCommonNames(cert).length > 1) throw new IdentityError('client certificate has more than one subject CN');
  const uri = cfg.source === 'cn' ? undefined : certSanUris(cert)[0];
  const cn = cfg.source === 'uri' ? undefined : certCommonName(cert);
  const id = uri ?? cn;
  if (id === undefined) {
    throw new IdentityError(cfg.source === 'uri' ? 'client certificate has no SAN URI' : 'client certificate has no subject CN');
  }
  return id;
}

/**
 * What happens to an identity the map does not name: the configured `unmapped`, else (issue 15 item 8) `reject` as
 * soon as any identity is mapped — a map that restricts nothing would let every certificate of the client CA become
 * a tenant of its own — and `same-name` only while there is no map at all (a fresh quick start).
 */
export function unmappedMode(cfg: Pick<IdentityConfig, 'tenants' | 'unmapped'>): 'same-name' | 'reject' {
  if (cfg.unmapped !== undefined) return cfg.unmapped;
  return Object.keys(cfg.tenants).length > 0 ? 'reject' : 'same-name';
}

/** Maps an identity to its tenant; throws IdentityError when the configuration refuses it. */
export function tenantOf(identity: string, cfg: Pick<IdentityConfig, 'tenants' | 'unmapped'>): string {
  const mapped = Object.hasOwn(cfg.tenants, identity) ? cfg.tenants[identity] : undefined;
  if (mapped !== undefined) return mapped;
  if (unmappedMode(cfg) === 'reject') throw new IdentityError(`identity ${JSON.stringify(identity)} is not mapped to a tenant`);
  if (!TENANT_NAME_PATTERN.test(identity)) {
    throw new IdentityError(`identity ${JSON.stringify(identity)} is not a valid tenant name; map it in identity.tenants`);
  }
  return identity;
}

/** Identity and tenant of a verified peer certificate. */
export function principalOf(cert: Pick<PeerCertificate, 'subject' | 'subjectaltname'>, cfg: IdentityConfig): Principal {
  const identity = identityOf(cert, cfg);
  return { identity, tenant: tenantOf(identity, cfg) };
}
