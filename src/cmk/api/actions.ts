/**
 * The kill-switch, termination and L1-replacement actions of the admin API (ARCHITECTURE §5), run when no four-eyes
 * rule gates them or once their approval completed. Each commits in governance first (durable, audited, NOTIFY to
 * every node), then takes effect on this node through the injected ports.
 */
import type { ShadowReference } from '../../keystore/types.js';
import type { AdminApiDeps } from './deps.js';
import { ApiError } from './errors.js';
import type { ApprovableAction, GovernancePort, TenantView } from './ports.js';
import { mustTenant } from './route-context.js';
import type { AdminRouteContext } from './route-context.js';
import { KEYSTORE_PLUGIN_PATTERN, MAX_KEY_REF_LENGTH } from './schemas.js';

/** The new L1 of a replace-l1 request or approval. */
export function shadowFromParams(params: Readonly<Record<string, string>> | undefined): ShadowReference {
  const plugin = params?.['plugin'];
  const keyRef = params?.['keyRef'];
  if (plugin === undefined || !KEYSTORE_PLUGIN_PATTERN.test(plugin) || keyRef === undefined || keyRef === '' || keyRef.length > MAX_KEY_REF_LENGTH) {
    throw new ApiError('INVALID_REQUEST', 'replace-l1 needs plugin and keyRef');
  }
  return { plugin, keyRef, keyVersion: params?.['keyVersion'] ?? '' };
}

/** The action runner the route modules get as {@link AdminRouteContext.execute}. */
export function actionRunner(deps: AdminApiDeps, gov: GovernancePort): AdminRouteContext['execute'] {
  return async function execute(action: ApprovableAction, tenant: string, actor: string, reason: string, params?: Readonly<Record<string, string>>): Promise<TenantView> {
    switch (action) {
      case 'replace-l1': {
        // Issue 16 item 3: the new L1 is checked (health) here, the old one proves it still unwraps in krypton.
        if (deps.rotation === undefined) throw new ApiError('NOT_CONFIGURED', 'this node has no key hierarchy to re-wrap');
        const shadow = shadowFromParams(params);
        if (deps.validateShadow !== undefined) {
          const h = await deps.validateShadow(shadow);
          if (!h.ok) throw new ApiError('L1_UNHEALTHY', `the new L1 (${shadow.plugin} ${shadow.keyRef}) is not healthy (${h.code}): ${h.message}; nothing changed`, { details: { code: h.code } });
        }
        await deps.rotation.replaceL1(tenant, shadow, actor);
        return mustTenant(gov, tenant);
      }
      case 'revoke': {
        // Commit first (durable, audited, NOTIFY to every node), then the local fast path.
        const t = await gov.revoke(tenant, actor, reason);
        await deps.killSwitch?.revoke(tenant);
        return t;
      }
      case 'restore': {
        // Refuse early when L1 is not healthy: restoring needs L1 to unwrap L2 (ARCHITECTURE §5).
        if (deps.validateShadow !== undefined) {
          const shadow = await gov.getShadow(tenant);
          if (shadow !== undefined) {
            const h = await deps.validateShadow(shadow);
            if (!h.ok) throw new ApiError('L1_UNHEALTHY', `L1 of ${tenant} is not healthy (${h.code}); not restored`, { details: { code: h.code } });
          }
        }
        const t = await gov.restore(tenant, actor, reason);
        if (deps.killSwitch !== undefined) {
          try {
            await deps.killSwitch.restore(tenant);
          } catch (e) {
            // Governance must not say "active" while krypton stays dark: put the revocation back.
            await gov.revoke(tenant, 'system:restore-failed', 'restore-failed').catch(() => undefined);
            throw e;
          }
        }
        return t;
      }
      case 'terminate':
        return gov.terminate(tenant, actor, reason);
      case 'suspend':
        // Keys stay; every node's governance gate refuses the tenant on the NOTIFY (and this node's at once below).
        return gov.suspend(tenant, actor, reason);
      case 'resume':
        return gov.resume(tenant, actor);
    }
  };
}
