/**
 * The Cedar policy engine of OpenKCM (ARCHITECTURE §6; issue 5 deliverable 2): decides every
 * KMIP operation (src/cmk/authz/kmip.ts) and every admin action, with
 * `@cedar-policy/cedar-wasm` through its `/nodejs` entry point (the package root does not
 * load on Node 20).
 *
 * Policy sets: the platform defaults (./policies.ts, or the operator's replacement) and, per
 * tenant, the defaults plus that tenant's own policies. Each is validated against the schema
 * (./schema.ts, strict mode) when installed, parsed once and kept inside the wasm module
 * (`preparsePolicySet`); a decision (`statefulIsAuthorized`) names the set and ships only the
 * request and its three entities: principal, resource, and the action with its groups. The
 * schema is not consulted per decision (it costs ~40% of an evaluation); what its request
 * validation would catch — an action that does not exist or does not apply to the principal
 * or resource type — is checked here, and a unit test proves the entities built here parse
 * against the schema.
 *
 * - KMIP requests (principal Client) are decided by the set of the client's tenant.
 * - Admin requests (principal Admin) are decided by the platform defaults only: a tenant's
 *   policy must never grant a platform privilege (e.g. TenantTerminate of another tenant).
 *
 * Fail closed: a request Cedar cannot evaluate (an answer of type failure, an exception, or a
 * policy that errors during evaluation — Cedar would merely skip an erroring `forbid`) is
 * DENIED, with the errors in the decision. A tenant whose policies could not be (re)loaded is
 * denied everything until a refresh succeeds.
 *
 * Cost: one wasm call costs 70-300 µs, almost all of it converting the JavaScript request into
 * Rust values (measured by perf/cedar.bench.ts), far above the KMIP hot path budget. Decisions
 * are therefore memoised: the decision is a pure function of (policy set, principal entity,
 * action, resource entity), and the memo key contains every field of those entities, so a hit
 * is exactly the answer Cedar would give. Changing a tenant's policies gives its set a new
 * generation, which is part of the key, so no stale decision survives a policy change.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { policyComplexityProblem } from './policy-guard.js';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { CedarValueJson, DetailedError, EntityJson, StatefulAuthorizationCall, TypeAndId } from '@cedar-policy/cedar-wasm/nodejs';
import { TENANT_NAME_PATTERN } from '../../common/tenant-name.js';
import { DEFAULT_POLICIES_TEXT, DEFAULT_POLICY_ID_PREFIX } from './policies.js';
import { ACTION_PARENTS, CEDAR_SCHEMA_TEXT, ENTITY } from './schema.js';
import type { AdminActionName, KmipActionName } from './schema.js';

/**
 * Largest policy text a tenant may install, in UTF-8 bytes. Every policy of the set is
 * evaluated on every decision that misses the memo, and the set lives in the wasm heap for
 * the life of the process: a huge text would slow every request of the tenant and exhaust
 * memory (a tenant admin's denial of service against the node). 64 KiB is hundreds of policies.
 */
export const MAX_TENANT_POLICY_BYTES = 64 * 1024;

/**
 * Most memoised decisions kept (all tenants together); the oldest go first. Each distinct
 * (principal, action, object-with-attributes) adds one entry, so without a bound a client
 * cycling through objects and attribute values would grow the memo without limit (memory
 * exhaustion). 100,000 entries are roughly 30 MB at worst.
 */
export const MAX_DECISION_MEMO_ENTRIES = 100_000;

/**
 * Most memory the decision memo may hold, in bytes (keys as UTF-16 plus a fixed per-entry overhead). The entry cap
 * alone was not enough (issue 15): a key held every Object Group of the object, so a client with 15 groups of 60,000
 * characters made each entry ~1 MiB and ran a 384 MiB heap out of memory after 386 Add Attribute calls. Keys are now
 * short (see MAX_MEMO_KEY_CHARS) and the total is capped; past the cap the oldest quarter of the memo goes.
 */
export const MAX_DECISION_MEMO_BYTES = 16 * 1024 * 1024;

/**
 * Longest memo key kept as text; a longer canonical key is replaced by its SHA-256 digest, so no entry's key is
 * larger than this whatever the attribute values a client chooses (issue 15 Deliver 2: "decision-memo keys are
 * hashed"). Typical keys (action, roles, a state name) are far shorter and skip the hash.
 */
