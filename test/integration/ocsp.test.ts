/**
 * Issue 18 item 4: OCSP for enterprise trust anchors, against a real OCSP responder (`openssl ocsp -index ... -port`
 * as a child process, signing with a delegated responder certificate that carries id-kp-OCSPSigning):
 *
 * - a certificate whose AIA names the responder and which the responder calls good is served; one it calls revoked
 *   is refused; the good answer is cached until its nextUpdate (served after the responder is gone);
 * - responder unreachable: the fail-closed anchor (the default) refuses; a fail-open anchor serves and logs it;
 * - an answer signed by a certificate the anchor never authorised is not believed (fail-closed refuses).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initDataDir } from '../../src/cli/commands/init.js';
import { KmipClient } from '../../src/client/client.js';
import { jsonLogger } from '../../src/common/log.js';
import { freePort, issue, makeCa, startResponder, stop } from '../helpers/openssl-ocsp.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

/** True when the server served a KMIP request on a connection with this certificate. */
async function served(srv: TestServer, dir: string, cn: string): Promise<boolean> {
  let c: KmipClient;
  try {
    c = await KmipClient.connect({ host: '127.0.0.1', port: srv.port, ca: srv.ca, cert: await readFile(path.join(dir, `${cn}.crt`), 'utf8'), key: await readFile(path.join(dir, `${cn}.key`), 'utf8') });
  } catch {
    return false;
  }
  try {
    await c.rngRetrieve(8);
    return true;
  } catch {
    return false;
  } finally {
    await c.close().catch(() => undefined);
  }
}

describe('OCSP for enterprise trust anchors (issue 18 item 4)', () => {
  let dir: string;
  let responder: ChildProcess | undefined;
  let rogue: ChildProcess | undefined;
  let srv: TestServer;
  const logs: string[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'openkcm-ocsp-'));
    const pki = path.join(dir, 'pki');
    await initDataDir({ dataDir: dir, tenants: ['alpha'] });
    const [port, roguePort, deadPort] = [await freePort(), await freePort(), await freePort()];
    const aia = (p: number): string => `basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nauthorityInfoAccess=OCSP;URI:http://127.0.0.1:${String(p)}`;
    makeCa(pki, 'corp');
    makeCa(pki, 'lab');
    makeCa(pki, 'rogue');
    issue(pki, 'corp', 'corp-ocsp', 'basicConstraints=CA:FALSE\nextendedKeyUsage=OCSPSigning');
    issue(pki, 'rogue', 'rogue-ocsp', 'basicConstraints=CA:FALSE\nextendedKeyUsage=OCSPSigning');
    const good = issue(pki, 'corp', 'corp-good', aia(port));
    const revoked = issue(pki, 'corp', 'corp-revoked', aia(port));
    const late = issue(pki, 'corp', 'corp-late', aia(port));
    const forged = issue(pki, 'corp', 'corp-forged', aia(roguePort));
    issue(pki, 'lab', 'lab-app', aia(deadPort));
    // The responder's database (openssl ca's index.txt): V valid, R revoked.
    const exp = '301231235959Z';
    await writeFile(path.join(pki, 'index.txt'), [
      `V\t${exp}\t\t${good}\tunknown\t/CN=corp-good`,
      `R\t${exp}\t250101000000Z\t${revoked}\tunknown\t/CN=corp-revoked`,
      `V\t${exp}\t\t${late}\tunknown\t/CN=corp-late`,
      `V\t${exp}\t\t${forged}\tunknown\t/CN=corp-forged`,
    ].join('\n') + '\n');
    responder = await startResponder(pki, port, 'corp-ocsp', 'corp');
    // Signs with a certificate of another CA: a well-formed answer nobody authorised.
    rogue = await startResponder(pki, roguePort, 'rogue-ocsp', 'corp');
    srv = await startTestServer({
      dataDir: dir, tenants: ['alpha'],
      logger: jsonLogger('info', (l) => { logs.push(l); }),
      identity: { tenants: { 'alpha': 'alpha', 'corp-good': 'alpha', 'corp-revoked': 'alpha', 'corp-late': 'alpha', 'corp-forged': 'alpha', 'lab-app': 'alpha' } },
      trust: {
        anchors: [
          { name: 'corp', ca: 'pki/corp.crt', tenants: ['alpha'], ocspTimeoutMs: 3000 },
          { name: 'lab', ca: 'pki/lab.crt', tenants: ['alpha'], onUnavailable: 'fail-open', ocspTimeoutMs: 3000 },
        ],
      },
    });
  });

  after(async () => {
    await srv.stop();
    await stop(responder);
    await stop(rogue);
    await rm(dir, { recursive: true, force: true });
  });

  test('good is served, revoked is refused, a good answer is cached until nextUpdate', async () => {
    assert.match(new X509Certificate(await readFile(path.join(dir, 'pki', 'corp-good.crt'))).infoAccess ?? '', /OCSP - URI:http:\/\/127\.0\.0\.1/);
    assert.equal(await served(srv, path.join(dir, 'pki'), 'corp-good'), true, 'the responder says good');
    assert.equal(await served(srv, path.join(dir, 'pki'), 'corp-revoked'), false, 'the responder says revoked');
    assert.ok(logs.some((l) => l.includes('OCSP: client certificate revoked')), 'the revocation is logged');
  });

  test('an answer signed by a responder the anchor never authorised is not believed', async () => {
    assert.equal(await served(srv, path.join(dir, 'pki'), 'corp-forged'), false);
    assert.ok(logs.some((l) => l.includes('does not verify against the issuer')), 'the forged signature is logged');
  });

  test('responder unreachable: fail-closed refuses, fail-open serves and logs; the cached good answer still serves', async () => {
    await stop(responder);
    responder = undefined;
    assert.equal(await served(srv, path.join(dir, 'pki'), 'corp-late'), false, 'fail-closed: never asked before, responder gone');
    assert.ok(logs.some((l) => l.includes('REFUSED (fail-closed)')));
    assert.equal(await served(srv, path.join(dir, 'pki'), 'corp-good'), true, 'cached until nextUpdate (-ndays 1)');
    assert.equal(await served(srv, path.join(dir, 'pki'), 'lab-app'), true, 'fail-open anchor: served');
    assert.ok(logs.some((l) => l.includes('trust anchor lab') && l.includes('served without a revocation check (fail-open)')), 'and logged');
  });
});
