/**
 * KMIP over HTTPS (issue 20; KMIP Additional Message Encodings 1.0 §2 "HTTPS Profile", §4 "JSON Profile", §6 "XML
 * Profile", carried into KMIP Profiles 2.1 §5 as MSGENC-HTTPS/-JSON/-XML): one request message per `POST /kmip`, the
 * response message in the body of the answer, in the request's encoding:
 *
 * | Content-Type               | body                                   |
 * |----------------------------|----------------------------------------|
 * | application/octet-stream   | binary TTLV (what VAST Data sends)     |
 * | application/json           | KMIP JSON (src/kmip/encodings/json.ts)           |
 * | text/xml, application/xml  | KMIP XML (src/kmip/encodings/xml.ts)             |
 *
 * It is a second transport over the ONE core entry point (src/server/processor.ts): the same processor, gates
 * (sealed, kill-switch, Cedar, audit admission), audit hook, operation registry and limits as port 5696, and the same
 * mutual TLS (client certificate required and verified against kmip.tls.clientCa in the handshake) and
 * identity → tenant mapping (src/server/identity.ts). Off unless `kmip.https.listen` (or `serve --kmip-https-listen`)
 * names an address.
 *
 * Bad input gets an HTTP status and a KMIP error body (a Response Message with one failed batch item, Result Reason
 * Invalid Message / Codec Error), never a crash and never fastify's own JSON error shape:
 * - 415 a Content-Type other than the three above;
 * - 413 a body over kmip.limits.maxMessageBytes (TTLV) or kmip.https.maxTextBodyBytes (JSON, XML), announced or
 *   streamed (chunked);
 * - 400 a body that is not a KMIP message (TTLV that does not decode, JSON/XML that does not convert, a root other
 *   than Request Message), and HTTP the parser refuses (bad chunk framing, Content-Length with Transfer-Encoding);
 * - 408 a request that takes longer than kmip.https.requestTimeoutMs (slow body);
 * - 431 a request line and headers over kmip.https.maxHeaderBytes;
 * - 403 a verified certificate whose identity the configuration refuses (identity.unmapped "reject");
 * - 404 another path, 405 another method.
 * A KMIP message that decodes is answered 200 whatever its Result Status: KMIP errors are KMIP's to report.
 */
import type { IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { fastify } from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { TtlvError } from '@openkcm/ttlv';
import { jsonStringToTtlv, ttlvToJsonString } from '../kmip/encodings/json.js';
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem, TtlvItem } from '@openkcm/ttlv';
import { KmipEncodingError, ttlvToXmlString, xmlStringToTtlv } from '../kmip/encodings/xml.js';
import { XmlSyntaxError } from '../kmip/encodings/xmldom.js';
import { fromTtlvError, KMIP_ERROR_CATALOG } from '../kmip/errors.js';
import type { KmipErrorCode } from '../kmip/errors.js';
import type { ProtocolVersion } from '../kmip/message.js';
import { Tag } from '../kmip/registry.generated.js';
import type { Principal, SessionState } from '../operations/types.js';
import type { HttpsSettings, ListenAddress, ServerConfig } from '../config/index.js';
import { kmipTlsOptions } from './listener.js';
import { formatListen } from '../config/listen.js';
import { IdentityError, principalOf } from './identity.js';
import { swapSecureContext } from './tls-reload.js';
import type { ClientTrust } from './trust.js';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';
import {
  FALLBACK_PROTOCOL_VERSION, kmipVersionOf, messageErrorResponse, newSession, processMessage, processMessageBytes, sniffProtocolVersion,
} from './processor.js';
import type { ProcessorDeps } from './processor.js';

/** The Request URI of the HTTPS profile (KMIP Additional Message Encodings 1.0 §2.3). */
export const KMIP_HTTP_PATH = '/kmip';

export const TTLV_CONTENT_TYPE = 'application/octet-stream';
export const JSON_CONTENT_TYPE = 'application/json';
export const XML_CONTENT_TYPE = 'text/xml';

type Encoding = 'ttlv' | 'json' | 'xml';

const CONTENT_TYPE_OF: Readonly<Record<Encoding, string>> = {
  ttlv: TTLV_CONTENT_TYPE,
  json: `${JSON_CONTENT_TYPE}; charset=utf-8`,
  xml: `${XML_CONTENT_TYPE}; charset=utf-8`,
};

/** The encoding a Content-Type header names (media type only, case-insensitive; parameters ignored). */
export function encodingOf(contentType: string | undefined): Encoding | undefined {
  const media = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (media === TTLV_CONTENT_TYPE) return 'ttlv';
  if (media === JSON_CONTENT_TYPE) return 'json';
  if (media === XML_CONTENT_TYPE || media === 'application/xml') return 'xml';
  return undefined;
}

