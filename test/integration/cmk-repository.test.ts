// The governance repository (src/cmk/repository/, migrations.ts, db.ts) over the real PostgreSQL and over
// PGlite, with the same assertions: versioned idempotent migrations, onboarding under concurrency, hostile
// tenant ids, offboarding, revoke → NOTIFY, shadow references, policies, four-eyes approvals.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDb, quoteIdent, tenantSchema, TENANT_CHANNEL } from '../../src/cmk/db.js';
import type { Db } from '../../src/cmk/db.js';
import { GovernanceError } from '../../src/cmk/errors.js';
import type { GovernanceErrorCode } from '../../src/cmk/errors.js';
import { migratePublic, migrateTenant, schemaVersion, TENANT_MIGRATIONS } from '../../src/cmk/migrations.js';
import {
  APPROVAL_PARAM_MAX, Governance, KEY_VERSION_MAX, MAX_APPROVAL_PARAMS, MAX_APPROVAL_TTL_MS, MAX_PENDING_APPROVALS_PER_TENANT,
  MAX_POLICIES_PER_TENANT, MAX_REQUIRED_APPROVERS, MAX_SHADOW_REFS_PER_TENANT, POLICY_MAX_BYTES, PRINCIPAL_MAX,
  TENANT_DISPLAY_NAME_MAX, parseTenantEvent,
} from '../../src/cmk/repository/index.js';
import type { TenantEvent } from '../../src/cmk/repository/index.js';
import { ENGINES, openTestDatabase, testAuditHmac, userSchemas } from '../helpers/governance-db.js';
import type { TestDatabase } from '../helpers/governance-db.js';

const is = (code: GovernanceErrorCode) => (e: unknown): boolean => {
  if (e instanceof GovernanceError && e.code === code) return true;
  throw e as Error;
};

/** One audit key for every Governance of this file: they all write the same chains. */
const hmac = testAuditHmac();

let seq = 0;
function uid(prefix: string): string {
  seq += 1;
  return `${prefix}_${String(process.pid % 10000)}_${String(seq)}`;
}

async function catalog(db: Db): Promise<string[]> {
  const r = await db.query<{ id: string; state: string }>('SELECT id, state FROM public.tenants ORDER BY id');
  return r.rows.map((x) => `${x.id}:${x.state}`);
}

/** Waits for `n` events on the tenant channel (bounded: a missing NOTIFY fails the test, it does not hang). */
function collect(db: Db, n: number): Promise<{ events: Promise<TenantEvent[]>; stop: () => Promise<void> }> {
  const got: TenantEvent[] = [];
  let done!: (v: TenantEvent[]) => void;
  let fail!: (e: Error) => void;
  const events = new Promise<TenantEvent[]>((res, rej) => { done = res; fail = rej; });
  const timer = setTimeout(() => { fail(new Error(`only ${String(got.length)} of ${String(n)} notifications arrived`)); }, 10_000);
  return db.listen(TENANT_CHANNEL, (payload) => {
    const e = parseTenantEvent(payload);
    if (e === undefined) return;
    got.push(e);
    if (got.length === n) { clearTimeout(timer); done(got); }
  }).then((stop) => ({ events, stop: async () => { clearTimeout(timer); await stop(); } }));
}

