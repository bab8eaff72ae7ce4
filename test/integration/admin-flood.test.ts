/**
 * Issue 15 item 7 (and item 1's "the admin API gets the same protections"): 260 idle sockets made valid admin calls
 * fail for at least 35 s — the admin listener allowed 256 connections and kept a socket in the TLS handshake for
 * Node's default of 120 s. Here the admin API of a running server (governance on the real PostgreSQL) answers a
 * valid call under that load, and its connection limits (src/cmk/api/limits.ts, `governance.adminApi.limits`) are
 * each exercised at the limit and one past it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { idleSocket, waitFor } from '../helpers/flood.js';
import type { IdleSocket } from '../helpers/flood.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

interface AdminRig {
  readonly srv: TestServer;
  readonly port: number;
  readonly admin: { cert: string; key: string };
  /** GET `urlPath` as the development admin on a new connection. */
  get(urlPath: string): Promise<number>;
  close(): Promise<void>;
}

async function startAdminRig(limits?: Record<string, number>): Promise<AdminRig> {
  const tdb = await createThrowawayDatabase();
  const srv = await startTestServer({
    governance: { databaseUrl: tdb.url, l1HealthIntervalMs: 60_000, ...(limits === undefined ? {} : { adminApi: { limits } }) },
  });
  try {
    const plane = srv.app?.governance;
    assert.ok(plane !== undefined, 'the governance plane runs');
    await waitFor(() => plane.adminApiAddress() !== undefined, 'the admin API to listen', 60_000);
    const port = plane.adminApiAddress()?.port ?? 0;
    const pki = path.join(srv.dataDir, 'pki');
    const admin = { cert: await readFile(path.join(pki, 'admin.crt'), 'utf8'), key: await readFile(path.join(pki, 'admin.key'), 'utf8') };
    return {
      srv, port, admin,
      get: (urlPath) => new Promise((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path: urlPath, ca: srv.ca, ...admin, agent: false, timeout: 20_000 }, (res) => {
          res.resume().on('end', () => { resolve(res.statusCode ?? 0); });
        });
        req.on('timeout', () => { req.destroy(new Error('admin call timed out')); });
        req.on('error', reject).end();
      }),
      close: async () => {
        await srv.stop();
        await tdb.drop();
      },
    };
  } catch (e) {
    await srv.stop();
    await tdb.drop();
    throw e;
  }
}

/** A mutual-TLS connection to the admin API that completes its handshake and then sends nothing. */
function idleTls(rig: AdminRig): Promise<{ socket: tls.TLSSocket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: rig.port, ca: rig.srv.ca, ...rig.admin, checkServerIdentity: () => undefined });
    const closed = new Promise<number>((r) => { socket.once('close', () => { r(Date.now()); }); });
    socket.on('error', () => undefined);
    // Reads (and drops) what the server sends, so the server's FIN is seen.
    socket.resume();
    socket.once('secureConnect', () => { resolve({ socket, closed }); });
    socket.once('error', reject);
  });
}

describe('admin API under 260 idle sockets (default limits)', () => {
  let rig: AdminRig;
  const idle: IdleSocket[] = [];
  before(async () => { rig = await startAdminRig(); });
  after(async () => {
    for (const s of idle) s.destroy();
    await rig.close();
  });

  test('a valid admin call is answered', async () => {
    for (let i = 0; i < 260; i++) idle.push(await idleSocket(rig.port));
    await sleep(300);
    const start = Date.now();
    assert.equal(await rig.get('/v1/tenants'), 200);
    console.log(`# admin call answered in ${String(Date.now() - start)} ms with 260 idle sockets open`);
  });
});

