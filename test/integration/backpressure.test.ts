/**
 * Issue 15 item 3, acceptance: a client that never reads pinned about 128 MiB per connection — ten connections
 * pipelining 64 Gets of a 1 MB object grew the server's RSS by 1.3 GiB. With write-side backpressure
 * (src/server/connection.ts: limits.maxResponseBytesPerConnection, and the listener's ResponseBudget for
 * limits.maxResponseBytesBuffered) the growth must stay under 256 MiB, and once those sockets are gone other clients
 * are served. The server is `openkcm serve` in a child process (its worker processes included), so the resident
 * memory measured is the server's own, from /proc.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeTtlv } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';
import { decodeResponse, encodeRequest, requestMessage } from '../../src/kmip/message.js';
import { getPayloads } from '../../src/kmip/payloads/get.js';
import { ObjectType, Operation, ResultStatus } from '../../src/kmip/registry.js';
import { rngRetrievePayloads } from '../../src/kmip/payloads/rng-retrieve.js';
import { processTree } from '../../src/bench/proc.js';
import { rawConnect, startTestServer, tinyHandlers } from '../helpers/server.js';
import type { RawConnection, TestServer, TinyServices } from '../helpers/server.js';

const OBJECT_BYTES = 1_000_000;
const CONNECTIONS = 10;
const GETS_PER_CONNECTION = 64;
const MAX_GROWTH_BYTES = 256 * 1024 * 1024;

/** VmRSS of `pid`, bytes (0 once it is gone). */
function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

function treeRss(pid: number): number {
  // The primary and its KMIP worker processes.
  return (processTree(pid) ?? []).reduce((sum, p) => sum + rssOf(p), 0);
}

describe('backpressure: clients that never read (openkcm serve, worker processes, default limits)', () => {
  let srv: TestServer;
  let uid: string;
  before(async () => {
    srv = await startTestServer({ mode: 'child', workers: 2 });
    const c = await srv.connect();
    try {
      const r = await c.register({
        objectType: ObjectType.OpaqueObject, attributes: [],
        object: { objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000001, opaqueDataValue: new Uint8Array(OBJECT_BYTES).fill(0x5a) },
      });
      uid = r.uniqueIdentifier;
      // Warm up: the object read, decoded and cached, on a worker or two, before the baseline.
      for (let i = 0; i < 4; i++) assert.equal((await c.get(uid)).objectType, ObjectType.OpaqueObject);
    } finally {
      await c.close();
    }
  });
  after(async () => { await srv.stop(); });

  test(`${String(CONNECTIONS)} connections each pipelining ${String(GETS_PER_CONNECTION)} Gets of a 1 MB object, never reading: RSS grows by less than 256 MiB; then others are served`, async () => {
    const pid = srv.child?.pid;
    assert.ok(pid !== undefined);
    const c = await srv.connect();
    const get = encodeTtlv(encodeRequest(requestMessage({ protocolVersion: c.protocolVersion }, [{
      operation: Operation.Get, payload: getPayloads.encodeRequest({ uniqueIdentifier: uid }, c.protocolVersion),
    }])));
    await sleep(500);
    const baseline = treeRss(pid);
    const raws: RawConnection[] = [];
    try {
      for (let i = 0; i < CONNECTIONS; i++) {
        const raw = await rawConnect(srv.clientOptions());
        raw.socket.pause();
        raws.push(raw);
        raw.send(Buffer.concat(Array.from({ length: GETS_PER_CONNECTION }, () => get)));
      }
      // Sample while the server works through what it may produce (it stops when the write buffers are full).
      let peak = baseline;
      for (let i = 0; i < 60; i++) {
        await sleep(100);
        peak = Math.max(peak, treeRss(pid));
      }
      const growth = peak - baseline;
      console.log(`# RSS baseline ${String(Math.round(baseline / 2 ** 20))} MiB, peak ${String(Math.round(peak / 2 ** 20))} MiB, growth ${String(Math.round(growth / 2 ** 20))} MiB`);
      assert.ok(growth < MAX_GROWTH_BYTES, `RSS grew by ${String(Math.round(growth / 2 ** 20))} MiB`);

      // The connection opened before the flood is still served meanwhile.
      assert.equal((await c.get(uid)).objectType, ObjectType.OpaqueObject);
    } finally {
      for (const r of raws) r.destroy();
    }
    // And after those sockets are destroyed, a new client is served too; a reader on a raw connection gets whole
    // responses.
    const fresh = await srv.connect();
    try {
      assert.equal((await fresh.get(uid)).objectType, ObjectType.OpaqueObject);
      const reader = await rawConnect(srv.clientOptions());
      reader.send(Buffer.concat([get, get]));
      for (let i = 0; i < 2; i++) {
        const r = decodeResponse(decodeTtlv(await reader.nextMessage(30_000)));
        assert.equal(r.batchItems[0]?.resultStatus, ResultStatus.Success);
      }
      reader.destroy();
    } finally {
      await fresh.close();
      await c.close();
    }
  });
});

/** An RNG Retrieve of `n` bytes (the tiny handler answers n bytes). */
function rngRequest(n: number): Buffer {
  const pv = { major: 1, minor: 4 };
  return encodeTtlv(encodeRequest(requestMessage({ protocolVersion: pv }, [
    { operation: Operation.RNGRetrieve, payload: rngRetrievePayloads.encodeRequest({ dataLength: n }, pv) },
  ])));
}

describe('limit: maxResponseBytesBuffered, with clients that read and clients that do not', () => {
  test('once a non-reader has filled the server-wide budget it stops producing; a client that reads is still served; after the non-reader goes, all is normal', async () => {
    const svc: TinyServices = { events: [], rng: { calls: 0, active: 0, maxActive: 0 } };
    // The smallest budget: one connection that is behind exhausts it.
    const srv = await startTestServer({ getHandler: tinyHandlers(), services: svc, limits: { maxResponseBytesBuffered: 1 } });
    try {
      const N = 40;
      const SIZE = 512 * 1024;
      const slow = await rawConnect(srv.clientOptions());
      slow.socket.pause();
      slow.send(Buffer.concat(Array.from({ length: N }, () => rngRequest(SIZE))));
      // Wait until the non-reader stops making progress (its write buffer is full: budget used).
      let calls = -1;
      while (calls !== svc.rng?.calls) {
        calls = svc.rng?.calls ?? 0;
        await sleep(300);
      }
      assert.ok(calls < N, `the non-reader stopped being served (${String(calls)} of ${String(N)})`);

      // A client that reads is not held up by someone else's unread responses.
      const reader = await rawConnect(srv.clientOptions());
      for (let i = 0; i < 3; i++) {
        reader.send(rngRequest(16));
        const r = decodeResponse(decodeTtlv(await reader.nextMessage(10_000)));
        assert.equal(r.batchItems[0]?.resultStatus, ResultStatus.Success);
      }
      assert.equal(svc.rng.calls, calls + 3, 'the non-reader made no progress meanwhile');

      slow.destroy();
      await slow.closed;
      reader.send(rngRequest(SIZE));
      assert.equal(decodeResponse(decodeTtlv(await reader.nextMessage(10_000))).batchItems[0]?.resultStatus, ResultStatus.Success);
      reader.destroy();
    } finally {
      await srv.stop();
    }
  });
});
