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
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KmipClient } from '../../src/client/client.js';
import { initDataDir } from '../../src/cli/commands/init.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import { CryptographicAlgorithm, CryptographicUsageMask, KeyFormatType } from '../../src/kmip/registry.js';
import { adminPortInLog } from './admin-client.js';
import { runCli, type CliResult } from './cli.js';
import { createThrowawayDatabase } from './governance-db.js';
import { startTestServer, type TestServer } from './server.js';

/** Low, so "dark within the health interval" is what the test shows (the minimum is MIN_L1_HEALTH_INTERVAL_MS). */
export const E2E_HEALTH_INTERVAL_MS = 500;
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

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'success';
  } catch (e) {
    if (e instanceof KmipResultError) return e.code;
    throw e;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const giveUp = performance.now() + GIVE_UP_MS;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > giveUp) throw new Error(`${what}: not seen within ${String(GIVE_UP_MS)} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

/**
 * `openkcm serve --workers 1` on `dataDir` (a child process) with the governance plane on `databaseUrl` and the
 * health interval low; returns it with the environment the `openkcm tenant` CLI needs to reach its admin API.
 */
export async function startGovernedNode(dataDir: string, databaseUrl: string, keystores: Record<string, unknown>): Promise<{ server: TestServer; adminEnv: Record<string, string> }> {
  const server = await startTestServer({
    mode: 'child', workers: 1, dataDir, startTimeoutMs: 90_000, keystores,
    governance: { databaseUrl, l1HealthIntervalMs: E2E_HEALTH_INTERVAL_MS },
  });
  const port = await until('the admin API address in the log', () => Promise.resolve(adminPortInLog(server.stderr())));
  const pki = path.join(dataDir, 'pki');
  return {
    server,
    adminEnv: {
      OPENKCM_ADMIN_URL: `https://127.0.0.1:${String(port)}`, OPENKCM_ADMIN_CA: path.join(pki, 'ca.crt'),
      OPENKCM_ADMIN_CERT: path.join(pki, 'admin.crt'), OPENKCM_ADMIN_KEY: path.join(pki, 'admin.key'),
    },
  };
}

