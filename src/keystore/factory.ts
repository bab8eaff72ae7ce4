/**
 * The app's keystore factory (contracts.md "Keystore plugins"; ARCHITECTURE §2): turns a tenant's L1 shadow
 * reference into an OPEN plugin, dispatching on `shadow.plugin`:
 *
 *   pkcs11          → openPkcs11Keystore (below: the adapter from connection settings to Pkcs11KeystoreConfig)
 *   aws-kms         → openAwsKmsKeystore        (src/keystore/aws-kms.ts)
 *   azure-keyvault  → openAzureKeyVaultKeystore (src/keystore/azure-keyvault.ts)
 *   local           → createLocalKeystoreFactory(masterKey, dataDir) (src/keystore/local.ts), given by the app
 *
 * Each kind's module is loaded with a dynamic import() on first use, so a missing or broken SDK (the Azure or AWS
 * client, the pkcs11js addon) fails only the tenants of that kind, with KeystoreError UNREACHABLE, not the start
 * of the whole server. One open plugin is cached per (kind, keyRef): plugins hold sessions and connection pools,
 * and every tenant under the same L1 key shares them. A failed open is not cached (the next activation retries).
 * `settings` are the config file's `keystores.connections.<name>` section: `shadow.plugin` is `<kind>` (the
 * one-per-kind connection) or `<kind>@<name>` (a named connection, src/keystore/connections.ts); secrets (PINs,
 * cloud credentials) are named there and fetched from the MasterKey's node secrets, never written in the clear.
 * Plugins are cached per (plugin, keyRef), so two connections reaching keys with the same label stay apart.
 */
import { isDeepStrictEqual } from 'node:util';
import { parseConnections, resolveConnection, type ConnectionSettings } from './connections.js';
import type { KeystorePlugin, SecretSource, ShadowReference } from './types.js';
import { KeystoreError } from './types.js';

export type KeystoreOpener = (shadow: ShadowReference, settings: Readonly<Record<string, unknown>>, secrets: SecretSource) => Promise<KeystorePlugin>;

/** Settings of `keystores.connections.pkcs11`. */
const PKCS11_SETTINGS = new Set(['modulePath', 'pinSecret', 'maxSessions']);
/** keyRef of a PKCS#11 L1: `token=<label>;object=<label>` (contracts.md); bounded like any CKA_LABEL we pass on. */
const PKCS11_KEY_REF = /^token=([^;]{1,64});object=([^;]{1,128})$/;

function invalid(plugin: string, message: string): KeystoreError {
  return new KeystoreError('INVALID_ARGUMENT', plugin, message);
}

/**
 * The PKCS#11 plugin behind the common `open…Keystore(shadow, settings, secrets)` shape: settings
 * `{ modulePath, pinSecret, maxSessions? }`, keyRef `token=<label>;object=<label>`. The PIN is read from the
 * node secret `pinSecret` and the buffer wiped at once (the plugin keeps the string it needs to log in).
 */
export async function openPkcs11Keystore(
  shadow: ShadowReference,
  settings: Readonly<Record<string, unknown>>,
  secrets: SecretSource,
): Promise<KeystorePlugin> {
  const kind = 'pkcs11';
  if (shadow.plugin !== kind) throw invalid(kind, `shadow reference is for plugin ${shadow.plugin}`);
  for (const field of Object.keys(settings)) {
    if (!PKCS11_SETTINGS.has(field)) throw invalid(kind, `unknown setting ${JSON.stringify(field)} in keystores.connections.pkcs11 (allowed: ${[...PKCS11_SETTINGS].join(', ')})`);
  }
  const { modulePath, pinSecret, maxSessions } = settings;
  if (typeof modulePath !== 'string' || modulePath.length === 0) throw invalid(kind, 'setting modulePath (the vendor PKCS#11 library) is required');
  if (typeof pinSecret !== 'string' || pinSecret.length === 0) throw invalid(kind, 'setting pinSecret (the name of a node secret holding the user PIN) is required');
  if (maxSessions !== undefined && (typeof maxSessions !== 'number' || !Number.isSafeInteger(maxSessions) || maxSessions < 1)) {
    throw invalid(kind, 'setting maxSessions must be a positive integer');
  }
  const m = PKCS11_KEY_REF.exec(shadow.keyRef);
  if (m === null) throw invalid(kind, 'keyRef must be token=<label>;object=<label>');
  const pinBytes = await secrets.get(pinSecret);
  let pin: string;
  try {
    pin = pinBytes.toString('utf8');
  } finally {
    pinBytes.fill(0);
  }
  const { createPkcs11Keystore } = await import('./pkcs11.js');
  return createPkcs11Keystore({
    modulePath,
    tokenLabel: m[1] ?? '',
    keyLabel: m[2] ?? '',
    pin,
    ...(maxSessions === undefined ? {} : { maxSessions }),
  });
}

