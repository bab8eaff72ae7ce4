/**
 * Client compatibility switches (issue 20, src/operations/model/compat.ts): the config section's validation, the name
 * policy lookup and the client-profile trimming table. PyKMIP itself drives them in test/interop/pykmip-compat.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { CLIENT_PROFILES, compatSettings, CompatSettingsError, namePolicyOf, trimAllAttributes } from '../../src/operations/model/compat.js';
import { validateConfigFile } from '../../src/config/index.js';
import { ConfigError } from '../../src/common/config-error.js';

describe('compat settings', () => {
  test('absent: spec-strict (unique names, no profile)', () => {
    const s = compatSettings(undefined);
    assert.equal(namePolicyOf(s, { identity: 'a', tenant: 'a' }), 'unique');
    assert.equal(namePolicyOf(undefined, { identity: 'a', tenant: 'a' }), 'unique');
  });
  test('per-tenant name policy over the default', () => {
    const s = compatSettings({ namePolicy: { default: 'shared', tenants: { strict: 'unique' } } });
    assert.equal(namePolicyOf(s, { identity: 'x', tenant: 'strict' }), 'unique');
    assert.equal(namePolicyOf(s, { identity: 'x', tenant: 'other' }), 'shared');
  });
  test('bad settings are refused with the setting named, also by the config file validator', () => {
    for (const bad of [[], { namePolicy: { default: 'loose' } }, { namePolicy: { tenants: { t: 1 } } }, { clientProfiles: { id: 'nokmip' } }, { other: 1 }, { namePolicy: { x: 1 } }]) {
      assert.throws(() => compatSettings(bad), CompatSettingsError, JSON.stringify(bad));
      assert.throws(() => validateConfigFile({ compat: bad }), ConfigError, JSON.stringify(bad));
    }
    assert.deepEqual(validateConfigFile({ compat: { clientProfiles: { 'spiffe://x/edb': 'pykmip' } } }).compat, { clientProfiles: { 'spiffe://x/edb': 'pykmip' } });
  });
});

describe('the pykmip client profile', () => {
  const attrs = [
    makeAttribute('Unique Identifier', 'k'), makeAttribute('State', 1), makeAttribute('Original Creation Date', new Date(0)),
    makeAttribute('Always Sensitive', false), makeAttribute('Key Format Type', 1), makeAttribute('Certificate Type', 1),
  ];
  const s = compatSettings({ clientProfiles: { edb: 'pykmip' } });
  test('an all-attributes answer keeps only what PyKMIP 0.10 decodes, per version', () => {
    assert.deepEqual(trimAllAttributes(s, { identity: 'edb', tenant: 't' }, '1.4', attrs).map((a) => a.name), ['Unique Identifier', 'State', 'Certificate Type']);
    assert.deepEqual(trimAllAttributes(s, { identity: 'edb', tenant: 't' }, '2.0', attrs).map((a) => a.name), ['Unique Identifier', 'State']);
  });
  test('other identities are not trimmed', () => {
    assert.equal(trimAllAttributes(s, { identity: 'someone', tenant: 't' }, '1.4', attrs).length, attrs.length);
  });
  test('x- custom attributes decode at 1.x only', () => {
    const p = CLIENT_PROFILES.pykmip;
    assert.ok(p !== undefined);
    assert.equal(p.decodes('x-Product', '1.2'), true);
    assert.equal(p.decodes('x-Product', '2.0'), false);
  });
});
