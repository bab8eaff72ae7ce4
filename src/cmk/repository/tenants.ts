/**
 * The tenant aggregate (ARCHITECTURE §5 kill-switch): the catalog row in `public.tenants`, its `tenant_<id>`
 * schema, and its state machine active ⇄ suspended, active|suspended → revoked → active, → terminated. Every state
 * change writes its row, its audit record and its NOTIFY 'openkcm_tenant' in one transaction (./index.ts).
 *
 * {@link lockTenant} and {@link inTenant} are how the other aggregates (shadow references, policies, approvals)
 * enter a tenant's schema: the catalog row is locked first, so a schema cannot be dropped under them.
 */
import type { DbTx } from '../db.js';
import { checkTenantId, quoteIdent, tenantSchema, TENANT_CHANNEL, toDate, toNumber } from '../db.js';
import { GovernanceError } from '../errors.js';
import { migrateTenantInTx } from '../migrations.js';
import type { RepoContext } from './context.js';
import { checkPrincipal, checkReason, CONTROL, invalid, TENANT_DISPLAY_NAME_MAX } from './validation.js';

export type TenantState = 'active' | 'suspended' | 'revoked' | 'terminated';

export interface Tenant {
  readonly id: string;
  /** Display name (free text). */
  readonly name: string;
  readonly state: TenantState;
  readonly stateReason: string;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly stateChangedAt: Date;
  /** `tenant_<id>`. */
  readonly schema: string;
}

/** Payload of NOTIFY 'openkcm_tenant' (JSON). Listeners must ignore actions they do not know. */
export interface TenantEvent {
  readonly tenant: string;
  readonly action: 'revoke' | 'restore' | 'terminate' | 'suspend' | 'resume';
  /** ISO 8601. */
  readonly at: string;
}

/** Crypto-shred of a tenant before its schema is dropped (krypton.offboard: L2/L3 blobs deleted, slots zeroised). */
export type CryptoShred = (tenant: string) => Promise<void>;

interface TenantRow {
  id: string;
  name: string;
  state: TenantState;
  state_reason: string;
  created_at: unknown;
  created_by: string;
  state_changed_at: unknown;
  schema_name: string;
}

function tenantFromRow(r: TenantRow): Tenant {
  return {
    id: r.id,
    name: r.name,
    state: r.state,
    stateReason: r.state_reason,
    createdAt: toDate(r.created_at),
    createdBy: r.created_by,
    stateChangedAt: toDate(r.state_changed_at),
    schema: r.schema_name,
  };
}

/**
 * Onboards a tenant: catalog row, `tenant_<id>` schema with every migration, and audit records (public chain and
 * the new tenant chain), in ONE transaction. Concurrent calls for one id: exactly one succeeds, the others get
 * TENANT_EXISTS (the catalog's primary key decides: a second INSERT waits for the first to commit). Ids are never
 * reused, so a terminated id also answers TENANT_EXISTS.
 */
export async function createTenant(ctx: RepoContext, input: { id: string; name?: string }, principal: string): Promise<Tenant> {
  ctx.check();
  const id = checkTenantId(input.id);
  const name = input.name ?? id;
  if (typeof name !== 'string' || name.length < 1 || name.length > TENANT_DISPLAY_NAME_MAX || CONTROL.test(name)) {
    throw invalid(`tenant name must be 1..${TENANT_DISPLAY_NAME_MAX} characters without control characters`);
  }
  checkPrincipal(principal);
  const at = ctx.now();
  return ctx.db.transaction(async (tx) => {
    // ON CONFLICT without a target: the row has two unique keys (id and schema_name, which is derived from the id
    // one-to-one by tenantSchema). A concurrent insert of the same id may be caught by either index first; with
    // `ON CONFLICT (id)` a loser caught by the schema_name index got a raw unique violation (23505) instead of
    // TENANT_EXISTS (seen under load in CI, cmk-repository "10 parallel onboardings").
    const r = await tx.query<TenantRow>(
      `INSERT INTO public.tenants (id, name, state, state_reason, created_at, created_by, state_changed_at, schema_name)
       VALUES ($1, $2, 'active', '', $3, $4, $3, $5) ON CONFLICT DO NOTHING RETURNING *`,
      [id, name, at, principal, tenantSchema(id)],
    );
    const row = r.rows[0];
    if (row === undefined) throw new GovernanceError('TENANT_EXISTS', `tenant ${id} already exists`);
    await migrateTenantInTx(tx, id);
    const rec = { principal, tenant: id, operation: 'tenant.create', object: id, result: 'ok', time: at };
    await ctx.audit.appendSync(rec, { tx, global: true });
    await ctx.audit.appendSync(rec, { tx });
    return tenantFromRow(row);
  });
}