export const MAX_MEMO_KEY_CHARS = 160;

/** Bytes counted per memo entry besides its key: the Map slot and a share of the decision object. */
const MEMO_ENTRY_OVERHEAD_BYTES = 96;

/**
 * Most decisions one warm-up computes ({@link PolicyEngine.warm}); each costs 70-300 µs of wasm, so this bounds
 * the background work a policy change causes to under a second of CPU, spread over many event-loop turns.
 */
export const MAX_WARM_DECISIONS = 4_000;

/** Longest stretch of warm-up work in one event-loop turn. */
const WARM_SLICE_MS = 2;

export type PolicyErrorCode = 'INVALID_POLICY' | 'POLICY_TOO_LARGE' | 'INVALID_TENANT';

/** A policy text that cannot be accepted; `diagnostics` lists Cedar's findings, one per line. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  readonly code: PolicyErrorCode;
  readonly diagnostics: readonly string[];

  constructor(code: PolicyErrorCode, message: string, diagnostics: readonly string[] = []) {
    super(diagnostics.length === 0 ? message : `${message}:\n  ${diagnostics.join('\n  ')}`);
    this.code = code;
    this.diagnostics = diagnostics;
  }
}

/** A KMIP client (its tenant comes from the identity mapping, src/server/identity.ts). */
export interface ClientPrincipal {
  readonly type: 'Client';
  /** Certificate identity (CN or SAN URI). */
  readonly id: string;
  readonly tenant: string;
  readonly roles: readonly string[];
}

/** An admin-plane caller; without `tenant` a platform administrator. */
export interface AdminPrincipal {
  readonly type: 'Admin';
  readonly id: string;
  readonly tenant?: string;
  readonly roles: readonly string[];
}

export interface TenantResource {
  readonly type: 'Tenant';
  /** Tenant name, or PLATFORM_TENANT ("*") for actions on no single tenant. */
  readonly id: string;
}

/** A managed object with the attributes policies may test (schema.ts ManagedObject). */
export interface ObjectResource {
  readonly type: 'ManagedObject';
  readonly uid: string;
  readonly tenant: string;
  /** ObjectType enumeration name ("SymmetricKey"). */
  readonly objectType: string;
  /** First Object Group, "" when none. */
  readonly group: string;
  readonly groups: readonly string[];
  /** State enumeration name ("Active"), "" when none. */
  readonly state: string;
  /** CryptographicAlgorithm enumeration name ("AES"), "" when none. */
  readonly algorithm: string;
  /** Identity that created the object, "" when not recorded. */
  readonly owner: string;
}

export type AuthzRequest =
  | { readonly principal: ClientPrincipal; readonly action: KmipActionName; readonly resource: TenantResource | ObjectResource }
  | { readonly principal: AdminPrincipal; readonly action: AdminActionName; readonly resource: TenantResource };

export interface AuthzDecision {
  readonly allowed: boolean;
  /** Ids of the policies that determined the decision (Cedar diagnostics.reason). */
  readonly reasons: readonly string[];
  /** Why the request could not be evaluated (then `allowed` is false). */
  readonly errors: readonly string[];
}

export interface PolicyEngineOptions {
  /** Replaces the platform default policies (./policies.ts). Validated like tenant policies. */
  readonly defaultPolicies?: string;
  /** Memo bound (default MAX_DECISION_MEMO_ENTRIES); 0 disables memoisation. */
  readonly maxMemoEntries?: number;
  /** Memo bound in bytes (default MAX_DECISION_MEMO_BYTES). */
  readonly maxMemoBytes?: number;
}

export interface PolicyEngineStats {
  readonly memoHits: number;
  readonly memoMisses: number;
  readonly memoEntries: number;
  /** Bytes the memo accounts for ({@link MAX_DECISION_MEMO_BYTES}). */
  readonly memoBytes: number;
  readonly tenantsWithPolicies: number;
}

