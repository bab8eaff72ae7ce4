/**
 * Named keystore connections (issue 16 item 4): customers own their HSM partitions and cloud accounts, so one
 * node needs several connections of the same kind, each with its own module, region, role and secrets.
 *
 * Config (`keystores.connections`, docs/keystores.md "Named connections"):
 *
 *   "connections": {
 *     "pkcs11":       { "modulePath": "...", "pinSecret": "hsm-pin" },                 // one-per-kind form
 *     "acme-hsm":     { "kind": "pkcs11", "modulePath": "...", "pinSecret": "acme-pin" },
 *     "initech-aws":  { "kind": "aws-kms", "region": "eu-central-1", "assumeRole": { ... } }
 *   }
 *
 * A shadow reference names its connection in its `plugin` field as `<kind>@<connection>` (`pkcs11@acme-hsm`).
 * A bare `<kind>` is the one-per-kind form: the connection of that name, or the kind's defaults when there is
 * none, so configurations and shadow references written before named connections keep working unchanged. The
 * kind is kept in the reference so that what a stored reference means never depends on the config file: a
 * connection re-pointed at another kind is refused instead of silently handing a PKCS#11 label to AWS.
 *
 * This module has no plugin imports, so the governance plane (src/cmk) may use it to validate references.
 */
import { KeystoreError } from './types.js';

/** Plugin kinds that take a connection (`local` is the MasterKey-sealed key file and takes none). */
export const CONNECTION_KINDS: readonly string[] = ['pkcs11', 'aws-kms', 'azure-keyvault'];

/** Connection names: short, lowercase, DNS-label-like, so they read well in logs, CLI flags and audit records. */
export const CONNECTION_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/u;

/** Separator between kind and connection in a shadow reference's `plugin`. */
export const CONNECTION_SEPARATOR = '@';

export interface PluginRef {
  readonly kind: string;
  /** The named connection, or undefined for the one-per-kind form. */
  readonly connection: string | undefined;
}

/** Splits `kind` or `kind@connection`; undefined when it is neither (unknown kind, bad connection name). */
export function parsePluginRef(plugin: string, kinds: readonly string[] = [...CONNECTION_KINDS, 'local']): PluginRef | undefined {
  const at = plugin.indexOf(CONNECTION_SEPARATOR);
  const kind = at < 0 ? plugin : plugin.slice(0, at);
  if (!kinds.includes(kind)) return undefined;
  if (at < 0) return { kind, connection: undefined };
  const connection = plugin.slice(at + 1);
  if (kind === 'local' || !CONNECTION_NAME_PATTERN.test(connection)) return undefined;
  return { kind, connection };
}

/** One validated connection: its kind and the settings its plugin's opener receives (without `kind`). */
export interface ConnectionSettings {
  readonly kind: string;
  readonly settings: Readonly<Record<string, unknown>>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates the `keystores.connections` section. Each error names the field (`keystores.connections.<name>.kind`)
 * through `fail`, so the config loader reports it in its own error type. Plugin-specific settings are checked when
 * the plugin opens (their openers know them), not here.
 */
export function parseConnections(raw: unknown, fail: (message: string) => Error): Readonly<Record<string, ConnectionSettings>> {
  const where = 'keystores.connections';
  if (raw === undefined) return {};
  if (!isRecord(raw)) throw fail(`${where} must be an object of connection name → {kind, ...settings}`);
  const out: Record<string, ConnectionSettings> = {};
  for (const [name, value] of Object.entries(raw)) {
    const at = `${where}.${name}`;
    if (name === 'local') throw fail(`${at}: the local keystore takes no connection`);
    if (!CONNECTION_NAME_PATTERN.test(name)) throw fail(`${at}: a connection name must match ${CONNECTION_NAME_PATTERN.source}`);
    if (!isRecord(value)) throw fail(`${at} must be an object`);
    const { kind: declared, ...settings } = value;
    const implied = CONNECTION_KINDS.includes(name) ? name : undefined;
    if (declared === undefined && implied === undefined) {
      throw fail(`${at}.kind is required for a named connection (one of ${CONNECTION_KINDS.join(', ')})`);
    }
    if (declared !== undefined && (typeof declared !== 'string' || !CONNECTION_KINDS.includes(declared))) {
      throw fail(`${at}.kind must be one of ${CONNECTION_KINDS.join(', ')}`);
    }
    if (declared !== undefined && implied !== undefined && declared !== implied) {
      throw fail(`${at}.kind is ${declared}, but a connection named after a kind must be of that kind`);
    }
    const kind = declared ?? implied;
    if (kind === undefined) throw fail(`${at}.kind is required`);
    out[name] = { kind, settings };
  }
  return out;
}

/**
 * The connection a shadow reference's `plugin` names, for the factory. A named connection that is not configured,
 * or is of another kind, is INVALID_ARGUMENT (a 4xx at registration, never a silent fallback to another one).
 */
export function resolveConnection(plugin: string, connections: Readonly<Record<string, ConnectionSettings>>, kinds: readonly string[]): ConnectionSettings & { readonly connection: string | undefined } {
  const ref = parsePluginRef(plugin, kinds);
  if (ref === undefined) {
    throw new KeystoreError('INVALID_ARGUMENT', plugin, `unknown keystore plugin '${plugin}' (known: ${kinds.join(', ')}, or <kind>@<connection>)`);
  }
  const name = ref.connection ?? ref.kind;
  const found = Object.hasOwn(connections, name) ? connections[name] : undefined;
  if (found === undefined) {
    if (ref.connection !== undefined) {
      throw new KeystoreError('INVALID_ARGUMENT', ref.kind, `no keystore connection named '${ref.connection}' in openkcm.conf keystores.connections`);
    }
    return { kind: ref.kind, settings: {}, connection: undefined };
  }
  if (found.kind !== ref.kind) {
    throw new KeystoreError('INVALID_ARGUMENT', ref.kind, `keystore connection '${name}' is of kind ${found.kind}, the reference says ${ref.kind}`);
  }
  return { ...found, connection: ref.connection };
}