export async function getTenant(ctx: RepoContext, id: string): Promise<Tenant | undefined> {
  ctx.check();
  checkTenantId(id);
  const r = await ctx.db.query<TenantRow>('SELECT * FROM public.tenants WHERE id = $1', [id]);
  const row = r.rows[0];
  return row === undefined ? undefined : tenantFromRow(row);
}

/** Tenants by id; terminated ones only when asked. */
export async function listTenants(ctx: RepoContext, opts: { includeTerminated?: boolean } = {}): Promise<Tenant[]> {
  ctx.check();
  const r = await ctx.db.query<TenantRow>(
    `SELECT * FROM public.tenants ${opts.includeTerminated === true ? '' : "WHERE state <> 'terminated'"} ORDER BY id`,
  );
  return r.rows.map(tenantFromRow);
}

/** Locks the catalog row (FOR UPDATE, or FOR SHARE for work inside the tenant schema) and checks it is live. */
export async function lockTenant(tx: DbTx, id: string, mode: 'UPDATE' | 'SHARE'): Promise<Tenant> {
  const r = await tx.query<TenantRow>(`SELECT * FROM public.tenants WHERE id = $1 FOR ${mode}`, [id]);
  const row = r.rows[0];
  if (row === undefined) throw new GovernanceError('TENANT_NOT_FOUND', `tenant ${id} does not exist`);
  if (row.state === 'terminated') throw new GovernanceError('TENANT_NOT_FOUND', `tenant ${id} is terminated`);
  return tenantFromRow(row);
}

/** Read-only work inside a live tenant's schema (catalog row held FOR SHARE so it cannot be dropped meanwhile). */
export function inTenant<T>(ctx: RepoContext, tenant: string, fn: (tx: DbTx) => Promise<T>): Promise<T> {
  return ctx.db.transaction(async (tx) => {
    await lockTenant(tx, tenant, 'SHARE');
    return fn(tx);
  });
}

/** One state change: catalog row, tenant-chain audit record and NOTIFY in one transaction. */
export async function transition(
  ctx: RepoContext, id: string, principal: string, action: TenantEvent['action'], from: readonly TenantState[], to: TenantState, reason: string,
): Promise<Tenant> {
  ctx.check();
  checkTenantId(id);
  checkPrincipal(principal);
  checkReason(reason);
  const at = ctx.now();
  return ctx.db.transaction(async (tx) => {
    const t = await lockTenant(tx, id, 'UPDATE');
    // Repeating a revoke is allowed and re-announced (kill-switch: a node that missed the first NOTIFY catches
    // up); every other transition must start from one of its `from` states.
    if (!from.includes(t.state) && !(action === 'revoke' && t.state === 'revoked')) {
      throw new GovernanceError('INVALID_STATE', `cannot ${action} tenant ${id} in state ${t.state}`);
    }
    const r = await tx.query<TenantRow>(
      'UPDATE public.tenants SET state = $2, state_reason = $3, state_changed_at = $4 WHERE id = $1 RETURNING *',
      [id, to, reason, at],
    );
    await ctx.audit.appendSync(
      { principal, tenant: id, operation: `tenant.${action}`, object: id, result: 'ok', time: at }, { tx },
    );
    return announced(tx, { tenant: id, action, at: at.toISOString() }, r.rows[0]);
  });
}

