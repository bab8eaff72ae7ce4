/**
 * Cedar authorization (issue 5 deliverable 2; src/cmk/authz): the schema and default policies
 * validate, allow/deny matrices of every KMIP operation across roles, tenants, object states
 * and types, per-tenant policies on top of the defaults, refusal of bad policy text with
 * Cedar's diagnostics, the limits, fail-closed evaluation, and the KMIP hooks.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KmipError } from '../../src/kmip/errors.js';
import { CryptographicAlgorithm, ObjectType, Operation, State, Tag } from '../../src/kmip/registry.generated.js';
import type { ManagedObjectRecord } from '../../src/operations/model/store.js';
import type { Principal, RequestContext } from '../../src/operations/types.js';
import { ConfigError } from '../../src/common/config-error.js';
import { enumeration, text } from '@openkcm/ttlv';
import {
  ADMIN_ACTIONS, CEDAR_SCHEMA_TEXT, DEFAULT_POLICIES_TEXT, KMIP_ACTION_GROUPS, KMIP_ACTIONS, MAX_ROLE_NAME_LENGTH,
  MAX_ROLES_PER_IDENTITY, MAX_TENANT_POLICY_BYTES, PLATFORM_TENANT, PolicyEngine, PolicyError, kmipAuthorizer, objectResource,
  parseIdentityRoles, rolesFromConfig,
} from '../../src/cmk/authz/index.js';
import { MAX_DECISION_MEMO_BYTES, MAX_MEMO_KEY_CHARS, MAX_WARM_DECISIONS, requestEntities } from '../../src/cmk/authz/engine.js';
import { warmRequests } from '../../src/cmk/authz/kmip.js';
import type {
  AdminActionName, AuthzDecision, AuthzRequest, ClientPrincipal, KmipActionGroup, KmipActionName, ObjectResource, TenantResource,
} from '../../src/cmk/authz/index.js';

const engine = new PolicyEngine();
after(() => { engine.close(); });

const client = (tenant: string, roles: readonly string[], id = `${tenant}-app`): ClientPrincipal => ({ type: 'Client', id, tenant, roles });
const tenantRes = (id: string): TenantResource => ({ type: 'Tenant', id });
const obj = (tenant: string, over: Partial<ObjectResource> = {}): ObjectResource => ({
  type: 'ManagedObject', uid: `${tenant}-key-1`, tenant, objectType: 'SymmetricKey', group: '', groups: [], state: 'Active',
  algorithm: 'AES', owner: '', ...over,
});
function decideKmip(principal: ClientPrincipal, action: KmipActionName, resource: TenantResource | ObjectResource, e = engine): AuthzDecision {
  return e.isAuthorized({ principal, action, resource });
}

/** The role → functional groups table of docs/governance.md (the spec the defaults implement). */
const ROLE_GROUPS: Readonly<Record<string, readonly KmipActionGroup[]>> = {
  admin: ['KmipSession', 'KmipMetadataRead', 'KmipKeyRetrieve', 'KmipCryptoUse', 'KmipLifecycle', 'KmipAdministration'],
  operator: ['KmipSession', 'KmipMetadataRead', 'KmipLifecycle'],
  'crypto-user': ['KmipSession', 'KmipMetadataRead', 'KmipKeyRetrieve', 'KmipCryptoUse'],
  reader: ['KmipSession', 'KmipMetadataRead'],
  // No role at all (or one the defaults do not know): session housekeeping only.
  none: ['KmipSession'],
  'unknown-role': ['KmipSession'],
};
const rolesFor = (role: string): string[] => (role === 'none' ? [] : [role]);

function groupOf(action: KmipActionName): KmipActionGroup {
  const g = (Object.keys(KMIP_ACTION_GROUPS) as KmipActionGroup[]).find((k) => (KMIP_ACTION_GROUPS[k] as readonly string[]).includes(action));
  assert.ok(g !== undefined, action);
  return g;
}

