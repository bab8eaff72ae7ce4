/**
 * `kmip.tls`: the KMIP listener's certificate files, TLS version floor and cipher suites, and how often a replaced
 * server certificate is looked for (issue 18 item 5; src/server/tls-reload.ts does the reloading).
 */
import { ConfigError } from '../common/config-error.js';
import { optString, section } from './parse.js';

/**
 * How often the server certificate files are checked for a replacement, ms (`kmip.tls.reloadIntervalMs`); bounds
 * below. Stops: a busy loop of stat calls, and a rotation that takes hours.
 */
export const DEFAULT_TLS_RELOAD_INTERVAL_MS = 5_000;
export const MIN_TLS_RELOAD_INTERVAL_MS = 500;
export const MAX_TLS_RELOAD_INTERVAL_MS = 3_600_000;

export type TlsVersionFloor = 'TLSv1.2' | 'TLSv1.3';

/**
 * Modern suites only. TLS 1.3: all three RFC 8446 AEAD suites. TLS 1.2: ECDHE (forward
 * secrecy) with AES-GCM or ChaCha20-Poly1305, for ECDSA and RSA server keys; no CBC, no RSA
 * key exchange, no SHA-1 MACs. PyKMIP 0.10's TLS 1.2 suite offers ECDHE-ECDSA-AES128-GCM-
 * SHA256 and ECDHE-RSA-AES128-GCM-SHA256, so it interoperates.
 */
export const DEFAULT_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

export interface TlsMaterial {
  /** Server certificate chain (PEM). */
  cert: string;
  /** Server private key (PEM). */
  key: string;
  /** CA certificate(s) that client certificates must chain to (PEM). */
  ca: string;
  minVersion: TlsVersionFloor;
  ciphers: string;
}

/** The `kmip.tls` section of the file as written (paths relative to the data directory). */
export interface TlsFile { cert?: string; key?: string; clientCa?: string; minVersion?: TlsVersionFloor; ciphers?: string; reloadIntervalMs?: number }

/** Validates the `kmip.tls` section; throws ConfigError naming the bad setting. */
export function validateTlsSection(raw: unknown): TlsFile {
  const t = section('kmip.tls', raw, ['cert', 'key', 'clientCa', 'minVersion', 'ciphers', 'reloadIntervalMs']);
  const tls: TlsFile = {};
  for (const f of ['cert', 'key', 'clientCa', 'ciphers'] as const) {
    const s = optString(`kmip.tls.${f}`, t[f]);
    if (s !== undefined) tls[f] = s;
  }
  if (t.minVersion !== undefined) {
    if (t.minVersion !== 'TLSv1.2' && t.minVersion !== 'TLSv1.3') throw new ConfigError('kmip.tls.minVersion must be "TLSv1.2" or "TLSv1.3"');
    tls.minVersion = t.minVersion;
  }
  // Issue 18 item 5: how often a replaced server certificate is looked for (src/server/tls-reload.ts).
  const r = t.reloadIntervalMs;
  if (r !== undefined) {
    if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < MIN_TLS_RELOAD_INTERVAL_MS || r > MAX_TLS_RELOAD_INTERVAL_MS) {
      throw new ConfigError(`kmip.tls.reloadIntervalMs must be an integer from ${String(MIN_TLS_RELOAD_INTERVAL_MS)} to ${String(MAX_TLS_RELOAD_INTERVAL_MS)}`);
    }
    tls.reloadIntervalMs = r;
  }
  return tls;
}
