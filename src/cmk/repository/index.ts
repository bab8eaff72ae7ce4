/**
 * The governance repository (ARCHITECTURE §1 "cmk", §5 kill-switch, §6): tenants and their schemas, shadow
 * references to L1, policy texts, four-eyes approvals, revoke/restore with a NOTIFY to krypton, and the audit
 * trail of all of it. User documentation: docs/governance.md.
 *
 * One module per aggregate: ./tenants.ts, ./shadow-refs.ts, ./policies.ts, ./approvals.ts, with their limits and
 * argument checks in ./validation.ts. {@link Governance} composes them over one database and one audit trail.
 *
 * Boundary (ARCHITECTURE §6, enforced by lint): nothing here imports src/native, src/vault or a keystore plugin.
 * Key work reaches this module only as injected functions: the audit HMAC, and the crypto-shred hook
 * (krypton.offboard) of an offboarding.
 *
 * Transactions: every admin action changes its rows, appends its audit record and (for state changes) queues its
 * NOTIFY in ONE transaction, so either all happen or none; the NOTIFY is delivered at COMMIT. Lock order, to stay
 * free of deadlocks: catalog row (public.tenants) → tenant schema (migration lock) → audit chain heads.
 */
import type { ShadowReference } from '../../keystore/types.js';
import { AuditTrail } from '../audit/index.js';
import type { AuditHmac, AuditSink, AuditSinkOptions } from '../audit/index.js';
import type { Db } from '../db.js';
import { GovernanceError } from '../errors.js';
import { migratePublic } from '../migrations.js';
import * as approvals from './approvals.js';
import type { Approval, ApprovalRules, ApprovedAction } from './approvals.js';
import type { RepoContext } from './context.js';
import * as policies from './policies.js';
import type { PolicyRecord, PolicyValidator } from './policies.js';
import * as shadowRefs from './shadow-refs.js';
import type { ShadowRefRecord } from './shadow-refs.js';
import * as tenants from './tenants.js';
import type { CryptoShred, Tenant, TenantEvent, TenantState } from './tenants.js';
import { checkCount, checkObjectName, DEFAULT_APPROVAL_TTL_MS, MAX_APPROVAL_TTL_MS, MAX_REQUIRED_APPROVERS } from './validation.js';

export type { Approval, ApprovalState, ApprovedAction } from './approvals.js';
export { parseApprovalId } from './approvals.js';
export type { PolicyRecord, PolicyValidator } from './policies.js';
export type { ShadowRefRecord } from './shadow-refs.js';
export type { CryptoShred, Tenant, TenantEvent, TenantState } from './tenants.js';
export { parseTenantEvent } from './tenants.js';
export {
  APPROVAL_PARAM_MAX, checkShadowReference, DEFAULT_APPROVAL_TTL_MS, KEY_REF_MAX, KEY_VERSION_MAX, MAX_APPROVAL_PARAMS,
  MAX_APPROVAL_TTL_MS, MAX_PENDING_APPROVALS_PER_TENANT, MAX_POLICIES_PER_TENANT, MAX_REQUIRED_APPROVERS,
  MAX_SHADOW_REFS_PER_TENANT, OBJECT_NAME_PATTERN, POLICY_MAX_BYTES, PRINCIPAL_MAX, TENANT_DISPLAY_NAME_MAX,
} from './validation.js';

export interface GovernanceOptions {
  readonly db: Db;
  /** HMAC of the audit trail (MasterKey-derived key, e.g. `masterKey.deriveKey('audit-hmac')` behind a function). */
  readonly auditHmac: AuditHmac;
  readonly clock?: () => Date;
  /** Distinct approvers (other than the requester) an approval needs; default 1 (four eyes: requester + one). */
  readonly approvalsRequired?: number;
  /** Approval window; default {@link DEFAULT_APPROVAL_TTL_MS}. */
  readonly approvalTtlMs?: number;
  /** Policy text validation (Cedar, H7). Without it, policy texts are stored unchecked. */
  readonly policyValidator?: PolicyValidator;
  /** Crypto-shred hook used when an approved `terminate` executes (krypton.offboard). */
  readonly cryptoShred?: CryptoShred;
  readonly auditSink?: AuditSinkOptions;
}

/** Built-in approvable actions; more via {@link Governance.registerAction}. */
export const BUILTIN_ACTIONS = ['revoke', 'restore', 'suspend', 'resume', 'terminate'] as const;

