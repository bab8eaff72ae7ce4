/**
 * Issue 18 item 5 for the other two TLS listeners: after `openkcm pki rotate-server`, the admin API (which serves the
 * KMIP server certificate by default) and KMIP over HTTPS serve the new certificate to new connections without a
 * restart, while an admin connection opened before keeps working on its own context.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { TLSSocket } from 'node:tls';
import { run as pki } from '../../src/cli/commands/pki.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

interface Answer { status: number; serial: string; socket: TLSSocket }

/** GET on the admin API through `agent`; the answer, the serial of the certificate the server presented, the socket. */
function get(port: number, agent: Agent, urlPath: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
      // Read now: a keep-alive socket goes back to the agent (res.socket null) once the body has ended.
      const socket = res.socket;
      assert.ok(socket instanceof TLSSocket);
      const serial = socket.getPeerCertificate().serialNumber;
      res.resume();
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, serial, socket });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The serial of the certificate a fresh TLS connection to `port` is shown. */
function servedSerial(port: number, ca: string, cert: string, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, cert, key, servername: 'localhost' }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

describe('admin API and KMIP-over-HTTPS certificate rotation without a restart (issue 18 item 5)', () => {
  let tdb: Awaited<ReturnType<typeof createThrowawayDatabase>>;
  let srv: TestServer;
  let adminPort: number;
  let cert: string;
  let key: string;
  before(async () => {
    tdb = await createThrowawayDatabase();
    srv = await startTestServer({ tenants: ['alpha'], governance: { databaseUrl: tdb.url }, https: {} });
    await srv.app?.governance?.started;
    const a = srv.app?.governance?.adminApiAddress();
    assert.ok(a !== undefined);
    adminPort = a.port;
    cert = await readFile(path.join(srv.dataDir, 'pki', 'admin.crt'), 'utf8');
    key = await readFile(path.join(srv.dataDir, 'pki', 'admin.key'), 'utf8');
  });
  after(async () => {
    await srv.stop();
    await tdb.drop();
  });

  test('rotate-server: an open admin connection keeps working, new ones see the new certificate', async () => {
    const kept = new Agent({ keepAlive: true, maxSockets: 1, ca: srv.ca, cert, key });
    const first = await get(adminPort, kept, '/v1/clients');
    assert.equal(first.status, 200);
    const old = first.serial;
    assert.equal(await servedSerial(adminPort, srv.ca, cert, key), old, 'the admin API serves the KMIP server certificate');

    assert.equal(await pki(['rotate-server', '--data-dir', srv.dataDir]), 0);
    const rotated = new (await import('node:crypto')).X509Certificate(await readFile(path.join(srv.dataDir, 'pki', 'server.crt'))).serialNumber;
    assert.notEqual(rotated, old);

    // The admin listener polls the files (kmip.tls.reloadIntervalMs, default 5 s): bounded wait for the swap.
    const giveUp = performance.now() + 20_000;
    let now = old;
    while (now === old) {
      assert.ok(performance.now() < giveUp, 'the admin API did not pick the new certificate up within 20 s');
      await new Promise((r) => setTimeout(r, 200));
      now = await servedSerial(adminPort, srv.ca, cert, key);
    }
    assert.equal(now, rotated, 'a new admin connection is shown the rotated certificate');

    const again = await get(adminPort, kept, '/v1/clients');
    assert.equal(again.status, 200, 'the connection opened before the rotation still answers');
    assert.equal(again.socket, first.socket, 'on the same socket');
    assert.equal(again.serial, old, 'which keeps the context it was made with');
    kept.destroy();

    // KMIP over HTTPS follows the KMIP listener's reload.
    assert.ok(srv.httpsPort !== undefined);
    await srv.app?.tlsReloader.check();
    const client = srv.clientOptions('alpha');
    assert.equal(await servedSerial(srv.httpsPort, srv.ca, String(client.cert), String(client.key)), rotated);
  });
});
