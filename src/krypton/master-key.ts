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
import path from 'node:path';
import { KmipError } from '../kmip/errors.js';
import type { KeystorePlugin, ShadowReference } from '../keystore/types.js';
import { mac, SecureKey } from '../native/index.js';
import type { KekProvider, SlotWrappingKek } from '../vault/kek.js';
import { silentLogger } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { ensureOwnerOnlyDir, shredFile } from '../common/secure-fs.js';
import { MasterKeyError } from './errors.js';
import { MasterKek } from './master-kek.js';
import { NodeSecrets } from './node-secrets.js';
import { DEV_KEY_FILE, readDevKey, readSealFile, readSealFileLenient, SEAL_FILE_VERSION, writeDevKey, writeSealFile } from './seal-file.js';
import type { SealFile, SealType } from './seal-file.js';
import { combineShares, decodeShare, MASTER_KEY_BYTES, shamirParamsProblem, splitKey } from './shamir.js';

// The MasterKey's public surface, re-exported so that its users keep one import (the CLI, the server wiring).
export { MasterKeyError } from './errors.js';
export type { MasterKeyErrorCode } from './errors.js';
export { NODE_AAD_TENANT } from './master-kek.js';
export { MAX_NODE_SECRET_BYTES, NODE_SECRET_NAME_PATTERN, NodeSecrets, SECRETS_DIR } from './node-secrets.js';
export type { NodeSecretChange, NodeSecretEntry } from './node-secrets.js';
export { DEV_KEY_FILE, SEAL_FILE, SEAL_FILE_VERSION } from './seal-file.js';
export type { SealType } from './seal-file.js';
export { decodeShare, encodeShare, MASTER_KEY_BYTES, MAX_SHARE_TEXT_CHARS, MAX_SHARES, shamirParamsProblem } from './shamir.js';
export { shredFile, writeFileAtomic } from '../common/secure-fs.js';

/** Purposes of derived keys: same alphabet, bounded so the HMAC input stays small. */
export const DERIVE_PURPOSE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
/** Domain label: derived keys are distinct from every other use of the key. */
const DERIVE_LABEL = 'openkcm/derive/v1\0';
/** The context the auto-unseal plugin binds the wrapped MasterKey to. */
const AUTO_WRAP_CONTEXT = { tenant: 'openkcm-node', purpose: 'master-key' } as const;

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

// ---- the MasterKey ----------------------------------------------------------------------------------------------

export class MasterKey extends EventEmitter implements SlotWrappingKek {
  readonly dataDir: string;
  readonly secrets: NodeSecrets;
  readonly #logger: Logger;
  #seal: SealFile | undefined;
  #key: SecureKey | undefined;
  #kek: MasterKek | undefined;
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
    ensureOwnerOnlyDir(dir);
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
    ensureOwnerOnlyDir(dir);
    const { key, seals } = existingOrNewKey(dir, params.force === true);
    try {
      const shares = await splitKey(key, params.shares, params.threshold);
      await writeNewSealFile(dir, key, seals, { type: 'shamir', shares: params.shares, threshold: params.threshold });
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
    ensureOwnerOnlyDir(dir);
    const { key, seals } = existingOrNewKey(dir, opts.force === true);
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
      await writeNewSealFile(dir, key, seals, {
        type: 'auto',
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
      if (!(await new MasterKek(key).opensCheckValue(seal.checkValue))) {
        key.destroy();
        this.#logger.warn('unseal failed: the shares do not reconstruct the master key; progress reset', {});
        throw new MasterKeyError('WRONG_SHARES', 'shares do not reconstruct the master key (shares from another initialisation, or a damaged share); progress reset, submit the shares again');
      }
      this.#key = key;
      this.#kek = this.#kekOf(key, seal);
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
    return this.#unsealedKek();
  }

  /** @internal The slot itself. Throws SERVER_SEALED. */
  slot(): SecureKey {
    return this.#requireKey();
  }

  // SlotWrappingKek (src/vault/kek.ts): what the composition root hands the local keystore. Each throws SERVER_SEALED.
  keyId(): string {
    return this.#unsealedKek().id;
  }

  wrapKey(key: SecureKey, uid: string): Buffer {
    return this.#unsealedKek().wrapKey(key, uid);
  }

  unwrapKey(envelope: Uint8Array, uid: string): SecureKey {
    return this.#unsealedKek().unwrapKey(envelope, uid);
  }

  /** AES-GCM seals done under the MasterKey (seal.json `seals`; src/vault/seal-counter.ts). Throws SERVER_SEALED. */
  get sealCount(): number {
    return this.#unsealedKek().seals;
  }

  #unsealedKek(): MasterKek {
    this.#requireKey();
    if (this.#kek === undefined) throw new KmipError('SERVER_SEALED');
    return this.#kek;
  }

  /** The KEK over `key`, its seal count read from and written back to seal.json before each seal proceeds. */
  #kekOf(key: SecureKey, seal: SealFile): MasterKek {
    return new MasterKek(key, seal.seals ?? 0, (seals) => {
      const current = this.#seal ?? seal;
      const next = { ...current, seals };
      writeSealFile(this.dataDir, next);
      this.#seal = next;
    });
  }

  #requireKey(): SecureKey {
    if (this.#key === undefined) throw new KmipError('SERVER_SEALED');
    return this.#key;
  }

  async #install(key: SecureKey, how: string): Promise<void> {
    const seal = this.#seal;
    if (seal === undefined || !(await new MasterKek(key).opensCheckValue(seal.checkValue))) {
      key.destroy();
      throw new MasterKeyError('CORRUPT', `the master key from the ${how} does not match seal.json's check value`);
    }
    this.#key = key;
    this.#kek = this.#kekOf(key, seal);
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
    return await writeNewSealFile(dir, key, 0, { type: 'dev' });
  } finally {
    key.destroy();
  }
}

/**
 * seal.json for `key` (a new one, or the dev key converted): the check value is sealed under the key, so the seal
 * count `seals` carried over from before goes up by one and is written with the file.
 */
async function writeNewSealFile(dir: string, key: SecureKey, seals: number, fields: Pick<SealFile, 'type' | 'shares' | 'threshold' | 'autoUnseal'>): Promise<SealFile> {
  const kek = new MasterKek(key, seals);
  const checkValue = await kek.makeCheckValue();
  const { type, ...rest } = fields;
  const seal: SealFile = { version: SEAL_FILE_VERSION, type, createdAt: new Date().toISOString(), checkValue, ...rest, seals: kek.seals };
  writeSealFile(dir, seal);
  return seal;
}

/**
 * The key `init` splits/wraps: the dev key (conversion, with its seal count), or a fresh one (new dir, or force).
 */
function existingOrNewKey(dir: string, force: boolean): { key: SecureKey; seals: number } {
  const seal = readSealFileLenient(dir, force);
  if (seal !== undefined && seal.type !== 'dev' && !force) {
    throw new MasterKeyError('ALREADY_INITIALIZED', `${dir} is already initialised (${seal.type}); --force makes a NEW master key and everything sealed under the old one becomes unreadable`);
  }
  if (seal === undefined || seal.type === 'dev') {
    const dev = readDevKey(dir);
    if (dev !== undefined) return { key: dev, seals: seal?.seals ?? 0 };
    if (seal?.type === 'dev' && !force) throw new MasterKeyError('CORRUPT', `${dir} is a development node but ${DEV_KEY_FILE} is missing; use --force to start over with a new key`);
  }
  return { key: SecureKey.generate(MASTER_KEY_BYTES), seals: 0 };
}
