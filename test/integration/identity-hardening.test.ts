/**
 * Issue 15 item 8, "identity looser than it looks": each defect reproduced against a running server.
 *
 * - A certificate with two subject CNs (`CN=alpha, CN=beta`) is refused, on the KMIP port and on the admin API
 *   (it used to map to tenant beta: the last CN won).
 * - Once an identity map exists, an identity it does not name is refused by default — and the config file `init`
 *   writes has such a map (it used to restrict nothing: any CN from the client CA became a tenant of its own).
 * - The admin API trusts its own CA: a certificate from the KMIP client CA with the SAN URI `urn:openkcm:admin` is
 *   not an admin (it used to be, so whoever issued tenant certificates could mint one).
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { initDataDir } from '../../src/cli/commands/init.js';
import { ADMIN_CA_CERT_FILE, DEV_ADMIN_IDENTITY } from '../../src/pki/admin-cert.js';
import { issueClientCert, loadCa } from '../../src/pki/dev-pki.js';
import type { DevCa, IssuedCert } from '../../src/pki/dev-pki.js';
import { loadConfig } from '../../src/config/index.js';
import { governanceSettings } from '../../src/config/index.js';
import { run as pkiCli } from '../../src/cli/commands/pki.js';
import { IdentityError, tenantOf } from '../../src/server/identity.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { rawConnect, startTestServer, tinyHandlers, whoami, whoamiBytes } from '../helpers/server.js';
import type { RawConnection, TestServer } from '../helpers/server.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A client certificate with a raw subject (two CNs) signed by `ca`: what dev-pki itself never issues. */
async function issueRawSubject(ca: DevCa, subject: string, uris: readonly string[] = []): Promise<IssuedCert> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01a2b3c4d5', subject, issuer: ca.cert.subjectName,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
    publicKey: keys.publicKey, signingKey: ca.privateKey, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      ...(uris.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(uris.map((value) => ({ type: 'url' as const, value })))]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

async function kmipCa(dataDir: string): Promise<DevCa> {
  const pki = path.join(dataDir, 'pki');
  return loadCa(await readFile(path.join(pki, 'ca.crt'), 'utf8'), await readFile(path.join(pki, 'ca.key'), 'utf8'));
}

async function refused(srv: TestServer, cert: IssuedCert): Promise<void> {
  const o = srv.clientOptions();
  const before = srv.server?.stats.identityRejected ?? 0;
  let raw: RawConnection;
  try {
    raw = await rawConnect({ host: o.host, port: o.port, ca: srv.ca, cert: cert.certPem, key: cert.keyPem });
  } catch {
    assert.fail('the handshake itself should succeed: the certificate chains to the client CA');
  }
  raw.send(whoamiBytes());
  await assert.rejects(raw.nextMessage(10_000), /closed/);
  assert.equal(srv.server?.stats.identityRejected, before + 1, 'refused by the identity check');
}

describe('KMIP identity (issue 15 item 8)', () => {
  let srv: TestServer;
  before(async () => {
    // The map names alpha and beta; `unmapped` is NOT set: the default must then be "reject".
    srv = await startTestServer({
      tenants: ['alpha', 'beta'], getHandler: tinyHandlers(), services: { events: [] },
      identity: { tenants: { alpha: 'alpha', beta: 'beta' } },
    });
  });
  after(async () => { await srv.stop(); });

  test('a mapped single-CN certificate is served', async () => {
    const raw = await rawConnect(srv.clientOptions('alpha'));
    assert.equal(await whoami(raw), 'alpha');
    raw.destroy();
  });

  test('a certificate with two subject CNs is refused (it used to become tenant beta)', async () => {
    const ca = await kmipCa(srv.dataDir);
    await refused(srv, await issueRawSubject(ca, 'CN=alpha, CN=beta'));
    await refused(srv, await issueRawSubject(ca, 'CN=alpha+CN=beta'));
  });

  test('with an identity map and no `unmapped` setting, an unmapped CN from the client CA is refused', async () => {
    const ca = await kmipCa(srv.dataDir);
    await refused(srv, await issueClientCert(ca, 'mallory'));
  });
});

