/**
 * Pipelining, flow control and graceful close of src/server/connection.ts: responses in
 * request order even when processed concurrently (KMIP 1.4 §12.1: one response per request,
 * in order), a client that stops reading makes the server stop reading (in-flight cap and
 * socket backpressure), and close() drains what was admitted.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { decodeResponse, encodeRequest, requestMessage } from '../../src/kmip/message.js';
import { rngRetrievePayloads } from '../../src/kmip/payloads/rng-retrieve.js';
import { Operation, ResultStatus } from '../../src/kmip/registry.generated.js';
import { rawConnect, startTestServer, tinyHandlers } from '../helpers/server.js';
import type { RawConnection, TinyServices } from '../helpers/server.js';

const PV = { major: 1, minor: 4 };

function rngRequest(n: number): Buffer {
  return encodeTtlv(encodeRequest(requestMessage({ protocolVersion: PV }, [
    { operation: Operation.RNGRetrieve, payload: rngRetrievePayloads.encodeRequest({ dataLength: n }, PV) },
  ])));
}

/** The Data length of an RNG Retrieve response (the tiny handler answers n bytes for n). */
async function nextLength(raw: RawConnection, timeoutMs?: number): Promise<number> {
  const r = decodeResponse(decodeTtlv(await raw.nextMessage(timeoutMs)));
  const item = r.batchItems[0];
  assert.equal(item?.resultStatus, ResultStatus.Success);
  return rngRetrievePayloads.decodeResponse(item.payload, PV).data.length;
}

function services(delayMs?: (n: number) => number): TinyServices {
  return { events: [], rng: { calls: 0, active: 0, maxActive: 0 }, ...(delayMs === undefined ? {} : { delayMs }) };
}

describe('pipelining', () => {
  test('requests written at once, processed concurrently, are answered in request order', async () => {
    // Later requests finish first: delay falls as n grows.
    const svc = services((n) => 2 + ((97 * n) % 13));
    const srv = await startTestServer({ getHandler: tinyHandlers(), services: svc, limits: { maxConcurrentPerConnection: 8 } });
    try {
      const raw = await rawConnect(srv.clientOptions());
      const N = 60;
      raw.send(Buffer.concat(Array.from({ length: N }, (_, i) => rngRequest(i + 1))));
      for (let i = 0; i < N; i++) assert.equal(await nextLength(raw), i + 1);
      assert.ok((svc.rng?.maxActive ?? 0) > 1, 'requests really overlapped');
      assert.ok((svc.rng?.maxActive ?? 0) <= 8, 'maxConcurrentPerConnection holds');
      raw.destroy();
    } finally {
      await srv.stop();
    }
  });

  test('the default (one at a time per connection) keeps order and never overlaps; the KMIP client pipelines over it', async () => {
    const svc = services((n) => n % 3);
    const srv = await startTestServer({ getHandler: tinyHandlers(), services: svc });
    try {
      const c = await srv.connect(undefined, { protocolVersion: '1.4' });
      const lengths = await Promise.all(Array.from({ length: 40 }, (_, i) => c.rngRetrieve(i + 1).then((d) => d.length)));
      assert.deepEqual(lengths, Array.from({ length: 40 }, (_, i) => i + 1));
      assert.equal(svc.rng?.maxActive, 1);
      await c.close();
    } finally {
      await srv.stop();
    }
  });

  test('a client that half-closes after its requests still gets every response', async () => {
    const srv = await startTestServer({ getHandler: tinyHandlers(), services: services(() => 5) });
    try {
      const raw = await rawConnect(srv.clientOptions());
      raw.send(Buffer.concat([rngRequest(1), rngRequest(2), rngRequest(3)]));
      raw.socket.end();
      assert.deepEqual([await nextLength(raw), await nextLength(raw), await nextLength(raw)], [1, 2, 3]);
      await raw.closed;
    } finally {
      await srv.stop();
    }
  });
});

describe('backpressure', () => {
  test('a client that does not read: the server stops reading at the in-flight cap; then all responses arrive in order', async () => {
    const CAP = 4;
    const svc = services();
    const srv = await startTestServer({ getHandler: tinyHandlers(), services: svc, limits: { maxInFlightPerConnection: CAP, maxConcurrentPerConnection: 2 } });
    try {
      const raw = await rawConnect(srv.clientOptions());
      raw.socket.pause();
      const N = 150;
      const SIZE = 200_000;
      // 30 MB of responses: far beyond what the kernel's socket buffers hold (a few MB).
      for (let i = 0; i < N; i++) raw.send(rngRequest(SIZE + i));
      await sleep(500);
      const callsWhilePaused = svc.rng?.calls ?? 0;
      assert.ok(callsWhilePaused < N / 2, `the server stopped processing (${String(callsWhilePaused)} of ${String(N)} started)`);
      assert.ok((srv.server?.inFlight ?? 0) <= CAP, 'never more than the in-flight cap admitted');
      await sleep(200);
      assert.equal(svc.rng?.calls, callsWhilePaused, 'no progress while the client does not read');
      raw.socket.resume();
      for (let i = 0; i < N; i++) assert.equal(await nextLength(raw, 20_000), SIZE + i);
      assert.equal(svc.rng.calls, N);
      raw.destroy();
    } finally {
      await srv.stop();
    }
  });
});

describe('graceful close', () => {
  test('close() answers the admitted requests, then closes the connection', async () => {
    const srv = await startTestServer({ getHandler: tinyHandlers(), services: services(() => 150), limits: { maxConcurrentPerConnection: 4 } });
    const raw = await rawConnect(srv.clientOptions());
    raw.send(Buffer.concat([rngRequest(1), rngRequest(2), rngRequest(3)]));
    await sleep(50);
    const stopping = srv.stop();
    assert.deepEqual([await nextLength(raw), await nextLength(raw), await nextLength(raw)], [1, 2, 3]);
    await raw.closed;
    await stopping;
  });
});
