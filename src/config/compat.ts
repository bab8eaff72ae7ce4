/**
 * `compat`: client compatibility switches (issue 20): name policy per tenant, client profiles. The switches and
 * what they do live with the model they switch (src/operations/model/compat.ts); the section is parsed here, when
 * the file is loaded, so a bad switch stops `serve` before it listens, with a ConfigError like every other section.
 */
import { ConfigError } from '../common/config-error.js';
import { isRecord } from '../common/guards.js';
import { CLIENT_PROFILES, DEFAULT_COMPAT_SETTINGS } from '../operations/model/compat.js';
import type { CompatSettings, NamePolicy } from '../operations/model/compat.js';

export class CompatSettingsError extends Error {
  override readonly name = 'CompatSettingsError';
}

function namePolicy(where: string, v: unknown): NamePolicy {
  if (v !== 'unique' && v !== 'shared') throw new CompatSettingsError(`${where} must be "unique" or "shared"`);
  return v;
}

/**
 * The config file's `compat` section:
 *   { "namePolicy": { "default": "unique", "tenants": { "edb": "shared" } },
 *     "clientProfiles": { "<client identity>": "pykmip" } }
 * Throws CompatSettingsError naming the bad setting.
 */
export function compatSettings(raw: unknown): CompatSettings {
  if (raw === undefined) return DEFAULT_COMPAT_SETTINGS;
  if (!isRecord(raw)) throw new CompatSettingsError('compat must be an object');
  for (const k of Object.keys(raw)) {
    if (k !== 'namePolicy' && k !== 'clientProfiles') throw new CompatSettingsError(`unknown setting compat.${k} (allowed: namePolicy, clientProfiles)`);
  }
  let policy: NamePolicy = 'unique';
  const tenants = new Map<string, NamePolicy>();
  if (raw.namePolicy !== undefined) {
    const np = raw.namePolicy;
    if (!isRecord(np)) throw new CompatSettingsError('compat.namePolicy must be an object');
    for (const k of Object.keys(np)) {
      if (k !== 'default' && k !== 'tenants') throw new CompatSettingsError(`unknown setting compat.namePolicy.${k} (allowed: default, tenants)`);
    }
    if (np.default !== undefined) policy = namePolicy('compat.namePolicy.default', np.default);
    if (np.tenants !== undefined) {
      if (!isRecord(np.tenants)) throw new CompatSettingsError('compat.namePolicy.tenants must be an object of tenant → policy');
      for (const [t, p] of Object.entries(np.tenants)) tenants.set(t, namePolicy(`compat.namePolicy.tenants[${JSON.stringify(t)}]`, p));
    }
  }
  const profiles = new Map<string, string>();
  if (raw.clientProfiles !== undefined) {
    if (!isRecord(raw.clientProfiles)) throw new CompatSettingsError('compat.clientProfiles must be an object of client identity → profile');
    for (const [identity, p] of Object.entries(raw.clientProfiles)) {
      if (typeof p !== 'string' || !Object.hasOwn(CLIENT_PROFILES, p)) {
        throw new CompatSettingsError(`compat.clientProfiles[${JSON.stringify(identity)}] must be one of ${Object.keys(CLIENT_PROFILES).join(', ')}`);
      }
      profiles.set(identity, p);
    }
  }
  return { namePolicy: policy, tenantNamePolicy: tenants, clientProfiles: profiles };
}

/** Validates the `compat` section; throws ConfigError naming the bad setting. */
export function validateCompatSection(raw: unknown): CompatSettings {
  try {
    return compatSettings(raw);
  } catch (e) {
    if (e instanceof CompatSettingsError) throw new ConfigError(e.message);
    throw e;
  }
}
