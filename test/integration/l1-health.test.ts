/**
 * Periodic L1 health checks (issue 5 deliverable 6; src/krypton/l1-health.ts) over real components: SoftHSM2 holds
 * the L1 keys (PKCS#11 plugin), krypton over an LMDB hierarchy store, governance on the real PostgreSQL and on
 * PGlite, and the revocation listener. Disabling a key AT THE SOURCE (CKA_ENCRYPT/CKA_DECRYPT false on the token)
 * must take its tenant dark within one interval, through the same path as an admin revoke: governance state
 * `revoked` with reason `l1-revoked-at-source`, audited, NOTIFYed; other tenants untouched; transient failures
 * (an unreachable module) reported, never acted on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Governance } from '../../src/cmk/repository/index.js';
import { KmipError } from '../../src/kmip/errors.js';
import { Pkcs11Keystore } from '../../src/keystore/pkcs11.js';
import type { KeystorePlugin, ShadowReference } from '../../src/keystore/types.js';
import { Krypton } from '../../src/krypton/krypton.js';
import { L1_HEALTH_PRINCIPAL, L1_REVOKED_AT_SOURCE_REASON, MIN_L1_HEALTH_INTERVAL_MS, startL1HealthChecks } from '../../src/krypton/l1-health.js';
import type { L1HealthReport } from '../../src/krypton/l1-health.js';
import { LmdbHierarchyStore } from '../../src/krypton/lmdb-store.js';
import { startRevocationListener } from '../../src/krypton/revocation-listener.js';
import { initNative } from '../../src/native/index.js';
import { ENGINES, openTestDatabase, testAuditHmac } from '../helpers/governance-db.js';
import { Pkcs11Plugins } from '../helpers/pkcs11-l1.js';
import { generateL1Key, initToken, setL1KeyEnabled, setupSoftHsm, USER_PIN } from '../helpers/softhsm.js';
import type { SoftHsm } from '../helpers/softhsm.js';

const TOKEN = 'openkcm-l1health';
// Before any module load in this process: SoftHSM reads SOFTHSM2_CONF in C_Initialize.
const hsm: SoftHsm = setupSoftHsm();
initToken(hsm, TOKEN);
initNative({ allowUnlocked: true });

/** The check interval the tests use (the default is DEFAULT_L1_HEALTH_INTERVAL_MS = 60 s). */
const INTERVAL_MS = 200;

const plugins = new Pkcs11Plugins(hsm);
function pluginFor(shadow: ShadowReference): Promise<KeystorePlugin> {
  return Promise.resolve(plugins.for(shadow));
}

let counter = 0;
function newL1(): { label: string; shadow: ShadowReference } {
  counter += 1;
  const label = `l1-h-${String(counter)}`;
  const id = generateL1Key(hsm, TOKEN, label);
  return { label, shadow: { plugin: 'pkcs11', keyRef: `token=${TOKEN};object=${label}`, keyVersion: id.toString('hex') } };
}

let root: string;
before(() => { root = mkdtempSync(path.join(tmpdir(), 'openkcm-l1health-')); });
after(async () => {
  await plugins.closeAll();
  rmSync(root, { recursive: true, force: true });
  hsm.cleanup();
});

