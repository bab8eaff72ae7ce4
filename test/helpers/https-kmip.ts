/**
 * A small KMIP-over-HTTPS client for tests (issue 20): POST /kmip with a client certificate, the body as given, and
 * the answer's status, headers and body; plus raw TLS for HTTP the client library would refuse to send, and KMIP
 * messages written as KMIP XML (readable in the test) and turned into TTLV or JSON.
 */
import https from 'node:https';
import tls from 'node:tls';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { jsonStringToTtlv, ttlvToJsonString } from '../../src/kmip/encodings/json.js';
import { ttlvToXmlString, xmlStringToTtlv } from '../../src/kmip/encodings/xml.js';

export interface HttpsPeer {
  readonly host: string;
  readonly port: number;
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** One POST (or another method) on a fresh connection. */
export function httpsRequest(peer: HttpsPeer, body: Uint8Array | string, contentType: string, opts: { path?: string; method?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: peer.host, port: peer.port, path: opts.path ?? '/kmip', method: opts.method ?? 'POST',
      ca: peer.ca, ...(peer.cert === undefined ? {} : { cert: peer.cert }), ...(peer.key === undefined ? {} : { key: peer.key }),
      agent: false, checkServerIdentity: () => undefined,
      headers: { 'content-type': contentType, ...opts.headers },
      timeout: opts.timeoutMs ?? 30_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => { chunks.push(c); });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }); });
      res.on('error', reject);
    });
    req.on('timeout', () => { req.destroy(new Error('request timed out')); });
    req.on('error', reject);
    if (typeof body === 'string') req.end(body);
    else req.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
}

/** Raw bytes over mutual TLS; resolves with everything the server wrote until it closed (or `timeoutMs`). */
export function rawHttps(peer: HttpsPeer, chunks: readonly (string | Uint8Array)[], opts: { gapMs?: number; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: peer.host, port: peer.port, ca: peer.ca,
      ...(peer.cert === undefined ? {} : { cert: peer.cert }), ...(peer.key === undefined ? {} : { key: peer.key }),
      checkServerIdentity: () => undefined,
    });
    const got: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); }, opts.timeoutMs ?? 20_000);
    socket.on('data', (c: Buffer) => { got.push(c); });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got).toString('latin1'));
    });
    socket.once('secureConnect', () => {
      void (async () => {
        for (const c of chunks) {
          if (socket.destroyed) return;
          socket.write(c);
          if (opts.gapMs !== undefined) await new Promise((r) => setTimeout(r, opts.gapMs));
        }
      })();
    });
    socket.once('error', reject);
  });
}

/** The HTTP status line's code and the body of a raw answer. */
export function parseRawAnswer(raw: string): { status: number; body: Buffer } {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  const at = raw.indexOf('\r\n\r\n');
  return { status: m === null ? 0 : Number(m[1]), body: at < 0 ? Buffer.alloc(0) : Buffer.from(raw.slice(at + 4), 'latin1') };
}

/** A Request Message in KMIP XML for `version` with one batch item. */
export function requestXml(version: '1.4' | '2.1' | '1.0' | '1.2' | '2.0', operation: string, payload: string, header = ''): string {
  const [major, minor] = version.split('.');
  return `<RequestMessage><RequestHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="${major ?? ''}"/>`
    + `<ProtocolVersionMinor type="Integer" value="${minor ?? ''}"/></ProtocolVersion>${header}<BatchCount type="Integer" value="1"/></RequestHeader>`
    + `<BatchItem><Operation type="Enumeration" value="${operation}"/><RequestPayload>${payload}</RequestPayload></BatchItem></RequestMessage>`;
}

export function xmlToTtlvBytes(xml: string): Buffer {
  return encodeTtlv(xmlStringToTtlv(xml));
}

export function xmlToJson(xml: string): string {
  return ttlvToJsonString(xmlStringToTtlv(xml));
}

/** Any answer body, in the encoding its Content-Type names, as KMIP XML (for regex assertions). */
export function answerAsXml(a: { headers: Readonly<Record<string, string | string[] | undefined>>; body: Buffer } | { body: Buffer; type: string }): string {
  const type = 'type' in a ? a.type : String(a.headers['content-type'] ?? '');
  if (type.startsWith('application/json')) return ttlvToXmlString(jsonStringToTtlv(a.body.toString('utf8')));
  if (type.startsWith('text/xml')) return a.body.toString('utf8');
  return ttlvToXmlString(decodeTtlv(a.body));
}

/** The value="…" of the first element named `name` in KMIP XML. */
export function field(xml: string, name: string): string | undefined {
  return new RegExp(`<${name} type="[A-Za-z]+" value="([^"]*)"`).exec(xml)?.[1];
}
