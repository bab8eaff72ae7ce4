/**
 * The admin REST API (ARCHITECTURE §6 "Admin surface"; docs/governance.md "Admin API"): fastify with a JSON
 * schema on every route, an OpenAPI 3 document generated from those schemas and served by the API itself
 * (GET /openapi.json), one error catalog (./errors.ts), admin authentication by client certificate or OIDC
 * bearer token (./auth.ts), authorization by role table or Cedar policy engine (./authz.ts), four-eyes
 * approval of the kill-switch and of termination, health/readiness probes and Prometheus metrics.
 *
 * The API changes governance state only through the repository (src/cmk/repository.ts), which writes the
 * audit record in the same transaction and NOTIFYs `openkcm_tenant`; krypton reacts to that notification
 * (src/krypton/revocation-listener.ts). When krypton runs in this process the composition root also injects
 * `killSwitch` so a revoke takes effect locally without waiting for the notification round trip.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { Registry } from 'prom-client';
import type { ShadowReference } from '../../keystore/types.js';
import type { Logger } from '../../common/log.js';
import { HandshakeGuard } from '../../common/tls/handshake-guard.js';
import { ADMIN_CONNECTIONS_CHECK_INTERVAL_MS, resolveAdminLimits } from './limits.js';
import type { AdminLimits } from './limits.js';
import { createAuthenticator } from './auth.js';
import type { AdminAuthConfig, AdminDirectory } from './auth.js';
import { roleAllows, roleTableAuthorizer } from './authz.js';
import { registerGlobalAuditRoutes } from './audit-routes.js';
import { registerRotationRoutes, shadowFromParams } from './rotation-routes.js';
import { ApiError, errorBody, l1FailureCode, toApiError } from './errors.js';
import { PolicyEngine } from '../authz/engine.js';
import { checkShadowReference } from '../repository.js';
import type { Governance } from '../repository.js';
import { governancePort, isGovernance } from './governance-port.js';
import { AdminMetrics } from './metrics.js';
import { policyEngineAdapter } from './policy-engine.js';
import { checkPolicyComplexity } from './policy-guard.js';
import { APPROVABLE_ACTIONS } from './ports.js';
export type { AdminPolicyEngine, FourEyesConfig } from './ports.js';
import type {
  AdminAction, AdminPrincipal, ApprovableAction, ApprovalView, BindL1, GovernancePort, KillSwitchPort, NodeSecretsPort,
  MasterKeyStatusFn, PolicyView, RotationPort, TenantView, ValidateShadow, AdminPolicyEngine, FourEyesConfig,
} from './ports.js';
import {
  ADMIN_BODY_LIMIT_BYTES, DEFAULT_AUDIT_PAGE, approvalModel, approvalParams, approvalsQuery, auditPageModel, auditQuery,
  auditVerifyModel, createTenantBody, errorResponses, healthModel, listTenantsQuery, pendingApprovalResponse, policyBody,
  policyModel, policyParams, reasonBody, shadowBody, tenantModel, tenantParams,
} from './schemas.js';

/** How long a four-eyes request waits for its approvals; a stale request must not be completed days later. */
export const DEFAULT_APPROVAL_TTL_MS = 60 * 60 * 1000;
/** Bounds on the configured number of approvers (beyond the requester). */
export const MAX_REQUIRED_APPROVALS = 5;
/** Longest actor string handed to the repository (its PRINCIPAL_MAX). */
const MAX_ACTOR_LENGTH = 256;

export interface AdminTls {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** Trust anchor(s) for admin client certificates. */
  readonly ca?: string | Buffer;
}

