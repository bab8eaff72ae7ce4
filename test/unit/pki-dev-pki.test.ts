/**
 * src/pki/dev-pki.ts: certificates are checked with Node's own (OpenSSL) X.509 parser, so
 * the test does not trust the library that made them.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCa, issueClientCert, issueServerCert, loadCa, writeDevPki } from '../../src/pki/dev-pki.js';
import type { DevCa } from '../../src/pki/dev-pki.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

let ca: DevCa;
before(async () => { ca = await createCa('Unit Test CA'); });

describe('dev PKI certificates', () => {
  test('the CA is a self-signed CA certificate with an EC P-256 key', () => {
    const c = new X509Certificate(ca.certPem);
    assert.equal(c.ca, true);
    assert.equal(c.subject, 'CN=Unit Test CA');
    assert.ok(c.checkIssued(c));
    assert.ok(c.verify(c.publicKey));
    const key = createPrivateKey(ca.keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });

  test('server certificate: issued by the CA, EKU serverAuth, DNS and IP SANs, not a CA', async () => {
    const s = await issueServerCert(ca, { dnsNames: ['localhost', 'kms.test'], ips: ['127.0.0.1', '::1'] });
    const c = new X509Certificate(s.certPem);
    const caCert = new X509Certificate(ca.certPem);
    assert.ok(c.checkIssued(caCert));
    assert.ok(c.verify(caCert.publicKey));
    assert.equal(c.ca, false);
    assert.deepEqual(c.keyUsage, [SERVER_AUTH]);
    assert.equal(c.checkHost('kms.test'), 'kms.test');
    assert.equal(c.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(c.checkIP('::1'), '::1');
    assert.equal(c.checkIP('10.0.0.1'), undefined);
    assert.ok(c.checkPrivateKey(createPrivateKey(s.keyPem)));
  });

  test('client certificate: EKU clientAuth (PyKMIP requires it), CN identity, optional URI SAN', async () => {
    const cl = await issueClientCert(ca, 'tenant-a', { uris: ['spiffe://openkcm/tenant/a'] });
    const c = new X509Certificate(cl.certPem);
    assert.ok(c.verify(new X509Certificate(ca.certPem).publicKey));
    assert.deepEqual(c.keyUsage, [CLIENT_AUTH]);
    assert.equal(c.subject, 'CN=tenant-a');
    assert.equal(c.subjectAltName, 'URI:spiffe://openkcm/tenant/a');
  });

  test('a CN with RDN separators cannot inject extra attributes into the subject', async () => {
    const cl = await issueClientCert(ca, 'a,O=evil+CN=root');
    const subject = new X509Certificate(cl.certPem).subject;
    assert.equal(subject.split('\n').length, 1, subject);
    assert.ok(subject.startsWith('CN='));
  });

  test('bad inputs are refused with the constraint named', async () => {
    await assert.rejects(issueServerCert(ca, {}), /at least one DNS name or IP/);
    await assert.rejects(issueServerCert(ca, { ips: ['not-an-ip'] }), /not an IP address/);
    await assert.rejects(issueClientCert(ca, ''), /common name/);
    await assert.rejects(issueClientCert(ca, 'x', { uris: ['no scheme'] }), /not a URI/);
    await assert.rejects(createCa('x', { validityDays: 0 }), /validityDays/);
  });

  test('loadCa restores a CA that issues certificates the original CA certificate verifies', async () => {
    const again = await loadCa(ca.certPem, ca.keyPem);
    const cl = await issueClientCert(again, 'later-tenant');
    assert.ok(new X509Certificate(cl.certPem).verify(new X509Certificate(ca.certPem).publicKey));
  });

  test('RSA-2048 is available for RSA-only peers', async () => {
    const rsaCa = await createCa('RSA CA', { algorithm: 'rsa-2048' });
    const s = await issueServerCert(rsaCa, { ips: ['127.0.0.1'] });
    const c = new X509Certificate(s.certPem);
    assert.equal(c.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(c.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(c.verify(new X509Certificate(rsaCa.certPem).publicKey));
  });
});

describe('writeDevPki', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(path.join(tmpdir(), 'openkcm-pki-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  test('writes ca, server and per-tenant client files; keys are 0600', async () => {
    const out = await writeDevPki(dir, ['acme', { name: 'globex', uris: ['spiffe://openkcm/tenant/globex'] }]);
    assert.equal(out.caCert, path.join(dir, 'ca.crt'));
    assert.equal(out.clients.acme?.cert, path.join(dir, 'clients', 'acme.crt'));
    for (const key of [out.caKey, out.serverKey, out.clients.acme.key, out.clients.globex!.key]) {
      assert.equal((await stat(key)).mode & 0o777, 0o600, key);
    }
    const caCert = new X509Certificate(await readFile(out.caCert));
    const server = new X509Certificate(await readFile(out.serverCert));
    assert.ok(server.verify(caCert.publicKey));
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(server.checkHost('localhost'), 'localhost');
    const globex = new X509Certificate(await readFile(out.clients.globex!.cert));
    assert.equal(globex.subject, 'CN=globex');
    assert.equal(globex.subjectAltName, 'URI:spiffe://openkcm/tenant/globex');
    assert.deepEqual(globex.keyUsage, [CLIENT_AUTH]);
  });

  test('tenant names that could escape clients/ or collide are refused', async () => {
    await assert.rejects(writeDevPki(dir, ['../etc']), /tenant name must match/);
    await assert.rejects(writeDevPki(dir, ['a/b']), /tenant name must match/);
    await assert.rejects(writeDevPki(dir, ['dup', 'dup']), /duplicate tenant name/);
  });
});
