/**
 * Adapts the governance repository (src/cmk/repository/, class Governance) to the narrow
 * {@link GovernancePort} the admin API is written against. Kept apart so the API's routes read as the
 * documented HTTP contract, and the repository keeps its own richer interface.
 */
import { exportLine } from '../audit/index.js';
import { GovernanceError } from '../errors.js';
import { Governance } from '../repository/index.js';
import type { Approval, CryptoShred, Tenant } from '../repository/index.js';
import { ApiError } from './errors.js';
import { APPROVABLE_ACTIONS } from './ports.js';
import type { ApprovableAction, ApprovalView, GovernancePort, PolicyView, TenantView } from './ports.js';

/** The name under which the API registers a tenant's L1 shadow reference (the repository allows several). */
export const L1_SHADOW_NAME = 'l1';

export interface GovernancePortOptions {
  /** krypton.offboard, for terminate (crypto-shred before the schema is dropped). Absent: terminate is NOT_CONFIGURED. */
  readonly cryptoShred?: CryptoShred;
}

export function isGovernance(g: unknown): g is Governance {
  return g instanceof Governance;
}

function tenantView(t: Tenant, shadow?: TenantView['shadow']): TenantView {
  return {
    id: t.id, state: t.state, createdAt: t.createdAt, stateChangedAt: t.stateChangedAt,
    ...(t.name !== t.id ? { description: t.name } : {}),
    ...(t.stateReason !== '' ? { stateReason: t.stateReason } : {}),
    ...(shadow === undefined ? {} : { shadow }),
  };
}

function approvalView(a: Approval): ApprovalView {
  if (!(APPROVABLE_ACTIONS as readonly string[]).includes(a.action)) {
    // Actions registered by other components (suspend/resume...) are shown under the nearest API action name.
    throw new GovernanceError('INVALID_STATE', `approval ${a.id} is for action ${a.action}, which the admin API does not drive`);
  }
  const reason = a.params.reason;
  return {
    id: a.id, tenant: a.tenant, action: a.action as ApprovableAction, requestedBy: a.requestedBy, approvers: a.approvers,
    required: a.required, status: a.state, expiresAt: a.expiresAt, ...(reason === undefined ? {} : { reason }),
    // replace-l1 carries the new L1 (issue 16 item 3); the reason is shown on its own.
    ...(Object.keys(a.params).some((k) => k !== 'reason') ? { params: Object.fromEntries(Object.entries(a.params).filter(([k]) => k !== 'reason')) } : {}),
  };
}

