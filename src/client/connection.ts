/**
 * One mutually authenticated TLS connection to a KMIP server, carrying whole TTLV messages.
 *
 * KMIP 1.4 §12.1 / KMIP 2.1 §12.1 ("KMIP over TLS"): a request message is written to the
 * stream and the server answers each request message with exactly one response message, in
 * the order the requests arrived. So requests can be pipelined — written without waiting for
 * earlier answers — and each arriving response belongs to the OLDEST unanswered request. The
 * waiters are therefore a FIFO queue; there is no correlation id at the message level.
 *
 * Consequence: if one response is lost (timeout) the stream is out of sync and every later
 * response would be handed to the wrong waiter. A request timeout therefore closes the whole
 * connection and fails every pending request — the only safe reaction.
 *
 * This module knows bytes and framing only; src/client/client.ts builds and parses messages.
 */
import tls from 'node:tls';
import { isIP } from 'node:net';
import { TtlvFramer } from '@openkcm/ttlv';
import { DEFAULT_TTLV_LIMITS } from '@openkcm/ttlv';
import { KmipClientError } from './errors.js';

export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  /** Trusted CA certificate(s) for the server certificate. Without it Node's default roots are used. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate (PEM). KMIP servers authenticate clients by certificate (KMIP 1.4 §12.1). */
  readonly cert?: string | Buffer;
  /** Client private key (PEM). */
  readonly key?: string | Buffer;
  /** Name checked against the server certificate and sent as SNI; defaults to `host` unless `host` is an IP. */
  readonly servername?: string;
  /** TLS floor. Default TLS 1.2: KMIP 1.2+ profiles mandate TLS 1.2 (KMIP Profiles 1.4 §3.1.3). */
  readonly minTlsVersion?: TlsMinVersion;
  readonly timeouts?: {
    /** TCP connect plus TLS handshake, ms. Default 10 000. */
    readonly connect?: number;
    /** From write until the response is complete, ms. Default 30 000. 0 disables. */
    readonly request?: number;
  };
  /**
   * Largest response accepted, in bytes. The framer rejects a larger header before buffering
   * the body, so a hostile or broken server cannot make the client allocate without bound.
   * Also the largest request we will send. Default: the codec default (1 MiB,
   * packages/ttlv/src/limits.ts); raise it for bulk Encrypt/Decrypt.
   */
  readonly maxMessageBytes?: number;
  /**
   * Most requests in flight at once. Each pending request holds a promise, a timer and its
   * place in the FIFO; the cap stops a runaway caller from growing them without bound while
   * the server is slow. Default 4096.
   */
  readonly maxPendingRequests?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_CLIENT_MAX_MESSAGE_BYTES = DEFAULT_TTLV_LIMITS.maxMessageBytes;
export const DEFAULT_MAX_PENDING_REQUESTS = 4096;

interface Waiter {
  resolve: (frame: Buffer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

function positiveInt(name: string, value: number, allowZero = false): number {
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new KmipClientError('INVALID_ARGUMENT', `${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(value)}`);
  }
  return value;
}

export class KmipConnection {
  readonly #socket: tls.TLSSocket;
  readonly #framer: TtlvFramer;
  readonly #requestTimeoutMs: number;
  readonly #maxMessageBytes: number;
  readonly #maxPending: number;
  /** FIFO of requests awaiting their response (KMIP answers in order on one connection). */
  readonly #waiters: Waiter[] = [];
  #closedError: KmipClientError | undefined;
  readonly #closed: Promise<void>;

