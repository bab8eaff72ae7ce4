/**
 * The four-eyes approval routes of the admin API (ARCHITECTURE §5): pending and recent approvals, and the vote of
 * an admin other than the requester, which runs the action once enough approved.
 */
import { ApiError, toApiError } from './errors.js';
import type { AdminAction, ApprovableAction, TenantView } from './ports.js';
import { approvalJson, tenantJson } from './route-context.js';
import type { RegisterRoutes } from './route-context.js';
import { approvalModel, approvalParams, approvalsQuery, errorResponses, tenantModel } from './schemas.js';

/** Longest actor string handed to the repository (its PRINCIPAL_MAX). */
const MAX_ACTOR_LENGTH = 256;

/** The admin action an approver must be allowed to perform to approve a request. */
const APPROVAL_ACTION_TO_ADMIN: Readonly<Record<ApprovableAction, AdminAction>> = {
  revoke: 'TenantRevoke', restore: 'TenantRestore', terminate: 'TenantTerminate', suspend: 'TenantSuspend', resume: 'TenantResume',
  'replace-l1': 'TenantRotate',
};

export const registerApprovalRoutes: RegisterRoutes = (r, { gov, authorizer, log, execute }) => {
  r.get<{ Querystring: { tenant?: string } }>('/v1/approvals', {
    schema: { summary: 'Pending and recent approvals', tags: ['approvals'], querystring: approvalsQuery, response: { 200: { type: 'object', additionalProperties: false, required: ['approvals'], properties: { approvals: { type: 'array', items: approvalModel } } }, ...errorResponses() } },
    config: { action: 'TenantList' },
  }, async (req) => ({ approvals: (await gov.listApprovals(req.query.tenant)).map(approvalJson) }));

  r.get<{ Params: { id: string } }>('/v1/approvals/:id', {
    schema: { summary: 'One approval', tags: ['approvals'], params: approvalParams, response: { 200: approvalModel, ...errorResponses(404) } },
    config: { action: 'TenantList' },
  }, async (req) => {
    const a = await gov.getApproval(req.params.id);
    if (a === undefined) throw new ApiError('NOT_FOUND', `no approval ${req.params.id}`);
    return approvalJson(a);
  });

  r.post<{ Params: { id: string } }>('/v1/approvals/:id/approve', {
    schema: {
      summary: 'Approve a pending action (by an admin other than the requester); executes it when enough approved', tags: ['approvals'], params: approvalParams,
      response: { 200: { type: 'object', additionalProperties: false, required: ['approval', 'executed'], properties: { approval: approvalModel, executed: { type: 'boolean' }, tenant: tenantModel } }, ...errorResponses(404, 409, 424) },
    },
    config: { action: 'ApprovalGrant' },
  }, async (req) => {
    const principal = req.admin;
    if (principal === undefined) throw new ApiError('UNAUTHENTICATED', 'not authenticated');
    const pending = await gov.getApproval(req.params.id);
    if (pending === undefined) throw new ApiError('NOT_FOUND', `no approval ${req.params.id}`);
    // An approver must also be allowed to perform the action itself (a security officer cannot approve a
    // termination only admins may perform).
    if (!await authorizer.isAuthorized(principal, APPROVAL_ACTION_TO_ADMIN[pending.action], pending.tenant)) {
      throw new ApiError('FORBIDDEN', `${principal.identity} may not approve ${pending.action}`);
    }
    const a = await gov.approve(pending.id, principal.identity);
    if (a.status !== 'approved') return { approval: approvalJson(a), executed: false };
    // Only the vote that completed the request sees `approved` (the repository flips the state under a row
    // lock), so of two concurrent final approvals exactly one executes.
    const actor = `${a.requestedBy} (approved by ${a.approvers.join(', ')})`.slice(0, MAX_ACTOR_LENGTH);
    let t: TenantView;
    try {
      t = await execute(a.action, a.tenant, actor, a.reason ?? 'approved', a.params);
    } catch (e) {
      const ae = toApiError(e);
      log?.warn('approved action failed', { approval: a.id, action: a.action, tenant: a.tenant, errCode: ae.code });
      // Terminate drops the tenant schema holding the approval: nothing left to update then.
      await gov.completeApproval(a.id, 'failed', ae.code).catch(() => undefined);
      throw e;
    }
    const done = a.action === 'terminate' ? { ...a, status: 'executed' as const } : await gov.completeApproval(a.id, 'executed');
    return { approval: approvalJson(done), executed: true, tenant: tenantJson(t) };
  });
};