export class Governance {
  readonly db: Db;
  readonly audit: AuditTrail;
  /** Hot-path audit writer (KMIP operations): `governance.auditSink.record(...)`. */
  readonly auditSink: AuditSink;
  private readonly ctx: RepoContext;
  private readonly rules: ApprovalRules;
  private readonly validator: PolicyValidator | undefined;
  private readonly actions = new Map<string, ApprovedAction>();
  private closed = false;

  private constructor(opts: GovernanceOptions) {
    this.db = opts.db;
    const now = opts.clock ?? (() => new Date());
    this.audit = new AuditTrail(opts.db, opts.auditHmac, { clock: now });
    this.auditSink = this.audit.createSink(opts.auditSink ?? {});
    this.ctx = {
      db: opts.db, audit: this.audit, now,
      check: () => {
        if (this.closed) throw new GovernanceError('CLOSED', 'governance repository is closed');
      },
    };
    this.rules = {
      required: checkCount(opts.approvalsRequired ?? 1, MAX_REQUIRED_APPROVERS, 'approvalsRequired'),
      ttlMs: checkCount(opts.approvalTtlMs ?? DEFAULT_APPROVAL_TTL_MS, MAX_APPROVAL_TTL_MS, 'approvalTtlMs'),
      actions: this.actions,
    };
    this.validator = opts.policyValidator;
    const shred = opts.cryptoShred;
    this.actions.set('revoke', async ({ tenant, params, principal }) => {
      await this.revokeTenant(tenant, principal, params.reason ?? 'approved');
      return 'revoked';
    });
    this.actions.set('restore', async ({ tenant, principal }) => {
      await this.restoreTenant(tenant, principal);
      return 'restored';
    });
    this.actions.set('suspend', async ({ tenant, params, principal }) => {
      await this.suspendTenant(tenant, principal, params.reason ?? 'approved');
      return 'suspended';
    });
    this.actions.set('resume', async ({ tenant, principal }) => {
      await this.resumeTenant(tenant, principal);
      return 'resumed';
    });
    this.actions.set('terminate', async ({ tenant, principal }) => {
      if (shred === undefined) throw new GovernanceError('INVALID_STATE', 'no crypto-shred hook configured for terminate');
      await this.terminateTenant(tenant, principal, shred);
      return 'terminated';
    });
  }

  /** Opens the repository: migrates `public` (idempotent) and starts the audit sink. */
  static async open(opts: GovernanceOptions): Promise<Governance> {
    await migratePublic(opts.db);
    return new Governance(opts);
  }

  // ---- tenants (./tenants.ts) ----------------------------------------------------------------------------

  /** Onboards a tenant: catalog row, schema and audit records in one transaction (TENANT_EXISTS when taken). */
  createTenant(input: { id: string; name?: string }, principal: string): Promise<Tenant> {
    return tenants.createTenant(this.ctx, input, principal);
  }

  getTenant(id: string): Promise<Tenant | undefined> {
    return tenants.getTenant(this.ctx, id);
  }

  /** Tenants by id; terminated ones only when asked. */
  listTenants(opts: { includeTerminated?: boolean } = {}): Promise<Tenant[]> {
    return tenants.listTenants(this.ctx, opts);
  }

  /** Kill-switch (ARCHITECTURE §5): state revoked + audit + NOTIFY {action:'revoke'} atomically. */
  revokeTenant(id: string, principal: string, reason = 'admin'): Promise<Tenant> {
    return tenants.transition(this.ctx, id, principal, 'revoke', ['active', 'suspended'], 'revoked', reason);
  }

  /** Lifts a revocation (krypton re-unwraps L2 when L1 is healthy): state active + audit + NOTIFY 'restore'. */
  restoreTenant(id: string, principal: string): Promise<Tenant> {
    return tenants.transition(this.ctx, id, principal, 'restore', ['revoked'], 'active', '');
  }

  /** Administrative pause without crypto-shredding; NOTIFY 'suspend'. */
  suspendTenant(id: string, principal: string, reason = 'admin'): Promise<Tenant> {
    return tenants.transition(this.ctx, id, principal, 'suspend', ['active'], 'suspended', reason);
  }

  resumeTenant(id: string, principal: string): Promise<Tenant> {
    return tenants.transition(this.ctx, id, principal, 'resume', ['suspended'], 'active', '');
  }

