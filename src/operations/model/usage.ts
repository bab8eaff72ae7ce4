/**
 * Cryptographic Usage Mask enforcement (KMIP 1.4 §3.19, KMIP 2.1 §4.20 and §4.57): an object
 * may be used only for the operations its mask allows, and only in a state that allows that
 * use:
 *  - Active: any use the mask allows (and, when set, not before Process Start Date / after
 *    Protect Stop Date — 2.1 §4.57 "Active");
 *  - Deactivated, Compromised: only to PROCESS protected data (decrypt, verify, unwrap, MAC
 *    verify...), never to apply protection;
 *  - Pre-Active, Destroyed, Destroyed Compromised: no cryptographic use.
 * Check uses it today; Encrypt/Decrypt/Sign/MAC handlers (later issues) call the same function.
 */
import { KmipError } from '../../kmip/errors.js';
import { CryptographicUsageMask, State } from '../../kmip/registry.js';
import { dateAttr, intAttr, seconds, stateOf } from './record.js';
import type { ManagedObjectRecord } from './store.js';

const U = CryptographicUsageMask;

/** Uses that only process already-protected data (allowed after deactivation / compromise). */
export const PROCESS_ONLY_USAGE: number = U.Verify | U.Decrypt | U.UnwrapKey | U.MACVerify | U.ValidateCryptogram
  | U.TranslateDecrypt | U.TranslateUnwrap | U.FPEDecrypt;

/** Mask names, for messages. */
export function usageNames(mask: number): string {
  return Object.entries(U).filter(([, bit]) => (mask & bit) !== 0).map(([n]) => n).join(' ') || '(none)';
}

/**
 * Throws unless `rec` may be used for every bit of `requested` at `now`.
 * Mask first (Incompatible Cryptographic Usage Mask, vectors BL-M-2-21 / BL-M-3-21), then state.
 */
export function requireUsage(rec: Pick<ManagedObjectRecord, 'attributes'>, requested: number, now: Date): void {
  const mask = intAttr(rec, 'Cryptographic Usage Mask');
  if (mask === undefined || (mask & requested) !== requested) {
    const missing = mask === undefined ? requested : requested & ~mask;
    throw new KmipError('INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK', `the Cryptographic Usage Mask does not allow ${usageNames(missing)}`);
  }
  const state = stateOf(rec);
  const processOnly = (requested & ~PROCESS_ONLY_USAGE) === 0;
  const allowed = state === State.Active || (processOnly && (state === State.Deactivated || state === State.Compromised));
  if (!allowed) {
    if (state === State.Destroyed || state === State.DestroyedCompromised) {
      throw new KmipError('OBJECT_DESTROYED', 'the object is destroyed');
    }
    throw new KmipError('WRONG_KEY_LIFECYCLE_STATE', `the object's state does not allow ${usageNames(requested)}`);
  }
  if (state === State.Active) {
    const t = seconds(now);
    const start = dateAttr(rec, 'Process Start Date');
    const stop = dateAttr(rec, 'Protect Stop Date');
    if (start !== undefined && t < start && (requested & PROCESS_ONLY_USAGE) !== 0) {
      throw new KmipError('WRONG_KEY_LIFECYCLE_STATE', 'the Process Start Date has not been reached');
    }
    if (stop !== undefined && t > stop && (requested & ~PROCESS_ONLY_USAGE) !== 0) {
      throw new KmipError('WRONG_KEY_LIFECYCLE_STATE', 'the Protect Stop Date has passed');
    }
  }
}