describe('schema and default policies', () => {
  test('one action per Operation enumeration value, each in exactly one functional group', () => {
    assert.deepEqual([...KMIP_ACTIONS], Object.keys(Operation));
    for (const a of KMIP_ACTIONS) {
      const groups = Object.values(KMIP_ACTION_GROUPS).filter((m) => (m as readonly string[]).includes(a));
      assert.equal(groups.length, 1, `${a} is in ${String(groups.length)} groups`);
    }
    const grouped = Object.values(KMIP_ACTION_GROUPS).flat();
    assert.equal(grouped.length, KMIP_ACTIONS.length, 'no group names an operation twice or one that does not exist');
    for (const a of ['Create', 'Get', 'GetAttributes', 'Encrypt', 'Destroy', 'RNGRetrieve', 'DiscoverVersions']) assert.ok(CEDAR_SCHEMA_TEXT.includes(`action "${a}" in`), a);
    for (const a of ['TenantCreate', 'TenantSuspend', 'TenantTerminate', 'TenantRevoke', 'TenantRestore', 'PolicyPut', 'AuditRead', 'ShadowRefRegister']) {
      assert.ok((ADMIN_ACTIONS as readonly string[]).includes(a), a);
    }
  });

  test('the schema parses and the default policies validate against it (strict)', () => {
    assert.deepEqual(cedar.checkParseSchema(CEDAR_SCHEMA_TEXT), { type: 'success' });
    const answer = cedar.validate({ schema: CEDAR_SCHEMA_TEXT, policies: { staticPolicies: DEFAULT_POLICIES_TEXT }, validationSettings: { mode: 'strict' } });
    assert.ok(answer.type === 'success', JSON.stringify(answer));
    assert.deepEqual(answer.validationErrors, []);
    assert.deepEqual(answer.validationWarnings, []);
  });

  test('the entities the engine sends conform to the schema, and decisions equal Cedar with the schema and request validation', () => {
    const requests: AuthzRequest[] = [
      { principal: client('acme', ['crypto-user']), action: 'Get', resource: obj('acme', { groups: ['a', 'b'], group: 'a' }) },
      { principal: client('acme', ['crypto-user']), action: 'Get', resource: obj('acme', { state: 'Compromised' }) },
      { principal: client('acme', []), action: 'Query', resource: tenantRes('acme') },
      { principal: client('acme', ['reader']), action: 'Destroy', resource: tenantRes('acme') },
      { principal: client('acme', ['admin']), action: 'Destroy', resource: obj('bolt') },
      { principal: { type: 'Admin', id: 'ops', roles: ['auditor'] }, action: 'AuditRead', resource: tenantRes('acme') },
      { principal: { type: 'Admin', id: 'ops', roles: ['tenant-admin'], tenant: 'acme' }, action: 'PolicyPut', resource: tenantRes('bolt') },
      { principal: { type: 'Admin', id: 'ops', roles: ['tenant-admin'], tenant: 'acme' }, action: 'PolicyPut', resource: tenantRes('acme') },
    ];
    for (const req of requests) {
      const [principal, resource, action] = requestEntities(req);
      assert.deepEqual(cedar.checkParseEntities({ entities: [principal, resource], schema: CEDAR_SCHEMA_TEXT }), { type: 'success' });
      const reference = cedar.isAuthorized({
        principal: principal.uid, action: action.uid, resource: resource.uid, context: {}, schema: CEDAR_SCHEMA_TEXT,
        validateRequest: true, policies: { staticPolicies: DEFAULT_POLICIES_TEXT }, entities: [principal, resource],
      });
      assert.ok(reference.type === 'success', JSON.stringify(reference));
      assert.equal(engine.isAuthorized(req).allowed, reference.response.decision === 'allow', JSON.stringify(req));
    }
  });

  test('a replacement default policy set that does not validate is refused at construction', () => {
    assert.throws(() => new PolicyEngine({ defaultPolicies: 'permit(principal, action, resource) when { resource.color == "red" };' }),
      (e: unknown) => e instanceof PolicyError && e.code === 'INVALID_POLICY' && /color/.test(e.message));
  });
});

describe('KMIP operation level (resource = Tenant): every operation × role × own/other tenant', () => {
  const rows: { role: string; action: KmipActionName; own: boolean; expected: boolean }[] = [];
  for (const role of Object.keys(ROLE_GROUPS)) {
    for (const action of KMIP_ACTIONS) {
      for (const own of [true, false]) rows.push({ role, action, own, expected: own && (ROLE_GROUPS[role] ?? []).includes(groupOf(action)) });
    }
  }

  test(`${String(rows.length)} decisions match the role table`, () => {
    const wrong: string[] = [];
    for (const r of rows) {
      const d = decideKmip(client('acme', rolesFor(r.role)), r.action, tenantRes(r.own ? 'acme' : 'bolt'));
      assert.deepEqual(d.errors, []);
      if (d.allowed !== r.expected) wrong.push(`${r.role} ${r.action} ${r.own ? 'own' : 'other'}: got ${String(d.allowed)}`);
    }
    assert.deepEqual(wrong, []);
  });

  // Literal anchors, independent of the group table above.
  const anchors: [roles: string[], action: KmipActionName, tenant: string, allowed: boolean][] = [
    [['admin'], 'Destroy', 'acme', true],
    [['admin'], 'Destroy', 'bolt', false],
    [['admin'], 'DiscoverVersions', 'bolt', false],
    [['operator'], 'Create', 'acme', true],
    [['operator'], 'Get', 'acme', false],
    [['operator'], 'Encrypt', 'acme', false],
    [['operator'], 'Destroy', 'acme', false],
    [['crypto-user'], 'Get', 'acme', true],
    [['crypto-user'], 'Decrypt', 'acme', true],
    [['crypto-user'], 'Create', 'acme', false],
    [['reader'], 'Locate', 'acme', true],
    [['reader'], 'GetAttributes', 'acme', true],
    [['reader'], 'Get', 'acme', false],
    [['reader'], 'Destroy', 'acme', false],
    [[], 'DiscoverVersions', 'acme', true],
    [[], 'Query', 'acme', true],
    [[], 'Locate', 'acme', false],
    [['reader', 'crypto-user'], 'Encrypt', 'acme', true],
    [['reader', 'operator'], 'Activate', 'acme', true],
  ];
  for (const [roles, action, tenant, allowed] of anchors) {
    test(`[${roles.join(',')}] ${action} on tenant ${tenant} → ${allowed ? 'allow' : 'deny'}`, () => {
      const d = decideKmip(client('acme', roles), action, tenantRes(tenant));
      assert.equal(d.allowed, allowed, JSON.stringify(d));
      if (!allowed && tenant !== 'acme') assert.ok(d.reasons.includes('default.tenant-boundary'), JSON.stringify(d));
      if (allowed && roles.length === 1 && action !== 'DiscoverVersions' && action !== 'Query') assert.deepEqual(d.reasons, [`default.role-${roles[0] ?? ''}`]);
    });
  }
});

