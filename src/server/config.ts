/**
 * Server configuration: the named limits of the KMIP listener (each with the attack it
 * stops), identity mapping, TLS files, and the data-directory config file
 * DIR/openkcm.conf that `openkcm init` writes and `openkcm serve` reads.
 *
 * File format: JSON with comments ("JSONC"): `//` line comments, `/* *\/` block comments and
 * trailing commas are allowed; everything else is plain JSON. Chosen because it needs no
 * dependency, every editor highlights it, and the file can explain itself. Unknown keys are
 * errors (a misspelt limit must not silently fall back to its default); the `vault` section
 * is free-form and handed to the storage layer. Reference: docs/configuration.md.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { DEFAULT_TTLV_LIMITS, resolveLimits } from '@openkcm/ttlv';
import type { TtlvLimits } from '@openkcm/ttlv';
import { isLogLevel } from '../common/log.js';
import { compatSettings, CompatSettingsError } from '../operations/model/compat.js';
import type { LogLevel } from '../common/log.js';
import { resolveTrustAnchors } from './trust.js';
import { MAX_TLS_RELOAD_INTERVAL_MS, MIN_TLS_RELOAD_INTERVAL_MS } from './tls-reload.js';
import type { TrustAnchor } from './trust.js';
import { ConfigError } from '../common/config-error.js';
import { isRecord } from '../common/guards.js';
import { TENANT_NAME_PATTERN } from '../common/tenant-name.js';

// ---- limits ------------------------------------------------------------------------------

export interface ServerLimits {
  /**
   * Most simultaneous TCP connections (before TLS). Excess connections are closed
   * immediately. Stops: file-descriptor and memory exhaustion by a connection flood.
   */
  maxConnections: number;
  /**
   * Time from TCP accept to a completed TLS handshake, ms. Stops: slowloris at the TLS
   * layer — peers that open a socket and never finish the handshake, each pinning a
   * connection slot (and so, with maxConnections, locking out everyone else). 5 s: a real
   * client's handshake takes milliseconds; issue 15 item 1 found 10 s too generous.
   */
  handshakeTimeoutMs: number;
  /**
   * Time without any byte read or written on an established connection, ms, while no request
   * is being processed. Stops: idle or abandoned clients holding connection slots forever,
   * and clients that stop reading their responses (the write side stalls, nothing moves).
   */
  idleTimeoutMs: number;
  /**
   * Largest request message, header included, bytes (TtlvFramer limit). Stops: memory
   * exhaustion by a huge announced length (e.g. 0xFFFFFFFF): the framer rejects it from the
   * 8-byte header, before buffering the body.
   */
  maxMessageBytes: number;
  /**
   * Most request messages of one connection received but not yet answered. At the cap the
   * server stops reading that connection until responses are written. Stops: one pipelining
   * client queueing unbounded work and unbounded pending responses in server memory.
   */
  maxInFlightPerConnection: number;
  /**
   * Most request messages of one connection processed at the same time (responses are still
   * written in request order). 1 processes a connection's requests strictly one after another,
   * so a pipelined Create followed by an operation that relies on its ID Placeholder, or a
   * Locate that expects to see it, behaves as if sent one at a time. Stops: one connection
   * monopolising the handler pool (CPU, vault writers) ahead of other clients.
   */
  maxConcurrentPerConnection: number;
  /**
   * Graceful shutdown deadline, ms: in-flight requests get this long to finish before the
   * remaining connections are destroyed. Below 5 s so `serve` meets its SIGTERM contract.
   * Stops: a stalled client holding shutdown hostage.
   */
  drainTimeoutMs: number;
  /**
   * Most batch items in one request message; past it the message is refused with Server Limit Exceeded before any
   * item runs (src/server/processor.ts DEFAULT_MAX_BATCH_ITEMS). Stops: one message of thousands of items holding
   * the event loop while every other tenant waits (issue 15: 20,000 Query items stalled others ~700 ms).
   */
  maxBatchItems: number;
  /**
   * Response bytes one connection may have waiting in its socket's write buffer before the server stops producing
   * further responses for it (it resumes when the client has read them). Stops: a client that pipelines requests and
   * never reads pinning memory with finished responses (issue 15: 64 Gets of a 1 MB object per connection).
   */
  maxResponseBytesPerConnection: number;
  /**
   * Response bytes all connections together may have waiting in their write buffers; past it no connection that has
   * unread responses of its own starts a new request until some of them drain (clients that read are served on).
   * Stops: many slow readers each under the per-connection cap together exhausting server memory.
   */
  maxResponseBytesBuffered: number;
  /**
   * Total size of one object's attributes, bytes as TTLV-encoded; a Register, Create or attribute change that would
   * take an object past it is refused (src/operations/model/attribute-limits.ts). Stops: a tenant client growing an
   * object's attributes (15 Object Groups of 60,000 characters) until every Add Attribute, read and policy decision
   * on it costs a megabyte (issue 15: a 384 MiB heap died after 386 such calls).
   */
  maxAttributeBytes: number;
  /**
   * Instances of one attribute of one object (Name, Object Group, Link, ...); past it Add Attribute is refused with
   * Index Out of Bounds (1.x) / Server Limit Exceeded (2.x). Stops: the same growth by count of small values.
   */
  maxAttributeValues: number;
  /**
   * Most Unique Identifiers one Locate answers, whatever its Maximum Items (KMIP 2.1 §6.1.28: the server "MAY impose
   * an internal maximum limit due to resource limitations"); the scan stops once it has them. Stops: one request
   * building a response of millions of identifiers, and scanning past what it can return.
   */
  maxLocateItems: number;
  /**
   * Connections in the TLS handshake at once (no certificate seen yet), per listener process. When a new
   * connection arrives at the cap the OLDEST pending handshake is closed, so anonymous peers can never hold more
   * than this many of the maxConnections slots, and idle ones cannot keep a real client (whose handshake takes
   * milliseconds) out. Stops: lock-out of the port by peers without a certificate (issue 15 item 1: 1,100
   * connect-and-close calls held all 1,024 slots). src/server/handshake-guard.ts.
   */
  maxHandshakingConnections: number;
  /**
   * Connections in the TLS handshake from one remote IP address, per listener process (with `serve --workers N`
   * one address may have up to N times this many). Past it that address's oldest pending handshake is closed.
   * Stops: one address taking the whole maxHandshakingConnections budget.
   */
  maxHandshakingPerAddress: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxConnections: 1024,
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 300_000,
  maxMessageBytes: DEFAULT_TTLV_LIMITS.maxMessageBytes,
  maxInFlightPerConnection: 64,
  maxConcurrentPerConnection: 1,
  drainTimeoutMs: 4_000,
  maxBatchItems: 1024,
  maxResponseBytesPerConnection: 1024 * 1024,
  maxResponseBytesBuffered: 64 * 1024 * 1024,
  maxHandshakingConnections: 256,
  maxHandshakingPerAddress: 64,
  maxAttributeBytes: 128 * 1024,
  maxAttributeValues: 64,
  maxLocateItems: 10_000,
});

