/**
 * The `local` keystore plugin: the embedded default L1 (issue 4 deliverable 6) for a single appliance without an
 * HSM or cloud KMS. Each keyRef `local:<name>` is an AES-256 key generated in a native slot and stored sealed under
 * the node's MasterKey in `<dataDir>/local-l1/<name>` (an envelope, src/vault/envelope.ts format, sealed natively
 * with sealKey so the L1 bytes never enter JS). wrap/unwrap run AES-256-GCM in the slot with the tenant and
 * purpose bound as AAD.
 *
 * Security note: this L1 is only as far from the data as the MasterKey is. It gives the tenant hierarchy and the
 * kill-switch the same shape as a real HSM (revoke at source, crypto-shred), not the separation of custody a
 * customer-held key gives. docs/keystores.md says so.
 *
 * "Revoked at the source":
 * - disable: a marker file `<name>.disabled` next to the key → KEY_REVOKED_OR_DISABLED (reversible: enable);
 * - delete: the key file is overwritten and unlinked → KEY_REVOKED_OR_DISABLED forever (crypto-shredding).
 * Both are checked on every call: nothing is cached, so a revocation takes effect on the next call.
 * MasterKey sealed → UNREACHABLE (the source exists but cannot be used right now). A key file the MasterKey cannot
 * open (copied from another node, or sealed before a forced re-init) → ACCESS_DENIED.
 *
 * Wiring: the plugin needs a KEK, the node's MasterKey, which is not a setting: the composition root hands it in as
 * a SlotWrappingKek (src/vault/kek.ts; the plugin imports no engine), so instead of an `openLocalKeystore(shadow,
 * settings, secrets)` this module exports {@link createLocalKeystoreFactory}`(masterKey, dataDir)` returning
 * `(shadow) => Promise<KeystorePlugin>`; the app's keystore factory delegates `plugin: 'local'` to it. Keys are
 * created explicitly ({@link createLocalKey}), never on first use, so a deleted key is not silently re-created.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gcmOpen, gcmSeal, NativeError, SecureKey } from '../native/index.js';
import { parseEnvelope } from '../vault/envelope.js';
import { EnvelopeError } from '../vault/errors.js';
import type { SlotWrappingKek } from '../vault/kek.js';
import { KmipError } from '../kmip/errors.js';
import { readFileNoFollow, shredFile, writeFileAtomic } from '../common/secure-fs.js';
import {
  KeystoreError,
  checkUnwrapInput,
  checkWrapInput,
  roundTripHealth,
  type HealthStatus,
  type KeyDescription,
  type KeystorePlugin,
  type ShadowReference,
  type WrapContext,
} from './types.js';
import { gcmBlob, gcmBlobParts, GCM_IV_BYTES, GCM_TAG_BYTES } from './gcm-blob.js';

export const LOCAL_PLUGIN_KIND = 'local';
export const LOCAL_L1_DIR = 'local-l1';
/** Key names become file names: no `/`, no leading dot (path traversal); bounded length. */
export const LOCAL_KEY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const KEY_REF_PREFIX = 'local:';
const KEY_BYTES = 32;
const AAD_PREFIX = 'openkcm/keystore/local/v1';
/** A sealed L1 key file is ~70 bytes; refuse anything much larger before reading it. */
const MAX_KEY_FILE_BYTES = 1024;
const DISABLED_SUFFIX = '.disabled';

function fail(code: ConstructorParameters<typeof KeystoreError>[0], message: string, cause?: unknown): KeystoreError {
  return new KeystoreError(code, LOCAL_PLUGIN_KIND, message, cause === undefined ? undefined : { cause });
}

/** `local:<name>` → name, or INVALID_ARGUMENT. */
export function localKeyName(keyRef: string): string {
  const name = typeof keyRef === 'string' && keyRef.startsWith(KEY_REF_PREFIX) ? keyRef.slice(KEY_REF_PREFIX.length) : '';
  if (!LOCAL_KEY_NAME_PATTERN.test(name)) {
    throw fail('INVALID_ARGUMENT', `keyRef must be local:<name> with name matching ${LOCAL_KEY_NAME_PATTERN.source}`);
  }
  return name;
}

function keyDir(dataDir: string): string {
  return path.join(path.resolve(dataDir), LOCAL_L1_DIR);
}