for (const engine of ENGINES) {
  describe(`L1 health checks (governance on ${engine})`, () => {
    test('a key disabled at the source takes its tenant dark within one interval; others stay up; re-enable + restore', async () => {
      const tdb = await openTestDatabase(engine);
      const store = await LmdbHierarchyStore.open(path.join(root, `store-${engine}`));
      const krypton = await Krypton.open({ store, keystoreFor: pluginFor });
      const gov = await Governance.open({ db: tdb.db, auditHmac: testAuditHmac() });
      const listener = await startRevocationListener({ db: tdb.db, krypton });
      const rounds: L1HealthReport[] = [];
      let checker: ReturnType<typeof startL1HealthChecks> | undefined;
      try {
        const victim = newL1();
        const other = newL1();
        for (const [t, l1] of [['victim', victim], ['other', other]] as const) {
          await gov.createTenant({ id: t }, 'test');
          await krypton.onboard(t, l1.shadow);
        }
        const events: string[] = [];
        const stopEvents = await gov.onTenantEvent((e) => { events.push(`${e.tenant}:${e.action}`); });
        checker = startL1HealthChecks({
          krypton,
          intervalMs: INTERVAL_MS,
          activeTenants: async () => (await gov.listTenants()).filter((t) => t.state === 'active').map((t) => t.id),
          revokeInGovernance: async (tenant, reason) => { await gov.revokeTenant(tenant, L1_HEALTH_PRINCIPAL, reason); },
          onRound: (r) => { rounds.push(r); },
        });
        // Healthy rounds first.
        while (rounds.length < 1) await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(rounds[0], { checked: 2, healthy: 2, revoked: [], failed: [] });
        assert.ok(krypton.isActive('victim'));

        setL1KeyEnabled(hsm, TOKEN, victim.label, false);
        const seen = rounds.length;
        // Within one interval (plus the round in flight): the next completed round finds it.
        const deadline = Date.now() + 2 * INTERVAL_MS + 5_000;
        while (rounds.length < seen + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const found = rounds.slice(seen).find((r) => r.revoked.length > 0);
        assert.deepEqual(found?.revoked, ['victim']);
        await listener.idle();
        assert.throws(() => krypton.kek('victim'), (e: unknown) => e instanceof KmipError && e.code === 'TENANT_REVOKED');
        assert.ok(krypton.isActive('other'), 'a tenant on another L1 is unaffected');
        const t = await gov.getTenant('victim');
        assert.deepEqual([t?.state, t?.stateReason], ['revoked', L1_REVOKED_AT_SOURCE_REASON]);
        const audit = await gov.audit.list('victim');
        assert.ok(audit.some((r) => r.operation === 'tenant.revoke' && r.principal === L1_HEALTH_PRINCIPAL));
        for (let i = 0; i < 100 && !events.includes('victim:revoke'); i++) await new Promise((r) => setTimeout(r, 10));
        assert.ok(events.includes('victim:revoke'), 'NOTIFYed like an admin revoke');
        // A revoked tenant is no longer checked (not active in governance).
        const n = rounds.length;
        while (rounds.length < n + 1) await new Promise((r) => setTimeout(r, 20));
        assert.equal(rounds[rounds.length - 1]?.checked, 1);

        // Restore: refused while L1 is still disabled, served after it is re-enabled.
        await assert.rejects(krypton.restore('victim'));
        setL1KeyEnabled(hsm, TOKEN, victim.label, true);
        await gov.restoreTenant('victim', 'test');
        for (let i = 0; i < 300 && !krypton.isActive('victim'); i++) await new Promise((r) => setTimeout(r, 10));
        await listener.idle();
        assert.ok(krypton.isActive('victim'), 'restore through governance NOTIFY re-activated it');
        await stopEvents();
      } finally {
        await checker?.stop();
        await listener.stop();
        await gov.close();
        await krypton.close();
        await store.close();
        await tdb.close();
      }
    });
  });
}

describe('L1 health checks: failures that are not a revocation', () => {
  test('an unreachable keystore is reported, never revoked; the interval is validated', async () => {
    const store = await LmdbHierarchyStore.open(path.join(root, 'store-unreachable'));
    let broken = false;
    const krypton = await Krypton.open({
      store,
      keystoreFor: (s) => broken
        ? Promise.resolve(new Pkcs11Keystore({ modulePath: path.join(hsm.dir, 'no-such-module.so'), tokenLabel: TOKEN, pin: USER_PIN, keyLabel: 'x' }))
        : pluginFor(s),
    });
    const revoked: string[] = [];
    const l1 = newL1();
    await krypton.onboard('flaky', l1.shadow);
    const checker = startL1HealthChecks({
      krypton, intervalMs: 60_000, activeTenants: () => Promise.resolve(['flaky', 'ghost']),
      revokeInGovernance: (t) => { revoked.push(t); return Promise.resolve(); },
    });
    try {
      broken = true;
      const r = await checker.runOnce();
      assert.equal(r.checked, 2, 'ghost (no hierarchy) is skipped silently');
      assert.deepEqual(r.revoked, []);
      const [failure] = r.failed;
      assert.equal(r.failed.length, 1);
      assert.ok(failure !== undefined);
      assert.equal(failure.tenant, 'flaky');
      assert.notEqual(failure.code, 'KEY_REVOKED_OR_DISABLED');
      assert.deepEqual(revoked, []);
    } finally {
      await checker.stop();
      await krypton.close();
      await store.close();
    }
    assert.throws(() => startL1HealthChecks({ krypton, intervalMs: MIN_L1_HEALTH_INTERVAL_MS - 1, activeTenants: () => Promise.resolve([]), revokeInGovernance: () => Promise.resolve() }), RangeError);
    startL1HealthChecks({ krypton, intervalMs: MIN_L1_HEALTH_INTERVAL_MS, activeTenants: () => Promise.resolve([]), revokeInGovernance: () => Promise.resolve() }).stop().catch(() => undefined);
  });
});
