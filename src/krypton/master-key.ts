/**
 * The node's MasterKey (ARCHITECTURE §2 "MasterKey"; issue 4 deliverable 6): 32 random bytes held in a native
 * key slot that seal the node's own secrets (keystore credentials, audit HMAC key, TLS keys at rest). It is never
 * stored in the clear outside development mode. Three ways to get it back into the slot after a restart:
 *
 * - `shamir`: an operator initialises the node once (`openkcm operator init --shares N --threshold K`), which
 *   prints N shares; after every start K of them are submitted (`openkcm operator unseal`) and combined.
 * - `auto`: the MasterKey is stored wrapped by an L1-like key through a KeystorePlugin (PKCS#11 HSM, KMS), and
 *   unwrapped at start ({@link MasterKey.initAuto}).
 * - `dev`: a key file `<dataDir>/master.key` (0600) created on first open. Development only, loudly logged; the
 *   README quick start uses it. `operator init` converts it to shamir keeping the same key.
 *
 * Seal configuration is kept APART from sealed data (HashiCorp Vault's `core/seal-config` habit):
 * `<dataDir>/seal.json` says how to unseal (type, N, K, the auto-unseal shadow reference and wrapped key) plus a
 * check value, and never anything that rebuilds the key on its own. The check value is an envelope of a fixed
 * label sealed under the MasterKey, so a wrong reconstruction (a share from another node, a typo that passed the
 * checksum) is detected before anything is sealed under a wrong key.
 *
 * Where the key bytes exist in JS (honestly): the Shamir library (`shamir-secret-sharing`, audited) works on
 * Uint8Array, so for `split` (init) and `combine` (unseal) the 32 bytes, the shares and the library's internal
 * coefficient/sample arrays exist on the JS heap for the duration of that call. We wipe every array we own right
 * after the key is imported into the slot (SecureKey.import also wipes its input); the library's own temporaries
 * are unreachable garbage we cannot wipe. The same holds for the auto-unseal wrap/unwrap (the plugin API takes
 * and returns bytes) and the dev key file. Between those moments the key lives only in the locked slot.
 */
import { EventEmitter } from 'node:events';
import { createHash, timingSafeEqual } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';
import { shredFile, writeFileAtomic } from '../common/secure-fs.js';
import { combine, split } from 'shamir-secret-sharing';
import { KmipError } from '../kmip/errors.js';
import type { KeystorePlugin, ShadowReference } from '../keystore/types.js';
import { mac, SecureKey } from '../native/index.js';
import { EnvelopeError } from '../vault/errors.js';
import { open as openEnvelope, parseEnvelope, seal as sealEnvelope } from '../vault/envelope.js';
import { NativeKekProvider } from '../vault/kek.js';
import type { KekProvider } from '../vault/kek.js';
import { silentLogger } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { isRecord } from '../common/guards.js';

/** AES-256: the MasterKey is 32 bytes. */
export const MASTER_KEY_BYTES = 32;
/** Shamir share = 32 key bytes + the x coordinate (shamir-secret-sharing appends it). */
const SHARE_BYTES = MASTER_KEY_BYTES + 1;
/** Most shares one key is split into: x coordinates are the non-zero elements of GF(256). */
export const MAX_SHARES = 255;
export const SEAL_FILE = 'seal.json';
export const DEV_KEY_FILE = 'master.key';
export const SECRETS_DIR = 'secrets';
export const SEAL_FILE_VERSION = 1;
/**
 * Largest seal.json we read. It holds a few hundred bytes; the cap stops a replaced (or /dev/zero-linked) file
 * from making start-up read unbounded data.
 */
const MAX_SEAL_FILE_BYTES = 16 * 1024;
/**
 * Longest share text accepted (a share is 80 characters). Stops an operator-socket client from making the server
 * buffer and parse megabytes per "share".
 */
