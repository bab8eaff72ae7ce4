/**
 * The DEK cache (src/operations/model/key-cache.ts): bounded LRU of native SecureKeys that
 * destroys (zeroises) a key on every way out — eviction, explicit evict, a changed record
 * version, clear.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyCache } from '../../src/operations/model/key-cache.js';

const material = (b: number): Uint8Array => new Uint8Array(16).fill(b);

describe('KeyCache', () => {
  test('put imports (and wipes the caller\'s bytes); peek returns the same live key', () => {
    const c = new KeyCache(4);
    const m = material(7);
    const k = c.put('t', 'u1', 1, m);
    assert.deepEqual(m, new Uint8Array(16), 'the material handed in is wiped');
    assert.equal(c.peek('t', 'u1', 1), k);
    assert.equal(k.destroyed, false);
    assert.equal(c.peek('other-tenant', 'u1', 1), undefined, 'keyed by tenant too');
    c.clear();
  });

  test('the least recently used key is destroyed when full', () => {
    const c = new KeyCache(2);
    const a = c.put('t', 'a', 1, material(1));
    const b = c.put('t', 'b', 1, material(2));
    assert.equal(c.peek('t', 'a', 1), a); // a is now the most recently used
    const d = c.put('t', 'd', 1, material(3));
    assert.equal(b.destroyed, true);
    assert.equal(a.destroyed, false);
    assert.equal(c.size, 2);
    assert.equal(c.peek('t', 'b', 1), undefined);
    c.clear();
    assert.deepEqual([a, d].map((k) => k.destroyed), [true, true]);
    assert.equal(c.size, 0);
  });

  test('a different record version, evict, and a re-put destroy the old key', () => {
    const c = new KeyCache(4);
    const k1 = c.put('t', 'u', 1, material(1));
    assert.equal(c.peek('t', 'u', 2), undefined);
    assert.equal(k1.destroyed, true);
    const k2 = c.put('t', 'u', 2, material(2));
    const k3 = c.put('t', 'u', 2, material(3));
    assert.equal(k2.destroyed, true);
    c.evict('t', 'u');
    assert.equal(k3.destroyed, true);
    assert.equal(c.size, 0);
  });

  test('evictTenant destroys every key of one tenant and no other (kill-switch)', () => {
    const c = new KeyCache(8);
    const a1 = c.put('acme', 'u1', 1, material(1));
    const a2 = c.put('acme', 'u2', 1, material(2));
    const b1 = c.put('acme2', 'u1', 1, material(3));
    const b2 = c.put('other', 'acme', 1, material(4));
    assert.equal(c.evictTenant('acme'), 2);
    assert.deepEqual([a1, a2, b1, b2].map((k) => k.destroyed), [true, true, false, false]);
    assert.equal(c.size, 2);
    assert.equal(c.evictTenant('acme'), 0);
    c.clear();
  });

  test('maxEntries must be a positive integer', () => {
    assert.throws(() => new KeyCache(0), RangeError);
  });
});
