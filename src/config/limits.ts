/**
 * `kmip.limits`: the named limits of the KMIP listener, each with the attack it stops, their defaults and the hard
 * ceilings that keep a configured value from disabling a limit by accident (docs/configuration.md).
 */
import { DEFAULT_TTLV_LIMITS } from '@openkcm/ttlv';
import { checkLimit, ConfigError } from '../common/config-error.js';

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
   * connect-and-close calls held all 1,024 slots). src/common/tls/handshake-guard.ts.
   */
  maxHandshakingConnections: number;
  /**
   * Connections in the TLS handshake from one remote IP address, per listener process (with `serve --workers N`
   * one address may have up to N times this many). Past it that address's oldest pending handshake is closed.
   * Stops: one address taking the whole maxHandshakingConnections budget.
   */
  maxHandshakingPerAddress: number;
  /**
   * Largest PBKDF2 work of one Derive Key: Iteration Count (KMIP 1.4 §4.6 Table 183) x output blocks (PBKDF2 repeats
   * every iteration per hash-sized block, RFC 8018 §5.2), i.e. the Iteration Count itself for a key no longer than the
   * hash. Past it the request is refused with Invalid Field. Stops: one 4-byte Iteration Count (up to 2^31-1), or a
   * long output, buying minutes of CPU on the server's thread pool (600,000 x 26 SHA-1 blocks for 4,096 bits took 3 s
   * of CPU). The default is OWASP's 2023 PBKDF2-HMAC-SHA-256 figure, about 0.12 s of CPU.
   */
  maxDeriveIterationCount: number;
  /**
   * Largest Cryptographic Length, bits, of an object made by Derive Key (Secret Data may be any whole number of bytes;
   * 1.4 §4.6 "derive multiple keys and IVs" in one). Stops: a huge derived object, and PBKDF2 / SP 800-108 work that
   * grows with each output block (cost = blocks x Iteration Count).
   */
  maxDeriveLengthBits: number;
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
  maxDeriveIterationCount: 600_000,
  maxDeriveLengthBits: 4096,
});

export const LIMIT_NAMES = Object.keys(DEFAULT_SERVER_LIMITS) as (keyof ServerLimits)[];

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
  maxDeriveIterationCount: 100_000_000,
  // 64 KiB, the RNG Retrieve default bound on bytes one request makes the server produce.
  maxDeriveLengthBits: 64 * 1024 * 8,
};

export function resolveServerLimits(p: Partial<ServerLimits> = {}): ServerLimits {
  const out: ServerLimits = { ...DEFAULT_SERVER_LIMITS };
  for (const name of LIMIT_NAMES) {
    const v = p[name];
    if (v !== undefined) out[name] = checkLimit(`limit ${name}`, v, LIMIT_MAX[name]);
  }
  if (out.maxConcurrentPerConnection > out.maxInFlightPerConnection) {
    throw new ConfigError('limit maxConcurrentPerConnection cannot exceed maxInFlightPerConnection');
  }
  return out;
}
