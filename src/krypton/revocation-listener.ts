/**
 * The kill-switch's last hop (ARCHITECTURE §5; issue 5 deliverable 5): the governance plane commits a tenant
 * state change in Postgres and NOTIFYs `openkcm_tenant` (src/cmk/repository/); this listener, on every node
 * that runs krypton, turns the notification into `krypton.revoke` / `krypton.restore`. From the revoke on, the
 * tenant's KMIP operations fail with TENANT_REVOKED (Permission Denied).
 *
 *   admin API ─▶ Governance.revokeTenant (UPDATE + audit + NOTIFY, one transaction) ─▶ COMMIT
 *             ─▶ LISTEN connection of every node ─▶ this listener ─▶ krypton.revoke (slots zeroised)
 *
 * Events of one tenant are applied strictly in order (a revoke/restore/revoke burst must end revoked), each after
 * the previous one finished; different tenants proceed independently. Notifications sent while the LISTEN
 * connection was down are lost (Postgres does not queue them): {@link RevocationListener.reconcile} re-reads the
 * governance state of every tenant and aligns krypton, and runs at start and whenever the composition root learns
 * that the connection came back (openDb's `onListenEvent({type:'reconnected'})`).
 *
 * krypton → governance is the other direction: an L1 revoked at the source is found by src/krypton/l1-health.ts,
 * which records it in governance (audited, NOTIFY), and it comes back here like an admin revoke.
 */
import { TENANT_CHANNEL } from '../cmk/db.js';
import { parseTenantEvent } from '../cmk/repository/index.js';
import type { TenantEvent, TenantState } from '../cmk/repository/index.js';
import { silentLogger } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { isKryptonError } from './errors.js';

/** Longest NOTIFY payload we parse (Postgres caps payloads at 8000 bytes; anything longer is not ours). */
export const MAX_TENANT_EVENT_BYTES = 8000;
/** Reasons krypton records for revocations that came through governance. */
export const GOVERNANCE_REVOKE_REASON = 'governance-revoke';
export const GOVERNANCE_SUSPEND_REASON = 'governance-suspend';
export const GOVERNANCE_TERMINATE_REASON = 'governance-terminate';

/** What the listener needs from krypton (src/krypton/krypton.ts Krypton satisfies it). */
export interface RevocationTarget {
  revoke(tenant: string, reason: string): Promise<void>;
  restore(tenant: string): Promise<void>;
  status(tenant: string): { readonly state: string; readonly active: boolean };
}

/** The database side (src/cmk/db.ts Db satisfies it). */
export interface TenantEventSource {
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
}

export interface RevocationListenerOptions {
  readonly db: TenantEventSource;
  readonly krypton: RevocationTarget;
  /** Governance states of every tenant, for {@link RevocationListener.reconcile} (Governance.listTenants). */
  readonly tenantStates?: () => Promise<readonly { readonly id: string; readonly state: TenantState }[]>;
  readonly logger?: Logger;
  /** Called after each event was applied (or failed): metrics and tests. */
  readonly onApplied?: (event: TenantEvent, outcome: 'applied' | 'ignored' | 'failed') => void;
}

export interface RevocationListener {
  /** Aligns krypton with the governance state of every tenant (missed notifications). */
  reconcile(): Promise<void>;
  /** Resolves when every event received so far has been applied. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** What krypton should do for a governance action. */
function kryptonActionOf(action: TenantEvent['action']): { op: 'revoke'; reason: string } | { op: 'restore' } {
  switch (action) {
    case 'revoke': return { op: 'revoke', reason: GOVERNANCE_REVOKE_REASON };
    // A suspended tenant's KMIP traffic is refused as well; its keys stay recoverable (resume = restore).
    case 'suspend': return { op: 'revoke', reason: GOVERNANCE_SUSPEND_REASON };
    // The node that ran the termination already crypto-shredded (krypton.offboard); every other node zeroises.
    case 'terminate': return { op: 'revoke', reason: GOVERNANCE_TERMINATE_REASON };
    case 'restore':
    case 'resume':
      return { op: 'restore' };
  }
}

export async function startRevocationListener(opts: RevocationListenerOptions): Promise<RevocationListener> {
  const log = opts.logger ?? silentLogger;
  const krypton = opts.krypton;
  /** Tail of each tenant's event chain. */
  const chains = new Map<string, Promise<void>>();
  let stopped = false;

  const apply = async (event: TenantEvent): Promise<'applied' | 'ignored'> => {
    const what = kryptonActionOf(event.action);
    try {
      if (what.op === 'revoke') await krypton.revoke(event.tenant, what.reason);
      else await krypton.restore(event.tenant);
      return 'applied';
    } catch (e) {
      // A governance tenant without a key hierarchy on this store (not onboarded yet, or offboarded): nothing to do.
      if (isKryptonError(e, 'UNKNOWN_TENANT') || (what.op === 'revoke' && isKryptonError(e, 'INVALID'))) return 'ignored';
      throw e;
    }
  };

  const enqueue = (event: TenantEvent): void => {
    const prev = chains.get(event.tenant) ?? Promise.resolve();
    const next = prev.then(async () => {
      if (stopped) return;
      try {
        const outcome = await apply(event);
        log.info('kill-switch event applied', { tenant: event.tenant, action: event.action, outcome });
        opts.onApplied?.(event, outcome);
      } catch (e) {
        // restore fails while L1 is still unhealthy (KryptonError L1_UNHEALTHY): the tenant stays dark, which is
        // the safe side; the admin API checked L1 before committing, so this is a race with the customer.
        log.error('kill-switch event failed', { tenant: event.tenant, action: event.action, errName: e instanceof Error ? e.name : 'unknown', errMessage: e instanceof Error ? e.message : String(e) });
        opts.onApplied?.(event, 'failed');
      }
    });
    chains.set(event.tenant, next);
    void next.then(() => {
      if (chains.get(event.tenant) === next) chains.delete(event.tenant);
    });
  };

  const unlisten = await opts.db.listen(TENANT_CHANNEL, (payload) => {
    if (payload.length > MAX_TENANT_EVENT_BYTES) return;
    const event = parseTenantEvent(payload);
    if (event === undefined) {
      log.warn('ignored a malformed tenant event', { bytes: payload.length });
      return;
    }
    enqueue(event);
  });

  const listener: RevocationListener = {
    async reconcile(): Promise<void> {
      if (opts.tenantStates === undefined) return;
      const states = await opts.tenantStates();
      for (const { id, state } of states) {
        const k = krypton.status(id);
        const dark = state === 'revoked' || state === 'suspended' || state === 'terminated';
        // Tenants this node never activated are included: krypton.revoke persists 'revoked' in the hierarchy store,
        // so a later activation refuses instead of serving a tenant governance has turned off.
        if (dark && k.state !== 'revoked' && k.state !== 'destroyed') {
          enqueue({ tenant: id, action: state === 'revoked' ? 'revoke' : state === 'suspended' ? 'suspend' : 'terminate', at: new Date().toISOString() });
        } else if (state === 'active' && k.state === 'revoked') {
          enqueue({ tenant: id, action: 'restore', at: new Date().toISOString() });
        }
      }
      await listener.idle();
    },
    async idle(): Promise<void> {
      while (chains.size > 0) await Promise.all([...chains.values()]);
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await unlisten();
      await Promise.all([...chains.values()]);
    },
  };
  await listener.reconcile();
  return listener;
}
