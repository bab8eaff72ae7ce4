/**
 * Back-pressure from the audit trail to the KMIP listeners (issue 14, issue 15 item 4): while a tenant's audit queue
 * is past half its quota (AuditSink.slowTenants, src/cmk/audit/sink.ts AUDIT_SLOW_FRACTION), that tenant's
 * connections are held: they read nothing more and start none of the requests they have read, so its clients wait
 * while the chain owner catches up, instead of being refused with AUDIT_BACKLOGGED once the quota is reached.
 *
 * Only the slow tenant waits; every other tenant is served as before. A hold lasts at most governance.audit.holdMaxMs
 * ({@link AUDIT_HOLD_MAX_MS} by default; 0 turns the back-pressure off): a chain owner that cannot catch up (its
 * database down, a flood past what it can write) must not stall clients until their timeouts, so after that the
 * connections are released and the quota decides again, refusing with a clear error as before. Such a tenant is held
 * again only after it has left the slow set.
 *
 * Where it runs: in each KMIP worker process (the slow set arrives with the backlog message from the primary) and in a
 * single-process node (the governance plane's own change). KMIP over HTTPS is not held (one request per HTTP exchange:
 * its clients are refused at the quota as before).
 */
import { AUDIT_HOLD_MAX_MS } from '../../cmk/audit/index.js';

/** Holds (true) or releases (false) every connection of a tenant (KmipServer.holdTenant). */
export type HoldTenant = (tenant: string, on: boolean) => void;

export interface AuditBackpressureOptions {
  /** governance.audit.holdMaxMs: default {@link AUDIT_HOLD_MAX_MS}; 0 never holds (the quota alone decides). */
  readonly maxHoldMs?: number | undefined;
}

export class AuditBackpressure {
  readonly #hold: HoldTenant;
  readonly #maxHoldMs: number;
  /** Tenants held now, each with the timer that releases it at the latest. */
  readonly #held = new Map<string, NodeJS.Timeout>();
  /** Released by that timer while still slow: not held again until they leave the slow set. */
  readonly #expired = new Set<string>();
  #holds = 0;
  #timeouts = 0;

  constructor(hold: HoldTenant, opts: AuditBackpressureOptions = {}) {
    this.#hold = hold;
    this.#maxHoldMs = Math.max(0, opts.maxHoldMs ?? AUDIT_HOLD_MAX_MS);
  }

  /** The slow tenants now (the whole set, as the chain owner reports it). */
  update(slow: readonly string[]): void {
    if (this.#maxHoldMs === 0) return;
    const now = new Set(slow);
    for (const [tenant, timer] of this.#held) {
      if (now.has(tenant)) continue;
      clearTimeout(timer);
      this.#held.delete(tenant);
      this.#hold(tenant, false);
    }
    for (const tenant of this.#expired) if (!now.has(tenant)) this.#expired.delete(tenant);
    for (const tenant of now) {
      if (this.#held.has(tenant) || this.#expired.has(tenant)) continue;
      const timer = setTimeout(() => {
        this.#held.delete(tenant);
        this.#expired.add(tenant);
        this.#timeouts++;
        this.#hold(tenant, false);
      }, this.#maxHoldMs);
      timer.unref();
      this.#held.set(tenant, timer);
      this.#holds++;
      this.#hold(tenant, true);
    }
  }

  /** Tenants held now. */
  get held(): string[] {
    return [...this.#held.keys()];
  }

  /** Holds begun, and holds that ended at {@link AUDIT_HOLD_MAX_MS} rather than by the queue draining. */
  stats(): { readonly holds: number; readonly timeouts: number } {
    return { holds: this.#holds, timeouts: this.#timeouts };
  }

  /** Releases every held tenant (shutdown: the listeners answer what they have read). */
  close(): void {
    for (const [tenant, timer] of this.#held) {
      clearTimeout(timer);
      this.#hold(tenant, false);
    }
    this.#held.clear();
    this.#expired.clear();
  }
}
