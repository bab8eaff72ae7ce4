/**
 * Periodic L1 health checks (ARCHITECTURE §5 "Revocation comes from an admin call, or from an L1 health check that
 * finds the customer revoked the key"; issue 5 deliverable 6).
 *
 * Every interval, for each ACTIVE governance tenant, `krypton.checkL1(tenant)` asks the keystore plugin for
 * health() (a wrap/unwrap round trip at the source). KEY_REVOKED_OR_DISABLED means the customer revoked, disabled or
 * deleted L1: krypton zeroises the tenant on this node at once (checkL1 does), and this module records it in
 * governance through the SAME path as an admin revoke — `Governance.revokeTenant(tenant, 'system:l1-health',
 * 'l1-revoked-at-source')` — so it is audited and NOTIFYed to every other node. Other failures (unreachable,
 * access denied) are reported, never acted on: a network blip must not take a tenant dark.
 *
 * Rounds never overlap (a slow HSM delays the next round instead of piling up checks), and at most
 * {@link MAX_CONCURRENT_L1_CHECKS} run at once so a node with many tenants does not hammer the customers' HSMs.
 */
import { isKeystoreError } from '../keystore/types.js';
import type { HealthStatus, KeystorePlugin, ShadowReference } from '../keystore/types.js';
import { silentLogger } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { isKryptonError } from './errors.js';

/** Default interval between rounds (configurable; tests use small values). */
export const DEFAULT_L1_HEALTH_INTERVAL_MS = 60_000;
/** Shortest accepted interval: below it the checks themselves would become a load on the customer's HSM/KMS. */
export const MIN_L1_HEALTH_INTERVAL_MS = 10;
/** Checks in flight at once across tenants. */
export const MAX_CONCURRENT_L1_CHECKS = 4;
/** The governance principal and reason of a revocation found by this module (audit trail). */
export const L1_HEALTH_PRINCIPAL = 'system:l1-health';
export const L1_REVOKED_AT_SOURCE_REASON = 'l1-revoked-at-source';

/**
 * One health round trip against an L1 that may not even open (issue 16 items 1 and 2): a plugin that cannot be
 * opened — a node secret missing (SECRET_MISSING), a connection not configured (INVALID_ARGUMENT), a module that
 * does not load (UNREACHABLE) — is reported as an unhealthy status with the keystore's code instead of an
 * exception, so the admin API answers a precise 4xx and never a 500. Never throws.
 */
export async function probeL1(keystoreFor: (shadow: ShadowReference) => Promise<KeystorePlugin>, shadow: ShadowReference): Promise<HealthStatus> {
  try {
    return await (await keystoreFor(shadow)).health();
  } catch (e) {
    const code = isKeystoreError(e) ? e.code : 'UNREACHABLE';
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, plugin: shadow.plugin, keyRef: shadow.keyRef, checkedAt: new Date(), code, message };
  }
}

export interface L1HealthOptions {
  readonly krypton: { checkL1(tenant: string): Promise<HealthStatus> };
  /** The tenants to check: the governance tenants in state `active` (Governance.listTenants filtered). */
  readonly activeTenants: () => Promise<readonly string[]>;
  /** Records the revocation in governance (Governance.revokeTenant(tenant, L1_HEALTH_PRINCIPAL, reason)). */
  readonly revokeInGovernance: (tenant: string, reason: string) => Promise<void>;
  readonly intervalMs?: number;
  readonly logger?: Logger;
  /** Called after each round (tests, metrics). */
  readonly onRound?: (report: L1HealthReport) => void;
}

export interface L1HealthReport {
  readonly checked: number;
  readonly healthy: number;
  /** Tenants found revoked at the source in this round (now revoked in governance). */
  readonly revoked: readonly string[];
  /** Tenants whose check failed for another reason (reported only). */
  readonly failed: readonly { readonly tenant: string; readonly code: string }[];
}

export interface L1HealthChecker {
  /** One round now (waits for a running round first). */
  runOnce(): Promise<L1HealthReport>;
  stop(): Promise<void>;
}

export function startL1HealthChecks(opts: L1HealthOptions): L1HealthChecker {
  const interval = opts.intervalMs ?? DEFAULT_L1_HEALTH_INTERVAL_MS;
  if (!Number.isInteger(interval) || interval < MIN_L1_HEALTH_INTERVAL_MS) {
    throw new RangeError(`L1 health interval must be an integer of at least ${MIN_L1_HEALTH_INTERVAL_MS} ms`);
  }
  const log = opts.logger ?? silentLogger;
  let running: Promise<L1HealthReport> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const checkOne = async (tenant: string, out: { healthy: number; revoked: string[]; failed: { tenant: string; code: string }[] }): Promise<void> => {
    let h: HealthStatus;
    try {
      h = await opts.krypton.checkL1(tenant);
    } catch (e) {
      // A governance tenant without a key hierarchy (not onboarded here yet) has no L1 to check.
      if (isKryptonError(e, 'UNKNOWN_TENANT')) return;
      out.failed.push({ tenant, code: isKryptonError(e) ? e.code : 'ERROR' });
      return;
    }
    if (h.ok) {
      out.healthy++;
      return;
    }
    if (h.code !== 'KEY_REVOKED_OR_DISABLED') {
      out.failed.push({ tenant, code: h.code });
      return;
    }
    log.warn('L1 revoked at the source: revoking the tenant', { tenant, plugin: h.plugin });
    try {
      await opts.revokeInGovernance(tenant, L1_REVOKED_AT_SOURCE_REASON);
      out.revoked.push(tenant);
    } catch (e) {
      // krypton already zeroised the tenant on this node (checkL1); the next round retries the governance record.
      log.error('could not record the L1 revocation in governance', { tenant, errMessage: e instanceof Error ? e.message : String(e) });
      out.failed.push({ tenant, code: 'GOVERNANCE' });
    }
  };

  const round = async (): Promise<L1HealthReport> => {
    const tenants = [...await opts.activeTenants()];
    const out = { healthy: 0, revoked: [] as string[], failed: [] as { tenant: string; code: string }[] };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < tenants.length && !stopped) {
        const t = tenants[next++];
        if (t !== undefined) await checkOne(t, out);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MAX_CONCURRENT_L1_CHECKS, tenants.length) }, worker));
    const report: L1HealthReport = { checked: tenants.length, ...out };
    opts.onRound?.(report);
    return report;
  };

  const runOnce = async (): Promise<L1HealthReport> => {
    while (running !== undefined) await running.catch(() => undefined);
    const p = round();
    running = p;
    try {
      return await p;
    } finally {
      running = undefined;
    }
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      runOnce().catch((e: unknown) => {
        log.error('L1 health round failed', { errMessage: e instanceof Error ? e.message : String(e) });
      }).finally(schedule);
    }, interval);
    timer.unref();
  };
  schedule();

  return {
    runOnce,
    async stop(): Promise<void> {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
