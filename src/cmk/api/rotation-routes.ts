/**
 * Key rotation and L1 replacement on the admin API (issue 16 item 3: "L2/L3 rotation and dropping an L3 version exist
 * in the library only: Cedar defines TenantRotate, but no route uses it"; "the customer moves to a new key").
 *
 *   GET  /v1/tenants/:id/keys                  the lineage: L1 reference, L2 and L3 versions (never material)
 *   POST /v1/tenants/:id/keys/rotate-l2        new L2 version; every L3 re-sealed under it
 *   POST /v1/tenants/:id/keys/rotate-l3        {service?} new current L3 version (default service "kmip")
 *   POST /v1/tenants/:id/keys/drop-l3          {service?, version} crypto-shred depth 2 (the current version refused)
 *   POST /v1/tenants/:id/keystore/replace      {plugin, keyRef, keyVersion} L1 replacement: the new L1's health is
 *                                              checked, the old L1 must still unwrap, L2 is re-wrapped under the new
 *                                              one; four-eyes when `governance.fourEyes.actions` has "replace-l1"
 *
 * Every route is the Cedar action TenantRotate (reading: TenantRead). Every change is audited in the tenant's chain
 * with the acting admin (a failed replacement too, with its error code). The API reaches krypton only through the
 * injected {@link RotationPort} (ARCHITECTURE §6: the governance plane never imports krypton).
 */
import type { ShadowReference } from '../../keystore/types.js';
import { ApiError, toApiError } from './errors.js';
import type { RotationPort } from './ports.js';
import { actorOf, emptyBodyAsObject, mustTenant, requestFourEyes, tenantJson } from './route-context.js';
import type { RegisterRoutes, TenantParams } from './route-context.js';
import { errorResponses, pendingApprovalResponse, shadowBody, tenantModel, tenantParams } from './schemas.js';

/** The L3 lineage the KMIP path uses (src/krypton/krypton.ts DEFAULT_SERVICE). */
export const DEFAULT_ROTATION_SERVICE = 'kmip';
/** Bounds of a service name and an L3 version (src/krypton/record.ts MAX_SERVICE_BYTES, MAX_L3_VERSIONS x rotations). */
const SERVICE = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$', minLength: 1, maxLength: 32 } as const;
const REASON = { type: 'string', pattern: '^[^\\u0000-\\u001f\\u007f]*$', maxLength: 512 } as const;

const rotateL3Body = { type: 'object', additionalProperties: false, properties: { service: SERVICE, reason: REASON } } as const;
const rotateL2Body = { type: 'object', additionalProperties: false, properties: { reason: REASON } } as const;
const dropL3Body = {
  type: 'object', additionalProperties: false, required: ['version'],
  properties: { service: SERVICE, version: { type: 'integer', minimum: 1, maximum: 2 ** 31 - 1 }, reason: REASON },
} as const;
const replaceBody = {
  ...shadowBody,
  properties: { ...shadowBody.properties, reason: REASON },
} as const;
const lineageModel = {
  type: 'object', additionalProperties: false, required: ['l1', 'state', 'currentL2', 'l2Versions', 'services'],
  properties: {
    l1: { type: 'object', additionalProperties: false, properties: { plugin: { type: 'string' }, keyRef: { type: 'string' }, keyVersion: { type: 'string' } } },
    state: { type: 'string' }, currentL2: { type: 'integer' }, l2Versions: { type: 'array', items: { type: 'integer' } },
    services: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, properties: { service: { type: 'string' }, current: { type: 'integer' }, versions: { type: 'array', items: { type: 'integer' } } } },
    },
  },
} as const;

