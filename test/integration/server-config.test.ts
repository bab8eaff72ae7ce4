/**
 * Configuration and identity helpers of the server core: the JSON-with-comments config file
 * (src/config/), limit validation, listen addresses, and certificate identity →
 * tenant (src/server/identity.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SERVER_LIMITS, parseJsonc, parseListen, formatListen, renderDefaultConfigFile, resolveServerLimits, validateConfigFile } from '../../src/config/index.js';
import { ConfigError } from '../../src/common/config-error.js';
import { IdentityError, principalOf, tenantOf } from '../../src/server/identity.js';
import { certCommonName, certSanUris } from '../../src/common/x509.js';
import { autoSealSettings } from '../../src/krypton/auto-seal.js';
import { resolveSealSettings } from '../../src/krypton/master-key.js';
import { keystoresSettings } from '../../src/config/index.js';

describe('config file (JSONC)', () => {
  test('comments and trailing commas are accepted; string contents are untouched', () => {
    const text = `// top comment
    {
      /* block
         comment */
      "a": "http://x//y", // trailing comment
      "b": "/* not a comment */",
      "c": "quote \\" and , }",
      "d": [1, 2, ],
    }`;
    assert.deepEqual(parseJsonc(text), { a: 'http://x//y', b: '/* not a comment */', c: 'quote " and , }', d: [1, 2] });
  });

  test('the file init writes is valid and equals the defaults', () => {
    const parsed = validateConfigFile(parseJsonc(renderDefaultConfigFile(['alice', 'bob'])));
    assert.deepEqual(parsed.kmip?.limits, { ...DEFAULT_SERVER_LIMITS });
    assert.deepEqual(parsed.identity?.tenants, { alice: 'alice', bob: 'bob' });
    assert.equal(parsed.kmip.listen, '127.0.0.1:5696');
  });

  test('the rendered seal and keystores sections are valid and equal the defaults (the HSM examples are comments)', () => {
    const parsed = validateConfigFile(parseJsonc(renderDefaultConfigFile(['alice'])));
    assert.deepEqual(parsed.seal, { allowDev: true });
    assert.deepEqual(resolveSealSettings(parsed.seal ?? {}), resolveSealSettings({}));
    assert.equal(autoSealSettings(parsed.seal ?? {}), undefined);
    assert.deepEqual(keystoresSettings(parsed.keystores ?? {}), keystoresSettings({}));
    // The commented examples (lines `  //   ...`), un-commented, are valid settings too: they cannot drift.
    const groups: string[][] = [];
    let prev = false;
    for (const line of renderDefaultConfigFile([]).split('\n')) {
      const m = /^ {2}\/\/ {3}(.*)$/.exec(line);
      if (m !== null && !prev) groups.push([]);
      if (m !== null) groups[groups.length - 1]?.push(m[1] ?? '');
      prev = m !== null;
    }
    assert.equal(groups.length, 2);
    const seal = parseJsonc(`{${(groups[0] ?? []).join('\n')}}`) as Record<string, unknown>;
    assert.equal(autoSealSettings(seal)?.shadow.plugin, 'pkcs11');
    const ks = keystoresSettings(parseJsonc(`{${(groups[1] ?? []).join('\n')}}`) as Record<string, unknown>);
    assert.equal(ks.tenants['acme']?.plugin, 'pkcs11');
  });

  test('unknown settings and bad values are errors naming the setting', () => {
    assert.throws(() => validateConfigFile({ kmip: { limits: { maxConections: 5 } } }), /kmip\.limits\.maxConections/);
    assert.throws(() => validateConfigFile({ kmip: { limits: { maxConnections: 0 } } }), /maxConnections/);
    assert.throws(() => validateConfigFile({ kmip: { limits: { maxConnections: '5' } } }), /kmip\.limits\.maxConnections must be a number/);
    assert.throws(() => validateConfigFile({ identity: { tenants: { x: '../evil' } } }), /identity\.tenants/);
    assert.throws(() => validateConfigFile({ kmip: { tls: { minVersion: 'TLSv1.1' } } }), /minVersion/);
    assert.throws(() => validateConfigFile({ logLevel: 'loud' }), /logLevel/);
    assert.throws(() => parseJsonc('{ /* open'), ConfigError);
    assert.throws(() => parseJsonc('{ "a": }'), ConfigError);
  });

  test('limits: at the ceiling accepted, one past refused; concurrency cannot exceed the in-flight cap', () => {
    assert.equal(resolveServerLimits({ maxConnections: 1_000_000 }).maxConnections, 1_000_000);
    assert.throws(() => resolveServerLimits({ maxConnections: 1_000_001 }), ConfigError);
    assert.throws(() => resolveServerLimits({ maxConcurrentPerConnection: 8, maxInFlightPerConnection: 4 }), /cannot exceed/);
    assert.throws(() => resolveServerLimits({ idleTimeoutMs: 1.5 }), ConfigError);
  });

  test('listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:5696'), { host: '127.0.0.1', port: 5696 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen('localhost:1'), { host: 'localhost', port: 1 });
    assert.equal(formatListen({ host: '::1', port: 5 }), '[::1]:5');
    for (const bad of ['5696', '127.0.0.1', '127.0.0.1:65536', ':5696', '[nope]:1', 'a:b']) {
      assert.throws(() => parseListen(bad), ConfigError, bad);
    }
  });
});

