/**
 * The KMIP side of the audit trail (src/appliance/governance/audit-gate.ts; issue 14 deliverable 4, issue 15 item 4): which
 * operations are refused while a tenant's audit queue is full, the refusal's KMIP error, and the hook that turns a
 * batch item into one plain entry (the shape that crosses to the chain owner).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUDIT_REFUSED_RESULT, AuditAdmission } from '../../src/cmk/audit/index.js';
import type { AuditEntry } from '../../src/cmk/audit/index.js';
import { KMIP_ERROR_CATALOG, KmipError, resultReasonFor } from '../../src/kmip/errors.js';
import { Operation, ResultReason } from '../../src/kmip/registry.js';
import { AUDIT_UNGATED_OPERATIONS, auditAdmissionGate, isAuditGated, kmipAuditHook } from '../../src/appliance/governance/audit-gate.js';
import { KEYLESS_OPERATIONS } from '../../src/server/gates.js';

const AT = new Date(1_700_000_000_123);

test('every operation that releases, uses or changes keys or objects is gated; lookups, Query and random bytes are not; unknown ones are', () => {
  for (const op of [Operation.Get, Operation.Export, Operation.Encrypt, Operation.Decrypt, Operation.Sign, Operation.SignatureVerify,
    Operation.MAC, Operation.MACVerify, Operation.DeriveKey, Operation.Create, Operation.CreateKeyPair, Operation.Register,
    Operation.ReKey, Operation.ReKeyKeyPair, Operation.Activate, Operation.Revoke, Operation.Destroy, Operation.Archive,
    Operation.Recover, Operation.AddAttribute, Operation.ModifyAttribute, Operation.DeleteAttribute, Operation.SetAttribute,
    Operation.AdjustAttribute, Operation.Import, Operation.Certify, Operation.RNGSeed, Operation.Log, Operation.PKCS_11]) {
    assert.equal(isAuditGated(op), true, `0x${op.toString(16)}`);
  }
  for (const op of AUDIT_UNGATED_OPERATIONS) assert.equal(isAuditGated(op), false, `0x${op.toString(16)}`);
  for (const op of KEYLESS_OPERATIONS) assert.equal(AUDIT_UNGATED_OPERATIONS.has(op), true);
  assert.equal(isAuditGated(0x8000_0001), true, 'a vendor extension is gated');
  assert.equal(isAuditGated(0xff), true);
  assert.equal(isAuditGated(0x100), true);
});

test('the gate refuses gated operations of a backlogged tenant with AUDIT_BACKLOGGED (Server Limit Exceeded in 2.x, General Failure in 1.x)', () => {
  const admission = new AuditAdmission();
  const gate = auditAdmissionGate(admission);
  const b = { identity: 'cn-b', tenant: 'b' };
  const a = { identity: 'cn-a', tenant: 'a' };
  gate(b, Operation.Get);
  admission.update({ node: false, tenants: ['b'] });
  assert.throws(() => { gate(b, Operation.Get); }, (e: unknown) => e instanceof KmipError && e.code === 'AUDIT_BACKLOGGED');
  assert.throws(() => { gate(b, Operation.Destroy); }, (e: unknown) => e instanceof KmipError && e.code === 'AUDIT_BACKLOGGED');
  gate(b, Operation.Query);
  gate(b, Operation.Locate);
  gate(a, Operation.Get);
  admission.update({ node: true, tenants: [] });
  assert.throws(() => { gate(a, Operation.Encrypt); }, (e: unknown) => e instanceof KmipError && e.code === 'AUDIT_BACKLOGGED');
  admission.update({ node: false, tenants: [] });
  gate(a, Operation.Encrypt);
  gate(b, Operation.Encrypt);
  assert.equal(resultReasonFor('AUDIT_BACKLOGGED', { major: 2 }), ResultReason.ServerLimitExceeded);
  assert.equal(resultReasonFor('AUDIT_BACKLOGGED', { major: 1 }), ResultReason.GeneralFailure);
  assert.equal(AUDIT_REFUSED_RESULT, 'AUDIT_BACKLOGGED');
  assert.ok(KMIP_ERROR_CATALOG[AUDIT_REFUSED_RESULT].description.length > 0);
});

test('the hook makes one plain, structured-clone-safe entry per item: kept when a gated operation was served', () => {
  const got: [string, AuditEntry][] = [];
  const hook = kmipAuditHook({ recordEntry: (tenant, e) => { got.push([tenant, e]); return true; } });
  hook({ principal: 'cn-a', tenant: 'a', operation: Operation.Get, uid: 'k1', result: 'success', at: AT });
  hook({ principal: 'cn-a', tenant: 'a', operation: Operation.Get, uid: 'k2', result: 'ITEM_NOT_FOUND', at: AT });
  hook({ principal: 'cn-b', tenant: 'b', operation: Operation.Query, result: 'success', at: AT });
  hook({ principal: 'cn-b', tenant: 'b', operation: Operation.Get, uid: 'k3', result: 'AUDIT_BACKLOGGED', at: AT });
  hook({ principal: 'cn-b', tenant: 'b', operation: 0x8000_0001, result: 'success', at: AT });
  const ms = AT.getTime();
  assert.deepEqual(got, [
    ['a', { principal: 'cn-a', operation: 'kmip.Get', object: 'k1', result: 'ok', at: ms, keep: true }],
    ['a', { principal: 'cn-a', operation: 'kmip.Get', object: 'k2', result: 'ITEM_NOT_FOUND', at: ms, keep: false }],
    ['b', { principal: 'cn-b', operation: 'kmip.Query', object: '', result: 'ok', at: ms, keep: false }],
    ['b', { principal: 'cn-b', operation: 'kmip.Get', object: 'k3', result: AUDIT_REFUSED_RESULT, at: ms, keep: false }],
    ['b', { principal: 'cn-b', operation: 'kmip.0x80000001', object: '', result: 'ok', at: ms, keep: true }],
  ]);
  assert.deepEqual(structuredClone(got), got);
});
