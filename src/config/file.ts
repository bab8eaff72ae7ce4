/**
 * The data directory's config file DIR/openkcm.conf that `openkcm init` writes and `openkcm serve` reads
 * (docs/configuration.md): its shape, and the validation that composes every section's own validator. Unknown keys
 * are errors (a misspelt limit must not silently fall back to its default); the `vault` section is free-form and
 * handed to the storage layer.
 */
import { ConfigError } from '../common/config-error.js';
import { isRecord } from '../common/guards.js';
import { isLogLevel } from '../common/log.js';
import type { LogLevel } from '../common/log.js';
import { validateCompatSection } from './compat.js';
import { validateIdentitySection } from './identity.js';
import type { IdentityFile } from './identity.js';
import { validateKmipSection } from './kmip.js';
import type { KmipFile } from './kmip.js';
import { section } from './parse.js';

export const CONFIG_FILE_NAME = 'openkcm.conf';

/** The config file's shape (all optional; relative paths are relative to the data directory). */
export interface ConfigFile {
  kmip?: KmipFile;
  /** `roles` / `defaultRoles` (identity → Cedar role names) are validated by src/cmk/authz parseIdentityRoles. */
  identity?: IdentityFile;
  logLevel?: LogLevel;
  /** Free-form settings of the storage layer (src/vault). */
  vault?: Record<string, unknown>;
  /** Settings of the native key-slot arena (src/native), validated by ./native.ts `nativeSettings`. */
  native?: Record<string, unknown>;
  /** How the MasterKey is unsealed (src/krypton/master-key.ts): Shamir, auto-unseal, or development file. */
  seal?: Record<string, unknown>;
  /** L1 keystores and the tenants' shadow references (src/krypton, docs/keystores.md). */
  keystores?: Record<string, unknown>;
  /** The governance plane (src/cmk): database URL, admin API listener, authentication, audit. */
  governance?: Record<string, unknown>;
  /** Client compatibility switches (src/operations/model/compat.ts): name policy per tenant, client profiles. */
  compat?: Record<string, unknown>;
}

/** Validates the parsed file against {@link ConfigFile}; throws ConfigError naming the bad setting. */
export function validateConfigFile(raw: unknown): ConfigFile {
  const top = section('config', raw, ['kmip', 'identity', 'logLevel', 'vault', 'native', 'seal', 'keystores', 'governance', 'compat']);
  const out: ConfigFile = {};
  if (top.kmip !== undefined) out.kmip = validateKmipSection(top.kmip);
  if (top.identity !== undefined) out.identity = validateIdentitySection(top.identity);
  if (top.logLevel !== undefined) {
    if (typeof top.logLevel !== 'string' || !isLogLevel(top.logLevel)) throw new ConfigError('logLevel must be one of debug, info, warn, error');
    out.logLevel = top.logLevel;
  }
  if (top.vault !== undefined) {
    if (!isRecord(top.vault)) throw new ConfigError('vault must be an object');
    out.vault = top.vault;
  }
  if (top.compat !== undefined) {
    // Client compatibility switches (issue 20): validated here so a bad one stops `serve` before it listens.
    validateCompatSection(top.compat);
    out.compat = top.compat as Record<string, unknown>;
  }
  // Free-form sections, each validated by the module that owns it.
  for (const section of ['native', 'seal', 'keystores', 'governance'] as const) {
    const v = top[section];
    if (v === undefined) continue;
    if (!isRecord(v)) throw new ConfigError(`${section} must be an object`);
    out[section] = v;
  }
  return out;
}