interface PolicySetState {
  /** Id of the preparsed set inside the wasm module (engine-unique, includes the generation). */
  readonly setId: string;
  /** Memo key prefix: changes with every new version of the set. */
  readonly memoPrefix: string;
  /** The tenant's own text (undefined for the defaults). */
  readonly text: string | undefined;
  /** Set when the tenant's policies could not be loaded: every decision is denied with these errors. */
  readonly broken?: readonly string[];
  /** What the set's decisions can depend on ({@link projectionOf}). */
  readonly projection: Projection;
}

/**
 * What the decisions of a policy set can depend on besides the action, the principal's type and roles and the
 * resource's type (issue 14: "cache per role and object class"). Found by walking the JSON form of every policy:
 * an attribute no policy reads or tests (`.` and `has`), and an entity no policy names by literal, cannot change a
 * decision, so the memo key leaves it out and every object of a class shares one decision. With the default
 * policies a KMIP decision depends on the action, the client's roles and the object's state only.
 *
 * - `principalId`: a Client literal appears (e.g. `principal == OpenKCM::Client::"bob"`).
 * - `tenant`: a Tenant literal or the Tenant `id` attribute appears. Otherwise the tenant's name cannot matter as
 *   long as the resource is in the principal's own tenant (the only case on the KMIP path: the vault is scoped by
 *   tenant), because `resource in principal.tenant` and friends relate the two without naming them.
 * - `resourceId`: a ManagedObject literal appears.
 * - `attrs`: every attribute name read or tested, of any entity.
 * - `full`: a policy could not be analysed; the key then holds every field (as before).
 */
interface Projection {
  readonly full: boolean;
  readonly principalId: boolean;
  readonly tenant: boolean;
  readonly resourceId: boolean;
  readonly attrs: ReadonlySet<string>;
}

const FULL_PROJECTION: Projection = Object.freeze({ full: true, principalId: true, tenant: true, resourceId: true, attrs: new Set<string>() });

/** Walks a policy's JSON form (Cedar EST) collecting attribute names and the types of entity literals. */
function collect(node: unknown, attrs: Set<string>, types: Set<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) collect(n, attrs, types);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const o = node as Record<string, unknown>;
  for (const op of ['.', 'has']) {
    const x = o[op];
    if (typeof x === 'object' && x !== null) {
      const attr = (x as { attr?: unknown }).attr;
      if (typeof attr === 'string') attrs.add(attr);
    }
  }
  const literal = o.__entity;
  if (typeof literal === 'object' && literal !== null) {
    const t = (literal as { type?: unknown }).type;
    if (typeof t === 'string') types.add(t);
  }
  // Scope constraints: `principal == E`, `resource in [E1, E2]`.
  const entity = o.entity;
  if (typeof entity === 'object' && entity !== null && typeof (entity as { type?: unknown }).type === 'string') {
    types.add((entity as { type: string }).type);
  }
  for (const v of Object.values(o)) collect(v, attrs, types);
}

/** The projection of a set of policies (id → text); FULL_PROJECTION when any policy does not analyse. */
function projectionOf(policies: Readonly<Record<string, string>>): Projection {
  const attrs = new Set<string>();
  const types = new Set<string>();
  for (const text of Object.values(policies)) {
    const json = cedar.policyToJson(text);
    if (json.type !== 'success') return FULL_PROJECTION;
    collect(json.json, attrs, types);
  }
  return Object.freeze({
    full: false,
    principalId: types.has(ENTITY.Client) || types.has(ENTITY.Admin),
    tenant: types.has(ENTITY.Tenant) || attrs.has('id'),
    resourceId: types.has(ENTITY.ManagedObject),
    attrs,
  });
}

/** Policies of a text keyed by id, and their positions for diagnostics. */
interface ParsedPolicies {
  readonly policies: Record<string, string>;
  readonly diagnostics: string[];
}

/** Preparsed ids live in one table per wasm instance (per process): each engine gets its own prefix. */
let engineSequence = 0;

const EMPTY_SET = { staticPolicies: {} };

function lineCol(text: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return `line ${String(line)}:${String(col)}`;
}

