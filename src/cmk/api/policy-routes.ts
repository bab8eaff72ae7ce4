/**
 * The policy routes of the admin API: a tenant's Cedar policies, checked for complexity and by the policy engine
 * before they are stored, and re-installed in the engine after each committed change.
 */
import { ApiError, toApiError } from './errors.js';
import { checkPolicyComplexity } from './policy-guard.js';
import { actorOf, mustTenant, policyJson } from './route-context.js';
import type { AdminRouteContext, RegisterRoutes, TenantParams } from './route-context.js';
import { errorResponses, policyBody, policyModel, policyParams, tenantParams } from './schemas.js';

interface PolicyParams { id: string; name: string }

export const registerPolicyRoutes: RegisterRoutes = (r, ctx) => {
  const { engine, gov } = ctx;
  r.get<{ Params: TenantParams }>('/v1/tenants/:id/policies', {
    schema: { summary: "List a tenant's policies", tags: ['policies'], params: tenantParams, response: { 200: { type: 'object', additionalProperties: false, required: ['policies'], properties: { policies: { type: 'array', items: policyModel } } }, ...errorResponses(404) } },
    config: { action: 'PolicyRead' },
  }, async (req) => ({ policies: (await gov.listPolicies(req.params.id)).map(policyJson) }));

  r.put<{ Params: PolicyParams; Body: { policy: string } }>('/v1/tenants/:id/policies/:name', {
    schema: { summary: 'Create or replace a Cedar policy (validated before it is stored)', tags: ['policies'], params: policyParams, body: policyBody, response: { 200: policyModel, ...errorResponses(404, 422) } },
    config: { action: 'PolicyPut' },
  }, async (req) => {
    const { id, name } = req.params;
    await mustTenant(gov, id);
    // Before ANY Cedar parse (here or later in the engine's refresh): text that would crash the wasm module.
    checkPolicyComplexity(req.body.policy);
    const validate = engine?.validatePolicy;
    if (validate !== undefined) {
      try {
        await validate(id, name, req.body.policy);
      } catch (e) {
        const ae = toApiError(e);
        // Any refusal by the engine is the policy's fault; its message names the parse/validation error.
        throw ae.code === 'INTERNAL' ? new ApiError('INVALID_POLICY', 'policy rejected by the policy engine', { cause: e }) : ae;
      }
    }
    const stored = await gov.putPolicy(id, name, req.body.policy, actorOf(req));
    await policiesChanged(ctx, id);
    return policyJson(stored);
  });

  r.get<{ Params: PolicyParams }>('/v1/tenants/:id/policies/:name', {
    schema: { summary: 'One policy', tags: ['policies'], params: policyParams, response: { 200: policyModel, ...errorResponses(404) } },
    config: { action: 'PolicyRead' },
  }, async (req) => {
    const p = await gov.getPolicy(req.params.id, req.params.name);
    if (p === undefined) throw new ApiError('NOT_FOUND', `no policy ${req.params.name} for tenant ${req.params.id}`);
    return policyJson(p);
  });

  r.delete<{ Params: PolicyParams }>('/v1/tenants/:id/policies/:name', {
    schema: { summary: 'Delete a policy', tags: ['policies'], params: policyParams, response: { 204: { type: 'null' }, ...errorResponses(404) } },
    config: { action: 'PolicyDelete' },
  }, async (req, reply) => {
    if (!await gov.deletePolicy(req.params.id, req.params.name, actorOf(req))) throw new ApiError('NOT_FOUND', `no policy ${req.params.name} for tenant ${req.params.id}`);
    await policiesChanged(ctx, req.params.id);
    return reply.code(204).send();
  });
};

/** The change is committed; a failed engine refresh leaves the tenant fail-closed in the engine (logged). */
async function policiesChanged({ engine, log }: AdminRouteContext, tenant: string): Promise<void> {
  if (engine?.policiesChanged === undefined) return;
  try {
    await engine.policiesChanged(tenant);
  } catch (e) {
    log?.error('policy engine refresh failed; the tenant is denied until the next refresh', { tenant, errMessage: e instanceof Error ? e.message : String(e) });
  }
}