export interface KmipHttpsServerOptions<S> {
  /** The KMIP server configuration; `config.https` must be set. */
  readonly config: ServerConfig;
  readonly deps: ProcessorDeps<S>;
  readonly logger?: Logger;
  /**
   * Run-time client trust (issue 18: revocations, the run-time identity map, enterprise anchors; src/server/trust.ts).
   * With it, every request re-resolves its principal, so a certificate revoked while a keep-alive connection is open
   * is refused from its next request on, as port 5696 closes such connections.
   */
  readonly trust?: ClientTrust;
}

export interface KmipHttpsServerStats {
  /** Requests answered with a KMIP response (HTTP 200). */
  answered: number;
  /** Requests refused with an HTTP error status (and a KMIP error body). */
  refused: number;
  /** Handshakes that failed (no or bad client certificate, protocol mismatch, timeout). */
  handshakeFailures: number;
  /** Verified certificates whose identity the configuration refused. */
  identityRejected: number;
}

/** A refusal: HTTP status, and the KMIP error its body carries. */
class HttpRefusal extends Error {
  constructor(readonly status: number, readonly code: KmipErrorCode, message: string, readonly pv: ProtocolVersion = FALLBACK_PROTOCOL_VERSION) {
    super(message);
    this.name = 'HttpRefusal';
  }
}

/** A Response Message carrying one failed batch item, in `encoding`. */
function errorBody(code: KmipErrorCode, message: string, pv: ProtocolVersion, encoding: Encoding): Buffer | string {
  return encodeAnswer(messageErrorResponse(code, message, pv), encoding);
}

function encodeAnswer(tree: StructureItem, encoding: Encoding): Buffer | string {
  if (encoding === 'ttlv') return encodeTtlv(tree);
  const version = kmipVersionOf(versionOfResponse(tree));
  const opts = version === undefined ? {} : { version };
  return encoding === 'json' ? ttlvToJsonString(tree, undefined, opts) : ttlvToXmlString(tree, 2, opts);
}

/** The Protocol Version of a Response Message tree (its header's first child). */
function versionOfResponse(tree: StructureItem): ProtocolVersion {
  const header = tree.value[0];
  const pv = header?.type === ItemType.Structure ? header.value[0] : undefined;
  if (pv?.type === ItemType.Structure) {
    const [maj, min] = pv.value;
    if (maj?.type === ItemType.Integer && min?.type === ItemType.Integer) return { major: maj.value, minor: min.value };
  }
  return FALLBACK_PROTOCOL_VERSION;
}

/** The Protocol Version of a decoded request tree, for answering its refusal in the client's version. */
function versionOfRequest(item: TtlvItem): ProtocolVersion {
  if (item.type !== ItemType.Structure) return FALLBACK_PROTOCOL_VERSION;
  const header = item.value[0];
  const pv = header?.type === ItemType.Structure ? header.value.find((c) => c.tag === Tag.ProtocolVersion) : undefined;
  if (pv?.type === ItemType.Structure) {
    const [maj, min] = pv.value;
    if (maj?.type === ItemType.Integer && min?.type === ItemType.Integer) {
      const v = { major: maj.value, minor: min.value };
      if (kmipVersionOf(v) !== undefined) return v;
    }
  }
  return FALLBACK_PROTOCOL_VERSION;
}

/**
 * A Result Message built from a parser's complaint may quote the client's bytes (V8's JSON.parse does): control
 * characters become "?" so the answer stays encodable in KMIP XML (which cannot carry U+0000) and the log stays one
 * line. Capped, so a refusal never echoes much of the body back.
 */
function printable(message: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return message.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 300);
}

/** The HTTP status text of the statuses this listener writes by hand (client errors below fastify). */
const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large' };

export class KmipHttpsServer<S = unknown> {
  readonly #config: ServerConfig;
  readonly #https: HttpsSettings;
  readonly #deps: ProcessorDeps<S>;
  readonly #trust: ClientTrust | undefined;
  readonly #log: Logger;
  readonly #app: FastifyInstance<HttpsServer>;
  /** Principal and session per TLS connection (keep-alive carries many requests over one handshake). */
  readonly #peers = new WeakMap<Socket, { principal: Principal; session: SessionState } | IdentityError>();
  #address: ListenAddress | undefined;
  #closing: Promise<void> | undefined;
  readonly stats: KmipHttpsServerStats = { answered: 0, refused: 0, handshakeFailures: 0, identityRejected: 0 };

