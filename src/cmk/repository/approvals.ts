/**
 * The four-eyes approval aggregate (ARCHITECTURE §5): a request for an action on a tenant (`tenant_<id>.approvals`)
 * and the votes of distinct approvers other than the requester (`approval_votes`), within a window. The vote that
 * completes a request runs its action (or hands it to the caller), and the outcome is audited in the tenant chain.
 */
import { randomUUID } from 'node:crypto';
import type { DbTx } from '../db.js';
import { checkTenantId, quoteIdent, sqlState, tenantSchema, toDate, toNumber } from '../db.js';
import { GovernanceError } from '../errors.js';
import type { RepoContext } from './context.js';
import { inTenant, listTenants, lockTenant } from './tenants.js';
import {
  APPROVAL_PARAM_MAX, checkCount, checkObjectName, checkPrincipal, checkReason, CONTROL, invalid, MAX_APPROVAL_PARAMS,
  MAX_APPROVAL_TTL_MS, MAX_PENDING_APPROVALS_PER_TENANT, MAX_REQUIRED_APPROVERS, PRINCIPAL_MAX, UUID,
} from './validation.js';

/** pending → (approved →) executing → executed | failed; pending → expired. `approved` only when the caller
 *  executes the action itself (approve(..., { execute: false }) then completeApproval). */
export type ApprovalState = 'pending' | 'approved' | 'executing' | 'executed' | 'failed' | 'expired';

export interface Approval {
  /** `<tenant>:<uuid>`. */
  readonly id: string;
  readonly tenant: string;
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  readonly requestedBy: string;
  readonly requestedAt: Date;
  readonly expiresAt: Date;
  readonly required: number;
  readonly approvers: readonly string[];
  readonly state: ApprovalState;
  /** Result text of the execution, or its error. */
  readonly outcome: string | null;
}

/** Runs an approved action. `principal` names the requester and the approvers, for the audit trail. */
export type ApprovedAction = (ctx: {
  readonly tenant: string;
  readonly params: Readonly<Record<string, string>>;
  readonly principal: string;
}) => Promise<string | undefined>;

/** The repository's defaults and its registered actions (./index.ts). */
export interface ApprovalRules {
  readonly required: number;
  readonly ttlMs: number;
  readonly actions: ReadonlyMap<string, ApprovedAction>;
}

interface ApprovalRow {
  id: string;
  action: string;
  params: Record<string, string>;
  requested_by: string;
  requested_at: unknown;
  expires_at: unknown;
  required: unknown;
  state: ApprovalState;
  outcome: string | null;
}

/**
 * Opens a request for `action` on `tenant`; returns its id. It executes once `required` distinct approvers other
 * than the requester approved, within the approval window.
 */
export async function requestApproval(
  ctx: RepoContext, rules: ApprovalRules, action: string, tenant: string, requestedBy: string,
  params: Readonly<Record<string, string>>, opts: { required?: number; ttlMs?: number },
): Promise<string> {
  ctx.check();
  const s = quoteIdent(tenantSchema(tenant));
  checkObjectName(action, 'action');
  if (!rules.actions.has(action)) throw invalid(`unknown action ${action}`);
  const required = checkCount(opts.required ?? rules.required, MAX_REQUIRED_APPROVERS, 'required');
  const ttlMs = checkCount(opts.ttlMs ?? rules.ttlMs, MAX_APPROVAL_TTL_MS, 'ttlMs');
  checkPrincipal(requestedBy, 'requestedBy');
  const entries = Object.entries(params);
  if (entries.length > MAX_APPROVAL_PARAMS) throw invalid(`at most ${MAX_APPROVAL_PARAMS} parameters`);
  for (const [k, v] of entries) {
    checkObjectName(k, 'parameter name');
    if (typeof v !== 'string' || v.length > APPROVAL_PARAM_MAX || CONTROL.test(v)) {
      throw invalid(`parameter ${k} must be at most ${APPROVAL_PARAM_MAX} characters without control characters`);
    }
  }
  const at = ctx.now();
  const id = `${tenant}:${randomUUID()}`;
  await ctx.db.transaction(async (tx) => {
    await lockTenant(tx, tenant, 'SHARE');
    await tx.query(`UPDATE ${s}.approvals SET state = 'expired', decided_at = $1 WHERE state = 'pending' AND expires_at < $1`, [at]);
    const n = await tx.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${s}.approvals WHERE state = 'pending'`);
    if (toNumber(n.rows[0]?.n ?? 0) >= MAX_PENDING_APPROVALS_PER_TENANT) {
      throw new GovernanceError('LIMIT_EXCEEDED', `tenant ${tenant} has ${MAX_PENDING_APPROVALS_PER_TENANT} pending approvals already`);
    }
    await tx.query(
      `INSERT INTO ${s}.approvals (id, action, params, requested_by, requested_at, expires_at, required, state)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')`,
      [id, action, JSON.stringify(Object.fromEntries(entries)), requestedBy, at, new Date(at.getTime() + ttlMs), required],
    );
    await ctx.audit.appendSync({ principal: requestedBy, tenant, operation: 'approval.request', object: `${id} ${action}`, result: 'ok', time: at }, { tx });
  });
  return id;
}

