/**
 * Issue 18 with `openkcm serve --workers N` (the default cluster: KMIP in worker processes, governance in the
 * primary), driven through the CLI as an operator would (`openkcm client|identity` with the OPENKCM_ADMIN_*
 * environment): a client enrolled with `client issue` is served by every worker; `client revoke` closes its open
 * connections on every worker and refuses its next handshakes within 5 s while a sibling keeps working; an
 * `identity map` applies on every worker without a restart. Also run with `--workers 0` (one process).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run as clientCli } from '../../src/cli/commands/client.js';
import { run as identityCli } from '../../src/cli/commands/identity.js';
import { KmipClient } from '../../src/client/client.js';
import { issueClientCert, loadCa } from '../../src/pki/dev-pki.js';
import { adminCliEnv, adminPortOf } from '../helpers/admin-client.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { refused, served } from '../helpers/kmip-outcome.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { msUntil } from '../helpers/wait.js';

const BOUND_MS = 5_000;

for (const workers of [2, 0]) {
  describe(`enrolment and revocation with serve --workers ${String(workers)}`, () => {
    let tdb: Awaited<ReturnType<typeof createThrowawayDatabase>>;
    let srv: TestServer;
    let work: string;
    const env = process.env;

    before(async () => {
      work = await mkdtemp(path.join(tmpdir(), 'openkcm-enrol-w-'));
      tdb = await createThrowawayDatabase();
      srv = await startTestServer({
        mode: 'child', workers, tenants: ['alpha'], startTimeoutMs: 120_000, identity: { tenants: { alpha: 'alpha' } },
        governance: { databaseUrl: tdb.url },
      });
      // The OPENKCM_ADMIN_* variables the in-process `client` and `identity` commands read.
      Object.assign(env, adminCliEnv(await adminPortOf(srv), path.join(srv.dataDir, 'pki')));
    });
    after(async () => {
      delete env.OPENKCM_ADMIN_URL;
      delete env.OPENKCM_ADMIN_CA;
      delete env.OPENKCM_ADMIN_CERT;
      delete env.OPENKCM_ADMIN_KEY;
      await srv.stop();
      await tdb.drop();
      await rm(work, { recursive: true, force: true });
    });

    test('client issue / revoke through the CLI bite on every worker; the sibling is unaffected', async () => {
      const issue = async (name: string): Promise<{ cert: string; key: string }> => {
        const cert = path.join(work, `${name}.crt`);
        const key = path.join(work, `${name}.key`);
        assert.equal(await clientCli(['issue', name, '--tenant', 'alpha', '--key-out', key, '--out', cert]), 0);
        return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
      };
      const doomed = await issue('w-array1');
      const sibling = await issue('w-array2');
      const as = (m: { cert: string; key: string }) => ({ host: '127.0.0.1', port: srv.port, ca: srv.ca, cert: m.cert, key: m.key });
      // Several connections: with workers they land on different processes.
      const live = await Promise.all([0, 1, 2, 3].map(() => KmipClient.connect(as(doomed))));
      for (const c of live) assert.equal(await served(c), true);
      const other = await KmipClient.connect(as(sibling));
      assert.equal(await clientCli(['list', '--tenant', 'alpha']), 0);
      assert.equal(await clientCli(['revoke', 'w-array1', '--reason', 'stolen']), 0);
      const closed = await msUntil('every open connection of the revoked client is closed', BOUND_MS, async () => (await Promise.all(live.map(served))).every((x) => !x));
      const refusedIn = await msUntil('new handshakes are refused', BOUND_MS, () => refused(as(doomed)));
      console.log(`# workers ${String(workers)}: open connections closed ${closed.toFixed(0)} ms, new handshakes refused ${refusedIn.toFixed(0)} ms after the CLI returned`);
      // A few more attempts: whichever worker takes them, they are refused.
      for (let i = 0; i < 4; i++) assert.equal(await refused(as(doomed)), true);
      assert.equal(await served(other), true, 'the sibling keeps its connection');
      for (let i = 0; i < 4; i++) assert.equal(await refused(as(sibling)), false, 'and gets new ones');
      await other.close();
      await Promise.all(live.map((c) => c.close().catch(() => undefined)));
      assert.equal(await clientCli(['revoke', 'w-array1']), 1, 'revoked already: an error, exit 1');
      assert.equal(await clientCli(['issue', 'x', '--tenant', 'alpha', '--out', path.join(work, 'x.crt')]), 2, 'usage: neither --csr nor --key-out');
    });

    test('identity map through the CLI applies on every worker without a restart', async () => {
      const pki = path.join(srv.dataDir, 'pki');
      const ca = await loadCa(await readFile(path.join(pki, 'ca.crt'), 'utf8'), await readFile(path.join(pki, 'ca.key'), 'utf8'));
      const ext = await issueClientCert(ca, 'spiffe-less-app');
      const as = { host: '127.0.0.1', port: srv.port, ca: srv.ca, cert: ext.certPem, key: ext.keyPem };
      assert.equal(await refused(as), true, 'unmapped: refused');
      assert.equal(await identityCli(['map', 'spiffe-less-app', '--tenant', 'alpha']), 0);
      await msUntil('the mapping applies', BOUND_MS, async () => !(await refused(as)));
      for (let i = 0; i < 4; i++) assert.equal(await refused(as), false, 'on whichever worker takes the connection');
      assert.equal(await identityCli(['unmap', 'spiffe-less-app']), 0);
      await msUntil('the unmapping applies', BOUND_MS, () => refused(as));
    });
  });
}