export const registerRotationRoutes: RegisterRoutes = (r, ctx) => {
  const { deps, gov } = ctx;
  const port = (): RotationPort => {
    if (deps.rotation === undefined) throw new ApiError('NOT_CONFIGURED', 'this node has no key hierarchy (krypton) to rotate');
    return deps.rotation;
  };
  const noLineage = (id: string): ApiError => new ApiError('NOT_FOUND', `tenant ${id} has no key hierarchy yet (it is created on first KMIP use or at L1 registration)`);

  r.get<{ Params: TenantParams }>('/v1/tenants/:id/keys', {
    schema: { summary: "The tenant's key lineage: L1 reference, L2 and L3 versions (never key material)", tags: ['keys'], params: tenantParams, response: { 200: lineageModel, ...errorResponses(404, 501) } },
    config: { action: 'TenantRead' },
  }, async (req) => {
    await mustTenant(gov, req.params.id);
    const v = await port().describe(req.params.id);
    if (v === undefined) throw noLineage(req.params.id);
    return v;
  });

  r.post<{ Params: TenantParams; Body: { reason?: string } | undefined }>('/v1/tenants/:id/keys/rotate-l2', {
    schema: { summary: 'Rotate L2: a new version wrapped by L1, every L3 re-sealed under it', tags: ['keys'], params: tenantParams, body: rotateL2Body, response: { 200: { type: 'object', properties: { tenant: { type: 'string' }, l2Version: { type: 'integer' } } }, ...errorResponses(404, 409, 424, 501) } },
    config: { action: 'TenantRotate' },
    preValidation: emptyBodyAsObject,
  }, async (req) => {
    const tenant = req.params.id;
    await mustTenant(gov, tenant);
    const version = await port().rotateL2(tenant);
    await gov.recordAudit(tenant, actorOf(req), 'keys.rotate-l2', { l2Version: version, reason: req.body?.reason ?? '' });
    return { tenant, l2Version: version };
  });

  r.post<{ Params: TenantParams; Body: { service?: string; reason?: string } | undefined }>('/v1/tenants/:id/keys/rotate-l3', {
    schema: { summary: 'Rotate L3 of a service: a new current version; older versions stay readable until dropped', tags: ['keys'], params: tenantParams, body: rotateL3Body, response: { 200: { type: 'object', properties: { tenant: { type: 'string' }, service: { type: 'string' }, l3Version: { type: 'integer' } } }, ...errorResponses(404, 409, 424, 501) } },
    config: { action: 'TenantRotate' },
    preValidation: emptyBodyAsObject,
  }, async (req) => {
    const tenant = req.params.id;
    const service = req.body?.service ?? DEFAULT_ROTATION_SERVICE;
    await mustTenant(gov, tenant);
    const version = await port().rotateL3(tenant, service);
    await gov.recordAudit(tenant, actorOf(req), 'keys.rotate-l3', { service, l3Version: version, reason: req.body?.reason ?? '' });
    return { tenant, service, l3Version: version };
  });

  r.post<{ Params: TenantParams; Body: { service?: string; version: number; reason?: string } }>('/v1/tenants/:id/keys/drop-l3', {
    schema: { summary: 'Crypto-shred depth 2: drop an L3 version; every DEK sealed under it becomes unreadable', tags: ['keys'], params: tenantParams, body: dropL3Body, response: { 200: { type: 'object', properties: { tenant: { type: 'string' }, service: { type: 'string' }, dropped: { type: 'integer' } } }, ...errorResponses(404, 409, 501) } },
    config: { action: 'TenantRotate' },
  }, async (req) => {
    const tenant = req.params.id;
    const service = req.body.service ?? DEFAULT_ROTATION_SERVICE;
    await mustTenant(gov, tenant);
    await port().dropL3Version(tenant, service, req.body.version);
    await gov.recordAudit(tenant, actorOf(req), 'keys.drop-l3', { service, l3Version: req.body.version, reason: req.body.reason ?? '' });
    return { tenant, service, dropped: req.body.version };
  });

  r.post<{ Params: TenantParams; Body: ShadowReference & { reason?: string } }>('/v1/tenants/:id/keystore/replace', {
    schema: {
      summary: 'Replace L1: check the new key, prove the old one still unwraps, re-wrap L2 under the new one (four-eyes when configured)', tags: ['keystore'],
      params: tenantParams, body: replaceBody, response: { 200: tenantModel, 202: pendingApprovalResponse, ...errorResponses(404, 409, 424, 501) },
    },
    config: { action: 'TenantRotate' },
  }, async (req, reply) => {
    const tenant = req.params.id;
    const actor = actorOf(req);
    const reason = req.body.reason ?? 'admin';
    const params = { plugin: req.body.plugin, keyRef: req.body.keyRef, keyVersion: req.body.keyVersion };
    await mustTenant(gov, tenant);
    port();
    if (deps.fourEyes?.actions.includes('replace-l1') === true) return requestFourEyes(ctx, reply, { tenant, action: 'replace-l1', reason, actor, params });
    try {
      return tenantJson(await ctx.execute('replace-l1', tenant, actor, reason, params));
    } catch (e) {
      // A refused replacement is audited too: who tried to move the tenant to which key, and why it did not happen.
      const ae = toApiError(e);
      await gov.recordAudit(tenant, actor, 'l1.replace', { ok: false, plugin: params.plugin, keyRef: params.keyRef, code: ae.code }).catch(() => undefined);
      throw e;
    }
  });
};