export const MAX_SHARE_TEXT_CHARS = 256;
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
/** Purposes of derived keys: same alphabet, bounded so the HMAC input stays small. */
export const DERIVE_PURPOSE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/** Share text: `okcm1-` + 8 hex checksum + `-` + 66 hex (the 33 share bytes). */
const SHARE_PREFIX = 'okcm1';
const SHARE_PATTERN = /^okcm1-([0-9a-f]{8})-([0-9a-f]{66})$/;
/** Domain labels: every MAC/AAD input made here is distinct from every other use of the key. */
const SHARE_CHECKSUM_LABEL = 'openkcm/share-checksum/v1\0';
const DERIVE_LABEL = 'openkcm/derive/v1\0';
const KEY_ID_LABEL = 'openkcm/master-key/id/v1\0';
const CHECK_PLAINTEXT = Buffer.from('openkcm master key check value v1', 'utf8');
/** The envelope identity (AAD) of everything the MasterKey seals: "tenant" `_node`, uid names the item. */
export const NODE_AAD_TENANT = '_node';
const CHECK_AAD = { tenant: NODE_AAD_TENANT, uid: 'seal-check', version: 1 } as const;
/** The context the auto-unseal plugin binds the wrapped MasterKey to. */
const AUTO_WRAP_CONTEXT = { tenant: 'openkcm-node', purpose: 'master-key' } as const;
const FORBIDDEN_FILE_MODE = 0o077;

export type SealType = 'shamir' | 'auto' | 'dev';

export type MasterKeyErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_CONFIG'
  | 'NOT_INITIALIZED'
  | 'ALREADY_INITIALIZED'
  | 'INVALID_SHARE'
  | 'DUPLICATE_SHARE'
  | 'WRONG_SHARES'
  | 'NOT_SHAMIR'
  | 'CORRUPT'
  | 'AUTO_UNSEAL_FAILED'
  | 'SECRET_NOT_FOUND';

export class MasterKeyError extends Error {
  override readonly name = 'MasterKeyError';
  readonly code: MasterKeyErrorCode;
  constructor(code: MasterKeyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface MasterKeyStatus {
  initialized: boolean;
  sealed: boolean;
  type: SealType;
  threshold?: number;
  shares?: number;
  /** Shares accepted so far (shamir, while sealed). */
  progress?: number;
}

/** The `seal` section of openkcm.conf. */
export interface SealSettings {
  /**
   * A data directory without seal.json gets the development key file (default true: the quick start works
   * without ceremony). Production sets false: the node then stays sealed and uninitialised until
   * `openkcm operator init`.
   */
  readonly allowDev: boolean;
}

export interface MasterKeyOptions {
  /** An OPEN plugin for the auto-unseal shadow reference (required for type 'auto'). */
  keystoreFor?(shadow: ShadowReference): Promise<KeystorePlugin>;
  logger?: Logger;
}

/** Validates the config file's `seal` section; unknown keys are errors (a typo must not weaken the seal). */
export function resolveSealSettings(settings: Readonly<Record<string, unknown>>): SealSettings {
  if (typeof settings !== 'object' || Array.isArray(settings)) throw new MasterKeyError('INVALID_CONFIG', 'seal settings must be an object');
  for (const key of Object.keys(settings)) {
    // `auto` (auto-unseal connection and credentials) is validated by src/krypton/auto-seal.ts autoSealSettings.
    if (key !== 'allowDev' && key !== 'auto') throw new MasterKeyError('INVALID_CONFIG', `unknown seal setting ${JSON.stringify(key)} (known: allowDev, auto)`);
  }
  const allowDev = settings['allowDev'] ?? true;
  if (typeof allowDev !== 'boolean') throw new MasterKeyError('INVALID_CONFIG', 'seal.allowDev must be true or false');
  return { allowDev };
}

// ---- seal.json --------------------------------------------------------------------------------------------------

interface SealFile {
  version: number;
  type: SealType;
  createdAt: string;
  /** base64 envelope of CHECK_PLAINTEXT under the MasterKey. */
  checkValue: string;
  shares?: number;
  threshold?: number;
  autoUnseal?: { shadow: ShadowReference; wrappedKey: string };
}

function parseSealFile(text: string, file: string): SealFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new MasterKeyError('CORRUPT', `${file} is not valid JSON`, { cause });
  }
  const bad = (why: string): MasterKeyError => new MasterKeyError('CORRUPT', `${file}: ${why}`);
  if (!isRecord(raw)) throw bad('not an object');
  if (raw['version'] !== SEAL_FILE_VERSION) throw bad(`unsupported version ${JSON.stringify(raw['version'])}`);
  const type = raw['type'];
  if (type !== 'shamir' && type !== 'auto' && type !== 'dev') throw bad(`unknown type ${JSON.stringify(type)}`);
  const checkValue = raw['checkValue'];
  if (typeof checkValue !== 'string' || checkValue.length === 0) throw bad('checkValue missing');
  const createdAt = typeof raw['createdAt'] === 'string' ? raw['createdAt'] : '';
  const out: SealFile = { version: SEAL_FILE_VERSION, type, createdAt, checkValue };
  if (type === 'shamir') {
    const n = raw['shares'];
    const k = raw['threshold'];
    if (typeof n !== 'number' || typeof k !== 'number') throw bad('shares/threshold missing');
    const why = shamirParamsProblem(n, k);
    if (why !== undefined) throw bad(why);
    out.shares = n;
    out.threshold = k;
  }
  if (type === 'auto') {
    const a = raw['autoUnseal'];
    if (!isRecord(a) || !isRecord(a['shadow']) || typeof a['wrappedKey'] !== 'string') throw bad('autoUnseal {shadow, wrappedKey} missing');
    const s = a['shadow'];
    if (typeof s['plugin'] !== 'string' || typeof s['keyRef'] !== 'string' || typeof s['keyVersion'] !== 'string') throw bad('autoUnseal.shadow is malformed');
    out.autoUnseal = { shadow: { plugin: s['plugin'], keyRef: s['keyRef'], keyVersion: s['keyVersion'] }, wrappedKey: a['wrappedKey'] };
  }
  return out;
}

