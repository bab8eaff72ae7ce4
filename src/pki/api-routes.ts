/**
 * The admin API routes of client enrolment and the certificate lifecycle (issue 18), registered beside the
 * governance routes (src/cmk/api/server.ts `extraRoutes`) and driven by `openkcm client|admin|identity`:
 *
 *   POST /v1/clients                 {name, tenant, csr?, days?, sans?}   sign a CSR, or make the key pair
 *   GET  /v1/clients[?tenant=T]      list;   GET /v1/clients/:name   one, with its certificate
 *   POST /v1/clients/:name/revoke    {reason?}                            refused on every node within seconds
 *   POST /v1/admins                  {name, role, tenant?, csr?, days?}   an admin certificate from the admin CA
 *   GET  /v1/admins;                 POST /v1/admins/:name/revoke
 *   GET  /v1/identities[?tenant=T];  POST /v1/identities {identity, tenant};  POST /v1/identities/unmap {identity}
 *   GET  /v1/pki/crl[?format=pem]    the client CA's CRL, DER (application/pkix-crl) or PEM; public, like any CRL
 *
 * Who may do what: `admin` issues; `admin` and `security-officer` revoke; every role reads. A tenant admin (an
 * admin certificate issued with `--tenant T`) acts on tenant T only. `openkcm admin issue` is refused for a role
 * above the caller's (src/pki/registry.ts ADMIN_ROLE_RANK), and a tenant admin issues tenant admins of its own
 * tenant only. Every change is audited by the registry in the tenant's chain.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../cmk/api/errors.js';
import type { AdminApi } from '../cmk/api/server.js';
import type { AdminPrincipal } from '../cmk/api/ports.js';
import { CsrError, MAX_CLIENT_DAYS, MAX_SANS, crlPem, parseSan } from './enrol.js';
import { ADMIN_ROLE_RANK, MAX_IDENTITY_LENGTH, MAX_REASON_LENGTH, RegistryError } from './registry.js';
import type { CertRecord, IdentityMapping, PkiRegistry } from './registry.js';

export interface PkiRoutesDeps {
  readonly registry: PkiRegistry;
  /** Registers (or reads) a governed tenant; null when it is not one (the governance plane's register). */
  readonly ensureTenant: (tenant: string) => Promise<string | null>;
}

type Permission = 'issue' | 'revoke' | 'read';

const PERMISSIONS: Readonly<Record<Permission, readonly string[]>> = {
  issue: ['admin'],
  revoke: ['admin', 'security-officer'],
  read: ['admin', 'security-officer', 'auditor', 'operator'],
};

const NAME = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } as const;
const TENANT = NAME;
const nameParams = { type: 'object', additionalProperties: false, required: ['name'], properties: { name: NAME } } as const;
const reasonBody = { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: MAX_REASON_LENGTH } } } as const;
const tenantQuery = { type: 'object', additionalProperties: false, properties: { tenant: TENANT } } as const;
const CSR = { type: 'string', minLength: 1, maxLength: 48 * 1024 } as const;
const DAYS = { type: 'integer', minimum: 1, maximum: MAX_CLIENT_DAYS } as const;

function fail(e: unknown): never {
  if (e instanceof CsrError) throw new ApiError('INVALID_REQUEST', e.message);
  if (e instanceof RegistryError) {
    switch (e.code) {
      case 'INVALID': throw new ApiError('INVALID_REQUEST', e.message);
      case 'CONFLICT': throw new ApiError('CONFLICT', e.message);
      case 'NOT_FOUND': throw new ApiError('NOT_FOUND', e.message);
      case 'NOT_CONFIGURED': throw new ApiError('NOT_CONFIGURED', e.message);
    }
  }
  throw e;
}

function certJson(c: CertRecord, withCert: boolean): Record<string, unknown> {
  return {
    name: c.name, kind: c.kind, identity: c.identity, serial: c.serial, notAfter: c.notAfter.toISOString(),
    issuedBy: c.issuedBy, issuedAt: c.issuedAt.toISOString(), state: c.revokedAt === undefined ? (c.notAfter.getTime() < Date.now() ? 'expired' : 'active') : 'revoked',
    ...(c.tenant === undefined ? {} : { tenant: c.tenant }),
    ...(c.role === undefined ? {} : { role: c.role }),
    ...(c.revokedAt === undefined ? {} : { revokedAt: c.revokedAt.toISOString(), revokedBy: c.revokedBy, reason: c.revokeReason }),
    ...(withCert ? { certificate: c.certPem } : {}),
  };
}

function identityJson(m: IdentityMapping): Record<string, unknown> {
  return { identity: m.identity, tenant: m.tenant, createdBy: m.createdBy, createdAt: m.createdAt.toISOString() };
}

