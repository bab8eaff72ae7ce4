/**
 * Cedar on the KMIP path (ARCHITECTURE §4 "authz (client identity from cert → tenant; Cedar
 * decision)"; issue 5 deliverable 2). Two checks per batch item:
 *
 * 1. operation level — ProcessorDeps.authorize (src/server/processor.ts), before the payload is
 *    decoded: principal = the Client, action = the operation, resource = the client's Tenant.
 *    Refuses what a client may never do in its tenant (a reader's Destroy) before any work;
 * 2. object level — OperationServices.authorizeObject, called by loadObject
 *    (src/operations/model/context.ts), through which every operation that names a Unique
 *    Identifier reads its object: resource = the ManagedObject with its attributes (type,
 *    groups, state after date transitions, algorithm, owner).
 *
 * A deny is KMIP Permission Denied (KmipError PERMISSION_DENIED, KMIP 1.4 §11.1 / 2.1 §11.46);
 * the batch item fails, the connection stays up.
 *
 * Wiring (the server composition root, src/appliance/kmip-app.ts):
 *   const engine = new PolicyEngine();
 *   const authz = kmipAuthorizer(engine, { rolesOf: rolesFromConfig(parseIdentityRoles(raw.identity)) });
 *   deps.authorize = composeGates(sealed, tenantState, authz.authorize);   // src/server/gates.ts
 *   createServices({ ..., authorizeObject: authz.authorizeObject });
 *   // governance NOTIFY on a policy change: await engine.refreshTenant(tenant, loadPolicyText)
 *
 * Where roles come from: the identity configuration, next to the identity → tenant map
 * (src/config/identity.ts), a proposed optional section
 *   "identity": { "roles": { "CN-or-URI": ["crypto-user"], ... }, "defaultRoles": ["admin"] }
 * parsed by {@link parseIdentityRoles}. Identities without an entry get `defaultRoles`, which
 * is ["admin"] when not configured: every client keeps full access to its own tenant, as before
 * Cedar, until the operator narrows it.
 */
import { KmipError } from '../../kmip/errors.js';
import { CryptographicAlgorithm, ObjectType, Operation, State } from '../../kmip/registry.generated.js';
import type { KmipVersion } from '../../kmip/registry.generated.js';
import type { ManagedObjectRecord } from '../../operations/model/store.js';
import type { Principal, RequestContext } from '../../operations/types.js';
import { ConfigError } from '../../common/config-error.js';
import { ItemType } from '@openkcm/ttlv';
import type { AuthzDecision, AuthzRequest, ClientPrincipal, ObjectResource, PolicyEngine, TenantResource } from './engine.js';
import type { KmipActionName } from './schema.js';

/** Roles of an identity the configuration does not list, unless configured otherwise. */
export const DEFAULT_CLIENT_ROLES: readonly string[] = Object.freeze(['admin']);

/**
 * Most roles one identity may have. Roles are part of every decision and of its memo key; a
 * configuration with thousands would slow every request of the client. 32 is far above need.
 */
export const MAX_ROLES_PER_IDENTITY = 32;

/** Longest role name, in characters (same reason: it is in every memo key). */
export const MAX_ROLE_NAME_LENGTH = 64;

const ROLE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** The proposed `identity.roles` / `identity.defaultRoles` settings. */
export interface IdentityRolesConfig {
  /** Identity (certificate CN or SAN URI) → roles. */
  readonly roles: Readonly<Record<string, readonly string[]>>;
  /** Roles of identities not in `roles` (default DEFAULT_CLIENT_ROLES). */
  readonly defaultRoles?: readonly string[];
}

function checkRoles(where: string, v: unknown): string[] {
  if (!Array.isArray(v)) throw new ConfigError(`${where} must be an array of role names`);
  if (v.length > MAX_ROLES_PER_IDENTITY) throw new ConfigError(`${where} has ${String(v.length)} roles; at most ${String(MAX_ROLES_PER_IDENTITY)} are allowed`);
  const out: string[] = [];
  for (const r of v as unknown[]) {
    if (typeof r !== 'string' || r.length > MAX_ROLE_NAME_LENGTH || !ROLE_NAME_PATTERN.test(r)) {
      throw new ConfigError(`${where}: ${JSON.stringify(r)} is not a role name (${ROLE_NAME_PATTERN.source}, at most ${String(MAX_ROLE_NAME_LENGTH)} characters)`);
    }
    if (!out.includes(r)) out.push(r);
  }
  return out;
}

