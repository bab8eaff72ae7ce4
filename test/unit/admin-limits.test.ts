/**
 * `governance.adminApi.limits` validation (src/cmk/api/limits.ts): defaults, each limit's bounds at the edge and one
 * past it, unknown keys refused by name, and Node's rule that headersTimeout may not exceed requestTimeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_LIMIT_NAMES, DEFAULT_ADMIN_LIMITS, resolveAdminLimits } from '../../src/cmk/api/limits.js';

test('absent: the defaults', () => {
  assert.deepEqual(resolveAdminLimits(undefined), { ...DEFAULT_ADMIN_LIMITS });
  assert.equal(DEFAULT_ADMIN_LIMITS.handshakeTimeoutMs, 5_000);
});

test('every limit: 1 is accepted, 0 and non-integers are refused by name', () => {
  for (const name of ADMIN_LIMIT_NAMES) {
    const one = name === 'requestTimeoutMs' ? { requestTimeoutMs: 1, headersTimeoutMs: 1 } : { [name]: 1 };
    assert.equal(resolveAdminLimits(one)[name], 1, name);
    assert.throws(() => resolveAdminLimits({ [name]: 0 }), new RegExp(name), name);
    assert.throws(() => resolveAdminLimits({ [name]: 1.5 }), new RegExp(name), name);
    assert.throws(() => resolveAdminLimits({ [name]: '10' }), new RegExp(name), name);
  }
});

test('ceilings: at the ceiling accepted, one past refused', () => {
  assert.equal(resolveAdminLimits({ maxConnections: 100_000 }).maxConnections, 100_000);
  assert.throws(() => resolveAdminLimits({ maxConnections: 100_001 }), /maxConnections/);
  assert.equal(resolveAdminLimits({ handshakeTimeoutMs: 600_000 }).handshakeTimeoutMs, 600_000);
  assert.throws(() => resolveAdminLimits({ handshakeTimeoutMs: 600_001 }), /handshakeTimeoutMs/);
});

test('headersTimeoutMs up to requestTimeoutMs; one past is refused', () => {
  assert.equal(resolveAdminLimits({ headersTimeoutMs: 30_000, requestTimeoutMs: 30_000 }).headersTimeoutMs, 30_000);
  assert.throws(() => resolveAdminLimits({ headersTimeoutMs: 30_001, requestTimeoutMs: 30_000 }), /headersTimeoutMs cannot exceed requestTimeoutMs/);
});

test('unknown keys and non-objects are refused', () => {
  assert.throws(() => resolveAdminLimits({ maxConnection: 5 }), /unknown setting governance\.adminApi\.limits\.maxConnection/);
  assert.throws(() => resolveAdminLimits([]), /must be an object/);
  assert.throws(() => resolveAdminLimits(5), /must be an object/);
});
