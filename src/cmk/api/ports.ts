/**
 * What the admin API needs from the rest of the appliance, as narrow interfaces. The composition root
 * (src/appliance/kmip-app.ts) injects the real objects; the API never imports krypton, the vault or a keystore
 * plugin (ARCHITECTURE §6: the governance plane reaches keystores only through describe/health and krypton
 * only through Postgres NOTIFY or injected functions — enforced by the lint rule on src/cmk).
 */
import type { HealthStatus, ShadowReference } from '../../keystore/types.js';
import type { AuditGapSummary } from '../audit/index.js';
import type { AdminActionName } from '../authz/schema.js';

/** Admin roles (docs/governance.md "Roles"). */
export const ADMIN_ROLES = ['admin', 'security-officer', 'auditor', 'operator'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export function isAdminRole(s: string): s is AdminRole {
  return (ADMIN_ROLES as readonly string[]).includes(s);
}

/** Who is calling, after authentication. */
export interface AdminPrincipal {
  /** Certificate CN / SAN URI, or the token's subject claim (prefixed `oidc:` so the two namespaces never collide). */
  readonly identity: string;
  readonly roles: readonly AdminRole[];
  readonly via: 'mtls' | 'oidc';
  /**
   * A tenant admin (issue 18, `openkcm admin issue --tenant T`): every action is limited to this tenant; routes that
   * are not about one tenant are refused. Absent: a platform-wide principal.
   */
  readonly tenant?: string;
}

/**
 * Every admin action the API authorises: the Cedar action ids of the `AdminAction` group of H7's schema
 * (src/cmk/authz/schema.ts), so the role table and the policy engine speak of the same actions, plus
 * `HealthRead` (metrics and readiness details), which only the role table decides.
 */
export type AdminAction = AdminActionName | 'HealthRead';


/** The actions that four-eyes approval may cover (docs/governance.md "Four-eyes"). */
export const APPROVABLE_ACTIONS = ['revoke', 'restore', 'terminate', 'suspend', 'resume', 'replace-l1'] as const;
export type ApprovableAction = (typeof APPROVABLE_ACTIONS)[number];

/**
 * Decides admin actions. H7's PolicyEngine (Cedar, AdminAction) is adapted to this; without one the role
 * table in src/cmk/api/authz.ts decides.
 */
export interface AdminAuthorizer {
  isAuthorized(principal: AdminPrincipal, action: AdminAction, tenant: string | undefined): boolean | Promise<boolean>;
}

/** Kill-switch on THIS node (krypton.revoke/restore), when the API runs in the same process as krypton. */
export interface KillSwitchPort {
  revoke(tenant: string): Promise<void>;
  restore(tenant: string): Promise<void>;
}

/** L1 check through the keystore plugin's health() only (never unwrap); injected by the composition root. */
export type ValidateShadow = (shadow: ShadowReference) => Promise<HealthStatus>;

/**
 * Binds the tenant's keys to a validated L1 (issue 16 item 2), in krypton on this node: onboards the tenant under it,
 * or re-wraps its L2 under it when its keys live under another L1 (the old one must still unwrap), or nothing when
 * they already live there. Throws KryptonError L1_CONFLICT when openkcm.conf names another L1 for the tenant.
 */
export type BindL1 = (tenant: string, shadow: ShadowReference) => Promise<'onboarded' | 'rewrapped' | 'unchanged'>;

/**
 * The node's secrets (src/krypton/master-key.ts NodeSecrets), write-only for the admin API (issue 16 item 1): names
 * and sizes can be listed, values stored or deleted, never read back. Throws a SERVER_SEALED error while sealed.
 */
export interface NodeSecretsPort {
  list(): readonly { readonly name: string; readonly bytes: number; readonly modifiedAt: Date }[];
  /** `value` is not retained; the caller wipes it. `by` names the admin (audit). */
  put(name: string, value: Uint8Array, by: string): Promise<void>;
  delete(name: string, by: string): Promise<boolean>;
}

/** MasterKey state for /readyz (src/krypton/master-key.ts status()). */
export type MasterKeyStatusFn = () => { readonly sealed: boolean; readonly initialized?: boolean };

// ---- the governance repository, as the API sees it -----------------------------------------------------

/** A tenant as the API returns it. */
export interface TenantView {
  readonly id: string;
  readonly state: string;
  readonly description?: string;
  readonly stateReason?: string;
  readonly createdAt: Date;
  readonly stateChangedAt?: Date;
  readonly shadow?: ShadowReference;
}

export interface ApprovalView {
  readonly id: string;
  readonly tenant: string;
  readonly action: ApprovableAction;
  readonly reason?: string;
  readonly requestedBy: string;
  /** Distinct identities that approved, requester excluded. */
  readonly approvers: readonly string[];
  /** Approvals needed in total (requester excluded). */
  readonly required: number;
  /** `approved`: complete, the API is executing it (exactly one approver's call gets this state). */
  readonly status: 'pending' | 'approved' | 'executing' | 'executed' | 'expired' | 'failed';
  readonly expiresAt: Date;
  /** What the approved action needs besides the reason (replace-l1: the new L1's plugin, keyRef, keyVersion). */
  readonly params?: Readonly<Record<string, string>>;
}

export interface PolicyView {
  readonly tenant: string;
  readonly name: string;
  readonly policy: string;
  readonly updatedAt?: Date;
}

export interface AuditPage {
  readonly records: readonly Readonly<Record<string, unknown>>[];
  /** Sequence number to pass as `from` for the next page; absent at the end. */
  readonly next?: number;
}

export interface AuditVerification {
  readonly ok: boolean;
  readonly count?: number;
  readonly firstBroken?: number;
  readonly reason?: string;
  /** Present when the intact chain holds gap records: records dropped and operations refused while the tenant's
   *  audit queue was full (src/cmk/audit/gap.ts AuditGapSummary). */
  readonly gaps?: AuditGapSummary;
}

/**
 * The repository operations the admin API calls. Every mutating call takes the acting admin identity so the
 * repository writes the audit record in the same transaction as the change. `revoke`/`restore`/`terminate`
 * commit and then NOTIFY on `openkcm_tenant` (src/cmk/db.ts TENANT_CHANNEL).
 * src/cmk/api/governance-port.ts adapts H6's Governance class to this.
 */
export interface GovernancePort {
  ping(): Promise<void>;
  createTenant(id: string, actor: string, description?: string): Promise<TenantView>;
  listTenants(opts: { state?: string; limit: number }): Promise<TenantView[]>;
  getTenant(id: string): Promise<TenantView | undefined>;
  countByState(): Promise<Readonly<Record<string, number>>>;
  suspend(id: string, actor: string, reason: string): Promise<TenantView>;
  /** Lifts a suspension (issue 16 item 5); NOTIFY 'resume'. */
  resume(id: string, actor: string): Promise<TenantView>;
  terminate(id: string, actor: string, reason: string): Promise<TenantView>;
  revoke(id: string, actor: string, reason: string): Promise<TenantView>;
  restore(id: string, actor: string, reason: string): Promise<TenantView>;
  registerShadow(id: string, shadow: ShadowReference, actor: string): Promise<TenantView>;
  /** Registers or corrects the L1 shadow reference (audited register/replace); returns the previous one. */
  putShadow(id: string, shadow: ShadowReference, actor: string): Promise<{ tenant: TenantView; previous: ShadowReference | undefined }>;
  getShadow(id: string): Promise<ShadowReference | undefined>;
  /** Appends an audit record for an action that changes nothing else (e.g. an L1 validation). */
  recordAudit(id: string, actor: string, action: string, details: Readonly<Record<string, string | number | boolean>>): Promise<void>;
  putPolicy(id: string, name: string, text: string, actor: string): Promise<PolicyView>;
  getPolicy(id: string, name: string): Promise<PolicyView | undefined>;
  listPolicies(id: string): Promise<PolicyView[]>;
  /** false when there was no such policy. */
  deletePolicy(id: string, name: string, actor: string): Promise<boolean>;
  requestApproval(input: { tenant: string; action: ApprovableAction; reason: string; requestedBy: string; required: number; ttlMs: number; params?: Readonly<Record<string, string>> }): Promise<ApprovalView>;
  /** Adds `approver` (never the requester, never twice: GovernanceError APPROVER_NOT_ALLOWED; expired:
   *  APPROVAL_EXPIRED; not pending: INVALID_STATE). The vote that completes it returns status `approved`: that
   *  caller executes the action and then calls completeApproval. */
  approve(id: string, approver: string): Promise<ApprovalView>;
  getApproval(id: string): Promise<ApprovalView | undefined>;
  listApprovals(tenant?: string): Promise<ApprovalView[]>;
  /** Records the outcome of an `approved` request; exactly once (a second call fails with INVALID_STATE). */
  completeApproval(id: string, outcome: 'executed' | 'failed', detail?: string): Promise<ApprovalView>;
  readAudit(id: string, from: number, limit: number): Promise<AuditPage>;
  /** The whole trail as JSON lines, in order; `id` undefined: the global chain. */
  exportAudit(id: string | undefined): AsyncIterable<string>;
  /** `id` undefined: the global chain (admin actions). */
  verifyAudit(id: string | undefined): Promise<AuditVerification>;
}

/**
 * Key rotation and L1 replacement (issue 16 item 3), on the node that owns krypton; injected by the composition root
 * (the API never imports krypton). Every call is audited by the caller with the acting admin.
 */
export interface RotationPort {
  /** A new L2 version wrapped by L1; every L3 re-sealed under it. Returns the new version. */
  rotateL2(tenant: string): Promise<number>;
  /** A new current L3 version of `service`; older versions stay readable until dropped. Returns the new version. */
  rotateL3(tenant: string, service: string): Promise<number>;
  /** Crypto-shred depth 2: every DEK sealed under that L3 version becomes unreadable. */
  dropL3Version(tenant: string, service: string, version: number): Promise<void>;
  /** Re-wraps L2 under `shadow` after the current L1 proved it still unwraps; then records it in governance. */
  replaceL1(tenant: string, shadow: ShadowReference, actor: string): Promise<void>;
  /** The tenant's key lineage (versions only, never material); undefined when it has no hierarchy on this node. */
  describe(tenant: string): Promise<KeyLineageView | undefined>;
}

export interface KeyLineageView {
  readonly l1: ShadowReference;
  readonly state: string;
  readonly currentL2: number;
  readonly l2Versions: readonly number[];
  readonly services: readonly { readonly service: string; readonly current: number; readonly versions: readonly number[] }[];
}

/** Decides whether a policy text is acceptable (H7's PolicyEngine validation). Throws with code INVALID_POLICY. */
export type ValidatePolicy = (tenant: string, name: string, text: string) => void | Promise<void>;

export interface FourEyesConfig {
  /** Actions that need approval. */
  readonly actions: readonly ApprovableAction[];
  /** Distinct approvers needed besides the requester (≥ 1). */
  readonly approvals: number;
  /** Default DEFAULT_APPROVAL_TTL_MS (./server.ts). */
  readonly ttlMs?: number;
}

/** H7's PolicyEngine, as far as the API uses it (both parts optional so an engine of any shape can be adapted). */
export interface AdminPolicyEngine {
  readonly authorizer?: AdminAuthorizer;
  readonly validatePolicy?: ValidatePolicy;
  /** After a policy PUT/DELETE committed: re-install the tenant's policies in the engine. */
  readonly policiesChanged?: (tenant: string) => Promise<void>;
}