describe('identity', () => {
  test('CN and SAN URIs from a peer certificate', () => {
    assert.equal(certCommonName({ subject: { CN: 'alice' } }), 'alice');
    // Issue 15 item 8: two CNs are ambiguous, not "the last one wins".
    assert.equal(certCommonName({ subject: { CN: ['a', 'b'] } }), undefined);
    assert.throws(() => principalOf({ subject: { CN: ['a', 'b'] }, subjectaltname: 'URI:spiffe://e.org/a' }, { source: 'uri-or-cn', tenants: { 'spiffe://e.org/a': 'acme' } }), /more than one subject CN/);
    assert.equal(certCommonName({ subject: {} }), undefined);
    assert.deepEqual(certSanUris({ subjectaltname: 'DNS:x, URI:spiffe://e.org/a, IP Address:1.2.3.4, URI:"urn:x, y"' }), ['spiffe://e.org/a', 'urn:x, y']);
    assert.deepEqual(certSanUris({ subjectaltname: '' }), []);
  });

  test('tenant mapping: explicit map first, then same-name (validated) or reject', () => {
    const cfg = { tenants: { 'spiffe://e.org/a': 'acme' }, unmapped: 'same-name' as const };
    assert.equal(tenantOf('spiffe://e.org/a', cfg), 'acme');
    assert.equal(tenantOf('bob', cfg), 'bob');
    assert.throws(() => tenantOf('spiffe://e.org/b', cfg), IdentityError, 'a URI is not a tenant name');
    assert.throws(() => tenantOf('__proto__', { tenants: {}, unmapped: 'reject' }), IdentityError);
    assert.throws(() => tenantOf('bob', { ...cfg, unmapped: 'reject' }), IdentityError);
  });

  test('identity source', () => {
    const cert = { subject: { CN: 'cn-name' } as never, subjectaltname: 'URI:spiffe://e.org/a' };
    const map = { tenants: { 'spiffe://e.org/a': 'acme' }, unmapped: 'same-name' as const };
    assert.deepEqual(principalOf(cert, { source: 'cn', ...map }), { identity: 'cn-name', tenant: 'cn-name' });
    assert.deepEqual(principalOf(cert, { source: 'uri', ...map }), { identity: 'spiffe://e.org/a', tenant: 'acme' });
    assert.deepEqual(principalOf(cert, { source: 'uri-or-cn', ...map }), { identity: 'spiffe://e.org/a', tenant: 'acme' });
    assert.throws(() => principalOf({ subject: { CN: 'x' }, subjectaltname: 'DNS:x' }, { source: 'uri', ...map }), /no SAN URI/);
  });
});
