/**
 * The public and health routes of the admin API: the OpenAPI document, liveness and readiness probes (no
 * authentication: load balancers and orchestrators call them), and the Prometheus exposition (HealthRead).
 */
import type { RegisterRoutes } from './route-context.js';

export const registerHealthRoutes: RegisterRoutes = (r, { deps, gov, metrics }) => {
  r.get('/openapi.json', { schema: { hide: true } }, (_req, reply) => reply.send(r.swagger()));

  r.get('/healthz', { schema: { summary: 'Liveness: the process answers', tags: ['health'], security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
    (_req, reply) => reply.send({ status: 'ok' }));

  r.get('/readyz', {
    schema: {
      summary: 'Readiness: database reachable and MasterKey unsealed (503 otherwise)', tags: ['health'], security: [],
      response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, 503: { type: 'object', properties: { status: { type: 'string', enum: ['sealed', 'db-unreachable'] } } } },
    },
  }, async (_req, reply) => {
    const mk = deps.masterKeyStatus?.();
    if (mk !== undefined && mk.sealed) return reply.code(503).send({ status: 'sealed' });
    try {
      await gov.ping();
    } catch {
      return reply.code(503).send({ status: 'db-unreachable' });
    }
    return { status: 'ready' };
  });

  r.get('/metrics', { schema: { summary: 'Prometheus exposition', tags: ['health'] }, config: { action: 'HealthRead' } }, async (_req, reply) => {
    const text = await metrics.exposition();
    return reply.type(metrics.contentType).send(text);
  });
};
