/**
 * The shadow reference aggregate: the L1 keys a tenant names (`tenant_<id>.shadow_refs`), by plugin kind, key
 * reference and version, never key material (ARCHITECTURE §6). Registered once, corrected by a put (issue 16 item
 * 2), each change audited in the tenant's chain in the same transaction.
 */
import type { ShadowReference } from '../../keystore/types.js';
import type { DbTx } from '../db.js';
import { quoteIdent, tenantSchema, toDate, toNumber } from '../db.js';
import { GovernanceError } from '../errors.js';
import type { RepoContext } from './context.js';
import { inTenant, lockTenant } from './tenants.js';
import { checkObjectName, checkPrincipal, checkShadowReference, MAX_SHADOW_REFS_PER_TENANT } from './validation.js';

export interface ShadowRefRecord {
  readonly name: string;
  readonly shadow: ShadowReference;
  readonly createdAt: Date;
  readonly createdBy: string;
}

/** The checked arguments of a write, and its schema (quoted). */
function checkWrite(ctx: RepoContext, tenant: string, name: string, shadow: ShadowReference, principal: string): { s: string; ref: ShadowReference; at: Date } {
  ctx.check();
  const s = quoteIdent(tenantSchema(tenant));
  checkObjectName(name, 'shadow reference name');
  const ref = checkShadowReference(shadow);
  checkPrincipal(principal);
  return { s, ref, at: ctx.now() };
}

/** LIMIT_EXCEEDED when the tenant holds {@link MAX_SHADOW_REFS_PER_TENANT} references already. */
async function checkRoom(tx: DbTx, s: string, tenant: string): Promise<void> {
  const n = await tx.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${s}.shadow_refs`);
  if (toNumber(n.rows[0]?.n ?? 0) >= MAX_SHADOW_REFS_PER_TENANT) {
    throw new GovernanceError('LIMIT_EXCEEDED', `tenant ${tenant} has ${MAX_SHADOW_REFS_PER_TENANT} shadow references already`);
  }
}

/** Registers an L1 shadow reference under `name` (immutable; ALREADY_EXISTS when the name is taken). */
export async function registerShadowRef(ctx: RepoContext, tenant: string, name: string, shadow: ShadowReference, principal: string): Promise<ShadowRefRecord> {
  const { s, ref, at } = checkWrite(ctx, tenant, name, shadow, principal);
  return ctx.db.transaction(async (tx) => {
    await lockTenant(tx, tenant, 'SHARE');
    await checkRoom(tx, s, tenant);
    const r = await tx.query(
      `INSERT INTO ${s}.shadow_refs (name, plugin, key_ref, key_version, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING name`,
      [name, ref.plugin, ref.keyRef, ref.keyVersion, at, principal],
    );
    if (r.rows.length === 0) throw new GovernanceError('ALREADY_EXISTS', `shadow reference ${name} already exists`);
    await ctx.audit.appendSync(
      { principal, tenant, operation: 'shadow.register', object: `${name}=${ref.plugin}:${ref.keyRef}`, result: 'ok', time: at }, { tx },
    );
    return { name, shadow: ref, createdAt: at, createdBy: principal };
  });
}

/**
 * Registers or corrects the shadow reference `name` (issue 16 item 2: a registered reference can be corrected).
 * The caller (admin API) has validated the new L1 and bound the tenant's keys to it first. Audited as
 * `shadow.register` or `shadow.replace` (old → new) in the tenant chain, in the same transaction. Returns the
 * previous reference, if any.
 */
export async function putShadowRef(
  ctx: RepoContext, tenant: string, name: string, shadow: ShadowReference, principal: string,
): Promise<{ record: ShadowRefRecord; previous: ShadowReference | undefined }> {
  const { s, ref, at } = checkWrite(ctx, tenant, name, shadow, principal);
  return ctx.db.transaction(async (tx) => {
    await lockTenant(tx, tenant, 'UPDATE');
    const old = await tx.query<{ plugin: string; key_ref: string; key_version: string }>(`SELECT plugin, key_ref, key_version FROM ${s}.shadow_refs WHERE name = $1`, [name]);
    const row = old.rows[0];
    const previous = row === undefined ? undefined : { plugin: row.plugin, keyRef: row.key_ref, keyVersion: row.key_version };
    if (previous === undefined) {
      await checkRoom(tx, s, tenant);
      await tx.query(
        `INSERT INTO ${s}.shadow_refs (name, plugin, key_ref, key_version, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)`,
        [name, ref.plugin, ref.keyRef, ref.keyVersion, at, principal],
      );
    } else {
      await tx.query(
        `UPDATE ${s}.shadow_refs SET plugin = $2, key_ref = $3, key_version = $4, created_at = $5, created_by = $6 WHERE name = $1`,
        [name, ref.plugin, ref.keyRef, ref.keyVersion, at, principal],
      );
    }
    const object = previous === undefined
      ? `${name}=${ref.plugin}:${ref.keyRef}`
      : `${name}=${previous.plugin}:${previous.keyRef} -> ${ref.plugin}:${ref.keyRef}`;
    await ctx.audit.appendSync({ principal, tenant, operation: previous === undefined ? 'shadow.register' : 'shadow.replace', object, result: 'ok', time: at }, { tx });
    return { record: { name, shadow: ref, createdAt: at, createdBy: principal }, previous };
  });
}

export async function listShadowRefs(ctx: RepoContext, tenant: string): Promise<ShadowRefRecord[]> {
  ctx.check();
  const s = quoteIdent(tenantSchema(tenant));
  return inTenant(ctx, tenant, async (tx) => {
    const r = await tx.query<{ name: string; plugin: string; key_ref: string; key_version: string; created_at: unknown; created_by: string }>(
      `SELECT * FROM ${s}.shadow_refs ORDER BY name`,
    );
    return r.rows.map((row) => ({
      name: row.name,
      shadow: { plugin: row.plugin, keyRef: row.key_ref, keyVersion: row.key_version },
      createdAt: toDate(row.created_at),
      createdBy: row.created_by,
    }));
  });
}

export async function getShadowRef(ctx: RepoContext, tenant: string, name: string): Promise<ShadowRefRecord | undefined> {
  checkObjectName(name, 'shadow reference name');
  return (await listShadowRefs(ctx, tenant)).find((r) => r.name === name);
}
