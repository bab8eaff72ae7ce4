/**
 * Issue 16 items 2 and 8 (PKCS#11): the registered L1 is the truth, end to end through the product's interfaces only
 * — the `openkcm` CLI (operator secret, tenant register-l1), KMIP over mutual TLS, and `openkcm serve --workers 2`
 * as a child process — with SoftHSM2 standing in for the customer's HSM (a token per tenant, the L1 keys made with
 * OpenSC's `pkcs11-tool`) and the real PostgreSQL as the governance database.
 *
 * The safety defect this guards against: a tenant served first (onboarded on the `local` plugin), then registered
 * to an HSM key, stayed under the local key, so deleting the HSM key changed nothing. Here:
 *
 *  1. serve; KMIP traffic for `initech` (onboarded on first use on the local default) and for `hooli`;
 *  2. register-l1 before the PIN is stored → 424 NODE_SECRET_MISSING, the tenant unchanged;
 *  3. `openkcm operator secret put hsm-pin` (stdin, over the operator socket);
 *  4. register-l1 with an unknown key → 424 L1_KEY_REVOKED_OR_DISABLED; with an absent token → 424 L1_UNREACHABLE;
 *  5. register-l1 of the right keys → initech's L2 is re-wrapped under its HSM key, hooli onboarded under its own;
 *     KMIP traffic still works (the same objects, the same L3);
 *  6. delete initech's key in SoftHSM → within the L1 health interval initech is refused on every worker
 *     (Permission Denied) while hooli keeps working;
 *  7. restart the server: initech stays dark, hooli is served;
 *  7b. disable (not delete) umbrella's key: dark on every worker; restore refused while disabled; re-enabled and
 *     restored (`openkcm tenant restore`), it is served again with its objects;
 *  8. the PIN and the key material a client created never appear in the data directory, the logs or the database.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { initDataDir } from '../../src/cli/commands/init.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { runCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { E2E_HEALTH_INTERVAL_MS, RestartableNode, startGovernedNode } from '../helpers/governed-node.js';
import { codeOf } from '../helpers/kmip-outcome.js';
import { rawKey } from '../helpers/kmip-raw-key.js';
import { assertFoundNowhere, persistedPlaces } from '../helpers/leak-scan.js';
import { initToken, setL1KeyEnabled, setupSoftHsm } from '../helpers/softhsm.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import { until } from '../helpers/wait.js';

/** Generous bound for everything that is polled (a loaded 2-core box); not a timing assertion. */
const GIVE_UP_MS = 60_000;
const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };
const PIN = `pin-${randomBytes(9).toString('hex')}`;
const TENANTS = ['initech', 'hooli'] as const;
/** A tenant whose L1 openkcm.conf names (keystores.tenants), beside the registered ones. */
const CONFIGURED = 'umbrella';

function pkcs11Tool(hsm: SoftHsm, args: string[]): string {
  return execFileSync('pkcs11-tool', ['--module', hsm.modulePath, ...args], { env: { ...process.env, SOFTHSM2_CONF: hsm.confPath }, encoding: 'utf8' });
}

/** The customer makes their L1: AES-256, sensitive, not extractable, on their own token. */
function makeKey(hsm: SoftHsm, token: string, label: string): void {
  pkcs11Tool(hsm, ['--token-label', token, '--login', '--pin', PIN, '--keygen', '--key-type', 'AES:32', '--label', label, '--id', '0a01', '--sensitive', '--private', '--usage-decrypt', '--usage-wrap']);
}

