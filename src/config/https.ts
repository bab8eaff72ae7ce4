/** `kmip.https`: KMIP over HTTPS (issue 20; KMIP Additional Message Encodings 1.0 §2, Profiles 2.1 §5). */
import { ConfigError } from '../common/config-error.js';
import { parseListen } from './listen.js';
import type { ListenAddress } from './listen.js';
import { numbers, optString, section } from './parse.js';

/** The HTTPS listener's own settings; everything else (TLS files, limits, identity) is shared with port 5696. */
export interface HttpsSettings {
  listen: ListenAddress;
  /**
   * Time from the first byte of a request to its last body byte, ms (Node's http requestTimeout, also the header
   * timeout). Stops: slow-body attacks — a client that trickles a chunked body one byte at a time, holding a
   * connection slot and a growing buffer for ever.
   */
  requestTimeoutMs: number;
  /**
   * Largest JSON or XML request body, bytes. The text encodings are several times larger than TTLV (KMIP XML about
   * five times), so they get their own cap; the converted message is still held to kmip.limits.maxMessageBytes and
   * the TTLV decoder limits. A TTLV body is held to kmip.limits.maxMessageBytes itself. Stops: memory exhaustion by
   * a huge text body (parsed into a DOM before any KMIP limit applies).
   */
  maxTextBodyBytes: number;
  /**
   * Largest request line plus headers, bytes (Node's maxHeaderSize); past it the request is answered 431. Stops:
   * memory and CPU spent on a flood of headers before any KMIP limit applies.
   */
  maxHeaderBytes: number;
}

export const DEFAULT_HTTPS_SETTINGS = Object.freeze({ requestTimeoutMs: 30_000, maxTextBodyBytes: 8 * 1024 * 1024, maxHeaderBytes: 16 * 1024 });
const HTTPS_MIN = { requestTimeoutMs: 1, maxTextBodyBytes: 1, maxHeaderBytes: 1024 } as const;
const HTTPS_MAX = { requestTimeoutMs: 600_000, maxTextBodyBytes: 64 * 1024 * 1024, maxHeaderBytes: 1024 * 1024 } as const;
export type HttpsFile = { listen?: string; requestTimeoutMs?: number; maxTextBodyBytes?: number; maxHeaderBytes?: number };

export function resolveHttps(file: HttpsFile | undefined, listenOverride: string | undefined): HttpsSettings | undefined {
  const listen = listenOverride ?? file?.listen;
  if (listen === undefined) return undefined;
  const out: HttpsSettings = { listen: parseListen(listen), ...DEFAULT_HTTPS_SETTINGS };
  for (const name of ['requestTimeoutMs', 'maxTextBodyBytes', 'maxHeaderBytes'] as const) {
    const v = file?.[name];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < HTTPS_MIN[name] || v > HTTPS_MAX[name]) throw new ConfigError(`kmip.https.${name} must be an integer from ${String(HTTPS_MIN[name])} to ${String(HTTPS_MAX[name])}, got ${String(v)}`);
    out[name] = v;
  }
  return out;
}

/** Validates the `kmip.https` section; throws ConfigError naming the bad setting. */
export function validateHttpsSection(raw: unknown): HttpsFile {
  const h = section('kmip.https', raw, ['listen', 'requestTimeoutMs', 'maxTextBodyBytes', 'maxHeaderBytes']);
  const https: HttpsFile = {};
  const listen = optString('kmip.https.listen', h.listen);
  if (listen !== undefined) https.listen = listen;
  const nums = numbers('kmip.https', Object.fromEntries(Object.entries(h).filter(([key]) => key !== 'listen')));
  Object.assign(https, nums);
  resolveHttps({ listen: https.listen ?? '127.0.0.1:0', ...nums }, undefined);
  return https;
}