export interface AdminApiDeps {
  /** The repository (adapted by ./governance-port.ts) or anything implementing the port. */
  readonly governance: Governance | GovernancePort;
  /** Cedar engine (H7's PolicyEngine, adapted by ./policy-engine.ts, or an adapter): decides admin actions and
   *  validates policy text. Without it: the role table, and policies are checked by the repository only. */
  readonly policyEngine?: PolicyEngine | AdminPolicyEngine;
  /** krypton.offboard: crypto-shred for terminate (needed only with a Governance; a port handles it itself). */
  readonly cryptoShred?: (tenant: string) => Promise<void>;
  /** Runs the keystore plugin's health() for a shadow reference (never unwrap). */
  readonly validateShadow?: ValidateShadow;
  /** Binds a validated L1 to the tenant's keys in krypton (onboard or re-wrap); absent: recorded only. */
  readonly bindL1?: BindL1;
  /** The node's secrets (write-only routes /v1/node/secrets); absent: those routes answer 501. */
  readonly nodeSecrets?: NodeSecretsPort;
  /** krypton on this node (immediate local effect); the NOTIFY listener covers the other nodes. */
  readonly killSwitch?: KillSwitchPort;
  readonly masterKeyStatus?: MasterKeyStatusFn;
  readonly auth: AdminAuthConfig;
  readonly fourEyes?: FourEyesConfig;
  readonly metrics?: { readonly registries?: readonly Registry[] };
  readonly logger?: Logger;
  /** Serve HTTPS (required for client-certificate authentication). Without it: plain HTTP, for inject() tests. */
  readonly tls?: AdminTls;
  /** Connection limits of the listener (./limits.ts); absent ones take their defaults. */
  readonly limits?: Partial<AdminLimits>;
  /** Admins issued at run time (issue 18, src/pki/registry.ts): roles and tenant scope of their identities. */
  readonly adminDirectory?: AdminDirectory;
  /**
   * More routes (issue 18: clients, admins, identities, the CRL; src/pki/api-routes.ts), registered beside these
   * with the same error handling. Routes without `config.action` authenticate through `authenticate` themselves.
   */
  readonly extraRoutes?: (app: AdminApi, ctx: { authenticate(req: FastifyRequest): Promise<AdminPrincipal> }) => void;
  /** L2/L3 rotation, L3 drop and L1 replacement (./rotation-routes.ts). Without it: those routes answer 501. */
  readonly rotation?: RotationPort;
}

export type AdminApi = FastifyInstance<Server | HttpsServer, IncomingMessage, ServerResponse>;

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
  interface FastifyContextConfig {
    /** The action this route performs; absent = public route (health, OpenAPI). */
    action?: AdminAction;
  }
}

interface TenantParams { id: string }

/** Routes whose JSON body is optional (`{reason}`): an absent body is validated as `{}`. */
function emptyBodyAsObject(req: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  if (req.body === undefined || req.body === null) req.body = {};
  done();
}
interface PolicyParams { id: string; name: string }
interface ReasonBody { reason?: string }

function tenantJson(t: TenantView): Record<string, unknown> {
  return {
    id: t.id, state: t.state, createdAt: t.createdAt.toISOString(),
    ...(t.description === undefined ? {} : { description: t.description }),
    ...(t.stateReason === undefined ? {} : { stateReason: t.stateReason }),
    ...(t.stateChangedAt === undefined ? {} : { stateChangedAt: t.stateChangedAt.toISOString() }),
    ...(t.shadow === undefined ? {} : { shadow: { plugin: t.shadow.plugin, keyRef: t.shadow.keyRef, keyVersion: t.shadow.keyVersion } }),
  };
}

function approvalJson(a: ApprovalView): Record<string, unknown> {
  return {
    id: a.id, tenant: a.tenant, action: a.action, requestedBy: a.requestedBy, approvers: [...a.approvers],
    required: a.required, needed: Math.max(0, a.required - a.approvers.length), status: a.status,
    expiresAt: a.expiresAt.toISOString(), ...(a.reason === undefined || a.reason === '' ? {} : { reason: a.reason }),
    ...(a.params === undefined ? {} : { params: a.params }),
  };
}

function policyJson(p: PolicyView): Record<string, unknown> {
  return { tenant: p.tenant, name: p.name, policy: p.policy, ...(p.updatedAt === undefined ? {} : { updatedAt: p.updatedAt.toISOString() }) };
}

const APPROVAL_ACTION_TO_ADMIN: Readonly<Record<ApprovableAction, AdminAction>> = {
  revoke: 'TenantRevoke', restore: 'TenantRestore', terminate: 'TenantTerminate', suspend: 'TenantSuspend', resume: 'TenantResume',
  'replace-l1': 'TenantRotate',
};