/** Loads the opener of a plugin kind; undefined for an unknown kind. A failing import is UNREACHABLE. */
async function loadOpener(kind: string): Promise<KeystoreOpener | undefined> {
  try {
    switch (kind) {
      case 'pkcs11': return openPkcs11Keystore;
      case 'aws-kms': return (await import('./aws-kms.js')).openAwsKmsKeystore;
      case 'azure-keyvault': return (await import('./azure-keyvault.js')).openAzureKeyVaultKeystore;
      default: return undefined;
    }
  } catch (e) {
    throw new KeystoreError('UNREACHABLE', kind, `the ${kind} plugin cannot be loaded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

export interface KeystoreFactoryOptions {
  /**
   * The config file's `keystores.connections` section: connection name → settings (`kind` plus the plugin's own;
   * `kind` may be left out when the name is a kind, the one-per-kind form).
   */
  readonly connections: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Where named secrets come from (the MasterKey's node secrets). */
  readonly secrets: SecretSource;
  /** The `local` plugin (createLocalKeystoreFactory(masterKey, dataDir)); absent = kind 'local' is refused. */
  readonly local?: (shadow: ShadowReference) => Promise<KeystorePlugin>;
  /** Replace or add kinds (tests, future plugins). Consulted before the built-in table. */
  readonly openers?: Readonly<Record<string, KeystoreOpener>>;
}

/** A configuration change that a running node cannot apply: the operator must restart it. */
export class RestartRequiredError extends Error {
  override readonly name = 'RestartRequiredError';
}

export class KeystoreFactory {
  readonly #opts: KeystoreFactoryOptions;
  readonly #open = new Map<string, Promise<KeystorePlugin>>();
  /** Grows through addConnections (issue 16 item 4: connections added without a restart); never shrinks. */
  #raw: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  #connections: Readonly<Record<string, ConnectionSettings>>;
  #closed = false;

  constructor(opts: KeystoreFactoryOptions) {
    this.#opts = opts;
    this.#raw = opts.connections;
    this.#connections = parseConnections(opts.connections, (message) => invalid('keystores', message));
  }

  /**
   * Takes the connections of `next` (the whole `keystores.connections` section, re-read from the config file) that
   * this factory does not have yet, without touching the ones it has: plugins already open keep their sessions and
   * every tenant keeps the settings it was activated with. A connection that was changed or removed would leave
   * open plugins with the old settings, so that needs a restart: refused as a whole with RestartRequiredError
   * naming them, nothing added. The new entries are validated as at start (INVALID_ARGUMENT naming the setting).
   * @returns the names added (empty: nothing new).
   */
  addConnections(next: Readonly<Record<string, Readonly<Record<string, unknown>>>>): string[] {
    const parsed = parseConnections(next, (message) => invalid('keystores', message));
    const changed = Object.keys(this.#raw).filter((n) => !(n in next) || !isDeepStrictEqual(this.#raw[n], next[n]));
    if (changed.length > 0) {
      throw new RestartRequiredError(`keystores.connections ${changed.map((n) => `'${n}'`).join(', ')} ${changed.length === 1 ? 'was' : 'were'} changed or removed: `
        + 'only connections can be added to a running node (plugins already open keep their settings); restart it to apply changes');
    }
    const added = Object.keys(next).filter((n) => !(n in this.#raw));
    this.#raw = { ...next };
    this.#connections = parsed;
    return added;
  }

  /** Names of the configured connections. */
  get connectionNames(): string[] {
    return Object.keys(this.#raw);
  }

  /** Kinds this factory can open (for diagnostics and config validation). */
  static readonly KINDS: readonly string[] = ['local', 'pkcs11', 'aws-kms', 'azure-keyvault'];

  /** An open plugin for `shadow`, shared by every caller naming the same (kind, keyRef). */
  keystoreFor = (shadow: ShadowReference): Promise<KeystorePlugin> => {
    if (this.#closed) return Promise.reject(new KeystoreError('UNREACHABLE', shadow.plugin, 'the keystore factory is closed'));
    // NUL cannot occur in a kind; keyRefs are compared byte for byte.
    const key = `${shadow.plugin}\u0000${shadow.keyRef}`;
    let p = this.#open.get(key);
    if (p === undefined) {
      p = this.#openNew(shadow);
      this.#open.set(key, p);
      p.catch(() => {
        if (this.#open.get(key) === p) this.#open.delete(key);
      });
    }
    return p;
  };

  async #openNew(shadow: ShadowReference): Promise<KeystorePlugin> {
    const custom = this.#opts.openers?.[shadow.plugin];
    if (shadow.plugin === 'local' && custom === undefined) {
      if (this.#opts.local === undefined) throw invalid('local', 'the local keystore is not available in this process');
      return this.#opts.local(shadow);
    }
    if (custom !== undefined) return custom(shadow, this.#raw[shadow.plugin] ?? {}, this.#opts.secrets);
    const kinds = [...KeystoreFactory.KINDS, ...Object.keys(this.#opts.openers ?? {})];
    const { kind, settings } = resolveConnection(shadow.plugin, this.#connections, kinds);
    const opener = this.#opts.openers?.[kind] ?? await loadOpener(kind);
    if (opener === undefined) throw invalid(kind, `unknown keystore plugin '${kind}' (known: ${KeystoreFactory.KINDS.join(', ')})`);
    // The plugin sees its own kind; the connection name only chose the settings.
    return opener({ ...shadow, plugin: kind }, settings, this.#opts.secrets);
  }

  /** Number of plugins opened (or opening) now. */
  get size(): number {
    return this.#open.size;
  }

  /** Closes every plugin opened through this factory (sessions, pools). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#open.values()];
    this.#open.clear();
    await Promise.allSettled(all.map(async (p) => (await p).close()));
  }
}
