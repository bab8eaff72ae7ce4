// The one conformance suite every keystore plugin passes (STYLE.md rule 9, issue 4 deliverable 1).
// It is a function, not a *.test.ts file: each plugin's test file calls it with a harness that knows how to
// create a key at the source, revoke it there, and build a plugin with bad credentials or an unreachable source.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { KeystoreError, MAX_WRAP_KEY_BYTES, MIN_WRAP_KEY_BYTES, type HealthStatus, type KeystoreErrorCode, type KeystorePlugin } from '../../src/keystore/types.js';

export interface KeystoreFixture {
  /** A plugin over a fresh L1 key that no other fixture uses. */
  readonly plugin: KeystorePlugin;
  /** Revokes L1 at the source (delete / disable) the way a customer would. */
  revokeAtSource(): Promise<void>;
  /** Strings that are secret for this fixture (PIN, credentials) and must never appear in describe(). */
  readonly secrets: readonly string[];
}

export interface KeystoreConformanceHarness {
  /** Suite name, e.g. 'pkcs11 (SoftHSM2)'. */
  readonly name: string;
  /** The expected `kind` of the plugin. */
  readonly kind: string;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  open(): Promise<KeystoreFixture>;
  /** A plugin whose credentials are wrong (bad PIN, bad signature, bad token). */
  openWithBadCredentials(): Promise<KeystorePlugin>;
  /** A plugin whose source cannot be reached (bad module path, closed port). */
  openUnreachable(): Promise<KeystorePlugin>;
}