const LIMIT_NAMES = Object.keys(DEFAULT_SERVER_LIMITS) as (keyof ServerLimits)[];

/** Hard ceilings that keep a configured value from disabling a limit by accident. */
const LIMIT_MAX: Readonly<Record<keyof ServerLimits, number>> = {
  maxConnections: 1_000_000,
  handshakeTimeoutMs: 600_000,
  idleTimeoutMs: 86_400_000,
  maxMessageBytes: 64 * 1024 * 1024,
  maxInFlightPerConnection: 65_536,
  maxConcurrentPerConnection: 1024,
  drainTimeoutMs: 600_000,
  maxBatchItems: 65_536,
  maxResponseBytesPerConnection: 1024 * 1024 * 1024,
  maxResponseBytesBuffered: 16 * 1024 * 1024 * 1024,
  maxHandshakingConnections: 1_000_000,
  maxHandshakingPerAddress: 1_000_000,
  // The vault refuses records whose attributes encode to more than 1 MiB / 1,024 attributes (src/vault/limits.ts).
  maxAttributeBytes: 1024 * 1024,
  maxAttributeValues: 1024,
  maxLocateItems: 1_000_000,
};

export { ConfigError };

export function resolveServerLimits(p: Partial<ServerLimits> = {}): ServerLimits {
  const out: ServerLimits = { ...DEFAULT_SERVER_LIMITS };
  for (const name of LIMIT_NAMES) {
    const v = p[name];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1 || v > LIMIT_MAX[name]) {
      throw new ConfigError(`limit ${name} must be an integer from 1 to ${LIMIT_MAX[name]}, got ${String(v)}`);
    }
    out[name] = v;
  }
  if (out.maxConcurrentPerConnection > out.maxInFlightPerConnection) {
    throw new ConfigError('limit maxConcurrentPerConnection cannot exceed maxInFlightPerConnection');
  }
  return out;
}