export function governancePort(g: Governance, opts: GovernancePortOptions = {}): GovernancePort {

  const getShadow = async (id: string): Promise<TenantView['shadow']> => (await g.getShadowRef(id, L1_SHADOW_NAME))?.shadow;
  const mustApproval = async (id: string): Promise<Approval> => {
    const a = await g.getApproval(id);
    if (a === undefined) throw new GovernanceError('NOT_FOUND', `approval ${id} does not exist`);
    return a;
  };
  return {
    async ping(): Promise<void> {
      await g.db.query('SELECT 1');
    },
    async createTenant(id, actor, description): Promise<TenantView> {
      return tenantView(await g.createTenant({ id, ...(description === undefined ? {} : { name: description }) }, actor));
    },
    async listTenants({ state, limit }): Promise<TenantView[]> {
      const all = await g.listTenants({ includeTerminated: state === 'terminated' });
      return all.filter((t) => state === undefined || t.state === state).slice(0, limit).map((t) => tenantView(t));
    },
    async getTenant(id): Promise<TenantView | undefined> {
      const t = await g.getTenant(id);
      if (t === undefined) return undefined;
      return tenantView(t, t.state === 'terminated' ? undefined : await getShadow(id));
    },
    countByState: () => g.countTenantsByState(),
    async suspend(id, actor, reason): Promise<TenantView> {
      return tenantView(await g.suspendTenant(id, actor, reason));
    },
    async resume(id, actor): Promise<TenantView> {
      return tenantView(await g.resumeTenant(id, actor));
    },
    async terminate(id, actor): Promise<TenantView> {
      if (opts.cryptoShred === undefined) throw new ApiError('NOT_CONFIGURED', 'this node has no crypto-shred hook (krypton) for terminate');
      return tenantView(await g.terminateTenant(id, actor, opts.cryptoShred));
    },
    async revoke(id, actor, reason): Promise<TenantView> {
      return tenantView(await g.revokeTenant(id, actor, reason));
    },
    async restore(id, actor): Promise<TenantView> {
      return tenantView(await g.restoreTenant(id, actor));
    },
    async registerShadow(id, shadow, actor): Promise<TenantView> {
      await g.registerShadowRef(id, L1_SHADOW_NAME, shadow, actor);
      const t = await g.getTenant(id);
      if (t === undefined) throw new GovernanceError('TENANT_NOT_FOUND', `tenant ${id} does not exist`);
      return tenantView(t, shadow);
    },
    async putShadow(id, shadow, actor) {
      const { previous } = await g.putShadowRef(id, L1_SHADOW_NAME, shadow, actor);
      const t = await g.getTenant(id);
      if (t === undefined) throw new GovernanceError('TENANT_NOT_FOUND', `tenant ${id} does not exist`);
      return { tenant: tenantView(t, shadow), previous };
    },
    getShadow,
    async recordAudit(id, actor, action, details): Promise<void> {
      await g.audit.appendSync({ principal: actor, tenant: id, operation: action, object: JSON.stringify(details), result: details.ok === false ? 'failed' : 'ok' });
    },
    async putPolicy(id, name, text, actor): Promise<PolicyView> {
      const p = await g.putPolicy(id, name, text, actor);
      return { tenant: id, name: p.id, policy: p.body, updatedAt: p.updatedAt };
    },
    async getPolicy(id, name): Promise<PolicyView | undefined> {
      const p = await g.getPolicy(id, name);
      return p === undefined ? undefined : { tenant: id, name: p.id, policy: p.body, updatedAt: p.updatedAt };
    },
    async listPolicies(id): Promise<PolicyView[]> {
      return (await g.listPolicies(id)).map((p) => ({ tenant: id, name: p.id, policy: p.body, updatedAt: p.updatedAt }));
    },
    async deletePolicy(id, name, actor): Promise<boolean> {
      try {
        await g.deletePolicy(id, name, actor);
        return true;
      } catch (e) {
        if (e instanceof GovernanceError && e.code === 'NOT_FOUND') return false;
        throw e;
      }
    },
    async requestApproval({ tenant, action, reason, requestedBy, required, ttlMs, params }): Promise<ApprovalView> {
      // The repository must know replace-l1 to accept a request for it; the admin API executes it itself
      // (approve with execute: false), so the repository's own runner is never the one that runs.
      if (action === 'replace-l1') g.registerAction(action, () => Promise.reject(new GovernanceError('INVALID_STATE', 'replace-l1 is executed by the admin API')));
      const id = await g.requestApproval(action, tenant, requestedBy, { ...params, reason }, { required, ttlMs });
      return approvalView(await mustApproval(id));
    },
    async approve(id, approver): Promise<ApprovalView> {
      return approvalView(await g.approve(id, approver, { execute: false }));
    },
    async getApproval(id): Promise<ApprovalView | undefined> {
      const a = await g.getApproval(id);
      return a === undefined ? undefined : approvalView(a);
    },
    async listApprovals(tenant): Promise<ApprovalView[]> {
      return (await g.listApprovals(tenant)).filter((a) => (APPROVABLE_ACTIONS as readonly string[]).includes(a.action)).map(approvalView);
    },
    async completeApproval(id, outcome, detail): Promise<ApprovalView> {
      return approvalView(await g.completeApproval(id, outcome, detail ?? ''));
    },
    async readAudit(id, from, limit) {
      const rows = await g.audit.list(id, { after: Math.max(0, from - 1), limit });
      const records = rows.map((r) => JSON.parse(exportLine(r)) as Record<string, unknown>);
      const last = rows[rows.length - 1];
      return { records, ...(rows.length === limit && last !== undefined ? { next: last.seq + 1 } : {}) };
    },
    exportAudit: (id) => g.audit.exportLines(id),
    async verifyAudit(id) {
      const v = await g.audit.verify(id);
      if (!v.ok) return { ok: false, count: v.count, firstBroken: v.firstBadSeq, reason: v.reason };
      return v.gaps === undefined ? { ok: true, count: v.count } : { ok: true, count: v.count, gaps: v.gaps };
    },
  };
}
