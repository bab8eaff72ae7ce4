/** `native`: the key-slot arena of src/native (docs/configuration.md, docs/security.md). */
import { checkKeys, ConfigError } from '../common/config-error.js';
import type { NativeOptions } from '../native/index.js';

/**
 * The config file's `native` section (docs/configuration.md): the key-slot arena of src/native.
 * `allowUnlocked` defaults to false — without locked memory keys can be swapped to disk, so that
 * is an explicit choice (the OPENKCM_ALLOW_UNLOCKED_MEMORY=1 environment variable also makes it).
 */
export function nativeSettings(section: Readonly<Record<string, unknown>>): NativeOptions {
  checkKeys('native', section, ['allowUnlocked', 'smallSlots', 'largeSlots', 'cacheContexts']);
  const bool = (k: 'allowUnlocked' | 'cacheContexts'): boolean | undefined => {
    const v = section[k];
    if (v !== undefined && typeof v !== 'boolean') throw new ConfigError(`native.${k} must be true or false`);
    return v;
  };
  const slots = (k: 'smallSlots' | 'largeSlots'): number | undefined => {
    const v = section[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) throw new ConfigError(`native.${k} must be a non-negative integer`);
    return v;
  };
  const allowUnlocked = bool('allowUnlocked') ?? (process.env.OPENKCM_ALLOW_UNLOCKED_MEMORY === '1');
  const cacheContexts = bool('cacheContexts');
  const smallSlots = slots('smallSlots');
  const largeSlots = slots('largeSlots');
  return {
    allowUnlocked,
    ...(cacheContexts === undefined ? {} : { cacheContexts }),
    ...(smallSlots === undefined ? {} : { smallSlots }),
    ...(largeSlots === undefined ? {} : { largeSlots }),
  };
}
