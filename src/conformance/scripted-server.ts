/**
 * A scripted KMIP server for testing the replayer itself: over mutual TLS it answers the n-th
 * request of a connection with the n-th expected response of one test case, its placeholders
 * filled with concrete values (fresh identifiers, the current time, random bytes), consistently
 * within the connection. A correct replayer must PASS against it; a test case altered in one
 * place must FAIL at exactly that place.
 *
 * It also checks what it receives: each request must be the test case's request with the
 * server's own bindings substituted (identifiers it issued, bytes it sent, `$NOW` within the
 * tolerance), so a replayer that substitutes wrongly is caught from this side too.
 * Not a KMIP implementation, and not for production use.
 */
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { TtlvFramer } from '@openkcm/ttlv';
import { ttlvToXml, xmlToTtlv } from '../kmip/encodings/xml.js';
import type { XmlElement } from '../kmip/encodings/xml.js';
import { compareTree } from './compare.js';
import {
  instantiateRequest,
  isoSeconds,
  mapValues,
  maskPlaceholders,
  nowOffsetSeconds,
  placeholderForm,
  ReplayState,
  toHex,
} from './placeholders.js';
import type { Vector } from './vectors.js';

export interface ScriptedServerOptions {
  readonly vector: Vector;
  /** Server certificate chain, key, and the CA that client certificates must chain to (PEM). */
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  /** Change the n-th (0-based) expected response before it is filled and sent. */
  readonly mutateResponse?: (index: number, response: XmlElement) => XmlElement;
  readonly clock?: () => bigint;
}

export interface ScriptedServer {
  readonly port: number;
  /** Problems seen on the server side (unexpected or wrongly substituted requests). */
  readonly problems: readonly string[];
  close(): Promise<void>;
}

/** Fill a response's placeholders from (and into) the connection's bindings. */
function fillResponse(el: XmlElement, state: ReplayState, serial: { n: number }): XmlElement {
  return mapValues(el, (_el, value) => {
    const form = placeholderForm(value);
    if (form === undefined) return undefined;
    if (form.kind === 'time') return isoSeconds(state.nowSeconds() + nowOffsetSeconds(value));
    let bound = state.bindings.get(value);
    if (bound === undefined) {
      bound = form.kind === 'identifier'
        ? `scripted-${++serial.n}-${randomBytes(4).toString('hex')}`
        : new Uint8Array(randomBytes(16));
      state.bindings.set(value, bound);
    }
    return typeof bound === 'string' ? bound : toHex(bound);
  });
}

function rememberBytes(el: XmlElement, state: ReplayState): void {
  if (el.attrs.type === 'ByteString' && el.attrs.value !== undefined) {
    state.lastBytesByElement.set(el.name, new Uint8Array(Buffer.from(el.attrs.value, 'hex')));
  }
  for (const c of el.children) rememberBytes(c, state);
}

export function startScriptedServer(options: ScriptedServerOptions): Promise<ScriptedServer> {
  const problems: string[] = [];
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    ca: options.ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  }, (socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => { /* the client going away mid-test is not a server problem */ });
    const framer = new TtlvFramer();
    const state = new ReplayState(options.clock);
    const serial = { n: 0 };
    let k = 0;
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = framer.push(chunk);
      } catch (e) {
        problems.push(`framing: ${String(e)}`);
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        const ex = options.vector.exchanges[k];
        if (ex === undefined) {
          problems.push(`request ${k}: the test case has no more requests`);
          socket.destroy();
          return;
        }
        try {
          const gotTtlv = decodeTtlv(frame);
          // Bind captured placeholders the request uses from what this server sent.
          instantiateRequest(ex.request, state);
          const diff = compareTree(
            { xml: ex.request, ttlv: xmlToTtlv(maskPlaceholders(ex.request)) },
            { xml: ttlvToXml(gotTtlv), ttlv: gotTtlv },
            `RequestMessage[${k}]`,
            { state, item: undefined, rules: [], names: [], placeholders: true },
          );
          if (diff !== undefined) {
            problems.push(`${diff.path} expected ${diff.expected} got ${diff.got}`);
            socket.destroy();
            return;
          }
          const script = options.mutateResponse?.(k, ex.response) ?? ex.response;
          const filled = fillResponse(script, state, serial);
          rememberBytes(filled, state);
          socket.write(encodeTtlv(xmlToTtlv(filled)));
        } catch (e) {
          problems.push(`request ${k}: ${e instanceof Error ? e.message : String(e)}`);
          socket.destroy();
          return;
        }
        k++;
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        problems,
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => { done(); });
        }),
      });
    });
  });
}
