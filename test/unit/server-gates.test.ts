/**
 * The KMIP gates (src/server/gates.ts) and the hierarchy's config sections (src/appliance/hierarchy.ts
 * keystoresSettings, src/appliance/kmip-app.ts vault.kek): a sealed node refuses everything but Discover Versions and
 * Query, a revoked tenant gets TENANT_REVOKED, gates compose (first refusal wins), and bad settings are named.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KmipError } from '../../src/kmip/errors.js';
import { Operation } from '../../src/kmip/registry.js';
import { vaultSettings } from '../../src/config/index.js';
import { ConfigError } from '../../src/common/config-error.js';
import { composeGates, sealedGate, tenantStateGate } from '../../src/server/gates.js';
import { localKeyNameFor } from '../../src/appliance/hierarchy.js';
import { keystoresSettings } from '../../src/config/index.js';

const alice = { identity: 'alice', tenant: 'alice' };
const bob = { identity: 'bob', tenant: 'bob' };

async function refusal(p: () => void | Promise<void>): Promise<string | undefined> {
  try {
    await p();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof KmipError);
    return e.code;
  }
}

describe('gates', () => {
  test('sealed: every operation but Discover Versions and Query answers SERVER_SEALED; unsealed: nothing', async () => {
    let sealed = true;
    const gate = sealedGate(() => sealed);
    for (const op of [Operation.Create, Operation.Get, Operation.Encrypt, Operation.Locate, Operation.ReKey]) {
      assert.equal(await refusal(() => gate(alice, op, '2.1')), 'SERVER_SEALED');
    }
    assert.equal(await refusal(() => gate(alice, Operation.DiscoverVersions, '1.4')), undefined);
    assert.equal(await refusal(() => gate(alice, Operation.Query, '1.4')), undefined);
    sealed = false;
    assert.equal(await refusal(() => gate(alice, Operation.Get, '2.1')), undefined);
  });

  test('a revoked tenant gets TENANT_REVOKED, another tenant passes', async () => {
    const gate = tenantStateGate((t) => t === 'alice');
    assert.equal(await refusal(() => gate(alice, Operation.Get, '2.1')), 'TENANT_REVOKED');
    assert.equal(await refusal(() => gate(alice, Operation.Query, '2.1')), undefined);
    assert.equal(await refusal(() => gate(bob, Operation.Get, '2.1')), undefined);
  });

  test('composeGates runs in order, first refusal wins, undefined gates are skipped', async () => {
    const seen: string[] = [];
    const g = composeGates(
      undefined,
      () => { seen.push('a'); },
      () => { seen.push('b'); throw new KmipError('PERMISSION_DENIED', 'no'); },
      () => { seen.push('c'); },
    );
    assert.ok(g !== undefined);
    assert.equal(await refusal(() => g(alice, Operation.Get, '2.1')), 'PERMISSION_DENIED');
    assert.deepEqual(seen, ['a', 'b']);
    assert.equal(composeGates(undefined), undefined);
  });
});

describe('hierarchy settings', () => {
  test('keystores: defaults, a full section, and each bad setting named', () => {
    assert.deepEqual(keystoresSettings({}), { connections: {}, tenants: {}, default: 'local' });
    const full = keystoresSettings({
      connections: { pkcs11: { modulePath: '/m.so', pinSecret: 'p' } },
      tenants: { acme: { plugin: 'pkcs11', keyRef: 'token=t;object=o' } },
      default: 'none',
    });
    assert.deepEqual(full.tenants, { acme: { plugin: 'pkcs11', keyRef: 'token=t;object=o', keyVersion: '' } });
    assert.equal(full.default, 'none');
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ plugins: {} }, /keystores\.plugins/],
      [{ connections: { gcp: {} } }, /connections\.gcp/],
      [{ connections: { local: {} } }, /connections\.local/],
      [{ connections: { pkcs11: 'x' } }, /connections\.pkcs11 must be an object/],
      [{ tenants: { 'bad name': { plugin: 'local', keyRef: 'local:x' } } }, /tenant name/],
      [{ tenants: { acme: { plugin: 'nope', keyRef: 'x' } } }, /acme\.plugin/],
      [{ tenants: { acme: { plugin: 'local', keyRef: '' } } }, /acme\.keyRef/],
      [{ tenants: { acme: { plugin: 'local', keyRef: 'local:a', extra: 1 } } }, /acme\.extra/],
      [{ default: 'aws-kms' }, /keystores\.default/],
    ];
    for (const [section, why] of bad) assert.throws(() => keystoresSettings(section), (e: unknown) => e instanceof ConfigError && why.test(e.message), why.source);
  });

  test('vault.kek is "hierarchy" by default, or "dev"; anything else is refused', () => {
    assert.equal(vaultSettings({}).kek, 'hierarchy');
    assert.equal(vaultSettings({ kek: 'dev' }).kek, 'dev');
    assert.throws(() => vaultSettings({ kek: 'none' }), ConfigError);
  });

  test('local L1 key names: the tenant name when it is a valid key name, else a hash', () => {
    assert.equal(localKeyNameFor('acme'), 'acme');
    assert.match(localKeyNameFor('acme.eu'), /^t-[0-9a-f]{32}$/);
    assert.notEqual(localKeyNameFor('acme.eu'), localKeyNameFor('acme.us'));
  });
});