// ---- identity ------------------------------------------------------------------------------

/** Where the client identity is read from in the client certificate. */
export type IdentitySource = 'cn' | 'uri' | 'uri-or-cn';

export interface IdentityConfig {
  /** 'cn' (default): subject CN; 'uri': the first SAN URI; 'uri-or-cn': SAN URI when present, else CN. */
  source: IdentitySource;
  /** Explicit identity → tenant map; consulted first. */
  tenants: Readonly<Record<string, string>>;
  /**
   * Identity not in the map: 'same-name' uses the identity as the tenant name; 'reject' closes the connection.
   * Unset (the default): 'reject' once any identity is mapped (here or at run time), 'same-name' while none is
   * (issue 15 item 8; src/server/identity.ts unmappedMode).
   */
  unmapped?: 'same-name' | 'reject';
}

export const DEFAULT_IDENTITY_CONFIG: Readonly<IdentityConfig> = Object.freeze({ source: 'cn', tenants: {} });

export { TENANT_NAME_PATTERN };

// ---- TLS -------------------------------------------------------------------------------------

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

// ---- the resolved server configuration ----------------------------------------------------------

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_KMIP_LISTEN = '127.0.0.1:5696';

export interface ServerConfig {
  listen: ListenAddress;
  tls: TlsMaterial;
  limits: ServerLimits;
  /** Codec limits other than maxMessageBytes (which comes from limits). */
  ttlv: TtlvLimits;
  identity: IdentityConfig;
  /** Enterprise trust anchors (`kmip.trust`, issue 18; src/server/trust.ts); their CAs are in `tls.ca` too. */
  trust?: readonly TrustAnchor[];
  /** KMIP over HTTPS (issue 20): absent = off (the default). Same TLS material, limits and identity mapping. */
  https?: HttpsSettings;
}

// ---- KMIP over HTTPS (issue 20; KMIP Additional Message Encodings 1.0 §2, Profiles 2.1 §5) ------------------

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

function resolveHttps(file: HttpsFile | undefined, listenOverride: string | undefined): HttpsSettings | undefined {
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

/** Parses HOST:PORT, [IPv6]:PORT. Port 0 asks the OS for a free port. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (m === null || host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new ConfigError(`listen address must be HOST:PORT (or [IPv6]:PORT), got ${JSON.stringify(text)}`);
  }
  if (m[1] !== undefined && isIP(host) !== 6) throw new ConfigError(`not an IPv6 address: ${host}`);
  return { host, port };
}

export function formatListen(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${String(a.port)}` : `${a.host}:${String(a.port)}`;
}

// ---- the config file ---------------------------------------------------------------------------

export const CONFIG_FILE_NAME = 'openkcm.conf';

/** The config file's shape (all optional; relative paths are relative to the data directory). */
export interface ConfigFile {
  kmip?: {
    listen?: string;
    tls?: { cert?: string; key?: string; clientCa?: string; minVersion?: TlsVersionFloor; ciphers?: string; reloadIntervalMs?: number };
    limits?: Partial<ServerLimits>;
    ttlv?: Partial<Omit<TtlvLimits, 'maxMessageBytes'>>;
    /** KMIP over HTTPS; off unless `listen` is set (here or by `serve --kmip-https-listen`). */
    https?: HttpsFile;
    /** Enterprise trust anchors, validated by src/server/trust.ts resolveTrustAnchors. */
    trust?: unknown;
  };
  /** `roles` / `defaultRoles` (identity → Cedar role names) are validated by src/cmk/authz parseIdentityRoles. */
  identity?: Partial<IdentityConfig> & { roles?: unknown; defaultRoles?: unknown };
  logLevel?: LogLevel;
  /** Free-form settings of the storage layer (src/vault). */
  vault?: Record<string, unknown>;
  /** Settings of the native key-slot arena (src/native), validated by app.ts `nativeSettings`. */
  native?: Record<string, unknown>;
  /** How the MasterKey is unsealed (src/krypton/master-key.ts): Shamir, auto-unseal, or development file. */
  seal?: Record<string, unknown>;
  /** L1 keystores and the tenants' shadow references (src/krypton, docs/keystores.md). */
  keystores?: Record<string, unknown>;
  /** The governance plane (src/cmk): database URL, admin API listener, authentication, audit. */
  governance?: Record<string, unknown>;
  /** Client compatibility switches (src/operations/model/compat.ts): name policy per tenant, client profiles. */
  compat?: Record<string, unknown>;
}

/** 1-based line and column of a character offset in `text` (issue 17: errors name a line and column). */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split('\n').length;
  return { line, column: before.length - before.lastIndexOf('\n') };
}