  private constructor(socket: tls.TLSSocket, framer: TtlvFramer, requestTimeoutMs: number, maxMessageBytes: number, maxPending: number) {
    this.#socket = socket;
    this.#framer = framer;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.#maxMessageBytes = maxMessageBytes;
    this.#maxPending = maxPending;
    this.#closed = new Promise((resolve) => socket.once('close', () => { resolve(); }));
    socket.on('data', (chunk: Buffer) => { this.#onData(chunk); });
    socket.on('error', (err: Error) => {
      this.#fail(new KmipClientError('CONNECTION_CLOSED', `connection error: ${err.message}`, { cause: err }));
    });
    socket.on('close', () => {
      this.#fail(new KmipClientError('CONNECTION_CLOSED', 'connection closed by peer'));
    });
  }

  /** Open the TCP connection and complete the TLS handshake (client certificate included). */
  static async connect(opts: ConnectionOptions): Promise<KmipConnection> {
    const connectTimeout = positiveInt('timeouts.connect', opts.timeouts?.connect ?? DEFAULT_CONNECT_TIMEOUT_MS);
    const requestTimeout = positiveInt('timeouts.request', opts.timeouts?.request ?? DEFAULT_REQUEST_TIMEOUT_MS, true);
    const maxMessageBytes = positiveInt('maxMessageBytes', opts.maxMessageBytes ?? DEFAULT_CLIENT_MAX_MESSAGE_BYTES);
    const maxPending = positiveInt('maxPendingRequests', opts.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS);
    positiveInt('port', opts.port);
    const servername = opts.servername ?? (isIP(opts.host) === 0 ? opts.host : undefined);
    const tlsOpts: tls.ConnectionOptions = {
      host: opts.host,
      port: opts.port,
      minVersion: opts.minTlsVersion ?? 'TLSv1.2',
      // Never skip verification: a KMIP client that talks to an unverified server hands it keys.
      rejectUnauthorized: true,
    };
    if (opts.ca !== undefined) tlsOpts.ca = typeof opts.ca === 'string' || Buffer.isBuffer(opts.ca) ? opts.ca : [...opts.ca];
    if (opts.cert !== undefined) tlsOpts.cert = opts.cert;
    if (opts.key !== undefined) tlsOpts.key = opts.key;
    if (servername !== undefined) tlsOpts.servername = servername;
    else {
      // Connecting by IP: verify the IP SAN of the server certificate (RFC 6125 §6.2.1 for IPs).
      tlsOpts.checkServerIdentity = (_name, cert) => tls.checkServerIdentity(opts.host, cert);
    }

    return await new Promise<KmipConnection>((resolve, reject) => {
      const socket = tls.connect(tlsOpts);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new KmipClientError('CONNECT_TIMEOUT', `TLS connection to ${opts.host}:${opts.port} not established within ${connectTimeout} ms`));
      }, connectTimeout);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new KmipClientError('CONNECT_FAILED', `cannot connect to ${opts.host}:${opts.port}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        // KMIP messages are small and latency-bound: do not let Nagle hold back a request.
        socket.setNoDelay(true);
        const framer = new TtlvFramer({ maxMessageBytes });
        resolve(new KmipConnection(socket, framer, requestTimeout, maxMessageBytes, maxPending));
      });
    });
  }

  /** Requests written but not yet answered. */
  get pending(): number {
    return this.#waiters.length;
  }

  /** True once the connection can no longer carry requests. */
  get isClosed(): boolean {
    return this.#closedError !== undefined;
  }

  /** The TLS protocol negotiated, e.g. 'TLSv1.3'. */
  get tlsProtocol(): string | null {
    return this.#socket.getProtocol();
  }

  /**
   * Write one encoded request message and resolve with the next response frame in order.
   * The frame is the raw TTLV bytes of one whole response message.
   */
  request(message: Uint8Array, timeoutMs: number = this.#requestTimeoutMs): Promise<Buffer> {
    if (this.#closedError !== undefined) {
      return Promise.reject(new KmipClientError('CONNECTION_CLOSED', 'connection is closed', { cause: this.#closedError }));
    }
    if (message.byteLength > this.#maxMessageBytes) {
      return Promise.reject(new KmipClientError('REQUEST_TOO_LARGE', `request of ${message.byteLength} bytes exceeds maxMessageBytes ${this.#maxMessageBytes}`));
    }
    if (this.#waiters.length >= this.#maxPending) {
      return Promise.reject(new KmipClientError('TOO_MANY_PENDING', `${this.#waiters.length} requests already in flight (maxPendingRequests ${this.#maxPending})`));
    }
    return new Promise<Buffer>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (timeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          // Fail this request first so the caller sees REQUEST_TIMEOUT, then close: the
          // response, if it ever comes, would be read as the answer to the next request.
          this.#removeWaiter(waiter);
          reject(new KmipClientError('REQUEST_TIMEOUT', `no response within ${timeoutMs} ms; connection closed because the response stream is out of sync`));
          this.destroy(new KmipClientError('CONNECTION_CLOSED', `connection closed after a request timed out (${timeoutMs} ms)`));
        }, timeoutMs);
      }
      this.#waiters.push(waiter);
      this.#socket.write(message);
    });
  }

  /**
   * Close gracefully: wait for in-flight requests to settle, then end the TLS session.
   * New requests are refused immediately.
   */
  async close(): Promise<void> {
    if (this.#closedError === undefined) {
      const inFlight = this.#waiters.map((w) => new Promise<void>((r) => {
        const { resolve, reject } = w;
        w.resolve = (f) => { resolve(f); r(); };
        w.reject = (e) => { reject(e); r(); };
      }));
      this.#closedError = new KmipClientError('CONNECTION_CLOSED', 'connection closed by client');
      await Promise.all(inFlight);
      this.#socket.end();
    }
    await this.#closed;
  }

  /** Close immediately, failing every pending request with `reason` (default CONNECTION_CLOSED). */
  destroy(reason?: KmipClientError): void {
    this.#fail(reason ?? new KmipClientError('CONNECTION_CLOSED', 'connection destroyed by client'));
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.#framer.push(chunk);
    } catch (err) {
      this.destroy(new KmipClientError('PROTOCOL_ERROR', `invalid response framing: ${(err as Error).message}`, { cause: err }));
      return;
    }
    for (const frame of frames) {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) {
        // A response nobody asked for: the peer is confused or hostile; the stream cannot be trusted.
        this.destroy(new KmipClientError('PROTOCOL_ERROR', 'unsolicited response message (no request pending)'));
        return;
      }
      clearTimeout(waiter.timer);
      waiter.resolve(frame);
    }
  }

  #removeWaiter(w: Waiter): void {
    const i = this.#waiters.indexOf(w);
    if (i >= 0) this.#waiters.splice(i, 1);
  }

  /** Fail everything still pending. Idempotent; the first reason wins for later requests. */
  #fail(reason: KmipClientError): void {
    this.#closedError ??= reason;
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(reason);
    }
  }
}
