/**
 * `keystores`: where tenants' root keys (L1) live (docs/keystores.md): the plugins' connection settings, the
 * tenants' configured shadow references, and the default for unlisted tenants. This file is the one place the
 * section is parsed.
 *
 *   { "connections": { "pkcs11": {...}, "acme-hsm": { "kind": "pkcs11", ... }, "aws-kms": {...} },
 *     "tenants": { "<tenant>": { "plugin": "<kind>[@<connection>]", "keyRef": "...", "keyVersion": "..." } },
 *     "default": "local" | "none" }
 */
import { ConfigError } from '../common/config-error.js';
import { isRecord } from '../common/guards.js';
import { TENANT_NAME_PATTERN } from '../common/tenant-name.js';
import { parseConnections, parsePluginRef } from '../keystore/connections.js';
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
  for (const k of Object.keys(section)) {
    if (k !== 'connections' && k !== 'tenants' && k !== 'default') throw new ConfigError(`unknown setting keystores.${k} (allowed: connections, tenants, default)`);
  }
  // Named connections (issue 16 item 4, src/keystore/connections.ts); the factory parses the same section again.
  const c = section.connections ?? {};
  const parsed = parseConnections(c, (message) => new ConfigError(message));
  const connections = c as Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  const tenants: Record<string, ShadowReference> = {};
  const t = section.tenants ?? {};
  if (!isRecord(t)) throw new ConfigError('keystores.tenants must be an object of tenant → {plugin, keyRef, keyVersion?}');
  for (const [tenant, ref] of Object.entries(t)) {
    const where = `keystores.tenants.${tenant}`;
    if (!TENANT_NAME_PATTERN.test(tenant)) throw new ConfigError(`${where}: tenant name must match ${TENANT_NAME_PATTERN.source}`);
    if (!isRecord(ref)) throw new ConfigError(`${where} must be {plugin, keyRef, keyVersion?}`);
    for (const k of Object.keys(ref)) {
      if (k !== 'plugin' && k !== 'keyRef' && k !== 'keyVersion') throw new ConfigError(`unknown setting ${where}.${k} (allowed: plugin, keyRef, keyVersion)`);
    }
    const { plugin, keyRef, keyVersion } = ref;
    const pref = typeof plugin === 'string' ? parsePluginRef(plugin, KeystoreFactory.KINDS) : undefined;
    if (typeof plugin !== 'string' || pref === undefined) throw new ConfigError(`${where}.plugin must be one of ${KeystoreFactory.KINDS.join(', ')}, or <kind>@<connection>`);
    const conn = pref.connection === undefined ? undefined : parsed[pref.connection];
    if (pref.connection !== undefined && conn === undefined) throw new ConfigError(`${where}.plugin names connection '${pref.connection}', which keystores.connections does not define`);
    if (conn !== undefined && conn.kind !== pref.kind) throw new ConfigError(`${where}.plugin says ${pref.kind}, but keystores.connections.${String(pref.connection)} is of kind ${conn.kind}`);
    if (typeof keyRef !== 'string' || keyRef.length === 0) throw new ConfigError(`${where}.keyRef must be a non-empty string`);
    if (keyVersion !== undefined && typeof keyVersion !== 'string') throw new ConfigError(`${where}.keyVersion must be a string`);
    tenants[tenant] = { plugin, keyRef, keyVersion: keyVersion ?? '' };
  }
  const d = section.default ?? 'local';
  if (d !== 'local' && d !== 'none') throw new ConfigError('keystores.default must be "local" or "none"');
  return { connections, tenants, default: d };
}
