/**
 * `kmip.trust`: enterprise trust anchors (issue 18 "bring your own CA", docs/clients.md): each anchor's CA file,
 * the tenants it may speak for, and its CRL sources. Validated and read here; src/server/trust.ts decides at run
 * time who may speak KMIP with them.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../common/config-error.js';
import { isRecord } from '../common/guards.js';
import { TENANT_NAME_PATTERN } from '../common/tenant-name.js';

/** Default interval between two reads of an enterprise anchor's CRL sources, ms. */
export const DEFAULT_CRL_REFRESH_MS = 60_000;
/** Bounds of crlRefreshMs: not a busy loop against the CA's server, not a day-old revocation. */
export const MIN_CRL_REFRESH_MS = 1_000;
export const MAX_CRL_REFRESH_MS = 86_400_000;
/**
 * Largest CRL read from a source, bytes. Stops: a hostile or broken distribution point making every KMIP process
 * buffer and parse an unbounded download. Real CRLs of an enterprise CA are kilobytes to a few megabytes.
 */
export const DEFAULT_MAX_CRL_BYTES = 8 * 1024 * 1024;
export const MAX_MAX_CRL_BYTES = 256 * 1024 * 1024;
/** Default time one OCSP request may take before the responder counts as unreachable, ms; bounds below. */
export const DEFAULT_OCSP_TIMEOUT_MS = 5_000;
export const MIN_OCSP_TIMEOUT_MS = 100;
export const MAX_OCSP_TIMEOUT_MS = 60_000;
/**
 * Default largest OCSP response read, bytes (src/pki/ocsp.ts fetchOcsp): one certificate's status with a responder
 * chain is a few kilobytes. Stops: a hostile or broken responder making the process buffer an unbounded body. Below
 * 1 KiB no signed answer with a responder certificate fits; above 1 MiB nothing legitimate is that large.
 */
export const DEFAULT_MAX_OCSP_RESPONSE_BYTES = 64 * 1024;
export const MIN_MAX_OCSP_RESPONSE_BYTES = 1024;
export const MAX_MAX_OCSP_RESPONSE_BYTES = 1024 * 1024;
/**
 * Default cached OCSP answers per trust anchor and KMIP process (src/server/trust.ts); the least recently answered
 * goes first. Per anchor, not trust-wide, like every other setting of `kmip.trust`: a flood of distinct certificates
 * under one anchor then evicts only that anchor's answers, never another tenant's. Stops: the cache growing unbounded.
 */
export const DEFAULT_MAX_OCSP_CACHE_ENTRIES = 10_000;
export const MIN_MAX_OCSP_CACHE_ENTRIES = 1;
export const MAX_MAX_OCSP_CACHE_ENTRIES = 1_000_000;
/** An enterprise trust anchor (`kmip.trust.anchors[]`, docs/clients.md "Bring your own CA"). */
export interface TrustAnchor {
  readonly name: string;
  /** The anchor's certificate (PEM), added to the KMIP listener's CA list. */
  readonly caPem: string;
  /** Node's fingerprint256 of the anchor certificate. */
  readonly fingerprint: string;
  /** Tenants this anchor's certificates may speak for. */
  readonly tenants: readonly string[];
  /** CRL sources: file paths (absolute) or http(s) URLs. Empty: no CRL check for this anchor. */
  readonly crl: readonly string[];
  readonly crlRefreshMs: number;
  readonly maxCrlBytes: number;
  /** What happens while no current CRL or OCSP answer is available: fail-closed (default) refuses the certificate. */
  readonly onUnavailable: 'fail-closed' | 'fail-open';
  /** The OCSP responder asked for this anchor's certificates (http URL); undefined: each certificate's AIA, if any. */
  readonly ocspResponder?: string | undefined;
  readonly ocspTimeoutMs: number;
  /** Largest OCSP response read for this anchor, bytes. */
  readonly maxOcspResponseBytes: number;
  /** Cached OCSP answers of this anchor's certificates per process. */
  readonly maxOcspCacheEntries: number;
}

function intIn(where: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new ConfigError(`${where} must be an integer from ${String(min)} to ${String(max)}`);
  return v;
}

/**
 * Validates `kmip.trust` and reads each anchor's certificate (paths relative to the data directory):
 *
 *   "trust": { "anchors": [ { "name": "corp", "ca": "pki/corp-ca.crt", "tenants": ["acme"],
 *                             "crl": ["https://pki.corp.example/corp.crl"], "crlRefreshMs": 60000,
 *                             "maxCrlBytes": 8388608, "onUnavailable": "fail-closed",
 *                             "ocspResponder": "http://ocsp.corp.example", "ocspTimeoutMs": 5000,
 *                             "maxOcspResponseBytes": 65536, "maxOcspCacheEntries": 10000 } ] }
 */
