/**
 * The replayer's own wire: one mTLS connection, one request at a time, responses split out of
 * the byte stream by the TTLV framer (KMIP 1.4 Profiles §3.2: KMIP over TLS has no framing of
 * its own). Deliberately independent of src/client's typed layer, so the replayer sends the
 * test case's bytes exactly, including requests a typed client would refuse to build.
 */
import https from 'node:https';
import tls from 'node:tls';
import { isIP } from 'node:net';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { TtlvFramer } from '@openkcm/ttlv';
import { jsonStringToTtlv, ttlvToJsonString } from '../kmip/encodings/json.js';
import { ttlvToXmlString, xmlStringToTtlv } from '../kmip/encodings/xml.js';

/** Sends one encoded request and resolves with the one encoded response message. */
export interface MessageTransport {
  exchange(request: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  close(): void;
}

export interface TlsTarget {
  readonly host: string;
  readonly port: number;
  /** PEM trust anchors for the server certificate. */
  readonly ca?: string | Buffer;
  /** PEM client certificate and key (KMIP requires mutual TLS, KMIP 1.4 Profiles §3.1). */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Name checked against the server certificate; default `host` (IP hosts are checked as IPs). */
  readonly servername?: string;
}

export class TransportError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TransportError';
  }
}

class TlsMessageTransport implements MessageTransport {
  readonly #socket: tls.TLSSocket;
  readonly #framer = new TtlvFramer();
  readonly #ready: Buffer[] = [];
  #waiter: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  #failure: Error | undefined;

  constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const m of this.#framer.push(chunk)) this.#ready.push(m);
      } catch (e) {
        this.#fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      this.#deliver();
    });
    socket.on('error', (e: Error) => { this.#fail(e); });
    socket.on('close', () => { this.#fail(new TransportError('connection closed by the server')); });
  }

  #deliver(): void {
    const w = this.#waiter;
    const m = this.#ready.shift();
    if (w === undefined || m === undefined) {
      if (m !== undefined) this.#ready.unshift(m);
      return;
    }
    this.#waiter = undefined;
    w.resolve(m);
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(this.#failure);
  }

  exchange(request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.#waiter !== undefined) return Promise.reject(new TransportError('one request at a time'));
    const early = this.#ready.shift();
    if (early !== undefined) return Promise.reject(new TransportError(`unsolicited message of ${early.length} bytes before the request`));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new TransportError(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = {
        resolve: (b) => { clearTimeout(timer); resolve(b); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      this.#socket.write(request);
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Open one mTLS connection (TLS 1.2+, as KMIP 1.4 Profiles §3.1.1 asks). */
export function connectTls(target: TlsTarget, timeoutMs: number): Promise<MessageTransport> {
  return new Promise((resolve, reject) => {
    const servername = target.servername ?? (isIP(target.host) === 0 ? target.host : undefined);
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      minVersion: 'TLSv1.2',
      ...(target.ca !== undefined ? { ca: target.ca } : {}),
      ...(target.cert !== undefined ? { cert: target.cert } : {}),
      ...(target.key !== undefined ? { key: target.key } : {}),
      ...(servername !== undefined ? { servername } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TransportError(`TLS connection to ${target.host}:${target.port} not established within ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (e: Error): void => {
      clearTimeout(timer);
      reject(new TransportError(`cannot connect to ${target.host}:${target.port}: ${e.message}`, { cause: e }));
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      // One small request, then wait: without TCP_NODELAY, Nagle + delayed ACK can add ~40 ms per exchange.
      socket.setNoDelay(true);
      resolve(new TlsMessageTransport(socket));
    });
  });
}

// ---- KMIP over HTTPS (issue 20; KMIP Additional Message Encodings 1.0 §2, §4, §6) ------------------------------

/** The body encoding of a KMIP-over-HTTPS exchange. */
export type HttpsEncoding = 'ttlv' | 'json' | 'xml';

const HTTPS_CONTENT_TYPE: Readonly<Record<HttpsEncoding, string>> = { ttlv: 'application/octet-stream', json: 'application/json', xml: 'text/xml' };

/**
 * The encoding a test case is written for: the MSGENC-JSON and MSGENC-XML profiles send KMIP JSON and KMIP XML,
 * everything else (MSGENC-HTTPS included) binary TTLV.
 */
export function encodingForVector(relPath: string): HttpsEncoding {
  if (/MSGENC-JSON-/i.test(relPath)) return 'json';
  if (/MSGENC-XML-/i.test(relPath)) return 'xml';
  return 'ttlv';
}

/**
 * One `POST /kmip` per request over a keep-alive mTLS connection. The replayer's TTLV bytes are sent as they are,
 * or turned into KMIP JSON / XML and the answer turned back, so the comparison is the same for every encoding. Any
 * HTTP status is accepted as long as the body is a KMIP message: the profile's error answers carry one.
 */
class HttpsMessageTransport implements MessageTransport {
  readonly #target: TlsTarget;
  readonly #encoding: HttpsEncoding;
  readonly #agent: https.Agent;

  constructor(target: TlsTarget, encoding: HttpsEncoding) {
    this.#target = target;
    this.#encoding = encoding;
    const servername = target.servername ?? (isIP(target.host) === 0 ? target.host : undefined);
    this.#agent = new https.Agent({
      keepAlive: true, maxSockets: 1, minVersion: 'TLSv1.2',
      ...(target.ca !== undefined ? { ca: target.ca } : {}),
      ...(target.cert !== undefined ? { cert: target.cert } : {}),
      ...(target.key !== undefined ? { key: target.key } : {}),
      ...(servername !== undefined ? { servername } : {}),
    });
  }

  exchange(request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const enc = this.#encoding;
    let body: Buffer;
    try {
      const tree = decodeTtlv(request);
      body = enc === 'ttlv' ? Buffer.from(request) : Buffer.from(enc === 'json' ? ttlvToJsonString(tree) : ttlvToXmlString(tree), 'utf8');
    } catch (e) {
      return Promise.reject(new TransportError(`the request cannot be sent as ${enc}: ${e instanceof Error ? e.message : String(e)}`));
    }
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: this.#target.host, port: this.#target.port, method: 'POST', path: '/kmip', agent: this.#agent,
        headers: { 'content-type': HTTPS_CONTENT_TYPE[enc], 'content-length': String(body.length) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => { chunks.push(c); });
        res.on('error', (e) => { reject(new TransportError(`HTTPS response failed: ${e.message}`, { cause: e })); });
        res.on('end', () => {
          const got = Buffer.concat(chunks);
          try {
            resolve(enc === 'ttlv' ? got : encodeTtlv(enc === 'json' ? jsonStringToTtlv(got.toString('utf8')) : xmlStringToTtlv(got.toString('utf8'))));
          } catch (e) {
            reject(new TransportError(`HTTP ${String(res.statusCode)}: the body is not KMIP ${enc}: ${e instanceof Error ? e.message : String(e)}`));
          }
        });
      });
      req.setTimeout(timeoutMs, () => { req.destroy(new TransportError(`no response within ${timeoutMs} ms`)); });
      req.on('error', (e) => { reject(e instanceof TransportError ? e : new TransportError(`cannot reach ${this.#target.host}:${this.#target.port}: ${e.message}`, { cause: e })); });
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** A KMIP-over-HTTPS transport (connections are opened on the first exchange and kept alive). */
export function connectHttps(target: TlsTarget, encoding: HttpsEncoding): Promise<MessageTransport> {
  return Promise.resolve(new HttpsMessageTransport(target, encoding));
}