/** Why (N, K) is not acceptable, or undefined. 1 <= K <= N <= 255; K >= 2 unless N = 1. */
export function shamirParamsProblem(shares: number, threshold: number): string | undefined {
  if (!Number.isInteger(shares) || shares < 1 || shares > MAX_SHARES) return `shares must be an integer in 1..${String(MAX_SHARES)}, got ${String(shares)}`;
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) return `threshold must be an integer in 1..shares (${String(shares)}), got ${String(threshold)}`;
  if (threshold === 1 && shares !== 1) return 'threshold 1 with several shares would make every share a full copy of the key; use threshold >= 2 (or shares 1)';
  return undefined;
}

/** Reads a small regular file without following symlinks; undefined when absent. */
function readSmallFile(file: string, max: number, requirePrivate: boolean): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new MasterKeyError('CORRUPT', `${file} is a symbolic link; refusing to follow it`, { cause: e });
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new MasterKeyError('CORRUPT', `${file} is not a regular file`);
    if (st.size > max) throw new MasterKeyError('CORRUPT', `${file} is ${String(st.size)} bytes; at most ${String(max)} expected`);
    if (requirePrivate && (st.mode & FORBIDDEN_FILE_MODE) !== 0) {
      throw new MasterKeyError('CORRUPT', `${file} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; it must be 0600 (run: chmod 600 ${file})`);
    }
    const out = Buffer.alloc(st.size);
    let off = 0;
    while (off < out.length) {
      const n = readSync(fd, out, off, out.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === out.length ? out : out.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

function readSealFile(dataDir: string): SealFile | undefined {
  const file = path.join(dataDir, SEAL_FILE);
  const bytes = readSmallFile(file, MAX_SEAL_FILE_BYTES, false);
  return bytes === undefined ? undefined : parseSealFile(bytes.toString('utf8'), file);
}

function writeSealFile(dataDir: string, seal: SealFile): void {
  writeFileAtomic(path.join(dataDir, SEAL_FILE), Buffer.from(JSON.stringify(seal, null, 2) + '\n', 'utf8'));
}

// ---- the MasterKey as a KEK (for envelopes) --------------------------------------------------------------------

/**
 * The MasterKey's lineage id: `mk-` + 16 hex of HMAC-SHA256(MK, label), computed in the slot. A different key
 * gives a different id, so an envelope sealed under another node's key fails with WRONG_KEY, not TAMPERED.
 */
function masterKeyId(key: SecureKey): string {
  const m = mac(key, 'HMAC-SHA256', Buffer.from(KEY_ID_LABEL, 'utf8'));
  const id = 'mk-' + Buffer.from(m).toString('hex', 0, 8);
  m.fill(0);
  return id;
}

/** A KekProvider view of the slot that does not own it (the MasterKey destroys the slot itself). */
class BorrowedKek implements KekProvider {
  readonly id: string;
  readonly currentVersion = 1;
  readonly #inner: NativeKekProvider;
  constructor(key: SecureKey) {
    this.id = masterKeyId(key);
    this.#inner = new NativeKekProvider(this.id, new Map([[1, key]]), 1);
  }
  hasVersion(version: number): boolean {
    return version === 1;
  }
  seal(version: number, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return this.#inner.seal(version, nonce, plaintext, aad);
  }
  open(version: number, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return this.#inner.open(version, nonce, sealed, aad);
  }
}

async function makeCheckValue(key: SecureKey): Promise<string> {
  return (await sealEnvelope(new BorrowedKek(key), CHECK_PLAINTEXT, CHECK_AAD)).toString('base64');
}

/** True when `key` opens the check value (constant-time compare of the label). */
async function checkValueMatches(key: SecureKey, checkValue: string): Promise<boolean> {
  try {
    const plain = await openEnvelope(new BorrowedKek(key), Buffer.from(checkValue, 'base64'), CHECK_AAD);
    const ok = plain.length === CHECK_PLAINTEXT.length && timingSafeEqual(plain, CHECK_PLAINTEXT);
    plain.fill(0);
    return ok;
  } catch (e) {
    if (e instanceof EnvelopeError) return false;
    throw e;
  }
}

// ---- shares -----------------------------------------------------------------------------------------------------

function shareChecksum(share: Uint8Array): string {
  return createHash('sha256').update(SHARE_CHECKSUM_LABEL).update(share).digest('hex').slice(0, 8);
}

/** Text form of a share: `okcm1-<8 hex checksum>-<66 hex>`. The checksum catches typos before combining. */
export function encodeShare(share: Uint8Array): string {
  return `${SHARE_PREFIX}-${shareChecksum(share)}-${Buffer.from(share).toString('hex')}`;
}

/** Parses a share's text form (surrounding blanks ignored). Throws INVALID_SHARE naming the problem. */
export function decodeShare(text: string): Uint8Array {
  if (typeof text !== 'string') throw new MasterKeyError('INVALID_SHARE', 'a share must be a string');
  if (text.length > MAX_SHARE_TEXT_CHARS) throw new MasterKeyError('INVALID_SHARE', `a share is at most ${String(MAX_SHARE_TEXT_CHARS)} characters`);
  const m = SHARE_PATTERN.exec(text.trim().toLowerCase());
  if (m === null) throw new MasterKeyError('INVALID_SHARE', `malformed share: expected ${SHARE_PREFIX}-XXXXXXXX-<66 hex digits> as printed by openkcm operator init`);
  // Copy into a plain Uint8Array: shamir-secret-sharing checks `constructor === Uint8Array` (a Buffer fails).
  const hex = Buffer.from(m[2] ?? '', 'hex');
  const share = new Uint8Array(SHARE_BYTES);
  share.set(hex);
  hex.fill(0);
  const sum = Buffer.from(shareChecksum(share), 'utf8');
  const given = Buffer.from(m[1] ?? '', 'utf8');
  if (!timingSafeEqual(sum, given)) {
    share.fill(0);
    throw new MasterKeyError('INVALID_SHARE', 'share checksum mismatch: the share was mistyped or damaged');
  }
  if (share[MASTER_KEY_BYTES] === 0) {
    share.fill(0);
    throw new MasterKeyError('INVALID_SHARE', 'malformed share: index 0 is not a valid share');
  }
  return share;
}

/** Splits the key in `key` into N shares (text form). The exported bytes are wiped before returning. */
async function splitKey(key: SecureKey, shares: number, threshold: number): Promise<string[]> {
  const exported = key.export();
  const secret = new Uint8Array(MASTER_KEY_BYTES);
  secret.set(exported);
  exported.fill(0);
  let parts: Uint8Array[];
  try {
    if (shares === 1) {
      // Threshold 1: the degree-0 polynomial's value at any x is the secret itself (the library needs N >= 2).
      const only = new Uint8Array(SHARE_BYTES);
      only.set(secret);
      only[MASTER_KEY_BYTES] = 1;
      parts = [only];
    } else {
      parts = await split(secret, shares, threshold);
    }
  } finally {
    secret.fill(0);
  }
  const out = parts.map(encodeShare);
  for (const p of parts) p.fill(0);
  return out;
}

/** Combines shares into a new slot; every JS copy is wiped. */
async function combineShares(parts: readonly Uint8Array[]): Promise<SecureKey> {
  let secret: Uint8Array;
  if (parts.length === 1) {
    secret = new Uint8Array(MASTER_KEY_BYTES);
    secret.set((parts[0] ?? new Uint8Array(SHARE_BYTES)).subarray(0, MASTER_KEY_BYTES));
  } else {
    secret = await combine([...parts]);
  }
  try {
    return SecureKey.import(secret); // wipes `secret`
  } finally {
    secret.fill(0);
  }
}

// ---- dev key file -----------------------------------------------------------------------------------------------

function readDevKey(dataDir: string): SecureKey | undefined {
  const file = path.join(dataDir, DEV_KEY_FILE);
  const bytes = readSmallFile(file, MASTER_KEY_BYTES, true);
  if (bytes === undefined) return undefined;
  if (bytes.length !== MASTER_KEY_BYTES) {
    bytes.fill(0);
    throw new MasterKeyError('CORRUPT', `${file} is ${String(bytes.length)} bytes; expected exactly ${String(MASTER_KEY_BYTES)}`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined) {
    // Owned by someone else: a planted key file would make us seal secrets under an attacker's key.
    const fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      if (fstatSync(fd).uid !== uid) {
        bytes.fill(0);
        throw new MasterKeyError('CORRUPT', `${file} is not owned by this user (uid ${String(uid)})`);
      }
    } finally {
      closeSync(fd);
    }
  }
  return SecureKey.import(bytes); // wipes `bytes`
}

function writeDevKey(dataDir: string, key: SecureKey): void {
  const bytes = key.export();
  try {
    writeFileAtomic(path.join(dataDir, DEV_KEY_FILE), bytes);
  } finally {
    bytes.fill(0);
  }
}

function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

// ---- the MasterKey ----------------------------------------------------------------------------------------------

export class MasterKey extends EventEmitter {
  readonly dataDir: string;
  readonly secrets: NodeSecrets;
  readonly #logger: Logger;
  #seal: SealFile | undefined;
  #key: SecureKey | undefined;
  #kek: BorrowedKek | undefined;
  /** Submitted shares, in memory only (never on disk), keyed by x coordinate. */
  readonly #shares = new Map<number, Uint8Array>();
  #combining = false;

  private constructor(dataDir: string, seal: SealFile | undefined, logger: Logger) {
    super();
    this.dataDir = dataDir;
    this.#seal = seal;
    this.#logger = logger;
    this.secrets = new NodeSecrets(this);
  }

  /**
   * Opens the MasterKey of `dataDir` per its seal.json: dev and auto types unseal now; shamir waits for shares.
   * Without seal.json: the development key file when `seal.allowDev` (default), else sealed and uninitialised.
   * @throws MasterKeyError INVALID_CONFIG | CORRUPT | AUTO_UNSEAL_FAILED
   */
  static async open(dataDir: string, settings: Readonly<Record<string, unknown>> = {}, opts: MasterKeyOptions = {}): Promise<MasterKey> {
    const cfg = resolveSealSettings(settings);
    const dir = path.resolve(dataDir);
    const logger = opts.logger ?? silentLogger;
    ensureDir(dir);
    let seal = readSealFile(dir);
    if (seal === undefined && cfg.allowDev) {
      seal = await initDev(dir);
    }
    const mk = new MasterKey(dir, seal, logger);
    if (seal === undefined) {
      logger.warn('master key not initialised: run `openkcm operator init` (seal.allowDev is false)', { dataDir: dir });
      return mk;
    }
    if (seal.type === 'dev') {
      if (!cfg.allowDev) throw new MasterKeyError('INVALID_CONFIG', `${dir} uses the development master key file but seal.allowDev is false; run openkcm operator init --shares N --threshold K`);
      const key = readDevKey(dir);
      if (key === undefined) throw new MasterKeyError('CORRUPT', `${path.join(dir, DEV_KEY_FILE)} is missing: the development master key is lost, secrets sealed under it are unreadable`);
      await mk.#install(key, 'dev key file');
      logger.warn('DEVELOPMENT ONLY: the master key is stored in the clear in master.key; convert with `openkcm operator init --shares N --threshold K` before production use', { dataDir: dir });
    } else if (seal.type === 'auto') {
      await mk.#autoUnseal(opts);
    } else {
      logger.info('master key sealed: submit unseal shares with `openkcm operator unseal`', { threshold: seal.threshold, shares: seal.shares });
    }
    return mk;
  }

  /**
   * `operator init`: makes `dataDir` a shamir node and returns the N shares (text form) — shown once, never stored.
   * A dev data dir is converted: its EXISTING key is split (sealed secrets stay readable) and master.key is
   * overwritten and unlinked. An auto or shamir dir is refused unless `force`, which makes a NEW key (everything
   * sealed under the old one becomes unreadable). An auto dir converts only with force too, because its key
   * cannot be unwrapped offline.
   */
  static async initShamir(dataDir: string, params: { shares: number; threshold: number; force?: boolean }): Promise<string[]> {
    const why = shamirParamsProblem(params.shares, params.threshold);
    if (why !== undefined) throw new MasterKeyError('INVALID_ARGUMENT', why);
    const dir = path.resolve(dataDir);
    ensureDir(dir);
    const key = existingOrNewKey(dir, params.force === true);
    try {
      const shares = await splitKey(key, params.shares, params.threshold);
      writeSealFile(dir, {
        version: SEAL_FILE_VERSION, type: 'shamir', createdAt: new Date().toISOString(),
        checkValue: await makeCheckValue(key), shares: params.shares, threshold: params.threshold,
      });
      shredFile(path.join(dir, DEV_KEY_FILE));
      return shares;
    } finally {
      key.destroy();
    }
  }

  /**
   * `operator init --auto-unseal`: stores the MasterKey wrapped by `plugin` (whose key `shadow` names) in
   * seal.json. Same conversion and refusal rules as {@link initShamir}.
   */
  static async initAuto(dataDir: string, shadow: ShadowReference, plugin: KeystorePlugin, opts: { force?: boolean } = {}): Promise<void> {
    if (shadow.plugin !== plugin.kind) throw new MasterKeyError('INVALID_ARGUMENT', `shadow.plugin ${shadow.plugin} does not match the plugin kind ${plugin.kind}`);
    const dir = path.resolve(dataDir);
    ensureDir(dir);
    const key = existingOrNewKey(dir, opts.force === true);
    try {
      const bytes = key.export();
      let wrapped: Uint8Array;
      try {
        wrapped = await plugin.wrap(bytes, AUTO_WRAP_CONTEXT);
      } catch (cause) {
        throw new MasterKeyError('AUTO_UNSEAL_FAILED', `wrapping the master key through ${shadow.plugin} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      } finally {
        bytes.fill(0);
      }
      writeSealFile(dir, {
        version: SEAL_FILE_VERSION, type: 'auto', createdAt: new Date().toISOString(), checkValue: await makeCheckValue(key),
        autoUnseal: { shadow: { plugin: shadow.plugin, keyRef: shadow.keyRef, keyVersion: shadow.keyVersion }, wrappedKey: Buffer.from(wrapped).toString('base64') },
      });
      shredFile(path.join(dir, DEV_KEY_FILE));
    } finally {
      key.destroy();
    }
  }

  status(): MasterKeyStatus {
    this.#reloadIfUninitialised();
    const seal = this.#seal;
    if (seal === undefined) return { initialized: false, sealed: true, type: 'shamir' };
    const sealed = this.#key === undefined;
    const out: MasterKeyStatus = { initialized: true, sealed, type: seal.type };
    if (seal.type === 'shamir') {
      out.threshold = seal.threshold ?? 0;
      out.shares = seal.shares ?? 0;
      out.progress = sealed ? this.#shares.size : 0;
    }
    return out;
  }

  get sealed(): boolean {
    return this.#key === undefined;
  }

  /**
   * Adds one unseal share (text form). Shares accumulate in memory; at the threshold they are combined, the
   * result is checked against the check value and, if it matches, the node unseals.
   * @throws MasterKeyError INVALID_SHARE (malformed, checksum, wrong length) | DUPLICATE_SHARE | WRONG_SHARES
   *   (threshold reached but the key does not open the check value; progress is reset) | NOT_SHAMIR | NOT_INITIALIZED
   */
  async submitShare(share: string): Promise<MasterKeyStatus> {
    this.#reloadIfUninitialised();
    const seal = this.#seal;
    if (seal === undefined) throw new MasterKeyError('NOT_INITIALIZED', 'the master key is not initialised: run openkcm operator init first');
    if (seal.type !== 'shamir') throw new MasterKeyError('NOT_SHAMIR', `this node unseals by ${seal.type === 'auto' ? 'auto-unseal' : 'the development key file'}, not by shares`);
    const bytes = decodeShare(share);
    if (this.#key !== undefined) {
      bytes.fill(0);
      return this.status();
    }
    if (this.#combining) {
      bytes.fill(0);
      throw new MasterKeyError('INVALID_ARGUMENT', 'shares are being combined; retry');
    }
    const x = bytes[MASTER_KEY_BYTES] ?? 0;
    if (this.#shares.has(x)) {
      bytes.fill(0);
      throw new MasterKeyError('DUPLICATE_SHARE', `share #${String(x)} was already submitted (progress ${String(this.#shares.size)}/${String(seal.threshold)})`);
    }
    this.#shares.set(x, bytes);
    const threshold = seal.threshold ?? 0;
    this.#logger.info('unseal share accepted', { progress: this.#shares.size, threshold });
    if (this.#shares.size < threshold) return this.status();
    this.#combining = true;
    try {
      const key = await combineShares([...this.#shares.values()]);
      this.#forgetShares();
      if (!(await checkValueMatches(key, seal.checkValue))) {
        key.destroy();
        this.#logger.warn('unseal failed: the shares do not reconstruct the master key; progress reset', {});
        throw new MasterKeyError('WRONG_SHARES', 'shares do not reconstruct the master key (shares from another initialisation, or a damaged share); progress reset, submit the shares again');
      }
      this.#key = key;
      this.#kek = new BorrowedKek(key);
      this.#logger.info('master key unsealed', { type: 'shamir' });
      this.emit('unsealed');
      return this.status();
    } catch (e) {
      this.#forgetShares();
      throw e;
    } finally {
      this.#combining = false;
    }
  }

  /** Zeroises the key slot and forgets submitted shares. Idempotent. Emits 'sealed' when it was unsealed. */
  seal(): void {
    this.#forgetShares();
    const key = this.#key;
    if (key === undefined) return;
    this.#key = undefined;
    this.#kek = undefined;
    key.destroy();
    this.#logger.info('master key sealed', {});
    this.emit('sealed');
  }

  /**
   * A per-purpose key derived from the MasterKey: HMAC-SHA256(MK, "openkcm/derive/v1\0" ‖ purpose), computed in
   * the slot. The 32-byte result passes through JS once (the addon returns MAC output as bytes) and is imported
   * into a new slot at once; the copy is wiped. The caller owns the returned key (destroy() it; listen for
   * 'sealed' to drop it). Same purpose → same key across restarts.
   * @throws KmipError SERVER_SEALED
   */
  deriveKey(purpose: string): SecureKey {
    if (typeof purpose !== 'string' || !DERIVE_PURPOSE_PATTERN.test(purpose)) {
      throw new MasterKeyError('INVALID_ARGUMENT', `purpose must match ${DERIVE_PURPOSE_PATTERN.source}`);
    }
    const key = this.#requireKey();
    const out = mac(key, 'HMAC-SHA256', Buffer.from(DERIVE_LABEL + purpose, 'utf8'));
    try {
      return SecureKey.import(out); // wipes `out`
    } finally {
      out.fill(0);
    }
  }

  /** @internal The KEK view of the unsealed key (NodeSecrets, the local keystore). Throws SERVER_SEALED. */
  kek(): KekProvider {
    this.#requireKey();
    if (this.#kek === undefined) throw new KmipError('SERVER_SEALED');
    return this.#kek;
  }

  /** @internal The slot itself, for native seal/open of other slots (the local keystore). Throws SERVER_SEALED. */
  slot(): SecureKey {
    return this.#requireKey();
  }

  #requireKey(): SecureKey {
    if (this.#key === undefined) throw new KmipError('SERVER_SEALED');
    return this.#key;
  }

  async #install(key: SecureKey, how: string): Promise<void> {
    const seal = this.#seal;
    if (seal === undefined || !(await checkValueMatches(key, seal.checkValue))) {
      key.destroy();
      throw new MasterKeyError('CORRUPT', `the master key from the ${how} does not match seal.json's check value`);
    }
    this.#key = key;
    this.#kek = new BorrowedKek(key);
    this.emit('unsealed');
  }

  async #autoUnseal(opts: MasterKeyOptions): Promise<void> {
    const auto = this.#seal?.autoUnseal;
    if (auto === undefined) throw new MasterKeyError('CORRUPT', 'seal.json type auto without autoUnseal');
    if (opts.keystoreFor === undefined) throw new MasterKeyError('AUTO_UNSEAL_FAILED', `auto-unseal through ${auto.shadow.plugin} needs a keystore (opts.keystoreFor)`);
    let bytes: Uint8Array;
    try {
      const plugin = await opts.keystoreFor(auto.shadow);
      bytes = await plugin.unwrap(Buffer.from(auto.wrappedKey, 'base64'), AUTO_WRAP_CONTEXT);
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      this.#logger.error('auto-unseal failed; the node stays sealed', { plugin: auto.shadow.plugin, keyRef: auto.shadow.keyRef, errCode: typeof code === 'string' ? code : undefined });
      throw new MasterKeyError('AUTO_UNSEAL_FAILED', `auto-unseal through ${auto.shadow.plugin} (${auto.shadow.keyRef}) failed${typeof code === 'string' ? ` [${code}]` : ''}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    if (bytes.length !== MASTER_KEY_BYTES) {
      bytes.fill(0);
      throw new MasterKeyError('AUTO_UNSEAL_FAILED', `auto-unseal returned ${String(bytes.length)} bytes, not a master key`);
    }
    await this.#install(SecureKey.import(bytes), `auto-unseal (${auto.shadow.plugin})`);
    this.#logger.info('master key auto-unsealed', { plugin: auto.shadow.plugin, keyRef: auto.shadow.keyRef });
  }

  /** seal.json may be written by `operator init` while this (uninitialised) node runs: pick it up. */
  #reloadIfUninitialised(): void {
    if (this.#seal !== undefined) return;
    try {
      const seal = readSealFile(this.dataDir);
      if (seal?.type === 'shamir') this.#seal = seal;
    } catch {
      // A half-written or invalid file stays "not initialised"; open() reports it on the next start.
    }
  }

  #forgetShares(): void {
    for (const s of this.#shares.values()) s.fill(0);
    this.#shares.clear();
  }
}

async function initDev(dir: string): Promise<SealFile> {
  let key = readDevKey(dir);
  if (key === undefined) {
    key = SecureKey.generate(MASTER_KEY_BYTES);
    writeDevKey(dir, key);
  }
  try {
    const seal: SealFile = { version: SEAL_FILE_VERSION, type: 'dev', createdAt: new Date().toISOString(), checkValue: await makeCheckValue(key) };
    writeSealFile(dir, seal);
    return seal;
  } finally {
    key.destroy();
  }
}

/** The key `init` splits/wraps: the dev key (conversion), or a fresh one (new dir, or force). */
function existingOrNewKey(dir: string, force: boolean): SecureKey {
  const seal = readSealFileLenient(dir, force);
  if (seal !== undefined && seal.type !== 'dev' && !force) {
    throw new MasterKeyError('ALREADY_INITIALIZED', `${dir} is already initialised (${seal.type}); --force makes a NEW master key and everything sealed under the old one becomes unreadable`);
  }
  if (seal === undefined || seal.type === 'dev') {
    const dev = readDevKey(dir);
    if (dev !== undefined) return dev;
    if (seal?.type === 'dev' && !force) throw new MasterKeyError('CORRUPT', `${dir} is a development node but ${DEV_KEY_FILE} is missing; use --force to start over with a new key`);
  }
  return SecureKey.generate(MASTER_KEY_BYTES);
}

function readSealFileLenient(dir: string, force: boolean): SealFile | undefined {
  try {
    return readSealFile(dir);
  } catch (e) {
    if (force && e instanceof MasterKeyError) return undefined;
    throw e;
  }
}

// ---- node secrets -----------------------------------------------------------------------------------------------

/**
 * Named secrets of the node (keystore PINs, cloud credentials, TLS keys at rest), each an envelope sealed under
 * the MasterKey in `<dataDir>/secrets/<name>` (0600, atomic write + fsync). The AAD binds the name, so a file
 * renamed or copied to another name fails to open. Implements the keystore SecretSource. Every method throws
 * KmipError('SERVER_SEALED') while sealed.
 */
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

export class NodeSecrets {
  readonly #mk: MasterKey;
  readonly #listeners = new Set<(change: NodeSecretChange) => void>();
  constructor(mk: MasterKey) {
    this.#mk = mk;
  }

  /** Calls `listener` after every put/delete (the governance plane audits them); returns the unsubscribe. */
  onChange(listener: (change: NodeSecretChange) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  #changed(change: NodeSecretChange): void {
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch {
        // An auditor's failure must not undo or fail the change itself; the auditor logs its own errors.
      }
    }
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
    ensureDir(this.dir);
    writeFileAtomic(file, blob);
    this.#changed({ op: 'put', name, by, bytes: value.length });
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
  delete(name: string, by = 'node'): Promise<boolean> {
    try {
      this.#mk.kek();
      const file = this.#file(name);
      const existed = readdirOrEmpty(this.dir).includes(name);
      if (existed) shredFile(file);
      this.#changed({ op: 'delete', name, by, bytes: existed ? 1 : 0 });
      return Promise.resolve(existed);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
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