/** One diagnostic line: "[policy id] line L:C: message (help)". `base` is the part's offset in the whole text. */
function describe(e: DetailedError, text?: string, base = 0, policyId?: string): string {
  const where = text === undefined || e.sourceLocations === undefined || e.sourceLocations.length === 0
    ? ''
    : `${lineCol(text, base + (e.sourceLocations[0]?.start ?? 0))}: `;
  const label = e.sourceLocations?.[0]?.label;
  const help = e.help === null || e.help === '' ? '' : ` (${e.help})`;
  const detail = label === null || label === undefined ? '' : ` — ${label}`;
  return `${policyId === undefined ? '' : `${policyId}: `}${where}${e.message}${detail}${help}`;
}

/** Splits a policy text into policies keyed by `@id` (or `<prefix>policy<n>`), reporting what is not acceptable. */
function splitPolicies(text: string, prefix: string, reserved: ReadonlySet<string>): ParsedPolicies & { offsets: Map<string, number> } {
  const diagnostics: string[] = [];
  const policies: Record<string, string> = {};
  const offsets = new Map<string, number>();
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') {
    for (const e of parts.errors) diagnostics.push(describe(e, text));
    return { policies, diagnostics, offsets };
  }
  if (parts.policy_templates.length > 0) {
    diagnostics.push(`policy templates (?principal / ?resource slots) are not supported: ${String(parts.policy_templates.length)} found`);
  }
  let searchFrom = 0;
  parts.policies.forEach((p, i) => {
    const at = text.indexOf(p, searchFrom);
    const offset = at < 0 ? 0 : at;
    if (at >= 0) searchFrom = at + p.length;
    const json = cedar.policyToJson(p);
    const annotated = json.type === 'success' ? json.json.annotations?.id : undefined;
    const id = annotated === undefined ? `${prefix}policy${String(i)}` : (annotated.startsWith(prefix) ? annotated : `${prefix}${annotated}`);
    if (reserved.has(id) || Object.hasOwn(policies, id)) {
      diagnostics.push(`${lineCol(text, offset)}: duplicate policy id "${id}"`);
      return;
    }
    policies[id] = p;
    offsets.set(id, offset);
  });
  return { policies, diagnostics, offsets };
}

/** Length-prefixed concatenation: unambiguous whatever the strings contain (identities are free text). */
function k(s: string): string {
  return `${String(s.length)}:${s}`;
}

function tenantUid(id: string): TypeAndId {
  return { type: ENTITY.Tenant, id };
}

export class PolicyEngine {
  readonly #prefix: string;
  readonly #maxMemo: number;
  readonly #maxMemoBytes: number;
  /** Default policies keyed by id (platform set, and the base of every tenant set). */
  readonly #defaults: Readonly<Record<string, string>>;
  readonly #defaultsState: PolicySetState;
  readonly #tenants = new Map<string, PolicySetState>();
  readonly #memo = new Map<string, AuthzDecision>();
  /** Bytes the memo holds ({@link MAX_DECISION_MEMO_BYTES}). */
  #memoBytes = 0;
  #generation = 0;
  #hits = 0;
  #misses = 0;
  #closed = false;

  /**
   * Parses the schema and the default policies into the wasm module. Throws PolicyError when the
   * defaults do not validate against the schema.
   */
  constructor(opts: PolicyEngineOptions = {}) {
    this.#prefix = `openkcm${String(++engineSequence)}`;
    this.#maxMemo = opts.maxMemoEntries ?? MAX_DECISION_MEMO_ENTRIES;
    this.#maxMemoBytes = opts.maxMemoBytes ?? MAX_DECISION_MEMO_BYTES;
    const schema = cedar.checkParseSchema(CEDAR_SCHEMA_TEXT);
    if (schema.type === 'failure') throw new PolicyError('INVALID_POLICY', 'the OpenKCM Cedar schema does not parse', schema.errors.map((e) => describe(e)));
    const text = opts.defaultPolicies ?? DEFAULT_POLICIES_TEXT;
    const parsed = PolicyEngine.#parseAndValidate(text, DEFAULT_POLICY_ID_PREFIX, new Set());
    if (parsed.diagnostics.length > 0) throw new PolicyError('INVALID_POLICY', 'the default policies are not valid', parsed.diagnostics);
    this.#defaults = Object.freeze(parsed.policies);
    this.#defaultsState = this.#install('defaults', this.#defaults, undefined);
  }

