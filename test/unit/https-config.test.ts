/**
 * The kmip.https section of openkcm.conf (issue 20): off by default, validated like every other section, each limit
 * bounded (at the bound accepted, one past refused).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_HTTPS_SETTINGS, renderDefaultConfigFile, parseJsonc, validateConfigFile } from '../../src/config/index.js';
import { ConfigError } from '../../src/common/config-error.js';

describe('kmip.https configuration', () => {
  test('absent: off; listen, requestTimeoutMs and maxTextBodyBytes accepted', () => {
    assert.equal(validateConfigFile({ kmip: {} }).kmip?.https, undefined);
    const f = validateConfigFile({ kmip: { https: { listen: '127.0.0.1:5697', requestTimeoutMs: 1000, maxTextBodyBytes: 4096 } } });
    assert.deepEqual(f.kmip?.https, { listen: '127.0.0.1:5697', requestTimeoutMs: 1000, maxTextBodyBytes: 4096 });
    assert.deepEqual(DEFAULT_HTTPS_SETTINGS, { requestTimeoutMs: 30_000, maxTextBodyBytes: 8 * 1024 * 1024, maxHeaderBytes: 16 * 1024 });
  });
  test('limits: the floor and the ceiling accepted, one below and one past refused', () => {
    for (const [name, min, max] of [['requestTimeoutMs', 1, 600_000], ['maxTextBodyBytes', 1, 64 * 1024 * 1024], ['maxHeaderBytes', 1024, 1024 * 1024]] as const) {
      validateConfigFile({ kmip: { https: { [name]: min } } });
      validateConfigFile({ kmip: { https: { [name]: max } } });
      assert.throws(() => validateConfigFile({ kmip: { https: { [name]: min - 1 } } }), ConfigError);
      assert.throws(() => validateConfigFile({ kmip: { https: { [name]: max + 1 } } }), ConfigError);
    }
  });
  test('unknown keys, bad addresses and non-numbers are refused', () => {
    assert.throws(() => validateConfigFile({ kmip: { https: { port: 1 } } }), /unknown setting kmip\.https\.port/);
    assert.throws(() => validateConfigFile({ kmip: { https: { listen: 'nowhere' } } }), ConfigError);
    assert.throws(() => validateConfigFile({ kmip: { https: { requestTimeoutMs: '5' } } }), ConfigError);
  });
  test('the default config file documents the section and still parses', () => {
    const text = renderDefaultConfigFile(['t']);
    assert.match(text, /"https": \{ "listen"/);
    assert.equal(validateConfigFile(parseJsonc(text)).kmip?.https, undefined);
  });
});
