/**
 * Issue 18: client enrolment and the certificate lifecycle against a running server (in-process, governance on the
 * real PostgreSQL):
 *
 * - a CSR made with `openssl req` is signed through the admin API and the certificate serves KMIP for its tenant;
 * - revocation bites: the revoked client's open connection is closed and its next handshake refused within 5 s,
 *   while a sibling client of the same tenant keeps working; the CRL (DER and PEM) lists the serial;
 * - a run-time identity mapping applies without a restart, and removing it closes the connection it admitted;
 * - bad input gets a clear error: a CSR asking for CA:true, a wrong key type, an oversized CSR, garbage, a name clash;
 * - admins: `admin issue` makes a second approver; never above the caller's role; a tenant admin stays in its tenant;
 * - bring your own CA: an enterprise anchor is honoured for its tenants only, its CRL is applied, and with no CRL
 *   available it fails closed until one can be read.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { initDataDir } from '../../src/cli/commands/init.js';
import { KmipClient } from '../../src/client/client.js';
import { CryptographicAlgorithm, CryptographicUsageMask, Operation, Tag } from '../../src/kmip/registry.js';
import { encodeRequest, requestMessage } from '../../src/kmip/message.js';
import { encodeTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import { createCa, issueClientCert, loadCa } from '../../src/pki/dev-pki.js';
import { buildCrl } from '../../src/pki/enrol.js';
import { adminClient, readDevAdminPem } from '../helpers/admin-client.js';
import type { AdminCall } from '../helpers/admin-client.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { admitted, outcomeOf, refused } from '../helpers/kmip-outcome.js';
import { assertPyKmipInstalled, PYTHON } from '../helpers/pykmip.js';
import { interopScript } from '../helpers/repo.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };
/** Runs PyKMIP's real client (one lifecycle at KMIP 1.2, the "pie" layer); resolves with its summary line. */
function runPyKmip(args: string[]): Promise<{ code: number | null; summary: Record<string, unknown> | undefined; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [interopScript('pykmip_client_driver.py'), ...args, '--kmip-version', '1.2', '--layer', 'proxy', '--timeout', '10', '--run-id', `enrol-${Date.now().toString(36)}`],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONWARNINGS: 'ignore', PYTHONDONTWRITEBYTECODE: '1' } });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { out += d; });
    child.stderr.resume();
    const killer = setTimeout(() => { child.kill('SIGKILL'); }, 90_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      const last = out.trim().split('\n').map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return undefined; } }).filter((x) => x?.step === 'summary').pop();
      resolve({ code, summary: last, out });
    });
  });
}

