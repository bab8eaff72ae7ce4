/**
 * The default Cedar policy set of OpenKCM (issue 5 deliverable 2; schema: ./schema.ts). Every
 * decision of every tenant starts from these policies; a tenant's own policies
 * (PolicyEngine.setTenantPolicies) are added on top of them, so they can grant more inside
 * the tenant or forbid more, but never lift the tenant boundary: a `forbid` always wins over
 * any `permit` in Cedar.
 *
 * KMIP client roles (a client's roles come from the identity configuration, `identity.roles`,
 * src/cmk/authz/kmip.ts rolesFromConfig; identities without an entry get `defaultRoles`,
 * ["admin"] unless configured, which keeps the pre-Cedar behaviour "a client may do
 * everything inside its own tenant"):
 *   admin        every KMIP operation on its tenant's objects, Destroy included;
 *   operator     key custodian: create/register/re-key, attributes, activate/revoke/archive,
 *                metadata reads; no key material (Get), no cryptographic use, no Destroy
 *                (separation of duties: who manages a key does not use it);
 *   crypto-user  an application: Get (key retrieval, e.g. database TDE clients), Encrypt,
 *                Decrypt, Sign, MAC..., metadata reads; it creates nothing; never receives the
 *                key material of a Compromised object;
 *   reader       metadata only (Locate, Get Attributes...): inventory and monitoring tools.
 * Every client of a tenant may run the session operations (Discover Versions, Query...).
 *
 * Admin-plane roles (principal OpenKCM::Admin):
 *   platform-admin  every admin action on every tenant;
 *   tenant-admin    its own tenant: revoke/restore/rotate, L1 shadow references, policies, audit;
 *   auditor         read-only: tenants, shadow references, policies, audit (own tenant when scoped).
 * Admin actions are decided by these platform policies only; tenant policies never apply to them
 * (a tenant's policy must not be able to grant a platform privilege).
 *
 * Policy ids come from the `@id` annotations; they are the `reasons` of a decision and appear in
 * the audit trail.
 */

/** KMIP client roles the default policies know (docs/governance.md "Policies (Cedar)"). */
export const KMIP_ROLES = ['admin', 'operator', 'crypto-user', 'reader'] as const;

/** Admin-plane roles the default policies know. */
export const ADMIN_ROLES = ['platform-admin', 'tenant-admin', 'auditor'] as const;

/** Prefix of every default policy id; tenant policy ids may not use it. */
export const DEFAULT_POLICY_ID_PREFIX = 'default.';

export const DEFAULT_POLICIES_TEXT = `// ---- KMIP: the tenant boundary -------------------------------------------------------------
// Belt and braces: the vault already scopes every lookup by tenant (ARCHITECTURE §4), and this
// forbid keeps it so whatever a tenant's own policies permit.
@id("default.tenant-boundary")
forbid (principal is OpenKCM::Client, action in OpenKCM::Action::"KmipOperation", resource)
unless { resource in principal.tenant };

// Session housekeeping (Discover Versions, Query, Ping...) for every client of the tenant.
@id("default.session")
permit (principal is OpenKCM::Client, action in OpenKCM::Action::"KmipSession", resource)
when { resource in principal.tenant };

// ---- KMIP: roles -----------------------------------------------------------------------------
@id("default.role-admin")
permit (principal is OpenKCM::Client, action in OpenKCM::Action::"KmipOperation", resource)
when { principal.roles.contains("admin") && resource in principal.tenant };

@id("default.role-operator")
permit (
  principal is OpenKCM::Client,
  action in [OpenKCM::Action::"KmipMetadataRead", OpenKCM::Action::"KmipLifecycle"],
  resource
)
when { principal.roles.contains("operator") && resource in principal.tenant };

@id("default.role-crypto-user")
permit (
  principal is OpenKCM::Client,
  action in [OpenKCM::Action::"KmipMetadataRead", OpenKCM::Action::"KmipKeyRetrieve", OpenKCM::Action::"KmipCryptoUse"],
  resource
)
when { principal.roles.contains("crypto-user") && resource in principal.tenant };

@id("default.role-reader")
permit (principal is OpenKCM::Client, action in OpenKCM::Action::"KmipMetadataRead", resource)
when { principal.roles.contains("reader") && resource in principal.tenant };

// The key material of a compromised object goes to a tenant admin only (investigation), never
// to an application (KMIP itself would still hand it out: KMIP 1.4 §3.22 only restricts use).
@id("default.no-compromised-retrieval")
forbid (principal is OpenKCM::Client, action in OpenKCM::Action::"KmipKeyRetrieve", resource is OpenKCM::ManagedObject)
when {
  (resource.state == "Compromised" || resource.state == "DestroyedCompromised") &&
  !principal.roles.contains("admin")
};

// ---- Admin plane -----------------------------------------------------------------------------
// An admin scoped to a tenant never acts on another one (nor on the platform, "*").
@id("default.admin-tenant-boundary")
forbid (principal is OpenKCM::Admin, action in OpenKCM::Action::"AdminAction", resource)
when { principal has tenant && !(resource in principal.tenant) };

@id("default.platform-admin")
permit (principal is OpenKCM::Admin, action in OpenKCM::Action::"AdminAction", resource)
when { principal.roles.contains("platform-admin") };

@id("default.tenant-admin")
permit (
  principal is OpenKCM::Admin,
  action in [
    OpenKCM::Action::"TenantRead", OpenKCM::Action::"TenantRevoke", OpenKCM::Action::"TenantRestore",
    OpenKCM::Action::"TenantRotate", OpenKCM::Action::"ShadowRefRegister", OpenKCM::Action::"ShadowRefRead",
    OpenKCM::Action::"PolicyPut", OpenKCM::Action::"PolicyRead", OpenKCM::Action::"PolicyDelete",
    OpenKCM::Action::"AuditRead", OpenKCM::Action::"AuditVerify", OpenKCM::Action::"AuditExport",
    OpenKCM::Action::"ApprovalRequest", OpenKCM::Action::"ApprovalGrant"
  ],
  resource
)
when { principal.roles.contains("tenant-admin") && principal has tenant && resource in principal.tenant };

@id("default.auditor")
permit (
  principal is OpenKCM::Admin,
  action in [
    OpenKCM::Action::"TenantList", OpenKCM::Action::"TenantRead", OpenKCM::Action::"ShadowRefRead",
    OpenKCM::Action::"PolicyRead", OpenKCM::Action::"AuditRead", OpenKCM::Action::"AuditVerify",
    OpenKCM::Action::"AuditExport"
  ],
  resource
)
when { principal.roles.contains("auditor") };
`;
