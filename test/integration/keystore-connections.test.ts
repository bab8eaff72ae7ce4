/**
 * Named keystore connections (issue 16 item 4; src/keystore/connections.ts): `keystores.connections.<name>` with a
 * `kind`, a shadow reference naming its connection as `<kind>@<name>`, the one-per-kind form kept working.
 *
 * Real components: two SoftHSM2 tokens stand in for two customers' HSM partitions, each with its own user PIN held
 * in its own node secret, and an L1 key with the SAME label in both. Each tenant's keys are wrapped through its own
 * connection and cannot be opened through the other. Config validation names the field it refuses.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { checkShadowReference } from '../../src/cmk/repository/index.js';
import { GovernanceError } from '../../src/cmk/errors.js';
import { CONNECTION_NAME_PATTERN, parsePluginRef } from '../../src/keystore/connections.js';
import { KeystoreFactory } from '../../src/keystore/factory.js';
import { KeystoreError } from '../../src/keystore/types.js';
import type { SecretSource } from '../../src/keystore/types.js';
import { ConfigError } from '../../src/common/config-error.js';
import { keystoresSettings } from '../../src/config/index.js';
import { generateL1Key, initToken, setupSoftHsm } from '../helpers/softhsm.js';
import type { SoftHsm } from '../helpers/softhsm.js';

const hsm: SoftHsm = setupSoftHsm();
const PIN_A = '11112222';
const PIN_B = '33334444';
initToken(hsm, 'partition-a', PIN_A);
initToken(hsm, 'partition-b', PIN_B);
generateL1Key(hsm, 'partition-a', 'l1', PIN_A);
generateL1Key(hsm, 'partition-b', 'l1', PIN_B);

after(() => { hsm.cleanup(); });

function configError(re: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof ConfigError && re.test(e.message);
}

describe('named keystore connections', () => {
  test('two HSM partitions through two named connections, each with its own PIN secret', async () => {
    const asked: string[] = [];
    const pins = new Map([['acme-pin', PIN_A], ['initech-pin', PIN_B]]);
    const secrets: SecretSource = {
      get: (name) => {
        asked.push(name);
        const pin = pins.get(name);
        return pin === undefined ? Promise.reject(new Error(`no secret ${name}`)) : Promise.resolve(Buffer.from(pin));
      },
    };
    const settings = keystoresSettings({
      connections: {
        'acme-hsm': { kind: 'pkcs11', modulePath: hsm.modulePath, pinSecret: 'acme-pin' },
        'initech-hsm': { kind: 'pkcs11', modulePath: hsm.modulePath, pinSecret: 'initech-pin' },
      },
      tenants: { acme: { plugin: 'pkcs11@acme-hsm', keyRef: 'token=partition-a;object=l1' } },
    });
    const f = new KeystoreFactory({ connections: settings.connections, secrets });
    try {
      const acme = await f.keystoreFor({ plugin: 'pkcs11@acme-hsm', keyRef: 'token=partition-a;object=l1', keyVersion: '' });
      const initech = await f.keystoreFor({ plugin: 'pkcs11@initech-hsm', keyRef: 'token=partition-b;object=l1', keyVersion: '' });
      assert.notEqual(acme, initech);
      assert.deepEqual(asked, ['acme-pin', 'initech-pin']);
      const key = new Uint8Array(32).fill(7);
      const wrapped = await acme.wrap(key, { tenant: 't', purpose: 'l2' });
      assert.deepEqual(await acme.unwrap(wrapped, { tenant: 't', purpose: 'l2' }), key);
      // Same label, other partition: another key, so the blob does not open.
      await assert.rejects(initech.unwrap(wrapped, { tenant: 't', purpose: 'l2' }), (e: unknown) => e instanceof KeystoreError && e.code === 'INVALID_CIPHERTEXT');
      // A connection that is not configured, or of another kind, is refused, never replaced by another one.
      await assert.rejects(f.keystoreFor({ plugin: 'pkcs11@nowhere', keyRef: 'token=partition-a;object=l1', keyVersion: '' }),
        (e: unknown) => e instanceof KeystoreError && e.code === 'INVALID_ARGUMENT' && /no keystore connection named 'nowhere'/.test(e.message));
      await assert.rejects(f.keystoreFor({ plugin: 'aws-kms@acme-hsm', keyRef: 'arn:x', keyVersion: '' }),
        (e: unknown) => e instanceof KeystoreError && e.code === 'INVALID_ARGUMENT' && /'acme-hsm' is of kind pkcs11, the reference says aws-kms/.test(e.message));
    } finally {
      await f.close();
    }
  });

  test('the one-per-kind form keeps working: plugin "pkcs11" uses keystores.connections.pkcs11', async () => {
    const secrets: SecretSource = { get: () => Promise.resolve(Buffer.from(PIN_B)) };
    const f = new KeystoreFactory({ connections: keystoresSettings({ connections: { pkcs11: { modulePath: hsm.modulePath, pinSecret: 'p' } } }).connections, secrets });
    try {
      const p = await f.keystoreFor({ plugin: 'pkcs11', keyRef: 'token=partition-b;object=l1', keyVersion: '' });
      assert.equal((await p.health()).ok, true);
    } finally {
      await f.close();
    }
    // A connection named after a kind may say its kind, but not another one.
    keystoresSettings({ connections: { pkcs11: { kind: 'pkcs11', modulePath: 'x', pinSecret: 'p' } } });
  });

  test('config validation names the field it refuses', () => {
    for (const [section, re] of [
      [{ connections: { 'acme-hsm': { modulePath: 'x' } } }, /keystores\.connections\.acme-hsm\.kind is required for a named connection/],
      [{ connections: { 'acme-hsm': { kind: 'hsm' } } }, /keystores\.connections\.acme-hsm\.kind must be one of pkcs11, aws-kms, azure-keyvault/],
      [{ connections: { pkcs11: { kind: 'aws-kms' } } }, /keystores\.connections\.pkcs11\.kind is aws-kms, but a connection named after a kind must be of that kind/],
      [{ connections: { Acme_HSM: { kind: 'pkcs11' } } }, /keystores\.connections\.Acme_HSM: a connection name must match/],
      [{ connections: { local: {} } }, /keystores\.connections\.local: the local keystore takes no connection/],
      [{ connections: { 'acme-hsm': 'pkcs11' } }, /keystores\.connections\.acme-hsm must be an object/],
      [{ connections: [] }, /keystores\.connections must be an object/],
      [{ tenants: { acme: { plugin: 'pkcs11@acme-hsm', keyRef: 'k' } } }, /keystores\.tenants\.acme\.plugin names connection 'acme-hsm', which keystores\.connections does not define/],
      [{ connections: { 'acme-aws': { kind: 'aws-kms' } }, tenants: { acme: { plugin: 'pkcs11@acme-aws', keyRef: 'k' } } }, /keystores\.tenants\.acme\.plugin says pkcs11, but keystores\.connections\.acme-aws is of kind aws-kms/],
      [{ tenants: { acme: { plugin: 'local@x', keyRef: 'k' } } }, /keystores\.tenants\.acme\.plugin must be one of .*<kind>@<connection>/],
    ] as const) {
      assert.throws(() => keystoresSettings(section), configError(re), re.source);
    }
  });

  test('connection names: 63 characters accepted, 64 refused; the governance plane validates <kind>@<connection>', () => {
    const longest = `a${'b'.repeat(62)}`;
    assert.ok(CONNECTION_NAME_PATTERN.test(longest));
    assert.ok(!CONNECTION_NAME_PATTERN.test(`${longest}c`));
    assert.deepEqual(parsePluginRef(`pkcs11@${longest}`), { kind: 'pkcs11', connection: longest });
    assert.equal(parsePluginRef(`pkcs11@${longest}c`), undefined);
    assert.deepEqual(checkShadowReference({ plugin: 'pkcs11@acme-hsm', keyRef: 'token=a;object=b', keyVersion: '' }).plugin, 'pkcs11@acme-hsm');
    for (const plugin of ['pkcs11@', 'pkcs11@Acme', 'local@x', 'hsm@acme']) {
      assert.throws(() => checkShadowReference({ plugin, keyRef: 'token=a;object=b', keyVersion: '' }), (e: unknown) => e instanceof GovernanceError && /shadow\.plugin must be one of/.test(e.message), plugin);
    }
    // The key format is the kind's: an ARN is not a PKCS#11 reference through any connection.
    assert.throws(() => checkShadowReference({ plugin: 'pkcs11@acme-hsm', keyRef: 'arn:aws:kms:eu-central-1:111122223333:key/x', keyVersion: '' }), GovernanceError);
  });
});
