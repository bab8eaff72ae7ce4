/**
 * Who may do what on the admin API (docs/governance.md "Roles"). The role table is the default decider and
 * the documented baseline; a Cedar PolicyEngine (src/cmk/authz, AdminAction) may replace it through
 * {@link AdminAuthorizer}.
 */
import { ADMIN_ACTIONS } from '../authz/schema.js';
import type { AdminAction, AdminAuthorizer, AdminPrincipal, AdminRole } from './ports.js';

/**
 * The baseline: `admin` does everything; `security-officer` runs the kill-switch and approves; `auditor` reads
 * and verifies the audit trail; `operator` reads tenants and health. Read access to tenants is given to every
 * role that acts on tenants (they need to see the state they change).
 */
export const ROLE_ACTIONS: Readonly<Record<AdminRole, readonly AdminAction[]>> = {
  'admin': [...ADMIN_ACTIONS, 'HealthRead'],
  'security-officer': ['TenantList', 'TenantRead', 'TenantRevoke', 'TenantRestore', 'ShadowRefRead', 'ApprovalRequest', 'ApprovalGrant', 'HealthRead'],
  'auditor': ['TenantList', 'TenantRead', 'AuditRead', 'AuditVerify', 'AuditExport'],
  'operator': ['TenantList', 'TenantRead', 'HealthRead'],
};

export function roleAllows(roles: readonly AdminRole[], action: AdminAction): boolean {
  return roles.some((r) => ROLE_ACTIONS[r].includes(action));
}

/** The role-table authorizer. */
export const roleTableAuthorizer: AdminAuthorizer = {
  isAuthorized(principal: AdminPrincipal, action: AdminAction): boolean {
    return roleAllows(principal.roles, action);
  },
};
