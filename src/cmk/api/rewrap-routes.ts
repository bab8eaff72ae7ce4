/**
 * The background re-wrap on the admin API (issue 17 item 8: its progress "also exposed through the CLI"), registered
 * through `extraRoutes` (src/appliance/governance/admin-api.ts) and driven by `openkcm keys rewrap|rewrap-status`:
 *
 *   POST /v1/tenants/:id/keys/rewrap    start the job (202), or the running one (200): every envelope of the tenant not
 *                                       sealed under its current KEK version is re-sealed, in batches, while it serves
 *   GET  /v1/tenants/:id/keys/rewrap    the running or last job: state, done/total, rewrapped, failed, rate, ETA
 *
 * Who may: starting is a key rotation step (`admin`, as TenantRotate); every role reads. A tenant admin acts on its own
 * tenant only. A start is audited in the tenant's chain. The jobs are reached through {@link RewrapPort} only
 * (ARCHITECTURE §6: the governance plane never touches the vault).
 */
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import type { AdminPrincipal } from './ports.js';
import type { AdminApi } from './server.js';

/** One job as the admin API shows it (src/server/rewrap-jobs.ts keeps them). */
export interface RewrapJobView {
  readonly tenant: string;
  readonly state: 'running' | 'done' | 'failed' | 'stopped';
  /** Records looked at, of `total` (the tenant's records when the job started). */
  readonly done: number;
  readonly total: number;
  readonly rewrapped: number;
  readonly failed: number;
  readonly startedAt: string;
  readonly finishedAt?: string;
  /** Records per second since the start. */
  readonly ratePerSecond: number;
  /** Seconds left at that rate; absent when finished or not yet known. */
  readonly etaSeconds?: number;
  readonly error?: string;
}

export interface RewrapPort {
  /** Starts a job (or returns the running one, `started` false). */
  start(tenant: string, actor: string): Promise<{ job: RewrapJobView; started: boolean }>;
  status(tenant: string): RewrapJobView | undefined;
  /** Whether the tenant exists (governance). */
  exists(tenant: string): Promise<boolean>;
}

const START_ROLES = ['admin'];
const READ_ROLES = ['admin', 'security-officer', 'auditor', 'operator'];
const params = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } } } as const;

export function rewrapRoutes(port: RewrapPort): (app: AdminApi, ctx: { authenticate(req: FastifyRequest): Promise<AdminPrincipal> }) => void {
  return (app, ctx) => {
    const who = async (req: FastifyRequest, roles: readonly string[], tenant: string): Promise<AdminPrincipal> => {
      const p = await ctx.authenticate(req);
      if (!p.roles.some((r) => roles.includes(r))) throw new ApiError('FORBIDDEN', `${p.identity} may not ${roles === START_ROLES ? 'start' : 'read'} re-wrap jobs`);
      if (p.tenant !== undefined && p.tenant !== tenant) throw new ApiError('FORBIDDEN', `${p.identity} administers tenant ${p.tenant} only`);
      if (!await port.exists(tenant)) throw new ApiError('NOT_FOUND', `no tenant ${tenant}`);
      return p;
    };

    app.post<{ Params: { id: string } }>('/v1/tenants/:id/keys/rewrap', {
      schema: { summary: 'Start the background re-wrap of a tenant: re-seal every envelope not under its current KEK version', tags: ['keys'], params },
    }, async (req, reply) => {
      const p = await who(req, START_ROLES, req.params.id);
      const { job, started } = await port.start(req.params.id, p.identity);
      return reply.code(started ? 202 : 200).send(job);
    });

    app.get<{ Params: { id: string } }>('/v1/tenants/:id/keys/rewrap', {
      schema: { summary: 'Progress of the running or last re-wrap job of a tenant: done/total, rate, ETA', tags: ['keys'], params },
    }, async (req) => {
      await who(req, READ_ROLES, req.params.id);
      const job = port.status(req.params.id);
      if (job === undefined) throw new ApiError('NOT_FOUND', `no re-wrap job has run for tenant ${req.params.id} since this node started`);
      return job;
    });
  };
}
