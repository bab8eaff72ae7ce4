/**
 * Issue 18 items 1 and 5: `openkcm pki server --san` re-issues the server certificate for the appliance's real names,
 * and a running server serves it without a restart, under load, with no failed request and no dropped connection.
 * `openkcm pki status` shows the expiry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { run as pki } from '../../src/cli/commands/pki.js';
import type { KmipClient } from '../../src/client/client.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

/** The SAN the server certificate carries, as a client sees it in the handshake. */
function servedSan(srv: TestServer): Promise<string> {
  const o = srv.clientOptions('alpha');
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: o.host, port: o.port, ca: srv.ca, cert: o.cert, key: o.key, servername: 'kms.example.test', checkServerIdentity: () => undefined }, () => {
      const san = s.getPeerCertificate().subjectaltname;
      s.destroy();
      resolve(san ?? '');
    });
    s.on('error', reject);
  });
}

describe('server certificate rotation (issue 18 item 5)', () => {
  let srv: TestServer;
  before(async () => { srv = await startTestServer({ tenants: ['alpha'] }); });
  after(async () => { await srv.stop(); });

  test('pki server --san under load: new handshakes get the new names, no request fails, open connections stay', async () => {
    assert.doesNotMatch(await servedSan(srv), /kms\.example\.test/);
    const clients: KmipClient[] = await Promise.all([0, 1, 2, 3].map(() => srv.connect('alpha')));
    let ok = 0;
    const failures: string[] = [];
    const run = { stop: false };
    const loops = clients.map(async (c) => {
      while (!run.stop) {
        try {
          await c.rngRetrieve(16);
          ok++;
        } catch (e) {
          failures.push(e instanceof Error ? e.message : String(e));
        }
      }
    });
    // New connections keep arriving during the rotation too.
    const dialer = (async () => {
      let n = 0;
      while (!run.stop) {
        try {
          const c = await srv.connect('alpha');
          await c.rngRetrieve(8);
          await c.close();
          n++;
        } catch (e) {
          failures.push(`new connection: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      return n;
    })();
    await new Promise((r) => setTimeout(r, 300));
    const code = await pki(['server', '--data-dir', srv.dataDir, '--san', 'kms.example.test', '--san', '10.1.2.3']);
    assert.equal(code, 0);
    assert.equal(await srv.app?.tlsReloader.check(), true, 'the replaced pair is installed');
    await new Promise((r) => setTimeout(r, 300));
    run.stop = true;
    await Promise.all(loops);
    const dialled = await dialer;
    assert.deepEqual(failures, [], 'no request failed during the rotation');
    assert.ok(ok > 0 && dialled > 0, `load ran (${String(ok)} requests, ${String(dialled)} new connections)`);
    const san = await servedSan(srv);
    assert.match(san, /DNS:kms\.example\.test/);
    assert.match(san, /IP Address:10\.1\.2\.3/);
    assert.match(san, /DNS:localhost/, 'loopback names are kept unless --no-loopback');
    for (const c of clients) assert.equal((await c.rngRetrieve(4)).length, 4, 'connections opened before the rotation still work');
    await Promise.all(clients.map((c) => c.close()));

    // rotate-server keeps the names, changes the key.
    const before = await readFile(path.join(srv.dataDir, 'pki', 'server.key'), 'utf8');
    assert.equal(await pki(['rotate-server', '--data-dir', srv.dataDir]), 0);
    assert.notEqual(await readFile(path.join(srv.dataDir, 'pki', 'server.key'), 'utf8'), before);
    assert.equal(await srv.app?.tlsReloader.check(), true);
    assert.match(await servedSan(srv), /DNS:kms\.example\.test/);
    // Bad input: a URI is not a server name; status reports every certificate.
    assert.equal(await pki(['server', '--data-dir', srv.dataDir, '--san', 'URI:spiffe://x/y']), 2);
    assert.equal(await pki(['status', '--data-dir', srv.dataDir]), 0);
  });
});
