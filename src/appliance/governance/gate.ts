/**
 * The governance gate on the KMIP path (ARCHITECTURE §6; issue 5), in one place for both ways the server runs it:
 * inside the process that owns the governance database (src/appliance/governance/plane.ts) and inside a KMIP worker process
 * that mirrors the primary's state over IPC (src/appliance/worker.ts, issue 14 Deliver 6). Per batch item, before
 * the payload is decoded:
 *
 *   1. Discover Versions and Query pass (they reveal nothing about a tenant: src/server/gates.ts);
 *   2. a tenant governance does not know yet is registered first (`register`, the only step that waits), and a name
 *      governance cannot govern is refused rather than served without a kill-switch;
 *   3. a suspended, revoked or terminated tenant is refused (TENANT_REVOKED);
 *   4. Cedar decides (memoised per role and object class: src/cmk/authz/engine.ts);
 *   5. the audit admission check, when given (a tenant whose audit queue is full is refused what must be audited).
 *
 * Synchronous for a known tenant: the gate returns nothing and the processor awaits nothing (issue 14).
 */
import { TENANT_ID_PATTERN } from '../../cmk/db.js';
import type { KmipAuthorizer } from '../../cmk/authz/kmip.js';
import { KmipError } from '../../kmip/errors.js';
import type { Principal } from '../../operations/types.js';
import { KEYLESS_OPERATIONS } from '../../server/gates.js';
import type { KmipGate } from '../../server/gates.js';
import { describeError } from '../../common/log.js';
import type { Logger } from '../../common/log.js';

/** Governance states that refuse every keyed operation. */
export const DARK_GOVERNANCE_STATES: ReadonlySet<string> = new Set(['revoked', 'suspended', 'terminated']);

export interface GovernanceGateOptions {
  /** The tenant's governance state, undefined when governance has no row for it (yet). Synchronous. */
  readonly stateOf: (tenant: string) => string | undefined;
  /** Registers (or re-reads) the tenant; afterwards stateOf answers for it when it is governed. */
  readonly register: (tenant: string) => Promise<void>;
  readonly authz: Pick<KmipAuthorizer, 'authorize'>;
  /** The audit admission check (src/appliance/governance/audit-gate.ts), when the audit trail can refuse. */
  readonly admitAudit?: (principal: Principal, operation: number) => void;
  readonly logger: Logger;
}

export function governanceGate(o: GovernanceGateOptions): KmipGate {
  const decide = (principal: Principal, operation: number, version: Parameters<KmipGate>[2], state: string): void => {
    if (DARK_GOVERNANCE_STATES.has(state)) throw new KmipError('TENANT_REVOKED', `this tenant is ${state} in governance`);
    o.authz.authorize(principal, operation, version);
    o.admitAudit?.(principal, operation);
  };
  return (principal, operation, version) => {
    // Discover Versions and Query reveal nothing about a tenant (src/server/gates.ts): answered for everyone.
    if (KEYLESS_OPERATIONS.has(operation)) return;
    const known = o.stateOf(principal.tenant);
    if (known !== undefined) {
      decide(principal, operation, version, known);
      return;
    }
    if (!TENANT_ID_PATTERN.test(principal.tenant)) {
      throw new KmipError('PERMISSION_DENIED', `tenant name "${principal.tenant}" cannot be governed (governed names match ${TENANT_ID_PATTERN.source})`);
    }
    return o.register(principal.tenant).then(
      () => {
        const state = o.stateOf(principal.tenant);
        if (state === undefined) throw new KmipError('PERMISSION_DENIED', 'this tenant is not registered in governance');
        decide(principal, operation, version, state);
      },
      (e: unknown) => {
        if (e instanceof KmipError && e.code !== 'GENERAL_FAILURE') throw e;
        o.logger.error('tenant registration failed', { tenant: principal.tenant, ...describeError(e) });
        throw new KmipError('TENANT_UNAVAILABLE', 'the governance database cannot be reached; retry later');
      },
    );
  };
}
