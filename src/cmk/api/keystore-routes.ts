/**
 * The L1 shadow reference routes of the admin API (issue 16 item 2): register or correct a tenant's L1 (validated
 * at the source, then the tenant's keys are bound to it), and run the keystore plugin's health() against it.
 */
import type { ShadowReference } from '../../keystore/types.js';
import { checkShadowReference } from '../repository/index.js';
import { ApiError, l1FailureCode } from './errors.js';
import type { TenantView } from './ports.js';
import { actorOf, mustTenant, tenantJson } from './route-context.js';
import type { RegisterRoutes, TenantParams } from './route-context.js';
import { errorResponses, healthModel, shadowBody, tenantModel, tenantParams } from './schemas.js';

export const registerKeystoreRoutes: RegisterRoutes = (r, { deps, gov, log }) => {
  r.post<{ Params: TenantParams; Body: ShadowReference }>('/v1/tenants/:id/keystore', {
    schema: { summary: 'Register or correct the L1 shadow reference {plugin, keyRef, keyVersion}: validated at the source, then the keys are onboarded or re-wrapped under it', tags: ['keystore'], params: tenantParams, body: shadowBody, response: { 200: tenantModel, 201: tenantModel, ...errorResponses(404, 409, 422, 424, 501) } },
    config: { action: 'ShadowRefRegister' },
  }, async (req, reply) => {
    // Issue 16 item 2 (safety): validate the L1 first (a health round trip at the source), then bind the tenant's
    // keys to it (onboard, or re-wrap L2 from the L1 holding them), and only then record it. A refused L1 leaves
    // the tenant as it was and is answered with the keystore's precise catalog code (4xx), never a 500.
    const tenant = req.params.id;
    const actor = actorOf(req);
    const shadow = checkShadowReference({ plugin: req.body.plugin, keyRef: req.body.keyRef, keyVersion: req.body.keyVersion });
    const t0 = await mustTenant(gov, tenant);
    if (t0.state !== 'active' && t0.state !== 'suspended') throw new ApiError('CONFLICT', `tenant ${tenant} is ${t0.state}: restore it before registering an L1`);
    if (deps.validateShadow === undefined) throw new ApiError('NOT_CONFIGURED', 'this node has no keystore validator: an L1 is registered only after a health round trip');
    const h = await deps.validateShadow(shadow);
    if (!h.ok) {
      await gov.recordAudit(tenant, actor, 'keystore.register', { ok: false, plugin: shadow.plugin, keyRef: shadow.keyRef, code: h.code });
      throw new ApiError(l1FailureCode(h.code), `L1 ${shadow.plugin} '${shadow.keyRef}' refused: ${h.message}; nothing was changed`, { details: { keystoreCode: h.code } });
    }
    const previous = t0.shadow;
    const outcome = await deps.bindL1?.(tenant, shadow);
    let put: { tenant: TenantView; previous: ShadowReference | undefined };
    try {
      put = await gov.putShadow(tenant, shadow, actor);
    } catch (e) {
      // Keys moved but the record did not: move them back under the L1 governance still names (best effort).
      if (outcome === 'rewrapped' && previous !== undefined) {
        await deps.bindL1?.(tenant, previous).catch((e2: unknown) => {
          log?.error('L1 registration: could not move the keys back after the governance write failed', { tenant, errMessage: e2 instanceof Error ? e2.message : String(e2) });
        });
      }
      throw e;
    }
    log?.info('L1 registered', { tenant, plugin: shadow.plugin, keyRef: shadow.keyRef, keys: outcome ?? 'not bound (no krypton on this node)', replaced: put.previous !== undefined });
    return reply.code(put.previous === undefined ? 201 : 200).send(tenantJson(put.tenant));
  });

  r.post<{ Params: TenantParams }>('/v1/tenants/:id/keystore/validate', {
    schema: { summary: "Run the keystore plugin's health() against the registered L1", tags: ['keystore'], params: tenantParams, response: { 200: healthModel, 424: healthModel, ...errorResponses(404, 501) } },
    config: { action: 'ShadowRefRead' },
  }, async (req, reply) => {
    const tenant = req.params.id;
    const shadow = await gov.getShadow(tenant);
    if (shadow === undefined) throw new ApiError('NOT_FOUND', `tenant ${tenant} has no registered L1 shadow reference`);
    if (deps.validateShadow === undefined) throw new ApiError('NOT_CONFIGURED', 'this node has no keystore validator');
    const h = await deps.validateShadow(shadow);
    await gov.recordAudit(tenant, actorOf(req), 'keystore.validate', { ok: h.ok, plugin: h.plugin, ...(h.ok ? {} : { code: h.code }) });
    const body = { ok: h.ok, plugin: h.plugin, keyRef: h.keyRef, checkedAt: h.checkedAt.toISOString(), ...(h.ok ? {} : { code: h.code, message: h.message }) };
    return reply.code(h.ok ? 200 : 424).send(body);
  });
};