describe('admin API connection limits (governance.adminApi.limits), at the limit and one past it', () => {
  const L = {
    maxConnections: 6, maxHandshakingConnections: 4, maxHandshakingPerAddress: 3, handshakeTimeoutMs: 2_000,
    headersTimeoutMs: 3_000, requestTimeoutMs: 3_000, keepAliveTimeoutMs: 1_000,
  };
  let rig: AdminRig;
  const open: { destroy(): void }[] = [];
  const closeAll = async (): Promise<void> => {
    for (const s of open.splice(0)) s.destroy();
    await sleep(300);
  };
  before(async () => { rig = await startAdminRig(L); });
  after(async () => {
    await closeAll();
    await rig.close();
  });

  test('maxHandshakingPerAddress: 3 idle sockets from one address stay; a 4th closes its oldest', async () => {
    const s: IdleSocket[] = [];
    for (let i = 0; i < L.maxHandshakingPerAddress; i++) s.push(await idleSocket(rig.port, '127.0.0.2'));
    open.push(...s);
    await sleep(500);
    assert.ok(s.every((x) => !x.isClosed()), 'at the limit nothing is closed');
    const extra = await idleSocket(rig.port, '127.0.0.2');
    open.push(extra);
    await s[0]?.closed;
    await sleep(200);
    assert.deepEqual([...s, extra].map((x) => x.isClosed()), [true, false, false, false]);
    await closeAll();
  });

  test('maxHandshakingConnections: 4 idle sockets stay; a 5th closes the oldest; an admin gets in past a full budget', async () => {
    const s: IdleSocket[] = [];
    for (let i = 0; i < L.maxHandshakingConnections; i++) s.push(await idleSocket(rig.port, `127.0.0.${String(10 + i)}`));
    open.push(...s);
    await sleep(500);
    assert.ok(s.every((x) => !x.isClosed()), 'at the limit nothing is closed');
    const extra = await idleSocket(rig.port, '127.0.0.20');
    open.push(extra);
    await s[0]?.closed;
    await sleep(200);
    assert.deepEqual([...s, extra].map((x) => x.isClosed()), [true, false, false, false, false]);
    assert.equal(await rig.get('/v1/tenants'), 200);
    await closeAll();
  });

  test('handshakeTimeoutMs: a socket that never starts its handshake is closed after it, not after 120 s', async () => {
    const s = await idleSocket(rig.port, '127.0.0.30');
    open.push(s);
    const start = Date.now();
    const ms = (await s.closed) - start;
    assert.ok(ms >= L.handshakeTimeoutMs - 200, `not before the timeout (${String(ms)} ms)`);
    assert.ok(ms < 20_000, `closed after ${String(ms)} ms`);
    await closeAll();
  });

  test('headersTimeoutMs: a silent connection and headers that trickle in are cut off after it; headers complete within it are answered', async () => {
    const trickle = async (lines: number): Promise<{ text: string; ms: number }> => {
      const c = await idleTls(rig);
      open.push(c.socket);
      let text = '';
      c.socket.setEncoding('utf8').on('data', (d: string) => { text += d; });
      const start = Date.now();
      c.socket.write('GET /healthz HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n');
      // A header line every 500 ms: never idle for idleTimeoutMs.
      for (let i = 0; i < lines && !c.socket.destroyed; i++) {
        await sleep(500);
        c.socket.write(`X-Slow-${String(i)}: 1\r\n`);
      }
      if (!c.socket.destroyed) c.socket.write('\r\n');
      await c.closed;
      return { text, ms: Date.now() - start };
    };
    // A connection that completed its handshake and sends nothing (bearer-token clients need no certificate).
    const quiet = await idleTls(rig);
    open.push(quiet.socket);
    const start = Date.now();
    const quietMs = (await quiet.closed) - start;
    assert.ok(quietMs >= L.headersTimeoutMs - 200 && quietMs < 20_000, `silent connection closed after ${String(quietMs)} ms`);
    // Done after ~1 s: answered.
    const inTime = await trickle(2);
    assert.match(inTime.text, /^HTTP\/1\.1 200 /);
    // Still sending after 10 s: cut off once headersTimeoutMs has passed (checked every second).
    const slow = await trickle(20);
    assert.doesNotMatch(slow.text, /^HTTP\/1\.1 200 /);
    assert.ok(slow.ms >= L.headersTimeoutMs - 200 && slow.ms < 9_500, `cut off after ${String(slow.ms)} ms`);
    await closeAll();
  });

  test('maxConnections: 6 connections are held; a 7th is closed at once; after one leaves an admin call works', async () => {
    const held: { socket: tls.TLSSocket; closed: Promise<number> }[] = [];
    for (let i = 0; i < L.maxConnections; i++) held.push(await idleTls(rig));
    open.push(...held.map((h) => h.socket));
    await assert.rejects(rig.get('/healthz'), 'one past the limit: refused');
    held[0]?.socket.destroy();
    await held[0]?.closed;
    await sleep(200);
    assert.equal(await rig.get('/healthz'), 200);
    await closeAll();
  });

  test('keepAliveTimeoutMs: a second request within it is answered on the same connection; then idle, it is closed after it', async () => {
    const c = await idleTls(rig);
    open.push(c.socket);
    let text = '';
    c.socket.setEncoding('utf8').on('data', (d: string) => { text += d; });
    const answers = (): number => text.split('HTTP/1.1 200 ').length - 1;
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n');
    await waitFor(() => answers() === 1, 'the first answer');
    await sleep(L.keepAliveTimeoutMs / 2);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n');
    await waitFor(() => answers() === 2, 'the second answer on the kept-alive connection');
    const start = Date.now();
    const ms = (await c.closed) - start;
    assert.ok(ms >= L.keepAliveTimeoutMs - 200 && ms < 20_000, `closed ${String(ms)} ms after the last answer`);
    await closeAll();
  });
});
