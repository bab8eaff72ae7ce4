/**
 * KmipConnection (src/client/connection.ts) against an in-process fake TLS server.
 *
 * The frames here are minimal hand-built TTLV messages (KMIP 1.4 §9.1.1: 3-byte tag, 1-byte
 * type, 4-byte length): a Structure holding one Integer that identifies the request, so the
 * tests see exactly which response reached which waiter without depending on the message
 * model.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { KmipConnection } from '../../src/client/connection.js';
import type { ConnectionOptions } from '../../src/client/connection.js';
import { KmipClientError } from '../../src/client/errors.js';
import { TtlvFramer } from '@openkcm/ttlv';
import { createCa } from '../../src/pki/dev-pki.js';
import { testPki } from '../helpers/pki.js';
import type { TestPki } from '../helpers/pki.js';

const REQUEST_MESSAGE = 0x420078;
const RESPONSE_MESSAGE = 0x42007b;
const BATCH_COUNT = 0x42000d;

/**
 * Structure(tag){ Integer BatchCount = id }:
 *   TT TT TT 01 00 00 00 10 | 42 00 0D 02 00 00 00 04 | id(4) 00 00 00 00
 */
function frame(tag: number, id: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUIntBE(tag, 0, 3);
  b[3] = 0x01;
  b.writeUInt32BE(16, 4);
  b.writeUIntBE(BATCH_COUNT, 8, 3);
  b[11] = 0x02;
  b.writeUInt32BE(4, 12);
  b.writeInt32BE(id, 16);
  return b;
}
const idOf = (f: Buffer): number => f.readInt32BE(16);

/** What the fake server does with request `id`. */
type Behaviour = (id: number, sock: tls.TLSSocket) => void;

interface Fake {
  port: number;
  close(): Promise<void>;
}

async function startFake(pki: TestPki, onRequest: Behaviour): Promise<Fake> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({
    key: pki.server.keyPem,
    cert: pki.server.certPem,
    ca: pki.ca.certPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    const framer = new TtlvFramer();
    sock.on('data', (chunk: Buffer) => {
      for (const f of framer.push(chunk)) onRequest(idOf(f), sock);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => { r(); });
    }),
  };
}

let pki: TestPki;
before(async () => { pki = await testPki(); });

function opts(port: number, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return { host: '127.0.0.1', port, ca: pki.ca.certPem, cert: pki.client.certPem, key: pki.client.keyPem, ...extra };
}

function isClientError(code: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof KmipClientError && e.code === code;
}

describe('KmipConnection pipelining and framing', () => {
  let fake: Fake;
  // Echo server that answers in request order but holds every 4th request until the next
  // one arrives, then writes both answers in ONE write, so the client sees coalesced frames.
  let held: Buffer | undefined;
  const dripQueues = new Map<tls.TLSSocket, number[]>();
  before(async () => {
    fake = await startFake(pki, (id, sock) => {
      if (id < 0) {
        // Negative ids: answer byte by byte, each byte its own TLS record. One drip loop per
        // socket keeps the responses in order (bytes of two responses must not interleave).
        const queue = dripQueues.get(sock) ?? [];
        const idle = queue.length === 0;
        queue.push(...frame(RESPONSE_MESSAGE, id));
        dripQueues.set(sock, queue);
        const step = (): void => {
          const byte = queue.shift();
          if (byte === undefined) return;
          sock.write(Buffer.of(byte));
          setImmediate(step);
        };
        if (idle) step();
        return;
      }
      const resp = frame(RESPONSE_MESSAGE, id);
      if (id % 4 === 0 && held === undefined) { held = resp; return; }
      if (held !== undefined) { sock.write(Buffer.concat([held, resp])); held = undefined; return; }
      sock.write(resp);
    });
  });
  after(async () => { await fake.close(); });

  test('many requests in flight are answered FIFO, each to its own waiter', async () => {
    const conn = await KmipConnection.connect(opts(fake.port));
    try {
      const ids = Array.from({ length: 101 }, (_, i) => i + 1);
      const promises = ids.map((id) => conn.request(frame(REQUEST_MESSAGE, id)));
      assert.equal(conn.pending, ids.length);
      const frames = await Promise.all(promises);
      assert.deepEqual(frames.map(idOf), ids);
      assert.equal(conn.pending, 0);
    } finally {
      await conn.close();
    }
  });

  test('responses that arrive one byte per TLS record are reassembled', async () => {
    const conn = await KmipConnection.connect(opts(fake.port));
    try {
      const frames = await Promise.all([-1, -2, -3].map((id) => conn.request(frame(REQUEST_MESSAGE, id))));
      assert.deepEqual(frames.map(idOf), [-1, -2, -3]);
      assert.deepEqual(frames[0], frame(RESPONSE_MESSAGE, -1));
    } finally {
      await conn.close();
    }
  });

  test('close() waits for in-flight requests, then refuses new ones', async () => {
    const conn = await KmipConnection.connect(opts(fake.port));
    const p = conn.request(frame(REQUEST_MESSAGE, 7));
    await conn.close();
    assert.equal(idOf(await p), 7);
    assert.equal(conn.isClosed, true);
    await assert.rejects(conn.request(frame(REQUEST_MESSAGE, 8)), isClientError('CONNECTION_CLOSED'));
  });

  test('uses TLS 1.2 or newer', async () => {
    const conn = await KmipConnection.connect(opts(fake.port));
    try {
      assert.match(conn.tlsProtocol ?? '', /^TLSv1\.[23]$/);
    } finally {
      await conn.close();
    }
  });
});

