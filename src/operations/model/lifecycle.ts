/**
 * The key lifecycle: states, the permitted transitions and the dates they set
 * (KMIP 1.4 §3.22 State, KMIP 2.1 §4.57 State, Figure 1; NIST SP 800-57 part 1).
 *
 *   (none) ──create/register──▶ Pre-Active ──T4 Activate / Activation Date reached──▶ Active
 *   Pre-Active ──T2 Destroy──▶ Destroyed          Active ──T6 Revoke(other) / Deactivation Date──▶ Deactivated
 *   Pre-Active ──T3 Revoke(compromise)──▶ Compromised ◀──T5/T8── Active, Deactivated
 *   Deactivated ──T7 Destroy──▶ Destroyed         Compromised ──T9 Destroy──▶ Destroyed Compromised
 *   Destroyed ──T10 Revoke(compromise)──▶ Destroyed Compromised
 * "Only the transitions described above are permitted" (2.1 §4.57): anything else is Wrong Key
 * Lifecycle State (2.x) / Permission Denied (1.x, vectors SKLC-M-2-14 vs SKLC-M-2-21).
 *
 * Dates: Initial Date at creation; Activation Date on Activate (the time it is received);
 * Deactivation Date on Revoke with a non-compromise reason; Compromise Date (now) and
 * Compromise Occurrence Date (the request's, else the Initial Date, 2.1 §6.1.44) on Revoke
 * for compromise; Destroy Date on Destroy; Last Change Date on every change.
 *
 * Date-driven transitions (T4 and T6 "the ... Date is reached") are applied when the object is
 * read ({@link advanceByDates}): the state is a pure function of the stored state, the dates
 * and the clock, so no background job is needed and nothing is missed across restarts.
 */
import { KmipError } from '../../kmip/errors.js';
import { RevocationReasonCode, State, Tag } from '../../kmip/registry.js';
import { enumeration, text } from '@openkcm/ttlv';
import { struct } from '../../kmip/payloads/fields.js';
import { dateAttr, seconds, setAttr, setDate, setEnum, stateOf } from './record.js';
import type { ManagedObjectRecord } from './store.js';

type Rec = Pick<ManagedObjectRecord, 'attributes'>;

export function isDestroyedState(state: number | undefined): boolean {
  return state === State.Destroyed || state === State.DestroyedCompromised;
}

/**
 * Applies T4 (Activation Date reached) and T6 (Deactivation Date reached) for `now`.
 * Returns true when the state changed.
 */
export function advanceByDates(rec: Rec, now: Date): boolean {
  const t = seconds(now);
  let state = stateOf(rec);
  const before = state;
  const activation = dateAttr(rec, 'Activation Date');
  const deactivation = dateAttr(rec, 'Deactivation Date');
  if (state === State.PreActive && activation !== undefined && activation <= t) state = State.Active;
  if (state === State.Active && deactivation !== undefined && deactivation <= t) state = State.Deactivated;
  if (state !== before && state !== undefined) setEnum(rec, 'State', Tag.State, state);
  return state !== before;
}

export function touch(rec: Rec, now: Date): void {
  setDate(rec, 'Last Change Date', Tag.LastChangeDate, now);
}

function wrongState(op: string, state: number | undefined): KmipError {
  const name = Object.entries(State).find(([, v]) => v === state)?.[0] ?? 'no state';
  if (isDestroyedState(state)) return new KmipError('OBJECT_DESTROYED', `${op}: the object is ${name}`);
  return new KmipError('WRONG_KEY_LIFECYCLE_STATE', `${op}: not permitted in state ${name}`);
}

/** T4 by Activate: only from Pre-Active (KMIP 1.4 §4.19, §11.20). */
export function activate(rec: Rec, now: Date): void {
  const state = stateOf(rec);
  if (state !== State.PreActive) throw wrongState('Activate', state);
  setEnum(rec, 'State', Tag.State, State.Active);
  setDate(rec, 'Activation Date', Tag.ActivationDate, now);
  touch(rec, now);
}

export function isCompromiseReason(code: number): boolean {
  return code === RevocationReasonCode.KeyCompromise || code === RevocationReasonCode.CACompromise;
}

/**
 * Revoke (KMIP 1.4 §4.20, 2.1 §6.1.44): compromise reasons → T3/T5/T8/T10; other reasons → T6.
 * `occurrence` is the request's Compromise Occurrence Date (seconds).
 */
export function revoke(rec: Rec, reason: { code: number; message?: string }, occurrence: bigint | undefined, now: Date): void {
  const state = stateOf(rec);
  const revocationReason = struct(Tag.RevocationReason, [
    enumeration(Tag.RevocationReasonCode, reason.code),
    reason.message === undefined ? undefined : text(Tag.RevocationMessage, reason.message),
  ]);
  if (isCompromiseReason(reason.code)) {
    let next: number;
    switch (state) {
      case State.PreActive: case State.Active: case State.Deactivated: next = State.Compromised; break;
      case State.Destroyed: next = State.DestroyedCompromised; break;
      default: throw wrongState('Revoke', state);
    }
    setEnum(rec, 'State', Tag.State, next);
    setDate(rec, 'Compromise Date', Tag.CompromiseDate, now);
    const occurred = occurrence ?? dateAttr(rec, 'Initial Date') ?? seconds(now);
    setDate(rec, 'Compromise Occurrence Date', Tag.CompromiseOccurrenceDate, occurred);
  } else {
    // T6 only: a non-compromise revocation deactivates an Active object.
    if (state !== State.Active) throw wrongState('Revoke', state);
    setEnum(rec, 'State', Tag.State, State.Deactivated);
    setDate(rec, 'Deactivation Date', Tag.DeactivationDate, now);
  }
  setAttr(rec, 'Revocation Reason', revocationReason);
  touch(rec, now);
}

/** Destroy (KMIP 2.1 §6.1.15): T2, T7, T9. Active objects must be revoked first. */
export function destroy(rec: Rec, now: Date): void {
  const state = stateOf(rec);
  let next: number;
  switch (state) {
    case State.PreActive: case State.Deactivated: next = State.Destroyed; break;
    case State.Compromised: next = State.DestroyedCompromised; break;
    // Objects without a lifecycle (none today) are destroyed outright.
    case undefined: next = State.Destroyed; break;
    default: throw wrongState('Destroy', state);
  }
  setEnum(rec, 'State', Tag.State, next);
  setDate(rec, 'Destroy Date', Tag.DestroyDate, now);
  touch(rec, now);
}

/** Refuses operations on destroyed objects (Object Destroyed; 1.x Permission Denied). */
export function requireNotDestroyed(rec: Rec, op: string): void {
  const state = stateOf(rec);
  if (isDestroyedState(state)) throw wrongState(op, state);
}