/**
 * Blanks JSONC comments and trailing commas with spaces, leaving string contents untouched, then
 * JSON.parse. A tiny state machine instead of a regex, so `"//"` inside a string survives. Every
 * removed character becomes a space (newlines stay), so a JSON.parse position is a position in the
 * file and a syntax error is reported as `line L, column C`.
 */
export function parseJsonc(text: string): unknown {
  let out = '';
  let i = 0;
  const n = text.length;
  const blank = (s: string): string => s.replace(/[^\n]/g, ' ');
  while (i < n) {
    const c = text.charAt(i);
    const next = text.charAt(i + 1);
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && next === '/') {
      const start = i;
      while (i < n && text[i] !== '\n') i++;
      out += blank(text.slice(start, i));
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) {
        const at = lineColumn(text, i);
        throw new ConfigError(`unterminated /* comment starting at line ${String(at.line)}, column ${String(at.column)}`);
      }
      out += blank(text.slice(i, end + 2));
      i = end + 2;
    } else {
      out += c;
      i++;
    }
  }
  // Second pass, also string-aware: blank a comma whose next non-space character closes an
  // object or array (trailing commas).
  let cleaned = '';
  for (let j = 0; j < out.length; j++) {
    const c = out.charAt(j);
    if (c === '"') {
      let k = j + 1;
      while (k < out.length && out[k] !== '"') k += out[k] === '\\' ? 2 : 1;
      cleaned += out.slice(j, k + 1);
      j = k;
    } else if (c === ',') {
      let k = j + 1;
      while (k < out.length && /\s/.test(out[k] ?? '')) k++;
      cleaned += out[k] !== '}' && out[k] !== ']' ? c : ' ';
    } else {
      cleaned += c;
    }
  }
  try {
    return JSON.parse(cleaned) as unknown;
  } catch (e) {
    // Node 20's V8 does not always say where ("Unexpected token 't', ... is not valid JSON"), so find the first
    // offending character with a small scanner over the same text; positions in `cleaned` are positions in the file.
    const { offset, what } = jsonSyntaxError(cleaned);
    const at = lineColumn(text, offset);
    const lineText = text.split('\n')[at.line - 1] ?? '';
    throw new ConfigError(`line ${String(at.line)}, column ${String(at.column)}: ${what} (not valid JSON with comments)\n  ${lineText.slice(0, 200)}\n  ${' '.repeat(Math.max(0, at.column - 1))}^`, { cause: e });
  }
}

/**
 * Where plain JSON text first goes wrong (RFC 8259 grammar), for error messages only: JSON.parse has already
 * refused the text. Depth is bounded by the config file's size (a few KiB), and the scan is iterative over arrays
 * and objects' members, recursive only per nesting level.
 */