function checkFourEyes(cfg: FourEyesConfig | undefined): void {
  if (cfg === undefined) return;
  if (!Number.isInteger(cfg.approvals) || cfg.approvals < 1 || cfg.approvals > MAX_REQUIRED_APPROVALS) {
    throw new RangeError(`fourEyes.approvals must be an integer 1..${MAX_REQUIRED_APPROVALS}`);
  }
  for (const a of cfg.actions) if (!(APPROVABLE_ACTIONS as readonly string[]).includes(a)) throw new RangeError(`fourEyes.actions: unknown action ${a}`);
}

/** Builds the admin API (not listening). `await app.ready()` or `app.inject()` to use it; {@link startAdminApi} listens. */
export function buildAdminApi(deps: AdminApiDeps): AdminApi {
  checkFourEyes(deps.fourEyes);
  const gov: GovernancePort = isGovernance(deps.governance)
    ? governancePort(deps.governance, deps.cryptoShred === undefined ? {} : { cryptoShred: deps.cryptoShred })
    : deps.governance;
  const engine: AdminPolicyEngine | undefined = deps.policyEngine instanceof PolicyEngine
    ? policyEngineAdapter(deps.policyEngine, isGovernance(deps.governance) ? deps.governance : undefined)
    : deps.policyEngine;
  const authenticator = createAuthenticator(deps.auth, deps.adminDirectory);
  const authorizer = engine?.authorizer ?? roleTableAuthorizer;
  const metrics = new AdminMetrics({
    tenantsByState: () => gov.countByState(),
    ...(deps.metrics?.registries === undefined ? {} : { registries: deps.metrics.registries }),
  });
  const log = deps.logger;
  const limits = resolveAdminLimits(deps.limits, 'adminApi.limits');
  // Issue 15 item 7: the same protections as the KMIP listener. headersTimeout bounds a connection that sends no
  // complete request headers, silent ones included (Node checks it every connectionsCheckingInterval);
  // connectionTimeout is the socket inactivity backstop.
  const httpOptions = { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: ADMIN_CONNECTIONS_CHECK_INTERVAL_MS };

  const app = fastify({
    bodyLimit: ADMIN_BODY_LIMIT_BYTES,
    logger: false,
    // Reject (not strip) unknown properties, no type coercion: what does not match the schema is a 400.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    ...(deps.tls === undefined ? { http: httpOptions } : {
      https: {
        ...httpOptions,
        // Node's default is 120 s, which let idle sockets hold the listener (issue 15 item 7).
        handshakeTimeout: limits.handshakeTimeoutMs,
        key: deps.tls.key, cert: deps.tls.cert,
        ...(deps.tls.ca === undefined ? {} : { ca: deps.tls.ca }),
        // Ask for a certificate but let bearer-token clients without one connect; the auth hook decides
        // (socket.authorized is true only for a chain verified against `ca`).
        requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' as const,
      },
    }),
  }) as unknown as AdminApi;
  app.server.maxConnections = limits.maxConnections;
  if (deps.tls !== undefined) {
    // fastify created an https.Server, which is a tls.Server: anonymous (pre-handshake) connections get their own
    // budget, oldest evicted (src/common/tls/handshake-guard.ts), so idle sockets cannot fill maxConnections.
    const server = app.server as unknown as TlsServer;
    // One log line per 10 s at most under a flood, with the count since the last one.
    const evictions = { loggedAt: 0, unlogged: 0 };
    new HandshakeGuard(server, { maxHandshaking: limits.maxHandshakingConnections, maxHandshakingPerAddress: limits.maxHandshakingPerAddress },
      (reason, address) => {
        evictions.unlogged++;
        if (Date.now() - evictions.loggedAt < 10_000) return;
        log?.warn('admin api: pending TLS handshakes closed to make room', { reason, remote: address, evicted: evictions.unlogged });
        evictions.loggedAt = Date.now();
        evictions.unlogged = 0;
      });
    // https.Server hands handshake errors to fastify's clientError handler, which leaves a reset socket alone:
    // a failed handshake must always free its slot.
    server.on('tlsClientError', (_err: Error, socket: TLSSocket) => { socket.destroy(); });
  }

  // OpenAPI 3.1's `mutualTLS` security scheme is not in the openapi-types union @fastify/swagger uses: the document
  // is built here and typed as the plugin's option at the one place it is handed over.
  const openapi = {
    openapi: '3.1.0',
    info: {
      title: 'OpenKCM admin API',
      version: '1',
      description: 'Governance plane of OpenKCM: tenants, L1 shadow references, policies, kill-switch, four-eyes approvals, audit. See docs/governance.md.',
    },
    components: {
      securitySchemes: {
        adminCertificate: { type: 'mutualTLS', description: 'Admin client certificate issued by the admin CA; roles from configuration' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'OIDC access token (iss, aud, exp checked); roles from a configured claim' },
      },
    },
    security: [{ adminCertificate: [] }, { bearer: [] }],
  };
  void app.register(swagger, { openapi: openapi as unknown as NonNullable<FastifyDynamicSwaggerOptions['openapi']> });

  app.decorateRequest('admin', undefined);
  // Node secret values (PUT /v1/node/secrets/:name) arrive as raw bytes, so they can be wiped after use (a JSON
  // string could not be); bounded like every admin body.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: ADMIN_BODY_LIMIT_BYTES }, (_req, body, done) => { done(null, body); });

  app.addHook('onRequest', async (req) => {
    const action = req.routeOptions.config.action;
    if (action === undefined) return;
    req.admin = await authenticator.authenticate(req);
  });

  app.addHook('preHandler', async (req) => {
    const action = req.routeOptions.config.action;
    if (action === undefined) return;
    const principal = req.admin;
    if (principal === undefined) throw new ApiError('UNAUTHENTICATED', 'not authenticated');
    const params = req.params as Partial<TenantParams> | undefined;
    const tenant = typeof params?.id === 'string' && req.routeOptions.url?.startsWith('/v1/tenants/') === true ? params.id : undefined;
    // A tenant admin (issue 18) acts on its own tenant only; routes about no one tenant (list, create, approvals,
    // metrics) are platform actions.
    if (principal.tenant !== undefined && tenant !== principal.tenant) throw new ApiError('FORBIDDEN', `${principal.identity} administers tenant ${principal.tenant} only`);
    // HealthRead is not a Cedar action: the role table decides it.
    const allowed = action === 'HealthRead' ? roleAllows(principal.roles, action) : await authorizer.isAuthorized(principal, action, tenant);
    if (!allowed) throw new ApiError('FORBIDDEN', `${principal.identity} may not ${action}`);
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const e = fromFastifyError(err);
    if (e.code === 'INTERNAL') log?.error('admin api: unexpected error', { route: req.routeOptions.url ?? 'unmatched', method: req.method, errName: err.name, errMessage: err.message });
    return reply.code(e.status).type('application/json').send(errorBody(e));
  });

  app.setNotFoundHandler(async (_req, reply) => reply.code(404).send(errorBody(new ApiError('NOT_FOUND', 'no such route'))));

  void app.register((r, _opts, done) => {
    // ---- public ------------------------------------------------------------------------------------
    r.get('/openapi.json', { schema: { hide: true } }, (_req, reply) => reply.send(app.swagger()));

    r.get('/healthz', { schema: { summary: 'Liveness: the process answers', tags: ['health'], security: [], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
      (_req, reply) => reply.send({ status: 'ok' }));

    r.get('/readyz', {
      schema: {
        summary: 'Readiness: database reachable and MasterKey unsealed (503 otherwise)', tags: ['health'], security: [],
        response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, 503: { type: 'object', properties: { status: { type: 'string', enum: ['sealed', 'db-unreachable'] } } } },
      },
    }, async (_req, reply) => {
      const mk = deps.masterKeyStatus?.();
      if (mk !== undefined && mk.sealed) return reply.code(503).send({ status: 'sealed' });
      try {
        await gov.ping();
      } catch {
        return reply.code(503).send({ status: 'db-unreachable' });
      }
      return { status: 'ready' };
    });

    r.get('/metrics', { schema: { summary: 'Prometheus exposition', tags: ['health'] }, config: { action: 'HealthRead' } }, async (_req, reply) => {
      const text = await metrics.exposition();
      return reply.type(metrics.contentType).send(text);
    });

    // ---- tenants -----------------------------------------------------------------------------------
    r.post<{ Body: { id: string; description?: string } }>('/v1/tenants', {
      schema: { summary: 'Create (onboard) a tenant', tags: ['tenants'], body: createTenantBody, response: { 201: tenantModel, ...errorResponses(409) } },
      config: { action: 'TenantCreate' },
    }, async (req, reply) => {
      const t = await gov.createTenant(req.body.id, actorOf(req), req.body.description);
      return reply.code(201).send(tenantJson(t));
    });

    r.get<{ Querystring: { state?: string; limit?: string } }>('/v1/tenants', {
      schema: { summary: 'List tenants', tags: ['tenants'], querystring: listTenantsQuery, response: { 200: { type: 'object', additionalProperties: false, required: ['tenants'], properties: { tenants: { type: 'array', items: tenantModel } } }, ...errorResponses() } },
      config: { action: 'TenantList' },
    }, async (req) => {
      const list = await gov.listTenants({ limit: Number(req.query.limit ?? '100'), ...(req.query.state === undefined ? {} : { state: req.query.state }) });
      return { tenants: list.map(tenantJson) };
    });

    r.get<{ Params: TenantParams }>('/v1/tenants/:id', {
      schema: { summary: 'One tenant', tags: ['tenants'], params: tenantParams, response: { 200: tenantModel, ...errorResponses(404) } },
      config: { action: 'TenantRead' },
    }, async (req) => tenantJson(await mustTenant(gov, req.params.id)));

    const approvable = (action: ApprovableAction, summary: string, adminAction: AdminAction): void => {
      r.post<{ Params: TenantParams; Body: ReasonBody | undefined }>(`/v1/tenants/:id/${action}`, {
        schema: {
          summary, tags: ['kill-switch'], params: tenantParams, body: reasonBody,
          response: { 200: tenantModel, 202: pendingApprovalResponse, ...errorResponses(404, 409, 424) },
        },
        config: { action: adminAction },
        preValidation: emptyBodyAsObject,
      }, async (req, reply) => {
        const tenant = req.params.id;
        const reason = req.body?.reason ?? 'admin';
        const actor = actorOf(req);
        if (deps.fourEyes?.actions.includes(action) === true) {
          await mustTenant(gov, tenant);
          const a = await gov.requestApproval({ tenant, action, reason, requestedBy: actor, required: deps.fourEyes.approvals, ttlMs: deps.fourEyes.ttlMs ?? DEFAULT_APPROVAL_TTL_MS });
          const body = approvalJson(a);
          return reply.code(202).send({ approvalId: a.id, needed: body.needed, approval: body });
        }
        return tenantJson(await execute(action, tenant, actor, reason));
      });
    };
    approvable('revoke', 'Kill-switch: revoke a tenant (its L2/L3 are zeroised; KMIP answers Permission Denied)', 'TenantRevoke');
    approvable('restore', 'Undo a revoke when L1 is healthy again', 'TenantRestore');
    approvable('terminate', 'Terminate (offboard) a tenant: irreversible', 'TenantTerminate');
    // Issue 16 item 5: suspend is under four-eyes like revoke, and a suspended tenant can be resumed.
    approvable('suspend', 'Suspend a tenant (KMIP refused; keys kept)', 'TenantSuspend');
    approvable('resume', 'Resume a suspended tenant (KMIP served again)', 'TenantResume');

    // ---- L1 shadow reference ----------------------------------------------------------------------
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

    // ---- node secrets (issue 16 item 1): platform admins store PINs and credentials, never read them back -------
    const secretParams = {
      type: 'object', additionalProperties: false, required: ['name'],
      // The node secret alphabet (src/krypton/master-key.ts NODE_SECRET_NAME_PATTERN): names become file names.
      properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } },
    } as const;
    const secretsPort = (): NodeSecretsPort => {
      if (deps.nodeSecrets === undefined) throw new ApiError('NOT_CONFIGURED', 'this node has no secret store wired to the admin API');
      return deps.nodeSecrets;
    };
    r.get('/v1/node/secrets', {
      schema: {
        summary: "The node's secrets: names, sizes and times only (values are never returned)", tags: ['node'],
        response: { 200: { type: 'object', additionalProperties: false, required: ['secrets'], properties: { secrets: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['name', 'bytes', 'modifiedAt'], properties: { name: { type: 'string' }, bytes: { type: 'integer' }, modifiedAt: { type: 'string' } } } } } }, ...errorResponses(501, 503) },
      },
      config: { action: 'NodeSecretWrite' },
    }, () => ({ secrets: secretsPort().list().map((e) => ({ name: e.name, bytes: e.bytes, modifiedAt: e.modifiedAt.toISOString() })) }));

    r.put<{ Params: { name: string } }>('/v1/node/secrets/:name', {
      schema: { summary: 'Store (or replace) a node secret: the body is the value, application/octet-stream; write-only', tags: ['node'], params: secretParams, response: { 204: { type: 'null' }, ...errorResponses(415, 501, 503) } },
      config: { action: 'NodeSecretWrite' },
    }, async (req, reply) => {
      const value = req.body;
      if (!Buffer.isBuffer(value)) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the secret value as application/octet-stream');
      try {
        if (value.length === 0) throw new ApiError('INVALID_REQUEST', 'the secret value is empty');
        await secretsPort().put(req.params.name, value, actorOf(req));
      } finally {
        value.fill(0);
      }
      return reply.code(204).send();
    });

    r.delete<{ Params: { name: string } }>('/v1/node/secrets/:name', {
      schema: { summary: 'Delete a node secret (its file is overwritten, then removed)', tags: ['node'], params: secretParams, response: { 204: { type: 'null' }, ...errorResponses(404, 501, 503) } },
      config: { action: 'NodeSecretWrite' },
    }, async (req, reply) => {
      if (!await secretsPort().delete(req.params.name, actorOf(req))) throw new ApiError('NOT_FOUND', `no node secret named ${req.params.name}`);
      return reply.code(204).send();
    });

    // ---- policies ----------------------------------------------------------------------------------
    r.get<{ Params: TenantParams }>('/v1/tenants/:id/policies', {
      schema: { summary: "List a tenant's policies", tags: ['policies'], params: tenantParams, response: { 200: { type: 'object', additionalProperties: false, required: ['policies'], properties: { policies: { type: 'array', items: policyModel } } }, ...errorResponses(404) } },
      config: { action: 'PolicyRead' },
    }, async (req) => ({ policies: (await gov.listPolicies(req.params.id)).map(policyJson) }));

    r.put<{ Params: PolicyParams; Body: { policy: string } }>('/v1/tenants/:id/policies/:name', {
      schema: { summary: 'Create or replace a Cedar policy (validated before it is stored)', tags: ['policies'], params: policyParams, body: policyBody, response: { 200: policyModel, ...errorResponses(404, 422) } },
      config: { action: 'PolicyPut' },
    }, async (req) => {
      const { id, name } = req.params;
      await mustTenant(gov, id);
      // Before ANY Cedar parse (here or later in the engine's refresh): text that would crash the wasm module.
      checkPolicyComplexity(req.body.policy);
      const validate = engine?.validatePolicy;
      if (validate !== undefined) {
        try {
          await validate(id, name, req.body.policy);
        } catch (e) {
          const ae = toApiError(e);
          // Any refusal by the engine is the policy's fault; its message names the parse/validation error.
          throw ae.code === 'INTERNAL' ? new ApiError('INVALID_POLICY', 'policy rejected by the policy engine', { cause: e }) : ae;
        }
      }
      const stored = await gov.putPolicy(id, name, req.body.policy, actorOf(req));
      await policiesChanged(id);
      return policyJson(stored);
    });

    r.get<{ Params: PolicyParams }>('/v1/tenants/:id/policies/:name', {
      schema: { summary: 'One policy', tags: ['policies'], params: policyParams, response: { 200: policyModel, ...errorResponses(404) } },
      config: { action: 'PolicyRead' },
    }, async (req) => {
      const p = await gov.getPolicy(req.params.id, req.params.name);
      if (p === undefined) throw new ApiError('NOT_FOUND', `no policy ${req.params.name} for tenant ${req.params.id}`);
      return policyJson(p);
    });

    r.delete<{ Params: PolicyParams }>('/v1/tenants/:id/policies/:name', {
      schema: { summary: 'Delete a policy', tags: ['policies'], params: policyParams, response: { 204: { type: 'null' }, ...errorResponses(404) } },
      config: { action: 'PolicyDelete' },
    }, async (req, reply) => {
      if (!await gov.deletePolicy(req.params.id, req.params.name, actorOf(req))) throw new ApiError('NOT_FOUND', `no policy ${req.params.name} for tenant ${req.params.id}`);
      await policiesChanged(req.params.id);
      return reply.code(204).send();
    });

    // ---- approvals (four-eyes) ---------------------------------------------------------------------
    r.get<{ Querystring: { tenant?: string } }>('/v1/approvals', {
      schema: { summary: 'Pending and recent approvals', tags: ['approvals'], querystring: approvalsQuery, response: { 200: { type: 'object', additionalProperties: false, required: ['approvals'], properties: { approvals: { type: 'array', items: approvalModel } } }, ...errorResponses() } },
      config: { action: 'TenantList' },
    }, async (req) => ({ approvals: (await gov.listApprovals(req.query.tenant)).map(approvalJson) }));

    r.get<{ Params: { id: string } }>('/v1/approvals/:id', {
      schema: { summary: 'One approval', tags: ['approvals'], params: approvalParams, response: { 200: approvalModel, ...errorResponses(404) } },
      config: { action: 'TenantList' },
    }, async (req) => {
      const a = await gov.getApproval(req.params.id);
      if (a === undefined) throw new ApiError('NOT_FOUND', `no approval ${req.params.id}`);
      return approvalJson(a);
    });

    r.post<{ Params: { id: string } }>('/v1/approvals/:id/approve', {
      schema: {
        summary: 'Approve a pending action (by an admin other than the requester); executes it when enough approved', tags: ['approvals'], params: approvalParams,
        response: { 200: { type: 'object', additionalProperties: false, required: ['approval', 'executed'], properties: { approval: approvalModel, executed: { type: 'boolean' }, tenant: tenantModel } }, ...errorResponses(404, 409, 424) },
      },
      config: { action: 'ApprovalGrant' },
    }, async (req) => {
      const principal = req.admin;
      if (principal === undefined) throw new ApiError('UNAUTHENTICATED', 'not authenticated');
      const pending = await gov.getApproval(req.params.id);
      if (pending === undefined) throw new ApiError('NOT_FOUND', `no approval ${req.params.id}`);
      // An approver must also be allowed to perform the action itself (a security officer cannot approve a
      // termination only admins may perform).
      if (!await authorizer.isAuthorized(principal, APPROVAL_ACTION_TO_ADMIN[pending.action], pending.tenant)) {
        throw new ApiError('FORBIDDEN', `${principal.identity} may not approve ${pending.action}`);
      }
      const a = await gov.approve(pending.id, principal.identity);
      if (a.status !== 'approved') return { approval: approvalJson(a), executed: false };
      // Only the vote that completed the request sees `approved` (the repository flips the state under a row
      // lock), so of two concurrent final approvals exactly one executes.
      const actor = `${a.requestedBy} (approved by ${a.approvers.join(', ')})`.slice(0, MAX_ACTOR_LENGTH);
      let t: TenantView;
      try {
        t = await execute(a.action, a.tenant, actor, a.reason ?? 'approved', a.params);
      } catch (e) {
        const ae = toApiError(e);
        log?.warn('approved action failed', { approval: a.id, action: a.action, tenant: a.tenant, errCode: ae.code });
        // Terminate drops the tenant schema holding the approval: nothing left to update then.
        await gov.completeApproval(a.id, 'failed', ae.code).catch(() => undefined);
        throw e;
      }
      const done = a.action === 'terminate' ? { ...a, status: 'executed' as const } : await gov.completeApproval(a.id, 'executed');
      return { approval: approvalJson(done), executed: true, tenant: tenantJson(t) };
    });

    // ---- audit -------------------------------------------------------------------------------------
    r.get<{ Params: TenantParams; Querystring: { from?: string; limit?: string } }>('/v1/tenants/:id/audit', {
      schema: { summary: "A page of the tenant's audit trail", tags: ['audit'], params: tenantParams, querystring: auditQuery, response: { 200: auditPageModel, ...errorResponses(404) } },
      config: { action: 'AuditRead' },
    }, async (req) => {
      const limit = Number(req.query.limit ?? String(DEFAULT_AUDIT_PAGE));
      if (limit > 1000) throw new ApiError('INVALID_REQUEST', 'limit must be at most 1000');
      const page = await gov.readAudit(req.params.id, Number(req.query.from ?? '1'), limit);
      return { records: page.records, ...(page.next === undefined ? {} : { next: page.next }) };
    });

    r.get<{ Params: TenantParams }>('/v1/tenants/:id/audit/export', {
      schema: { summary: 'The whole audit trail as JSON lines (application/x-ndjson)', tags: ['audit'], params: tenantParams, response: errorResponses(404) },
      config: { action: 'AuditExport' },
    }, async (req, reply) => {
      await mustTenant(gov, req.params.id);
      const lines: string[] = [];
      for await (const line of gov.exportAudit(req.params.id)) lines.push(line.endsWith('\n') ? line : `${line}\n`);
      return reply.type('application/x-ndjson').send(lines.join(''));
    });

    r.get<{ Params: TenantParams }>('/v1/tenants/:id/audit/verify', {
      schema: { summary: 'Verify the hash chain and HMACs; names the first broken link', tags: ['audit'], params: tenantParams, response: { 200: auditVerifyModel, ...errorResponses(404) } },
      config: { action: 'AuditVerify' },
    }, async (req) => {
      await mustTenant(gov, req.params.id);
      return gov.verifyAudit(req.params.id);
    });
    registerGlobalAuditRoutes(r, gov);
    registerRotationRoutes(r, {
      gov, rotation: deps.rotation, validateShadow: deps.validateShadow, fourEyes: deps.fourEyes, actorOf,
      approvalJson: (a) => approvalJson(a), tenantJson: (t) => tenantJson(t), execute: (tenant, actor, reason, params) => execute('replace-l1', tenant, actor, reason, params),
    });
    done();
  });
  if (deps.extraRoutes !== undefined) {
    const extra = deps.extraRoutes;
    void app.register((r, _opts, done) => {
      extra(r, { authenticate: (req) => authenticator.authenticate(req) });
      done();
    });
  }

  /** The change is committed; a failed engine refresh leaves the tenant fail-closed in the engine (logged). */
  async function policiesChanged(tenant: string): Promise<void> {
    if (engine?.policiesChanged === undefined) return;
    try {
      await engine.policiesChanged(tenant);
    } catch (e) {
      log?.error('policy engine refresh failed; the tenant is denied until the next refresh', { tenant, errMessage: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Runs an (approved or not-gated) kill-switch/termination action. */
  async function execute(action: ApprovableAction, tenant: string, actor: string, reason: string, params?: Readonly<Record<string, string>>): Promise<TenantView> {
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
  }

  return app;
}

function actorOf(req: FastifyRequest): string {
  const p = req.admin;
  if (p === undefined) throw new ApiError('UNAUTHENTICATED', 'not authenticated');
  return p.identity;
}

async function mustTenant(gov: GovernancePort, id: string): Promise<TenantView> {
  const t = await gov.getTenant(id);
  if (t === undefined) throw new ApiError('NOT_FOUND', `no tenant ${id}`);
  return t;
}

/** Fastify's own errors (validation, body size, media type, JSON syntax) → the catalog. */
function fromFastifyError(err: FastifyError): ApiError {
  if (err instanceof ApiError) return err;
  if (err.validation !== undefined) return new ApiError('INVALID_REQUEST', err.message);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return new ApiError('BODY_TOO_LARGE', `request body larger than ${ADMIN_BODY_LIMIT_BYTES} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'request bodies must be application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('INVALID_REQUEST', err.message);
    default: break;
  }
  // JSON syntax errors and prototype poisoning come with statusCode 400.
  if (err.statusCode === 400) return new ApiError('INVALID_REQUEST', 'malformed request body');
  if (err.statusCode === 413) return new ApiError('BODY_TOO_LARGE', `request body larger than ${ADMIN_BODY_LIMIT_BYTES} bytes`);
  if (err.statusCode === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'request bodies must be application/json');
  if (err.statusCode === 405) return new ApiError('METHOD_NOT_ALLOWED', 'method not allowed');
  return toApiError(err);
}

export interface AdminListen {
  readonly host: string;
  readonly port: number;
}

export interface RunningAdminApi {
  readonly app: AdminApi;
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

/** Builds and listens (HTTPS when `deps.tls` is given, which client-certificate authentication needs). */
export async function startAdminApi(deps: AdminApiDeps, listen: AdminListen): Promise<RunningAdminApi> {
  const app = buildAdminApi(deps);
  await app.listen({ host: listen.host, port: listen.port });
  const addr = app.server.address() as AddressInfo;
  deps.logger?.info('admin api listening', { host: addr.address, port: addr.port, tls: deps.tls !== undefined });
  return { app, address: { host: addr.address, port: addr.port }, close: () => app.close() };
}
