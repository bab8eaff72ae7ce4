/**
 * The governance repository (ARCHITECTURE §1 "cmk", §5 kill-switch, §6): tenants and their schemas, shadow
 * references to L1, policy texts, four-eyes approvals, revoke/restore with a NOTIFY to krypton, and the audit
 * trail of all of it. User documentation: docs/governance.md.
 *
 * Boundary (ARCHITECTURE §6, enforced by lint): nothing here imports src/native, src/vault or a keystore plugin.
 * Key work reaches this module only as injected functions: the audit HMAC, and the crypto-shred hook
 * (krypton.offboard) of an offboarding.
 *
 * Transactions: every admin action changes its rows, appends its audit record and (for state changes) queues its
 * NOTIFY in ONE transaction, so either all happen or none; the NOTIFY is delivered at COMMIT. Lock order, to stay
 * free of deadlocks: catalog row (public.tenants) → tenant schema (migration lock) → audit chain heads.
 */
import { randomUUID } from 'node:crypto';
import { parsePluginRef } from '../keystore/connections.js';
import type { ShadowReference } from '../keystore/types.js';
import { AuditTrail } from './audit.js';
import type { AuditHmac, AuditSink, AuditSinkOptions } from './audit.js';
import type { Db, DbTx } from './db.js';
import { checkTenantId, quoteIdent, sqlState, tenantSchema, TENANT_CHANNEL, toDate, toNumber } from './db.js';
import { GovernanceError } from './errors.js';
import { migratePublic, migrateTenantInTx } from './migrations.js';

export type TenantState = 'active' | 'suspended' | 'revoked' | 'terminated';

export interface Tenant {
  readonly id: string;
  /** Display name (free text). */
  readonly name: string;
  readonly state: TenantState;
  readonly stateReason: string;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly stateChangedAt: Date;
  /** `tenant_<id>`. */
  readonly schema: string;
}

/** Payload of NOTIFY 'openkcm_tenant' (JSON). Listeners must ignore actions they do not know. */
export interface TenantEvent {
  readonly tenant: string;
  readonly action: 'revoke' | 'restore' | 'terminate' | 'suspend' | 'resume';
  /** ISO 8601. */
  readonly at: string;
}

export interface ShadowRefRecord {
  readonly name: string;
  readonly shadow: ShadowReference;
  readonly createdAt: Date;
  readonly createdBy: string;
}

export interface PolicyRecord {
  readonly id: string;
  readonly body: string;
  readonly updatedAt: Date;
  readonly updatedBy: string;
}

/** pending → (approved →) executing → executed | failed; pending → expired. `approved` only when the caller
 *  executes the action itself (approve(..., { execute: false }) then completeApproval). */
export type ApprovalState = 'pending' | 'approved' | 'executing' | 'executed' | 'failed' | 'expired';

export interface Approval {
  /** `<tenant>:<uuid>`. */
  readonly id: string;
  readonly tenant: string;
  readonly action: string;
  readonly params: Readonly<Record<string, string>>;
  readonly requestedBy: string;
  readonly requestedAt: Date;
  readonly expiresAt: Date;
  readonly required: number;
  readonly approvers: readonly string[];
  readonly state: ApprovalState;
  /** Result text of the execution, or its error. */
  readonly outcome: string | null;
}

/** Runs an approved action. `principal` names the requester and the approvers, for the audit trail. */
export type ApprovedAction = (ctx: {
  readonly tenant: string;
  readonly params: Readonly<Record<string, string>>;
  readonly principal: string;
}) => Promise<string | undefined>;

/** Validates a policy text (H7's Cedar parser); throws to refuse it. */
export type PolicyValidator = (body: string, id: string) => void | Promise<void>;

/** Crypto-shred of a tenant before its schema is dropped (krypton.offboard: L2/L3 blobs deleted, slots zeroised). */
export type CryptoShred = (tenant: string) => Promise<void>;

// ---- limits (each named for the abuse it stops) ----------------------------------------------------------

/** Display name length: bounds catalog rows and admin API responses. */
export const TENANT_DISPLAY_NAME_MAX = 200;
/** Principal names (admin identities) stored in rows and the audit trail; longer ones are refused. */
export const PRINCIPAL_MAX = 256;
/** Policy ids and shadow reference names: printable, short, usable in URLs. */
export const OBJECT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** One policy text: a policy set far beyond any hand-written one means abuse (memory of the Cedar engine). */
export const POLICY_MAX_BYTES = 64 * 1024;
/** Policies per tenant: bounds the set the authorizer must preparse on every change. */
export const MAX_POLICIES_PER_TENANT = 256;
/** Shadow references per tenant: L1 keys are few; a flood would be an attempt to fill the database. */
export const MAX_SHADOW_REFS_PER_TENANT = 64;
/** Pending approvals per tenant: stops request spam from burying real requests. */
export const MAX_PENDING_APPROVALS_PER_TENANT = 100;
/** Distinct approvers an action may require at most (besides the requester). */
export const MAX_REQUIRED_APPROVERS = 10;
/** Default window in which an approval must gather its approvers. */
export const DEFAULT_APPROVAL_TTL_MS = 24 * 60 * 60 * 1000;
/** Longest approval window accepted: a forgotten request must not stay executable for months. */
export const MAX_APPROVAL_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Key reference and version lengths (an ARN is < 2 KiB; a version is a short id). */
export const KEY_REF_MAX = 2048;
export const KEY_VERSION_MAX = 256;
/** Parameters of an approval request: a few short strings. */
export const MAX_APPROVAL_PARAMS = 16;
export const APPROVAL_PARAM_MAX = 1024;

