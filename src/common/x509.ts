/**
 * Certificate helpers shared by the KMIP listener (src/server), the admin API (src/cmk/api) and the PKI registry
 * (src/pki): who a peer certificate names (subject CNs, SAN URIs), and how serials and fingerprints are written in
 * the revocation lists the owner process pushes to every KMIP process (issue 18). A leaf: node:crypto only, so the
 * layers below the server need not import it (issue 19).
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

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

/** What the owner process pushes to every KMIP process (src/appliance/ipc.ts `trust`). */
export interface TrustSnapshot {
  /** Run-time identity → tenant map from the governance database. */
  readonly identities: readonly (readonly [string, string])[];
  /** Serials revoked by the appliance's own CAs: issuer fingerprint256 → serials (uppercase hex, no leading zeros). */
  readonly revoked: readonly (readonly [string, readonly string[]])[];
}

export const EMPTY_TRUST: TrustSnapshot = Object.freeze({ identities: [], revoked: [] });

/** A certificate serial as Node prints it: uppercase hex without leading zeros. */
export function normalizeSerial(hex: string): string {
  const s = hex.replace(/[^0-9a-fA-F]/g, '').toUpperCase().replace(/^0+/, '');
  return s === '' ? '0' : s;
}

/** Node's fingerprint256 (`AA:BB:…`) of a PEM or DER certificate. */
export function fingerprintOf(cert: string | Buffer): string {
  return new X509Certificate(cert).fingerprint256;
}
