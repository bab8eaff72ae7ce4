/**
 * Gates in front of every KMIP operation: small functions of (principal, operation, version) plugged into the
 * processor's `authorize` hook (src/server/processor.ts ProcessorDeps), which runs before the payload is decoded
 * and before any handler work (Cosmian habit: "check policy before any crypto"). Each gate throws a KmipError to
 * refuse the batch item; {@link composeGates} chains them, first refusal wins, so later policy layers (Cedar,
 * issue 5) add a gate instead of replacing one.
 */
import { KmipError } from '../kmip/errors.js';
import { Operation } from '../kmip/registry.js';
import type { KmipVersion } from '../kmip/registry.js';
import type { Principal } from '../operations/types.js';

export type KmipGate = (principal: Principal, operation: number, version: KmipVersion) => void | Promise<void>;

/**
 * Operations that reveal nothing about keys or tenants and need no key: a sealed node (or a revoked tenant) still
 * answers them, so clients and load balancers can tell "up but sealed" from "down" (KMIP 1.4 §4.25 Query,
 * §4.26 Discover Versions).
 */
export const KEYLESS_OPERATIONS: ReadonlySet<number> = new Set([Operation.DiscoverVersions, Operation.Query]);

/**
 * While the node's MasterKey is sealed (ARCHITECTURE §2), every operation except {@link KEYLESS_OPERATIONS} is
 * refused with SERVER_SEALED: nothing below the MasterKey (keystore credentials, local L1 keys) can be used, and a
 * clear error beats a General Failure from deep inside activation.
 */
export function sealedGate(isSealed: () => boolean): KmipGate {
  return (_principal, operation) => {
    if (isSealed() && !KEYLESS_OPERATIONS.has(operation)) {
      throw new KmipError('SERVER_SEALED', 'the server is sealed: an operator must unseal it before it serves keys');
    }
  };
}

/**
 * The kill-switch at the front door (ARCHITECTURE §5): a revoked or offboarded tenant gets TENANT_REVOKED
 * (Permission Denied) for every operation except {@link KEYLESS_OPERATIONS} — including ones a cached DEK could
 * otherwise still serve in the instant between the zeroisation of L2/L3 and the cache eviction.
 */
export function tenantStateGate(isRevoked: (tenant: string) => boolean): KmipGate {
  return (principal, operation) => {
    if (!KEYLESS_OPERATIONS.has(operation) && isRevoked(principal.tenant)) {
      throw new KmipError('TENANT_REVOKED', 'this tenant\'s keys are revoked (kill-switch)');
    }
  };
}

/**
 * Runs `gates` in order; the first that throws refuses the item. Undefined entries are skipped. Synchronous while
 * the gates are (they decide from memory: the sealed flag, the tenant state, a memoised Cedar decision), so a
 * request costs no promise here (issue 14); a gate that returns a Promise (first use of a tenant) is awaited and
 * the remaining gates run after it.
 */
export function composeGates(...gates: readonly (KmipGate | undefined)[]): KmipGate | undefined {
  const list = gates.filter((g): g is KmipGate => g !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  const from = (i: number, principal: Principal, operation: number, version: KmipVersion): void | Promise<void> => {
    for (; i < list.length; i++) {
      const g = list[i];
      const r = g === undefined ? undefined : g(principal, operation, version);
      if (r instanceof Promise) {
        const next = i + 1;
        return r.then(() => from(next, principal, operation, version));
      }
    }
    return undefined;
  };
  return (principal, operation, version) => from(0, principal, operation, version);
}
