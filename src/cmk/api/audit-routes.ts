/**
 * The global audit chain on the admin API (issue 16 item 5: "The global chain (admin actions) has no verify route").
 * The global chain (schema `public`) records what is not one tenant's: tenant creation, node-level actions, records
 * of names governance cannot hold. Its routes mirror the tenant ones (`/v1/tenants/:id/audit/...`) without the
 * tenant: Cedar decides them on the platform resource (src/cmk/authz/schema.ts PLATFORM_TENANT), so a tenant-scoped
 * admin never reads it, while `auditor` and `admin` do.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { GovernancePort } from './ports.js';
import { auditVerifyModel, errorResponses } from './schemas.js';

export function registerGlobalAuditRoutes(r: FastifyInstance<Server | HttpsServer, IncomingMessage, ServerResponse>, gov: GovernancePort): void {
  r.get('/v1/audit/verify', {
    schema: { summary: 'Verify the global chain (admin actions): hash chain and HMACs; names the first broken link', tags: ['audit'], response: { 200: auditVerifyModel, ...errorResponses() } },
    config: { action: 'AuditVerify' },
  }, () => gov.verifyAudit(undefined));

  r.get('/v1/audit/export', {
    schema: { summary: 'The global chain as JSON lines (application/x-ndjson)', tags: ['audit'], response: errorResponses() },
    config: { action: 'AuditExport' },
  }, async (_req, reply) => {
    const lines: string[] = [];
    for await (const line of gov.exportAudit(undefined)) lines.push(line.endsWith('\n') ? line : `${line}\n`);
    return reply.type('application/x-ndjson').send(lines.join(''));
  });
}