describe('issue 16: a registered HSM L1 really holds the keys (kill-switch at the source)', () => {
  let hsm: SoftHsm;
  let tdb: Awaited<ReturnType<typeof createThrowawayDatabase>>;
  let dataDir: string;
  const node = new RestartableNode(() => startGovernedNode(dataDir, tdb.url, {
    connections: { pkcs11: { modulePath: hsm.modulePath, pinSecret: 'hsm-pin' } },
    tenants: { [CONFIGURED]: { plugin: 'pkcs11', keyRef: `token=${CONFIGURED};object=${CONFIGURED}-l1` } },
  }, { workers: 2, startTimeoutMs: 120_000, env: { SOFTHSM2_CONF: hsm.confPath } }));
  const uids = new Map<string, string>();
  const material: Buffer[] = [];

  const getCode = (tenant: string): Promise<string> => node.withClient(tenant, (c) => codeOf(c.get(uids.get(tenant) ?? '')));
  const registerL1 = (tenant: string, keyRef: string): Promise<CliResult> =>
    node.admin(['tenant', 'register-l1', tenant, '--plugin', 'pkcs11', '--key-ref', keyRef, '--json']);
  const untilSeen = (what: string, probe: () => Promise<true | undefined>): Promise<true> => until(what, probe, GIVE_UP_MS, 50);

  before(async () => {
    hsm = setupSoftHsm();
    for (const t of [...TENANTS, CONFIGURED]) {
      initToken(hsm, t, PIN);
      makeKey(hsm, t, `${t}-l1`);
    }
    tdb = await createThrowawayDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'openkcm-l1e2e-'));
    await initDataDir({ dataDir, tenants: [...TENANTS, CONFIGURED], force: true });
    await node.serve();
  });

  after(async () => {
    await node.stop().catch(() => undefined);
    await tdb.drop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
    hsm.cleanup();
  });

  test('KMIP traffic before registration: both tenants onboarded on first use', async () => {
    for (const t of TENANTS) {
      await node.withClient(t, async (c) => {
        const uid = await c.createSymmetricKey(AES);
        uids.set(t, uid);
        material.push(Buffer.from(await rawKey(c, uid)));
      });
      assert.equal(await getCode(t), 'success');
    }
  });

  test('register-l1 refuses precisely (4xx with the catalog code) and leaves the tenant as it was', async () => {
    // No PIN stored yet: KMIP for the configured HSM tenant says which secret is missing (not a bare General Failure).
    await node.withClient(CONFIGURED, async (c) => {
      const err = await c.createSymmetricKey(AES).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof KmipResultError, String(err));
      assert.match(err.resultMessage ?? '', /L1 pkcs11 cannot onboard it \(SECRET_MISSING\)/);
    });
    assert.match(node.server.stderr(), /no node secret named hsm-pin: store it with `openkcm operator secret put hsm-pin`/);
    let r = await registerL1('initech', 'token=initech;object=initech-l1');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /424 NODE_SECRET_MISSING: .*hsm-pin/);
    // Store it (stdin, over the operator socket of the running node); `list` shows names and sizes only.
    r = await runCli(['operator', 'secret', 'put', 'hsm-pin', '--data-dir', dataDir], { stdin: `${PIN}\n` });
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['operator', 'secret', 'list', '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`hsm-pin\\s+${String(PIN.length)}\\s`));
    assert.ok(!r.stdout.includes(PIN));
    // An unknown key on the right token; a token that is not there.
    r = await registerL1('initech', 'token=initech;object=no-such-key');
    assert.match(r.stderr, /424 L1_KEY_REVOKED_OR_DISABLED: /, r.stderr);
    r = await registerL1('initech', 'token=nowhere;object=initech-l1');
    assert.match(r.stderr, /424 L1_UNREACHABLE: /, r.stderr);
    // The configured tenant is served once the PIN is there; registering another L1 for it is a conflict.
    const cuid = await node.withClient(CONFIGURED, (c) => c.createSymmetricKey(AES));
    uids.set(CONFIGURED, cuid);
    assert.equal(await getCode(CONFIGURED), 'success');
    r = await registerL1(CONFIGURED, 'token=hooli;object=hooli-l1');
    assert.match(r.stderr, /409 L1_CONFLICT: .*keystores\.tenants\.umbrella/, r.stderr);
    r = await node.admin(['tenant', 'get', 'initech', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as { state: string; shadow?: unknown };
    assert.deepEqual([t.state, t.shadow], ['active', undefined], 'nothing registered by the refused attempts');
    assert.equal(await getCode('initech'), 'success', 'still served');
  });

  test('register-l1 re-wraps the served tenant under its HSM key and onboards nothing twice; traffic continues', async () => {
    for (const tn of TENANTS) {
      const r = await registerL1(tn, `token=${tn};object=${tn}-l1`);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { shadow: { plugin: string } }).shadow.plugin, 'pkcs11');
      assert.equal(await getCode(tn), 'success');
    }
    assert.match(node.server.stderr(), /"krypton L1 replaced \(L2 re-wrapped\)"[^\n]*"tenant":"initech"/);
    // A correction of the registered reference is accepted (no longer 409): registering the same L1 again is a no-op.
    const again = await registerL1('initech', 'token=initech;object=initech-l1');
    assert.equal(again.code, 0, again.stderr);
  });

  test('deleting the HSM key takes the tenant dark within the health interval; the other tenant keeps working', async () => {
    const t0 = performance.now();
    pkcs11Tool(hsm, ['--token-label', 'initech', '--login', '--pin', PIN, '--delete-object', '--type', 'secrkey', '--label', 'initech-l1']);
    // Every worker refuses (several connections land on both workers).
    await untilSeen('initech refused', async () => {
      const codes = await Promise.all([0, 1, 2, 3].map(() => getCode('initech')));
      return codes.every((c) => c === 'PERMISSION_DENIED') ? true : undefined;
    });
    const darkMs = performance.now() - t0;
    console.log(`# initech dark ${darkMs.toFixed(0)} ms after its HSM key was deleted (health interval ${String(E2E_HEALTH_INTERVAL_MS)} ms)`);
    assert.equal(await getCode('hooli'), 'success', 'the bystander is served');
    assert.equal(await getCode(CONFIGURED), 'success', 'the bystander under a configured L1 is served');
    const r = await node.admin(['tenant', 'get', 'initech', '--json']);
    const t = JSON.parse(r.stdout) as { state: string; stateReason?: string };
    assert.deepEqual([t.state, t.stateReason], ['revoked', 'l1-revoked-at-source']);
  });

  test('restart: the tenant stays dark, the others are served; a key deleted while the node was down is found at once', async () => {
    await node.stop();
    // While the node is down, hooli's customer deletes their key too.
    pkcs11Tool(hsm, ['--token-label', 'hooli', '--login', '--pin', PIN, '--delete-object', '--type', 'secrkey', '--label', 'hooli-l1']);
    await node.serve();
    assert.equal(await getCode('initech'), 'PERMISSION_DENIED');
    assert.equal(await getCode(CONFIGURED), 'success', 'the tenant under its configured L1 is served');
    // No client of hooli's asked anything yet: the health check finds the deleted key on its own.
    await untilSeen('hooli revoked by the health check', async () => {
      const g = await node.admin(['tenant', 'get', 'hooli', '--json']);
      return (JSON.parse(g.stdout) as { state: string }).state === 'revoked' ? true : undefined;
    });
    assert.equal(await getCode('hooli'), 'PERMISSION_DENIED');
    await node.withClient('initech', async (c) => {
      assert.equal(await codeOf(c.createSymmetricKey(AES)), 'PERMISSION_DENIED');
    });
    // A deleted key stays dark by design: restore is refused (L1 not healthy), the tenant stays revoked.
    const r = await node.admin(['tenant', 'restore', 'initech']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /424 L1_UNHEALTHY: /);
    assert.equal(await getCode('initech'), 'PERMISSION_DENIED');
  });

  test('a DISABLED HSM key takes the tenant dark; re-enabled at the source and restored, its keys are served again', async () => {
    // Issue 16 item 8, the way back: disabling (not deleting) is reversible by the customer, and the operator's
    // restore brings the tenant back on every worker, with the objects it had.
    assert.equal(await getCode(CONFIGURED), 'success');
    setL1KeyEnabled(hsm, CONFIGURED, `${CONFIGURED}-l1`, false, PIN);
    await untilSeen('umbrella refused on every worker', async () => {
      const codes = await Promise.all([0, 1, 2, 3].map(() => getCode(CONFIGURED)));
      return codes.every((c) => c === 'PERMISSION_DENIED') ? true : undefined;
    });
    let g = await node.admin(['tenant', 'get', CONFIGURED, '--json']);
    const dark = JSON.parse(g.stdout) as { state: string; stateReason?: string };
    assert.deepEqual([dark.state, dark.stateReason], ['revoked', 'l1-revoked-at-source']);
    // Still disabled: restore is refused and changes nothing.
    let r = await node.admin(['tenant', 'restore', CONFIGURED]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /424 L1_UNHEALTHY: /);
    assert.equal(await getCode(CONFIGURED), 'PERMISSION_DENIED');
    // The customer enables the key again; the operator restores the tenant.
    setL1KeyEnabled(hsm, CONFIGURED, `${CONFIGURED}-l1`, true, PIN);
    r = await node.admin(['tenant', 'restore', CONFIGURED]);
    assert.equal(r.code, 0, r.stderr);
    await untilSeen('umbrella served again on every worker', async () => {
      const codes = await Promise.all([0, 1, 2, 3].map(() => getCode(CONFIGURED)));
      return codes.every((c) => c === 'success') ? true : undefined;
    });
    g = await node.admin(['tenant', 'get', CONFIGURED, '--json']);
    assert.equal((JSON.parse(g.stdout) as { state: string }).state, 'active');
    // New keys too, not only the old object.
    await node.withClient(CONFIGURED, async (c) => { assert.equal(await codeOf(c.createSymmetricKey(AES)), 'success'); });
    await node.stop();
  });

  test('no PIN and no client key material in the data directory, the logs or the database', () => {
    const needles: [string, Buffer][] = [
      ['PIN', Buffer.from(PIN, 'utf8')],
      ...material.flatMap((m, i): [string, Buffer][] => [[`key ${String(i)} raw`, m], [`key ${String(i)} hex`, Buffer.from(m.toString('hex'), 'utf8')], [`key ${String(i)} base64`, Buffer.from(m.toString('base64'), 'utf8')]]),
    ];
    assert.ok(material.length > 0, 'the test captured the material it looks for');
    const { places, dump } = persistedPlaces(node.logs(), dataDir, tdb.url);
    assert.ok(dump.includes(Buffer.from('node-secret.put')), 'the secret change is audited (by name) in the database');
    assertFoundNowhere(places, needles);
  });
});