export function describeCloudL1EndToEnd(c: CloudL1Case): void {
  describe(`issue 16 item 8: a registered ${c.title} L1 end to end (CLI, admin API, KMIP)`, () => {
    let tdb: Awaited<ReturnType<typeof createThrowawayDatabase>>;
    let dataDir: string;
    let srv: TestServer | undefined;
    let logs = '';
    let adminEnv: Record<string, string> = {};
    const uids = new Map<string, string>();
    const material = new Map<string, Buffer>();

    const serve = async (): Promise<TestServer> => {
      const node = await startGovernedNode(dataDir, tdb.url, { connections: { [c.connectionName]: c.connection } });
      adminEnv = node.adminEnv;
      return node.server;
    };
    const stopServer = async (): Promise<void> => {
      if (srv === undefined) return;
      const s = srv;
      srv = undefined;
      await s.stop();
      logs += s.stdout() + s.stderr();
    };
    const admin = (args: string[]): Promise<CliResult> => runCli(args, { env: adminEnv });
    const withClient = async <T>(tenant: string, fn: (k: KmipClient) => Promise<T>): Promise<T> => {
      if (srv === undefined) throw new Error('no server');
      const k = await srv.connect(tenant);
      try {
        return await fn(k);
      } finally {
        await k.close().catch(() => undefined);
      }
    };
    /** Get of the tenant's first object: 'success' with the same material, or the KMIP result code. */
    const getCode = (tenant: string): Promise<string> => withClient(tenant, (k) => codeOf((async () => {
      const got = await k.get(uids.get(tenant) ?? '', { keyFormatType: KeyFormatType.Raw });
      assert.ok('keyBlock' in got.object);
      const kv = got.object.keyBlock.keyValue;
      assert.ok(kv?.kind === 'plain' && kv.keyMaterial instanceof Uint8Array);
      assert.deepEqual(Buffer.from(kv.keyMaterial), material.get(tenant), 'the same key material as at Create');
    })()));
    const tenantState = async (tenant: string): Promise<{ state: string; stateReason?: string }> => {
      const r = await admin(['tenant', 'get', tenant, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { state: string; stateReason?: string };
    };

    before(async () => {
      tdb = await createThrowawayDatabase();
      dataDir = await mkdtemp(path.join(tmpdir(), 'openkcm-cloud-e2e-'));
      await initDataDir({ dataDir, tenants: [TENANT, BYSTANDER], force: true });
      srv = await serve();
    });

    after(async () => {
      await stopServer().catch(() => undefined);
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
      r = await admin(['tenant', 'create', TENANT]);
      assert.equal(r.code, 0, r.stderr);
      r = await admin(['tenant', 'register-l1', TENANT, '--plugin', `${c.kind}@${c.connectionName}`, '--key-ref', c.keyRef, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { shadow: { plugin: string } }).shadow.plugin, `${c.kind}@${c.connectionName}`);
      for (const t of [TENANT, BYSTANDER]) {
        await withClient(t, async (k) => {
          const uid = await k.createSymmetricKey(AES);
          uids.set(t, uid);
          const got = await k.get(uid, { keyFormatType: KeyFormatType.Raw });
          assert.ok('keyBlock' in got.object);
          const kv = got.object.keyBlock.keyValue;
          assert.ok(kv?.kind === 'plain' && kv.keyMaterial instanceof Uint8Array);
          material.set(t, Buffer.from(kv.keyMaterial));
        });
        assert.equal(await getCode(t), 'success');
      }
      assert.equal((await tenantState(TENANT)).state, 'active');
    });

    test('the key disabled at the source: the tenant goes dark within the health interval, the bystander is served', async () => {
      const t0 = performance.now();
      await c.setKeyEnabled(false);
      await until('the tenant refused', async () => (await getCode(TENANT)) === 'PERMISSION_DENIED' ? true : undefined);
      console.log(`# ${c.title}: dark ${(performance.now() - t0).toFixed(0)} ms after the key was disabled (health interval ${String(E2E_HEALTH_INTERVAL_MS)} ms)`);
      const t = await tenantState(TENANT);
      assert.deepEqual([t.state, t.stateReason], ['revoked', 'l1-revoked-at-source']);
      assert.equal(await getCode(BYSTANDER), 'success', 'the bystander is served');
    });

    test('restart: the tenant stays dark; restore is refused while the key is disabled', async () => {
      await stopServer();
      srv = await serve();
      assert.equal(await getCode(TENANT), 'PERMISSION_DENIED');
      await withClient(TENANT, async (k) => { assert.equal(await codeOf(k.createSymmetricKey(AES)), 'PERMISSION_DENIED'); });
      assert.equal(await getCode(BYSTANDER), 'success');
      const r = await admin(['tenant', 'restore', TENANT]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /424 L1_UNHEALTHY: /u);
      assert.equal((await tenantState(TENANT)).state, 'revoked');
    });

    test('re-enabled at the source and restored: served again with its old object', async () => {
      await c.setKeyEnabled(true);
      const r = await admin(['tenant', 'restore', TENANT]);
      assert.equal(r.code, 0, r.stderr);
      await until('the tenant served again', async () => (await getCode(TENANT)) === 'success' ? true : undefined);
      assert.equal((await tenantState(TENANT)).state, 'active');
      await withClient(TENANT, async (k) => { assert.equal(await codeOf(k.createSymmetricKey(AES)), 'success'); });
      assert.equal(await getCode(BYSTANDER), 'success');
      await stopServer();
    });

    test('no secret value in the data directory, the server logs or the database', () => {
      assert.ok(c.needles.length > 0 && logs.length > 0, 'the test has something to look for and somewhere to look');
      const haystacks: [string, Buffer][] = [['logs', Buffer.from(logs, 'utf8')]];
      for (const f of filesUnder(dataDir)) if (statSync(f).size < 256 * 1024 * 1024) haystacks.push([f, readFileSync(f)]);
      const dump = execFileSync('pg_dump', ['--data-only', tdb.url], { maxBuffer: 256 * 1024 * 1024 });
      haystacks.push(['database', dump]);
      assert.ok(dump.includes(Buffer.from('node-secret.put')), 'the secret change is audited (by name) in the database');
      for (const [where, hay] of haystacks) {
        for (const [what, value] of c.needles) assert.equal(hay.indexOf(Buffer.from(value, 'utf8')), -1, `${what} found in ${where}`);
      }
    });
  });
}