export async function resolveTrustAnchors(dataDir: string, raw: unknown): Promise<TrustAnchor[]> {
  const W = 'kmip.trust';
  if (raw === undefined) return [];
  if (!isRecord(raw)) throw new ConfigError(`${W} must be an object {anchors}`);
  for (const k of Object.keys(raw)) if (k !== 'anchors') throw new ConfigError(`unknown setting ${W}.${k} (allowed: anchors)`);
  const list = raw.anchors ?? [];
  if (!Array.isArray(list)) throw new ConfigError(`${W}.anchors must be a list`);
  const out: TrustAnchor[] = [];
  const names = new Set<string>();
  for (const [i, a] of list.entries()) {
    const w = `${W}.anchors[${String(i)}]`;
    if (!isRecord(a)) throw new ConfigError(`${w} must be an object`);
    const allowed = ['name', 'ca', 'tenants', 'crl', 'crlRefreshMs', 'maxCrlBytes', 'onUnavailable', 'ocspResponder', 'ocspTimeoutMs', 'maxOcspResponseBytes',
      'maxOcspCacheEntries'];
    for (const k of Object.keys(a)) if (!allowed.includes(k)) throw new ConfigError(`unknown setting ${w}.${k} (allowed: ${allowed.join(', ')})`);
    if (typeof a.name !== 'string' || !TENANT_NAME_PATTERN.test(a.name)) throw new ConfigError(`${w}.name must match ${TENANT_NAME_PATTERN.source}`);
    if (names.has(a.name)) throw new ConfigError(`${w}.name ${a.name} is used twice`);
    names.add(a.name);
    if (typeof a.ca !== 'string' || a.ca.length === 0) throw new ConfigError(`${w}.ca must be a file path`);
    const caFile = path.resolve(dataDir, a.ca);
    let caPem: string;
    try {
      caPem = await readFile(caFile, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read ${w}.ca ${caFile} (${String((e as { code?: unknown }).code)})`);
    }
    let fingerprint: string;
    try {
      const c = new X509Certificate(caPem);
      if (!c.ca) throw new ConfigError(`${w}.ca ${caFile} is not a CA certificate (basicConstraints CA:false)`);
      fingerprint = c.fingerprint256;
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError(`${w}.ca ${caFile} is not a PEM certificate`);
    }
    if (!Array.isArray(a.tenants) || a.tenants.length === 0 || !a.tenants.every((t): t is string => typeof t === 'string' && TENANT_NAME_PATTERN.test(t))) {
      throw new ConfigError(`${w}.tenants must be a non-empty list of tenant names: an anchor speaks only for the tenants it is mapped to`);
    }
    const crlRaw = a.crl ?? [];
    if (!Array.isArray(crlRaw) || !crlRaw.every((s): s is string => typeof s === 'string' && s.length > 0)) throw new ConfigError(`${w}.crl must be a list of files or http(s) URLs`);
    const crl = crlRaw.map((s) => (/^https?:\/\//.test(s) ? s : path.resolve(dataDir, s)));
    const onUnavailable = a.onUnavailable ?? 'fail-closed';
    if (onUnavailable !== 'fail-closed' && onUnavailable !== 'fail-open') throw new ConfigError(`${w}.onUnavailable must be "fail-closed" or "fail-open"`);
    if (a.ocspResponder !== undefined && (typeof a.ocspResponder !== 'string' || !/^https?:\/\/[^\s]+$/.test(a.ocspResponder))) throw new ConfigError(`${w}.ocspResponder must be an http(s) URL`);
    out.push({
      name: a.name, caPem, fingerprint, tenants: [...a.tenants], crl, onUnavailable,
      ocspResponder: a.ocspResponder,
      ocspTimeoutMs: intIn(`${w}.ocspTimeoutMs`, a.ocspTimeoutMs, DEFAULT_OCSP_TIMEOUT_MS, MIN_OCSP_TIMEOUT_MS, MAX_OCSP_TIMEOUT_MS),
      maxOcspResponseBytes: intIn(`${w}.maxOcspResponseBytes`, a.maxOcspResponseBytes, DEFAULT_MAX_OCSP_RESPONSE_BYTES, MIN_MAX_OCSP_RESPONSE_BYTES, MAX_MAX_OCSP_RESPONSE_BYTES),
      maxOcspCacheEntries: intIn(`${w}.maxOcspCacheEntries`, a.maxOcspCacheEntries, DEFAULT_MAX_OCSP_CACHE_ENTRIES, MIN_MAX_OCSP_CACHE_ENTRIES, MAX_MAX_OCSP_CACHE_ENTRIES),
      crlRefreshMs: intIn(`${w}.crlRefreshMs`, a.crlRefreshMs, DEFAULT_CRL_REFRESH_MS, MIN_CRL_REFRESH_MS, MAX_CRL_REFRESH_MS),
      maxCrlBytes: intIn(`${w}.maxCrlBytes`, a.maxCrlBytes, DEFAULT_MAX_CRL_BYTES, 1024, MAX_MAX_CRL_BYTES),
    });
  }
  return out;
}