/** Shadow reference formats per keystore kind (contracts "Keystore plugins"). */
const KEY_REF_FORMATS: Readonly<Record<string, RegExp>> = {
  'pkcs11': /^token=[^;=\0]{1,32};object=[^;=\0]{1,128}$/,
  'aws-kms': /^arn:aws[a-z-]{0,16}:kms:[a-z0-9-]{1,32}:\d{12}:key\/[A-Za-z0-9-]{1,128}$/,
  'azure-keyvault': /^https:\/\/[A-Za-z0-9.-]{1,253}(:\d{1,5})?\/keys\/[A-Za-z0-9-]{1,127}(\/[A-Za-z0-9]{1,64})?$/,
  'local': /^local:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function invalid(message: string): GovernanceError {
  return new GovernanceError('INVALID_ARGUMENT', message);
}

function checkPrincipal(p: unknown, what = 'principal'): string {
  if (typeof p !== 'string' || p.length === 0 || p.length > PRINCIPAL_MAX || CONTROL.test(p)) {
    throw invalid(`${what} must be 1..${PRINCIPAL_MAX} characters without control characters`);
  }
  return p;
}

function checkObjectName(n: unknown, what: string): string {
  if (typeof n !== 'string' || !OBJECT_NAME_PATTERN.test(n)) throw invalid(`${what} must match ${OBJECT_NAME_PATTERN.source}`);
  return n;
}

function checkReason(r: unknown): string {
  if (typeof r !== 'string' || r.length > PRINCIPAL_MAX || CONTROL.test(r)) {
    throw invalid(`reason must be at most ${PRINCIPAL_MAX} characters without control characters`);
  }
  return r;
}

/** Validates a shadow reference: known plugin kind, key reference in that kind's format, printable version. */
export function checkShadowReference(shadow: unknown): ShadowReference {
  if (typeof shadow !== 'object' || shadow === null) throw invalid('shadow reference must be an object');
  const keys = Object.keys(shadow);
  for (const k of keys) {
    if (k !== 'plugin' && k !== 'keyRef' && k !== 'keyVersion') throw invalid(`shadow reference has an unknown field ${JSON.stringify(k)}`);
  }
  const { plugin, keyRef, keyVersion } = shadow as Record<string, unknown>;
  // `<kind>@<connection>` names a keystore connection (src/keystore/connections.ts); the key format is the kind's.
  const kind = typeof plugin === 'string' ? parsePluginRef(plugin)?.kind : undefined;
  if (typeof plugin !== 'string' || kind === undefined || !Object.hasOwn(KEY_REF_FORMATS, kind)) {
    throw invalid(`shadow.plugin must be one of ${Object.keys(KEY_REF_FORMATS).join(', ')}, or <kind>@<connection>`);
  }
  const format = KEY_REF_FORMATS[kind];
  if (typeof keyRef !== 'string' || keyRef.length > KEY_REF_MAX || format === undefined || !format.test(keyRef)) {
    throw invalid(`shadow.keyRef is not a valid ${plugin} key reference`);
  }
  if (typeof keyVersion !== 'string' || keyVersion.length > KEY_VERSION_MAX || !/^[\x21-\x7e]*$/.test(keyVersion)) {
    throw invalid(`shadow.keyVersion must be at most ${KEY_VERSION_MAX} printable ASCII characters`);
  }
  return { plugin, keyRef, keyVersion };
}

interface TenantRow {
  id: string;
  name: string;
  state: TenantState;
  state_reason: string;
  created_at: unknown;
  created_by: string;
  state_changed_at: unknown;
  schema_name: string;
}

function tenantFromRow(r: TenantRow): Tenant {
  return {
    id: r.id,
    name: r.name,
    state: r.state,
    stateReason: r.state_reason,
    createdAt: toDate(r.created_at),
    createdBy: r.created_by,
    stateChangedAt: toDate(r.state_changed_at),
    schema: r.schema_name,
  };
}

interface ApprovalRow {
  id: string;
  action: string;
  params: Record<string, string>;
  requested_by: string;
  requested_at: unknown;
  expires_at: unknown;
  required: unknown;
  state: ApprovalState;
  outcome: string | null;
}

export interface GovernanceOptions {
  readonly db: Db;
  /** HMAC of the audit trail (MasterKey-derived key, e.g. `masterKey.deriveKey('audit-hmac')` behind a function). */
  readonly auditHmac: AuditHmac;
  readonly clock?: () => Date;
  /** Distinct approvers (other than the requester) an approval needs; default 1 (four eyes: requester + one). */
  readonly approvalsRequired?: number;
  /** Approval window; default {@link DEFAULT_APPROVAL_TTL_MS}. */
  readonly approvalTtlMs?: number;
  /** Policy text validation (Cedar, H7). Without it, policy texts are stored unchecked. */
  readonly policyValidator?: PolicyValidator;
  /** Crypto-shred hook used when an approved `terminate` executes (krypton.offboard). */
  readonly cryptoShred?: CryptoShred;
  readonly auditSink?: AuditSinkOptions;
}

/** Built-in approvable actions; more via {@link Governance.registerAction}. */
export const BUILTIN_ACTIONS = ['revoke', 'restore', 'suspend', 'resume', 'terminate'] as const;

export class Governance {
  readonly db: Db;
  readonly audit: AuditTrail;
  /** Hot-path audit writer (KMIP operations): `governance.auditSink.record(...)`. */
  readonly auditSink: AuditSink;
  private readonly now: () => Date;
  private readonly required: number;
  private readonly ttlMs: number;
  private readonly validator: PolicyValidator | undefined;
  private readonly shred: CryptoShred | undefined;
  private readonly actions = new Map<string, ApprovedAction>();
  private closed = false;

  private constructor(opts: GovernanceOptions) {
    this.db = opts.db;
    this.now = opts.clock ?? (() => new Date());
    this.audit = new AuditTrail(opts.db, opts.auditHmac, { clock: this.now });
    this.auditSink = this.audit.createSink(opts.auditSink ?? {});
    this.required = opts.approvalsRequired ?? 1;
    this.ttlMs = opts.approvalTtlMs ?? DEFAULT_APPROVAL_TTL_MS;
    this.validator = opts.policyValidator;
    this.shred = opts.cryptoShred;
    if (!Number.isInteger(this.required) || this.required < 1 || this.required > MAX_REQUIRED_APPROVERS) {
      throw invalid(`approvalsRequired must be an integer 1..${MAX_REQUIRED_APPROVERS}`);
    }
    if (!Number.isInteger(this.ttlMs) || this.ttlMs < 1 || this.ttlMs > MAX_APPROVAL_TTL_MS) {
      throw invalid(`approvalTtlMs must be an integer 1..${MAX_APPROVAL_TTL_MS}`);
    }
    this.actions.set('revoke', async ({ tenant, params, principal }) => {
      await this.revokeTenant(tenant, principal, params.reason ?? 'approved');
      return 'revoked';
    });
    this.actions.set('restore', async ({ tenant, principal }) => {
      await this.restoreTenant(tenant, principal);
      return 'restored';
    });
    this.actions.set('suspend', async ({ tenant, params, principal }) => {
      await this.suspendTenant(tenant, principal, params.reason ?? 'approved');
      return 'suspended';
    });
    this.actions.set('resume', async ({ tenant, principal }) => {
      await this.resumeTenant(tenant, principal);
      return 'resumed';
    });
    this.actions.set('terminate', async ({ tenant, principal }) => {
      if (this.shred === undefined) throw new GovernanceError('INVALID_STATE', 'no crypto-shred hook configured for terminate');
      await this.terminateTenant(tenant, principal, this.shred);
      return 'terminated';
    });
  }

  /** Opens the repository: migrates `public` (idempotent) and starts the audit sink. */
  static async open(opts: GovernanceOptions): Promise<Governance> {
    await migratePublic(opts.db);
    return new Governance(opts);
  }

  private check(): void {
    if (this.closed) throw new GovernanceError('CLOSED', 'governance repository is closed');
  }

  // ---- tenants -------------------------------------------------------------------------------------------

  /**
   * Onboards a tenant: catalog row, `tenant_<id>` schema with every migration, and audit records (public chain and
   * the new tenant chain), in ONE transaction. Concurrent calls for one id: exactly one succeeds, the others get
   * TENANT_EXISTS (the catalog's primary key decides: a second INSERT waits for the first to commit). Ids are never
   * reused, so a terminated id also answers TENANT_EXISTS.
   */
  async createTenant(input: { id: string; name?: string }, principal: string): Promise<Tenant> {
    this.check();
    const id = checkTenantId(input.id);
    const name = input.name ?? id;
    if (typeof name !== 'string' || name.length < 1 || name.length > TENANT_DISPLAY_NAME_MAX || CONTROL.test(name)) {
      throw invalid(`tenant name must be 1..${TENANT_DISPLAY_NAME_MAX} characters without control characters`);
    }
    checkPrincipal(principal);
    const at = this.now();
    return this.db.transaction(async (tx) => {
      const r = await tx.query<TenantRow>(
        `INSERT INTO public.tenants (id, name, state, state_reason, created_at, created_by, state_changed_at, schema_name)
         VALUES ($1, $2, 'active', '', $3, $4, $3, $5) ON CONFLICT (id) DO NOTHING RETURNING *`,
        [id, name, at, principal, tenantSchema(id)],
      );
      const row = r.rows[0];
      if (row === undefined) throw new GovernanceError('TENANT_EXISTS', `tenant ${id} already exists`);
      await migrateTenantInTx(tx, id);
      const rec = { principal, tenant: id, operation: 'tenant.create', object: id, result: 'ok', time: at };
      await this.audit.appendSync(rec, { tx, global: true });
      await this.audit.appendSync(rec, { tx });
      return tenantFromRow(row);
    });
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    this.check();
    checkTenantId(id);
    const r = await this.db.query<TenantRow>('SELECT * FROM public.tenants WHERE id = $1', [id]);
    const row = r.rows[0];
    return row === undefined ? undefined : tenantFromRow(row);
  }

  /** Tenants by id; terminated ones only when asked. */
  async listTenants(opts: { includeTerminated?: boolean } = {}): Promise<Tenant[]> {
    this.check();
    const r = await this.db.query<TenantRow>(
      `SELECT * FROM public.tenants ${opts.includeTerminated === true ? '' : "WHERE state <> 'terminated'"} ORDER BY id`,
    );
    return r.rows.map(tenantFromRow);
  }

  /** Locks the catalog row (FOR UPDATE, or FOR SHARE for work inside the tenant schema) and checks it is live. */
  private async lockTenant(tx: DbTx, id: string, mode: 'UPDATE' | 'SHARE'): Promise<Tenant> {
    const r = await tx.query<TenantRow>(`SELECT * FROM public.tenants WHERE id = $1 FOR ${mode}`, [id]);
    const row = r.rows[0];
    if (row === undefined) throw new GovernanceError('TENANT_NOT_FOUND', `tenant ${id} does not exist`);
    if (row.state === 'terminated') throw new GovernanceError('TENANT_NOT_FOUND', `tenant ${id} is terminated`);
    return tenantFromRow(row);
  }

  /** One state change: catalog row, tenant-chain audit record and NOTIFY in one transaction. */
  private async transition(
    id: string, principal: string, action: TenantEvent['action'], from: readonly TenantState[], to: TenantState, reason: string,
  ): Promise<Tenant> {
    this.check();
    checkTenantId(id);
    checkPrincipal(principal);
    checkReason(reason);
    const at = this.now();
    return this.db.transaction(async (tx) => {
      const t = await this.lockTenant(tx, id, 'UPDATE');
      // Repeating a revoke is allowed and re-announced (kill-switch: a node that missed the first NOTIFY catches
      // up); every other transition must start from one of its `from` states.
      if (!from.includes(t.state) && !(action === 'revoke' && t.state === 'revoked')) {
        throw new GovernanceError('INVALID_STATE', `cannot ${action} tenant ${id} in state ${t.state}`);
      }
      const r = await tx.query<TenantRow>(
        'UPDATE public.tenants SET state = $2, state_reason = $3, state_changed_at = $4 WHERE id = $1 RETURNING *',
        [id, to, reason, at],
      );
      await this.audit.appendSync(
        { principal, tenant: id, operation: `tenant.${action}`, object: id, result: 'ok', time: at }, { tx },
      );
      const event: TenantEvent = { tenant: id, action, at: at.toISOString() };
      await tx.notify(TENANT_CHANNEL, JSON.stringify(event));
      const row = r.rows[0];
      if (row === undefined) throw new Error('tenant row vanished under lock');
      return tenantFromRow(row);
    });
  }

  /** Kill-switch (ARCHITECTURE §5): state revoked + audit + NOTIFY {action:'revoke'} atomically. */
  revokeTenant(id: string, principal: string, reason = 'admin'): Promise<Tenant> {
    return this.transition(id, principal, 'revoke', ['active', 'suspended'], 'revoked', reason);
  }

  /** Lifts a revocation (krypton re-unwraps L2 when L1 is healthy): state active + audit + NOTIFY 'restore'. */
  restoreTenant(id: string, principal: string): Promise<Tenant> {
    return this.transition(id, principal, 'restore', ['revoked'], 'active', '');
  }

  /** Administrative pause without crypto-shredding; NOTIFY 'suspend'. */
  suspendTenant(id: string, principal: string, reason = 'admin'): Promise<Tenant> {
    return this.transition(id, principal, 'suspend', ['active'], 'suspended', reason);
  }

  resumeTenant(id: string, principal: string): Promise<Tenant> {
    return this.transition(id, principal, 'resume', ['suspended'], 'active', '');
  }

  /**
   * Offboarding. First the caller's crypto-shred hook (krypton.offboard: L2/L3 gone, slots zeroised); if it
   * fails, nothing is dropped (SHRED_FAILED). Then, in one transaction: DROP SCHEMA tenant_<id> CASCADE, catalog
   * row `terminated`, a public-chain audit record and NOTIFY 'terminate'. The id is never reused.
   */
  async terminateTenant(id: string, principal: string, cryptoShred: CryptoShred): Promise<Tenant> {
    this.check();
    checkTenantId(id);
    checkPrincipal(principal);
    const t = await this.getTenant(id);
    if (t === undefined || t.state === 'terminated') throw new GovernanceError('TENANT_NOT_FOUND', `tenant ${id} does not exist or is terminated`);
    try {
      await cryptoShred(id);
    } catch (e) {
      throw new GovernanceError('SHRED_FAILED', `crypto-shred of tenant ${id} failed; nothing was dropped`, { cause: e });
    }
    const at = this.now();
    return this.db.transaction(async (tx) => {
      await this.lockTenant(tx, id, 'UPDATE');
      await tx.exec(`DROP SCHEMA IF EXISTS ${quoteIdent(tenantSchema(id))} CASCADE`);
      const r = await tx.query<TenantRow>(
        "UPDATE public.tenants SET state = 'terminated', state_reason = 'offboarded', state_changed_at = $2 WHERE id = $1 RETURNING *",
        [id, at],
      );
      await this.audit.appendSync(
        { principal, tenant: id, operation: 'tenant.terminate', object: id, result: 'ok', time: at }, { tx, global: true },
      );
      const event: TenantEvent = { tenant: id, action: 'terminate', at: at.toISOString() };
      await tx.notify(TENANT_CHANNEL, JSON.stringify(event));
      const row = r.rows[0];
      if (row === undefined) throw new Error('tenant row vanished under lock');
      return tenantFromRow(row);
    });
  }

  /** Subscribes to tenant state changes (this or any other process). Malformed payloads are ignored. */
  onTenantEvent(listener: (e: TenantEvent) => void): Promise<() => Promise<void>> {
    this.check();
    return this.db.listen(TENANT_CHANNEL, (payload) => {
      const e = parseTenantEvent(payload);
      if (e !== undefined) listener(e);
    });
  }

  // ---- shadow references -----------------------------------------------------------------------------------

  /** Registers an L1 shadow reference under `name` (immutable; ALREADY_EXISTS when the name is taken). */
  async registerShadowRef(tenant: string, name: string, shadow: ShadowReference, principal: string): Promise<ShadowRefRecord> {
    this.check();
    const s = quoteIdent(tenantSchema(tenant));
    checkObjectName(name, 'shadow reference name');
    const ref = checkShadowReference(shadow);
    checkPrincipal(principal);
    const at = this.now();
    return this.db.transaction(async (tx) => {
      await this.lockTenant(tx, tenant, 'SHARE');
      const n = await tx.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${s}.shadow_refs`);
      if (toNumber(n.rows[0]?.n ?? 0) >= MAX_SHADOW_REFS_PER_TENANT) {
        throw new GovernanceError('LIMIT_EXCEEDED', `tenant ${tenant} has ${MAX_SHADOW_REFS_PER_TENANT} shadow references already`);
      }
      const r = await tx.query(
        `INSERT INTO ${s}.shadow_refs (name, plugin, key_ref, key_version, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING name`,
        [name, ref.plugin, ref.keyRef, ref.keyVersion, at, principal],
      );
      if (r.rows.length === 0) throw new GovernanceError('ALREADY_EXISTS', `shadow reference ${name} already exists`);
      await this.audit.appendSync(
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
  async putShadowRef(tenant: string, name: string, shadow: ShadowReference, principal: string): Promise<{ record: ShadowRefRecord; previous: ShadowReference | undefined }> {
    this.check();
    const s = quoteIdent(tenantSchema(tenant));
    checkObjectName(name, 'shadow reference name');
    const ref = checkShadowReference(shadow);
    checkPrincipal(principal);
    const at = this.now();
    return this.db.transaction(async (tx) => {
      await this.lockTenant(tx, tenant, 'UPDATE');
      const old = await tx.query<{ plugin: string; key_ref: string; key_version: string }>(`SELECT plugin, key_ref, key_version FROM ${s}.shadow_refs WHERE name = $1`, [name]);
      const row = old.rows[0];
      const previous = row === undefined ? undefined : { plugin: row.plugin, keyRef: row.key_ref, keyVersion: row.key_version };
      if (previous === undefined) {
        const n = await tx.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${s}.shadow_refs`);
        if (toNumber(n.rows[0]?.n ?? 0) >= MAX_SHADOW_REFS_PER_TENANT) {
          throw new GovernanceError('LIMIT_EXCEEDED', `tenant ${tenant} has ${MAX_SHADOW_REFS_PER_TENANT} shadow references already`);
        }
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
      await this.audit.appendSync({ principal, tenant, operation: previous === undefined ? 'shadow.register' : 'shadow.replace', object, result: 'ok', time: at }, { tx });
      return { record: { name, shadow: ref, createdAt: at, createdBy: principal }, previous };
    });
  }

  async listShadowRefs(tenant: string): Promise<ShadowRefRecord[]> {
    this.check();
    const s = quoteIdent(tenantSchema(tenant));
    return this.inTenant(tenant, async (tx) => {
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

  async getShadowRef(tenant: string, name: string): Promise<ShadowRefRecord | undefined> {
    checkObjectName(name, 'shadow reference name');
    return (await this.listShadowRefs(tenant)).find((r) => r.name === name);
  }

  /** Read-only work inside a live tenant's schema (catalog row held FOR SHARE so it cannot be dropped meanwhile). */
  private inTenant<T>(tenant: string, fn: (tx: DbTx) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await this.lockTenant(tx, tenant, 'SHARE');
      return fn(tx);
    });
  }

  // ---- policies --------------------------------------------------------------------------------------------

  /** Stores (creates or replaces) a policy text after the validator accepted it. */
  async putPolicy(tenant: string, id: string, body: string, principal: string): Promise<PolicyRecord> {
    this.check();
    const s = quoteIdent(tenantSchema(tenant));
    checkObjectName(id, 'policy id');
    checkPrincipal(principal);
    if (typeof body !== 'string' || Buffer.byteLength(body, 'utf8') > POLICY_MAX_BYTES || body.includes('\0')) {
      throw invalid(`policy text must be a string of at most ${POLICY_MAX_BYTES} UTF-8 bytes without NUL`);
    }
    if (this.validator !== undefined) {
      try {
        await this.validator(body, id);
      } catch (e) {
        throw new GovernanceError('INVALID_ARGUMENT', `policy ${id} is invalid: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    }
    const at = this.now();
    return this.db.transaction(async (tx) => {
      await this.lockTenant(tx, tenant, 'SHARE');
      const n = await tx.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${s}.policies WHERE id <> $1`, [id]);
      if (toNumber(n.rows[0]?.n ?? 0) >= MAX_POLICIES_PER_TENANT) {
        throw new GovernanceError('LIMIT_EXCEEDED', `tenant ${tenant} has ${MAX_POLICIES_PER_TENANT} policies already`);
      }
      await tx.query(
        `INSERT INTO ${s}.policies (id, body, updated_at, updated_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
        [id, body, at, principal],
      );
      await this.audit.appendSync({ principal, tenant, operation: 'policy.put', object: id, result: 'ok', time: at }, { tx });
      return { id, body, updatedAt: at, updatedBy: principal };
    });
  }

  async listPolicies(tenant: string): Promise<PolicyRecord[]> {
    this.check();
    const s = quoteIdent(tenantSchema(tenant));
    return this.inTenant(tenant, async (tx) => {
      const r = await tx.query<{ id: string; body: string; updated_at: unknown; updated_by: string }>(`SELECT * FROM ${s}.policies ORDER BY id`);
      return r.rows.map((row) => ({ id: row.id, body: row.body, updatedAt: toDate(row.updated_at), updatedBy: row.updated_by }));
    });
  }

  async getPolicy(tenant: string, id: string): Promise<PolicyRecord | undefined> {
    checkObjectName(id, 'policy id');
    return (await this.listPolicies(tenant)).find((p) => p.id === id);
  }

  /** Deletes a policy; NOT_FOUND when absent. */
  async deletePolicy(tenant: string, id: string, principal: string): Promise<void> {
    this.check();
    const s = quoteIdent(tenantSchema(tenant));
    checkObjectName(id, 'policy id');
    checkPrincipal(principal);
    await this.db.transaction(async (tx) => {
      await this.lockTenant(tx, tenant, 'SHARE');
      const r = await tx.query(`DELETE FROM ${s}.policies WHERE id = $1 RETURNING id`, [id]);
      if (r.rows.length === 0) throw new GovernanceError('NOT_FOUND', `policy ${id} does not exist`);
      await this.audit.appendSync({ principal, tenant, operation: 'policy.delete', object: id, result: 'ok' }, { tx });
    });
  }

  // ---- four-eyes approvals ---------------------------------------------------------------------------------

  /** Adds (or replaces) an approvable action. Built-ins: {@link BUILTIN_ACTIONS}. */
  registerAction(action: string, run: ApprovedAction): void {
    checkObjectName(action, 'action');
    this.actions.set(action, run);
  }

  /**
   * Opens a request for `action` on `tenant`; returns its id. It executes once `approvalsRequired` distinct
   * approvers other than the requester approved, within the approval window.
   */
  async requestApproval(
    action: string, tenant: string, requestedBy: string, params: Readonly<Record<string, string>> = {},
    opts: { required?: number; ttlMs?: number } = {},
  ): Promise<string> {
    this.check();
    const s = quoteIdent(tenantSchema(tenant));
    checkObjectName(action, 'action');
    if (!this.actions.has(action)) throw invalid(`unknown action ${action}`);
    const required = opts.required ?? this.required;
    const ttlMs = opts.ttlMs ?? this.ttlMs;
    if (!Number.isInteger(required) || required < 1 || required > MAX_REQUIRED_APPROVERS) {
      throw invalid(`required must be an integer 1..${MAX_REQUIRED_APPROVERS}`);
    }
    if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_APPROVAL_TTL_MS) {
      throw invalid(`ttlMs must be an integer 1..${MAX_APPROVAL_TTL_MS}`);
    }
    checkPrincipal(requestedBy, 'requestedBy');
    const entries = Object.entries(params);
    if (entries.length > MAX_APPROVAL_PARAMS) throw invalid(`at most ${MAX_APPROVAL_PARAMS} parameters`);
    for (const [k, v] of entries) {
      checkObjectName(k, 'parameter name');
      if (typeof v !== 'string' || v.length > APPROVAL_PARAM_MAX || CONTROL.test(v)) {
        throw invalid(`parameter ${k} must be at most ${APPROVAL_PARAM_MAX} characters without control characters`);
      }
    }
    const at = this.now();
    const id = `${tenant}:${randomUUID()}`;
    await this.db.transaction(async (tx) => {
      await this.lockTenant(tx, tenant, 'SHARE');
      await tx.query(`UPDATE ${s}.approvals SET state = 'expired', decided_at = $1 WHERE state = 'pending' AND expires_at < $1`, [at]);
      const n = await tx.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${s}.approvals WHERE state = 'pending'`);
      if (toNumber(n.rows[0]?.n ?? 0) >= MAX_PENDING_APPROVALS_PER_TENANT) {
        throw new GovernanceError('LIMIT_EXCEEDED', `tenant ${tenant} has ${MAX_PENDING_APPROVALS_PER_TENANT} pending approvals already`);
      }
      await tx.query(
        `INSERT INTO ${s}.approvals (id, action, params, requested_by, requested_at, expires_at, required, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')`,
        [id, action, JSON.stringify(Object.fromEntries(entries)), requestedBy, at, new Date(at.getTime() + ttlMs), required],
      );
      await this.audit.appendSync({ principal: requestedBy, tenant, operation: 'approval.request', object: `${id} ${action}`, result: 'ok', time: at }, { tx });
    });
    return id;
  }

  async getApproval(id: string): Promise<Approval | undefined> {
    this.check();
    const { tenant } = parseApprovalId(id);
    const s = quoteIdent(tenantSchema(tenant));
    return this.inTenant(tenant, async (tx) => {
      const r = await tx.query<ApprovalRow>(`SELECT * FROM ${s}.approvals WHERE id = $1`, [id]);
      const row = r.rows[0];
      if (row === undefined) return undefined;
      return approvalFromRow(tenant, row, await votes(tx, s, id));
    });
  }

  /**
   * Records `approver`'s approval. The requester cannot approve, nor can anyone twice (APPROVER_NOT_ALLOWED);
   * after the window: APPROVAL_EXPIRED. When the count reaches the required number the action executes (after the
   * vote committed) and the returned approval is `executed` or `failed` with the outcome. With
   * `{ execute: false }` a complete approval becomes `approved` instead and the caller runs the action and then
   * calls {@link completeApproval} (the admin API does this: it also drives the node's kill-switch).
   */
  async approve(id: string, approver: string, opts: { execute?: boolean } = {}): Promise<Approval> {
    const execute = opts.execute ?? true;
    this.check();
    const { tenant } = parseApprovalId(id);
    const s = quoteIdent(tenantSchema(tenant));
    checkPrincipal(approver, 'approver');
    const at = this.now();
    const step = await this.db.transaction(async (tx) => {
      await this.lockTenant(tx, tenant, 'SHARE');
      const r = await tx.query<ApprovalRow>(`SELECT * FROM ${s}.approvals WHERE id = $1 FOR UPDATE`, [id]);
      const row = r.rows[0];
      if (row === undefined) throw new GovernanceError('NOT_FOUND', `approval ${id} does not exist`);
      if (row.state !== 'pending') throw new GovernanceError('INVALID_STATE', `approval ${id} is ${row.state}`);
      if (toDate(row.expires_at).getTime() < at.getTime()) {
        await tx.query(`UPDATE ${s}.approvals SET state = 'expired', decided_at = $2 WHERE id = $1`, [id, at]);
        await this.audit.appendSync({ principal: approver, tenant, operation: 'approval.approve', object: id, result: 'expired', time: at }, { tx });
        return { expired: true as const };
      }
      if (approver === row.requested_by) throw new GovernanceError('APPROVER_NOT_ALLOWED', 'the requester cannot approve their own request');
      const ins = await tx.query(
        `INSERT INTO ${s}.approval_votes (approval_id, approver, approved_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING approver`,
        [id, approver, at],
      );
      if (ins.rows.length === 0) throw new GovernanceError('APPROVER_NOT_ALLOWED', `${approver} already approved ${id}`);
      const approvers = await votes(tx, s, id);
      await this.audit.appendSync({ principal: approver, tenant, operation: 'approval.approve', object: id, result: 'ok', time: at }, { tx });
      const ready = approvers.length >= toNumber(row.required);
      if (ready) await tx.query(`UPDATE ${s}.approvals SET state = $2 WHERE id = $1`, [id, execute ? 'executing' : 'approved']);
      return { expired: false as const, ready, row: ready && !execute ? { ...row, state: 'approved' as const } : row, approvers };
    });
    if (step.expired) throw new GovernanceError('APPROVAL_EXPIRED', `approval ${id} expired before it gathered its approvers`);
    const { row, approvers } = step;
    if (!step.ready || !execute) return approvalFromRow(tenant, row, approvers);
    const run = this.actions.get(row.action);
    const principal = `${row.requested_by} (approved by ${approvers.join(', ')})`.slice(0, PRINCIPAL_MAX);
    let state: ApprovalState = 'executed';
    let outcome: string;
    try {
      if (run === undefined) throw new GovernanceError('INVALID_STATE', `action ${row.action} is not registered`);
      outcome = (await run({ tenant, params: row.params, principal })) ?? 'done';
    } catch (e) {
      state = 'failed';
      outcome = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    try {
      await this.db.transaction(async (tx) => {
        await tx.query(`UPDATE ${s}.approvals SET state = $2, decided_at = $3, outcome = $4 WHERE id = $1`, [id, state, this.now(), outcome.slice(0, APPROVAL_PARAM_MAX)]);
        await this.audit.appendSync({ principal, tenant, operation: `approval.${row.action}`, object: id, result: state === 'executed' ? 'ok' : `failed: ${outcome}` }, { tx });
      });
    } catch (e) {
      // An executed `terminate` dropped the schema holding the approval; its audit record is in the public chain.
      const code = sqlState(e);
      if (code !== '3F000' && code !== '42P01') throw e;
    }
    return approvalFromRow(tenant, { ...row, state, outcome }, approvers);
  }

  /** Records the outcome of an `approved` request the caller executed; exactly once (else INVALID_STATE). */
  async completeApproval(id: string, outcome: 'executed' | 'failed', detail = ''): Promise<Approval> {
    this.check();
    const { tenant } = parseApprovalId(id);
    const s = quoteIdent(tenantSchema(tenant));
    checkReason(detail);
    const at = this.now();
    return this.db.transaction(async (tx) => {
      await this.lockTenant(tx, tenant, 'SHARE');
      const r = await tx.query<ApprovalRow>(`SELECT * FROM ${s}.approvals WHERE id = $1 FOR UPDATE`, [id]);
      const row = r.rows[0];
      if (row === undefined) throw new GovernanceError('NOT_FOUND', `approval ${id} does not exist`);
      if (row.state !== 'approved') throw new GovernanceError('INVALID_STATE', `approval ${id} is ${row.state}, not approved`);
      const text = detail === '' ? outcome : detail;
      await tx.query(`UPDATE ${s}.approvals SET state = $2, decided_at = $3, outcome = $4 WHERE id = $1`, [id, outcome, at, text]);
      const approvers = await votes(tx, s, id);
      const principal = `${row.requested_by} (approved by ${approvers.join(', ')})`.slice(0, PRINCIPAL_MAX);
      await this.audit.appendSync(
        { principal, tenant, operation: `approval.${row.action}`, object: id, result: outcome === 'executed' ? 'ok' : `failed: ${text}`, time: at }, { tx },
      );
      return approvalFromRow(tenant, { ...row, state: outcome, outcome: text }, approvers);
    });
  }

  /** Approvals of one tenant (or of every live tenant), newest first. */
  async listApprovals(tenant?: string): Promise<Approval[]> {
    this.check();
    const tenants = tenant === undefined ? (await this.listTenants()).map((t) => t.id) : [checkTenantId(tenant)];
    const out: Approval[] = [];
    for (const t of tenants) {
      const s = quoteIdent(tenantSchema(t));
      const list = await this.inTenant(t, async (tx) => {
        const r = await tx.query<ApprovalRow>(`SELECT * FROM ${s}.approvals ORDER BY requested_at DESC, id`);
        const res: Approval[] = [];
        for (const row of r.rows) res.push(approvalFromRow(t, row, await votes(tx, s, row.id)));
        return res;
      });
      out.push(...list);
    }
    return out.sort((a, b) => b.requestedAt.getTime() - a.requestedAt.getTime());
  }

  /** Number of tenants per state (metrics, health). */
  async countTenantsByState(): Promise<Record<TenantState, number>> {
    this.check();
    const r = await this.db.query<{ state: TenantState; n: unknown }>('SELECT state, count(*) AS n FROM public.tenants GROUP BY state');
    const out: Record<TenantState, number> = { active: 0, suspended: 0, revoked: 0, terminated: 0 };
    for (const row of r.rows) out[row.state] = toNumber(row.n);
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.auditSink.close();
  }
}

async function votes(tx: DbTx, s: string, id: string): Promise<string[]> {
  const r = await tx.query<{ approver: string }>(`SELECT approver FROM ${s}.approval_votes WHERE approval_id = $1 ORDER BY approved_at, approver`, [id]);
  return r.rows.map((v) => v.approver);
}

function approvalFromRow(tenant: string, row: ApprovalRow, approvers: readonly string[]): Approval {
  return {
    id: row.id,
    tenant,
    action: row.action,
    params: row.params,
    requestedBy: row.requested_by,
    requestedAt: toDate(row.requested_at),
    expiresAt: toDate(row.expires_at),
    required: toNumber(row.required),
    approvers,
    state: row.state,
    outcome: row.outcome,
  };
}

/** `<tenant>:<uuid>` → parts; INVALID_ARGUMENT otherwise (the tenant part names the schema, so it is checked). */
export function parseApprovalId(id: unknown): { tenant: string; uuid: string } {
  if (typeof id !== 'string') throw invalid('approval id must be a string');
  const i = id.indexOf(':');
  const tenant = id.slice(0, i);
  const uuid = id.slice(i + 1);
  if (i < 1 || !UUID.test(uuid)) throw invalid('approval id must be <tenant>:<uuid>');
  checkTenantId(tenant);
  return { tenant, uuid };
}

export function parseTenantEvent(payload: string): TenantEvent | undefined {
  try {
    const v = JSON.parse(payload) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const { tenant, action, at } = v as Record<string, unknown>;
    if (typeof tenant !== 'string' || typeof at !== 'string') return undefined;
    if (action !== 'revoke' && action !== 'restore' && action !== 'terminate' && action !== 'suspend' && action !== 'resume') return undefined;
    return { tenant, action, at };
  } catch {
    return undefined;
  }
}