/** Registers the routes (see the module comment) on the admin API. */
export function pkiRoutes(deps: PkiRoutesDeps): (app: AdminApi, ctx: { authenticate(req: FastifyRequest): Promise<AdminPrincipal> }) => void {
  const { registry } = deps;
  return (app, ctx) => {
    const who = async (req: FastifyRequest, permission: Permission, tenant: string | undefined): Promise<AdminPrincipal> => {
      const p = await ctx.authenticate(req);
      if (!p.roles.some((r) => PERMISSIONS[permission].includes(r))) throw new ApiError('FORBIDDEN', `${p.identity} may not ${permission} certificates`);
      if (p.tenant !== undefined && tenant !== p.tenant) throw new ApiError('FORBIDDEN', `${p.identity} administers tenant ${p.tenant} only`);
      return p;
    };
    const governed = async (tenant: string): Promise<void> => {
      const state = await deps.ensureTenant(tenant);
      if (state === null) throw new ApiError('NOT_FOUND', `no governed tenant ${tenant} (create it with \`openkcm tenant create ${tenant}\`)`);
      if (state === 'terminated') throw new ApiError('CONFLICT', `tenant ${tenant} is terminated`);
    };
    const mustShow = async (name: string, kind: 'client' | 'admin'): Promise<CertRecord> => {
      const c = await registry.show(name);
      if (c?.kind !== kind) throw new ApiError('NOT_FOUND', `no ${kind} certificate named ${name}`);
      return c;
    };
    // Revoking a client or an admin certificate: the same route but for the kind (its body, a reason, is optional).
    const revokeRoute = (route: string, kind: 'client' | 'admin', tag: string, summary: string): void => {
      app.post<{ Params: { name: string }; Body: { reason?: string } | undefined }>(route, {
        schema: { summary, tags: [tag], params: nameParams, body: reasonBody },
        preValidation: (req: FastifyRequest, _reply: FastifyReply, done: () => void) => { if (req.body === undefined || req.body === null) req.body = {}; done(); },
      }, async (req) => {
        const c = await mustShow(req.params.name, kind);
        const p = await who(req, 'revoke', c.tenant);
        try {
          return certJson(await registry.revoke(c.name, p.identity, req.body?.reason ?? 'revoked by an admin'), false);
        } catch (e) {
          return fail(e);
        }
      });
    };

    // ---- clients ----------------------------------------------------------------------------------------------
    app.post<{ Body: { name: string; tenant: string; csr?: string; days?: number; sans?: string[] } }>('/v1/clients', {
      schema: {
        summary: 'Enrol a KMIP client: sign its CSR (or make its key pair) with the appliance CA and map it to a tenant', tags: ['clients'],
        body: {
          type: 'object', additionalProperties: false, required: ['name', 'tenant'],
          properties: { name: NAME, tenant: TENANT, csr: CSR, days: DAYS, sans: { type: 'array', maxItems: MAX_SANS, items: { type: 'string', minLength: 1, maxLength: 512 } } },
        },
      },
    }, async (req, reply) => {
      const actor = await who(req, 'issue', req.body.tenant);
      await governed(req.body.tenant);
      try {
        const sans = (req.body.sans ?? []).map(parseSan);
        const out = await registry.issueClient({
          name: req.body.name, tenant: req.body.tenant, actor: actor.identity, sans,
          ...(req.body.csr === undefined ? {} : { csr: req.body.csr }), ...(req.body.days === undefined ? {} : { days: req.body.days }),
        });
        return await reply.code(201).send({ ...certJson(out.record, true), ...(out.keyPem === undefined ? {} : { key: out.keyPem }) });
      } catch (e) {
        return fail(e);
      }
    });

    app.get<{ Querystring: { tenant?: string } }>('/v1/clients', { schema: { summary: 'List enrolled clients', tags: ['clients'], querystring: tenantQuery } }, async (req) => {
      const p = await who(req, 'read', req.query.tenant ?? (await ctx.authenticate(req)).tenant);
      return { clients: registry.list({ kind: 'client', tenant: req.query.tenant ?? p.tenant }).map((c) => certJson(c, false)) };
    });

    app.get<{ Params: { name: string } }>('/v1/clients/:name', { schema: { summary: 'One client, with its certificate', tags: ['clients'], params: nameParams } }, async (req) => {
      const c = await mustShow(req.params.name, 'client');
      await who(req, 'read', c.tenant);
      return certJson(c, true);
    });

    revokeRoute('/v1/clients/:name/revoke', 'client', 'clients', 'Revoke a client certificate: new handshakes are refused and open connections closed on every node');

    // ---- admins -----------------------------------------------------------------------------------------------
    app.post<{ Body: { name: string; role: string; tenant?: string; csr?: string; days?: number } }>('/v1/admins', {
      schema: {
        summary: 'Issue an admin certificate from the admin CA (for a second four-eyes approver); never above the caller\'s role', tags: ['admins'],
        body: {
          type: 'object', additionalProperties: false, required: ['name', 'role'],
          properties: { name: NAME, role: { type: 'string', enum: Object.keys(ADMIN_ROLE_RANK) }, tenant: TENANT, csr: CSR, days: DAYS },
        },
      },
    }, async (req, reply) => {
      const p = await ctx.authenticate(req);
      if (!p.roles.some((r) => PERMISSIONS.revoke.includes(r))) throw new ApiError('FORBIDDEN', `${p.identity} may not issue admin certificates`);
      const callerRank = Math.max(0, ...p.roles.map((r) => ADMIN_ROLE_RANK[r] ?? 0));
      const wanted = ADMIN_ROLE_RANK[req.body.role] ?? Number.POSITIVE_INFINITY;
      if (wanted > callerRank) throw new ApiError('FORBIDDEN', `${p.identity} may not issue role ${req.body.role}: it is above the caller's own role`);
      // A tenant admin issues admins of its own tenant only (a platform-wide admin would be above its scope).
      if (p.tenant !== undefined && req.body.tenant !== p.tenant) throw new ApiError('FORBIDDEN', `${p.identity} may issue admins of tenant ${p.tenant} only (--tenant ${p.tenant})`);
      if (req.body.tenant !== undefined) await governed(req.body.tenant);
      try {
        const out = await registry.issueAdmin({
          name: req.body.name, role: req.body.role, actor: p.identity,
          ...(req.body.tenant === undefined ? {} : { tenant: req.body.tenant }),
          ...(req.body.csr === undefined ? {} : { csr: req.body.csr }), ...(req.body.days === undefined ? {} : { days: req.body.days }),
        });
        return await reply.code(201).send({ ...certJson(out.record, true), ...(out.keyPem === undefined ? {} : { key: out.keyPem }) });
      } catch (e) {
        return fail(e);
      }
    });

    app.get('/v1/admins', { schema: { summary: 'List issued admin certificates', tags: ['admins'] } }, async (req) => {
      const p = await who(req, 'read', (await ctx.authenticate(req)).tenant);
      return { admins: registry.list({ kind: 'admin', ...(p.tenant === undefined ? {} : { tenant: p.tenant }) }).map((c) => certJson(c, false)) };
    });

    revokeRoute('/v1/admins/:name/revoke', 'admin', 'admins', 'Revoke an admin certificate');

    // ---- identity map -----------------------------------------------------------------------------------------
    app.get<{ Querystring: { tenant?: string } }>('/v1/identities', { schema: { summary: 'The run-time identity → tenant map', tags: ['identities'], querystring: tenantQuery } }, async (req) => {
      const p = await who(req, 'read', req.query.tenant ?? (await ctx.authenticate(req)).tenant);
      return { identities: registry.identities(req.query.tenant ?? p.tenant).map(identityJson) };
    });

    const identityBody = { type: 'object', additionalProperties: false, required: ['identity'], properties: { identity: { type: 'string', minLength: 1, maxLength: MAX_IDENTITY_LENGTH }, tenant: TENANT } } as const;
    app.post<{ Body: { identity: string; tenant?: string } }>('/v1/identities', {
      schema: { summary: 'Map an identity (CN, SAN URI, SPIFFE ID) to a tenant; applied on every node without a restart', tags: ['identities'], body: identityBody },
    }, async (req) => {
      const tenant = req.body.tenant;
      if (tenant === undefined) throw new ApiError('INVALID_REQUEST', 'tenant is required');
      const p = await who(req, 'issue', tenant);
      await governed(tenant);
      try {
        return identityJson(await registry.mapIdentity(req.body.identity, tenant, p.identity));
      } catch (e) {
        return fail(e);
      }
    });

    app.post<{ Body: { identity: string } }>('/v1/identities/unmap', {
      schema: { summary: 'Remove a run-time mapping; connections it admitted are closed', tags: ['identities'], body: identityBody },
    }, async (req) => {
      const m = registry.identities().find((x) => x.identity === req.body.identity);
      if (m === undefined) throw new ApiError('NOT_FOUND', `identity ${req.body.identity} is not mapped at run time`);
      const p = await who(req, 'issue', m.tenant);
      try {
        return identityJson(await registry.unmapIdentity(req.body.identity, p.identity));
      } catch (e) {
        return fail(e);
      }
    });

    // ---- CRL (public: relying parties fetch it without credentials, RFC 5280 §5) --------------------------------
    app.get<{ Querystring: { format?: 'der' | 'pem' } }>('/v1/pki/crl', {
      schema: { summary: "The client CA's certificate revocation list (DER, or PEM with ?format=pem)", tags: ['pki'], security: [], querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['der', 'pem'] } } } },
    }, async (req, reply) => {
      const der = registry.crl();
      if (der === undefined) throw new ApiError('NOT_CONFIGURED', 'this node holds no client CA key: the CRL comes from your own CA');
      const pem = req.query.format === 'pem' || (req.query.format === undefined && /application\/x-pem-file/.test(req.headers.accept ?? ''));
      return pem ? reply.type('application/x-pem-file').send(crlPem(der)) : reply.type('application/pkix-crl').send(Buffer.from(der));
    });
  };
}
