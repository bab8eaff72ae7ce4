/**
 * The named connection limits of src/config/, each at the limit (works) and one past
 * it (refused the documented way), over real mutual TLS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { bytes, int, structure } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { decodeResponse, encodeRequest, requestMessage } from '../../src/kmip/message.js';
import type { ResponseMessage } from '../../src/kmip/message.js';
import { Operation, ResultReason, ResultStatus, Tag } from '../../src/kmip/registry.generated.js';
import { rawConnect, startTestServer, tinyHandlers } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const PV = { major: 1, minor: 4 };

/** An RNG Retrieve request whose payload carries an (ignored) Data field of `padLen` bytes. */
function paddedRequest(padLen: number): Buffer {
  return encodeTtlv(encodeRequest(requestMessage({ protocolVersion: PV }, [{
    operation: Operation.RNGRetrieve,
    payload: structure(Tag.RequestPayload, [int(Tag.DataLength, 8), bytes(Tag.Data, new Uint8Array(padLen))]),
  }])));
}

/** A small valid request. */
function smallRequest(): Buffer {
  return paddedRequest(0);
}

/** An RNG Retrieve request of exactly `size` bytes. */
function requestOfSize(size: number): Buffer {
  const build = paddedRequest;
  const base = build(0).length;
  assert.ok(size >= base && (size - base) % 8 === 0, `cannot build a ${String(size)}-byte request`);
  const out = build(size - base);
  assert.equal(out.length, size);
  return out;
}

function response(frame: Buffer): ResponseMessage {
  return decodeResponse(decodeTtlv(frame));
}

async function waitFor(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('limit: maxMessageBytes', () => {
  const MAX = 4096;
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ getHandler: tinyHandlers(), services: { events: [] }, limits: { maxMessageBytes: MAX } });
  });
  after(async () => { await srv.stop(); });

  test('a request of exactly maxMessageBytes is served', async () => {
    const raw = await rawConnect(srv.clientOptions());
    raw.send(requestOfSize(MAX));
    const r = response(await raw.nextMessage());
    assert.equal(r.batchItems[0]?.resultStatus, ResultStatus.Success);
    raw.destroy();
  });

  test('one past (the next valid length): Invalid Message answered in 1.0, then the connection closes', async () => {
    const raw = await rawConnect(srv.clientOptions());
    raw.send(requestOfSize(MAX + 8));
    const r = response(await raw.nextMessage());
    assert.deepEqual(r.header.protocolVersion, { major: 1, minor: 0 });
    assert.equal(r.batchItems[0]?.resultStatus, ResultStatus.OperationFailed);
    assert.equal(r.batchItems[0].resultReason, ResultReason.InvalidMessage);
    assert.equal(r.batchItems[0].operation, undefined);
    await raw.closed;
  });

  test('a header announcing maxMessageBytes + 1 is refused before the body arrives', async () => {
    const raw = await rawConnect(srv.clientOptions());
    const header = Buffer.from([0x42, 0x00, 0x78, 0x01, 0, 0, 0, 0]);
    header.writeUInt32BE(MAX + 1 - 8, 4);
    raw.send(header);
    const r = response(await raw.nextMessage());
    assert.equal(r.batchItems[0]?.resultReason, ResultReason.InvalidMessage);
    await raw.closed;
  });
});

describe('limit: maxConnections', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ getHandler: tinyHandlers(), services: { events: [] }, limits: { maxConnections: 2 } });
  });
  after(async () => { await srv.stop(); });

  test('two connections work; a third is closed at once; after one closes a new one works', async () => {
    const a = await rawConnect(srv.clientOptions());
    const b = await rawConnect(srv.clientOptions());
    await assert.rejects(rawConnect(srv.clientOptions()));
    await waitFor(() => srv.server?.stats.dropped === 1, 'the drop to be counted');
    a.destroy();
    await waitFor(() => srv.server?.connectionCount === 1, 'the server to see the close');
    const c = await rawConnect(srv.clientOptions());
    c.send(smallRequest());
    assert.equal(response(await c.nextMessage()).batchItems[0]?.resultStatus, ResultStatus.Success);
    b.destroy();
    c.destroy();
  });
});

describe('limit: handshakeTimeoutMs', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ getHandler: tinyHandlers(), services: { events: [] }, limits: { handshakeTimeoutMs: 300 } });
  });
  after(async () => { await srv.stop(); });

  test('a TCP peer that never starts the handshake is disconnected; a real client is not', async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => { sock.once('close', () => { resolve(); }); });
    const ok = await rawConnect(srv.clientOptions());
    await closed;
    await waitFor(() => (srv.server?.stats.handshakeFailures ?? 0) >= 1, 'the handshake failure to be counted');
    ok.send(smallRequest());
    assert.equal(response(await ok.nextMessage()).batchItems[0]?.resultStatus, ResultStatus.Success);
    ok.destroy();
  });
});

describe('limit: idleTimeoutMs', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ getHandler: tinyHandlers(), services: { events: [] }, limits: { idleTimeoutMs: 400 } });
  });
  after(async () => { await srv.stop(); });

  test('a connection busy more often than the idle timeout stays open; an idle one is closed', async () => {
    const busy = await rawConnect(srv.clientOptions());
    const idle = await rawConnect(srv.clientOptions());
    const idleClosed = idle.closed.then(() => Date.now());
    const start = Date.now();
    // 8 requests 150 ms apart: 1.2 s in total, three times the idle timeout.
    for (let i = 0; i < 8; i++) {
      busy.send(smallRequest());
      assert.equal(response(await busy.nextMessage()).batchItems[0]?.resultStatus, ResultStatus.Success);
      await sleep(150);
    }
    assert.equal(busy.isClosed(), false);
    const closedAt = await idleClosed;
    assert.ok(closedAt - start < 1_200, 'the idle connection was closed while the busy one kept working');
    busy.destroy();
  });
});