  /** Offboarding: crypto-shred first (SHRED_FAILED drops nothing), then schema, row, audit and NOTIFY at once. */
  terminateTenant(id: string, principal: string, cryptoShred: CryptoShred): Promise<Tenant> {
    return tenants.terminateTenant(this.ctx, id, principal, cryptoShred);
  }

  /** Subscribes to tenant state changes (this or any other process). Malformed payloads are ignored. */
  onTenantEvent(listener: (e: TenantEvent) => void): Promise<() => Promise<void>> {
    return tenants.onTenantEvent(this.ctx, listener);
  }

  /** Number of tenants per state (metrics, health). */
  countTenantsByState(): Promise<Record<TenantState, number>> {
    return tenants.countTenantsByState(this.ctx);
  }

  // ---- shadow references (./shadow-refs.ts) ----------------------------------------------------------------

  /** Registers an L1 shadow reference under `name` (immutable; ALREADY_EXISTS when the name is taken). */
  registerShadowRef(tenant: string, name: string, shadow: ShadowReference, principal: string): Promise<ShadowRefRecord> {
    return shadowRefs.registerShadowRef(this.ctx, tenant, name, shadow, principal);
  }

  /** Registers or corrects the shadow reference `name` (issue 16 item 2); returns the previous one, if any. */
  putShadowRef(tenant: string, name: string, shadow: ShadowReference, principal: string): Promise<{ record: ShadowRefRecord; previous: ShadowReference | undefined }> {
    return shadowRefs.putShadowRef(this.ctx, tenant, name, shadow, principal);
  }

  listShadowRefs(tenant: string): Promise<ShadowRefRecord[]> {
    return shadowRefs.listShadowRefs(this.ctx, tenant);
  }

  getShadowRef(tenant: string, name: string): Promise<ShadowRefRecord | undefined> {
    return shadowRefs.getShadowRef(this.ctx, tenant, name);
  }

  // ---- policies (./policies.ts) ----------------------------------------------------------------------------

  /** Stores (creates or replaces) a policy text after the validator accepted it. */
  putPolicy(tenant: string, id: string, body: string, principal: string): Promise<PolicyRecord> {
    return policies.putPolicy(this.ctx, this.validator, tenant, id, body, principal);
  }

  listPolicies(tenant: string): Promise<PolicyRecord[]> {
    return policies.listPolicies(this.ctx, tenant);
  }

  getPolicy(tenant: string, id: string): Promise<PolicyRecord | undefined> {
    return policies.getPolicy(this.ctx, tenant, id);
  }

  /** Deletes a policy; NOT_FOUND when absent. */
  deletePolicy(tenant: string, id: string, principal: string): Promise<void> {
    return policies.deletePolicy(this.ctx, tenant, id, principal);
  }

  // ---- four-eyes approvals (./approvals.ts) ----------------------------------------------------------------

  /** Adds (or replaces) an approvable action. Built-ins: {@link BUILTIN_ACTIONS}. */
  registerAction(action: string, run: ApprovedAction): void {
    checkObjectName(action, 'action');
    this.actions.set(action, run);
  }

  /** Opens a request for `action` on `tenant`; returns its id (executes once enough others approved in time). */
  requestApproval(
    action: string, tenant: string, requestedBy: string, params: Readonly<Record<string, string>> = {},
    opts: { required?: number; ttlMs?: number } = {},
  ): Promise<string> {
    return approvals.requestApproval(this.ctx, this.rules, action, tenant, requestedBy, params, opts);
  }

  getApproval(id: string): Promise<Approval | undefined> {
    return approvals.getApproval(this.ctx, id);
  }

  /** Records `approver`'s vote; the completing vote executes the action (or, `{ execute: false }`, hands it back). */
  approve(id: string, approver: string, opts: { execute?: boolean } = {}): Promise<Approval> {
    return approvals.approve(this.ctx, this.rules, id, approver, opts);
  }

  /** Records the outcome of an `approved` request the caller executed; exactly once (else INVALID_STATE). */
  completeApproval(id: string, outcome: 'executed' | 'failed', detail = ''): Promise<Approval> {
    return approvals.completeApproval(this.ctx, id, outcome, detail);
  }

  /** Approvals of one tenant (or of every live tenant), newest first. */
  listApprovals(tenant?: string): Promise<Approval[]> {
    return approvals.listApprovals(this.ctx, tenant);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.auditSink.close();
  }
}