  constructor(opts: KmipHttpsServerOptions<S>) {
    const https = opts.config.https;
    if (https === undefined) throw new Error('KmipHttpsServer needs config.https');
    this.#config = opts.config;
    this.#trust = opts.trust;
    this.#https = https;
    this.#deps = opts.deps;
    this.#log = opts.logger ?? opts.deps.logger;
    const { limits } = this.#config;
    const app = fastify({
      logger: false,
      // Per parser below; this is the ceiling for anything else.
      bodyLimit: Math.max(limits.maxMessageBytes, https.maxTextBodyBytes),
      requestTimeout: https.requestTimeoutMs,
      // An idle keep-alive connection is closed like an idle KMIP connection (kmip.limits.idleTimeoutMs).
      keepAliveTimeout: limits.idleTimeoutMs,
      connectionTimeout: limits.idleTimeoutMs,
      return503OnClosing: true,
      forceCloseConnections: 'idle',
      https: Object.assign(kmipTlsOptions(this.#config), {
        // Node checks requestTimeout/headersTimeout on this period (default 30 s): keep it well inside the limit.
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(https.requestTimeoutMs / 4))),
        headersTimeout: https.requestTimeoutMs,
        maxHeaderSize: https.maxHeaderBytes,
      }),
      clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => { this.#onClientError(err, socket); },
    }) as unknown as FastifyInstance<HttpsServer>;
    this.#app = app;
    app.server.maxConnections = limits.maxConnections;
    app.server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.stats.handshakeFailures++;
      this.#log.info('HTTPS: TLS handshake failed', { remote: socket.remoteAddress, ...describeError(err) });
      socket.destroy();
    });

    // Only the three KMIP encodings: any other Content-Type is fastify's 415, answered below with a KMIP body.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(TTLV_CONTENT_TYPE, { parseAs: 'buffer', bodyLimit: limits.maxMessageBytes }, (_req, body, done) => { done(null, body); });
    app.addContentTypeParser([JSON_CONTENT_TYPE, XML_CONTENT_TYPE, 'application/xml'], { parseAs: 'string', bodyLimit: https.maxTextBodyBytes }, (_req, body, done) => { done(null, body); });

    app.setErrorHandler((err: FastifyError, req, reply) => this.#onError(err, req, reply));
    app.setNotFoundHandler((req, reply) => this.#refuse(reply, encodingOf(req.headers['content-type']) ?? 'ttlv',
      new HttpRefusal(404, 'INVALID_MESSAGE', `KMIP over HTTPS is served at POST ${KMIP_HTTP_PATH}`)));
    app.route({
      method: ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
      url: KMIP_HTTP_PATH,
      handler: (_req, reply) => {
        void reply.header('allow', 'POST');
        return this.#refuse(reply, 'ttlv', new HttpRefusal(405, 'INVALID_MESSAGE', `only POST is served at ${KMIP_HTTP_PATH}`));
      },
    });
    app.post(KMIP_HTTP_PATH, (req, reply) => this.#onKmip(req, reply));
  }

  /** Bind and start accepting. Resolves with the bound address (port 0 → the chosen port). */
  /** Serves a new server certificate to new handshakes (issue 18 item 5: the KMIP listener's files, src/server/tls-reload.ts). */
  reloadTls(cert: string, key: string): void {
    const t = this.#config.tls;
    swapSecureContext(this.#app.server, { ca: t.ca, minVersion: t.minVersion, maxVersion: 'TLSv1.3', ciphers: t.ciphers, honorCipherOrder: true })(cert, key);
  }

  async listen(): Promise<ListenAddress> {
    const { host, port } = this.#https.listen;
    await this.#app.listen({ host, port });
    const a = this.#app.server.address() as AddressInfo;
    this.#address = { host: a.address, port: a.port };
    this.#log.info('KMIP HTTPS listener started', { address: formatListen(this.#address) });
    return this.#address;
  }

  get address(): ListenAddress | undefined {
    return this.#address;
  }

  /** Stops accepting; requests in progress finish (fastify's close), within kmip.limits.drainTimeoutMs. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.#config.limits.drainTimeoutMs); });
      await Promise.race([this.#app.close(), deadline]);
      clearTimeout(timer);
      this.#app.server.closeAllConnections();
      this.#log.info('KMIP HTTPS listener stopped');
    })();
    return this.#closing;
  }

  /** The client's principal and session, once per TLS connection. */
  #peer(raw: IncomingMessage): { principal: Principal; session: SessionState } {
    const socket = raw.socket;
    // Always a TLSSocket on this https server; the check keeps a plain socket from ever being read as verified.
    if (!(socket instanceof TLSSocket)) throw new HttpRefusal(403, 'AUTHENTICATION_NOT_SUCCESSFUL', 'a client certificate is required');
    let peer = this.#peers.get(socket);
    if (this.#trust !== undefined && peer !== undefined && !(peer instanceof IdentityError)) {
      // Revocations and mapping changes apply to open keep-alive connections too (see KmipHttpsServerOptions.trust).
      try {
        const now = this.#trust.principalOf(socket.getPeerCertificate(true));
        if (now.tenant !== peer.principal.tenant || now.identity !== peer.principal.identity) peer = new IdentityError('identity now maps to another tenant');
      } catch (e) {
        if (!(e instanceof IdentityError)) throw e;
        peer = e;
      }
      if (peer instanceof IdentityError) {
        this.stats.identityRejected++;
        this.#log.warn('HTTPS: client identity refused', { remote: socket.remoteAddress, reason: peer.message });
        this.#peers.set(socket, peer);
      }
    }
    if (peer === undefined) {
      try {
        const principal = this.#trust === undefined
          ? principalOf(socket.getPeerCertificate(), this.#config.identity)
          : this.#trust.principalOf(socket.getPeerCertificate(true));
        peer = { principal, session: newSession() };
      } catch (e) {
        if (!(e instanceof IdentityError)) throw e;
        this.stats.identityRejected++;
        this.#log.warn('HTTPS: client identity refused', { remote: socket.remoteAddress, reason: e.message });
        peer = e;
      }
      this.#peers.set(socket, peer);
    }
    if (peer instanceof IdentityError) throw new HttpRefusal(403, 'AUTHENTICATION_NOT_SUCCESSFUL', 'this client identity is not accepted');
    return peer;
  }

  async #onKmip(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const encoding = encodingOf(req.headers['content-type']) ?? 'ttlv';
    try {
      // An enterprise anchor's certificate may need its OCSP status first (src/server/trust.ts checkStatus).
      if (this.#trust !== undefined && req.raw.socket instanceof TLSSocket) await this.#trust.checkStatus(req.raw.socket.getPeerCertificate(true));
      const { principal, session } = this.#peer(req.raw);
      const body = req.body;
      let item: TtlvItem;
      if (encoding === 'ttlv') {
        if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpRefusal(400, 'INVALID_MESSAGE', 'the body is empty');
        item = this.#decodeTtlv(body);
      } else {
        if (typeof body !== 'string' || body.length === 0) throw new HttpRefusal(400, 'INVALID_MESSAGE', 'the body is empty');
        item = this.#decodeText(body, encoding);
      }
      if (item.tag !== Tag.RequestMessage || item.type !== ItemType.Structure) {
        throw new HttpRefusal(400, 'INVALID_MESSAGE', 'the body is not a KMIP Request Message', versionOfRequest(item));
      }
      let answer: Buffer | string;
      if (encoding === 'ttlv') {
        answer = await processMessageBytes(item, principal, session, this.#deps);
      } else {
        const tree = await processMessage(item, principal, session, this.#deps);
        answer = encodeAnswer(tree, encoding);
      }
      this.stats.answered++;
      return await reply.code(200).header('content-type', CONTENT_TYPE_OF[encoding]).header('cache-control', 'no-store').send(answer);
    } catch (e) {
      if (e instanceof HttpRefusal) return this.#refuse(reply, encoding, e);
      this.#log.error('HTTPS: request failed', describeError(e));
      return this.#refuse(reply, encoding, new HttpRefusal(500, 'GENERAL_FAILURE', KMIP_ERROR_CATALOG.GENERAL_FAILURE.description));
    }
  }

  /** Binary TTLV under the same decoder limits as port 5696; a decode error is 400 with Codec Error. */
  #decodeTtlv(body: Buffer): TtlvItem {
    try {
      return decodeTtlv(body, this.#config.ttlv);
    } catch (e) {
      if (!(e instanceof TtlvError)) throw e;
      throw new HttpRefusal(400, 'CODEC_ERROR', fromTtlvError(e).message, sniffProtocolVersion(body) ?? FALLBACK_PROTOCOL_VERSION);
    }
  }

  /**
   * KMIP JSON or XML → TTLV tree → bytes → the TTLV decoder: the text encodings reach the processor only through the
   * very limits a binary message meets (depth, items, string sizes, kmip.limits.maxMessageBytes), so no text body can
   * carry a message port 5696 would refuse.
   */
  #decodeText(body: string, encoding: 'json' | 'xml'): TtlvItem {
    let tree: TtlvItem;
    try {
      tree = encoding === 'json'
        ? jsonStringToTtlv(body)
        : xmlStringToTtlv(body, { maxInputChars: this.#https.maxTextBodyBytes, maxDepth: this.#config.ttlv.maxDepth });
    } catch (e) {
      // Neither the parser's words nor the offending value are repeated: V8's JSON.parse quotes the body, and a bad
      // value may be part of key material (never logged). The element path and the XML position locate the fault.
      const syntax = e instanceof XmlSyntaxError ? e : e instanceof KmipEncodingError && e.cause instanceof XmlSyntaxError ? e.cause : undefined;
      if (syntax !== undefined) throw new HttpRefusal(400, 'INVALID_MESSAGE', `the body is not well-formed XML (line ${String(syntax.line)}, column ${String(syntax.column)})`);
      if (e instanceof KmipEncodingError) {
        const where = e.path === '' ? '' : ` at ${e.path}`;
        throw new HttpRefusal(400, 'INVALID_MESSAGE', `the body is not ${encoding === 'json' && e.message.startsWith('invalid JSON') ? 'valid JSON' : `KMIP ${encoding.toUpperCase()}${where}`}`);
      }
      if (e instanceof RangeError) throw new HttpRefusal(400, 'INVALID_MESSAGE', `the body is not KMIP ${encoding.toUpperCase()}`);
      throw e;
    }
    let bytes: Buffer;
    try {
      bytes = encodeTtlv(tree);
    } catch (e) {
      throw new HttpRefusal(400, 'INVALID_MESSAGE', `the body does not encode as TTLV${e instanceof TtlvError ? ` (${e.code})` : ''}`, versionOfRequest(tree));
    }
    if (bytes.length > this.#config.limits.maxMessageBytes) {
      throw new HttpRefusal(413, 'CODEC_ERROR', `the message is ${String(bytes.length)} bytes as TTLV; the limit is ${String(this.#config.limits.maxMessageBytes)}`, versionOfRequest(tree));
    }
    return this.#decodeTtlv(bytes);
  }

  #refuse(reply: FastifyReply, encoding: Encoding, r: HttpRefusal): FastifyReply {
    this.stats.refused++;
    const message = printable(r.message);
    this.#log.info('HTTPS: request refused', { status: r.status, code: r.code, reason: message });
    return reply.code(r.status).header('content-type', CONTENT_TYPE_OF[encoding]).header('cache-control', 'no-store')
      .send(errorBody(r.code, message, r.pv, encoding));
  }

  /** fastify's own refusals (content type, body size, content length) as KMIP error bodies. */
  #onError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    const encoding = status === 415 ? 'ttlv' : encodingOf(req.headers['content-type']) ?? 'ttlv';
    if (status >= 500) {
      this.#log.error('HTTPS: request failed', describeError(err));
      return this.#refuse(reply, encoding, new HttpRefusal(500, 'GENERAL_FAILURE', KMIP_ERROR_CATALOG.GENERAL_FAILURE.description));
    }
    const message = status === 415
      ? `Content-Type must be ${TTLV_CONTENT_TYPE}, ${JSON_CONTENT_TYPE} or ${XML_CONTENT_TYPE}`
      : status === 413 ? `the body exceeds the limit of ${String(encoding === 'ttlv' ? this.#config.limits.maxMessageBytes : this.#https.maxTextBodyBytes)} bytes`
        : err.message.slice(0, 200);
    return this.#refuse(reply, encoding, new HttpRefusal(status, 'INVALID_MESSAGE', message));
  }

  /**
   * HTTP that Node's parser refuses before fastify sees a request (bad chunk framing, Content-Length together with
   * Transfer-Encoding, oversized headers) and the request timeout: the status and a TTLV KMIP error body, then close.
   */
  #onClientError(err: Error & { code?: string }, socket: Socket): void {
    this.stats.refused++;
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    this.#log.info('HTTPS: malformed request refused', { status, code: err.code, remote: socket.remoteAddress });
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const body = errorBody('INVALID_MESSAGE', status === 408 ? 'the request took too long' : 'malformed HTTP request', FALLBACK_PROTOCOL_VERSION, 'ttlv');
    const head = `HTTP/1.1 ${String(status)} ${STATUS_TEXT[status] ?? 'Bad Request'}\r\nContent-Type: ${TTLV_CONTENT_TYPE}\r\nContent-Length: ${String(body.length)}\r\nConnection: close\r\n\r\n`;
    socket.end(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body)]));
  }
}