for (const engine of ENGINES) {
  describe(`governance repository over ${engine}`, () => {
    let t: TestDatabase;
    let gov: Governance;
    before(async () => {
      t = await openTestDatabase(engine);
      gov = await Governance.open({ db: t.db, auditHmac: hmac, approvalsRequired: 2 });
    });
    after(async () => {
      await gov.close();
      await t.close();
    });

    test('migrations are versioned and idempotent (public and tenant schemas)', async () => {
      const again = await migratePublic(t.db);
      assert.deepEqual(again.applied, []);
      assert.equal(again.version, 1);
      const ledger = await t.db.query<{ version: number; name: string }>('SELECT version, name FROM public.schema_migrations ORDER BY version');
      assert.deepEqual(ledger.rows.map((r) => r.version), [1]);

      const id = uid('mig');
      const first = await migrateTenant(t.db, id);
      assert.deepEqual(first.applied, TENANT_MIGRATIONS.map((m) => m.version));
      const second = await migrateTenant(t.db, id);
      assert.deepEqual(second.applied, []);
      assert.equal(await schemaVersion(t.db, tenantSchema(id)), TENANT_MIGRATIONS.length);
      assert.equal(await schemaVersion(t.db, tenantSchema(uid('none'))), 0);

      // A database migrated by a newer program is refused, not "downgraded".
      await t.db.query(`INSERT INTO ${quoteIdent(tenantSchema(id))}.schema_migrations (version, name) VALUES (99, 'future')`);
      await assert.rejects(migrateTenant(t.db, id), is('INVALID_STATE'));
    });

    test('concurrent migration of one schema applies each version exactly once', async () => {
      const id = uid('cmig');
      const dbs = engine === 'postgres' ? [t.db, await t.openAnother(), await t.openAnother()] : [t.db];
      const reports = await Promise.all(Array.from({ length: 6 }, (_, i) => migrateTenant(dbs[i % dbs.length]!, id)));
      const applied = reports.flatMap((r) => r.applied);
      assert.deepEqual(applied, TENANT_MIGRATIONS.map((m) => m.version));
      const ledger = await t.db.query(`SELECT version FROM ${quoteIdent(tenantSchema(id))}.schema_migrations`);
      assert.equal(ledger.rows.length, TENANT_MIGRATIONS.length);
    });

    test('10 parallel onboardings of one tenant: one schema, one success, 9 TENANT_EXISTS', async () => {
      const id = uid('race');
      const others = engine === 'postgres' ? [await t.openAnother()] : [];
      const govs = [gov, ...await Promise.all(others.map((db) => Governance.open({ db, auditHmac: hmac })))];
      try {
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => govs[i % govs.length]!.createTenant({ id, name: `Race ${String(i)}` }, `admin${String(i)}`)),
        );
        const ok = results.filter((r) => r.status === 'fulfilled');
        assert.equal(ok.length, 1);
        for (const r of results) {
          if (r.status === 'rejected') assert.ok(is('TENANT_EXISTS')(r.reason));
        }
        assert.equal((await userSchemas(t.db)).filter((s) => s === tenantSchema(id)).length, 1);
        assert.deepEqual((await catalog(t.db)).filter((c) => c.startsWith(`${id}:`)), [`${id}:active`]);
        assert.equal((await gov.getTenant(id))?.state, 'active');
        // The tenant chain starts with its creation, and both chains verify.
        assert.deepEqual(await gov.audit.verify(id), { ok: true, count: 1 });
        assert.equal((await gov.audit.verify()).ok, true);
      } finally {
        for (const g of govs.slice(1)) await g.close();
      }
    });

    test('hostile tenant ids are refused before any SQL; the database is unchanged', async () => {
      const schemasBefore = await userSchemas(t.db);
      const catalogBefore = await catalog(t.db);
      const hostile = [
        '', 'A', 'Acme', 'a-b', 'a.b', '_a', '../etc', 'a b', 'a;DROP SCHEMA public CASCADE', 'x"; DROP TABLE public.tenants; --',
        "x'); DELETE FROM public.tenants; --", 'tenant\u0000x', 'ä', 'a'.repeat(41), 'tenant_x\n', '\u202eabc',
      ];
      for (const id of hostile) {
        await assert.rejects(gov.createTenant({ id }, 'admin'), is('INVALID_ARGUMENT'), JSON.stringify(id));
        await assert.rejects(gov.revokeTenant(id, 'admin'), is('INVALID_ARGUMENT'));
        await assert.rejects(gov.putPolicy(id, 'p', 'permit(principal, action, resource);', 'admin'), is('INVALID_ARGUMENT'));
      }
      await assert.rejects(gov.createTenant({ id: 'ok_name', name: 'evil\u0007' }, 'admin'), is('INVALID_ARGUMENT'));
      await assert.rejects(gov.createTenant({ id: 'ok_name' }, ''), is('INVALID_ARGUMENT'));
      assert.deepEqual(await userSchemas(t.db), schemasBefore);
      assert.deepEqual(await catalog(t.db), catalogBefore);
      // The limit itself: 40 characters pass, 41 do not (above).
      const longest = `l${String(process.pid)}${engine}`.padEnd(40, 'x').slice(0, 40);
      await gov.createTenant({ id: longest }, 'admin');
      assert.ok((await userSchemas(t.db)).includes(`tenant_${longest}`));
    });

    test('offboarding: the crypto-shred hook runs first, then the schema is dropped; a failing hook drops nothing', async () => {
      const id = uid('off');
      await gov.createTenant({ id }, 'admin');
      await gov.putPolicy(id, 'p1', 'permit(principal, action, resource);', 'admin');
      await assert.rejects(
        gov.terminateTenant(id, 'admin', () => Promise.reject(new Error('L1 unreachable'))),
        is('SHRED_FAILED'),
      );
      assert.ok((await userSchemas(t.db)).includes(tenantSchema(id)));
      assert.equal((await gov.getTenant(id))?.state, 'active');

      const order: string[] = [];
      const listener = await collect(t.db, 1);
      const done = await gov.terminateTenant(id, 'admin', async (tenant) => {
        // The schema still exists while krypton shreds (it holds the hierarchy).
        order.push(`shred:${tenant}:${String((await userSchemas(t.db)).includes(tenantSchema(tenant)))}`);
      });
      order.push('terminated');
      assert.deepEqual(order, [`shred:${id}:true`, 'terminated']);
      assert.equal(done.state, 'terminated');
      assert.ok(!(await userSchemas(t.db)).includes(tenantSchema(id)));
      const [ev] = await listener.events;
      await listener.stop();
      assert.equal(ev?.action, 'terminate');
      assert.equal(ev.tenant, id);
      // Ids are never reused; the terminated tenant is gone for every operation.
      await assert.rejects(gov.createTenant({ id }, 'admin'), is('TENANT_EXISTS'));
      await assert.rejects(gov.listPolicies(id), is('TENANT_NOT_FOUND'));
      await assert.rejects(gov.revokeTenant(id, 'admin'), is('TENANT_NOT_FOUND'));
      assert.ok(!(await gov.listTenants()).some((x) => x.id === id));
      assert.ok((await gov.listTenants({ includeTerminated: true })).some((x) => x.id === id));
      // The offboarding is in the public chain.
      const pub = await gov.audit.list(undefined, { limit: 1000 });
      assert.ok(pub.some((r) => r.operation === 'tenant.terminate' && r.tenant === id));
    });

    test('revoke: state, audit record and NOTIFY in one transaction, received on another connection', async () => {
      const id = uid('kill');
      await gov.createTenant({ id }, 'admin');
      const listenDb = engine === 'postgres' ? await t.openAnother() : t.db;
      const listener = await collect(listenDb, 2);
      // A refused transition sends nothing: the first event received must be the revoke below.
      await assert.rejects(gov.restoreTenant(id, 'admin'), is('INVALID_STATE'));
      const before = Date.now();
      const revoked = await gov.revokeTenant(id, 'sec-officer', 'customer request');
      assert.equal(revoked.state, 'revoked');
      assert.equal(revoked.stateReason, 'customer request');
      // The audit record is already durable when revoke resolves.
      const recs = await gov.audit.list(id);
      assert.deepEqual(recs.map((r) => r.operation), ['tenant.create', 'tenant.revoke']);
      assert.equal(recs[1]?.principal, 'sec-officer');
      await gov.restoreTenant(id, 'sec-officer');
      const events = await listener.events;
      await listener.stop();
      assert.deepEqual(events.map((e) => [e.tenant, e.action]), [[id, 'revoke'], [id, 'restore']]);
      assert.ok(Date.parse(events[0]!.at) >= before - 1000);
      assert.equal((await gov.getTenant(id))?.state, 'active');
      assert.deepEqual(await gov.audit.verify(id), { ok: true, count: 3 });
      // Suspend/resume and the transitions that are not allowed.
      await gov.suspendTenant(id, 'admin', 'billing');
      await assert.rejects(gov.restoreTenant(id, 'admin'), is('INVALID_STATE'));
      await gov.resumeTenant(id, 'admin');
      await assert.rejects(gov.resumeTenant(id, 'admin'), is('INVALID_STATE'));
      assert.deepEqual(await gov.countTenantsByState().then((c) => c.active >= 1), true);
    });

    if (engine === 'postgres') {
      test('the LISTEN connection comes back after the server kills it, and says so', async () => {
        const events: string[] = [];
        const listenDb = await openDb({ url: t.url!, onListenEvent: (e) => events.push(e.type) });
        try {
          const got: string[] = [];
          const stop = await listenDb.listen(TENANT_CHANNEL, (p) => got.push(p));
          const killed = await t.db.query<{ n: string | number }>(
            `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
              WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
          );
          assert.equal(Number(killed.rows[0]?.n), 1);
          const deadline = Date.now() + 15_000;
          while (!events.includes('reconnected')) {
            if (Date.now() > deadline) throw new Error(`no reconnect; events: ${events.join(',')}`);
            await new Promise((r) => setTimeout(r, 20));
          }
          await t.db.notify(TENANT_CHANNEL, 'after-reconnect');
          while (!got.includes('after-reconnect')) {
            if (Date.now() > deadline) throw new Error('no notification after the reconnect');
            await new Promise((r) => setTimeout(r, 20));
          }
          await stop();
        } finally {
          await listenDb.close();
        }
      });
    }

    test('shadow references: validated per plugin kind, immutable names, bounded count', async () => {
      const id = uid('shadow');
      await gov.createTenant({ id }, 'admin');
      const good = [
        { plugin: 'pkcs11', keyRef: 'token=hsm1;object=l1-key', keyVersion: '01ab' },
        { plugin: 'aws-kms', keyRef: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', keyVersion: '' },
        { plugin: 'azure-keyvault', keyRef: 'https://myvault.vault.azure.net/keys/l1key/0123456789abcdef', keyVersion: '' },
        { plugin: 'local', keyRef: 'local:dev-root', keyVersion: '1' },
      ];
      for (const [i, s] of good.entries()) await gov.registerShadowRef(id, `ref${String(i)}`, s, 'admin');
      assert.deepEqual((await gov.listShadowRefs(id)).map((r) => r.shadow), good);
      assert.deepEqual((await gov.getShadowRef(id, 'ref1'))?.shadow, good[1]);
      await assert.rejects(gov.registerShadowRef(id, 'ref0', good[0]!, 'admin'), is('ALREADY_EXISTS'));
      const bad: unknown[] = [
        { plugin: 'gcp', keyRef: 'x', keyVersion: '' },
        { plugin: 'aws-kms', keyRef: 'arn:aws:kms:eu-central-1:123:key/x', keyVersion: '' },
        { plugin: 'azure-keyvault', keyRef: 'http://myvault.vault.azure.net/keys/k', keyVersion: '' },
        { plugin: 'pkcs11', keyRef: 'token=a;object=b;pin=1234', keyVersion: '' },
        { plugin: 'local', keyRef: 'local:x', keyVersion: 'a b' },
        { plugin: 'local', keyRef: 'local:x', keyVersion: '', secret: 'nope' },
      ];
      for (const s of bad) {
        await assert.rejects(gov.registerShadowRef(id, 'bad', s as never, 'admin'), is('INVALID_ARGUMENT'), JSON.stringify(s));
      }
      await assert.rejects(gov.registerShadowRef(id, 'bad name', good[0]!, 'admin'), is('INVALID_ARGUMENT'));
      for (let i = good.length; i < MAX_SHADOW_REFS_PER_TENANT; i++) {
        await gov.registerShadowRef(id, `ref${String(i)}`, good[3]!, 'admin');
      }
      assert.equal((await gov.listShadowRefs(id)).length, MAX_SHADOW_REFS_PER_TENANT);
      await assert.rejects(gov.registerShadowRef(id, 'one-more', good[3]!, 'admin'), is('LIMIT_EXCEEDED'));
    });

    test('policies: stored after the validator accepts them; size limit at the limit and one past', async () => {
      const id = uid('pol');
      const validating = await Governance.open({
        db: t.db,
        auditHmac: hmac,
        policyValidator: (body) => { if (!body.startsWith('permit') && !body.startsWith('forbid') && !body.startsWith('//')) throw new Error('not Cedar'); },
      });
      try {
        await validating.createTenant({ id }, 'admin');
        await validating.putPolicy(id, 'allow-all', 'permit(principal, action, resource);', 'admin');
        await validating.putPolicy(id, 'allow-all', 'forbid(principal, action, resource);', 'admin2');
        await assert.rejects(validating.putPolicy(id, 'junk', 'drop table', 'admin'), is('INVALID_ARGUMENT'));
        const atLimit = '//' + 'x'.repeat(POLICY_MAX_BYTES - 2);
        await validating.putPolicy(id, 'big', atLimit, 'admin');
        await assert.rejects(validating.putPolicy(id, 'big', atLimit + 'x', 'admin'), is('INVALID_ARGUMENT'));
        const list = await validating.listPolicies(id);
        assert.deepEqual(list.map((p) => [p.id, p.updatedBy]), [['allow-all', 'admin2'], ['big', 'admin']]);
        assert.equal((await validating.getPolicy(id, 'allow-all'))?.body, 'forbid(principal, action, resource);');
        await validating.deletePolicy(id, 'big', 'admin');
        await assert.rejects(validating.deletePolicy(id, 'big', 'admin'), is('NOT_FOUND'));
        assert.deepEqual((await validating.listPolicies(id)).map((p) => p.id), ['allow-all']);
        assert.equal((await validating.audit.verify(id)).ok, true);
      } finally {
        await validating.close();
      }
    });

    test('limits: each at the limit and one past it', async () => {
      // Identifiers reaching SQL text: 63 bytes (NAMEDATALEN-1) pass quoteIdent, 64 would be truncated by Postgres.
      assert.equal(quoteIdent('a'.repeat(63)), `"${'a'.repeat(63)}"`);
      assert.throws(() => quoteIdent('a'.repeat(64)), is('INVALID_ARGUMENT'));
      assert.throws(() => quoteIdent('a"b'), is('INVALID_ARGUMENT'));
      assert.throws(() => quoteIdent('Public'), is('INVALID_ARGUMENT'));

      const id = uid('lim');
      await gov.createTenant({ id, name: 'n'.repeat(TENANT_DISPLAY_NAME_MAX) }, 'p'.repeat(PRINCIPAL_MAX));
      await assert.rejects(gov.createTenant({ id: uid('lim'), name: 'n'.repeat(TENANT_DISPLAY_NAME_MAX + 1) }, 'admin'), is('INVALID_ARGUMENT'));
      await assert.rejects(gov.suspendTenant(id, 'p'.repeat(PRINCIPAL_MAX + 1)), is('INVALID_ARGUMENT'));
      const s = quoteIdent(tenantSchema(id));

      const local = { plugin: 'local', keyRef: 'local:k', keyVersion: 'v'.repeat(KEY_VERSION_MAX) };
      await gov.registerShadowRef(id, 'k', local, 'admin');
      await assert.rejects(gov.registerShadowRef(id, 'k2', { ...local, keyVersion: 'v'.repeat(KEY_VERSION_MAX + 1) }, 'admin'), is('INVALID_ARGUMENT'));

      // Policies per tenant: fill to one below the limit directly, then the API adds the last one and refuses one more.
      await t.db.query(
        `INSERT INTO ${s}.policies (id, body, updated_at, updated_by) SELECT 'p' || g, '//', now(), 'seed' FROM generate_series(1, $1::int) g`,
        [MAX_POLICIES_PER_TENANT - 1],
      );
      await gov.putPolicy(id, 'last', '//', 'admin');
      await assert.rejects(gov.putPolicy(id, 'one-more', '//', 'admin'), is('LIMIT_EXCEEDED'));
      await gov.putPolicy(id, 'last', '// replaced', 'admin');

      // Approval requests: parameters, required approvers, window, pending count.
      const params = Object.fromEntries(Array.from({ length: MAX_APPROVAL_PARAMS }, (_, i) => [`k${String(i)}`, 'v'.repeat(APPROVAL_PARAM_MAX)]));
      await gov.requestApproval('suspend', id, 'alice', params, { required: MAX_REQUIRED_APPROVERS, ttlMs: MAX_APPROVAL_TTL_MS });
      await assert.rejects(gov.requestApproval('suspend', id, 'alice', { ...params, extra: 'x' }), is('INVALID_ARGUMENT'));
      await assert.rejects(gov.requestApproval('suspend', id, 'alice', { k: 'v'.repeat(APPROVAL_PARAM_MAX + 1) }), is('INVALID_ARGUMENT'));
      await assert.rejects(gov.requestApproval('suspend', id, 'alice', {}, { required: MAX_REQUIRED_APPROVERS + 1 }), is('INVALID_ARGUMENT'));
      await assert.rejects(gov.requestApproval('suspend', id, 'alice', {}, { ttlMs: MAX_APPROVAL_TTL_MS + 1 }), is('INVALID_ARGUMENT'));
      await t.db.query(
        `INSERT INTO ${s}.approvals (id, action, params, requested_by, requested_at, expires_at, required, state)
         SELECT $1 || ':' || gen_random_uuid(), 'suspend', '{}', 'seed', now(), now() + interval '1 day', 1, 'pending'
           FROM generate_series(1, $2::int)`,
        [id, MAX_PENDING_APPROVALS_PER_TENANT - 2],
      );
      await gov.requestApproval('suspend', id, 'alice');
      await assert.rejects(gov.requestApproval('suspend', id, 'alice'), is('LIMIT_EXCEEDED'));
    });

    test('four-eyes: distinct approvers other than the requester; executes when N is reached', async () => {
      const id = uid('four');
      await gov.createTenant({ id }, 'admin');
      const req = await gov.requestApproval('revoke', id, 'alice', { reason: 'incident 42' });
      assert.match(req, new RegExp(`^${id}:[0-9a-f-]{36}$`));
      await assert.rejects(gov.approve(req, 'alice'), is('APPROVER_NOT_ALLOWED'));
      const one = await gov.approve(req, 'bob');
      assert.equal(one.state, 'pending');
      assert.deepEqual(one.approvers, ['bob']);
      await assert.rejects(gov.approve(req, 'bob'), is('APPROVER_NOT_ALLOWED'));
      assert.equal((await gov.getTenant(id))?.state, 'active');
      const two = await gov.approve(req, 'carol');
      assert.equal(two.state, 'executed');
      assert.deepEqual(two.approvers, ['bob', 'carol']);
      const tenant = await gov.getTenant(id);
      assert.equal(tenant?.state, 'revoked');
      assert.equal(tenant.stateReason, 'incident 42');
      await assert.rejects(gov.approve(req, 'dave'), is('INVALID_STATE'));
      assert.equal((await gov.getApproval(req))?.state, 'executed');
      const ops = (await gov.audit.list(id)).map((r) => `${r.operation}/${r.principal}`);
      assert.deepEqual(ops, [
        'tenant.create/admin', 'approval.request/alice', 'approval.approve/bob', 'approval.approve/carol',
        'tenant.revoke/alice (approved by bob, carol)', 'approval.revoke/alice (approved by bob, carol)',
      ]);
      await assert.rejects(gov.approve(`${id}:not-a-uuid`, 'bob'), is('INVALID_ARGUMENT'));
      await assert.rejects(gov.approve(`${id}:00000000-0000-4000-8000-000000000000`, 'bob'), is('NOT_FOUND'));
      await assert.rejects(gov.requestApproval('launch-missiles', id, 'alice'), is('INVALID_ARGUMENT'));
    });

    test('four-eyes: expiry, and caller-executed approvals completed exactly once', async () => {
      let now = Date.parse('2026-06-01T00:00:00Z');
      const clocked = await Governance.open({ db: t.db, auditHmac: hmac, clock: () => new Date(now), approvalTtlMs: 60_000 });
      try {
        const id = uid('exp');
        await clocked.createTenant({ id }, 'admin');
        const req = await clocked.requestApproval('suspend', id, 'alice');
        now += 60_001;
        await assert.rejects(clocked.approve(req, 'bob'), is('APPROVAL_EXPIRED'));
        assert.equal((await clocked.getApproval(req))?.state, 'expired');
        await assert.rejects(clocked.approve(req, 'carol'), is('INVALID_STATE'));
        assert.equal((await clocked.getTenant(id))?.state, 'active');

        const manual = await clocked.requestApproval('terminate', id, 'alice', {}, { required: 1 });
        const approved = await clocked.approve(manual, 'bob', { execute: false });
        assert.equal(approved.state, 'approved');
        assert.equal((await clocked.getTenant(id))?.state, 'active');
        const done = await clocked.completeApproval(manual, 'failed', 'L1 unreachable');
        assert.equal(done.state, 'failed');
        await assert.rejects(clocked.completeApproval(manual, 'executed'), is('INVALID_STATE'));
        assert.deepEqual((await clocked.listApprovals(id)).map((a) => a.state).sort(), ['expired', 'failed']);
      } finally {
        await clocked.close();
      }
    });

    test('an approved terminate runs the configured crypto-shred hook, then drops the schema', async () => {
      const shredded: string[] = [];
      const g = await Governance.open({ db: t.db, auditHmac: hmac, cryptoShred: (x) => { shredded.push(x); return Promise.resolve(); } });
      try {
        const id = uid('term');
        await g.createTenant({ id }, 'admin');
        const req = await g.requestApproval('terminate', id, 'alice');
        const res = await g.approve(req, 'bob');
        assert.equal(res.state, 'executed');
        assert.deepEqual(shredded, [id]);
        assert.equal((await g.getTenant(id))?.state, 'terminated');
        assert.ok(!(await userSchemas(t.db)).includes(tenantSchema(id)));
      } finally {
        await g.close();
      }
    });
  });
}