/**
 * Reads `roles` and `defaultRoles` from the config file's `identity` section (other keys of the
 * section are the identity module's and are ignored here). Throws ConfigError naming the field.
 */
export function parseIdentityRoles(section: Readonly<Record<string, unknown>> | undefined): IdentityRolesConfig {
  const raw = section?.roles;
  const roles: Record<string, readonly string[]> = {};
  if (raw !== undefined) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('identity.roles must be an object of identity → role names');
    for (const [who, list] of Object.entries(raw as Record<string, unknown>)) {
      roles[who] = Object.freeze(checkRoles(`identity.roles[${JSON.stringify(who)}]`, list));
    }
  }
  const dflt = section?.defaultRoles;
  return dflt === undefined ? { roles } : { roles, defaultRoles: Object.freeze(checkRoles('identity.defaultRoles', dflt)) };
}

/** `rolesOf` for kmipAuthorizer from the identity configuration. */
export function rolesFromConfig(cfg: IdentityRolesConfig): (principal: Principal) => readonly string[] {
  const dflt = cfg.defaultRoles ?? DEFAULT_CLIENT_ROLES;
  return (p) => (Object.hasOwn(cfg.roles, p.identity) ? cfg.roles[p.identity] : undefined) ?? dflt;
}

export interface KmipAuthorizerOptions {
  /** Roles of a client (default: DEFAULT_CLIENT_ROLES for everyone). Asked once per connection principal. */
  readonly rolesOf?: (principal: Principal) => readonly string[];
  /** The identity that created an object, when the store records one ("" otherwise). */
  readonly ownerOf?: (rec: ManagedObjectRecord) => string | undefined;
  /** Every deny, for the log / audit trail (never throws into the request). */
  readonly onDeny?: (event: KmipDenyEvent) => void;
}

export interface KmipDenyEvent {
  readonly identity: string;
  readonly tenant: string;
  readonly action: string;
  /** Unique Identifier for an object-level deny. */
  readonly uid?: string;
  readonly decision: AuthzDecision;
}

export interface KmipAuthorizer {
  /** ProcessorDeps.authorize: operation level, resource = the client's Tenant. */
  readonly authorize: (principal: Principal, operation: number, version: KmipVersion) => void;
  /** OperationServices.authorizeObject: object level, resource = the ManagedObject. */
  readonly authorizeObject: (ctx: RequestContext, rec: ManagedObjectRecord) => void;
}

function reverse(e: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  return new Map(Object.entries(e).map(([name, value]) => [value, name]));
}

const ACTION_OF = reverse(Operation) as ReadonlyMap<number, KmipActionName>;
const OBJECT_TYPE_NAME = reverse(ObjectType);
const STATE_NAME = reverse(State);
const ALGORITHM_NAME = reverse(CryptographicAlgorithm);

/** The Cedar action of an Operation enumeration value (undefined for values outside the enumeration). */
export function actionOfOperation(operation: number): KmipActionName | undefined {
  return ACTION_OF.get(operation);
}

/** The ManagedObject resource of a stored record (enumerations by registry name, "" when absent). */
export function objectResource(tenant: string, rec: ManagedObjectRecord, owner = ''): ObjectResource {
  let state = '';
  let algorithm = '';
  const groups: string[] = [];
  for (const a of rec.attributes) {
    const v = a.value;
    if (a.name === 'State' && v.type === ItemType.Enumeration) state = STATE_NAME.get(v.value) ?? `0x${v.value.toString(16)}`;
    else if (a.name === 'Cryptographic Algorithm' && v.type === ItemType.Enumeration) algorithm = ALGORITHM_NAME.get(v.value) ?? `0x${v.value.toString(16)}`;
    else if (a.name === 'Object Group' && v.type === ItemType.TextString) groups.push(v.value);
  }
  return {
    type: 'ManagedObject',
    uid: rec.uid,
    tenant,
    objectType: OBJECT_TYPE_NAME.get(rec.objectType) ?? `0x${rec.objectType.toString(16)}`,
    group: groups[0] ?? '',
    groups,
    state,
    algorithm,
    owner,
  };
}

