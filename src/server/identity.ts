/**
 * Client identity and tenancy (ARCHITECTURE §4): the identity comes from the verified client
 * certificate — its subject CN, or a SAN URI such as `spiffe://example.org/app` — and maps to
 * a tenant. KMIP's own Authentication header field (KMIP 1.4 §6.6) is not used for identity:
 * the certificate was verified by the TLS handshake, a header credential would be weaker.
 */
import type { PeerCertificate } from 'node:tls';
import type { Principal } from '../operations/types.js';
import { TENANT_NAME_PATTERN } from './config.js';
import type { IdentityConfig } from './config.js';

/** Every subject CN of a peer certificate, in certificate order. */
export function certCommonNames(cert: Pick<PeerCertificate, 'subject'>): string[] {
  // Node types say string, but a subject with repeated CNs (`CN=a, CN=b` or `CN=a+CN=b`) yields string[] at run time.
  const cn = (cert.subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  if (Array.isArray(cn)) return cn.filter((c) => c.length > 0);
  return typeof cn === 'string' && cn.length > 0 ? [cn] : [];
}

/**
 * The subject CN of a peer certificate; undefined when it has none or SEVERAL. A subject with two CNs is ambiguous
 * (issue 15 item 8: `CN=a, CN=b` used to map to tenant b because the last one won, while tools that read the first
 * one showed a): callers refuse such a certificate ({@link identityOf}) rather than pick one.
 */
export function certCommonName(cert: Pick<PeerCertificate, 'subject'>): string | undefined {
  const all = certCommonNames(cert);
  return all.length === 1 ? all[0] : undefined;
}

/**
 * SAN URIs of a peer certificate, in certificate order. Node renders subjectAltName as
 * `DNS:a, URI:spiffe://x, IP Address:1.2.3.4`; a value containing `, ` is quoted as a JSON
 * string by Node (since 17.3.1, CVE-2021-44532), which is decoded here.
 */
export function certSanUris(cert: Pick<PeerCertificate, 'subjectaltname'>): string[] {
  const san = cert.subjectaltname;
  if (typeof san !== 'string' || san.length === 0) return [];
  const out: string[] = [];
  const re = /(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (let m = re.exec(san); m !== null; m = re.exec(san)) {
    const raw = m[1] ?? '';
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        continue;
      }
    }
    if (value.length > 0) out.push(value);
  }
  return out;
}

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
