/**
 * Issue 16 item 5: the tenant lifecycle is complete and governed alike everywhere.
 *
 * - resume exists (route and CLI action) and lifts only a suspension;
 * - suspend and resume are under four-eyes like revoke: a request answers 202, the requester cannot approve it, a
 *   second admin's approval executes it, and the audit trail names both;
 * - a tenant name governance cannot govern (`Acme-Prod`) is refused by `openkcm init` and by tenant create, with the
 *   same rule (src/cmk/db.ts TENANT_ID_PATTERN), and a name both accept works in both.
 *
 * Over the real admin API (fastify inject, OIDC bearer tokens) and the real PostgreSQL; the CLI as a child process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { JWK } from 'jose';
import { buildAdminApi } from '../../src/cmk/api/server.js';
import type { AdminApi } from '../../src/cmk/api/server.js';
import { parseTenantArgs } from '../../src/cli/commands/tenant.js';
import { TENANT_ID_PATTERN } from '../../src/cmk/db.js';
import { Governance } from '../../src/cmk/repository/index.js';
import { openTestDatabase, testAuditHmac } from '../helpers/governance-db.js';
import type { TestDatabase } from '../helpers/governance-db.js';
import { CLI_MAIN } from '../helpers/server.js';

const ISSUER = 'https://idp.lifecycle.openkcm.invalid/';
const AUDIENCE = 'openkcm-admin';

describe('tenant lifecycle: resume, suspend and resume under four-eyes, one tenant-name rule', () => {
  let tdb: TestDatabase;
  let gov: Governance;
  let app: AdminApi;
  let gated: AdminApi;
  const tokens: Record<string, string> = {};
  const as = (who: string): Record<string, string> => ({ authorization: `Bearer ${tokens[who] ?? ''}` });

  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const sign = (sub: string, roles: string[]): Promise<string> => new SignJWT({ roles })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject(sub).setIssuer(ISSUER).setAudience(AUDIENCE)
      .setIssuedAt().setExpirationTime('10m').sign(privateKey);
    tokens.alice = await sign('alice', ['admin']);
    tokens.bob = await sign('bob', ['admin']);
    tdb = await openTestDatabase('postgres');
    gov = await Governance.open({ db: tdb.db, auditHmac: testAuditHmac() });
    const auth = { oidc: { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] } } };
    app = buildAdminApi({ governance: gov, auth });
    // fourEyes without `actions`: the server's default is every approvable action (src/appliance/governance/plane.ts).
    gated = buildAdminApi({ governance: gov, auth, fourEyes: { actions: ['revoke', 'restore', 'terminate', 'suspend', 'resume'], approvals: 1 } });
    await app.ready();
    await gated.ready();
  });

  after(async () => {
    await app.close();
    await gated.close();
    await gov.close();
    await tdb.close();
  });

  test('resume lifts a suspension, and only a suspension', async () => {
    let r = await app.inject({ method: 'POST', url: '/v1/tenants', headers: as('alice'), payload: { id: 'lc_one' } });
    assert.equal(r.statusCode, 201, r.body);
    r = await app.inject({ method: 'POST', url: '/v1/tenants/lc_one/resume', headers: as('alice') });
    assert.equal(r.statusCode, 409, 'an active tenant is not resumed');
    r = await app.inject({ method: 'POST', url: '/v1/tenants/lc_one/suspend', headers: as('alice'), payload: { reason: 'audit' } });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json<{ state: string }>().state, 'suspended');
    r = await app.inject({ method: 'POST', url: '/v1/tenants/lc_one/restore', headers: as('alice') });
    assert.equal(r.statusCode, 409, 'restore is for revoked tenants');
    r = await app.inject({ method: 'POST', url: '/v1/tenants/lc_one/resume', headers: as('alice') });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json<{ state: string }>().state, 'active');
    const ops = (await gov.audit.list('lc_one')).map((x) => x.operation);
    assert.ok(ops.includes('tenant.suspend') && ops.includes('tenant.resume'), ops.join(' '));
  });

  test('suspend and resume need a second admin when four-eyes covers them', async () => {
    let r = await gated.inject({ method: 'POST', url: '/v1/tenants', headers: as('alice'), payload: { id: 'lc_two' } });
    assert.equal(r.statusCode, 201, r.body);
    for (const [action, state] of [['suspend', 'suspended'], ['resume', 'active']] as const) {
      r = await gated.inject({ method: 'POST', url: `/v1/tenants/lc_two/${action}`, headers: as('alice'), payload: { reason: 'four eyes' } });
      assert.equal(r.statusCode, 202, r.body);
      const id = r.json<{ approvalId: string }>().approvalId;
      assert.equal((await gov.getTenant('lc_two'))?.state, action === 'suspend' ? 'active' : 'suspended', 'nothing happens before the approval');
      r = await gated.inject({ method: 'POST', url: `/v1/approvals/${encodeURIComponent(id)}/approve`, headers: as('alice') });
      assert.equal(r.statusCode, 409, 'the requester cannot approve');
      r = await gated.inject({ method: 'POST', url: `/v1/approvals/${encodeURIComponent(id)}/approve`, headers: as('bob') });
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json<{ executed: boolean; tenant: { state: string }; approval: { action: string; status: string } }>();
      assert.deepEqual([body.executed, body.tenant.state, body.approval.action, body.approval.status], [true, state, action, 'executed']);
    }
    const recs = await gov.audit.list('lc_two');
    assert.ok(recs.some((x) => x.operation === 'tenant.suspend' && x.principal.includes('approved by oidc:bob')), recs.map((x) => `${x.operation}:${x.principal}`).join(' '));
    assert.ok(recs.some((x) => x.operation === 'tenant.resume' && x.principal.includes('approved by oidc:bob')));
  });

  test('one tenant-name rule: init and tenant create refuse Acme-Prod, accept acme_prod', async () => {
    assert.ok(!TENANT_ID_PATTERN.test('Acme-Prod') && TENANT_ID_PATTERN.test('acme_prod'));
    let r = await app.inject({ method: 'POST', url: '/v1/tenants', headers: as('alice'), payload: { id: 'Acme-Prod' } });
    assert.equal(r.statusCode, 400, r.body);
    r = await app.inject({ method: 'POST', url: '/v1/tenants', headers: as('alice'), payload: { id: 'acme_prod' } });
    assert.equal(r.statusCode, 201, r.body);
    const dir = await mkdtemp(path.join(tmpdir(), 'openkcm-lc-init-'));
    try {
      let c = spawnSync(process.execPath, [CLI_MAIN, 'init', '--data-dir', dir, '--tenant', 'alpha', '--tenant', 'Acme-Prod'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(c.status, 1, c.stderr);
      assert.match(c.stderr, /tenant name "Acme-Prod" cannot be governed .* use e\.g\. "acme_prod"/);
      c = spawnSync(process.execPath, [CLI_MAIN, 'init', '--data-dir', dir, '--tenant', 'acme_prod'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(c.status, 0, c.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the CLI knows resume', () => {
    const env = { OPENKCM_ADMIN_URL: 'https://127.0.0.1:5697', OPENKCM_ADMIN_CA: 'ca', OPENKCM_ADMIN_CERT: 'c', OPENKCM_ADMIN_KEY: 'k' };
    assert.equal(parseTenantArgs(['resume', 'lc_one'], env).action, 'resume');
  });
});
