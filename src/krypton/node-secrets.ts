/**
 * The node's named secrets (keystore PINs, cloud credentials, TLS keys at rest), sealed under the MasterKey in
 * `<dataDir>/secrets/`, one envelope per file.
 */
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { EnvelopeError } from '../vault/errors.js';
import { open as openEnvelope, parseEnvelope, seal as sealEnvelope } from '../vault/envelope.js';
import type { KekProvider } from '../vault/kek.js';
import { ensureOwnerOnlyDir, shredFile, writeFileAtomic } from '../common/secure-fs.js';
import { MasterKeyError } from './errors.js';
import { NODE_AAD_TENANT } from './master-kek.js';
import { readSmallFile } from './seal-file.js';
import { notifyAudited } from '../common/audited-listeners.js';
import type { AuditedListener } from '../common/audited-listeners.js';

export const SECRETS_DIR = 'secrets';
/**
 * Largest node secret (a TLS private key in PEM, a cloud credential JSON). Stops a caller from using the node's
 * secret store as bulk storage, and bounds what a get() pulls into memory.
 */
export const MAX_NODE_SECRET_BYTES = 64 * 1024;
/**
 * Secret names become file names: a conservative alphabet (no `/`, no leading dot, no `..`) stops path traversal;
 * 128 characters bounds the AAD and the directory entry.
 */
export const NODE_SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What NodeSecrets needs of the MasterKey: where the data directory is, and its KEK (throws SERVER_SEALED while sealed). */
export interface SecretsKeyHolder {
  readonly dataDir: string;
  kek(): KekProvider;
}

/** One stored node secret as `secret list` shows it: never its value (issue 16 item 1). */
export interface NodeSecretEntry {
  readonly name: string;
  /** Length of the value, bytes (the sealed file minus its envelope header and tag). */
  readonly bytes: number;
  readonly modifiedAt: Date;
}

/** A change of the node's secrets, for the audit trail (names and sizes only, never values). */
export interface NodeSecretChange {
  readonly op: 'put' | 'delete';
  readonly name: string;
  /** Who asked: `operator-socket`, `offline-cli`, or the admin identity of an admin API call. */
  readonly by: string;
  /** put: the value's length; delete: whether it existed (1) or not (0). */
  readonly bytes: number;
}

/** AES-256-GCM tag length of a sealed node secret (src/vault/envelope.ts). */
const SECRET_TAG_BYTES = 16;

/**
 * Named secrets of the node (keystore PINs, cloud credentials, TLS keys at rest), each an envelope sealed under
 * the MasterKey in `<dataDir>/secrets/<name>` (0600, atomic write + fsync). The AAD binds the name, so a file
 * renamed or copied to another name fails to open. Implements the keystore SecretSource. Every method throws
 * KmipError('SERVER_SEALED') while sealed.
 */
export class NodeSecrets {
  readonly #mk: SecretsKeyHolder;
  readonly #listeners = new Set<AuditedListener<NodeSecretChange>>();
  constructor(mk: SecretsKeyHolder) {
    this.#mk = mk;
  }

  /** Calls `listener` after every put/delete (the governance plane audits them); returns the unsubscribe. A
   *  listener may return a promise: put/delete settle only after it does, so the caller's answer (admin API,
   *  operator socket) follows the durable audit record, and two changes made one after the other are recorded in
   *  that order (they used to race for the chain head). */
  onChange(listener: AuditedListener<NodeSecretChange>): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  #changed(change: NodeSecretChange): Promise<void> {
    return notifyAudited(this.#listeners, change);
  }

  /** Names, value sizes and modification times, ascending by name; values are never opened. */
  entries(): NodeSecretEntry[] {
    return this.list().flatMap((name) => {
      const file = path.join(this.dir, name);
      const blob = readSmallFile(file, MAX_NODE_SECRET_BYTES + 1024, true);
      if (blob === undefined) return [];
      let bytes: number;
      try {
        bytes = blob.length - parseEnvelope(blob).headerLength - SECRET_TAG_BYTES;
      } catch {
        bytes = -1; // not an envelope: `get` reports it as CORRUPT
      }
      return [{ name, bytes, modifiedAt: lstatSync(file).mtime }];
    });
  }

  get dir(): string {
    return path.join(this.#mk.dataDir, SECRETS_DIR);
  }

  #file(name: string): string {
    if (typeof name !== 'string' || !NODE_SECRET_NAME_PATTERN.test(name)) {
      throw new MasterKeyError('INVALID_ARGUMENT', `secret name must match ${NODE_SECRET_NAME_PATTERN.source}`);
    }
    return path.join(this.dir, name);
  }

  /** Returns a fresh buffer the caller wipes. @throws MasterKeyError SECRET_NOT_FOUND | CORRUPT */
  async get(name: string): Promise<Buffer> {
    const kek = this.#mk.kek();
    const file = this.#file(name);
    const blob = readSmallFile(file, MAX_NODE_SECRET_BYTES + 1024, true);
    if (blob === undefined) throw new MasterKeyError('SECRET_NOT_FOUND', `no node secret named ${name}`);
    try {
      return await openEnvelope(kek, blob, secretAad(name));
    } catch (cause) {
      if (cause instanceof EnvelopeError) throw new MasterKeyError('CORRUPT', `node secret ${name} does not open under this master key (${cause.code}): tampered, renamed, or sealed by another node`, { cause });
      throw cause;
    }
  }

  /** Stores (or replaces) a secret. `value` is not retained; the caller wipes it. `by` names the caller (audit). */
  async put(name: string, value: Uint8Array, by = 'node'): Promise<void> {
    const kek = this.#mk.kek();
    const file = this.#file(name);
    if (!(value instanceof Uint8Array) || value.length > MAX_NODE_SECRET_BYTES) {
      throw new MasterKeyError('INVALID_ARGUMENT', `secret value must be a Uint8Array of at most ${String(MAX_NODE_SECRET_BYTES)} bytes`);
    }
    const blob = await sealEnvelope(kek, value, secretAad(name));
    ensureOwnerOnlyDir(this.dir);
    writeFileAtomic(file, blob);
    await this.#changed({ op: 'put', name, by, bytes: value.length });
  }

  has(name: string): boolean {
    this.#mk.kek();
    this.#file(name);
    return readdirOrEmpty(this.dir).includes(name);
  }

  /** Secret names, ascending. */
  list(): string[] {
    this.#mk.kek();
    return readdirOrEmpty(this.dir).filter((n) => NODE_SECRET_NAME_PATTERN.test(n) && !n.includes('.tmp-')).sort();
  }

  /** Overwrites and unlinks the secret's file; true if it existed. */
  async delete(name: string, by = 'node'): Promise<boolean> {
    this.#mk.kek();
    const file = this.#file(name);
    const existed = readdirOrEmpty(this.dir).includes(name);
    if (existed) shredFile(file);
    await this.#changed({ op: 'delete', name, by, bytes: existed ? 1 : 0 });
    return existed;
  }
}

function secretAad(name: string): { tenant: string; uid: string; version: number } {
  return { tenant: NODE_AAD_TENANT, uid: `secret/${name}`, version: 1 };
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
