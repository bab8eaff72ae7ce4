/**
 * Shared rules of the attribute-changing operations (Add, Modify, Delete, Set, Adjust
 * Attribute): permission per the attribute rules, the lifecycle-date state restrictions,
 * Name uniqueness, and the side effects of a change (Last Change Date, date-driven state
 * transitions, Always Sensitive / Never Extractable).
 */
import { KmipError } from '../../kmip/errors.js';
import type { KmipAttribute } from '../../kmip/attributes.js';
import { State, Tag } from '../../kmip/registry.js';
import type { OpContext } from '../services.js';
import { modifiableInState, ruleFor } from './attribute-rules.js';
import { checkNameUnique, checkValue } from './client-attributes.js';
import { advanceByDates, touch } from './lifecycle.js';
import { boolAttr, setBool, stateOf } from './record.js';
import type { ManagedObjectRecord } from './store.js';

export function readOnly(name: string): KmipError {
  return new KmipError('ATTRIBUTE_READ_ONLY', `'${name}' cannot be changed by the client`, { field: name });
}

/**
 * Lifecycle dates may change only in the states their rules name (Activation Date only while
 * Pre-Active; Deactivation / Process Start / Protect Stop Date while Pre-Active or Active):
 * Wrong Key Lifecycle State (vector SKLC-M-3-21; Permission Denied in 1.x, SKLC-M-3-14).
 */
export function checkStateAllows(rec: ManagedObjectRecord, name: string): void {
  const rule = ruleFor(name);
  const state = stateOf(rec);
  if (rule.modify !== 'always' && rule.modify !== 'never' && !modifiableInState(rule.modify, state)) {
    const stateName = Object.entries(State).find(([, v]) => v === state)?.[0] ?? 'unknown';
    throw new KmipError('WRONG_KEY_LIFECYCLE_STATE', `'${name}' cannot be changed in state ${stateName}`, { field: name });
  }
}

/** Value checks and Name uniqueness for a new value of `attr` on `rec`. */
export async function checkNewValue(ctx: OpContext, rec: ManagedObjectRecord, attr: KmipAttribute, op: 'add' | 'modify'): Promise<void> {
  checkValue(ctx, attr.name, attr.value);
  if (attr.name === 'Name') await checkNameUnique(ctx, attr.value, { selfUid: rec.uid, op });
}

/** Everything a changed attribute implies, then Last Change Date. */
export function afterChange(rec: ManagedObjectRecord, name: string, now: Date): void {
  // 1.4 §3.48 / §3.50: Always Sensitive becomes False once Sensitive has been False;
  // Never Extractable becomes False once Extractable has been True.
  if (name === 'Sensitive' && boolAttr(rec, 'Sensitive') === false) setBool(rec, 'Always Sensitive', Tag.AlwaysSensitive, false);
  if (name === 'Extractable' && boolAttr(rec, 'Extractable') === true) setBool(rec, 'Never Extractable', Tag.NeverExtractable, false);
  // T4 / T6 by Modify Attribute: a date moved to now or the past takes effect at once.
  advanceByDates(rec, now);
  touch(rec, now);
}
