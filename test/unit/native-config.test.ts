/**
 * The config file's `native` section (docs/configuration.md): validated strictly, and locked
 * key memory is the default — running without it must be asked for.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeSettings } from '../../src/config/index.js';
import { parseJsonc, renderDefaultConfigFile, validateConfigFile } from '../../src/config/index.js';
import { ConfigError } from '../../src/common/config-error.js';

describe('native settings', () => {
  test('allowUnlocked defaults to false (unless OPENKCM_ALLOW_UNLOCKED_MEMORY=1); an explicit false wins over the variable', () => {
    const saved = process.env.OPENKCM_ALLOW_UNLOCKED_MEMORY;
    try {
      delete process.env.OPENKCM_ALLOW_UNLOCKED_MEMORY;
      assert.deepEqual(nativeSettings({}), { allowUnlocked: false });
      process.env.OPENKCM_ALLOW_UNLOCKED_MEMORY = '1';
      assert.deepEqual(nativeSettings({}), { allowUnlocked: true });
      assert.deepEqual(nativeSettings({ allowUnlocked: false }), { allowUnlocked: false });
    } finally {
      if (saved === undefined) delete process.env.OPENKCM_ALLOW_UNLOCKED_MEMORY;
      else process.env.OPENKCM_ALLOW_UNLOCKED_MEMORY = saved;
    }
  });

  test('slot counts and cacheContexts pass through; unknown keys and wrong types are refused', () => {
    assert.deepEqual(nativeSettings({ allowUnlocked: true, smallSlots: 100, largeSlots: 0, cacheContexts: false }),
      { allowUnlocked: true, smallSlots: 100, largeSlots: 0, cacheContexts: false });
    assert.throws(() => nativeSettings({ allowUnlocke: true }), ConfigError);
    assert.throws(() => nativeSettings({ allowUnlocked: 'yes' }), ConfigError);
    assert.throws(() => nativeSettings({ smallSlots: -1 }), ConfigError);
  });

  test('the config file accepts a native object, and openkcm init writes allowUnlocked false', () => {
    assert.deepEqual(validateConfigFile({ native: { allowUnlocked: true } }).native, { allowUnlocked: true });
    assert.throws(() => validateConfigFile({ native: true }), ConfigError);
    const file = validateConfigFile(parseJsonc(renderDefaultConfigFile(['default'])));
    assert.deepEqual(file.native, { allowUnlocked: false });
  });
});
