/**
 * Key-encryption-key (KEK) providers: the AEAD primitive behind the envelope
 * (ARCHITECTURE §2: L4 material is stored as L3.seal(material)).
 *
 * The provider is deliberately a dumb primitive — "AES-256-GCM under key version v with this
 * nonce and AAD" — so that the envelope format (src/vault/envelope.ts) is written once and the
 * key can move: today a node:crypto KeyObject, later a native locked key slot (ARCHITECTURE §3)
 * or a krypton lease, behind the same interface. Methods are async because a strict-mode tenant
 * (ARCHITECTURE §5) unwraps through krypton, over the network.
 *
 * `DevKekProvider` (a local key file) is for development only; the hierarchy issue replaces it
 * with L3 keys held by krypton.
 */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, fsyncSync, linkSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../common/secure-fs.js';
import { gcmOpen, gcmSeal, NativeError, SecureKey } from '../native/index.js';
import { EnvelopeError, KekError } from './errors.js';
import { SealCounters } from './seal-counter.js';
import type { SealCounter } from './seal-counter.js';

/** AES-256 key length (FIPS 197). */
export const AES_256_KEY_BYTES = 32;
/** 96-bit GCM nonce, the length NIST SP 800-38D §8.2 recommends for random nonces. */
export const GCM_NONCE_BYTES = 12;
/** Full 128-bit GCM tag: truncated tags weaken forgery resistance (SP 800-38D Appendix C). */
export const GCM_TAG_BYTES = 16;
/** Key id is stored in every envelope with a one-byte length prefix. */
export const MAX_KEK_ID_BYTES = 255;

/**
 * The AEAD primitive under a versioned wrapping key.
 *
 * Contract (every implementation; the envelope tests run against NodeCryptoKekProvider):
 * - `id` names the key lineage (stable across versions, ≤ 255 UTF-8 bytes, non-empty).
 * - `currentVersion` (uint32 ≥ 1) is the version new envelopes are sealed under; older
 *   versions that `hasVersion` still opens (rotation: re-wrap lazily, ARCHITECTURE §2).
 * - `seal` returns ciphertext ‖ 16-byte tag; the nonce is chosen by the caller (12 bytes). Every seal counts against
 *   the key version's seal counter (src/vault/seal-counter.ts) and is refused with EnvelopeError 'KEY_EXHAUSTED'
 *   past the NIST SP 800-38D §8.3 limit.
 * - `open` returns a fresh plaintext buffer the caller owns and must wipe (`fill(0)`), or
 *   throws EnvelopeError 'TAMPERED' on authentication failure and 'WRONG_KEY' for an unknown version.
 */
