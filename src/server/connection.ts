/**
 * One established, mutually authenticated KMIP connection on the server side: bytes in →
 * framer → TTLV decode → processor → TTLV encode → bytes out.
 *
 * KMIP over TLS (KMIP 1.4 §12.1 / Profiles §3.2) has no framing or correlation of its own:
 * each request message gets exactly one response message, in request order. So a client may
 * pipeline requests, and the server must answer them in the order they arrived even when it
 * processes several at once (up to `maxConcurrentPerConnection`). Responses wait in an
 * ordered queue of slots; the head is written as soon as it is ready.
 *
 * Flow control (as undici/pg separate parsing from the socket): reading pauses while
 * - the socket's write buffer is full (socket.write returned false) until 'drain', or
 * - `maxInFlightPerConnection` requests are read but not yet answered,
 * so a client that pipelines without reading its responses cannot grow server memory.
 *
 * Bad bytes: a TtlvError from the framer or the decoder means the byte stream cannot be
 * trusted any more. The connection answers it (after every earlier request, in order) with
 * Result Reason Codec Error (Invalid Message in 1.x; KMIP 2.1 §11.46, 1.4 §11.1 "Message
 * cannot be parsed"), then closes. A message that decodes as TTLV but is not a valid Request
 * Message keeps the stream in sync, so it is answered and the connection stays open.
 */
import type { TLSSocket } from 'node:tls';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { TtlvError } from '@openkcm/ttlv';
import { TtlvFramer } from '@openkcm/ttlv';
import type { TtlvLimits } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { fromTtlvError, KMIP_ERROR_CATALOG } from '../kmip/errors.js';
import type { ProtocolVersion } from '../kmip/message.js';
import type { Principal, SessionState } from '../operations/types.js';
import type { ServerLimits } from '../config/index.js';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { FALLBACK_PROTOCOL_VERSION, messageErrorResponse, newSession, processMessageBytes, sniffProtocolVersion } from './processor.js';
import type { ProcessorDeps } from './processor.js';

export interface ServerConnectionOptions<S> {
  readonly id: number;
  readonly principal: Principal;
  readonly limits: ServerLimits;
  /** Decoder limits; maxMessageBytes is the framer's cap. */
  readonly ttlv: TtlvLimits;
  readonly deps: ProcessorDeps<S>;
  readonly logger: Logger;
  /** The server-wide budget of unread response bytes (limits.maxResponseBytesBuffered); one per listener. */
  readonly responseBudget?: ResponseBudget;
}

/**
 * Unread response bytes of all connections of one listener together (limits.maxResponseBytesBuffered, issue 15
 * Deliver 3). A connection reports how many bytes wait in its socket's write buffer when a write fills it past the
 * stream's high-water mark, and 0 when it drains (or closes); below the high-water mark a connection's few KiB are
 * not worth counting. While the total is at the cap no connection that is itself behind starts a new request;
 * draining wakes them.
 */
export class ResponseBudget {
  readonly max: number;
  #used = 0;
  readonly #byConnection = new Map<object, number>();
  readonly #waiting = new Set<() => void>();

  constructor(max: number) {
    this.max = max;
  }

  get used(): number {
    return this.#used;
  }

  admits(): boolean {
    return this.#used < this.max;
  }

  /** `conn` now has `bytes` unread in its write buffer. */
  report(conn: object, bytes: number): void {
    const before = this.#byConnection.get(conn) ?? 0;
    if (bytes === before) return;
    if (bytes === 0) this.#byConnection.delete(conn);
    else this.#byConnection.set(conn, bytes);
    this.#used += bytes - before;
    if (bytes < before && this.#waiting.size > 0 && this.admits()) {
      const wake = [...this.#waiting];
      this.#waiting.clear();
      for (const w of wake) w();
    }
  }

  /** Calls `resume` once the budget admits again (each connection registers one callback). */
  whenAdmits(resume: () => void): void {
    this.#waiting.add(resume);
  }

  forget(resume: () => void): void {
    this.#waiting.delete(resume);
  }
}

/** One response position in request order. */
interface Slot {
  bytes: Buffer | undefined;
  /** Close the connection once this response is written (a TTLV error preceded it). */
  closeAfter: boolean;
}

export class ServerConnection<S = unknown> {
  readonly id: number;
  readonly principal: Principal;
  readonly session: SessionState = newSession();
  readonly #socket: TLSSocket;
  readonly #framer: TtlvFramer;
  readonly #opts: ServerConnectionOptions<S>;
  readonly #log: Logger;
  /** Responses in request order, ready (bytes set) or pending. */
  readonly #queue: Slot[] = [];
  /**
   * Whole frames read but not yet admitted because the in-flight cap was reached. One socket
   * chunk can complete many small frames at once; holding them here (undecoded) keeps the cap
   * exact, and reading is paused while any wait, so this holds at most one chunk's worth.
   */
  readonly #backlog: Buffer[] = [];
  /** Requests being processed now. */
  #running = 0;
  /** Requests read and waiting for a processing slot (maxConcurrentPerConnection) or for the write side to drain. */
  readonly #waiting: (() => void)[] = [];
  #writeBlocked = false;
  /** Registered with the response budget while waiting for it (see #startWaiting). */
  readonly #resume = (): void => { this.#startWaiting(); this.#flush(); };
  #paused = false;
  /** Held by the server (see {@link hold}): nothing more is read or started until released. */
  #held = false;
  /** No more requests are read (TTLV error, peer finished, or server closing). */
  #stopReading = false;
  /** End the connection once every queued response is written. */
  #endWhenDrained = false;
  /** The client half-closed: once its backlog is admitted and answered, end. */
  #peerEnded = false;
  #ended = false;
  /** Writes are corked until the current burst of work settles (see #write). */
  #corked = false;
  readonly #closed: Promise<void>;
  #requests = 0;

