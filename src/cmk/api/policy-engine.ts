/**
 * The Cedar PolicyEngine (src/cmk/authz, H7) as the admin API's authorizer and policy validator.
 *
 * Roles. The engine's default policies (src/cmk/authz/policies.ts) know the admin roles `platform-admin`,
 * `tenant-admin` and `auditor`; the API's `admin` is `platform-admin` there and `auditor` is `auditor`. The API's
 * `security-officer` and `operator` roles have no Cedar policy in the defaults, so for principals holding them the
 * role table (./authz.ts) is consulted as well: the decision is Cedar's permit OR the role table's for those two
 * roles only. API principals are never tenant-scoped, so no Cedar `forbid` of the defaults applies to them.
 */
import { PLATFORM_TENANT } from '../authz/schema.js';
import { PolicyError } from '../authz/engine.js';
import type { PolicyEngine } from '../authz/engine.js';
import type { Governance } from '../repository/index.js';
import { roleAllows } from './authz.js';
import type { AdminPolicyEngine } from './deps.js';
import type { AdminAction, AdminPrincipal, AdminRole } from './ports.js';

/** API role → Cedar role of the default policies. */
export const CEDAR_ADMIN_ROLE: Readonly<Record<AdminRole, string>> = {
  'admin': 'platform-admin',
  'security-officer': 'security-officer',
  'auditor': 'auditor',
  'operator': 'operator',
};

/** Roles the default Cedar policies do not cover; the role table decides for them. */
export const ROLE_TABLE_ONLY_ROLES: readonly AdminRole[] = ['security-officer', 'operator'];

/**
 * Wraps `engine`. With `governance`, a policy change (PUT/DELETE) re-installs the tenant's combined policy text
 * in the engine (PolicyEngine.refreshTenant: fail-closed when the stored set no longer validates).
 */
export function policyEngineAdapter(engine: PolicyEngine, governance?: Governance): AdminPolicyEngine {
  return {
    authorizer: {
      isAuthorized(p: AdminPrincipal, action: AdminAction, tenant: string | undefined): boolean {
        if (action === 'HealthRead') return roleAllows(p.roles, action);
        const d = engine.isAuthorized({
          principal: { type: 'Admin', id: p.identity, roles: p.roles.map((r) => CEDAR_ADMIN_ROLE[r]) },
          action,
          resource: { type: 'Tenant', id: tenant ?? PLATFORM_TENANT },
        });
        if (d.allowed) return true;
        return roleAllows(p.roles.filter((r) => ROLE_TABLE_ONLY_ROLES.includes(r)), action);
      },
    },
    async validatePolicy(tenant: string, name: string, text: string): Promise<void> {
      // The engine installs a tenant's policies as ONE set (all stored texts joined), so the new text is validated
      // together with the others: a duplicate @id across two texts would otherwise pass here and then make the
      // refresh fail, leaving the tenant fail-closed.
      const others = governance === undefined ? [] : (await governance.listPolicies(tenant)).filter((p) => p.id !== name).map((p) => p.body);
      const diagnostics = engine.validateTenantPolicies([...others, text].join('\n'));
      if (diagnostics.length > 0) throw new PolicyError('INVALID_POLICY', 'the policy is not valid', diagnostics);
    },
    ...(governance === undefined ? {} : {
      async policiesChanged(tenant: string): Promise<void> {
        await engine.refreshTenant(tenant, async (t) => {
          const all = await governance.listPolicies(t);
          return all.length === 0 ? undefined : all.map((p) => p.body).join('\n');
        });
      },
    }),
  };
}
