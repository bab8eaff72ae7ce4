/**
 * The KMIP listener's TLS (src/server/listener.ts): TLS 1.2 and 1.3 with modern suites,
 * mandatory client certificates from the configured CA (KMIP 1.4 §12.1 / Profiles §3.1), and
 * identity (CN or SAN URI) → tenant.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { issueClientCert, loadCa } from '../../src/pki/dev-pki.js';
import { testPki } from '../helpers/pki.js';
import { rawConnect, startTestServer, tinyHandlers, whoami, whoamiBytes } from '../helpers/server.js';
import type { RawConnection, TestServer } from '../helpers/server.js';

/** A connection the server must refuse: either the handshake fails or it closes before any response. */
async function assertRefused(srv: TestServer, connect: () => Promise<RawConnection>): Promise<void> {
  const before = srv.server?.stats.established;
  let raw: RawConnection;
  try {
    raw = await connect();
  } catch {
    assert.equal(srv.server?.stats.established, before);
    return;
  }
  // TLS 1.3: the client's handshake can complete before the server's alert arrives.
  raw.send(whoamiBytes());
  await assert.rejects(raw.nextMessage(5_000), /closed/);
  assert.equal(srv.server?.stats.established, before, 'the server never established the connection');
}

describe('server TLS', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ tenants: ['alice', 'bob'], getHandler: tinyHandlers(), services: { events: [] } });
  });
  after(async () => { await srv.stop(); });

  test('TLS 1.2 connects with an ECDHE AEAD suite and serves requests', async () => {
    const raw = await rawConnect({ ...srv.clientOptions('alice'), maxTlsVersion: 'TLSv1.2' });
    assert.equal(raw.socket.getProtocol(), 'TLSv1.2');
    assert.match(raw.socket.getCipher().name, /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20)/);
    assert.equal(await whoami(raw), 'alice');
    raw.destroy();
  });

  test('TLS 1.3 connects and serves requests', async () => {
    const raw = await rawConnect({ ...srv.clientOptions('alice'), minTlsVersion: 'TLSv1.3' });
    assert.equal(raw.socket.getProtocol(), 'TLSv1.3');
    assert.equal(await whoami(raw), 'alice');
    raw.destroy();
  });

  test('the KMIP client negotiates and works as each tenant; identity (CN) maps to the tenant', async () => {
    for (const tenant of ['alice', 'bob']) {
      const c = await srv.connect(tenant);
      assert.equal(Buffer.from(await c.rngRetrieve(0)).toString(), tenant);
      await c.close();
    }
  });

  test('no client certificate: refused in the handshake', async () => {
    const o = srv.clientOptions('alice');
    await assertRefused(srv, () => rawConnect({ host: o.host, port: o.port, ca: srv.ca }));
    await assertRefused(srv, () => rawConnect({ host: o.host, port: o.port, ca: srv.ca, maxTlsVersion: 'TLSv1.2' }));
  });

  test('a client certificate from another CA: refused in the handshake', async () => {
    const pki = await testPki();
    const o = srv.clientOptions('alice');
    await assertRefused(srv, () => rawConnect({ host: o.host, port: o.port, ca: srv.ca, cert: pki.foreignClient.certPem, key: pki.foreignClient.keyPem }));
    await assertRefused(srv, () => rawConnect({ host: o.host, port: o.port, ca: srv.ca, cert: pki.foreignClient.certPem, key: pki.foreignClient.keyPem, maxTlsVersion: 'TLSv1.2' }));
  });

  test('the healthy connection still works after the refusals', async () => {
    const c = await srv.connect('bob');
    assert.equal(Buffer.from(await c.rngRetrieve(0)).toString(), 'bob');
    await c.close();
  });
});

describe('server identity mapping', () => {
  test('SAN URI identity through the tenant map; unmapped identities refused when configured', async () => {
    const srv = await startTestServer({
      tenants: ['default'],
      getHandler: tinyHandlers(),
      services: { events: [] },
      identity: { source: 'uri-or-cn', unmapped: 'reject', tenants: { 'spiffe://example.org/app1': 'acme', default: 'default' } },
    });
    try {
      const pkiDir = path.join(srv.dataDir, 'pki');
      const ca = await loadCa(await readFile(path.join(pkiDir, 'ca.crt'), 'utf8'), await readFile(path.join(pkiDir, 'ca.key'), 'utf8'));
      const app1 = await issueClientCert(ca, 'some-cn', { uris: ['spiffe://example.org/app1'] });
      const stranger = await issueClientCert(ca, 'stranger');
      const o = srv.clientOptions('default');

      const a = await rawConnect({ host: o.host, port: o.port, ca: srv.ca, cert: app1.certPem, key: app1.keyPem });
      assert.equal(await whoami(a), 'acme');
      a.destroy();

      const d = await rawConnect(o);
      assert.equal(await whoami(d), 'default', 'no SAN URI: the CN is the identity');
      d.destroy();

      const s = await rawConnect({ host: o.host, port: o.port, ca: srv.ca, cert: stranger.certPem, key: stranger.keyPem });
      s.send(whoamiBytes());
      await assert.rejects(s.nextMessage(5_000), /closed/);
      assert.equal(srv.server?.stats.identityRejected, 1);
    } finally {
      await srv.stop();
    }
  });
});
