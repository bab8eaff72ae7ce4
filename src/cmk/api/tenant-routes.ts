/**
 * Tenant routes of the admin API: onboarding, listing, reading, and the kill-switch family (revoke, restore,
 * terminate, suspend, resume), each gated by four-eyes when `governance.fourEyes.actions` names it.
 */
import type { AdminAction, ApprovableAction } from './ports.js';
import { actorOf, emptyBodyAsObject, mustTenant, requestFourEyes, tenantJson } from './route-context.js';
import type { RegisterRoutes, TenantParams } from './route-context.js';
import { createTenantBody, errorResponses, listTenantsQuery, pendingApprovalResponse, reasonBody, tenantModel, tenantParams } from './schemas.js';

interface ReasonBody { reason?: string }

export const registerTenantRoutes: RegisterRoutes = (r, ctx) => {
  const { deps, gov } = ctx;
  r.post<{ Body: { id: string; description?: string } }>('/v1/tenants', {
    schema: { summary: 'Create (onboard) a tenant', tags: ['tenants'], body: createTenantBody, response: { 201: tenantModel, ...errorResponses(409) } },
    config: { action: 'TenantCreate' },
  }, async (req, reply) => {
    const t = await gov.createTenant(req.body.id, actorOf(req), req.body.description);
    return reply.code(201).send(tenantJson(t));
  });

  r.get<{ Querystring: { state?: string; limit?: string } }>('/v1/tenants', {
    schema: { summary: 'List tenants', tags: ['tenants'], querystring: listTenantsQuery, response: { 200: { type: 'object', additionalProperties: false, required: ['tenants'], properties: { tenants: { type: 'array', items: tenantModel } } }, ...errorResponses() } },
    config: { action: 'TenantList' },
  }, async (req) => {
    const list = await gov.listTenants({ limit: Number(req.query.limit ?? '100'), ...(req.query.state === undefined ? {} : { state: req.query.state }) });
    return { tenants: list.map(tenantJson) };
  });

  r.get<{ Params: TenantParams }>('/v1/tenants/:id', {
    schema: { summary: 'One tenant', tags: ['tenants'], params: tenantParams, response: { 200: tenantModel, ...errorResponses(404) } },
    config: { action: 'TenantRead' },
  }, async (req) => tenantJson(await mustTenant(gov, req.params.id)));

  const approvable = (action: ApprovableAction, summary: string, adminAction: AdminAction): void => {
    r.post<{ Params: TenantParams; Body: ReasonBody | undefined }>(`/v1/tenants/:id/${action}`, {
      schema: {
        summary, tags: ['kill-switch'], params: tenantParams, body: reasonBody,
        response: { 200: tenantModel, 202: pendingApprovalResponse, ...errorResponses(404, 409, 424) },
      },
      config: { action: adminAction },
      preValidation: emptyBodyAsObject,
    }, async (req, reply) => {
      const tenant = req.params.id;
      const reason = req.body?.reason ?? 'admin';
      const actor = actorOf(req);
      if (deps.fourEyes?.actions.includes(action) === true) {
        await mustTenant(gov, tenant);
        return requestFourEyes(ctx, reply, { tenant, action, reason, actor });
      }
      return tenantJson(await ctx.execute(action, tenant, actor, reason));
    });
  };
  approvable('revoke', 'Kill-switch: revoke a tenant (its L2/L3 are zeroised; KMIP answers Permission Denied)', 'TenantRevoke');
  approvable('restore', 'Undo a revoke when L1 is healthy again', 'TenantRestore');
  approvable('terminate', 'Terminate (offboard) a tenant: irreversible', 'TenantTerminate');
  // Issue 16 item 5: suspend is under four-eyes like revoke, and a suspended tenant can be resumed.
  approvable('suspend', 'Suspend a tenant (KMIP refused; keys kept)', 'TenantSuspend');
  approvable('resume', 'Resume a suspended tenant (KMIP served again)', 'TenantResume');
};
