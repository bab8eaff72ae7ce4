/**
 * What every route module of the admin API (./*-routes.ts) is handed by ./server.ts, and the small pieces they
 * share: who is acting, the tenant a route is about, the JSON views of the port's records, and a four-eyes request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../common/log.js';
import type { AdminApi, AdminApiDeps, AdminPolicyEngine } from './deps.js';
import { DEFAULT_APPROVAL_TTL_MS } from './deps.js';
import { ApiError } from './errors.js';
import type { AdminMetrics } from './metrics.js';
import type { AdminAuthorizer, ApprovableAction, ApprovalView, GovernancePort, PolicyView, TenantView } from './ports.js';

export interface AdminRouteContext {
  readonly deps: AdminApiDeps;
  /** The repository behind its port (./governance-port.ts). */
  readonly gov: GovernancePort;
  /** The Cedar engine, adapted; undefined: the role table, and policies checked by the repository only. */
  readonly engine: AdminPolicyEngine | undefined;
  readonly authorizer: AdminAuthorizer;
  readonly metrics: AdminMetrics;
  readonly log: Logger | undefined;
  /** Runs a kill-switch, termination or L1 replacement, approved or not gated (./actions.ts). */
  readonly execute: (action: ApprovableAction, tenant: string, actor: string, reason: string, params?: Readonly<Record<string, string>>) => Promise<TenantView>;
}

/** A route module: registers its routes on the API's encapsulated context. */
export type RegisterRoutes = (r: AdminApi, ctx: AdminRouteContext) => void;

export interface TenantParams { id: string }

/** The authenticated admin's identity (the onRequest hook put it there); UNAUTHENTICATED otherwise. */
export function actorOf(req: FastifyRequest): string {
  const p = req.admin;
  if (p === undefined) throw new ApiError('UNAUTHENTICATED', 'not authenticated');
  return p.identity;
}

export async function mustTenant(gov: GovernancePort, id: string): Promise<TenantView> {
  const t = await gov.getTenant(id);
  if (t === undefined) throw new ApiError('NOT_FOUND', `no tenant ${id}`);
  return t;
}

/** Routes whose JSON body is optional (`{reason}`): an absent body is validated as `{}`. */
export function emptyBodyAsObject(req: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  if (req.body === undefined || req.body === null) req.body = {};
  done();
}

/** Opens a four-eyes request and answers 202 with it (the action runs when enough others approved). */
export async function requestFourEyes(
  ctx: AdminRouteContext, reply: FastifyReply,
  req: { tenant: string; action: ApprovableAction; reason: string; actor: string; params?: Readonly<Record<string, string>> },
): Promise<FastifyReply> {
  const fourEyes = ctx.deps.fourEyes;
  if (fourEyes === undefined) throw new Error('four-eyes request without four-eyes configuration');
  const a = await ctx.gov.requestApproval({
    tenant: req.tenant, action: req.action, reason: req.reason, requestedBy: req.actor, required: fourEyes.approvals,
    ttlMs: fourEyes.ttlMs ?? DEFAULT_APPROVAL_TTL_MS, ...(req.params === undefined ? {} : { params: req.params }),
  });
  const body = approvalJson(a);
  return reply.code(202).send({ approvalId: a.id, needed: body.needed, approval: body });
}

export function tenantJson(t: TenantView): Record<string, unknown> {
  return {
    id: t.id, state: t.state, createdAt: t.createdAt.toISOString(),
    ...(t.description === undefined ? {} : { description: t.description }),
    ...(t.stateReason === undefined ? {} : { stateReason: t.stateReason }),
    ...(t.stateChangedAt === undefined ? {} : { stateChangedAt: t.stateChangedAt.toISOString() }),
    ...(t.shadow === undefined ? {} : { shadow: { plugin: t.shadow.plugin, keyRef: t.shadow.keyRef, keyVersion: t.shadow.keyVersion } }),
  };
}

export function approvalJson(a: ApprovalView): Record<string, unknown> & { needed: number } {
  return {
    id: a.id, tenant: a.tenant, action: a.action, requestedBy: a.requestedBy, approvers: [...a.approvers],
    required: a.required, needed: Math.max(0, a.required - a.approvers.length), status: a.status,
    expiresAt: a.expiresAt.toISOString(), ...(a.reason === undefined || a.reason === '' ? {} : { reason: a.reason }),
    ...(a.params === undefined ? {} : { params: a.params }),
  };
}

export function policyJson(p: PolicyView): Record<string, unknown> {
  return { tenant: p.tenant, name: p.name, policy: p.policy, ...(p.updatedAt === undefined ? {} : { updatedAt: p.updatedAt.toISOString() }) };
}