export async function getApproval(ctx: RepoContext, id: string): Promise<Approval | undefined> {
  ctx.check();
  const { tenant } = parseApprovalId(id);
  const s = quoteIdent(tenantSchema(tenant));
  return inTenant(ctx, tenant, async (tx) => {
    const r = await tx.query<ApprovalRow>(`SELECT * FROM ${s}.approvals WHERE id = $1`, [id]);
    const row = r.rows[0];
    if (row === undefined) return undefined;
    return approvalFromRow(tenant, row, await votes(tx, s, id));
  });
}

/**
 * Records `approver`'s approval. The requester cannot approve, nor can anyone twice (APPROVER_NOT_ALLOWED);
 * after the window: APPROVAL_EXPIRED. When the count reaches the required number the action executes (after the
 * vote committed) and the returned approval is `executed` or `failed` with the outcome. With
 * `{ execute: false }` a complete approval becomes `approved` instead and the caller runs the action and then
 * calls {@link completeApproval} (the admin API does this: it also drives the node's kill-switch).
 */
export async function approve(ctx: RepoContext, rules: ApprovalRules, id: string, approver: string, opts: { execute?: boolean }): Promise<Approval> {
  const execute = opts.execute ?? true;
  ctx.check();
  const { tenant } = parseApprovalId(id);
  const s = quoteIdent(tenantSchema(tenant));
  checkPrincipal(approver, 'approver');
  const at = ctx.now();
  const step = await ctx.db.transaction(async (tx) => {
    await lockTenant(tx, tenant, 'SHARE');
    const row = await lockedApproval(tx, s, id);
    if (row.state !== 'pending') throw new GovernanceError('INVALID_STATE', `approval ${id} is ${row.state}`);
    if (toDate(row.expires_at).getTime() < at.getTime()) {
      await tx.query(`UPDATE ${s}.approvals SET state = 'expired', decided_at = $2 WHERE id = $1`, [id, at]);
      await ctx.audit.appendSync({ principal: approver, tenant, operation: 'approval.approve', object: id, result: 'expired', time: at }, { tx });
      return { expired: true as const };
    }
    if (approver === row.requested_by) throw new GovernanceError('APPROVER_NOT_ALLOWED', 'the requester cannot approve their own request');
    const ins = await tx.query(
      `INSERT INTO ${s}.approval_votes (approval_id, approver, approved_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING approver`,
      [id, approver, at],
    );
    if (ins.rows.length === 0) throw new GovernanceError('APPROVER_NOT_ALLOWED', `${approver} already approved ${id}`);
    const approvers = await votes(tx, s, id);
    await ctx.audit.appendSync({ principal: approver, tenant, operation: 'approval.approve', object: id, result: 'ok', time: at }, { tx });
    const ready = approvers.length >= toNumber(row.required);
    if (ready) await tx.query(`UPDATE ${s}.approvals SET state = $2 WHERE id = $1`, [id, execute ? 'executing' : 'approved']);
    return { expired: false as const, ready, row: ready && !execute ? { ...row, state: 'approved' as const } : row, approvers };
  });
  if (step.expired) throw new GovernanceError('APPROVAL_EXPIRED', `approval ${id} expired before it gathered its approvers`);
  const { row, approvers } = step;
  if (!step.ready || !execute) return approvalFromRow(tenant, row, approvers);
  const run = rules.actions.get(row.action);
  const principal = approvedBy(row, approvers);
  let state: ApprovalState = 'executed';
  let outcome: string;
  try {
    if (run === undefined) throw new GovernanceError('INVALID_STATE', `action ${row.action} is not registered`);
    outcome = (await run({ tenant, params: row.params, principal })) ?? 'done';
  } catch (e) {
    state = 'failed';
    outcome = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  try {
    await ctx.db.transaction(async (tx) => {
      await tx.query(`UPDATE ${s}.approvals SET state = $2, decided_at = $3, outcome = $4 WHERE id = $1`, [id, state, ctx.now(), outcome.slice(0, APPROVAL_PARAM_MAX)]);
      await ctx.audit.appendSync({ principal, tenant, operation: `approval.${row.action}`, object: id, result: state === 'executed' ? 'ok' : `failed: ${outcome}` }, { tx });
    });
  } catch (e) {
    // An executed `terminate` dropped the schema holding the approval; its audit record is in the public chain.
    const code = sqlState(e);
    if (code !== '3F000' && code !== '42P01') throw e;
  }
  return approvalFromRow(tenant, { ...row, state, outcome }, approvers);
}

/** Records the outcome of an `approved` request the caller executed; exactly once (else INVALID_STATE). */
export async function completeApproval(ctx: RepoContext, id: string, outcome: 'executed' | 'failed', detail: string): Promise<Approval> {
  ctx.check();
  const { tenant } = parseApprovalId(id);
  const s = quoteIdent(tenantSchema(tenant));
  checkReason(detail);
  const at = ctx.now();
  return ctx.db.transaction(async (tx) => {
    await lockTenant(tx, tenant, 'SHARE');
    const row = await lockedApproval(tx, s, id);
    if (row.state !== 'approved') throw new GovernanceError('INVALID_STATE', `approval ${id} is ${row.state}, not approved`);
    const text = detail === '' ? outcome : detail;
    await tx.query(`UPDATE ${s}.approvals SET state = $2, decided_at = $3, outcome = $4 WHERE id = $1`, [id, outcome, at, text]);
    const approvers = await votes(tx, s, id);
    await ctx.audit.appendSync(
      { principal: approvedBy(row, approvers), tenant, operation: `approval.${row.action}`, object: id, result: outcome === 'executed' ? 'ok' : `failed: ${text}`, time: at }, { tx },
    );
    return approvalFromRow(tenant, { ...row, state: outcome, outcome: text }, approvers);
  });
}

/** Approvals of one tenant (or of every live tenant), newest first. */
export async function listApprovals(ctx: RepoContext, tenant?: string): Promise<Approval[]> {
  ctx.check();
  const tenants = tenant === undefined ? (await listTenants(ctx)).map((t) => t.id) : [checkTenantId(tenant)];
  const out: Approval[] = [];
  for (const t of tenants) {
    const s = quoteIdent(tenantSchema(t));
    const list = await inTenant(ctx, t, async (tx) => {
      const r = await tx.query<ApprovalRow>(`SELECT * FROM ${s}.approvals ORDER BY requested_at DESC, id`);
      const res: Approval[] = [];
      for (const row of r.rows) res.push(approvalFromRow(t, row, await votes(tx, s, row.id)));
      return res;
    });
    out.push(...list);
  }
  return out.sort((a, b) => b.requestedAt.getTime() - a.requestedAt.getTime());
}

/** The request row under FOR UPDATE; NOT_FOUND when absent. */
async function lockedApproval(tx: DbTx, s: string, id: string): Promise<ApprovalRow> {
  const r = await tx.query<ApprovalRow>(`SELECT * FROM ${s}.approvals WHERE id = $1 FOR UPDATE`, [id]);
  const row = r.rows[0];
  if (row === undefined) throw new GovernanceError('NOT_FOUND', `approval ${id} does not exist`);
  return row;
}

/** The principal an executed action is audited under: the requester and who approved it. */
function approvedBy(row: ApprovalRow, approvers: readonly string[]): string {
  return `${row.requested_by} (approved by ${approvers.join(', ')})`.slice(0, PRINCIPAL_MAX);
}

async function votes(tx: DbTx, s: string, id: string): Promise<string[]> {
  const r = await tx.query<{ approver: string }>(`SELECT approver FROM ${s}.approval_votes WHERE approval_id = $1 ORDER BY approved_at, approver`, [id]);
  return r.rows.map((v) => v.approver);
}

function approvalFromRow(tenant: string, row: ApprovalRow, approvers: readonly string[]): Approval {
  return {
    id: row.id,
    tenant,
    action: row.action,
    params: row.params,
    requestedBy: row.requested_by,
    requestedAt: toDate(row.requested_at),
    expiresAt: toDate(row.expires_at),
    required: toNumber(row.required),
    approvers,
    state: row.state,
    outcome: row.outcome,
  };
}

/** `<tenant>:<uuid>` → parts; INVALID_ARGUMENT otherwise (the tenant part names the schema, so it is checked). */
export function parseApprovalId(id: unknown): { tenant: string; uuid: string } {
  if (typeof id !== 'string') throw invalid('approval id must be a string');
  const i = id.indexOf(':');
  const tenant = id.slice(0, i);
  const uuid = id.slice(i + 1);
  if (i < 1 || !UUID.test(uuid)) throw invalid('approval id must be <tenant>:<uuid>');
  checkTenantId(tenant);
  return { tenant, uuid };
}