  constructor(socket: TLSSocket, opts: ServerConnectionOptions<S>) {
    this.#socket = socket;
    this.#opts = opts;
    this.id = opts.id;
    this.principal = opts.principal;
    this.#log = opts.logger;
    this.#framer = new TtlvFramer({ maxMessageBytes: opts.ttlv.maxMessageBytes });
    this.#closed = new Promise((resolve) => { socket.once('close', () => { resolve(); }); });
    // KMIP messages are small and latency-bound: never let Nagle hold back a response.
    socket.setNoDelay(true);
    socket.setTimeout(opts.limits.idleTimeoutMs);
    socket.on('timeout', () => { this.#onIdle(); });
    socket.on('data', (chunk: Buffer) => { this.#onData(chunk); });
    socket.on('drain', () => {
      this.#writeBlocked = false;
      this.#opts.responseBudget?.report(this, 0);
      this.#startWaiting();
      this.#flush();
    });
    socket.on('end', () => {
      // The client finished sending (half-close): answer what it sent, then close.
      this.#peerEnded = true;
      this.#flush();
    });
    socket.on('error', (err: Error) => {
      this.#log.debug('connection error', { conn: this.id, ...describeError(err) });
    });
    socket.once('close', () => {
      this.#opts.responseBudget?.report(this, 0);
      this.#opts.responseBudget?.forget(this.#resume);
      this.#log.info('connection closed', { conn: this.id, tenant: this.principal.tenant, requests: this.#requests });
    });
  }

  /** Requests read but not yet answered. */
  get inFlight(): number {
    return this.#queue.length;
  }

  /** Resolves when the socket has closed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Graceful close: read nothing more, answer every request already admitted, then end. */
  beginClose(): void {
    this.#stopReading = true;
    this.#backlog.length = 0;
    this.#endWhenDrained = true;
    // A held connection would never drain: what it has admitted is answered now.
    this.#held = false;
    this.#startWaiting();
    this.#flush();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /**
   * Holds (true) or releases (false) this connection: while held it reads nothing more and starts none of the
   * requests it has read; those already running finish and are answered. Back-pressure instead of an error: the
   * governance plane holds a tenant's connections while its audit queue is half full (src/appliance/governance/
   * audit-backpressure.ts), so the client waits a few milliseconds rather than being refused at the quota.
   */
  hold(on: boolean): void {
    if (on === this.#held) return;
    this.#held = on;
    if (!on) {
      this.#admit();
      this.#startWaiting();
      this.#flush();
    }
    this.#updateFlow();
  }

  #onData(chunk: Buffer): void {
    if (this.#stopReading) return;
    let frames: Buffer[];
    try {
      frames = this.#framer.push(chunk);
    } catch (e) {
      if (!(e instanceof TtlvError)) throw e;
      // The header itself was bad (length over the cap, not a structure, ...): no version to read.
      this.#failStream(e, undefined);
      return;
    }
    for (const frame of frames) this.#backlog.push(frame);
    this.#admit();
    this.#updateFlow();
  }

  /**
   * Admits backlog frames while the in-flight cap allows and the write side is not full: a
   * response written into a full socket buffer would only grow server memory.
   */
  #admit(): void {
    while (this.#backlog.length > 0 && !this.#stopReading && !this.#writeBlocked
      && this.#queue.length < this.#opts.limits.maxInFlightPerConnection) {
      const frame = this.#backlog.shift();
      // #accept stops reading after an undecodable frame: later frames are not answered.
      if (frame !== undefined && !this.#accept(frame)) this.#backlog.length = 0;
    }
  }

  /** Queues one frame for processing; false when it could not be decoded (the stream is failed). */
  #accept(frame: Buffer): boolean {
    let item: TtlvItem;
    try {
      item = decodeTtlv(frame, this.#opts.ttlv);
    } catch (e) {
      if (!(e instanceof TtlvError)) throw e;
      this.#failStream(e, sniffProtocolVersion(frame));
      return false;
    }
    this.#requests++;
    const slot: Slot = { bytes: undefined, closeAfter: false };
    this.#queue.push(slot);
    const done = (): void => {
      this.#running--;
      this.#startWaiting();
      this.#flush();
    };
    const failed = (err: unknown): void => {
      // processMessageBytes never rejects by contract; keep the connection coherent if it does.
      this.#log.error('request processing failed', { conn: this.id, ...describeError(err) });
      slot.bytes = encodeTtlv(messageErrorResponse('GENERAL_FAILURE', KMIP_ERROR_CATALOG.GENERAL_FAILURE.description));
    };
    const run = (): void => {
      this.#running++;
      let out: Buffer | Promise<Buffer>;
      try {
        out = processMessageBytes(item, this.principal, this.session, this.#opts.deps);
      } catch (err) {
        failed(err);
        done();
        return;
      }
      // A request answered synchronously (a Get of a cached record) is written in this turn, with no promise.
      if (!(out instanceof Promise)) {
        slot.bytes = out;
        done();
        return;
      }
      out.then((bytes) => { slot.bytes = bytes; }, failed).finally(done);
    };
    this.#waiting.push(run);
    this.#startWaiting();
    return true;
  }

  /**
   * Whether this connection may start producing another response now: a free processing slot, and its unread
   * responses (the socket's write buffer) below limits.maxResponseBytesPerConnection and the server-wide budget not
   * exhausted. Otherwise the request waits, already read, until the client reads ('drain') or others drain.
   */
  #mayProduce(): boolean {
    if (this.#held) return false;
    if (this.#running >= this.#opts.limits.maxConcurrentPerConnection) return false;
    if (this.#socket.writableLength >= this.#opts.limits.maxResponseBytesPerConnection) return false;
    const budget = this.#opts.responseBudget;
    // Only a connection whose own client is behind (its write buffer past the high-water mark, so counted in the
    // budget) waits for the server-wide budget. A client that reads its responses must not be stalled by others
    // that do not: with the budget full of never-read responses, every other tenant's requests used to wait for the
    // non-readers' idle timeout (issue 15: no client can deny service to other tenants).
    if (budget !== undefined && this.#writeBlocked && !budget.admits()) {
      budget.whenAdmits(this.#resume);
      return false;
    }
    return true;
  }

  /** Starts queued requests while {@link #mayProduce} allows. */
  #startWaiting(): void {
    while (this.#waiting.length > 0 && this.#mayProduce()) {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
    }
  }

  /** Answer a TTLV error after every earlier response, then close (see the file comment). */
  #failStream(e: TtlvError, pv: ProtocolVersion | undefined): void {
    this.#log.warn('undecodable message; closing the connection after the error response', {
      conn: this.id, tenant: this.principal.tenant, ttlvCode: e.code, offset: e.offset,
    });
    const k = fromTtlvError(e);
    const slot: Slot = {
      bytes: encodeTtlv(messageErrorResponse('CODEC_ERROR', k.message, pv ?? FALLBACK_PROTOCOL_VERSION)),
      closeAfter: true,
    };
    this.#queue.push(slot);
    this.#stopReading = true;
    this.#flush();
  }

  /** Write every ready response at the head of the queue, in order. */
  #flush(): void {
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      if (head?.bytes === undefined) break;
      this.#queue.shift();
      if (!this.#ended && !this.#socket.destroyed && this.#socket.writable) this.#write(head.bytes);
      if (head.closeAfter) {
        this.#queue.length = 0;
        this.#end();
        return;
      }
    }
    this.#admit();
    if (this.#peerEnded && this.#backlog.length === 0) this.#endWhenDrained = true;
    if (this.#endWhenDrained && this.#queue.length === 0) this.#end();
    this.#updateFlow();
  }

  /**
   * Responses that become ready in the same burst — pipelined requests answered one after the
   * other within one turn of the event loop — leave in one socket write, so one TLS record and
   * one send() instead of one each (the socket write was 28% of a Get's CPU, issue 7 profile).
   * process.nextTick runs after the promise jobs of the burst have settled, so a lone response
   * is not delayed past the current turn. socket.end() uncorks by itself.
   */
  #write(bytes: Buffer): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    if (!this.#socket.write(bytes)) {
      this.#writeBlocked = true;
      this.#opts.responseBudget?.report(this, this.#socket.writableLength);
    }
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopReading = true;
    // end() flushes what is buffered, sends close_notify and FIN; the idle timeout still
    // applies if the peer never closes its side.
    this.#socket.end();
    this.#updateFlow();
  }

  #updateFlow(): void {
    // Once ended, keep reading (and discarding, see #onData) so the peer's FIN arrives and the
    // socket can close; a paused socket would sit half-closed until the idle timeout.
    const pause = !this.#ended
      && (this.#held || this.#writeBlocked || this.#stopReading || this.#backlog.length > 0
        || this.#queue.length >= this.#opts.limits.maxInFlightPerConnection);
    if (pause && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    } else if (!pause && this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  #onIdle(): void {
    // Work in progress, or requests held back by the server, is the server being slow, not the client being idle.
    if (this.#running > 0 || (this.#held && this.#queue.length > 0)) return;
    this.#log.info('idle timeout; closing the connection', {
      conn: this.id, tenant: this.principal.tenant, idleTimeoutMs: this.#opts.limits.idleTimeoutMs, unanswered: this.#queue.length,
    });
    this.#socket.destroy();
  }
}
