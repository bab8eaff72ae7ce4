/**
 * The governance side of an L1 replacement (issue 16 item 3): once krypton re-wrapped L2 under the new L1, the
 * tenant's registered shadow reference (name `l1`, src/cmk/api/governance-port.ts L1_SHADOW_NAME) names the new key,
 * and the tenant's audit chain records the move, old and new reference, in the SAME transaction. Kept apart from the
 * repository's registerShadowRef, which refuses to overwrite (a registration is not a replacement).
 */
import { quoteIdent, tenantSchema } from './db.js';
import { GovernanceError } from './errors.js';
import { checkShadowReference } from './repository/index.js';
import type { Governance } from './repository/index.js';
import type { ShadowReference } from '../keystore/types.js';

/** Records `shadow` as tenant's L1 (`name`), replacing what was registered; returns the previous reference. */
export async function recordL1Replacement(g: Governance, tenant: string, name: string, shadow: ShadowReference, actor: string): Promise<ShadowReference | undefined> {
  const ref = checkShadowReference(shadow);
  const s = quoteIdent(tenantSchema(tenant));
  return g.db.transaction(async (tx) => {
    const t = await tx.query<{ state: string }>('SELECT state FROM public.tenants WHERE id = $1 FOR SHARE', [tenant]);
    const state = t.rows[0]?.state;
    if (state === undefined || state === 'terminated') throw new GovernanceError('TENANT_NOT_FOUND', `tenant ${tenant} does not exist`);
    const old = await tx.query<{ plugin: string; key_ref: string; key_version: string }>(`SELECT plugin, key_ref, key_version FROM ${s}.shadow_refs WHERE name = $1 FOR UPDATE`, [name]);
    const prev = old.rows[0];
    await tx.query(
      `INSERT INTO ${s}.shadow_refs (name, plugin, key_ref, key_version, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO UPDATE SET plugin = EXCLUDED.plugin, key_ref = EXCLUDED.key_ref, key_version = EXCLUDED.key_version,
         created_at = EXCLUDED.created_at, created_by = EXCLUDED.created_by`,
      [name, ref.plugin, ref.keyRef, ref.keyVersion, new Date(), actor],
    );
    const from = prev === undefined ? '(none registered)' : `${prev.plugin}:${prev.key_ref}`;
    await g.audit.appendSync({ principal: actor, tenant, operation: 'l1.replace', object: `${name}: ${from} -> ${ref.plugin}:${ref.keyRef}`, result: 'ok' }, { tx });
    return prev === undefined ? undefined : { plugin: prev.plugin, keyRef: prev.key_ref, keyVersion: prev.key_version };
  });
}
