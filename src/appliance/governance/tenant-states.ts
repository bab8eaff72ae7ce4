/**
 * Step 3 of the governance plane: the governance state and Cedar policies of every tenant this node has seen, kept
 * current by the database's NOTIFY channels, registered on first use, and fanned out to the KMIP worker processes
 * (src/appliance/ipc.ts) as {@link GovernanceChange}s.
 */
import type { PolicyEngine } from '../../cmk/authz/engine.js';
import { warmRequests } from '../../cmk/authz/kmip.js';
import { isTenantId, TENANT_CHANNEL } from '../../cmk/db.js';
import type { Db } from '../../cmk/db.js';
import { isGovernanceError } from '../../cmk/errors.js';
import { parseTenantEvent } from '../../cmk/repository/index.js';
import type { Governance, TenantState } from '../../cmk/repository/index.js';
import { describeError } from '../../common/log.js';
import type { Logger } from '../../common/log.js';
import { MAX_TENANT_EVENT_BYTES } from '../../krypton/revocation-listener.js';
import type { Cleanups } from './cleanups.js';
import { AUTO_REGISTER_PRINCIPAL, POLICY_CHANNEL } from './types.js';
import type { GovernanceChange } from './types.js';

export class TenantStates {
  /** One entry per governance tenant row (registration creates the row first), so the catalog bounds the map. */
  readonly states = new Map<string, TenantState>();
  readonly #registering = new Map<string, Promise<void>>();
  readonly #listeners = new Set<(change: GovernanceChange) => void>();

  private readonly governance: Governance;
  private readonly engine: PolicyEngine;
  private readonly autoRegister: boolean;
  /** Every distinct role set a client can have: what the Cedar warm-up computes decisions for (issue 14). */
  private readonly roleSets: Iterable<readonly string[]>;
  private readonly log: Logger;

  constructor(opts: { governance: Governance; engine: PolicyEngine; autoRegister: boolean; roleSets: Iterable<readonly string[]>; log: Logger }) {
    this.governance = opts.governance;
    this.engine = opts.engine;
    this.autoRegister = opts.autoRegister;
    this.roleSets = opts.roleSets;
    this.log = opts.log;
  }

  /** Calls `listener` on every change; returns the unsubscribe function. */
  onChange(listener: (change: GovernanceChange) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  changed(change: GovernanceChange): void {
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch (e) {
        this.log.error('governance change listener failed', describeError(e));
      }
    }
  }

  setState(tenant: string, state: TenantState): void {
    if (this.states.get(tenant) === state) return;
    this.states.set(tenant, state);
    this.changed({ t: 'state', tenant, state });
  }

  async refreshPolicies(tenant: string): Promise<void> {
    const loadPolicies = async (t: string): Promise<string | undefined> => {
      const all = await this.governance.listPolicies(t);
      return all.length === 0 ? undefined : all.map((p) => p.body).join('\n');
    };
    try {
      await this.engine.refreshTenant(tenant, loadPolicies);
    } catch (e) {
      // refreshTenant left the tenant fail-closed (every decision denied) until a later refresh succeeds.
      this.log.error('policies of a tenant could not be loaded: its clients are denied until they can', { tenant, ...describeError(e) });
      this.changed({ t: 'policies', tenant, text: undefined, failed: true });
      return;
    }
    this.changed({ t: 'policies', tenant, text: this.engine.tenantPolicies(tenant) });
    // The tenant's decisions per role and object class are computed in the background now, so that no request
    // pays a first wasm evaluation (issue 14 Deliver 4). Never awaited; failures only cost the warm-up.
    this.engine.warm(warmRequests(this.engine, tenant, this.roleSets)).catch((e: unknown) => {
      this.log.warn('Cedar warm-up failed; decisions are computed on first use', { tenant, ...describeError(e) });
    });
  }

  /** Re-reads every tenant's state and policies (start, and after the LISTEN connection came back). */
  async resyncAll(): Promise<void> {
    const all = await this.governance.listTenants({ includeTerminated: true });
    for (const t of all) {
      this.setState(t.id, t.state);
      if (t.state !== 'terminated') await this.refreshPolicies(t.id);
    }
  }

  /** Registers (or reads) a tenant's governance row once at a time; its state lands in {@link states}. */
  ensureRegistered(tenant: string): Promise<void> {
    let p = this.#registering.get(tenant);
    if (p === undefined) {
      p = this.#register(tenant).finally(() => this.#registering.delete(tenant));
      this.#registering.set(tenant, p);
    }
    return p;
  }

  async #register(tenant: string): Promise<void> {
    if (!isTenantId(tenant)) return;
    let t = await this.governance.getTenant(tenant);
    if (t === undefined && this.autoRegister) {
      try {
        t = await this.governance.createTenant({ id: tenant }, AUTO_REGISTER_PRINCIPAL);
        this.log.info('tenant registered in governance on first use', { tenant });
      } catch (e) {
        if (!isGovernanceError(e, 'TENANT_EXISTS')) throw e;
        t = await this.governance.getTenant(tenant);
      }
    }
    if (t === undefined) return;
    this.setState(t.id, t.state);
    if (t.state !== 'terminated') await this.refreshPolicies(t.id);
  }

  /** Follows tenant events (the state map here; krypton follows through the revocation listener) and policy changes. */
  async listen(db: Db, cleanups: Cleanups): Promise<void> {
    cleanups.push(await db.listen(TENANT_CHANNEL, (payload) => {
      if (payload.length > MAX_TENANT_EVENT_BYTES) return;
      const ev = parseTenantEvent(payload);
      if (ev === undefined) return;
      const next: TenantState = ev.action === 'revoke' ? 'revoked' : ev.action === 'suspend' ? 'suspended' : ev.action === 'terminate' ? 'terminated' : 'active';
      this.setState(ev.tenant, next);
      if (next === 'terminated') this.engine.removeTenant(ev.tenant);
    }));
    cleanups.push(await db.listen(POLICY_CHANNEL, (payload) => {
      if (payload.length > MAX_TENANT_EVENT_BYTES) return;
      let tenant: unknown;
      try {
        tenant = (JSON.parse(payload) as { tenant?: unknown }).tenant;
      } catch {
        return;
      }
      if (isTenantId(tenant)) void this.refreshPolicies(tenant);
    }));
  }
}