export function jsonSyntaxError(t: string): { offset: number; what: string } {
  let i = 0;
  class Stop extends Error { constructor(readonly offset: number, readonly what: string) { super(what); } }
  const ws = (): void => { while (i < t.length && ' \t\n\r'.includes(t.charAt(i))) i++; };
  const bad = (expected: string): never => {
    if (i >= t.length) throw new Stop(t.length, `unexpected end of the file (expected ${expected})`);
    throw new Stop(i, `unexpected ${JSON.stringify(t.charAt(i))} (expected ${expected})`);
  };
  const str = (): void => {
    if (t[i] !== '"') bad('a string');
    i++;
    while (i < t.length && t[i] !== '"') {
      if (t.charCodeAt(i) < 0x20) bad('a closing quote');
      if (t[i] === '\\') {
        i++;
        if (t[i] === 'u') { if (!/^[0-9a-fA-F]{4}$/.test(t.slice(i + 1, i + 5))) bad('4 hex digits after \\u'); i += 5; continue; }
        if (!'"\\/bfnrt'.includes(t.charAt(i)) || i >= t.length) bad('an escape character');
      }
      i++;
    }
    if (i >= t.length) bad('a closing quote');
    i++;
  };
  const value = (): void => {
    ws();
    const c = t.charAt(i);
    if (c === '{') {
      i++; ws();
      if (t[i] === '}') { i++; return; }
      for (;;) {
        ws(); str(); ws();
        if (t[i] !== ':') bad('":"');
        i++; value(); ws();
        if (t[i] === ',') { i++; continue; }
        if (t[i] === '}') { i++; return; }
        bad('"," or "}"');
      }
    } else if (c === '[') {
      i++; ws();
      if (t[i] === ']') { i++; return; }
      for (;;) {
        value(); ws();
        if (t[i] === ',') { i++; continue; }
        if (t[i] === ']') { i++; return; }
        bad('"," or "]"');
      }
    } else if (c === '"') {
      str();
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(t.slice(i));
      if (m === null) { i++; bad('a digit'); }
      i += m?.[0].length ?? 0;
    } else {
      for (const lit of ['true', 'false', 'null']) {
        if (t.startsWith(lit, i)) { i += lit.length; return; }
      }
      // Point at the first character that does not continue a literal (e.g. the end of "tru").
      for (const lit of ['true', 'false', 'null']) {
        if (lit.startsWith(t.charAt(i))) { let k = 0; while (t[i + k] === lit[k]) k++; i += k; bad(`"${lit}"`); }
      }
      bad('a value');
    }
  };
  try {
    value(); ws();
    if (i < t.length) bad('the end of the file');
    return { offset: t.length, what: 'not valid JSON' };
  } catch (e) {
    if (e instanceof Stop) return { offset: e.offset, what: e.what };
    throw e;
  }
}

function checkKeys(where: string, v: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isRecord(v)) throw new ConfigError(`${where} must be an object`);
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw new ConfigError(`unknown setting ${where}.${k} (allowed: ${allowed.join(', ')})`);
  }
  return v;
}

function optString(where: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`${where} must be a non-empty string`);
  return v;
}

function numbers(where: string, v: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'number') throw new ConfigError(`${where}.${k} must be a number`);
    out[k] = x;
  }
  return out;
}

