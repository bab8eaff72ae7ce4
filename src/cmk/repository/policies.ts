/**
 * The policy aggregate: a tenant's Cedar policy texts (`tenant_<id>.policies`), checked by the injected validator
 * (H7's parser) before they are stored, each change audited in the tenant's chain in the same transaction.
 */
import { quoteIdent, tenantSchema, toDate, toNumber } from '../db.js';
import { GovernanceError } from '../errors.js';
import type { RepoContext } from './context.js';
import { inTenant, lockTenant } from './tenants.js';
import { checkObjectName, checkPrincipal, invalid, MAX_POLICIES_PER_TENANT, POLICY_MAX_BYTES } from './validation.js';

export interface PolicyRecord {
  readonly id: string;
  readonly body: string;
  readonly updatedAt: Date;
  readonly updatedBy: string;
}

/** Validates a policy text (H7's Cedar parser); throws to refuse it. */
export type PolicyValidator = (body: string, id: string) => void | Promise<void>;

/** Stores (creates or replaces) a policy text after the validator accepted it. */
export async function putPolicy(
  ctx: RepoContext, validator: PolicyValidator | undefined, tenant: string, id: string, body: string, principal: string,
): Promise<PolicyRecord> {
  ctx.check();
  const s = quoteIdent(tenantSchema(tenant));
  checkObjectName(id, 'policy id');
  checkPrincipal(principal);
  if (typeof body !== 'string' || Buffer.byteLength(body, 'utf8') > POLICY_MAX_BYTES || body.includes('\0')) {
    throw invalid(`policy text must be a string of at most ${POLICY_MAX_BYTES} UTF-8 bytes without NUL`);
  }
  if (validator !== undefined) {
    try {
      await validator(body, id);
    } catch (e) {
      throw new GovernanceError('INVALID_ARGUMENT', `policy ${id} is invalid: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
  const at = ctx.now();
  return ctx.db.transaction(async (tx) => {
    await lockTenant(tx, tenant, 'SHARE');
    const n = await tx.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${s}.policies WHERE id <> $1`, [id]);
    if (toNumber(n.rows[0]?.n ?? 0) >= MAX_POLICIES_PER_TENANT) {
      throw new GovernanceError('LIMIT_EXCEEDED', `tenant ${tenant} has ${MAX_POLICIES_PER_TENANT} policies already`);
    }
    await tx.query(
      `INSERT INTO ${s}.policies (id, body, updated_at, updated_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
      [id, body, at, principal],
    );
    await ctx.audit.appendSync({ principal, tenant, operation: 'policy.put', object: id, result: 'ok', time: at }, { tx });
    return { id, body, updatedAt: at, updatedBy: principal };
  });
}

export async function listPolicies(ctx: RepoContext, tenant: string): Promise<PolicyRecord[]> {
  ctx.check();
  const s = quoteIdent(tenantSchema(tenant));
  return inTenant(ctx, tenant, async (tx) => {
    const r = await tx.query<{ id: string; body: string; updated_at: unknown; updated_by: string }>(`SELECT * FROM ${s}.policies ORDER BY id`);
    return r.rows.map((row) => ({ id: row.id, body: row.body, updatedAt: toDate(row.updated_at), updatedBy: row.updated_by }));
  });
}

export async function getPolicy(ctx: RepoContext, tenant: string, id: string): Promise<PolicyRecord | undefined> {
  checkObjectName(id, 'policy id');
  return (await listPolicies(ctx, tenant)).find((p) => p.id === id);
}

/** Deletes a policy; NOT_FOUND when absent. */
export async function deletePolicy(ctx: RepoContext, tenant: string, id: string, principal: string): Promise<void> {
  ctx.check();
  const s = quoteIdent(tenantSchema(tenant));
  checkObjectName(id, 'policy id');
  checkPrincipal(principal);
  await ctx.db.transaction(async (tx) => {
    await lockTenant(tx, tenant, 'SHARE');
    const r = await tx.query(`DELETE FROM ${s}.policies WHERE id = $1 RETURNING id`, [id]);
    if (r.rows.length === 0) throw new GovernanceError('NOT_FOUND', `policy ${id} does not exist`);
    await ctx.audit.appendSync({ principal, tenant, operation: 'policy.delete', object: id, result: 'ok' }, { tx });
  });
}