/** Issue 18: a revoked client's new handshakes fail within 5 s. */
const REVOCATION_BOUND_MS = 5_000;

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** POST /kmip with a TTLV Discover Versions on `agent` (its client certificate); resolves with the HTTP status. */
function kmipOverHttps(port: number | undefined, agent: HttpsAgent): Promise<number> {
  assert.ok(port !== undefined, 'the server runs KMIP over HTTPS');
  const body = encodeTtlv(encodeRequest(requestMessage({ protocolVersion: { major: 1, minor: 4 } }, [
    { operation: Operation.DiscoverVersions, payload: { tag: Tag.RequestPayload, type: ItemType.Structure, value: [] } },
  ])));
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/kmip', method: 'POST', agent, servername: 'localhost',
      headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => { resolve(res.statusCode ?? 0); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('client enrolment over the admin API (issue 18)', () => {
  let tdb: Awaited<ReturnType<typeof createThrowawayDatabase>>;
  let srv: TestServer;
  let admin: AdminCall;
  let adminPort: number;
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'openkcm-enrol-'));
    tdb = await createThrowawayDatabase();
    srv = await startTestServer({ tenants: ['alpha', 'beta'], identity: { tenants: { alpha: 'alpha', beta: 'beta' } }, governance: { databaseUrl: tdb.url, pki: { maxCsrBytes: 4096 } }, https: {} });
    await srv.app?.governance?.started;
    const a = srv.app?.governance?.adminApiAddress();
    assert.ok(a !== undefined);
    adminPort = a.port;
    const pki = path.join(srv.dataDir, 'pki');
    admin = adminClient({ port: adminPort, ca: srv.ca, ...await readDevAdminPem(pki) });
  });
  after(async () => {
    await srv.stop();
    await tdb.drop();
    await rm(work, { recursive: true, force: true });
  });

  const kmipAs = (cert: string, key: string) => ({ host: '127.0.0.1', port: srv.port, ca: srv.ca, cert, key });

  test('a CSR from `openssl req` is signed; the certificate serves KMIP for its tenant', async () => {
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'array1.key', '-out', 'array1.csr', '-subj', '/O=Array Vendor/CN=array1.example'], work);
    const csr = await readFile(path.join(work, 'array1.csr'), 'utf8');
    const r = await admin('POST', '/v1/clients', { name: 'array1', tenant: 'alpha', csr, sans: ['DNS:array1.example'] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const body = r.body as Record<string, string>;
    assert.equal(body.tenant, 'alpha');
    assert.equal(body.key, undefined, 'the array keeps its own key');
    await writeFile(path.join(work, 'array1.crt'), body.certificate ?? '');
    // What the CA signed: subject CN=<name> (not the CSR's), clientAuth, CA:false, the SAN asked for.
    const text = openssl(['x509', '-in', 'array1.crt', '-noout', '-text'], work);
    assert.match(text, /Subject: CN\s?=\s?array1/);
    assert.match(text, /TLS Web Client Authentication/);
    assert.match(text, /CA:FALSE/);
    assert.match(text, /DNS:array1\.example/);
    const c = await KmipClient.connect(kmipAs(body.certificate ?? '', await readFile(path.join(work, 'array1.key'), 'utf8')));
    const uid = await c.createSymmetricKey(AES);
    assert.ok(uid.length > 0);
    await c.close();
    // PyKMIP's real client, with the key `openssl req` made and the certificate the appliance signed.
    assertPyKmipInstalled();
    const py = await runPyKmip(['--host', '127.0.0.1', '--port', String(srv.port), '--ca', path.join(srv.dataDir, 'pki', 'ca.crt'),
      '--cert', path.join(work, 'array1.crt'), '--key', path.join(work, 'array1.key')]);
    assert.equal(py.code, 0, `PyKMIP's client failed with the enrolled certificate:\n${py.out}`);
    assert.equal(py.summary?.ok, true);
    // Expiry in the metrics (issue 18 item 5).
    const metrics = (await admin('GET', '/metrics')).raw.toString('utf8');
    assert.match(metrics, /openkcm_certificate_expiry_seconds\{certificate="server"\} \d+/);
    assert.match(metrics, /openkcm_certificate_expiring\{certificate="server"\} 0/);
    const list = await admin('GET', '/v1/clients?tenant=alpha');
    assert.deepEqual(((list.body as { clients: { name: string }[] }).clients).map((x) => x.name), ['array1']);
    const shown = await admin('GET', '/v1/clients/array1');
    assert.equal((shown.body as { state: string }).state, 'active');
  });

  test('revocation closes the live connection and refuses the next handshake within 5 s; the sibling keeps working; the CRL lists it', async () => {
    const issue = async (name: string): Promise<{ cert: string; key: string; serial: string }> => {
      const r = await admin('POST', '/v1/clients', { name, tenant: 'alpha' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const b = r.body as { certificate: string; key: string; serial: string };
      assert.match(b.key, /BEGIN PRIVATE KEY/, 'no CSR: the appliance makes the key pair and returns it once');
      return { cert: b.certificate, key: b.key, serial: b.serial };
    };
    const doomed = await issue('array2');
    const sibling = await issue('array3');
    const live = await KmipClient.connect(kmipAs(doomed.cert, doomed.key));
    const other = await KmipClient.connect(kmipAs(sibling.cert, sibling.key));
    // KMIP over HTTPS (issue 20) on one keep-alive connection per client: the revocation reaches it too.
    const doomedHttps = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: srv.ca, cert: doomed.cert, key: doomed.key });
    const siblingHttps = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: srv.ca, cert: sibling.cert, key: sibling.key });
    assert.equal(await kmipOverHttps(srv.httpsPort, doomedHttps), 200);
    assert.equal(await kmipOverHttps(srv.httpsPort, siblingHttps), 200);
    assert.equal(await outcomeOf(live.rngRetrieve(8)), 'success');
    assert.equal(await outcomeOf(other.rngRetrieve(8)), 'success');

    const t0 = performance.now();
    const r = await admin('POST', '/v1/clients/array2/revoke', { reason: 'array decommissioned' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await until('the live connection of the revoked client is closed', async () => ((await outcomeOf(live.rngRetrieve(8))) === 'success' ? undefined : true), REVOCATION_BOUND_MS, 50);
    await until('a new handshake of the revoked client is refused', async () => ((await refused(kmipAs(doomed.cert, doomed.key))) ? true : undefined), REVOCATION_BOUND_MS, 50);
    console.log(`# revocation bit ${(performance.now() - t0).toFixed(0)} ms after the revoke call`);
    await until('the revoked client is refused over HTTPS on its open keep-alive connection', async () => ((await kmipOverHttps(srv.httpsPort, doomedHttps)) === 403 ? true : undefined), REVOCATION_BOUND_MS, 50);
    assert.equal(await kmipOverHttps(srv.httpsPort, siblingHttps), 200, 'the sibling over HTTPS');
    doomedHttps.destroy();
    siblingHttps.destroy();
    assert.equal(await outcomeOf(other.rngRetrieve(8)), 'success', 'the sibling on its open connection');
    const again = await KmipClient.connect(kmipAs(sibling.cert, sibling.key));
    assert.equal(await outcomeOf(again.rngRetrieve(8)), 'success', 'the sibling on a new connection');
    await Promise.all([again.close(), other.close(), live.close().catch(() => undefined)]);

    assert.equal((await admin('POST', '/v1/clients/array2/revoke', {})).status, 409, 'revoked already');
    const der = await admin('GET', '/v1/pki/crl');
    assert.equal(der.status, 200);
    assert.equal(der.type, 'application/pkix-crl');
    await writeFile(path.join(work, 'crl.der'), der.raw);
    const crlText = openssl(['crl', '-inform', 'DER', '-in', 'crl.der', '-noout', '-text'], work);
    assert.match(crlText.toUpperCase(), new RegExp(`SERIAL NUMBER: 0*${doomed.serial.toUpperCase().replace(/^0+/, '')}`));
    assert.doesNotMatch(crlText.toUpperCase(), new RegExp(sibling.serial.toUpperCase().replace(/^0+/, '')));
    const pem = await admin('GET', '/v1/pki/crl?format=pem');
    assert.match(pem.raw.toString('utf8'), /-----BEGIN X509 CRL-----/);
    // The CRL verifies against the client CA (openssl checks the signature with -CAfile).
    await writeFile(path.join(work, 'crl.pem'), pem.raw);
    assert.match(openssl(['crl', '-in', 'crl.pem', '-CAfile', path.join(srv.dataDir, 'pki', 'ca.crt'), '-noout'], work) + 'ok', /ok/);
  });

  test('an identity mapping applies without a restart; removing it closes the connection it admitted', async () => {
    const pki = path.join(srv.dataDir, 'pki');
    const ca = await loadCa(await readFile(path.join(pki, 'ca.crt'), 'utf8'), await readFile(path.join(pki, 'ca.key'), 'utf8'));
    const ext = await issueClientCert(ca, 'ext-app');
    assert.equal(await refused(kmipAs(ext.certPem, ext.keyPem)), true, 'unmapped: refused (the config maps alpha and beta)');
    const m = await admin('POST', '/v1/identities', { identity: 'ext-app', tenant: 'beta' });
    assert.equal(m.status, 200, JSON.stringify(m.body));
    const c = await until('the mapping applies', () => admitted(kmipAs(ext.certPem, ext.keyPem)), REVOCATION_BOUND_MS, 50);
    const uid = await c.createSymmetricKey(AES);
    const beta = await srv.connect('beta');
    assert.equal((await beta.get(uid)).uniqueIdentifier, uid, 'ext-app speaks for tenant beta');
    await beta.close();
    const listed = await admin('GET', '/v1/identities?tenant=beta');
    assert.ok((listed.body as { identities: { identity: string }[] }).identities.some((x) => x.identity === 'ext-app'));
    assert.equal((await admin('POST', '/v1/identities/unmap', { identity: 'ext-app' })).status, 200);
    await until('the connection admitted by the mapping is closed', async () => ((await outcomeOf(c.rngRetrieve(8))) === 'success' ? undefined : true), REVOCATION_BOUND_MS, 50);
    await c.close().catch(() => undefined);
  });

  test('bad input gets a clear error', async () => {
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.csr', '-subj', '/CN=evil', '-addext', 'basicConstraints=critical,CA:TRUE'], work);
    openssl(['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', 'weak.key', '-out', 'weak.csr', '-subj', '/CN=weak'], work);
    const expectError = async (body: unknown, status: number, message: RegExp): Promise<void> => {
      const r = await admin('POST', '/v1/clients', body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.match((r.body as { error: { message: string } }).error.message, message);
    };
    await expectError({ name: 'evil', tenant: 'alpha', csr: await readFile(path.join(work, 'ca.csr'), 'utf8') }, 400, /CA certificate \(basicConstraints CA:true\)/);
    await expectError({ name: 'weak', tenant: 'alpha', csr: await readFile(path.join(work, 'weak.csr'), 'utf8') }, 400, /key type RSA 1024 is not accepted/);
    await expectError({ name: 'junk', tenant: 'alpha', csr: 'hello' }, 400, /exactly one PEM block/);
    // maxCsrBytes is 4096 here: a CSR of exactly 4096 bytes passes the size check (and then fails as a CSR), 4097 not.
    const good = await readFile(path.join(work, 'array1.csr'), 'utf8');
    const pad = (n: number): string => good + ' '.repeat(n - Buffer.byteLength(good));
    await expectError({ name: 'big', tenant: 'alpha', csr: pad(4097) }, 400, /4097 bytes; at most 4096/);
    const atLimit = await admin('POST', '/v1/clients', { name: 'atlimit', tenant: 'alpha', csr: pad(4096) });
    assert.equal(atLimit.status, 201, `a CSR of exactly maxCsrBytes is accepted: ${JSON.stringify(atLimit.body)}`);
    await expectError({ name: 'array1', tenant: 'alpha' }, 409, /exists already/);
    await expectError({ name: 'array9', tenant: 'Not-Governable', csr: good }, 404, /no governed tenant/);
    await expectError({ name: '../x', tenant: 'alpha' }, 400, /name/);
  });

  test('admin issue: a second approver; never above the caller; a tenant admin stays in its tenant', async () => {
    const mk = async (body: unknown, by = admin): Promise<AdminCall> => {
      const r = await by('POST', '/v1/admins', body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const b = r.body as { certificate: string; key: string };
      return adminClient({ port: adminPort, ca: srv.ca, cert: b.certificate, key: b.key });
    };
    const second = await mk({ name: 'second-admin', role: 'admin' });
    assert.equal((await second('GET', '/v1/tenants')).status, 200, 'the issued admin is an admin');
    const officer = await mk({ name: 'officer1', role: 'security-officer' });
    const up = await officer('POST', '/v1/admins', { name: 'climber', role: 'admin' });
    assert.equal(up.status, 403);
    assert.match((up.body as { error: { message: string } }).error.message, /above the caller's own role/);
    assert.equal((await officer('POST', '/v1/admins', { name: 'auditor1', role: 'auditor' })).status, 201, 'at or below its own role');
    const alphaAdmin = await mk({ name: 'alpha-admin', role: 'admin', tenant: 'alpha' });
    assert.equal((await alphaAdmin('POST', '/v1/clients', { name: 'alpha-array', tenant: 'alpha' })).status, 201);
    assert.equal((await alphaAdmin('POST', '/v1/clients', { name: 'beta-array', tenant: 'beta' })).status, 403, 'another tenant');
    assert.equal((await alphaAdmin('POST', '/v1/admins', { name: 'platform2', role: 'admin' })).status, 403, 'a platform admin is above its scope');
    assert.equal((await alphaAdmin('GET', '/v1/tenants')).status, 403, 'platform routes are refused to a tenant admin');
    assert.equal((await alphaAdmin('GET', '/v1/tenants/alpha')).status, 200);
    // Revoking an admin certificate takes its roles away.
    assert.equal((await admin('POST', '/v1/admins/second-admin/revoke', {})).status, 200);
    assert.equal((await second('GET', '/v1/tenants')).status, 403);
    // Every change is audited in the tenant's chain.
    const audit = await admin('GET', '/v1/tenants/alpha/audit?limit=1000');
    const ops = (audit.body as { records: { operation: string }[] }).records.map((x) => x.operation);
    for (const op of ['client.issue', 'client.revoke', 'admin.issue']) assert.ok(ops.includes(op), `${op} audited`);
  });
});

describe('bring your own CA (issue 18 item 4)', () => {
  let dir: string;
  let corpCa: Awaited<ReturnType<typeof createCa>>;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'openkcm-byoca-'));
    await initDataDir({ dataDir: dir, tenants: ['alpha', 'beta'] });
    corpCa = await createCa('Corp Issuing CA');
    await writeFile(path.join(dir, 'pki', 'corp-ca.crt'), corpCa.certPem);
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  test('an enterprise anchor serves its tenants only; its CRL is honoured; no CRL fails closed until one is read', async () => {
    const app = await issueClientCert(corpCa, 'corp-app');
    const gone = await issueClientCert(corpCa, 'corp-gone');
    const stray = await issueClientCert(corpCa, 'corp-beta');
    const goneSerial = new (await import('node:crypto')).X509Certificate(gone.certPem).serialNumber;
    const crlFile = path.join(dir, 'corp.crl');
    const srv = await startTestServer({
      dataDir: dir, tenants: ['alpha'],
      identity: { tenants: { 'alpha': 'alpha', 'beta': 'beta', 'corp-app': 'alpha', 'corp-gone': 'alpha', 'corp-beta': 'beta' } },
      trust: { anchors: [{ name: 'corp', ca: 'pki/corp-ca.crt', tenants: ['alpha'], crl: ['corp.crl'], crlRefreshMs: 1000 }] },
    });
    try {
      const as = (c: { certPem: string; keyPem: string }) => ({ host: '127.0.0.1', port: srv.port, ca: srv.ca, cert: c.certPem, key: c.keyPem });
      assert.equal(await refused(as(app)), true, 'no CRL could be read yet: fail-closed');
      assert.equal(await outcomeOf((await srv.connect('alpha')).rngRetrieve(8)), 'success', 'the appliance CA is unaffected');
      await writeFile(crlFile, Buffer.from(await buildCrl(corpCa, [{ serial: goneSerial, revokedAt: new Date() }])));
      const c = await until('the CRL is read and the anchor served', () => admitted(as(app)), 10_000, 50);
      await c.close();
      assert.equal(await refused(as(gone)), true, 'listed in the anchor\'s CRL');
      assert.equal(await refused(as(stray)), true, 'the anchor does not speak for tenant beta');
      // A CRL signed by another CA is not the anchor's: ignored, the previous one stays in force.
      const foreign = await createCa('Not Corp');
      await writeFile(crlFile, Buffer.from(await buildCrl(foreign, [])));
      await new Promise((r) => setTimeout(r, 2_000));
      assert.equal(await refused(as(gone)), true, 'a forged CRL does not un-revoke');
    } finally {
      await srv.stop();
    }
  });
});