/** Validates the parsed file against {@link ConfigFile}; throws ConfigError naming the bad setting. */
export function validateConfigFile(raw: unknown): ConfigFile {
  const top = checkKeys('config', raw, ['kmip', 'identity', 'logLevel', 'vault', 'native', 'seal', 'keystores', 'governance', 'compat']);
  const out: ConfigFile = {};
  if (top.kmip !== undefined) {
    const k = checkKeys('kmip', top.kmip, ['listen', 'tls', 'limits', 'ttlv', 'https', 'trust']);
    const kmip: NonNullable<ConfigFile['kmip']> = {};
    const listen = optString('kmip.listen', k.listen);
    if (listen !== undefined) {
      parseListen(listen);
      kmip.listen = listen;
    }
    if (k.tls !== undefined) {
      const t = checkKeys('kmip.tls', k.tls, ['cert', 'key', 'clientCa', 'minVersion', 'ciphers', 'reloadIntervalMs']);
      const tls: NonNullable<NonNullable<ConfigFile['kmip']>['tls']> = {};
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
      kmip.tls = tls;
    }
    if (k.limits !== undefined) {
      const limits = numbers('kmip.limits', checkKeys('kmip.limits', k.limits, LIMIT_NAMES));
      resolveServerLimits(limits);
      kmip.limits = limits;
    }
    if (k.ttlv !== undefined) {
      const names = ['maxDepth', 'maxItems', 'maxTextBytes', 'maxByteStringBytes', 'maxBigIntegerBytes'];
      const ttlv = numbers('kmip.ttlv', checkKeys('kmip.ttlv', k.ttlv, names));
      try {
        resolveLimits(ttlv);
      } catch (e) {
        throw new ConfigError(`kmip.ttlv: ${e instanceof Error ? e.message : String(e)}`);
      }
      kmip.ttlv = ttlv;
    }
    if (k.https !== undefined) {
      const h = checkKeys('kmip.https', k.https, ['listen', 'requestTimeoutMs', 'maxTextBodyBytes', 'maxHeaderBytes']);
      const https: NonNullable<NonNullable<ConfigFile['kmip']>['https']> = {};
      const listen = optString('kmip.https.listen', h.listen);
      if (listen !== undefined) https.listen = listen;
      const nums = numbers('kmip.https', Object.fromEntries(Object.entries(h).filter(([key]) => key !== 'listen')));
      Object.assign(https, nums);
      resolveHttps({ listen: https.listen ?? '127.0.0.1:0', ...nums }, undefined);
      kmip.https = https;
    }
    if (k.trust !== undefined) kmip.trust = k.trust;
    out.kmip = kmip;
  }
  if (top.identity !== undefined) {
    const id = checkKeys('identity', top.identity, ['source', 'tenants', 'unmapped', 'roles', 'defaultRoles']);
    const identity: NonNullable<ConfigFile['identity']> = {};
    if (id.roles !== undefined) identity.roles = id.roles;
    if (id.defaultRoles !== undefined) identity.defaultRoles = id.defaultRoles;
    if (id.source !== undefined) {
      if (id.source !== 'cn' && id.source !== 'uri' && id.source !== 'uri-or-cn') throw new ConfigError('identity.source must be "cn", "uri" or "uri-or-cn"');
      identity.source = id.source;
    }
    if (id.unmapped !== undefined) {
      if (id.unmapped !== 'same-name' && id.unmapped !== 'reject') throw new ConfigError('identity.unmapped must be "same-name" or "reject"');
      identity.unmapped = id.unmapped;
    }
    if (id.tenants !== undefined) {
      if (!isRecord(id.tenants)) throw new ConfigError('identity.tenants must be an object of identity → tenant');
      const tenants: Record<string, string> = {};
      for (const [who, tenant] of Object.entries(id.tenants)) {
        if (typeof tenant !== 'string' || !TENANT_NAME_PATTERN.test(tenant)) {
          throw new ConfigError(`identity.tenants[${JSON.stringify(who)}] must be a tenant name matching ${TENANT_NAME_PATTERN.source}`);
        }
        tenants[who] = tenant;
      }
      identity.tenants = tenants;
    }
    out.identity = identity;
  }
  if (top.logLevel !== undefined) {
    if (typeof top.logLevel !== 'string' || !isLogLevel(top.logLevel)) throw new ConfigError('logLevel must be one of debug, info, warn, error');
    out.logLevel = top.logLevel;
  }
  if (top.vault !== undefined) {
    if (!isRecord(top.vault)) throw new ConfigError('vault must be an object');
    out.vault = top.vault;
  }
  if (top.compat !== undefined) {
    // Client compatibility switches (issue 20): validated here so a bad one stops `serve` before it listens.
    try {
      compatSettings(top.compat);
    } catch (e) {
      if (e instanceof CompatSettingsError) throw new ConfigError(e.message);
      throw e;
    }
    out.compat = top.compat as Record<string, unknown>;
  }
  // Free-form sections, each validated by the module that owns it.
  for (const section of ['native', 'seal', 'keystores', 'governance'] as const) {
    const v = top[section];
    if (v === undefined) continue;
    if (!isRecord(v)) throw new ConfigError(`${section} must be an object`);
    out[section] = v;
  }
  return out;
}

/** Everything `serve` needs, resolved against the data directory. */
export interface LoadedConfig {
  readonly dataDir: string;
  readonly file: ConfigFile;
  readonly server: ServerConfig;
  readonly logLevel: LogLevel;
  readonly vault: Readonly<Record<string, unknown>>;
  readonly native: Readonly<Record<string, unknown>>;
  readonly seal: Readonly<Record<string, unknown>>;
  readonly keystores: Readonly<Record<string, unknown>>;
  readonly governance: Readonly<Record<string, unknown>>;
}

async function readPem(dataDir: string, rel: string, what: string): Promise<string> {
  const file = path.resolve(dataDir, rel);
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new ConfigError(`cannot read ${what} ${file}${typeof code === 'string' ? ` (${code})` : ''}; run \`openkcm init --data-dir ${dataDir}\` first`);
  }
}

