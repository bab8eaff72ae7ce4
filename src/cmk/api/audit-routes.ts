/**
 * The audit routes of the admin API: a tenant's chain (page, export, verify), and the global chain (issue 16 item
 * 5: "The global chain (admin actions) has no verify route").
 *
 * The global chain (schema `public`) records what is not one tenant's: tenant creation, node-level actions, records
 * of names governance cannot hold. Its routes mirror the tenant ones (`/v1/tenants/:id/audit/...`) without the
 * tenant: Cedar decides them on the platform resource (src/cmk/authz/schema.ts PLATFORM_TENANT), so a tenant-scoped
 * admin never reads it, while `auditor` and `admin` do.
 */
import type { FastifyReply } from 'fastify';
import { ApiError } from './errors.js';
import type { GovernancePort } from './ports.js';
import { mustTenant } from './route-context.js';
import type { RegisterRoutes, TenantParams } from './route-context.js';
import { auditPageModel, auditQuery, auditVerifyModel, DEFAULT_AUDIT_PAGE, errorResponses, tenantParams } from './schemas.js';

/** Sends a chain (a tenant's, or the global one when undefined) as JSON lines. */
async function sendExport(gov: GovernancePort, tenant: string | undefined, reply: FastifyReply): Promise<FastifyReply> {
  const lines: string[] = [];
  for await (const line of gov.exportAudit(tenant)) lines.push(line.endsWith('\n') ? line : `${line}\n`);
  return reply.type('application/x-ndjson').send(lines.join(''));
}

export const registerAuditRoutes: RegisterRoutes = (r, { gov }) => {
  r.get<{ Params: TenantParams; Querystring: { from?: string; limit?: string } }>('/v1/tenants/:id/audit', {
    schema: { summary: "A page of the tenant's audit trail", tags: ['audit'], params: tenantParams, querystring: auditQuery, response: { 200: auditPageModel, ...errorResponses(404) } },
    config: { action: 'AuditRead' },
  }, async (req) => {
    const limit = Number(req.query.limit ?? String(DEFAULT_AUDIT_PAGE));
    if (limit > 1000) throw new ApiError('INVALID_REQUEST', 'limit must be at most 1000');
    const page = await gov.readAudit(req.params.id, Number(req.query.from ?? '1'), limit);
    return { records: page.records, ...(page.next === undefined ? {} : { next: page.next }) };
  });

  r.get<{ Params: TenantParams }>('/v1/tenants/:id/audit/export', {
    schema: { summary: 'The whole audit trail as JSON lines (application/x-ndjson)', tags: ['audit'], params: tenantParams, response: errorResponses(404) },
    config: { action: 'AuditExport' },
  }, async (req, reply) => {
    await mustTenant(gov, req.params.id);
    return sendExport(gov, req.params.id, reply);
  });

  r.get<{ Params: TenantParams }>('/v1/tenants/:id/audit/verify', {
    schema: { summary: 'Verify the hash chain and HMACs; names the first broken link', tags: ['audit'], params: tenantParams, response: { 200: auditVerifyModel, ...errorResponses(404) } },
    config: { action: 'AuditVerify' },
  }, async (req) => {
    await mustTenant(gov, req.params.id);
    return gov.verifyAudit(req.params.id);
  });

  r.get('/v1/audit/verify', {
    schema: { summary: 'Verify the global chain (admin actions): hash chain and HMACs; names the first broken link', tags: ['audit'], response: { 200: auditVerifyModel, ...errorResponses() } },
    config: { action: 'AuditVerify' },
  }, () => gov.verifyAudit(undefined));

  r.get('/v1/audit/export', {
    schema: { summary: 'The global chain as JSON lines (application/x-ndjson)', tags: ['audit'], response: errorResponses() },
    config: { action: 'AuditExport' },
  }, async (_req, reply) => sendExport(gov, undefined, reply));
};