describe('KmipConnection failures', () => {
  test('a request timeout fails that request and closes the connection for the others', async () => {
    // Request 1 is answered; request 2 never is; request 3 is answered only after 2.
    const fake = await startFake(pki, (id, sock) => { if (id === 1) sock.write(frame(RESPONSE_MESSAGE, id)); });
    try {
      const conn = await KmipConnection.connect(opts(fake.port));
      assert.equal(idOf(await conn.request(frame(REQUEST_MESSAGE, 1))), 1);
      const p2 = conn.request(frame(REQUEST_MESSAGE, 2), 150);
      const p3 = conn.request(frame(REQUEST_MESSAGE, 3), 60_000);
      await assert.rejects(p2, isClientError('REQUEST_TIMEOUT'));
      await assert.rejects(p3, isClientError('CONNECTION_CLOSED'));
      assert.equal(conn.isClosed, true);
      await assert.rejects(conn.request(frame(REQUEST_MESSAGE, 4)), isClientError('CONNECTION_CLOSED'));
    } finally {
      await fake.close();
    }
  });

  test('connection loss rejects every in-flight request with CONNECTION_CLOSED', async () => {
    const fake = await startFake(pki, (id, sock) => { if (id === 99) sock.destroy(); });
    try {
      const conn = await KmipConnection.connect(opts(fake.port));
      const inFlight = [1, 2, 3].map((id) => conn.request(frame(REQUEST_MESSAGE, id)));
      const killer = conn.request(frame(REQUEST_MESSAGE, 99));
      for (const p of [...inFlight, killer]) await assert.rejects(p, isClientError('CONNECTION_CLOSED'));
      assert.equal(conn.pending, 0);
    } finally {
      await fake.close();
    }
  });

  test('a response header announcing more than maxMessageBytes is a protocol error', async () => {
    const fake = await startFake(pki, (_id, sock) => {
      const header = Buffer.from([0x42, 0x00, 0x7b, 0x01, 0x00, 0x10, 0x00, 0x00]); // 1 MiB body announced
      sock.write(header);
    });
    try {
      const conn = await KmipConnection.connect(opts(fake.port, { maxMessageBytes: 4096 }));
      await assert.rejects(conn.request(frame(REQUEST_MESSAGE, 1)), isClientError('PROTOCOL_ERROR'));
      assert.equal(conn.isClosed, true);
    } finally {
      await fake.close();
    }
  });

  test('an unsolicited response closes the connection as a protocol error', async () => {
    const fake = await startFake(pki, (id, sock) => {
      sock.write(Buffer.concat([frame(RESPONSE_MESSAGE, id), frame(RESPONSE_MESSAGE, 1000)]));
    });
    try {
      const conn = await KmipConnection.connect(opts(fake.port));
      assert.equal(idOf(await conn.request(frame(REQUEST_MESSAGE, 1))), 1);
      // The extra frame arrives with the first; the connection is already condemned.
      await assert.rejects(conn.request(frame(REQUEST_MESSAGE, 2)), (e: unknown) =>
        e instanceof KmipClientError && (e.code === 'CONNECTION_CLOSED' || e.code === 'PROTOCOL_ERROR'));
    } finally {
      await fake.close();
    }
  });

  test('maxPendingRequests bounds requests in flight', async () => {
    const fake = await startFake(pki, () => undefined);
    try {
      const conn = await KmipConnection.connect(opts(fake.port, { maxPendingRequests: 2 }));
      const a = conn.request(frame(REQUEST_MESSAGE, 1));
      const b = conn.request(frame(REQUEST_MESSAGE, 2));
      await assert.rejects(conn.request(frame(REQUEST_MESSAGE, 3)), isClientError('TOO_MANY_PENDING'));
      conn.destroy();
      await assert.rejects(a, isClientError('CONNECTION_CLOSED'));
      await assert.rejects(b, isClientError('CONNECTION_CLOSED'));
    } finally {
      await fake.close();
    }
  });

  test('a request larger than maxMessageBytes is refused before it is written', async () => {
    const fake = await startFake(pki, (id, sock) => sock.write(frame(RESPONSE_MESSAGE, id)));
    try {
      const conn = await KmipConnection.connect(opts(fake.port, { maxMessageBytes: 16 }));
      await assert.rejects(conn.request(frame(REQUEST_MESSAGE, 1)), isClientError('REQUEST_TOO_LARGE'));
      assert.equal(conn.isClosed, false);
      conn.destroy();
    } finally {
      await fake.close();
    }
  });

  test('a client certificate from another CA is refused by the server', async () => {
    const fake = await startFake(pki, (id, sock) => sock.write(frame(RESPONSE_MESSAGE, id)));
    try {
      // TLS 1.3 reports client-certificate rejection after the handshake; either the
      // connect or the first request must fail.
      const attempt = async (): Promise<void> => {
        const conn = await KmipConnection.connect(opts(fake.port, { cert: pki.foreignClient.certPem, key: pki.foreignClient.keyPem }));
        try { await conn.request(frame(REQUEST_MESSAGE, 1)); } finally { conn.destroy(); }
      };
      await assert.rejects(attempt(), (e: unknown) =>
        e instanceof KmipClientError && (e.code === 'CONNECT_FAILED' || e.code === 'CONNECTION_CLOSED'));
    } finally {
      await fake.close();
    }
  });

  test('a server certificate not issued by the trusted CA fails the connect', async () => {
    const fake = await startFake(pki, () => undefined);
    try {
      const foreignCa = await createCa('Some Other CA');
      await assert.rejects(KmipConnection.connect(opts(fake.port, { ca: foreignCa.certPem })), isClientError('CONNECT_FAILED'));
    } finally {
      await fake.close();
    }
  });

  test('the server name is checked: a wrong servername fails the connect', async () => {
    const fake = await startFake(pki, () => undefined);
    try {
      await assert.rejects(KmipConnection.connect(opts(fake.port, { servername: 'kms.example.com' })), isClientError('CONNECT_FAILED'));
    } finally {
      await fake.close();
    }
  });

  test('a peer that never completes the TLS handshake hits the connect timeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => { sockets.push(s); });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      await assert.rejects(KmipConnection.connect(opts(port, { timeouts: { connect: 200 } })), isClientError('CONNECT_TIMEOUT'));
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => { r(); }));
    }
  });

  test('connection refused is CONNECT_FAILED', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => { resolve(p); }); });
    });
    await assert.rejects(KmipConnection.connect(opts(port)), isClientError('CONNECT_FAILED'));
  });

  test('invalid options name the constraint', async () => {
    await assert.rejects(KmipConnection.connect(opts(1, { maxMessageBytes: 0 })), (e: unknown) =>
      e instanceof KmipClientError && e.code === 'INVALID_ARGUMENT' && e.message.includes('maxMessageBytes'));
  });
});