  /**
   * Checks a tenant policy text without installing it (the admin API's PolicyPut calls this
   * before storing). Returns the diagnostics; empty means acceptable.
   */
  validateTenantPolicies(text: string): string[] {
    if (Buffer.byteLength(text, 'utf8') > MAX_TENANT_POLICY_BYTES) {
      return [`the policy text is ${String(Buffer.byteLength(text, 'utf8'))} bytes; at most ${String(MAX_TENANT_POLICY_BYTES)} are accepted`];
    }
    // Before Cedar sees it: deeply nested text traps the wasm module and breaks every later decision.
    const tooComplex = policyComplexityProblem(text);
    if (tooComplex !== undefined) return [tooComplex];
    return PolicyEngine.#parseAndValidate(text, 'tenant.', new Set(Object.keys(this.#defaults))).diagnostics;
  }

  /**
   * Installs `text` as the tenant's own policies, on top of the defaults. The previous version
   * stays in force when the text is refused (PolicyError with Cedar's diagnostics).
   */
  setTenantPolicies(tenant: string, text: string): void {
    this.#checkOpen();
    checkTenant(tenant);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_TENANT_POLICY_BYTES) {
      throw new PolicyError('POLICY_TOO_LARGE', `the policies of tenant "${tenant}" are ${String(bytes)} bytes; at most ${String(MAX_TENANT_POLICY_BYTES)} are accepted`);
    }
    const tooComplex = policyComplexityProblem(text);
    if (tooComplex !== undefined) throw new PolicyError('INVALID_POLICY', `the policies of tenant "${tenant}" are not valid`, [tooComplex]);
    const parsed = PolicyEngine.#parseAndValidate(text, 'tenant.', new Set(Object.keys(this.#defaults)));
    if (parsed.diagnostics.length > 0) throw new PolicyError('INVALID_POLICY', `the policies of tenant "${tenant}" are not valid`, parsed.diagnostics);
    this.#tenants.set(tenant, this.#install(`tenant/${tenant}`, Object.assign({}, this.#defaults, parsed.policies), text));
  }

  /** The tenant's own policy text, when it has one. */
  tenantPolicies(tenant: string): string | undefined {
    return this.#tenants.get(tenant)?.text;
  }

  /** Drops the tenant's own policies: its clients are decided by the defaults again. */
  removeTenant(tenant: string): void {
    const state = this.#tenants.get(tenant);
    if (state === undefined) return;
    this.#tenants.delete(tenant);
    cedar.preparsePolicySet(state.setId, EMPTY_SET);
  }

  /**
   * Refresh hook for the governance plane (Postgres NOTIFY on a policy change, H6/H8): loads
   * the tenant's current text (undefined = none) and installs it. When loading fails or the
   * stored text is refused, the tenant FAILS CLOSED — every decision for it is denied until a
   * later refresh succeeds — because the policies in force may be the ones the change revoked.
   * The error is rethrown for the caller to log.
   */
  async refreshTenant(tenant: string, load: (tenant: string) => Promise<string | undefined>): Promise<void> {
    this.#checkOpen();
    checkTenant(tenant);
    try {
      const text = await load(tenant);
      if (text === undefined) this.removeTenant(tenant);
      else this.setTenantPolicies(tenant, text);
    } catch (e) {
      const previous = this.#tenants.get(tenant);
      if (previous !== undefined) cedar.preparsePolicySet(previous.setId, EMPTY_SET);
      const reason = e instanceof Error ? e.message : String(e);
      this.#tenants.set(tenant, {
        setId: `${this.#prefix}/broken/${tenant}`,
        memoPrefix: `${String(++this.#generation)}|`,
        text: previous?.text,
        broken: [`the policies of tenant "${tenant}" could not be refreshed: ${reason}`],
        projection: FULL_PROJECTION,
      });
      throw e;
    }
  }

  /** The decision for one request. Never throws: anything that goes wrong is a deny with errors. */
  isAuthorized(req: AuthzRequest): AuthzDecision {
    try {
      if (this.#closed) return deny(['the policy engine is closed']);
      const state = req.principal.type === 'Client' ? (this.#tenants.get(req.principal.tenant) ?? this.#defaultsState) : this.#defaultsState;
      if (state.broken !== undefined) return deny(state.broken);
      const useMemo = this.#maxMemo > 0;
      const key = useMemo ? state.memoPrefix + memoKey(req, state.projection) : '';
      if (useMemo) {
        const hit = this.#memo.get(key);
        if (hit !== undefined) {
          this.#hits++;
          return hit;
        }
      }
      this.#misses++;
      const decision = this.#evaluate(state.setId, req);
      if (useMemo && decision.errors.length === 0) this.#remember(key, decision);
      return decision;
    } catch (e) {
      return deny([`authorization failed: ${e instanceof Error ? e.message : String(e)}`]);
    }
  }

  #remember(key: string, decision: AuthzDecision): void {
    const bytes = key.length * 2 + MEMO_ENTRY_OVERHEAD_BYTES;
    while (this.#memo.size > 0 && (this.#memo.size >= this.#maxMemo || this.#memoBytes + bytes > this.#maxMemoBytes)) this.#evictOldest();
    this.#memo.set(key, decision);
    this.#memoBytes += bytes;
  }

  /**
   * Drops the oldest quarter of the memo in one pass (amortised O(1) per insertion; evicting one entry at a time
   * through the Map's iterator walks every deleted slot again, see src/vault/base-vault.ts).
   */
  #evictOldest(): void {
    let drop = Math.max(1, Math.ceil(this.#memo.size / 4));
    for (const k of this.#memo.keys()) {
      if (drop-- <= 0) break;
      this.#memo.delete(k);
      this.#memoBytes -= k.length * 2 + MEMO_ENTRY_OVERHEAD_BYTES;
    }
  }

  stats(): PolicyEngineStats {
    return { memoHits: this.#hits, memoMisses: this.#misses, memoEntries: this.#memo.size, memoBytes: this.#memoBytes, tenantsWithPolicies: this.#tenants.size };
  }

  /** Forgets every memoised decision (they are also invalidated by any policy change). */
  clearMemo(): void {
    this.#memo.clear();
    this.#memoBytes = 0;
  }

  /**
   * Computes and memoises `requests` in the background, a few at a time between event-loop turns, so that the
   * first request of each class does not pay a wasm evaluation on the hot path (issue 14 Deliver 4: "a Cedar
   * decision never seen before must not land on the hot path: precompute or cache per role and object class").
   * At most {@link MAX_WARM_DECISIONS}; decisions already memoised are skipped. Resolves with how many it computed.
   */
  async warm(requests: Iterable<AuthzRequest>): Promise<number> {
    let computed = 0;
    let sliceStart = performance.now();
    for (const req of requests) {
      if (this.#closed || computed >= MAX_WARM_DECISIONS || this.#maxMemo === 0) break;
      const state = req.principal.type === 'Client' ? (this.#tenants.get(req.principal.tenant) ?? this.#defaultsState) : this.#defaultsState;
      if (state.broken !== undefined) continue;
      const key = state.memoPrefix + memoKey(req, state.projection);
      if (this.#memo.has(key)) continue;
      const decision = this.#evaluate(state.setId, req);
      if (decision.errors.length === 0) this.#remember(key, decision);
      computed++;
      if (performance.now() - sliceStart >= WARM_SLICE_MS) {
        await new Promise<void>((resolve) => { setImmediate(resolve); });
        sliceStart = performance.now();
      }
    }
    return computed;
  }

  /**
   * What a warm-up of `tenant`'s client decisions can enumerate: undefined when its set names clients or objects
   * (decisions per identity or object: memoised on first use only); otherwise `objectAttributes`, the ManagedObject
   * attributes its decisions depend on when those are only the enumerations state, objectType and algorithm, or
   * undefined when a policy reads groups or the owner (object-level decisions then memoised on first use only).
   */
  warmableClasses(tenant: string): { readonly objectAttributes: readonly ('state' | 'objectType' | 'algorithm')[] | undefined } | undefined {
    const p = (this.#tenants.get(tenant) ?? this.#defaultsState).projection;
    if (p.full || p.principalId || p.resourceId) return undefined;
    const used = ['objectType', 'group', 'groups', 'state', 'algorithm', 'owner'].filter((a) => p.attrs.has(a));
    if (used.some((a) => a !== 'state' && a !== 'objectType' && a !== 'algorithm')) return { objectAttributes: undefined };
    return { objectAttributes: used as ('state' | 'objectType' | 'algorithm')[] };
  }

  /** Releases the preparsed sets in the wasm module; every later decision is denied. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const state of this.#tenants.values()) cedar.preparsePolicySet(state.setId, EMPTY_SET);
    this.#tenants.clear();
    cedar.preparsePolicySet(this.#defaultsState.setId, EMPTY_SET);
    this.clearMemo();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('the policy engine is closed');
  }

  #install(name: string, policies: Record<string, string>, text: string | undefined): PolicySetState {
    const generation = ++this.#generation;
    const setId = `${this.#prefix}/${name}`;
    const r = cedar.preparsePolicySet(setId, { staticPolicies: policies });
    // Validated already; a failure here is an internal inconsistency, not a tenant error.
    if (r.type === 'failure') throw new PolicyError('INVALID_POLICY', `policy set ${name} could not be prepared`, r.errors.map((e) => describe(e)));
    return { setId, memoPrefix: `${String(generation)}|`, text, projection: projectionOf(policies) };
  }

  static #parseAndValidate(text: string, prefix: string, reserved: ReadonlySet<string>): ParsedPolicies {
    const split = splitPolicies(text, prefix, reserved);
    if (split.diagnostics.length > 0) return split;
    const answer = cedar.validate({ schema: CEDAR_SCHEMA_TEXT, policies: { staticPolicies: split.policies }, validationSettings: { mode: 'strict' } });
    if (answer.type === 'failure') return { policies: split.policies, diagnostics: answer.errors.map((e) => describe(e, text)) };
    const diagnostics = answer.validationErrors.map((v) => describe(v.error, text, split.offsets.get(v.policyId) ?? 0, v.policyId));
    return { policies: split.policies, diagnostics };
  }

  #evaluate(setId: string, req: AuthzRequest): AuthzDecision {
    const problem = requestProblem(req);
    if (problem !== undefined) return deny([problem]);
    const entities = requestEntities(req);
    const [principal, resource, action] = entities;
    const call: StatefulAuthorizationCall = {
      principal: principal.uid,
      action: action.uid,
      resource: resource.uid,
      context: {},
      preparsedPolicySetId: setId,
      entities,
    };
    const answer = cedar.statefulIsAuthorized(call);
    if (answer.type === 'failure') return deny(answer.errors.map((e) => describe(e)));
    const { decision, diagnostics } = answer.response;
    const errors = diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`);
    // Fail closed: Cedar skips a policy whose evaluation errors — for a forbid that would let
    // the request through — so any evaluation error denies.
    return Object.freeze({ allowed: decision === 'allow' && errors.length === 0, reasons: Object.freeze([...diagnostics.reason]), errors: Object.freeze(errors) });
  }
}

function deny(errors: readonly string[]): AuthzDecision {
  return Object.freeze({ allowed: false, reasons: Object.freeze([]), errors: Object.freeze([...errors]) });
}

function checkTenant(tenant: string): void {
  if (!TENANT_NAME_PATTERN.test(tenant)) throw new PolicyError('INVALID_TENANT', `"${tenant}" is not a tenant name (${TENANT_NAME_PATTERN.source})`);
}

/**
 * The memo key of a request under a set's projection: equal keys ⇔ requests the set must decide alike. Every
 * field that may matter is in it, length-prefixed (unambiguous); past MAX_MEMO_KEY_CHARS the key is its digest.
 */
function memoKey(req: AuthzRequest, projection: Projection): string {
  const key = req.principal.type === 'Client' && !projection.full ? projectedKey(req as ClientRequest, projection) : fullKey(req);
  return key.length <= MAX_MEMO_KEY_CHARS ? key : `#${createHash('sha256').update(key).digest('base64')}`;
}

type ClientRequest = Extract<AuthzRequest, { principal: ClientPrincipal }>;

/** Every field of the request's entities and action (admin requests, and sets that could not be analysed). */
function fullKey(req: AuthzRequest): string {
  const p = req.principal;
  let key = `${k(req.action)}${p.type === 'Client' ? 'C' : 'A'}${k(p.id)}${p.tenant === undefined ? '-' : k(p.tenant)}${String(p.roles.length)}`;
  for (const r of p.roles) key += k(r);
  const r = req.resource;
  if (r.type === 'Tenant') return `${key}T${k(r.id)}`;
  key += `O${k(r.uid)}${k(r.tenant)}${k(r.objectType)}${k(r.group)}${k(r.state)}${k(r.algorithm)}${k(r.owner)}${String(r.groups.length)}`;
  for (const g of r.groups) key += k(g);
  return key;
}

/** A client request's key with only what the projection says can matter (see Projection). */
function projectedKey(req: ClientRequest, p: Projection): string {
  const who = req.principal;
  let key = `${k(req.action)}P${String(who.roles.length)}`;
  for (const r of who.roles) key += k(r);
  if (p.principalId) key += `I${k(who.id)}`;
  const r = req.resource;
  const resourceTenant = r.type === 'Tenant' ? r.id : r.tenant;
  key += p.tenant || resourceTenant !== who.tenant ? `${k(who.tenant)}${k(resourceTenant)}` : '=';
  if (r.type === 'Tenant') return `${key}T`;
  key += 'O';
  if (p.resourceId) key += k(r.uid);
  const a = p.attrs;
  if (a.has('objectType')) key += `t${k(r.objectType)}`;
  if (a.has('state')) key += `s${k(r.state)}`;
  if (a.has('algorithm')) key += `a${k(r.algorithm)}`;
  if (a.has('owner')) key += `o${k(r.owner)}`;
  if (a.has('group')) key += `g${k(r.group)}`;
  if (a.has('groups')) {
    key += `G${String(r.groups.length)}`;
    for (const g of r.groups) key += k(g);
  }
  return key;
}

/** The action entities, with their groups as parents (schema.ts ACTION_PARENTS), built once. */
const ACTION_ENTITIES: ReadonlyMap<string, EntityJson> = new Map([...ACTION_PARENTS].map(([id, parents]) => [id, {
  uid: { type: ENTITY.Action, id },
  attrs: {},
  parents: parents.map((p) => ({ type: ENTITY.Action, id: p })),
}]));

/** What the schema's request validation would refuse (the schema's appliesTo), or undefined. */
function requestProblem(req: AuthzRequest): string | undefined {
  const parents = ACTION_PARENTS.get(req.action);
  if (parents === undefined) return `"${req.action}" is not an action of the OpenKCM schema`;
  const kmip = parents.includes('KmipOperation');
  if (req.principal.type === 'Client' && !kmip) return `"${req.action}" does not apply to a Client`;
  if (req.principal.type === 'Admin' && (kmip || req.resource.type !== 'Tenant')) return `"${req.action}" does not apply to an Admin on a ${req.resource.type}`;
  return undefined;
}

/** The entities of a request: [principal, resource, action] (exported for the schema conformance test). */
export function requestEntities(req: AuthzRequest): [EntityJson, EntityJson, EntityJson] {
  const action = ACTION_ENTITIES.get(req.action) ?? { uid: { type: ENTITY.Action, id: req.action }, attrs: {}, parents: [] };
  return [principalEntity(req), resourceEntity(req), action];
}

function principalEntity(req: AuthzRequest): EntityJson {
  const p = req.principal;
  const attrs: Record<string, CedarValueJson> = { roles: [...p.roles] };
  if (p.tenant !== undefined) attrs.tenant = { __entity: tenantUid(p.tenant) };
  return {
    uid: { type: p.type === 'Client' ? ENTITY.Client : ENTITY.Admin, id: p.id },
    attrs,
    parents: p.tenant === undefined ? [] : [tenantUid(p.tenant)],
  };
}

function resourceEntity(req: AuthzRequest): EntityJson {
  const r = req.resource;
  if (r.type === 'Tenant') return { uid: tenantUid(r.id), attrs: { id: r.id }, parents: [] };
  return {
    uid: { type: ENTITY.ManagedObject, id: r.uid },
    attrs: {
      tenant: { __entity: tenantUid(r.tenant) },
      objectType: r.objectType,
      group: r.group,
      groups: [...r.groups],
      state: r.state,
      algorithm: r.algorithm,
      owner: r.owner,
    },
    parents: [tenantUid(r.tenant)],
  };
}


