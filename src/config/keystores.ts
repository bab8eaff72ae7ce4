/**
 * `keystores`: where tenants' root keys (L1) live (docs/keystores.md): the plugins' connection settings, the
 * tenants' configured shadow references, and the default for unlisted tenants. This file is the one place the
 * section is parsed.
 *
 *   { "connections": { "pkcs11": {...}, "aws-kms": {...}, "azure-keyvault": {...} },
 *     "tenants": { "<tenant>": { "plugin": "...", "keyRef": "...", "keyVersion": "..." } },
 *     "default": "local" | "none" }
 */
import { checkKeys, ConfigError } from '../common/config-error.js';
import { isRecord } from '../common/guards.js';
import { TENANT_NAME_PATTERN } from '../common/tenant-name.js';
import { KeystoreFactory } from '../keystore/factory.js';
import type { ShadowReference } from '../keystore/types.js';

export interface KeystoresSettings {
  readonly connections: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly tenants: Readonly<Record<string, ShadowReference>>;
  /** Plugin for tenants not listed: 'local' (embedded default) or 'none' (refuse them). */
  readonly default: 'local' | 'none';
}

/** Validates the config file's `keystores` section; every unknown key is a ConfigError naming it. */
export function keystoresSettings(section: Readonly<Record<string, unknown>>): KeystoresSettings {
  checkKeys('keystores', section, ['connections', 'tenants', 'default']);
  const connections: Record<string, Readonly<Record<string, unknown>>> = {};
  const c = section.connections ?? {};
  if (!isRecord(c)) throw new ConfigError('keystores.connections must be an object of plugin kind → settings');
  for (const [kind, settings] of Object.entries(c)) {
    if (kind === 'local' || !KeystoreFactory.KINDS.includes(kind)) {
      throw new ConfigError(`unknown keystore connection kind keystores.connections.${kind} (allowed: ${KeystoreFactory.KINDS.filter((x) => x !== 'local').join(', ')})`);
    }
    if (!isRecord(settings)) throw new ConfigError(`keystores.connections.${kind} must be an object`);
    connections[kind] = settings;
  }
  const tenants: Record<string, ShadowReference> = {};
  const t = section.tenants ?? {};
  if (!isRecord(t)) throw new ConfigError('keystores.tenants must be an object of tenant → {plugin, keyRef, keyVersion?}');
  for (const [tenant, ref] of Object.entries(t)) {
    const where = `keystores.tenants.${tenant}`;
    if (!TENANT_NAME_PATTERN.test(tenant)) throw new ConfigError(`${where}: tenant name must match ${TENANT_NAME_PATTERN.source}`);
    if (!isRecord(ref)) throw new ConfigError(`${where} must be {plugin, keyRef, keyVersion?}`);
    checkKeys(where, ref, ['plugin', 'keyRef', 'keyVersion']);
    const { plugin, keyRef, keyVersion } = ref;
    if (typeof plugin !== 'string' || !KeystoreFactory.KINDS.includes(plugin)) throw new ConfigError(`${where}.plugin must be one of ${KeystoreFactory.KINDS.join(', ')}`);
    if (typeof keyRef !== 'string' || keyRef.length === 0) throw new ConfigError(`${where}.keyRef must be a non-empty string`);
    if (keyVersion !== undefined && typeof keyVersion !== 'string') throw new ConfigError(`${where}.keyVersion must be a string`);
    tenants[tenant] = { plugin, keyRef, keyVersion: keyVersion ?? '' };
  }
  const d = section.default ?? 'local';
  if (d !== 'local' && d !== 'none') throw new ConfigError('keystores.default must be "local" or "none"');
  return { connections, tenants, default: d };
}
