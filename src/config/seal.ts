/**
 * `seal.auto`: auto-unseal (docs/keystores.md "Auto-unseal"): which keystore plugin and key wrap the MasterKey, how
 * to connect to it, and where the plugin's own credentials come from (an environment variable or an owner-only
 * file, never a node secret: src/krypton/auto-seal.ts says why). The runtime types and the seal's SecretSource live
 * there; the section is validated here. Errors are MasterKeyError INVALID_CONFIG, as the rest of `seal` (master-key.ts).
 */
import { isRecord } from '../common/guards.js';
import type { AutoSealSettings, SealSecretSpec } from '../krypton/auto-seal.js';
import { MasterKeyError, NODE_SECRET_NAME_PATTERN } from '../krypton/master-key.js';

/** Plugin kinds that can wrap the MasterKey. `local` cannot: its keys are sealed by the MasterKey itself. */
export const AUTO_SEAL_PLUGINS: readonly string[] = ['pkcs11', 'aws-kms', 'azure-keyvault'];
/**
 * Environment variable names accepted for a seal secret: POSIX portable names, bounded so a config typo cannot
 * make us look up (and name in an error) arbitrary text.
 */
export const SEAL_ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Longest `file` path accepted (PATH_MAX). */
const MAX_SEAL_SECRET_PATH_CHARS = 4096;

function invalid(message: string): MasterKeyError {
  return new MasterKeyError('INVALID_CONFIG', message);
}

/** Validates `seal.auto` (undefined when absent). Unknown keys are errors: a typo must not weaken the seal. */
export function autoSealSettings(seal: Readonly<Record<string, unknown>>): AutoSealSettings | undefined {
  const a = seal['auto'];
  if (a === undefined) return undefined;
  if (!isRecord(a)) throw invalid('seal.auto must be an object {plugin, keyRef, keyVersion?, connection?, secrets?}');
  const allowed = ['plugin', 'keyRef', 'keyVersion', 'connection', 'secrets'];
  for (const k of Object.keys(a)) {
    if (!allowed.includes(k)) throw invalid(`unknown setting seal.auto.${k} (allowed: ${allowed.join(', ')})`);
  }
  const { plugin, keyRef, keyVersion, connection, secrets } = a;
  if (typeof plugin !== 'string' || !AUTO_SEAL_PLUGINS.includes(plugin)) {
    throw invalid(`seal.auto.plugin must be one of ${AUTO_SEAL_PLUGINS.join(', ')} (local cannot wrap the master key: it is sealed by it)`);
  }
  if (typeof keyRef !== 'string' || keyRef.length === 0) throw invalid('seal.auto.keyRef must be a non-empty string');
  if (keyVersion !== undefined && typeof keyVersion !== 'string') throw invalid('seal.auto.keyVersion must be a string');
  if (connection !== undefined && !isRecord(connection)) throw invalid('seal.auto.connection must be an object (the plugin\'s connection settings)');
  const specs = new Map<string, SealSecretSpec>();
  if (secrets !== undefined) {
    if (!isRecord(secrets)) throw invalid('seal.auto.secrets must be an object of secret name → {"env": VAR} or {"file": PATH}');
    for (const [name, spec] of Object.entries(secrets)) {
      const where = `seal.auto.secrets.${name}`;
      if (!NODE_SECRET_NAME_PATTERN.test(name)) throw invalid(`${where}: secret name must match ${NODE_SECRET_NAME_PATTERN.source}`);
      if (!isRecord(spec) || Object.keys(spec).length !== 1) throw invalid(`${where} must be {"env": VAR} or {"file": PATH}`);
      const env = spec['env'];
      const file = spec['file'];
      if (env !== undefined) {
        if (typeof env !== 'string' || !SEAL_ENV_NAME_PATTERN.test(env)) throw invalid(`${where}.env must match ${SEAL_ENV_NAME_PATTERN.source}`);
        specs.set(name, { env });
      } else if (file !== undefined) {
        if (typeof file !== 'string' || file.length === 0 || file.length > MAX_SEAL_SECRET_PATH_CHARS || file.includes('\0')) throw invalid(`${where}.file must be a file path`);
        specs.set(name, { file });
      } else {
        throw invalid(`${where} must be {"env": VAR} or {"file": PATH}`);
      }
    }
  }
  return { shadow: { plugin, keyRef, keyVersion: keyVersion ?? '' }, connection, secrets: specs };
}

