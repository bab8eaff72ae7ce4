/**
 * The Cedar schema of OpenKCM authorization (ARCHITECTURE §6 "Cedar decides every KMIP
 * operation. The principal is the client identity, the action is the KMIP operation, and the
 * resource is the object with its attributes"; issue 5 deliverable 2).
 *
 * Namespace `OpenKCM`:
 * - principals: `Client` (a KMIP client: the identity of its certificate, src/server/identity.ts)
 *   and `Admin` (a caller of the admin REST API / CLI);
 * - resources: `ManagedObject` (a KMIP object, with the attributes policies may test) and
 *   `Tenant` (operations that name no object: Create, Register, Locate, Query, Discover
 *   Versions... and the operation-level check of every KMIP request);
 * - actions: every KMIP operation of the Operation enumeration (KMIP 1.4 §9.1.3.2.27, 2.1
 *   §11.36) under its registry name ("Create", "GetAttributes", "Encrypt", "RNGRetrieve"...),
 *   all in the group `KmipOperation` and each in exactly one functional group (below); and the
 *   admin actions in `AdminAction`.
 *
 * The action list is GENERATED from src/kmip/registry.generated.ts, so a new operation in the
 * registry becomes an action without editing this file; the functional grouping is the one
 * hand-written part, and a unit test checks that it covers every operation exactly once.
 *
 * Tenancy is modelled twice on purpose: every Client, Admin and ManagedObject is a member (`in`)
 * of its Tenant entity, and carries it as the `tenant` attribute. `resource in principal.tenant`
 * then holds for the tenant itself (operation level) and for each of its objects (object
 * level), so one condition covers both checks.
 */
import { Operation } from '../../kmip/registry.generated.js';

/** The Cedar namespace of every OpenKCM entity type and action. */
export const CEDAR_NAMESPACE = 'OpenKCM';

/** Fully qualified entity type names. */
export const ENTITY = {
  Tenant: `${CEDAR_NAMESPACE}::Tenant`,
  Client: `${CEDAR_NAMESPACE}::Client`,
  Admin: `${CEDAR_NAMESPACE}::Admin`,
  ManagedObject: `${CEDAR_NAMESPACE}::ManagedObject`,
  Action: `${CEDAR_NAMESPACE}::Action`,
} as const;

/** KMIP operation action names: the keys of the Operation enumeration, in registry order. */
export type KmipActionName = keyof typeof Operation;
export const KMIP_ACTIONS: readonly KmipActionName[] = Object.freeze(Object.keys(Operation) as KmipActionName[]);

/**
 * Functional groups of KMIP operations. Policies grant groups to roles (src/cmk/authz/policies.ts)
 * rather than listing operations, and tenant policies can use them too
 * (`action in OpenKCM::Action::"KmipKeyRetrieve"`).
 */
export const KMIP_ACTION_GROUPS = {
  /** Protocol housekeeping every client of a tenant needs to talk at all. */
  KmipSession: ['DiscoverVersions', 'Query', 'Ping', 'Login', 'Logout', 'Cancel', 'Poll', 'QueryAsynchronousRequests'],
  /** Reads of metadata; no key material leaves the server. */
  KmipMetadataRead: ['Locate', 'Check', 'GetAttributes', 'GetAttributeList', 'GetConstraints', 'Validate'],
  /** Key material leaves the server (wrapped or not). */
  KmipKeyRetrieve: ['Get', 'Export'],
  /** Uses a key inside the server, or server randomness. */
  KmipCryptoUse: ['Encrypt', 'Decrypt', 'Sign', 'SignatureVerify', 'MAC', 'MACVerify', 'Hash', 'RNGRetrieve', 'RNGSeed', 'ObtainLease', 'GetUsageAllocation'],
  /** Creates objects or changes their attributes and lifecycle state (short of destroying them). */
  KmipLifecycle: [
    'Create', 'CreateKeyPair', 'Register', 'Import', 'ReKey', 'ReKeyKeyPair', 'DeriveKey', 'Certify', 'ReCertify',
    'CreateSplitKey', 'JoinSplitKey', 'AddAttribute', 'ModifyAttribute', 'DeleteAttribute', 'SetAttribute',
    'AdjustAttribute', 'Activate', 'Revoke', 'Archive', 'Recover', 'Log',
  ],
  /** Irreversible or server-configuring operations: Destroy, and the 2.x administration operations. */
  KmipAdministration: [
    'Destroy', 'SetDefaults', 'SetConstraints', 'SetEndpointRole', 'ReProvision', 'DelegatedLogin', 'PKCS_11',
    'Interop', 'Process', 'Put', 'Notify',
  ],
} as const satisfies Record<string, readonly KmipActionName[]>;

