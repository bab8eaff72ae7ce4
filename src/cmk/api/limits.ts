/**
 * The admin API listener's named connection limits (issue 15 items 1 and 7): the config file's
 * `governance.adminApi.limits` (docs/configuration.md). The review held the admin API with 260 idle sockets for
 * 35 s: it allowed 256 connections, kept a socket in the TLS handshake for Node's default of 120 s, and nothing
 * bounded anonymous connections. The same protections as the KMIP listener (src/server/listener.ts) apply now:
 * a pre-handshake budget with a per-address cap (src/common/tls/handshake-guard.ts, oldest evicted), a short handshake
 * timeout, and timeouts for a connection that sends no request or sits idle.
 */

import { checkLimit } from '../../common/config-error.js';

export interface AdminLimits {
  /** Simultaneous TCP connections; excess closed at once. Stops: descriptor and memory exhaustion by a flood. */
  readonly maxConnections: number;
  /**
   * Connections in the TLS handshake at once; at the cap the oldest is closed. Stops: peers without a certificate
   * (idle sockets) filling maxConnections and locking admins out.
   */
  readonly maxHandshakingConnections: number;
  /** Connections in the TLS handshake from one IP address; at the cap that address's oldest is closed. */
  readonly maxHandshakingPerAddress: number;
  /** TCP accept to a finished TLS handshake, ms. Stops: slowloris in the handshake (Node's default is 120 s). */
  readonly handshakeTimeoutMs: number;
  /**
   * Connection (or the previous response) to the end of a request's headers, ms; checked every
   * {@link ADMIN_CONNECTIONS_CHECK_INTERVAL_MS}. Stops: a peer that completes the handshake (bearer-token clients
   * need no certificate) and then sends nothing, or its headers a byte at a time, holding one of maxConnections.
   */
  readonly headersTimeoutMs: number;
  /** Whole request received, ms. Stops: slow bodies. At least headersTimeoutMs (Node requires it). */
  readonly requestTimeoutMs: number;
  /** Idle keep-alive connection between requests, ms. Stops: abandoned keep-alive connections holding slots. */
  readonly keepAliveTimeoutMs: number;
  /** No byte in either direction for this long closes the socket, ms. Stops: any stalled connection (backstop). */
  readonly idleTimeoutMs: number;
}

export const DEFAULT_ADMIN_LIMITS: Readonly<AdminLimits> = Object.freeze({
  maxConnections: 256,
  maxHandshakingConnections: 64,
  maxHandshakingPerAddress: 16,
  handshakeTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
});

/** How often Node's HTTP server checks headersTimeoutMs / requestTimeoutMs (its default is 30 s: too coarse). */
export const ADMIN_CONNECTIONS_CHECK_INTERVAL_MS = 1_000;

/** Ceilings that keep a configured value from disabling a limit by accident. */
const ADMIN_LIMIT_MAX: Readonly<Record<keyof AdminLimits, number>> = {
  maxConnections: 100_000,
  maxHandshakingConnections: 100_000,
  maxHandshakingPerAddress: 100_000,
  handshakeTimeoutMs: 600_000,
  headersTimeoutMs: 600_000,
  requestTimeoutMs: 600_000,
  keepAliveTimeoutMs: 600_000,
  idleTimeoutMs: 86_400_000,
};

export const ADMIN_LIMIT_NAMES = Object.keys(DEFAULT_ADMIN_LIMITS) as (keyof AdminLimits)[];

/**
 * Validates `governance.adminApi.limits` (absent = defaults). Throws RangeError naming the setting: an unknown key,
 * a value outside 1..its ceiling, or headersTimeoutMs above requestTimeoutMs.
 */
export function resolveAdminLimits(raw: unknown, where = 'governance.adminApi.limits'): AdminLimits {
  if (raw === undefined) return { ...DEFAULT_ADMIN_LIMITS };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RangeError(`${where} must be an object`);
  const out: Record<keyof AdminLimits, number> = { ...DEFAULT_ADMIN_LIMITS };
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!(ADMIN_LIMIT_NAMES as string[]).includes(k)) throw new RangeError(`unknown setting ${where}.${k} (allowed: ${ADMIN_LIMIT_NAMES.join(', ')})`);
    const name = k as keyof AdminLimits;
    out[name] = checkLimit(`${where}.${k}`, v, ADMIN_LIMIT_MAX[name], RangeError);
  }
  if (out.headersTimeoutMs > out.requestTimeoutMs) throw new RangeError(`${where}.headersTimeoutMs cannot exceed requestTimeoutMs`);
  return out;
}