/**
 * Offboarding. First the caller's crypto-shred hook (krypton.offboard: L2/L3 gone, slots zeroised); if it
 * fails, nothing is dropped (SHRED_FAILED). Then, in one transaction: DROP SCHEMA tenant_<id> CASCADE, catalog
 * row `terminated`, a public-chain audit record and NOTIFY 'terminate'. The id is never reused.
 */
export async function terminateTenant(ctx: RepoContext, id: string, principal: string, cryptoShred: CryptoShred): Promise<Tenant> {
  ctx.check();
  checkTenantId(id);
  checkPrincipal(principal);
  const t = await getTenant(ctx, id);
  if (t === undefined || t.state === 'terminated') throw new GovernanceError('TENANT_NOT_FOUND', `tenant ${id} does not exist or is terminated`);
  try {
    await cryptoShred(id);
  } catch (e) {
    throw new GovernanceError('SHRED_FAILED', `crypto-shred of tenant ${id} failed; nothing was dropped`, { cause: e });
  }
  const at = ctx.now();
  return ctx.db.transaction(async (tx) => {
    await lockTenant(tx, id, 'UPDATE');
    await tx.exec(`DROP SCHEMA IF EXISTS ${quoteIdent(tenantSchema(id))} CASCADE`);
    const r = await tx.query<TenantRow>(
      "UPDATE public.tenants SET state = 'terminated', state_reason = 'offboarded', state_changed_at = $2 WHERE id = $1 RETURNING *",
      [id, at],
    );
    await ctx.audit.appendSync(
      { principal, tenant: id, operation: 'tenant.terminate', object: id, result: 'ok', time: at }, { tx, global: true },
    );
    return announced(tx, { tenant: id, action: 'terminate', at: at.toISOString() }, r.rows[0]);
  });
}

/** Queues the NOTIFY of a state change (delivered at COMMIT) and returns the changed row. */
async function announced(tx: DbTx, event: TenantEvent, row: TenantRow | undefined): Promise<Tenant> {
  await tx.notify(TENANT_CHANNEL, JSON.stringify(event));
  if (row === undefined) throw new Error('tenant row vanished under lock');
  return tenantFromRow(row);
}

/** Subscribes to tenant state changes (this or any other process). Malformed payloads are ignored. */
export function onTenantEvent(ctx: RepoContext, listener: (e: TenantEvent) => void): Promise<() => Promise<void>> {
  ctx.check();
  return ctx.db.listen(TENANT_CHANNEL, (payload) => {
    const e = parseTenantEvent(payload);
    if (e !== undefined) listener(e);
  });
}

/** Number of tenants per state (metrics, health). */
export async function countTenantsByState(ctx: RepoContext): Promise<Record<TenantState, number>> {
  ctx.check();
  const r = await ctx.db.query<{ state: TenantState; n: unknown }>('SELECT state, count(*) AS n FROM public.tenants GROUP BY state');
  const out: Record<TenantState, number> = { active: 0, suspended: 0, revoked: 0, terminated: 0 };
  for (const row of r.rows) out[row.state] = toNumber(row.n);
  return out;
}

export function parseTenantEvent(payload: string): TenantEvent | undefined {
  try {
    const v = JSON.parse(payload) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const { tenant, action, at } = v as Record<string, unknown>;
    if (typeof tenant !== 'string' || typeof at !== 'string') return undefined;
    if (action !== 'revoke' && action !== 'restore' && action !== 'terminate' && action !== 'suspend' && action !== 'resume') return undefined;
    return { tenant, action, at };
  } catch {
    return undefined;
  }
}