/**
 * The client decisions of `tenant` worth computing before the first request needs them (PolicyEngine.warm): for
 * each role set, every KMIP action on the tenant, then on each class of object the tenant's policies can tell apart
 * (PolicyEngine.warmableClasses). Yields nothing when the policies decide per identity or per object.
 */
export function* warmRequests(engine: PolicyEngine, tenant: string, roleSets: Iterable<readonly string[]>): Generator<AuthzRequest> {
  const classes = engine.warmableClasses(tenant);
  if (classes === undefined) return;
  const sets = [...roleSets];
  const actions = [...ACTION_OF.values()];
  for (const roles of sets) {
    const principal: ClientPrincipal = { type: 'Client', id: '(warm-up)', tenant, roles };
    for (const action of actions) yield { principal, action, resource: { type: 'Tenant', id: tenant } };
  }
  const attrs = classes.objectAttributes;
  if (attrs === undefined) return;
  const values = (a: 'state' | 'objectType' | 'algorithm'): string[] => (attrs.includes(a)
    ? ['', ...(a === 'state' ? STATE_NAME : a === 'objectType' ? OBJECT_TYPE_NAME : ALGORITHM_NAME).values()]
    : ['']);
  for (const roles of sets) {
    const principal: ClientPrincipal = { type: 'Client', id: '(warm-up)', tenant, roles };
    for (const state of values('state')) {
      for (const objectType of values('objectType')) {
        for (const algorithm of values('algorithm')) {
          const resource: ObjectResource = { type: 'ManagedObject', uid: '(warm-up)', tenant, objectType, group: '', groups: [], state, algorithm, owner: '' };
          for (const action of actions) yield { principal, action, resource };
        }
      }
    }
  }
}

/** Builds the two KMIP hooks over `engine`. */
export function kmipAuthorizer(engine: PolicyEngine, opts: KmipAuthorizerOptions = {}): KmipAuthorizer {
  const rolesOf = opts.rolesOf ?? ((): readonly string[] => DEFAULT_CLIENT_ROLES);
  // A connection keeps one Principal object; its Cedar principal and tenant resource are built once.
  const principals = new WeakMap<Principal, { client: ClientPrincipal; tenant: TenantResource }>();
  const entitiesOf = (p: Principal): { client: ClientPrincipal; tenant: TenantResource } => {
    let e = principals.get(p);
    if (e === undefined) {
      e = {
        client: { type: 'Client', id: p.identity, tenant: p.tenant, roles: Object.freeze([...rolesOf(p)]) },
        tenant: { type: 'Tenant', id: p.tenant },
      };
      principals.set(p, e);
    }
    return e;
  };
  const refuse = (p: Principal, action: string, decision: AuthzDecision, uid?: string): never => {
    if (opts.onDeny !== undefined) {
      try {
        opts.onDeny({ identity: p.identity, tenant: p.tenant, action, decision, ...(uid === undefined ? {} : { uid }) });
      } catch {
        // An audit hook failure must not turn a deny into something else.
      }
    }
    const what = uid === undefined ? `'${action}'` : `'${action}' on object '${uid}'`;
    throw new KmipError('PERMISSION_DENIED', `${what} is not permitted for this client`);
  };

  return {
    authorize(principal: Principal, operation: number): void {
      const action = ACTION_OF.get(operation);
      const { client, tenant } = entitiesOf(principal);
      if (action === undefined) {
        return refuse(principal, `0x${operation.toString(16)}`, { allowed: false, reasons: [], errors: ['not an Operation enumeration value'] });
      }
      const d = engine.isAuthorized({ principal: client, action, resource: tenant });
      if (!d.allowed) refuse(principal, action, d);
    },
    authorizeObject(ctx: RequestContext, rec: ManagedObjectRecord): void {
      const action = ctx.operation === undefined ? undefined : ACTION_OF.get(ctx.operation);
      if (action === undefined) {
        // Fail closed: a load outside a known operation cannot be decided.
        return refuse(ctx.principal, 'unknown operation', { allowed: false, reasons: [], errors: ['no operation in the request context'] }, rec.uid);
      }
      const { client } = entitiesOf(ctx.principal);
      const owner = opts.ownerOf?.(rec) ?? '';
      const d = engine.isAuthorized({ principal: client, action, resource: objectResource(ctx.principal.tenant, rec, owner) });
      if (!d.allowed) refuse(ctx.principal, action, d, rec.uid);
    },
  };
}
