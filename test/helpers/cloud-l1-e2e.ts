/**
 * Issue 16 item 8 for the cloud keystores: one end-to-end run through the product's interfaces only — the `openkcm`
 * CLI (operator secret put, tenant register-l1 / get / restore), KMIP over mutual TLS with the real client, and
 * `openkcm serve` as a child process with the real PostgreSQL as governance database — against a local endpoint
 * that speaks the cloud service's wire API (driven by the real SDK inside our plugin, in the server process).
 *
 * The test files (test/integration/l1-aws-kms-e2e.test.ts, l1-azure-keyvault-e2e.test.ts) give the named
 * connection, the node secret and the customer's hooks (disable / enable the key at the source); this file runs
 * the same story for each, as test/integration/l1-registered-e2e.test.ts does for PKCS#11:
 *
 *  1. serve; `openkcm operator secret put` (stdin, over the operator socket); `secret list` shows no value;
 *  2. `openkcm tenant create`, then `register-l1 <tenant> --plugin <kind>@<connection>`; KMIP Create + Get for that tenant and for
 *     a bystander tenant on the local default;
 *  3. the customer disables the key at the source → the tenant is refused (Permission Denied) within the health
 *     interval and is `revoked` / `l1-revoked-at-source`; the bystander keeps working;
 *  4. restart → it stays dark; restore while still disabled is refused (424 L1_UNHEALTHY);
 *  5. the customer re-enables the key; `openkcm tenant restore` → served again with its old object and its material;
 *  6. the secret values never appear in the data directory, the server logs or the database (pg_dump).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { initDataDir } from '../../src/cli/commands/init.js';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { runCli } from './cli.js';
import { createThrowawayDatabase } from './governance-db.js';
import { E2E_HEALTH_INTERVAL_MS, RestartableNode, startGovernedNode } from './governed-node.js';
import { codeOf } from './kmip-outcome.js';
import { rawKey } from './kmip-raw-key.js';
import { assertFoundNowhere, persistedPlaces } from './leak-scan.js';
import { until } from './wait.js';

/** Generous bound for everything polled on a loaded 2-core box; not a timing assertion. */
const GIVE_UP_MS = 45_000;
const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };
/** The tenant on the cloud L1, and a bystander on the local default. */
const TENANT = 'acme';
const BYSTANDER = 'hooli';

export interface CloudL1Case {
  /** Shown in the test names: 'AWS KMS', 'Azure Key Vault'. */
  readonly title: string;
  /** The plugin kind (aws-kms, azure-keyvault). */
  readonly kind: string;
  /** keystores.connections.<connectionName> in openkcm.conf (its `kind` included). */
  readonly connectionName: string;
  readonly connection: Readonly<Record<string, unknown>>;
  /** The node secret the connection reads, stored with `openkcm operator secret put NAME` from stdin. */
  readonly secretName: string;
  readonly secretValue: string;
  /** The customer's L1 key reference. */
  readonly keyRef: string;
  /** The customer's console: disable / re-enable the key at the source. */
  setKeyEnabled(enabled: boolean): Promise<void>;
  /** Values that must never be persisted or logged (the secret's parts: access key secret, client secret). */
  readonly needles: readonly (readonly [string, string])[];
  /** Called once everything ran (endpoint close). */
  close(): Promise<void>;
}