/** Builds the server configuration from a validated file (paths relative to dataDir). */
export async function resolveConfig(dataDir: string, file: ConfigFile, overrides: { listen?: string; httpsListen?: string } = {}): Promise<LoadedConfig> {
  const tlsFile = file.kmip?.tls ?? {};
  const limits = resolveServerLimits(file.kmip?.limits);
  // Issue 18 "bring your own CA": enterprise anchors are trusted by the handshake like the client CA; what they may
  // do (tenants, CRL) is decided by src/server/trust.ts.
  const anchors = await resolveTrustAnchors(dataDir, file.kmip?.trust);
  const server: ServerConfig = {
    listen: parseListen(overrides.listen ?? file.kmip?.listen ?? DEFAULT_KMIP_LISTEN),
    tls: {
      cert: await readPem(dataDir, tlsFile.cert ?? 'pki/server.crt', 'server certificate'),
      key: await readPem(dataDir, tlsFile.key ?? 'pki/server.key', 'server key'),
      ca: [await readPem(dataDir, tlsFile.clientCa ?? 'pki/ca.crt', 'client CA certificate'), ...anchors.map((a) => a.caPem)].join('\n'),
      minVersion: tlsFile.minVersion ?? 'TLSv1.2',
      ciphers: tlsFile.ciphers ?? DEFAULT_CIPHERS,
    },
    limits,
    ttlv: resolveLimits({ ...file.kmip?.ttlv, maxMessageBytes: limits.maxMessageBytes }),
    identity: { ...DEFAULT_IDENTITY_CONFIG, ...file.identity },
    ...(anchors.length === 0 ? {} : { trust: anchors }),
  };
  const https = resolveHttps(file.kmip?.https, overrides.httpsListen);
  if (https !== undefined) server.https = https;
  return { dataDir, file, server, logLevel: file.logLevel ?? 'info', vault: file.vault ?? {}, native: file.native ?? {},
    seal: file.seal ?? {}, keystores: file.keystores ?? {}, governance: file.governance ?? {} };
}

