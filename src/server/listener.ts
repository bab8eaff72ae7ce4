/**
 * The KMIP listener: node:tls with mandatory client certificates (KMIP 1.4 §12.1, KMIP
 * Profiles 1.4 §3.1 "Basic Authentication Suite": mutually authenticated TLS; §3.1.3 TLS 1.2),
 * the connection-level limits of src/config/, and graceful shutdown.
 *
 * - TLS 1.2 and 1.3; modern AEAD suites only (config.DEFAULT_CIPHERS).
 * - `requestCert` + `rejectUnauthorized` against the configured CA: a client without a
 *   certificate, or with one from another CA, fails in the handshake and never reaches a
 *   KMIP handler. (In TLS 1.3 the client may believe the handshake finished before the
 *   server's alert arrives; it still never gets a response.)
 * - Identity (CN or SAN URI) → tenant, src/server/identity.ts. An identity the configuration
 *   refuses is closed right after the handshake, before any request is read.
 * - maxConnections (excess closed at once), handshakeTimeoutMs, idleTimeoutMs,
 *   maxMessageBytes and the per-connection pipelining caps.
 * - Pre-handshake connections (no certificate seen yet) have their own budget, with a per-address
 *   cap (src/common/tls/handshake-guard.ts), and a peer that closes before its handshake completes frees its slot
 *   at once (issue 15 item 1: 1,100 connect-and-close calls used to hold every slot for 10 s).
 */
import tls from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { ListenAddress, ServerConfig } from '../config/index.js';
import { formatListen } from '../config/listen.js';
import { ResponseBudget, ServerConnection } from './connection.js';
import { HandshakeGuard } from '../common/tls/handshake-guard.js';
import { IdentityError, principalOf } from './identity.js';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';
import type { ProcessorDeps } from './processor.js';
import type { ClientTrust } from './trust.js';

/** At most one log line per this interval about evicted pending handshakes (the count rides along). */
const EVICTION_LOG_INTERVAL_MS = 10_000;

export interface KmipServerOptions<S> {
  readonly config: ServerConfig;
  readonly deps: ProcessorDeps<S>;
  /** Default: deps.logger. */
  readonly logger?: Logger;
  /**
   * Run-time client trust (issue 18: revocation, identity mapping, enterprise anchors; src/server/trust.ts). Without
   * it the static `config.identity` decides. On every change the open connections are re-checked and those it now
   * refuses are closed.
   */
  readonly trust?: ClientTrust;
}

/** Counters for operations and tests. */
export interface KmipServerStats {
  /** TCP connections accepted (before TLS). */
  accepted: number;
  /** Connections that completed the TLS handshake and were mapped to a tenant. */
  established: number;
  /** Handshakes that failed (no or bad certificate, protocol mismatch, timeout). */
  handshakeFailures: number;
  /** Connections closed at once because maxConnections was reached. */
  dropped: number;
  /** Verified certificates whose identity the configuration refused. */
  identityRejected: number;
  /** Pending handshakes closed to make room because maxHandshakingConnections was reached. */
  handshakesEvicted: number;
  /** Pending handshakes closed because their address had maxHandshakingPerAddress of them. */
  handshakesEvictedPerAddress: number;
}

/**
 * The mutual-TLS options of both KMIP listeners, this one and the HTTPS profile (src/server/https-listener.ts): the
 * configured certificate, client CA list, protocol floor and ciphers, a client certificate required and verified,
 * and the handshake bounded by limits.handshakeTimeoutMs.
 */
export function kmipTlsOptions(config: ServerConfig): tls.TlsOptions {
  const { tls: t, limits } = config;
  return {
    cert: t.cert,
    key: t.key,
    ca: t.ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: t.minVersion,
    maxVersion: 'TLSv1.3',
    ciphers: t.ciphers,
    honorCipherOrder: true,
    handshakeTimeout: limits.handshakeTimeoutMs,
  };
}

export class KmipServer<S = unknown> {
  readonly #config: ServerConfig;
  readonly #deps: ProcessorDeps<S>;
  readonly #log: Logger;
  readonly #server: tls.Server;
  readonly #connections = new Set<ServerConnection<S>>();
  /** Tenants whose connections are held (see {@link holdTenant}); a new connection of one starts held. */
  readonly #heldTenants = new Set<string>();
  /** TCP sockets whose TLS handshake has not completed (limits.maxHandshakingConnections / PerAddress). */
  readonly #handshaking: HandshakeGuard;
  /** Unread response bytes of all connections (limits.maxResponseBytesBuffered). */
  readonly #responseBudget: ResponseBudget;
  readonly #trust: ClientTrust | undefined;
  /** Peer certificate of each open connection: re-checked when the trust changes (a revocation closes it). */
  readonly #peers = new Map<ServerConnection<S>, tls.PeerCertificate>();
  #nextId = 1;
  #evictionLoggedAt = 0;
  #evictionsUnlogged = 0;
  #address: ListenAddress | undefined;
  #closing: Promise<void> | undefined;
  readonly stats: KmipServerStats = {
    accepted: 0, established: 0, handshakeFailures: 0, dropped: 0, identityRejected: 0, handshakesEvicted: 0, handshakesEvictedPerAddress: 0,
  };

