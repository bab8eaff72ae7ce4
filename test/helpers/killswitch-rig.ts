/**
 * The kill-switch, end to end, as a reusable rig (test/integration/killswitch-e2e.test.ts and perf/killswitch.ts):
 *
 *   HTTPS admin API (admin client certificate) ─▶ Governance.revokeTenant on the real PostgreSQL (UPDATE + audit +
 *   NOTIFY in one transaction) ─▶ LISTEN ─▶ src/krypton/revocation-listener.ts ─▶ krypton.revoke ─▶ the KMIP
 *   server's next Get for that tenant answers Permission Denied.
 *
 * A cycle measures the time from sending the API request to the first refused KMIP Get over a real KmipClient
 * connection (mutual TLS), polling Gets back to back, then restores the tenant through the API and waits until Get
 * is served again (measured too). The API runs WITHOUT the in-process `killSwitch` shortcut, so the NOTIFY path —
 * the one every other node of a cluster takes — is what is measured.
 */
import { Agent, request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import type { KmipClient } from '../../src/client/client.js';
import { startAdminApi } from '../../src/cmk/api/server.js';
import type { RunningAdminApi } from '../../src/cmk/api/server.js';
import { Governance } from '../../src/cmk/repository/index.js';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import { startRevocationListener } from '../../src/krypton/revocation-listener.js';
import type { RevocationListener } from '../../src/krypton/revocation-listener.js';
import { issueClientCert } from '../../src/pki/dev-pki.js';
import type { IssuedCert } from '../../src/pki/dev-pki.js';
import { openTestDatabase, testAuditHmac } from './governance-db.js';
import type { TestDatabase } from './governance-db.js';
import { testPki } from './pki.js';
import { startTestServer } from './server.js';
import type { TestServer } from './server.js';

/** A poll that has not seen the expected outcome after this long is a failure, not a slow result. */
export const POLL_GIVE_UP_MS = 10_000;

export interface CycleResult {
  /** API request sent → first KMIP Get refused (ms). */
  readonly revokeMs: number;
  /** KMIP Gets that still succeeded after the request was sent. */
  readonly servedAfterRequest: number;
  /** API restore request sent → first KMIP Get served again (ms). */
  readonly restoreMs: number;
  /** The error code of the refused Get (PERMISSION_DENIED expected). */
  readonly refusedWith: string;
  /** Breakdown of the revoke: API request sent → API answered (committed + NOTIFY sent) (ms). */
  readonly apiMs: number;
  /** API request sent → the listener finished krypton.revoke (ms). */
  readonly appliedMs: number;
}

export interface KillSwitchRig {
  readonly srv: TestServer;
  readonly gov: Governance;
  readonly tdb: TestDatabase;
  readonly api: RunningAdminApi;
  readonly tenant: string;
  /** A second tenant, never revoked: its Gets must keep working. */
  readonly bystander: string;
  readonly client: KmipClient;
  readonly bystanderClient: KmipClient;
  readonly uid: string;
  readonly bystanderUid: string;
  readonly listener: RevocationListener;
  cycle(): Promise<CycleResult>;
  close(): Promise<void>;
}

export async function openKillSwitchRig(): Promise<KillSwitchRig> {
  const tenant = 'kstenant';
  const bystander = 'ksbystander';
  const srv = await startTestServer({ tenants: [tenant, bystander] });
  const cleanups: (() => Promise<void>)[] = [() => srv.stop()];
  const close = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const krypton = srv.app?.hierarchy?.hierarchy.krypton;
    if (krypton === undefined) throw new Error('the test server runs no key hierarchy');
    const tdb = await openTestDatabase('postgres');
    cleanups.push(() => tdb.close());
    const gov = await Governance.open({ db: tdb.db, auditHmac: testAuditHmac() });
    cleanups.push(() => gov.close());
    await gov.createTenant({ id: tenant }, 'rig');
    await gov.createTenant({ id: bystander }, 'rig');
    let lastApplied = 0;
    const listener: RevocationListener = await startRevocationListener({
      db: tdb.db, krypton,
      onApplied: (e) => { if (e.action === 'revoke') lastApplied = performance.now(); },
      tenantStates: async () => (await gov.listTenants({ includeTerminated: true })).map((t) => ({ id: t.id, state: t.state })),
    });
    cleanups.push(() => listener.stop());

    const pki = await testPki();
    const adminCert: IssuedCert = await issueClientCert(pki.ca, 'ks-officer');
    const api = await startAdminApi({
      governance: gov,
      auth: { mtls: { identitySource: 'cn', identities: { 'ks-officer': ['security-officer'] } } },
      tls: { key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.ca.certPem },
    }, { host: '127.0.0.1', port: 0 });
    cleanups.push(() => api.close());
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => { agent.destroy(); return Promise.resolve(); });
    const post = (path: string): Promise<number> => new Promise((resolve, reject) => {
      const req = httpsRequest({
        agent, host: '127.0.0.1', port: api.address.port, method: 'POST', path, servername: 'localhost',
        ca: pki.ca.certPem, cert: adminCert.certPem, key: adminCert.keyPem,
        headers: { 'content-type': 'application/json', 'content-length': '2' },
      }, (res) => {
        res.resume();
        res.on('end', () => { resolve(res.statusCode ?? 0); });
      });
      req.on('error', reject);
      req.end('{}');
    });

    const client = await srv.connect(tenant);
    cleanups.push(() => client.close());
    const bystanderClient = await srv.connect(bystander);
    cleanups.push(() => bystanderClient.close());
    const aes = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };
    const uid = await client.createSymmetricKey(aes);
    const bystanderUid = await bystanderClient.createSymmetricKey(aes);

    /** Gets until one fails (`until` 'refused') or succeeds (`until` 'served'). */
    const pollUntil = async (until: 'refused' | 'served'): Promise<{ at: number; served: number; code: string }> => {
      const giveUp = performance.now() + POLL_GIVE_UP_MS;
      let served = 0;
      for (;;) {
        try {
          await client.get(uid);
          if (until === 'served') return { at: performance.now(), served, code: '' };
          served++;
        } catch (e) {
          if (!(e instanceof KmipResultError)) throw e;
          if (until === 'refused') return { at: performance.now(), served, code: e.code };
        }
        if (performance.now() > giveUp) throw new Error(`KMIP Get not ${until} within ${POLL_GIVE_UP_MS} ms`);
      }
    };

    return {
      srv, gov, tdb, api, tenant, bystander, client, bystanderClient, uid, bystanderUid, listener, close,
      async cycle(): Promise<CycleResult> {
        const t0 = performance.now();
        let answered = 0;
        const [status, refused] = await Promise.all([
          post(`/v1/tenants/${tenant}/revoke`).then((s) => { answered = performance.now(); return s; }),
          pollUntil('refused'),
        ]);
        if (status !== 200) throw new Error(`revoke answered ${status}`);
        await listener.idle();
        const apiMs = answered - t0;
        const appliedMs = lastApplied - t0;
        const t1 = performance.now();
        const [status2, back] = await Promise.all([post(`/v1/tenants/${tenant}/restore`), pollUntil('served')]);
        if (status2 !== 200) throw new Error(`restore answered ${status2}`);
        await listener.idle();
        return { revokeMs: refused.at - t0, servedAfterRequest: refused.served, restoreMs: back.at - t1, refusedWith: refused.code, apiMs, appliedMs };
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Nearest-rank percentile of a sample (p in 0..100). */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}
