/** Cedar authorization (ARCHITECTURE §6, issue 5): schema, default policies, engine, KMIP hooks. */
export { ADMIN_ACTIONS, CEDAR_NAMESPACE, CEDAR_SCHEMA_TEXT, ENTITY, KMIP_ACTION_GROUPS, KMIP_ACTIONS, PLATFORM_TENANT } from './schema.js';
export type { AdminActionName, KmipActionGroup, KmipActionName } from './schema.js';
export { ADMIN_ROLES, DEFAULT_POLICIES_TEXT, KMIP_ROLES } from './policies.js';
export { MAX_DECISION_MEMO_ENTRIES, MAX_TENANT_POLICY_BYTES, PolicyEngine, PolicyError } from './engine.js';
export type {
  AdminPrincipal, AuthzDecision, AuthzRequest, ClientPrincipal, ObjectResource, PolicyEngineOptions, PolicyEngineStats,
  PolicyErrorCode, TenantResource,
} from './engine.js';
export {
  actionOfOperation, DEFAULT_CLIENT_ROLES, kmipAuthorizer, MAX_ROLE_NAME_LENGTH, MAX_ROLES_PER_IDENTITY, objectResource,
  parseIdentityRoles, rolesFromConfig,
} from './kmip.js';
export type { IdentityRolesConfig, KmipAuthorizer, KmipAuthorizerOptions, KmipDenyEvent } from './kmip.js';