export interface KekProvider {
  readonly id: string;
  readonly currentVersion: number;
  hasVersion(version: number): boolean;
  seal(version: number, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer>;
  open(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Buffer>;
  /**
   * `open` without a promise, for providers whose key is at hand (a native slot, a KeyObject): the vault opens an
   * envelope on a Get or Encrypt synchronously through it (issue 14: no await on synchronous work). Same contract
   * and errors as `open`, thrown instead of rejected. Providers that must wait (a remote unwrap) leave it out.
   */
  openSync?(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer;
}

/**
 * A KEK that wraps native key slots slot to slot (src/vault/envelope.ts sealKeyEnvelope): what the local keystore
 * is handed by the composition root (the node's MasterKey), so that a keystore plugin imports no engine (issue 19).
 * Envelopes bind `uid`, the item's name, in their AAD: a file renamed to another item does not open.
 */
export interface SlotWrappingKek {
  /** The key id its envelopes carry. @throws KmipError SERVER_SEALED while the key is not available */
  keyId(): string;
  /** Seals the key in slot `key`; counts against the wrapping key's seal counter. @throws EnvelopeError KEY_EXHAUSTED */
  wrapKey(key: SecureKey, uid: string): Buffer;
  /** Opens into a new slot the caller owns. @throws EnvelopeError WRONG_KEY | TAMPERED | MALFORMED */
  unwrapKey(envelope: Uint8Array, uid: string): SecureKey;
}

/**
 * Which KekProvider seals and opens a tenant's material (issue 4 §1, ARCHITECTURE §2): with the
 * key hierarchy every tenant has its own L3 lineage (`l3:<tenant>:kmip`, held by krypton), and a
 * vault written before the hierarchy still holds envelopes under the development KEK. The vault
 * asks the resolver per tenant instead of holding one provider.
 *
 * - `sealingKek(tenant)`: the provider new material of `tenant` is sealed under (its current
 *   version). May be a Promise: the first touch of a tenant activates it (L1 unwrap of L2).
 * - `openingKek(tenant, keyId)`: a provider able to open an envelope whose header names `keyId`
 *   — the tenant's current lineage or a legacy one (migration). It may throw a KmipError (e.g.
 *   TENANT_REVOKED: the kill-switch) which the vault passes through unchanged.
 * An envelope not under the sealing provider's (id, currentVersion) is stale: the vault re-seals
 * it (lazily on access, or by BaseVault.rewrapTenant).
 */
export interface KekResolver {
  sealingKek(tenant: string): KekProvider | Promise<KekProvider>;
  openingKek(tenant: string, keyId: string): KekProvider | Promise<KekProvider>;
}

/** One provider for every tenant: what tests, tools and a vault without the hierarchy use. */
export function singleKek(kek: KekProvider): KekResolver {
  return {
    sealingKek: () => kek,
    // Whatever the header says: envelope.open answers WRONG_KEY for another key id.
    openingKek: () => kek,
  };
}

/**
 * `primary` plus providers of older lineages that only open (migration from the development KEK:
 * docs/vault.md "Migrating a development vault"). An envelope whose key id is a legacy
 * provider's id opens under that provider; everything else goes to `primary`.
 */
export function withLegacyKeks(primary: KekResolver, legacy: readonly KekProvider[]): KekResolver {
  const byId = new Map(legacy.map((k) => [k.id, k]));
  return {
    sealingKek: (tenant) => primary.sealingKek(tenant),
    openingKek: (tenant, keyId) => byId.get(keyId) ?? primary.openingKek(tenant, keyId),
  };
}

/** Tells a resolver from a provider (the vault accepts either). */
export function isKekResolver(k: KekProvider | KekResolver): k is KekResolver {
  return typeof (k as Partial<KekResolver>).sealingKek === 'function' && typeof (k as Partial<KekResolver>).openingKek === 'function';
}

/** A resolver for `k`: itself when it is one, else {@link singleKek}. */
export function toKekResolver(k: KekProvider | KekResolver): KekResolver {
  return isKekResolver(k) ? k : singleKek(k);
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < 1 || version > 0xffffffff) {
    throw new KekError('INVALID_ARGUMENT', `key version must be an integer in 1..2^32-1, got ${version}`);
  }
}

function checkKeyId(id: string): void {
  const n = Buffer.byteLength(id, 'utf8');
  if (n === 0 || n > MAX_KEK_ID_BYTES || Buffer.from(id, 'utf8').toString('utf8') !== id) {
    throw new KekError('INVALID_ARGUMENT', `KEK id must be 1..${MAX_KEK_ID_BYTES} bytes of well-formed UTF-8`);
  }
}

/** A provider's id and key versions as the {@link KekProvider} contract states them: every key AES-256. */
function checkKeys(id: string, keys: ReadonlyMap<number, { readonly length: number }>, currentVersion: number): void {
  checkKeyId(id);
  checkVersion(currentVersion);
  for (const [version, key] of keys) {
    checkVersion(version);
    if (key.length !== AES_256_KEY_BYTES) {
      throw new KekError('INVALID_ARGUMENT', `KEK version ${version} is ${key.length} bytes; AES-256 needs ${AES_256_KEY_BYTES}`);
    }
  }
  if (!keys.has(currentVersion)) throw new KekError('INVALID_ARGUMENT', `current KEK version ${currentVersion} has no key`);
}

/** Key `version` of provider `id`. @throws EnvelopeError WRONG_KEY for a version it does not hold */
function keyOf<K>(keys: ReadonlyMap<number, K>, id: string, version: number): K {
  const key = keys.get(version);
  if (key === undefined) throw new EnvelopeError('WRONG_KEY', `KEK '${id}' has no version ${version}`);
  return key;
}

/** The 96-bit nonce every seal and open takes. */
function checkNonce(nonce: Uint8Array): void {
  if (nonce.length !== GCM_NONCE_BYTES) throw new KekError('INVALID_ARGUMENT', `nonce must be ${GCM_NONCE_BYTES} bytes`);
}

/** What an open checks before it decrypts: the nonce, and a body at least as long as the tag. */
function checkOpenInput(nonce: Uint8Array, sealed: Uint8Array): void {
  checkNonce(nonce);
  if (sealed.length < GCM_TAG_BYTES) throw new EnvelopeError('MALFORMED', 'sealed data shorter than the GCM tag');
}

/** The failure every open reports for a tag that does not verify; no plaintext has left the primitive. */
function tampered(cause: unknown): EnvelopeError {
  return new EnvelopeError('TAMPERED', 'envelope failed authentication (ciphertext, tag, header or AAD changed)', { cause });
}

/**
 * KEK provider over node:crypto. Key bytes live in KeyObjects (C++ heap, not the JS heap);
 * the constructor copies them and the caller should wipe its own copies.
 */
export class NodeCryptoKekProvider implements KekProvider {
  readonly id: string;
  readonly currentVersion: number;
  readonly #keys: ReadonlyMap<number, KeyObject>;
  /** Per process: see {@link NativeKekProvider} (a DevKekProvider's key file outlives it: docs/vault.md "Seal counters"). */
  readonly #seals: SealCounters;

  constructor(id: string, keys: ReadonlyMap<number, Uint8Array>, currentVersion: number) {
    checkKeys(id, keys, currentVersion);
    const objects = new Map<number, KeyObject>();
    for (const [version, key] of keys) objects.set(version, createSecretKey(key));
    this.id = id;
    this.currentVersion = currentVersion;
    this.#keys = objects;
    this.#seals = new SealCounters(id);
  }

  /** A provider with fresh random keys for versions 1..versions (tests, MemoryVault, tools). */
  static random(id: string, versions = 1): NodeCryptoKekProvider {
    const keys = new Map<number, Uint8Array>();
    for (let v = 1; v <= versions; v++) keys.set(v, randomBytes(AES_256_KEY_BYTES));
    try {
      return new NodeCryptoKekProvider(id, keys, versions);
    } finally {
      for (const k of keys.values()) k.fill(0);
    }
  }

  hasVersion(version: number): boolean {
    return this.#keys.has(version);
  }

  seal(version: number, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return settle(() => this.sealSync(version, nonce, plaintext, aad));
  }

  open(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return settle(() => this.openSync(version, nonce, sealed, aad));
  }

  /** Synchronous form, for tools and benchmarks that seal many items in a loop. */
  sealSync(version: number, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer {
    const key = keyOf(this.#keys, this.id, version);
    checkNonce(nonce);
    this.#seals.of(version).take();
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
    cipher.setAAD(aad);
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }

  /** Synchronous form of {@link open}; the returned plaintext is the caller's to wipe. */
  openSync(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
    const key = keyOf(this.#keys, this.id, version);
    checkOpenInput(nonce, sealed);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
    const body = decipher.update(sealed.subarray(0, sealed.length - GCM_TAG_BYTES));
    let tail: Buffer;
    try {
      tail = decipher.final();
    } catch (cause) {
      // Unauthenticated plaintext must never escape: wipe what update() produced.
      body.fill(0);
      throw tampered(cause);
    }
    if (tail.length === 0) return body;
    const out = Buffer.concat([body, tail]);
    body.fill(0);
    tail.fill(0);
    return out;
  }
}

/**
 * AES-256-GCM seal under a native slot (NativeKekProvider, krypton's TenantKeyring): the one copy of the checks and
 * the count (`counter`: a SealCounter, or the ReservedSealCounter of a krypton L3). Returns ciphertext ‖ tag in a
 * fresh buffer.
 * @throws KekError INVALID_ARGUMENT (nonce length) | EnvelopeError KEY_EXHAUSTED
 */
export function gcmSealUnder(key: SecureKey, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, counter: Pick<SealCounter, 'take'>): Buffer {
  checkNonce(nonce);
  counter.take();
  const out = gcmSeal(key, nonce, plaintext, aad, GCM_TAG_BYTES);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * AES-256-GCM open of an envelope body under a native slot (NativeKekProvider, krypton's TenantKeyring): the one
 * copy of the checks and the error mapping. The addon releases no plaintext on a failed tag check (it wipes its
 * output); TAMPERED says so. Returns a view of the addon's fresh output buffer, the caller's to wipe.
 */
export function gcmOpenUnder(key: SecureKey, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
  checkOpenInput(nonce, sealed);
  try {
    const out = gcmOpen(key, nonce, sealed, aad, GCM_TAG_BYTES);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  } catch (cause) {
    if (cause instanceof NativeError && cause.code === 'AUTHENTICATION_FAILED') throw tampered(cause);
    throw cause;
  }
}

/** Runs a synchronous primitive so that its errors reject the promise instead of throwing. */
export function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/**
 * KEK provider on the native crypto core (issue 3 §5 "the vault envelope seals and opens through
 * the addon"): each key version lives in a locked, non-dumpable native slot (SecureKey) and is
 * never in the JS heap or OpenSSL's general heap after import; seal/open use the slot's cached
 * AES-256-GCM context. The provider owns its keys: {@link NativeKekProvider.destroy} zeroises them.
 */
export class NativeKekProvider implements KekProvider {
  readonly id: string;
  readonly currentVersion: number;
  readonly #keys: Map<number, SecureKey>;
  /**
   * Seal counters per key version, in this process. Enough for the keys this provider is made for: random keys of
   * a test, tool or benchmark that die with the process. A key that outlives the process counts where it persists:
   * the MasterKey in seal.json (src/krypton/master-key.ts); the development key file is development only.
   */
  readonly #seals: SealCounters;

  /** Takes ownership of `keys` (each a 32-byte SecureKey). */
  constructor(id: string, keys: ReadonlyMap<number, SecureKey>, currentVersion: number) {
    checkKeys(id, keys, currentVersion);
    this.id = id;
    this.currentVersion = currentVersion;
    this.#keys = new Map(keys);
    this.#seals = new SealCounters(id);
  }

  /** Fresh random keys for versions 1..versions, generated inside the slots (never in JS). */
  static random(id: string, versions = 1): NativeKekProvider {
    const keys = new Map<number, SecureKey>();
    for (let v = 1; v <= versions; v++) keys.set(v, SecureKey.generate(AES_256_KEY_BYTES));
    return new NativeKekProvider(id, keys, versions);
  }

  /**
   * The development key file of {@link DevKekProvider} (same checks, same creation, same id), its
   * key imported into a native slot; the bytes read from the file are wiped. A vault sealed by
   * either provider opens with the other.
   */
  static openDevKeyFile(filePath: string): NativeKekProvider {
    const key = readOrCreateKeyFile(path.resolve(filePath));
    try {
      const id = devKeyId(key);
      return new NativeKekProvider(id, new Map([[1, SecureKey.import(key)]]), 1);
    } finally {
      key.fill(0);
    }
  }

  hasVersion(version: number): boolean {
    return this.#keys.has(version);
  }

  seal(version: number, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return settle(() => gcmSealUnder(keyOf(this.#keys, this.id, version), nonce, plaintext, aad, this.#seals.of(version)));
  }

  open(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return settle(() => this.openSync(version, nonce, sealed, aad));
  }

  openSync(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
    return gcmOpenUnder(keyOf(this.#keys, this.id, version), nonce, sealed, aad);
  }

  /** Zeroises every key version; the provider is unusable afterwards (STALE_KEY). */
  destroy(): void {
    for (const key of this.#keys.values()) key.destroy();
  }
}

/** Bits that must be clear on the key file: any group/other permission. */
const KEY_FILE_FORBIDDEN_MODE = 0o077;

/**
 * Development KEK: one AES-256 key in a local file, version 1.
 *
 * - Created with a random key on first use: written to a temp file opened O_CREAT|O_EXCL with
 *   mode 0600, fsynced, then published with link(2), which fails if the name exists — so two
 *   processes starting together end up with the same key and no reader ever sees a partial file.
 * - Opened with O_NOFOLLOW (no symlink redirection) and refused unless it is a regular file of
 *   exactly 32 bytes, owned by this user, with no group/other permission bits.
 * - `id` is `dev-` + the first 16 hex digits of SHA-256(label ‖ key): a different key file gives
 *   a different id, so envelopes sealed under another key fail with WRONG_KEY, not TAMPERED.
 */
export class DevKekProvider extends NodeCryptoKekProvider {
  readonly path: string;

  private constructor(filePath: string, key: Uint8Array) {
    super(devKeyId(key), new Map([[1, key]]), 1);
    this.path = filePath;
  }

  /** Loads the key file at `filePath`, creating it (and only it, not its directory) when absent. */
  static open(filePath: string): DevKekProvider {
    const abs = path.resolve(filePath);
    const key = readOrCreateKeyFile(abs);
    try {
      return new DevKekProvider(abs, key);
    } finally {
      key.fill(0);
    }
  }
}

function devKeyId(key: Uint8Array): string {
  return 'dev-' + createHash('sha256').update('openkcm dev kek id\0').update(key).digest('hex').slice(0, 16);
}

/** The development key file's 32 bytes (the caller wipes them), the file created first when absent. */
function readOrCreateKeyFile(abs: string): Buffer {
  const key = tryReadKeyFile(abs);
  if (key !== undefined) return key;
  createKeyFile(abs);
  const created = tryReadKeyFile(abs);
  if (created === undefined) throw new KekError('INVALID_KEY_FILE', `key file ${abs} vanished right after creation`);
  return created;
}

function tryReadKeyFile(abs: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new KekError('INSECURE_KEY_FILE', `key file ${abs} is a symbolic link; refusing to follow it`, { cause: e });
    }
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new KekError('INVALID_KEY_FILE', `key file ${abs} is not a regular file`);
    if ((st.mode & KEY_FILE_FORBIDDEN_MODE) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new KekError('INSECURE_KEY_FILE', `key file ${abs} has mode ${mode}; it must be 0600 or stricter (run: chmod 600 ${abs})`);
    }
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new KekError('INSECURE_KEY_FILE', `key file ${abs} is owned by uid ${st.uid}, not by this process (uid ${uid})`);
    }
    if (st.size !== AES_256_KEY_BYTES) {
      throw new KekError('INVALID_KEY_FILE', `key file ${abs} is ${st.size} bytes; expected exactly ${AES_256_KEY_BYTES}`);
    }
    const key = Buffer.alloc(AES_256_KEY_BYTES);
    let off = 0;
    while (off < key.length) {
      const n = readSync(fd, key, off, key.length - off, off);
      if (n === 0) {
        key.fill(0);
        throw new KekError('INVALID_KEY_FILE', `key file ${abs} shrank while being read`);
      }
      off += n;
    }
    return key;
  } finally {
    closeSync(fd);
  }
}

function createKeyFile(abs: string): void {
  const tmp = `${abs}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const key = randomBytes(AES_256_KEY_BYTES);
  const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, key);
    fsyncSync(fd);
  } finally {
    key.fill(0);
    closeSync(fd);
  }
  try {
    linkSync(tmp, abs);
  } catch (e) {
    // EEXIST: another process published its key first; use theirs (read back by the caller).
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      unlinkSync(tmp);
      throw e;
    }
  }
  unlinkSync(tmp);
  fsyncDir(path.dirname(abs));
}