describe('the config init writes', () => {
  test('names the init tenants and refuses everyone else', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'openkcm-idh-'));
    try {
      await initDataDir({ dataDir: dir, tenants: ['alpha'] });
      const loaded = await loadConfig(dir);
      assert.equal(tenantOf('alpha', loaded.server.identity), 'alpha');
      assert.throws(() => tenantOf('mallory', loaded.server.identity), IdentityError);
      // An empty map (no config file at all) keeps the quick start's same-name behaviour.
      assert.equal(tenantOf('mallory', { tenants: {} }), 'mallory');
      assert.equal(tenantOf('mallory', { tenants: { alpha: 'alpha' }, unmapped: 'same-name' }), 'mallory', 'an explicit same-name still applies');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a data directory from before the admin CA', () => {
  test('serve refuses to trust the KMIP client CA for admins and names the fix; `openkcm pki admin-ca` makes the admin CA', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'openkcm-idh-old-'));
    try {
      await initDataDir({ dataDir: dir, tenants: ['alpha'] });
      await rm(path.join(dir, 'pki', ADMIN_CA_CERT_FILE));
      await rm(path.join(dir, 'pki', 'admin-ca.key'));
      const loaded = await loadConfig(dir);
      await assert.rejects(governanceSettings(loaded), /openkcm pki admin-ca/);
      assert.equal(await pkiCli(['admin-ca', '--data-dir', dir]), 0);
      const adminCa = await readFile(path.join(dir, 'pki', ADMIN_CA_CERT_FILE), 'utf8');
      assert.equal((await governanceSettings(loaded)).adminApi?.tls.ca, adminCa);
      const adminCert = new x509.X509Certificate(await readFile(path.join(dir, 'pki', 'admin.crt'), 'utf8'));
      assert.equal(adminCert.issuer, new x509.X509Certificate(adminCa).subject, 'admin.crt re-issued from the admin CA');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('admin API trust anchor (issue 15 item 8)', () => {
  let tdb: Awaited<ReturnType<typeof createThrowawayDatabase>>;
  let srv: TestServer;
  let port: number;
  before(async () => {
    tdb = await createThrowawayDatabase();
    srv = await startTestServer({ tenants: ['alpha'], governance: { databaseUrl: tdb.url } });
    await srv.app?.governance?.started;
    const a = srv.app?.governance?.adminApiAddress();
    assert.ok(a !== undefined);
    port = a.port;
  });
  after(async () => {
    await srv.stop();
    await tdb.drop();
  });

  const call = (cert: IssuedCert): Promise<number> => new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, method: 'GET', path: '/v1/tenants', ca: srv.ca, cert: cert.certPem, key: cert.keyPem }, (res) => {
      res.resume();
      res.on('end', () => { resolve(res.statusCode ?? 0); });
    });
    req.on('error', reject);
    req.end();
  });

  test('init writes an admin CA apart from the client CA and issues admin.crt from it', async () => {
    const pki = path.join(srv.dataDir, 'pki');
    const adminCa = await readFile(path.join(pki, ADMIN_CA_CERT_FILE), 'utf8');
    const clientCa = await readFile(path.join(pki, 'ca.crt'), 'utf8');
    assert.notEqual(adminCa, clientCa);
    const adminCert = new x509.X509Certificate(await readFile(path.join(pki, 'admin.crt'), 'utf8'));
    assert.equal(adminCert.issuer, new x509.X509Certificate(adminCa).subject);
    const status = await call({ certPem: adminCert.toString('pem'), keyPem: await readFile(path.join(pki, 'admin.key'), 'utf8') });
    assert.equal(status, 200);
  });

  test('a KMIP-client-CA certificate carrying urn:openkcm:admin is not an admin', async () => {
    const forged = await issueClientCert(await kmipCa(srv.dataDir), 'alpha', { uris: [DEV_ADMIN_IDENTITY] });
    assert.equal(await call(forged), 401);
  });

  test('an admin-CA certificate with two subject CNs is refused', async () => {
    const pki = path.join(srv.dataDir, 'pki');
    const adminCa = await loadCa(await readFile(path.join(pki, ADMIN_CA_CERT_FILE), 'utf8'), await readFile(path.join(pki, 'admin-ca.key'), 'utf8'));
    assert.equal(await call(await issueRawSubject(adminCa, 'CN=openkcm-admin, CN=other', [DEV_ADMIN_IDENTITY])), 401);
  });
});