async function rejectsWith(promise: Promise<unknown>, code: KeystoreErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof KeystoreError, `expected KeystoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

function assertUnhealthy(status: HealthStatus, code: KeystoreErrorCode): void {
  assert.ok(!status.ok, 'health() reported ok');
  assert.equal(status.code, code, status.message);
}

export function runKeystoreConformance(harness: KeystoreConformanceHarness): void {
  describe(`keystore conformance: ${harness.name}`, () => {
    let fixture: KeystoreFixture;
    const opened: KeystorePlugin[] = [];
    const tenantA = { tenant: 'tenant-a', purpose: 'l2' };
    const tenantB = { tenant: 'tenant-b', purpose: 'l2' };

    before(async () => {
      await harness.setup?.();
      fixture = await harness.open();
      opened.push(fixture.plugin);
    });
    after(async () => {
      for (const plugin of opened) await plugin.close();
      await harness.teardown?.();
    });

    test('kind is stable', () => {
      assert.equal(fixture.plugin.kind, harness.kind);
    });

    for (const size of [16, 32, 64]) {
      test(`wrap/unwrap round trip of a ${String(size)}-byte key`, async () => {
        const key = randomBytes(size);
        const wrapped = await fixture.plugin.wrap(key, tenantA);
        assert.ok(wrapped instanceof Uint8Array);
        assert.ok(!Buffer.from(wrapped).includes(key), 'wrapped output contains the plaintext');
        const back = await fixture.plugin.unwrap(wrapped, tenantA);
        assert.deepEqual(Buffer.from(back), key);
      });
    }

    test('two wraps of the same key differ (randomised)', async () => {
      const key = randomBytes(32);
      const a = await fixture.plugin.wrap(key, tenantA);
      const b = await fixture.plugin.wrap(key, tenantA);
      assert.notDeepEqual(Buffer.from(a), Buffer.from(b));
    });

    test('tenant binding: another tenant or purpose cannot unwrap', async () => {
      const wrapped = await fixture.plugin.wrap(randomBytes(32), tenantA);
      await rejectsWith(fixture.plugin.unwrap(wrapped, tenantB), 'INVALID_CIPHERTEXT');
      await rejectsWith(fixture.plugin.unwrap(wrapped, { tenant: 'tenant-a', purpose: 'l3' }), 'INVALID_CIPHERTEXT');
      await rejectsWith(fixture.plugin.unwrap(wrapped, { tenant: 'tenant-a' }), 'INVALID_CIPHERTEXT');
    });

    test('tampered ciphertext is INVALID_CIPHERTEXT at every region', async () => {
      const wrapped = await fixture.plugin.wrap(randomBytes(32), tenantA);
      for (const index of [0, 1, Math.floor(wrapped.length / 2), wrapped.length - 1]) {
        const bad = Uint8Array.from(wrapped);
        bad[index] = (bad[index] ?? 0) ^ 0x01;
        await rejectsWith(fixture.plugin.unwrap(bad, tenantA), 'INVALID_CIPHERTEXT');
      }
      await rejectsWith(fixture.plugin.unwrap(wrapped.subarray(0, wrapped.length - 1), tenantA), 'INVALID_CIPHERTEXT');
      await rejectsWith(fixture.plugin.unwrap(new Uint8Array(0), tenantA), 'INVALID_CIPHERTEXT');
    });

    test('invalid arguments reject (never throw synchronously) with INVALID_ARGUMENT, at the limits and one past', async () => {
      const pending = fixture.plugin.wrap(new Uint8Array(0), tenantA);
      assert.ok(pending instanceof Promise);
      await rejectsWith(pending, 'INVALID_ARGUMENT');
      await fixture.plugin.wrap(randomBytes(MIN_WRAP_KEY_BYTES), tenantA);
      await fixture.plugin.wrap(randomBytes(MAX_WRAP_KEY_BYTES), tenantA);
      await rejectsWith(fixture.plugin.wrap(randomBytes(MIN_WRAP_KEY_BYTES - 1), tenantA), 'INVALID_ARGUMENT');
      await rejectsWith(fixture.plugin.wrap(randomBytes(MAX_WRAP_KEY_BYTES + 1), tenantA), 'INVALID_ARGUMENT');
      await rejectsWith(fixture.plugin.wrap(randomBytes(32), { tenant: '' }), 'INVALID_ARGUMENT');
      await rejectsWith(fixture.plugin.wrap(randomBytes(32), { tenant: 'x'.repeat(257) }), 'INVALID_ARGUMENT');
      await rejectsWith(fixture.plugin.wrap(randomBytes(32), { tenant: 'a\0b' }), 'INVALID_ARGUMENT');
    });

    test('health is ok', async () => {
      const status = await fixture.plugin.health();
      assert.equal(status.ok, true, status.ok ? '' : status.message);
      assert.equal(status.plugin, harness.kind);
    });

    test('describe carries the shadow reference and no secret', async () => {
      const description = await fixture.plugin.describe();
      assert.equal(description.shadow.plugin, harness.kind);
      assert.ok(description.shadow.keyRef.length > 0);
      assert.equal(typeof description.shadow.keyVersion, 'string');
      assert.ok(description.keySizeBits >= 128, `key size ${String(description.keySizeBits)}`);
      assert.ok(description.mechanism.length > 0);
      const text = JSON.stringify(description);
      for (const secret of fixture.secrets) assert.ok(!text.includes(secret), `describe() leaks ${secret}`);
    });

    test('50 parallel wraps and unwraps', async () => {
      const keys = Array.from({ length: 50 }, () => randomBytes(32));
      const contexts = keys.map((_, i) => ({ tenant: `tenant-${String(i % 7)}` }));
      const wrapped = await Promise.all(keys.map((k, i) => fixture.plugin.wrap(k, contexts[i] ?? tenantA)));
      const back = await Promise.all(wrapped.map((w, i) => fixture.plugin.unwrap(w, contexts[i] ?? tenantA)));
      back.forEach((b, i) => {
        assert.deepEqual(Buffer.from(b), keys[i]);
      });
    });

    test('wrong credentials are ACCESS_DENIED', async () => {
      const plugin = await harness.openWithBadCredentials();
      opened.push(plugin);
      await rejectsWith(plugin.wrap(randomBytes(32), tenantA), 'ACCESS_DENIED');
      const status = await plugin.health();
      assertUnhealthy(status, 'ACCESS_DENIED');
    });

    test('unreachable source is UNREACHABLE', async () => {
      const plugin = await harness.openUnreachable();
      opened.push(plugin);
      await rejectsWith(plugin.wrap(randomBytes(32), tenantA), 'UNREACHABLE');
      const wrapped = await fixture.plugin.wrap(randomBytes(32), tenantA);
      await rejectsWith(plugin.unwrap(wrapped, tenantA), 'UNREACHABLE');
      const status = await plugin.health();
      assertUnhealthy(status, 'UNREACHABLE');
    });

    test('revoked at the source: unwrap and health report KEY_REVOKED_OR_DISABLED', async () => {
      const own = await harness.open();
      opened.push(own.plugin);
      const key = randomBytes(32);
      const wrapped = await own.plugin.wrap(key, tenantA);
      assert.deepEqual(Buffer.from(await own.plugin.unwrap(wrapped, tenantA)), key);
      await own.revokeAtSource();
      await rejectsWith(own.plugin.unwrap(wrapped, tenantA), 'KEY_REVOKED_OR_DISABLED');
      await rejectsWith(own.plugin.wrap(key, tenantA), 'KEY_REVOKED_OR_DISABLED');
      const status = await own.plugin.health();
      assertUnhealthy(status, 'KEY_REVOKED_OR_DISABLED');
      // Other keys at the same source are untouched.
      assert.equal((await fixture.plugin.health()).ok, true);
    });

    test('close() makes further calls fail with UNREACHABLE', async () => {
      const own = await harness.open();
      await own.plugin.wrap(randomBytes(32), tenantA);
      await own.plugin.close();
      await rejectsWith(own.plugin.wrap(randomBytes(32), tenantA), 'UNREACHABLE');
    });
  });
}
