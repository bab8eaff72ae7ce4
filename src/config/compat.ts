/**
 * `compat`: client compatibility switches (issue 20): name policy per tenant, client profiles. The rules live with
 * the model they switch (src/operations/model/compat.ts compatSettings); here they are applied when the file is
 * loaded, so a bad switch stops `serve` before it listens, with a ConfigError like every other section.
 */
import { ConfigError } from '../common/config-error.js';
import { compatSettings, CompatSettingsError } from '../operations/model/compat.js';
import type { CompatSettings } from '../operations/model/compat.js';

/** Validates the `compat` section; throws ConfigError naming the bad setting. */
export function validateCompatSection(raw: unknown): CompatSettings {
  try {
    return compatSettings(raw);
  } catch (e) {
    if (e instanceof CompatSettingsError) throw new ConfigError(e.message);
    throw e;
  }
}