export type KmipActionGroup = keyof typeof KMIP_ACTION_GROUPS;

/**
 * Admin-plane actions (the admin REST API and `openkcm` CLI, ARCHITECTURE §6). The resource is
 * the Tenant acted on; TenantList uses the pseudo-tenant {@link PLATFORM_TENANT}.
 */
export const ADMIN_ACTIONS = [
  'TenantCreate', 'TenantList', 'TenantRead', 'TenantSuspend', 'TenantResume', 'TenantTerminate',
  'TenantRevoke', 'TenantRestore', 'TenantRotate',
  'ShadowRefRegister', 'ShadowRefRead',
  'PolicyPut', 'PolicyRead', 'PolicyDelete',
  'AuditRead', 'AuditVerify', 'AuditExport',
  'ApprovalRequest', 'ApprovalGrant',
  // Issue 16 item 1: store, list (names and sizes) or delete a node secret. Platform scope only (resource "*").
  'NodeSecretWrite',
] as const;
export type AdminActionName = (typeof ADMIN_ACTIONS)[number];

/** The Tenant resource of admin actions that concern no single tenant (TenantList). */
export const PLATFORM_TENANT = '*';

function quoted(names: readonly string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

function groupsOf(action: KmipActionName): string[] {
  const out = ['KmipOperation'];
  for (const [group, members] of Object.entries(KMIP_ACTION_GROUPS) as [string, readonly string[]][]) {
    if (members.includes(action)) out.push(group);
  }
  return out;
}

/**
 * The action groups each action is a member of (what the schema's `in [...]` says). Decisions
 * send the action entity with these parents instead of asking Cedar to consult the schema on
 * every call (perf/cedar.bench.ts: the schema costs about 40% of an evaluation).
 */
export const ACTION_PARENTS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ...KMIP_ACTIONS.map((a): [string, readonly string[]] => [a, Object.freeze(groupsOf(a))]),
  ...ADMIN_ACTIONS.map((a): [string, readonly string[]] => [a, Object.freeze(['AdminAction'])]),
]);

/** The schema in Cedar's human-readable schema syntax (docs/governance.md shows it). */
function buildSchemaText(): string {
  const lines = [
    `namespace ${CEDAR_NAMESPACE} {`,
    '  // A tenant (ARCHITECTURE §4: a client identity maps to exactly one tenant).',
    '  entity Tenant = { id: String };',
    '  // A KMIP client: its certificate identity (entity id), its tenant, its roles (identity.roles).',
    '  entity Client in [Tenant] = { tenant: Tenant, roles: Set<String> };',
    '  // An admin-plane caller; without tenant it is a platform administrator.',
    '  entity Admin in [Tenant] = { roles: Set<String>, tenant?: Tenant };',
    '  // A KMIP managed object (entity id = Unique Identifier). Enumerations by their registry',
    '  // names ("SymmetricKey", "Active", "AES"); "" when the object has no such attribute.',
    '  // group = first Object Group, groups = all of them; owner = creator identity when recorded.',
    '  entity ManagedObject in [Tenant] = {',
    '    tenant: Tenant, objectType: String, group: String, groups: Set<String>,',
    '    state: String, algorithm: String, owner: String',
    '  };',
    '',
    `  action ${quoted(['KmipOperation', ...Object.keys(KMIP_ACTION_GROUPS)])};`,
  ];
  for (const a of KMIP_ACTIONS) {
    lines.push(`  action "${a}" in [${quoted(ACTION_PARENTS.get(a) ?? [])}] appliesTo { principal: [Client], resource: [Tenant, ManagedObject] };`);
  }
  lines.push('', '  action "AdminAction";');
  for (const a of ADMIN_ACTIONS) {
    lines.push(`  action "${a}" in [${quoted(ACTION_PARENTS.get(a) ?? [])}] appliesTo { principal: [Admin], resource: [Tenant] };`);
  }
  lines.push('}', '');
  return lines.join('\n');
}

/** The OpenKCM Cedar schema (text form). */
export const CEDAR_SCHEMA_TEXT: string = buildSchemaText();