export function describeCloudL1EndToEnd(c: CloudL1Case): void {
  describe(`issue 16 item 8: a registered ${c.title} L1 end to end (CLI, admin API, KMIP)`, () => {
    let tdb: Awaited<ReturnType<typeof createThrowawayDatabase>>;
    let dataDir: string;
    const node = new RestartableNode(() => startGovernedNode(dataDir, tdb.url, { connections: { [c.connectionName]: c.connection } }));
    const uids = new Map<string, string>();
    const material = new Map<string, Buffer>();

    /** Get of the tenant's first object: 'success' with the same material, or the KMIP result code. */
    const getCode = (tenant: string): Promise<string> => node.withClient(tenant, (k) => codeOf((async () => {
      assert.deepEqual(Buffer.from(await rawKey(k, uids.get(tenant) ?? '')), material.get(tenant), 'the same key material as at Create');
    })()));
    const tenantState = async (tenant: string): Promise<{ state: string; stateReason?: string }> => {
      const r = await node.admin(['tenant', 'get', tenant, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { state: string; stateReason?: string };
    };
    const untilSeen = (what: string, probe: () => Promise<true | undefined>): Promise<true> => until(what, probe, GIVE_UP_MS, 50);

    before(async () => {
      tdb = await createThrowawayDatabase();
      dataDir = await mkdtemp(path.join(tmpdir(), 'openkcm-cloud-e2e-'));
      await initDataDir({ dataDir, tenants: [TENANT, BYSTANDER], force: true });
      await node.serve();
    });

    after(async () => {
      await node.stop().catch(() => undefined);
      await tdb.drop().catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
      await c.close();
    });

    test('store the secret (stdin), register the L1 on the named connection, KMIP Create + Get', async () => {
      let r = await runCli(['operator', 'secret', 'put', c.secretName, '--data-dir', dataDir], { stdin: `${c.secretValue}\n` });
      assert.equal(r.code, 0, r.stderr);
      r = await runCli(['operator', 'secret', 'list', '--data-dir', dataDir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`${c.secretName}\\s+\\d+\\s`, 'u'));
      for (const [, v] of c.needles) assert.ok(!r.stdout.includes(v), 'secret list shows no value');
      r = await node.admin(['tenant', 'create', TENANT]);
      assert.equal(r.code, 0, r.stderr);
      r = await node.admin(['tenant', 'register-l1', TENANT, '--plugin', `${c.kind}@${c.connectionName}`, '--key-ref', c.keyRef, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { shadow: { plugin: string } }).shadow.plugin, `${c.kind}@${c.connectionName}`);
      for (const t of [TENANT, BYSTANDER]) {
        await node.withClient(t, async (k) => {
          const uid = await k.createSymmetricKey(AES);
          uids.set(t, uid);
          material.set(t, Buffer.from(await rawKey(k, uid)));
        });
        assert.equal(await getCode(t), 'success');
      }
      assert.equal((await tenantState(TENANT)).state, 'active');
    });

    test('the key disabled at the source: the tenant goes dark within the health interval, the bystander is served', async () => {
      const t0 = performance.now();
      await c.setKeyEnabled(false);
      await untilSeen('the tenant refused', async () => (await getCode(TENANT)) === 'PERMISSION_DENIED' ? true : undefined);
      console.log(`# ${c.title}: dark ${(performance.now() - t0).toFixed(0)} ms after the key was disabled (health interval ${String(E2E_HEALTH_INTERVAL_MS)} ms)`);
      const t = await tenantState(TENANT);
      assert.deepEqual([t.state, t.stateReason], ['revoked', 'l1-revoked-at-source']);
      assert.equal(await getCode(BYSTANDER), 'success', 'the bystander is served');
    });

    test('restart: the tenant stays dark; restore is refused while the key is disabled', async () => {
      await node.stop();
      await node.serve();
      assert.equal(await getCode(TENANT), 'PERMISSION_DENIED');
      await node.withClient(TENANT, async (k) => { assert.equal(await codeOf(k.createSymmetricKey(AES)), 'PERMISSION_DENIED'); });
      assert.equal(await getCode(BYSTANDER), 'success');
      const r = await node.admin(['tenant', 'restore', TENANT]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /424 L1_UNHEALTHY: /u);
      assert.equal((await tenantState(TENANT)).state, 'revoked');
    });

    test('re-enabled at the source and restored: served again with its old object', async () => {
      await c.setKeyEnabled(true);
      const r = await node.admin(['tenant', 'restore', TENANT]);
      assert.equal(r.code, 0, r.stderr);
      await untilSeen('the tenant served again', async () => (await getCode(TENANT)) === 'success' ? true : undefined);
      assert.equal((await tenantState(TENANT)).state, 'active');
      await node.withClient(TENANT, async (k) => { assert.equal(await codeOf(k.createSymmetricKey(AES)), 'success'); });
      assert.equal(await getCode(BYSTANDER), 'success');
      await node.stop();
    });

    test('no secret value in the data directory, the server logs or the database', () => {
      assert.ok(c.needles.length > 0 && node.logs().length > 0, 'the test has something to look for and somewhere to look');
      const { places, dump } = persistedPlaces(node.logs(), dataDir, tdb.url);
      assert.ok(dump.includes(Buffer.from('node-secret.put')), 'the secret change is audited (by name) in the database');
      assertFoundNowhere(places, c.needles.map(([what, value]) => [what, Buffer.from(value, 'utf8')] as const));
    });
  });
}