/** Reads DIR/openkcm.conf (absent file = all defaults) and resolves it. */
export async function loadConfig(dataDir: string, overrides: { listen?: string; httpsListen?: string } = {}): Promise<LoadedConfig> {
  const file = path.join(dataDir, CONFIG_FILE_NAME);
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
  }
  let parsed: ConfigFile = {};
  if (text !== undefined) {
    try {
      parsed = validateConfigFile(parseJsonc(text));
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${file}: ${e.message}`);
      throw e;
    }
  }
  return resolveConfig(dataDir, parsed, overrides);
}

/** The commented config file `openkcm init` writes: every setting at its default, explained. */
export function renderDefaultConfigFile(tenants: readonly string[]): string {
  const L = DEFAULT_SERVER_LIMITS;
  const T = DEFAULT_TTLV_LIMITS;
  return `// OpenKCM configuration (JSON with comments). Reference: docs/configuration.md
// Relative paths are relative to this data directory. Every value shown is the default.
{
  "kmip": {
    // Address of the KMIP listener (KMIP's IANA port is 5696). \`serve --kmip-listen\` overrides it.
    "listen": "${DEFAULT_KMIP_LISTEN}",
    "tls": {
      "cert": "pki/server.crt",
      "key": "pki/server.key",
      // Client certificates must chain to this CA; a connection without one fails the handshake.
      "clientCa": "pki/ca.crt",
      // TLS 1.2 is the floor many KMIP clients need; "TLSv1.3" to refuse 1.2.
      "minVersion": "TLSv1.2"
    },
    "limits": {
      // Simultaneous connections; excess ones are closed at once (connection floods).
      "maxConnections": ${L.maxConnections},
      // TCP accept to finished TLS handshake, ms (slowloris during the handshake).
      "handshakeTimeoutMs": ${L.handshakeTimeoutMs},
      // No traffic and no request in progress for this long closes the connection, ms.
      "idleTimeoutMs": ${L.idleTimeoutMs},
      // Largest request message in bytes; larger announced lengths are refused from the header.
      "maxMessageBytes": ${L.maxMessageBytes},
      // Requests of one connection read but not yet answered; at the cap reading pauses.
      "maxInFlightPerConnection": ${L.maxInFlightPerConnection},
      // Requests of one connection processed at once (1 = strictly one after another).
      "maxConcurrentPerConnection": ${L.maxConcurrentPerConnection},
      // On shutdown, in-flight requests get this long before connections are cut, ms.
      "drainTimeoutMs": ${L.drainTimeoutMs},
      // Batch items in one request message; more is refused before any item runs.
      "maxBatchItems": ${L.maxBatchItems},
      // Unread response bytes one connection may hold before the server stops answering it.
      "maxResponseBytesPerConnection": ${L.maxResponseBytesPerConnection},
      // Unread response bytes of all connections together.
      "maxResponseBytesBuffered": ${L.maxResponseBytesBuffered},
      // Connections still in the TLS handshake (no certificate yet), per process; at the cap the oldest is closed.
      "maxHandshakingConnections": ${L.maxHandshakingConnections},
      // The same from one IP address, per process; at the cap that address's oldest is closed.
      "maxHandshakingPerAddress": ${L.maxHandshakingPerAddress},
      // Total bytes of one object's attributes; Register/Create/Add Attribute past it is refused.
      "maxAttributeBytes": ${L.maxAttributeBytes},
      // Values of one attribute of one object (Name, Object Group, ...).
      "maxAttributeValues": ${L.maxAttributeValues},
      // Unique Identifiers one Locate answers at most, whatever its Maximum Items.
      "maxLocateItems": ${L.maxLocateItems}
    },
    "ttlv": {
      // Decoder limits on hostile input (packages/ttlv/src/limits.ts).
      "maxDepth": ${T.maxDepth},
      "maxItems": ${T.maxItems},
      "maxTextBytes": ${T.maxTextBytes},
      "maxByteStringBytes": ${T.maxByteStringBytes},
      "maxBigIntegerBytes": ${T.maxBigIntegerBytes}
    }
    // KMIP over HTTPS (POST /kmip; TTLV, JSON, XML), off unless "listen" is set; same TLS, limits, identity:
    // "https": { "listen": "0.0.0.0:5699", "requestTimeoutMs": ${String(DEFAULT_HTTPS_SETTINGS.requestTimeoutMs)}, "maxTextBodyBytes": ${String(DEFAULT_HTTPS_SETTINGS.maxTextBodyBytes)}, "maxHeaderBytes": ${String(DEFAULT_HTTPS_SETTINGS.maxHeaderBytes)} }
  },
  "identity": {
    // Client identity from the certificate: "cn", "uri" (first SAN URI) or "uri-or-cn".
    "source": "cn",
    // Identities not listed below: "reject" (the default once any identity is mapped, here or with
    // \`openkcm identity map\`); "same-name" = tenant named like the identity (any certificate of the client CA
    // becomes a tenant of its own).
    "unmapped": "reject",
    // Explicit identity -> tenant map, e.g. "spiffe://example.org/app": "acme".
    "tenants": {${tenants.map((t) => `\n      ${JSON.stringify(t)}: ${JSON.stringify(t)}`).join(',')}${tenants.length > 0 ? '\n    ' : ''}}
  },
  // debug | info | warn | error; logs are JSON lines on stderr.
  "logLevel": "info",
  // Storage settings (see docs/configuration.md); empty = defaults under this directory.
  "vault": {},
  // Native key slots (docs/configuration.md, docs/security.md). allowUnlocked: true runs WITHOUT
  // mlock'ed key memory when RLIMIT_MEMLOCK is too small — development only.
  "native": { "allowUnlocked": false },
  // How the node's MasterKey is unsealed (docs/keystores.md "MasterKey, unsealing and node secrets").
  // allowDev: a data directory without seal.json gets a development key file (master.key, in the
  // clear). Production: set false and run \`openkcm operator init --shares N --threshold K\`, or
  // add an "auto" section and run \`openkcm operator init --auto-unseal\` (HSM / cloud KMS):
  //   "auto": {
  //     "plugin": "pkcs11",
  //     "keyRef": "token=openkcm-seal;object=master-key-wrap",
  //     "connection": { "modulePath": "/usr/lib/softhsm/libsofthsm2.so", "pinSecret": "seal-pin" },
  //     // The seal's own PIN cannot be a node secret (the MasterKey seals those): it comes from
  //     // the environment or from a file readable only by the service user.
  //     "secrets": { "seal-pin": { "env": "OPENKCM_HSM_PIN" } }
  //   }
  "seal": { "allowDev": true },
  // Where tenants' root keys (L1) live (docs/keystores.md). "local": L1 keys sealed by the MasterKey
  // in this data directory, created on a tenant's first use; "none": only tenants listed below.
  // Example with an HSM (the PIN is a node secret named by pinSecret):
  //   "connections": { "pkcs11": { "modulePath": "/usr/lib/softhsm/libsofthsm2.so", "pinSecret": "hsm-pin" } },
  //   "tenants": { "acme": { "plugin": "pkcs11", "keyRef": "token=acme;object=acme-l1" } }
  "keystores": {
    "default": "local",
    "connections": {},
    "tenants": {}
  }
}
`;
}
