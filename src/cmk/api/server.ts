/**
 * The admin REST API (ARCHITECTURE §6 "Admin surface"; docs/governance.md "Admin API"): fastify with a JSON
 * schema on every route, an OpenAPI 3 document generated from those schemas and served by the API itself
 * (GET /openapi.json), one error catalog (./errors.ts), admin authentication by client certificate or OIDC
 * bearer token (./auth.ts), authorization by role table or Cedar policy engine (./authz.ts), four-eyes
 * approval of the kill-switch and of termination, health/readiness probes and Prometheus metrics.
 *
 * The API changes governance state only through the repository (src/cmk/repository/), which writes the
 * audit record in the same transaction and NOTIFYs `openkcm_tenant`; krypton reacts to that notification
 * (src/krypton/revocation-listener.ts). When krypton runs in this process the composition root also injects
 * `killSwitch` so a revoke takes effect locally without waiting for the notification round trip.
 */
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import fastify from 'fastify';
import type { FastifyError } from 'fastify';
import swagger from '@fastify/swagger';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { HandshakeGuard } from '../../common/tls/handshake-guard.js';
import { ADMIN_CONNECTIONS_CHECK_INTERVAL_MS, resolveAdminLimits } from './limits.js';
import { createAuthenticator } from './auth.js';
import { roleAllows, roleTableAuthorizer } from './authz.js';
import { actionRunner } from './actions.js';
import { MAX_REQUIRED_APPROVALS } from './deps.js';
import type { AdminApi, AdminApiDeps, AdminPolicyEngine, FourEyesConfig } from './deps.js';
import { ApiError, errorBody, toApiError } from './errors.js';
import { PolicyEngine } from '../authz/engine.js';
import { governancePort, isGovernance } from './governance-port.js';
import { AdminMetrics } from './metrics.js';
import { policyEngineAdapter } from './policy-engine.js';
import { APPROVABLE_ACTIONS } from './ports.js';
import type { GovernancePort } from './ports.js';
import type { AdminRouteContext, RegisterRoutes, TenantParams } from './route-context.js';
import { ADMIN_BODY_LIMIT_BYTES } from './schemas.js';
import { registerApprovalRoutes } from './approval-routes.js';
import { registerAuditRoutes } from './audit-routes.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerKeystoreRoutes } from './keystore-routes.js';
import { registerNodeSecretRoutes } from './node-secret-routes.js';
import { registerPolicyRoutes } from './policy-routes.js';
import { registerRotationRoutes } from './rotation-routes.js';
import { registerTenantRoutes } from './tenant-routes.js';

export { DEFAULT_APPROVAL_TTL_MS, MAX_REQUIRED_APPROVALS } from './deps.js';
export type { AdminApi, AdminApiDeps, AdminPolicyEngine, AdminTls, FourEyesConfig } from './deps.js';

/**
 * The route modules, in registration order (the OpenAPI document lists them so). A new module is one import and
 * one line here: `(r, ctx) => void` (./route-context.ts RegisterRoutes).
 */
const ROUTES: readonly RegisterRoutes[] = [
  registerHealthRoutes,
  registerTenantRoutes,
  registerKeystoreRoutes,
  registerNodeSecretRoutes,
  registerPolicyRoutes,
  registerApprovalRoutes,
  registerAuditRoutes,
  registerRotationRoutes,
];

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

  const ctx: AdminRouteContext = { deps, gov, engine, authorizer, metrics, log, execute: actionRunner(deps, gov) };
  void app.register((r, _opts, done) => {
    for (const register of ROUTES) register(r, ctx);
    done();
  });
  if (deps.extraRoutes !== undefined) {
    const extra = deps.extraRoutes;
    void app.register((r, _opts, done) => {
      extra(r, { authenticate: (req) => authenticator.authenticate(req) });
      done();
    });
  }

  return app;
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