  constructor(opts: KmipServerOptions<S>) {
    this.#config = opts.config;
    this.#deps = opts.deps;
    this.#log = opts.logger ?? opts.deps.logger;
    this.#trust = opts.trust;
    this.#trust?.onChange(() => { this.#recheck(); });
    const { limits } = this.#config;
    this.#responseBudget = new ResponseBudget(limits.maxResponseBytesBuffered);
    this.#server = tls.createServer(Object.assign(kmipTlsOptions(this.#config), {
      // No half-open sockets BEFORE the handshake: a peer that sends FIN without finishing its handshake is closed
      // at once instead of holding a slot until handshakeTimeoutMs (issue 15 item 1: 1,100 connect-and-close
      // calls left 1,024 sockets in CLOSE-WAIT and refused every real client). An established connection
      // allows half-close again (#onSecure): a client may half-close after its last request and still gets
      // its responses (src/server/connection.ts ends the connection once they are written).
      allowHalfOpen: false,
    }));
    this.#server.maxConnections = limits.maxConnections;
    this.#server.on('connection', (raw: Socket) => { this.#onTcp(raw); });
    // After #onTcp, so a connection refused while closing never enters the budget.
    this.#handshaking = new HandshakeGuard(this.#server, {
      maxHandshaking: limits.maxHandshakingConnections,
      maxHandshakingPerAddress: limits.maxHandshakingPerAddress,
    }, (reason, address) => {
      if (reason === 'budget') this.stats.handshakesEvicted++;
      else this.stats.handshakesEvictedPerAddress++;
      // A flood evicts thousands: one line per EVICTION_LOG_INTERVAL_MS, with the count since the last one.
      this.#evictionsUnlogged++;
      const now = Date.now();
      if (now - this.#evictionLoggedAt < EVICTION_LOG_INTERVAL_MS) return;
      this.#log.warn('pending TLS handshakes closed to make room', {
        reason, remote: address, evicted: this.#evictionsUnlogged,
        maxHandshakingConnections: limits.maxHandshakingConnections, maxHandshakingPerAddress: limits.maxHandshakingPerAddress,
      });
      this.#evictionLoggedAt = now;
      this.#evictionsUnlogged = 0;
    });
    this.#server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
      this.stats.dropped++;
      this.#log.warn('connection refused: maxConnections reached', {
        remote: data?.remoteAddress, remotePort: data?.remotePort, maxConnections: limits.maxConnections,
      });
    });
    this.#server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      this.stats.handshakeFailures++;
      this.#log.info('TLS handshake failed', { remote: socket.remoteAddress, ...describeError(err) });
      // With a 'tlsClientError' listener Node leaves the socket open: closing it is ours to do
      // (otherwise a handshake timeout would not free the connection slot at all).
      socket.destroy();
    });
    this.#server.on('secureConnection', (socket: tls.TLSSocket) => { this.#onSecure(socket); });
    this.#server.on('error', (err: Error) => {
      this.#log.error('listener error', describeError(err));
    });
  }

  /**
   * Swaps the server certificate and key (issue 18 item 5, src/server/tls-reload.ts): new handshakes use them,
   * established connections are untouched. Throws when the TLS stack refuses the pair (the old one stays).
   */
  reloadTls(cert: string, key: string): void {
    const t = this.#config.tls;
    this.#server.setSecureContext({ cert, key, ca: t.ca, minVersion: t.minVersion, maxVersion: 'TLSv1.3', ciphers: t.ciphers, honorCipherOrder: true });
  }

  /** Bind and start accepting. Resolves with the bound address (port 0 → the chosen port). */
  async listen(): Promise<ListenAddress> {
    const { host, port } = this.#config.listen;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => { reject(err); };
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    const a = this.#server.address() as AddressInfo;
    this.#address = { host: a.address, port: a.port };
    this.#log.info('KMIP listener started', { address: formatListen(this.#address) });
    return this.#address;
  }

  /** The bound address once listening. */
  get address(): ListenAddress | undefined {
    return this.#address;
  }

  /** Connections now in the TLS handshake. */
  get handshakingCount(): number {
    return this.#handshaking.pending;
  }

  /** Established connections now open. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Holds (true) or releases (false) every connection of `tenant`, open now or opened while held
   * (ServerConnection.hold): the governance plane's back-pressure while the tenant's audit queue is half full.
   */
  holdTenant(tenant: string, on: boolean): void {
    if (on) this.#heldTenants.add(tenant);
    else if (!this.#heldTenants.delete(tenant)) return;
    for (const c of this.#connections) if (c.principal.tenant === tenant) c.hold(on);
  }

  /** Requests read but not yet answered, over all connections. */
  get inFlight(): number {
    let n = 0;
    for (const c of this.#connections) n += c.inFlight;
    return n;
  }

  /**
   * Graceful shutdown: stop accepting, abort pending handshakes, let every connection answer
   * the requests it has read, then close it; after limits.drainTimeoutMs the remaining
   * connections are destroyed. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const listenerClosed = new Promise<void>((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => { resolve(); });
    });
    this.#handshaking.closeAll();
    const conns = [...this.#connections];
    for (const c of conns) c.beginClose();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.#config.limits.drainTimeoutMs); });
    await Promise.race([Promise.all(conns.map((c) => c.closed)), deadline]);
    clearTimeout(timer);
    for (const c of this.#connections) {
      this.#log.warn('drain deadline reached; destroying connection', { conn: c.id, unanswered: c.inFlight });
      c.destroy();
    }
    await listenerClosed;
    this.#log.info('KMIP listener stopped');
  }

  /**
   * The trust changed (a revocation, a mapping, a CRL): every open connection whose certificate it now refuses, or
   * maps to another tenant, is closed at once (issue 18 "its open connections are closed"); the rest are untouched.
   */
  #recheck(): void {
    const trust = this.#trust;
    if (trust === undefined) return;
    for (const [conn, peer] of this.#peers) {
      let reason: string | undefined;
      try {
        if (trust.principalOf(peer).tenant !== conn.principal.tenant) reason = 'identity now maps to another tenant';
      } catch (e) {
        reason = e instanceof Error ? e.message : String(e);
      }
      if (reason === undefined) continue;
      this.#peers.delete(conn);
      this.stats.identityRejected++;
      this.#log.warn('open connection closed: client no longer trusted', { conn: conn.id, identity: conn.principal.identity, tenant: conn.principal.tenant, reason });
      conn.destroy();
    }
  }

  #onTcp(raw: Socket): void {
    this.stats.accepted++;
    if (this.#closing !== undefined) raw.destroy();
  }

  #onSecure(socket: tls.TLSSocket): void {
    if (this.#closing !== undefined || !socket.authorized) {
      socket.destroy();
      return;
    }
    const peer = socket.getPeerCertificate(true);
    // An enterprise anchor's certificate may need its OCSP status first (src/server/trust.ts checkStatus).
    const pending = this.#trust?.checkStatus(peer);
    if (pending !== undefined) {
      void pending.then(() => { if (!socket.destroyed) this.#establish(socket, peer); });
      return;
    }
    this.#establish(socket, peer);
  }

  #establish(socket: tls.TLSSocket, peer: tls.DetailedPeerCertificate): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    let principal;
    try {
      principal = this.#trust === undefined ? principalOf(peer, this.#config.identity) : this.#trust.principalOf(peer);
    } catch (e) {
      if (!(e instanceof IdentityError)) throw e;
      this.stats.identityRejected++;
      this.#log.warn('client identity refused', { remote: socket.remoteAddress, reason: e.message });
      socket.destroy();
      return;
    }
    this.stats.established++;
    // The handshake is done: from here a half-close is a client's "no more requests" (see the constructor).
    // 'secureConnection' is emitted synchronously from the handshake-done callback, before any later EOF of this
    // socket is read, and Node reads allowHalfOpen when the EOF arrives.
    socket.allowHalfOpen = true;
    const conn = new ServerConnection<S>(socket, {
      id: this.#nextId++,
      principal,
      limits: this.#config.limits,
      ttlv: this.#config.ttlv,
      deps: this.#deps,
      logger: this.#log,
      responseBudget: this.#responseBudget,
    });
    this.#connections.add(conn);
    if (this.#heldTenants.has(principal.tenant)) conn.hold(true);
    if (this.#trust !== undefined) this.#peers.set(conn, peer);
    void conn.closed.then(() => {
      this.#connections.delete(conn);
      this.#peers.delete(conn);
    });
    this.#log.info('connection established', {
      conn: conn.id, identity: principal.identity, tenant: principal.tenant,
      tls: socket.getProtocol() ?? undefined, cipher: socket.getCipher().name, remote: socket.remoteAddress,
    });
  }
}
