// The audit trail's back-pressure (src/appliance/governance/audit-backpressure.ts): which tenants' connections are
// held as the slow set changes, the longest hold, and release on close.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditBackpressure } from '../../src/appliance/governance/audit-backpressure.js';
import { AUDIT_HOLD_MAX_MS } from '../../src/cmk/audit/index.js';

function recorder(): { calls: string[]; hold: (tenant: string, on: boolean) => void } {
  const calls: string[] = [];
  return { calls, hold: (tenant, on) => { calls.push(`${on ? 'hold' : 'release'} ${tenant}`); } };
}

describe('AuditBackpressure', () => {
  test('holds a tenant when it turns slow and releases it when it is not any more; others are untouched', () => {
    const r = recorder();
    const bp = new AuditBackpressure(r.hold);
    try {
      bp.update(['b']);
      bp.update(['b']);
      bp.update(['b', 'c']);
      assert.deepEqual(bp.held.sort(), ['b', 'c']);
      bp.update(['c']);
      bp.update([]);
      assert.deepEqual(r.calls, ['hold b', 'hold c', 'release b', 'release c']);
      assert.deepEqual(bp.held, []);
      assert.deepEqual(bp.stats(), { holds: 2, timeouts: 0 });
    } finally {
      bp.close();
    }
  });

  test('a hold ends after maxHoldMs while the tenant stays slow, and starts again only after it left the slow set', async () => {
    const r = recorder();
    const bp = new AuditBackpressure(r.hold, { maxHoldMs: 20 });
    try {
      bp.update(['b']);
      await sleep(60);
      assert.deepEqual(r.calls, ['hold b', 'release b'], 'released at the longest hold');
      bp.update(['b']);
      assert.deepEqual(r.calls, ['hold b', 'release b'], 'still slow: not held again');
      bp.update([]);
      bp.update(['b']);
      assert.deepEqual(r.calls, ['hold b', 'release b', 'hold b'], 'slow again after it drained: held again');
      assert.deepEqual(bp.stats(), { holds: 2, timeouts: 1 });
    } finally {
      bp.close();
    }
    assert.equal(r.calls.at(-1), 'release b');
  });

  test('maxHoldMs 0 never holds (governance.audit.holdMaxMs: 0, the quota alone decides)', () => {
    const r = recorder();
    const bp = new AuditBackpressure(r.hold, { maxHoldMs: 0 });
    bp.update(['b']);
    bp.update([]);
    bp.close();
    assert.deepEqual(r.calls, []);
  });

  test('close releases every held tenant, and the default longest hold is a quarter of a second', () => {
    const r = recorder();
    const bp = new AuditBackpressure(r.hold);
    bp.update(['a', 'b']);
    bp.close();
    assert.deepEqual(r.calls.sort(), ['hold a', 'hold b', 'release a', 'release b']);
    assert.deepEqual(bp.held, []);
    assert.equal(AUDIT_HOLD_MAX_MS, 250);
  });
});