describe('KMIP object level (resource = ManagedObject): role × operation × state × type × own/other tenant', () => {
  const actions: KmipActionName[] = ['Get', 'Export', 'Encrypt', 'Decrypt', 'Sign', 'GetAttributes', 'Activate', 'Revoke', 'Destroy', 'AddAttribute'];
  const states = ['PreActive', 'Active', 'Deactivated', 'Compromised', 'Destroyed', 'DestroyedCompromised'];
  const types = ['SymmetricKey', 'PrivateKey', 'Certificate', 'SecretData'];
  const roles = ['admin', 'operator', 'crypto-user', 'reader', 'none'];

  function expected(role: string, action: KmipActionName, state: string, own: boolean): boolean {
    if (!own) return false;
    const group = groupOf(action);
    if (!(ROLE_GROUPS[role] ?? []).includes(group)) return false;
    // default.no-compromised-retrieval: only an admin gets a compromised object's material.
    if (group === 'KmipKeyRetrieve' && (state === 'Compromised' || state === 'DestroyedCompromised') && role !== 'admin') return false;
    return true;
  }

  test(`${String(roles.length * actions.length * states.length * types.length * 2)} decisions match`, () => {
    const wrong: string[] = [];
    for (const role of roles) {
      for (const action of actions) {
        for (const state of states) {
          for (const objectType of types) {
            for (const own of [true, false]) {
              const d = decideKmip(client('acme', rolesFor(role)), action, obj(own ? 'acme' : 'bolt', { state, objectType }));
              assert.deepEqual(d.errors, []);
              const want = expected(role, action, state, own);
              if (d.allowed !== want) wrong.push(`${role} ${action} ${state} ${objectType} ${own ? 'own' : 'other'}: got ${String(d.allowed)}`);
            }
          }
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  test('the compromised-retrieval forbid names itself; an admin who is also a crypto-user still gets the material', () => {
    const d = decideKmip(client('acme', ['crypto-user']), 'Get', obj('acme', { state: 'Compromised' }));
    assert.equal(d.allowed, false);
    assert.deepEqual(d.reasons, ['default.no-compromised-retrieval']);
    assert.equal(decideKmip(client('acme', ['crypto-user', 'admin']), 'Get', obj('acme', { state: 'Compromised' })).allowed, true);
  });
});

describe('admin actions (platform defaults only)', () => {
  const admin = (roles: string[], tenant?: string): { type: 'Admin'; id: string; roles: string[]; tenant?: string } =>
    ({ type: 'Admin', id: 'ops@example.org', roles, ...(tenant === undefined ? {} : { tenant }) });
  const rows: [roles: string[], scope: string | undefined, action: AdminActionName, on: string, allowed: boolean][] = [
    [['platform-admin'], undefined, 'TenantCreate', 'acme', true],
    [['platform-admin'], undefined, 'TenantTerminate', 'acme', true],
    [['platform-admin'], undefined, 'TenantList', PLATFORM_TENANT, true],
    [['platform-admin'], 'acme', 'TenantTerminate', 'bolt', false],
    [['tenant-admin'], 'acme', 'PolicyPut', 'acme', true],
    [['tenant-admin'], 'acme', 'TenantRevoke', 'acme', true],
    [['tenant-admin'], 'acme', 'PolicyPut', 'bolt', false],
    [['tenant-admin'], 'acme', 'TenantTerminate', 'acme', false],
    [['tenant-admin'], 'acme', 'TenantCreate', 'acme', false],
    [['tenant-admin'], undefined, 'PolicyPut', 'acme', false],
    [['auditor'], undefined, 'AuditRead', 'acme', true],
    [['auditor'], undefined, 'TenantList', PLATFORM_TENANT, true],
    [['auditor'], undefined, 'PolicyPut', 'acme', false],
    [['auditor'], 'acme', 'AuditVerify', 'acme', true],
    [['auditor'], 'acme', 'AuditRead', 'bolt', false],
    [[], undefined, 'AuditRead', 'acme', false],
    [['admin'], undefined, 'TenantRead', 'acme', false],
  ];
  for (const [roles, scope, action, on, allowed] of rows) {
    test(`[${roles.join(',')}]${scope === undefined ? '' : `@${scope}`} ${action} on ${on} → ${allowed ? 'allow' : 'deny'}`, () => {
      const d = engine.isAuthorized({ principal: admin(roles, scope), action, resource: tenantRes(on) });
      assert.deepEqual(d.errors, []);
      assert.equal(d.allowed, allowed, JSON.stringify(d));
    });
  }

  test("a tenant's own policies never grant admin actions", () => {
    const e = new PolicyEngine();
    try {
      e.setTenantPolicies('acme', '@id("everything") permit (principal, action, resource);');
      const d = e.isAuthorized({ principal: admin(['auditor']), action: 'TenantTerminate', resource: tenantRes('acme') });
      assert.equal(d.allowed, false);
      // ...while for the tenant's own KMIP clients it does grant everything inside the tenant.
      assert.equal(decideKmip(client('acme', []), 'Destroy', obj('acme'), e).allowed, true);
      assert.equal(decideKmip(client('acme', []), 'Destroy', obj('bolt'), e).allowed, false, 'the tenant boundary forbid still wins');
    } finally {
      e.close();
    }
  });
});

describe('per-tenant policies', () => {
  test('a tenant forbids Destroy: its admins are refused (both levels), other tenants are not; removing restores it', () => {
    const e = new PolicyEngine();
    try {
      const acmeAdmin = client('acme', ['admin']);
      // Decided (and memoised) before the change: the change must invalidate it.
      assert.equal(decideKmip(acmeAdmin, 'Destroy', tenantRes('acme'), e).allowed, true);
      assert.equal(decideKmip(acmeAdmin, 'Destroy', obj('acme'), e).allowed, true);
      e.setTenantPolicies('acme', `// Keys of acme are never destroyed through KMIP (legal hold).
@id("no-destroy")
forbid (principal, action == OpenKCM::Action::"Destroy", resource);`);
      const op = decideKmip(acmeAdmin, 'Destroy', tenantRes('acme'), e);
      assert.equal(op.allowed, false);
      assert.deepEqual(op.reasons, ['tenant.no-destroy']);
      assert.equal(decideKmip(acmeAdmin, 'Destroy', obj('acme'), e).allowed, false);
      assert.equal(decideKmip(acmeAdmin, 'Revoke', obj('acme'), e).allowed, true, 'only Destroy is forbidden');
      assert.equal(decideKmip(client('bolt', ['admin']), 'Destroy', obj('bolt'), e).allowed, true, 'bolt is not affected');
      assert.match(e.tenantPolicies('acme') ?? '', /legal hold/);
      e.removeTenant('acme');
      assert.equal(e.tenantPolicies('acme'), undefined);
      assert.equal(decideKmip(acmeAdmin, 'Destroy', obj('acme'), e).allowed, true);
    } finally {
      e.close();
    }
  });

  test('a tenant grants its readers Encrypt with keys of Object Group "public" only', () => {
    const e = new PolicyEngine();
    try {
      e.setTenantPolicies('acme', `@id("reader-public-encrypt")
permit (principal is OpenKCM::Client, action == OpenKCM::Action::"Encrypt", resource is OpenKCM::ManagedObject)
when { principal.roles.contains("reader") && resource.groups.contains("public") };`);
      const reader = client('acme', ['reader']);
      // The operation-level check (resource = Tenant) does not match the object-only permit...
      assert.equal(decideKmip(reader, 'Encrypt', tenantRes('acme'), e).allowed, false);
      assert.equal(decideKmip(reader, 'Encrypt', obj('acme', { group: 'x', groups: ['x', 'public'] }), e).allowed, true);
      assert.equal(decideKmip(reader, 'Encrypt', obj('acme', { group: 'private', groups: ['private'] }), e).allowed, false);
      assert.equal(decideKmip(reader, 'Decrypt', obj('acme', { group: 'public', groups: ['public'] }), e).allowed, false);
      assert.equal(decideKmip(client('bolt', ['reader']), 'Encrypt', obj('bolt', { groups: ['public'] }), e).allowed, false);
    } finally {
      e.close();
    }
  });

  const invalid: [name: string, text: string, diagnostic: RegExp][] = [
    ['a syntax error, with its line', 'permit (principal, action, resource);\npermit (principal, action, resource) when { 1 + };', /line 2:/],
    ['an attribute the schema does not have', 'permit (principal is OpenKCM::Client, action, resource is OpenKCM::ManagedObject) when { resource.colour == "red" };', /colour/],
    ['an action the schema does not have', 'forbid (principal, action == OpenKCM::Action::"Obliterate", resource);', /Obliterate/],
    ['an entity type the schema does not have', 'forbid (principal is OpenKCM::Robot, action, resource);', /Robot/],
    ['a type error', 'forbid (principal is OpenKCM::Client, action, resource) when { principal.roles == "admin" };', /type|Set|String/i],
    ['a template', 'permit (principal == ?principal, action, resource);', /template/],
    ['a duplicate @id', '@id("a") permit (principal, action, resource);\n@id("a") forbid (principal, action, resource);', /duplicate policy id "tenant\.a"/],
  ];
  for (const [name, text, diag] of invalid) {
    test(`refused with diagnostics: ${name}; the policies in force stay`, () => {
      const e = new PolicyEngine();
      try {
        e.setTenantPolicies('acme', '@id("keep") forbid (principal, action == OpenKCM::Action::"Destroy", resource);');
        assert.deepEqual(e.validateTenantPolicies(text).length > 0, true);
        assert.throws(() => { e.setTenantPolicies('acme', text); }, (err: unknown) => {
          assert.ok(err instanceof PolicyError);
          assert.equal(err.code, 'INVALID_POLICY');
          assert.ok(err.diagnostics.length > 0);
          assert.ok(err.diagnostics.some((d) => diag.test(d)), err.diagnostics.join('\n'));
          assert.ok(err.message.includes(err.diagnostics[0] ?? '?'), 'the message lists the diagnostics');
          return true;
        });
        assert.match(e.tenantPolicies('acme') ?? '', /keep/);
        assert.equal(decideKmip(client('acme', ['admin']), 'Destroy', obj('acme'), e).allowed, false);
      } finally {
        e.close();
      }
    });
  }

  test(`policy text: ${String(MAX_TENANT_POLICY_BYTES)} bytes are accepted, one more is refused`, () => {
    const e = new PolicyEngine();
    try {
      const head = '@id("no-destroy") forbid (principal, action == OpenKCM::Action::"Destroy", resource);\n// ';
      const atLimit = head + 'x'.repeat(MAX_TENANT_POLICY_BYTES - Buffer.byteLength(head));
      assert.equal(Buffer.byteLength(atLimit), MAX_TENANT_POLICY_BYTES);
      assert.deepEqual(e.validateTenantPolicies(atLimit), []);
      e.setTenantPolicies('acme', atLimit);
      assert.throws(() => { e.setTenantPolicies('acme', `${atLimit}x`); }, (err: unknown) => err instanceof PolicyError && err.code === 'POLICY_TOO_LARGE');
      assert.equal(e.validateTenantPolicies(`${atLimit}x`).length, 1);
    } finally {
      e.close();
    }
  });

  test('a tenant name that is not one is refused', () => {
    assert.throws(() => { engine.setTenantPolicies('../etc', 'forbid (principal, action, resource);'); },
      (err: unknown) => err instanceof PolicyError && err.code === 'INVALID_TENANT');
  });
});

describe('documentation', () => {
  test('every Cedar example in the docs validates against the schema', () => {
    const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs');
    const blocks: string[] = [];
    for (const f of ['governance.md']) {
      const file = path.join(docs, f);
      for (const m of readFileSync(file, 'utf8').matchAll(/```cedar\n([\s\S]*?)```/g)) blocks.push(m[1] ?? '');
    }
    assert.ok(blocks.length >= 6, `found ${String(blocks.length)} cedar blocks`);
    for (const b of blocks) assert.deepEqual(engine.validateTenantPolicies(b), [], b);
  });
});

describe('fail closed', () => {
  test('a policy that errors during evaluation denies (Cedar alone would skip the erroring forbid)', () => {
    const e = new PolicyEngine();
    try {
      // Validates (types are right) but overflows at run time.
      e.setTenantPolicies('acme', '@id("overflow") forbid (principal, action, resource) when { 9223372036854775807 + 1 > 0 };');
      const d = decideKmip(client('acme', ['admin']), 'Get', obj('acme'), e);
      assert.equal(d.allowed, false);
      assert.ok(d.errors.some((m) => m.startsWith('tenant.overflow:')), JSON.stringify(d));
      assert.equal(decideKmip(client('bolt', ['admin']), 'Get', obj('bolt'), e).allowed, true, 'other tenants are unaffected');
    } finally {
      e.close();
    }
  });

  test('a request the schema refuses (unknown action, action for another principal type) denies with the error', () => {
    const unknown = engine.isAuthorized({ principal: client('acme', ['admin']), action: 'Teleport' as KmipActionName, resource: tenantRes('acme') });
    assert.equal(unknown.allowed, false);
    assert.match(unknown.errors.join(), /not an action/);
    const clientAdminAction = engine.isAuthorized({ principal: client('acme', ['admin']), action: 'TenantCreate' as KmipActionName, resource: tenantRes('acme') });
    assert.equal(clientAdminAction.allowed, false);
    assert.match(clientAdminAction.errors.join(), /does not apply to a Client/);
    const adminKmip = engine.isAuthorized({ principal: { type: 'Admin', id: 'x', roles: ['platform-admin'] }, action: 'Destroy' as AdminActionName, resource: tenantRes('acme') });
    assert.equal(adminKmip.allowed, false);
    assert.match(adminKmip.errors.join(), /does not apply to an Admin/);
  });

  test('a tenant whose policies cannot be refreshed is denied everything until a refresh succeeds', async () => {
    const e = new PolicyEngine();
    try {
      e.setTenantPolicies('acme', '@id("a") forbid (principal, action == OpenKCM::Action::"Destroy", resource);');
      await assert.rejects(e.refreshTenant('acme', () => Promise.reject(new Error('database unreachable'))), /database unreachable/);
      const d = decideKmip(client('acme', ['admin']), 'DiscoverVersions', tenantRes('acme'), e);
      assert.equal(d.allowed, false);
      assert.match(d.errors.join(), /could not be refreshed: database unreachable/);
      assert.equal(decideKmip(client('bolt', ['admin']), 'Get', obj('bolt'), e).allowed, true);
      // A stored text the engine refuses: also closed.
      await assert.rejects(e.refreshTenant('acme', () => Promise.resolve('permit (')), PolicyError);
      assert.equal(decideKmip(client('acme', ['admin']), 'Get', obj('acme'), e).allowed, false);
      await e.refreshTenant('acme', () => Promise.resolve(undefined));
      assert.equal(decideKmip(client('acme', ['admin']), 'Destroy', obj('acme'), e).allowed, true);
      await e.refreshTenant('acme', () => Promise.resolve('@id("b") forbid (principal, action == OpenKCM::Action::"Get", resource);'));
      assert.equal(decideKmip(client('acme', ['admin']), 'Get', obj('acme'), e).allowed, false);
      assert.equal(decideKmip(client('acme', ['admin']), 'Destroy', obj('acme'), e).allowed, true);
    } finally {
      e.close();
    }
  });

  test('a closed engine denies', () => {
    const e = new PolicyEngine();
    e.close();
    const d = decideKmip(client('acme', ['admin']), 'Get', obj('acme'), e);
    assert.equal(d.allowed, false);
    assert.match(d.errors.join(), /closed/);
  });
});

describe('decision memo', () => {
  test('hits give the same decision; the memo is bounded (at the bound and one past it)', () => {
    const e = new PolicyEngine({ maxMemoEntries: 3 });
    try {
      const p = client('acme', ['crypto-user']);
      const first = decideKmip(p, 'Get', obj('acme'), e);
      assert.equal(decideKmip(p, 'Get', obj('acme'), e), first);
      assert.deepEqual(e.stats().memoHits, 1);
      // The defaults decide by action, roles and state only (issue 14: one decision per role and object class), so
      // other objects of the class are hits, and the memo grows by class, not by object.
      assert.equal(decideKmip(p, 'Get', obj('acme', { uid: 'k2' }), e), first);
      assert.equal(e.stats().memoEntries, 1);
      decideKmip(p, 'Encrypt', obj('acme'), e);
      decideKmip(p, 'Decrypt', obj('acme'), e);
      assert.equal(e.stats().memoEntries, 3);
      decideKmip(p, 'MAC', obj('acme'), e);
      assert.ok(e.stats().memoEntries <= 3);
      // An attribute the policies read is part of the key: a state change is a new decision.
      assert.equal(decideKmip(p, 'Get', obj('acme', { uid: 'k4', state: 'Compromised' }), e).allowed, false);
      assert.equal(decideKmip(p, 'Get', obj('acme', { uid: 'k4' }), e).allowed, true);
    } finally {
      e.close();
    }
  });

  test('identities that would collide in a naive key do not share decisions', () => {
    const a = decideKmip({ type: 'Client', id: 'x', tenant: 'acme', roles: ['admin'] }, 'Destroy', obj('acme'));
    const b = decideKmip({ type: 'Client', id: 'x', tenant: 'acme', roles: ['adm', 'in'] }, 'Destroy', obj('acme'));
    assert.equal(a.allowed, true);
    assert.equal(b.allowed, false);
  });

  test('what a tenant\'s policies read or name stays in the key: uid, groups, owner, algorithm, the client and the tenant', async () => {
    const e = new PolicyEngine();
    try {
      const p = client('acme', ['admin']);
      const cases: [string, ObjectResource, ObjectResource, ClientPrincipal?][] = [
        ['@id("a") forbid (principal, action, resource == OpenKCM::ManagedObject::"bad");', obj('acme', { uid: 'good' }), obj('acme', { uid: 'bad' })],
        ['@id("a") forbid (principal, action, resource is OpenKCM::ManagedObject) when { resource.groups.contains("secret") };', obj('acme', { groups: ['x'] }), obj('acme', { groups: ['x', 'secret'] })],
        ['@id("a") forbid (principal, action, resource is OpenKCM::ManagedObject) when { resource.group == "secret" };', obj('acme', { group: 'x' }), obj('acme', { group: 'secret' })],
        ['@id("a") forbid (principal, action, resource is OpenKCM::ManagedObject) when { resource.owner == "mallory" };', obj('acme', { owner: 'alice' }), obj('acme', { owner: 'mallory' })],
        ['@id("a") forbid (principal, action, resource is OpenKCM::ManagedObject) when { resource.algorithm == "DES" };', obj('acme', { algorithm: 'AES' }), obj('acme', { algorithm: 'DES' })],
        ['@id("a") forbid (principal, action, resource is OpenKCM::ManagedObject) when { resource.objectType == "SecretData" };', obj('acme'), obj('acme', { objectType: 'SecretData' })],
      ];
      for (const [policy, allowed, denied] of cases) {
        await e.refreshTenant('acme', () => Promise.resolve(policy));
        assert.equal(decideKmip(p, 'Get', allowed, e).allowed, true, policy);
        assert.equal(decideKmip(p, 'Get', denied, e).allowed, false, policy);
        assert.equal(decideKmip(p, 'Get', allowed, e).allowed, true, `${policy} (memoised)`);
      }
      await e.refreshTenant('acme', () => Promise.resolve('@id("a") forbid (principal == OpenKCM::Client::"mallory", action, resource);'));
      assert.equal(decideKmip(client('acme', ['admin'], 'alice'), 'Get', obj('acme'), e).allowed, true);
      assert.equal(decideKmip(client('acme', ['admin'], 'mallory'), 'Get', obj('acme'), e).allowed, false);
      // A resource of another tenant is never decided like one of the client's own (tenant-boundary forbid).
      assert.equal(decideKmip(client('acme', ['admin']), 'Get', obj('other'), e).allowed, false);
      assert.equal(decideKmip(client('acme', ['admin']), 'Get', obj('acme'), e).allowed, true);
    } finally {
      e.close();
    }
  });

  test('tenants on the default policies share decisions; a tenant\'s own policies never leak to another', async () => {
    const e = new PolicyEngine();
    try {
      await e.refreshTenant('acme', () => Promise.resolve('@id("a") forbid (principal, action == OpenKCM::Action::"Get", resource);'));
      assert.equal(decideKmip(client('acme', ['admin']), 'Get', obj('acme'), e).allowed, false);
      assert.equal(decideKmip(client('globex', ['admin']), 'Get', obj('globex'), e).allowed, true);
      const before = e.stats().memoEntries;
      assert.equal(decideKmip(client('initech', ['admin']), 'Get', obj('initech'), e).allowed, true);
      assert.equal(e.stats().memoEntries, before, 'another tenant on the defaults reuses the decision');
    } finally {
      e.close();
    }
  });

  test(`keys past MAX_MEMO_KEY_CHARS are digests: huge attribute values cost a bounded entry (issue 15)`, async () => {
    const e = new PolicyEngine();
    try {
      await e.refreshTenant('acme', () => Promise.resolve('@id("a") forbid (principal, action, resource is OpenKCM::ManagedObject) when { resource.groups.contains("secret") };'));
      const p = client('acme', ['admin']);
      const big = Array.from({ length: 15 }, (_, i) => `${String(i)}${'g'.repeat(60_000)}`);
      for (let i = 0; i < 50; i++) {
        assert.equal(decideKmip(p, 'AddAttribute', obj('acme', { groups: [...big, String(i)] }), e).allowed, true);
      }
      assert.equal(decideKmip(p, 'Get', obj('acme', { groups: [...big, 'secret'] }), e).allowed, false);
      assert.ok(e.stats().memoBytes < 51 * (2 * MAX_MEMO_KEY_CHARS + 256), `${String(e.stats().memoBytes)} bytes for 51 entries`);
    } finally {
      e.close();
    }
  });

  test(`the memo is capped in bytes (MAX_DECISION_MEMO_BYTES, ${String(MAX_DECISION_MEMO_BYTES)}; here a small cap): at the cap and past it`, async () => {
    const cap = 64 * 1024;
    const e = new PolicyEngine({ maxMemoBytes: cap });
    try {
      // Policies that name an object keep the uid in the key, so every object is its own entry.
      await e.refreshTenant('acme', () => Promise.resolve('@id("a") forbid (principal, action, resource == OpenKCM::ManagedObject::"x");'));
      const p = client('acme', ['admin']);
      const uid = (i: number): string => `${String(i).padStart(8, '0')}${'u'.repeat(100)}`;
      let peak = 0;
      for (let i = 0; i < 400; i++) {
        decideKmip(p, 'Get', obj('acme', { uid: uid(i) }), e);
        peak = Math.max(peak, e.stats().memoBytes);
      }
      assert.ok(peak <= cap, `peak ${String(peak)} bytes`);
      assert.ok(peak > cap / 2, 'the cap was reached');
      assert.ok(e.stats().memoEntries < 400);
      // Evicted decisions are simply computed again.
      assert.equal(decideKmip(p, 'Get', obj('acme', { uid: uid(0) }), e).allowed, true);
      assert.equal(decideKmip(p, 'Get', obj('acme', { uid: 'x' }), e).allowed, false);
    } finally {
      e.close();
    }
  });

  test('warm(): decisions of every role and object class computed in the background, then only hits', async () => {
    const e = new PolicyEngine();
    try {
      const computed = await e.warm(warmRequests(e, 'acme', [['crypto-user'], ['admin']]));
      assert.ok(computed > 0 && computed <= MAX_WARM_DECISIONS);
      const { memoMisses } = e.stats();
      for (const state of ['Active', 'PreActive', 'Compromised', 'Deactivated', '']) {
        decideKmip(client('acme', ['crypto-user']), 'Get', obj('acme', { uid: `k-${state}`, state }), e);
        decideKmip(client('acme', ['admin']), 'Destroy', obj('acme', { state }), e);
      }
      decideKmip(client('acme', ['crypto-user']), 'Encrypt', tenantRes('acme'), e);
      assert.equal(e.stats().memoMisses, memoMisses, 'no decision was computed on the request path');
      // Policies that name objects cannot be enumerated: nothing is warmed, nothing is wrong.
      await e.refreshTenant('globex', () => Promise.resolve('@id("a") forbid (principal, action, resource == OpenKCM::ManagedObject::"x");'));
      assert.equal(await e.warm(warmRequests(e, 'globex', [['admin']])), 0);
    } finally {
      e.close();
    }
  });
});

describe('KMIP hooks', () => {
  const principal = (tenant: string, identity: string): Principal => ({ tenant, identity });
  const record = (uid: string, state: number): ManagedObjectRecord => ({
    uid,
    objectType: ObjectType.SymmetricKey,
    attributes: [
      { name: 'Unique Identifier', value: text(Tag.UniqueIdentifier, uid) },
      { name: 'State', value: enumeration(Tag.State, state) },
      { name: 'Cryptographic Algorithm', value: enumeration(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES) },
      { name: 'Object Group', value: text(Tag.ObjectGroup, 'payments') },
      { name: 'Object Group', value: text(Tag.ObjectGroup, 'eu') },
    ],
    hasObject: true,
    object: undefined,
  });
  const ctxFor = (p: Principal, operation: number | undefined): RequestContext => ({
    protocolVersion: { major: 2, minor: 1 }, version: '2.1', principal: p, session: { idPlaceholder: undefined, scratch: new Map() },
    services: {}, now: new Date(), ...(operation === undefined ? {} : { operation }),
  });
  const denied = (e: unknown): boolean => e instanceof KmipError && e.code === 'PERMISSION_DENIED';

  test('objectResource reads type, state, algorithm and groups from the record', () => {
    assert.deepEqual(objectResource('acme', record('u1', State.Compromised), 'alice'), {
      type: 'ManagedObject', uid: 'u1', tenant: 'acme', objectType: 'SymmetricKey', group: 'payments', groups: ['payments', 'eu'],
      state: 'Compromised', algorithm: 'AES', owner: 'alice',
    });
    const bare: ManagedObjectRecord = { uid: 'u2', objectType: ObjectType.OpaqueObject, attributes: [], hasObject: true, object: undefined };
    const r = objectResource('acme', bare);
    assert.equal(r.state, '');
    assert.equal(r.group, '');
    assert.equal(r.algorithm, '');
    assert.equal(r.objectType, 'OpaqueObject');
  });

  test('authorize (operation level) and authorizeObject answer Permission Denied; deny events are reported', () => {
    const roles = rolesFromConfig(parseIdentityRoles({ roles: { 'reader-app': ['reader'], 'app': ['crypto-user'] }, defaultRoles: [] }));
    const events: string[] = [];
    const authz = kmipAuthorizer(engine, { rolesOf: roles, onDeny: (ev) => { events.push(`${ev.identity}:${ev.action}:${ev.uid ?? '-'}:${ev.decision.reasons.join('+')}`); } });
    const reader = principal('acme', 'reader-app');
    const app = principal('acme', 'app');
    const nobody = principal('acme', 'stranger');
    authz.authorize(reader, Operation.GetAttributes, '2.1');
    assert.throws(() => { authz.authorize(reader, Operation.Destroy, '2.1'); }, denied);
    assert.throws(() => { authz.authorize(nobody, Operation.Locate, '2.1'); }, denied);
    authz.authorize(nobody, Operation.DiscoverVersions, '1.4');
    assert.throws(() => { authz.authorize(app, 0x7fff, '2.1'); }, denied, 'not an Operation value: fail closed');
    authz.authorizeObject(ctxFor(app, Operation.Get), record('k1', State.Active));
    assert.throws(() => { authz.authorizeObject(ctxFor(app, Operation.Get), record('k2', State.Compromised)); }, (e: unknown) => denied(e) && /'Get' on object 'k2'/.test((e as Error).message));
    assert.throws(() => { authz.authorizeObject(ctxFor(app, undefined), record('k1', State.Active)); }, denied, 'no operation in the context: fail closed');
    assert.deepEqual(events, [
      'reader-app:Destroy:-:', 'stranger:Locate:-:', 'app:0x7fff:-:', 'app:Get:k2:default.no-compromised-retrieval', 'app:unknown operation:k1:',
    ]);
  });

  test('without rolesOf every client is an admin of its own tenant (the pre-Cedar behaviour)', () => {
    const authz = kmipAuthorizer(engine);
    authz.authorize(principal('acme', 'anyone'), Operation.Destroy, '2.1');
    authz.authorizeObject(ctxFor(principal('acme', 'anyone'), Operation.Get), record('k1', State.Compromised));
  });

  test('identity roles configuration: validated, limits at the bound and one past it', () => {
    assert.deepEqual(parseIdentityRoles(undefined), { roles: {} });
    assert.deepEqual(parseIdentityRoles({ source: 'cn', roles: { a: ['reader', 'reader', 'crypto-user'] } }).roles, { a: ['reader', 'crypto-user'] });
    const many = Array.from({ length: MAX_ROLES_PER_IDENTITY }, (_, i) => `r${String(i)}`);
    assert.equal(parseIdentityRoles({ roles: { a: many } }).roles.a?.length, MAX_ROLES_PER_IDENTITY);
    assert.throws(() => parseIdentityRoles({ roles: { a: [...many, 'one-more'] } }), ConfigError);
    const long = 'r'.repeat(MAX_ROLE_NAME_LENGTH);
    assert.deepEqual(parseIdentityRoles({ defaultRoles: [long] }).defaultRoles, [long]);
    assert.throws(() => parseIdentityRoles({ defaultRoles: [`${long}r`] }), ConfigError);
    assert.throws(() => parseIdentityRoles({ roles: { a: 'admin' } }), /must be an array/);
    assert.throws(() => parseIdentityRoles({ roles: ['admin'] }), /identity\.roles must be an object/);
    assert.throws(() => parseIdentityRoles({ roles: { a: ['has space'] } }), /not a role name/);
    assert.throws(() => parseIdentityRoles({ roles: { a: [7] } }), /not a role name/);
    const rolesOf = rolesFromConfig(parseIdentityRoles({ roles: { a: ['reader'] } }));
    assert.deepEqual(rolesOf({ identity: 'a', tenant: 't' }), ['reader']);
    assert.deepEqual(rolesOf({ identity: 'b', tenant: 't' }), ['admin']);
    assert.deepEqual(rolesOf({ identity: 'constructor', tenant: 't' }), ['admin'], 'no prototype lookups');
  });
});

describe('hostile policy text never reaches Cedar (cedar-wasm traps on deep nesting and breaks the process)', () => {
  const nested = (depth: number): string => `forbid(principal, action, resource) when { ${'('.repeat(depth)}true${')'.repeat(depth)} };`;

  test('nesting at the limit is accepted, one past it is refused by the engine itself', async () => {
    const { MAX_POLICY_NESTING_DEPTH } = await import('../../src/cmk/authz/policy-guard.js');
    const e = new PolicyEngine();
    try {
      // The braces of `when { }` count as one level.
      assert.deepEqual(e.validateTenantPolicies(nested(MAX_POLICY_NESTING_DEPTH - 1)), []);
      assert.match(e.validateTenantPolicies(nested(MAX_POLICY_NESTING_DEPTH))[0] ?? '', /nests brackets/);
      assert.throws(() => { e.setTenantPolicies('acme', nested(MAX_POLICY_NESTING_DEPTH)); }, (err: unknown) => err instanceof PolicyError && err.code === 'INVALID_POLICY');
    } finally {
      e.close();
    }
  });

  test('the depth that trapped cedar-wasm (~150) is refused, and decisions keep working afterwards', () => {
    const e = new PolicyEngine();
    try {
      assert.throws(() => { e.setTenantPolicies('acme', nested(400)); }, PolicyError);
      assert.equal(decideKmip(client('acme', ['admin']), 'Get', obj('acme'), e).allowed, true);
      assert.equal(decideKmip(client('acme', ['admin']), 'Get', obj('other'), e).allowed, false);
    } finally {
      e.close();
    }
  });
});
