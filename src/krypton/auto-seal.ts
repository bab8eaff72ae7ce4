/**
 * Auto-unseal configuration (the `seal.auto` section of openkcm.conf; docs/keystores.md "Auto-unseal"): which
 * keystore plugin and key wrap the MasterKey, how to connect to it, and where the plugin's OWN credentials come from.
 *
 *   "seal": { "auto": { "plugin": "pkcs11", "keyRef": "token=openkcm-seal;object=master-key-wrap",
 *                       "connection": { "modulePath": "/usr/lib/softhsm/libsofthsm2.so", "pinSecret": "seal-pin" },
 *                       "secrets": { "seal-pin": { "env": "OPENKCM_HSM_PIN" } } } }
 *
 * Chicken and egg: every other keystore credential (a tenant HSM PIN, a cloud credential) is a node secret sealed
 * by the MasterKey (src/krypton/master-key.ts NodeSecrets). The seal's credential cannot be one of them: it is
 * needed to unwrap the MasterKey that opens them. HashiCorp Vault resolves this the same way: the seal stanza's
 * credentials come from the configuration or the environment (`VAULT_HSM_PIN`, AWS instance roles), never from
 * Vault's own barrier. So here the connection settings name secrets exactly as tenants' do (`pinSecret`,
 * `credentialsSecret`, `credentialSecret`), but `seal.auto.secrets` resolves those names from an environment
 * variable or a file readable only by the service user — never from sealed storage. The plugins are unchanged:
 * they only see a different SecretSource. The section is validated by src/config/seal.ts autoSealSettings.
 */
import path from 'node:path';
import { readFileNoFollow } from '../common/secure-fs.js';
import { KeystoreFactory } from '../keystore/factory.js';
import type { KeystorePlugin, SecretSource, ShadowReference } from '../keystore/types.js';
import { MasterKeyError, MAX_NODE_SECRET_BYTES } from './master-key.js';

/**
 * Largest seal secret read from a file or the environment: the node-secret limit (a cloud credential JSON fits).
 * Stops a mis-pointed `file` (a log, /dev/zero) from making start-up read unbounded data.
 */
export const MAX_SEAL_SECRET_BYTES = MAX_NODE_SECRET_BYTES;
export type SealSecretSpec = { readonly env: string } | { readonly file: string };

export interface AutoSealSettings {
  /** The wrapping key (written to seal.json by `operator init --auto-unseal`). */
  readonly shadow: ShadowReference;
  /** Connection settings of the plugin; absent = `keystores.connections.<plugin>`. */
  readonly connection: Readonly<Record<string, unknown>> | undefined;
  /** Secret name → where its value comes from (environment variable or owner-only file). */
  readonly secrets: ReadonlyMap<string, SealSecretSpec>;
}

function invalid(message: string): MasterKeyError {
  return new MasterKeyError('INVALID_CONFIG', message);
}

/** Reads an owner-only regular file (no symlinks) of at most MAX_SEAL_SECRET_BYTES. */
function readSecretFile(name: string, file: string): Buffer {
  const out = readFileNoFollow(file, {
    openFailed: (e) => {
      throw invalid(`seal secret '${name}': cannot open ${file} (${String(e.code)})`);
    },
    inspect: (st) => {
      if (!st.isFile()) throw invalid(`seal secret '${name}': ${file} is not a regular file`);
      // Readable by group/others, or planted by another user: refuse rather than trust it (the PIN unlocks the seal).
      if ((st.mode & 0o077) !== 0) throw invalid(`seal secret '${name}': ${file} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; it must be readable by its owner only (chmod 600 ${file})`);
      const uid = process.getuid?.();
      if (uid !== undefined && uid !== 0 && st.uid !== uid) throw invalid(`seal secret '${name}': ${file} is not owned by this user (uid ${String(uid)})`);
      if (st.size > MAX_SEAL_SECRET_BYTES) throw invalid(`seal secret '${name}': ${file} is ${String(st.size)} bytes; at most ${String(MAX_SEAL_SECRET_BYTES)}`);
    },
  }) ?? Buffer.alloc(0);
  // One trailing newline (echo PIN > file) is not part of the secret.
  let end = out.length;
  if (end > 0 && out[end - 1] === 0x0a) end -= 1;
  if (end > 0 && out[end - 1] === 0x0d) end -= 1;
  const value = Buffer.from(out.subarray(0, end));
  out.fill(0);
  return value;
}

/**
 * The SecretSource of the seal's plugin: each name resolves per `seal.auto.secrets` from the environment or an
 * owner-only file (relative paths against the data directory). Returns a fresh buffer the plugin wipes.
 */
export function sealSecretSource(auto: AutoSealSettings, dataDir: string): SecretSource {
  return {
    get(name: string): Promise<Buffer> {
      try {
        const spec = auto.secrets.get(name);
        if (spec === undefined) {
          throw invalid(`the seal's plugin needs the secret '${name}' but seal.auto.secrets does not say where it comes from; add "${name}": {"env": "VAR"} or {"file": "PATH"} (the seal's credentials cannot be node secrets: the master key they would unseal seals those)`);
        }
        if ('env' in spec) {
          const v = process.env[spec.env];
          if (v === undefined || v === '') throw invalid(`seal secret '${name}': environment variable ${spec.env} is not set`);
          if (Buffer.byteLength(v, 'utf8') > MAX_SEAL_SECRET_BYTES) throw invalid(`seal secret '${name}': ${spec.env} is longer than ${String(MAX_SEAL_SECRET_BYTES)} bytes`);
          return Promise.resolve(Buffer.from(v, 'utf8'));
        }
        return Promise.resolve(readSecretFile(name, path.resolve(dataDir, spec.file)));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
  };
}

/**
 * A keystore factory for the seal alone: the plugin's connection settings are `seal.auto.connection` (else
 * `keystores.connections.<plugin>`), its secrets come from {@link sealSecretSource}. The caller closes it once the
 * MasterKey is unwrapped (the seal plugin is not used again until the next start).
 */
export function autoSealKeystores(auto: AutoSealSettings, connections: Readonly<Record<string, Readonly<Record<string, unknown>>>>, dataDir: string): KeystoreFactory {
  const plugin = auto.shadow.plugin;
  const settings = auto.connection ?? connections[plugin] ?? {};
  return new KeystoreFactory({ connections: { [plugin]: settings }, secrets: sealSecretSource(auto, dataDir) });
}

/** The keystoreFor of a node without `seal.auto`: a clear refusal instead of a SERVER_SEALED from node secrets. */
export function noAutoSealConfigured(shadow: ShadowReference): Promise<KeystorePlugin> {
  return Promise.reject(invalid(`seal.json says this node auto-unseals through ${shadow.plugin} (${shadow.keyRef}), but openkcm.conf has no seal.auto section saying how to connect to it and where its credentials come from (docs/keystores.md "Auto-unseal")`));
}