/** The item the sealed key file is bound to (the envelope AAD): a file renamed to another key fails to open. */
function fileUid(name: string): string {
  return `local-l1/${name}`;
}

/** The KEK's id, or UNREACHABLE while the MasterKey is sealed. */
function requireUnsealedKek(mk: SlotWrappingKek): string {
  try {
    return mk.keyId();
  } catch (e) {
    if (e instanceof KmipError && e.code === 'SERVER_SEALED') throw fail('UNREACHABLE', 'the node is sealed (MasterKey): unseal it to use local keys', e);
    throw e;
  }
}

/**
 * Generates a new local L1 key in a slot and stores it sealed under the MasterKey. Returns its shadow reference.
 * Refuses an existing name (INVALID_ARGUMENT): replacing L1 would orphan every L2 wrapped under it.
 */
export function createLocalKey(masterKey: SlotWrappingKek, dataDir: string, name: string): Promise<ShadowReference> {
  try {
    if (!LOCAL_KEY_NAME_PATTERN.test(name)) throw fail('INVALID_ARGUMENT', `local key name must match ${LOCAL_KEY_NAME_PATTERN.source}`);
    requireUnsealedKek(masterKey);
    const dir = keyDir(dataDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, name);
    if (exists(file)) throw fail('INVALID_ARGUMENT', `local key ${name} already exists`);
    const key = SecureKey.generate(KEY_BYTES);
    try {
      writeFileAtomic(file, masterKey.wrapKey(key, fileUid(name)));
    } finally {
      key.destroy();
    }
    return Promise.resolve({ plugin: LOCAL_PLUGIN_KIND, keyRef: `${KEY_REF_PREFIX}${name}`, keyVersion: '' });
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/** Disable (true) or re-enable (false) a local key at the source: a marker file next to it. */
export function setLocalKeyDisabled(dataDir: string, name: string, disabled: boolean): void {
  if (!LOCAL_KEY_NAME_PATTERN.test(name)) throw fail('INVALID_ARGUMENT', `local key name must match ${LOCAL_KEY_NAME_PATTERN.source}`);
  const marker = path.join(keyDir(dataDir), name + DISABLED_SUFFIX);
  if (disabled) writeFileSync(marker, `disabled ${new Date().toISOString()}\n`, { mode: 0o600 });
  else {
    try {
      unlinkSync(marker);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/** Crypto-shreds a local key: overwrite and unlink. Everything wrapped under it is unrecoverable. */
export function deleteLocalKey(dataDir: string, name: string): void {
  if (!LOCAL_KEY_NAME_PATTERN.test(name)) throw fail('INVALID_ARGUMENT', `local key name must match ${LOCAL_KEY_NAME_PATTERN.source}`);
  shredFile(path.join(keyDir(dataDir), name));
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function readKeyFile(file: string): Buffer | undefined {
  return readFileNoFollow(file, {
    openFailed: (e) => {
      if (e.code === 'ENOENT') return undefined;
      throw fail('ACCESS_DENIED', `cannot open local key file ${file} (${e.code ?? 'error'})`, e);
    },
    inspect: (st) => {
      if (!st.isFile() || st.size > MAX_KEY_FILE_BYTES) throw fail('INVALID_ARGUMENT', `local key file ${file} is not a small regular file`);
      if ((st.mode & 0o077) !== 0) throw fail('ACCESS_DENIED', `local key file ${file} is readable by others; it must be 0600`);
    },
  });
}

function aadFor(name: string, context: WrapContext): Buffer {
  return Buffer.from(`${AAD_PREFIX}\0${name}\0${context.tenant}\0${context.purpose ?? ''}`, 'utf8');
}

export class LocalKeystore implements KeystorePlugin {
  readonly kind = LOCAL_PLUGIN_KIND;
  readonly #mk: SlotWrappingKek;
  readonly #dir: string;
  readonly #name: string;
  #closed = false;

  constructor(masterKey: SlotWrappingKek, dataDir: string, keyRef: string) {
    this.#mk = masterKey;
    this.#dir = keyDir(dataDir);
    this.#name = localKeyName(keyRef);
  }

  get keyRef(): string {
    return KEY_REF_PREFIX + this.#name;
  }

  async wrap(plaintextKey: Uint8Array, context: WrapContext): Promise<Uint8Array> {
    checkWrapInput(LOCAL_PLUGIN_KIND, plaintextKey, context);
    return this.#withKey((key) => {
      const iv = randomBytes(GCM_IV_BYTES);
      return gcmBlob(iv, gcmSeal(key, iv, plaintextKey, aadFor(this.#name, context), GCM_TAG_BYTES));
    });
  }

  async unwrap(wrapped: Uint8Array, context: WrapContext): Promise<Uint8Array> {
    checkUnwrapInput(LOCAL_PLUGIN_KIND, wrapped, context);
    return this.#withKey((key) => {
      const { iv, sealed } = gcmBlobParts(wrapped, LOCAL_PLUGIN_KIND, 'local');
      try {
        const plain = gcmOpen(key, iv, sealed, aadFor(this.#name, context), GCM_TAG_BYTES);
        const out = new Uint8Array(plain.length);
        out.set(plain);
        plain.fill(0);
        return out;
      } catch (e) {
        if (e instanceof NativeError && e.code === 'AUTHENTICATION_FAILED') throw fail('INVALID_CIPHERTEXT', 'authentication of the wrapped blob failed', e);
        throw e;
      }
    });
  }

  async describe(): Promise<KeyDescription> {
    return this.#withKey((key) => ({
      shadow: { plugin: LOCAL_PLUGIN_KIND, keyRef: this.keyRef, keyVersion: '' },
      mechanism: 'AES-256-GCM (native key slot, sealed under the node MasterKey)',
      keySizeBits: key.length * 8,
      details: { keyName: this.#name, custody: 'node-local' },
    }));
  }

  async health(): Promise<HealthStatus> {
    const base = { plugin: LOCAL_PLUGIN_KIND, keyRef: this.keyRef } as const;
    try {
      return await roundTripHealth(this, base);
    } catch (e) {
      const k = e instanceof KeystoreError ? e : fail('UNREACHABLE', e instanceof Error ? e.message : String(e), e);
      return { ...base, ok: false, checkedAt: new Date(), code: k.code, message: k.message };
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  /** Opens the key into a slot for one call, then zeroises it: revocation and sealing act on the next call. */
  async #withKey<T>(body: (key: SecureKey) => T): Promise<T> {
    await Promise.resolve();
    if (this.#closed) throw fail('UNREACHABLE', 'keystore is closed');
    const kekId = requireUnsealedKek(this.#mk);
    const file = path.join(this.#dir, this.#name);
    if (exists(file + DISABLED_SUFFIX)) throw fail('KEY_REVOKED_OR_DISABLED', `local key ${this.#name} is disabled`);
    const blob = readKeyFile(file);
    if (blob === undefined) throw fail('KEY_REVOKED_OR_DISABLED', `local key ${this.#name} does not exist (deleted at the source)`);
    let key: SecureKey;
    try {
      const h = parseEnvelope(blob);
      if (h.keyId !== kekId) throw fail('ACCESS_DENIED', `local key ${this.#name} is sealed under another master key (${h.keyId})`);
      key = this.#mk.unwrapKey(blob, fileUid(this.#name));
    } catch (e) {
      if (e instanceof KeystoreError) throw e;
      if (e instanceof EnvelopeError || (e instanceof NativeError && e.code === 'AUTHENTICATION_FAILED')) {
        throw fail('ACCESS_DENIED', `local key ${this.#name} does not open under this node's master key (tampered, renamed or from another node)`, e);
      }
      throw e;
    }
    try {
      return body(key);
    } finally {
      key.destroy();
    }
  }
}

/**
 * The `local` plugin's entry point for the app's keystore factory: `(shadow) => plugin` over `masterKey` and
 * `<dataDir>/local-l1`. The key must exist ({@link createLocalKey}); the plugin reports a missing one as
 * KEY_REVOKED_OR_DISABLED on first use.
 */
export function createLocalKeystoreFactory(masterKey: SlotWrappingKek, dataDir: string): (shadow: ShadowReference) => Promise<KeystorePlugin> {
  return (shadow) => {
    try {
      if (shadow.plugin !== LOCAL_PLUGIN_KIND) throw fail('INVALID_ARGUMENT', `shadow reference is for plugin ${shadow.plugin}, not ${LOCAL_PLUGIN_KIND}`);
      return Promise.resolve(new LocalKeystore(masterKey, dataDir, shadow.keyRef));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  };
}
