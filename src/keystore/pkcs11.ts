/**
 * PKCS#11 keystore plugin: L1 is a non-extractable AES-256 secret key on an HSM token (issue 4, deliverable 2).
 *
 * Wrap choice: we C_Encrypt the given key bytes with CKM_AES_GCM rather than C_WrapKey a session key object.
 * - The tenant must be bound to the blob (ARCHITECTURE §2, "the AAD binds the blob to its identity"). GCM has
 *   AAD; CKM_AES_KEY_WRAP_PAD (RFC 5649) has none, so a tenant's wrapped L2 could be swapped into another
 *   tenant's record unnoticed.
 * - C_WrapKey would need L2 imported into the HSM as a session object first (C_CreateObject with the plaintext
 *   value), which moves the same bytes through the same API for no gain, and SoftHSM supports
 *   CKM_AES_KEY_WRAP_PAD only for C_WrapKey, not C_Encrypt
 *   (C_GetMechanismInfo on SoftHSM 2.6.1: CKF_WRAP set, CKF_ENCRYPT clear); CKM_AES_GCM has CKF_ENCRYPT.
 * Output format (version 1): 0x01 | IV (12 bytes) | ciphertext | tag (16 bytes).
 * AAD: "openkcm/keystore/v1" 0x00 tenant 0x00 purpose  (NUL is refused in both fields, so it is injective).
 *
 * Concurrency: the module is initialised with CKF_OS_LOCKING_OK (without it SoftHSM corrupts its state and
 * crashes under concurrent sessions). Calls are synchronous: a wrap is a few hundred bytes and the sync call
 * costs microseconds, far less than a trip to the libuv pool. A small session pool still exists so that the
 * plugin stays correct if a caller ever switches to the async pkcs11js entry points.
 *
 * Login: PKCS#11 login state is per application and token (PKCS#11 v2.40 §5.6), so we log in once per token and
 * accept CKR_USER_ALREADY_LOGGED_IN. Consequence: within one process, a second plugin on the same token with a
 * wrong PIN is not detected while another session is logged in.
 */
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { PKCS11 } from 'pkcs11js';
import {
  KeystoreError,
  checkUnwrapInput,
  checkWrapInput,
  roundTripHealth,
  type HealthStatus,
  type KeyDescription,
  type KeystoreErrorCode,
  type KeystorePlugin,
  type WrapContext,
} from './types.js';
import { gcmBlob, gcmBlobParts, GCM_IV_BYTES, GCM_TAG_BYTES } from './gcm-blob.js';

export const PKCS11_PLUGIN_KIND = 'pkcs11';

export interface Pkcs11KeystoreConfig {
  /** Path of the vendor's PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  readonly modulePath: string;
  /** CKA_LABEL of the token (trailing blanks are ignored). */
  readonly tokenLabel: string;
  /** The user (CKU_USER) PIN. */
  readonly pin: string;
  /** CKA_LABEL of the L1 AES key on the token. */
  readonly keyLabel: string;
  /** Session pool size; default 4. */
  readonly maxSessions?: number;
}

const AAD_PREFIX = 'openkcm/keystore/v1';
/** Bounds the sessions we hold on the token: HSMs cap sessions per application, and a runaway caller must not
 *  starve other processes (or other tenants) of sessions. */
const MAX_SESSION_POOL = 32;
const DEFAULT_SESSION_POOL = 4;

// ---------------------------------------------------------------------------------------------------------------
// Module registry. A PKCS#11 library is process-global state: C_Initialize twice fails and C_Finalize ends every
// user's sessions. Everything in the process that loads a module goes through this ref-counted registry.

interface LoadedModule {
  readonly pkcs11: PKCS11;
  refs: number;
}
const loadedModules = new Map<string, LoadedModule>();

export interface Pkcs11ModuleHandle {
  readonly pkcs11: PKCS11;
  /** Drops this reference; the last one calls C_Finalize. */
  release(): void;
}

/** Loads and initialises a PKCS#11 module once per process. Throws KeystoreError UNREACHABLE on failure. */
export function acquirePkcs11Module(modulePath: string): Pkcs11ModuleHandle {
  let entry = loadedModules.get(modulePath);
  if (entry === undefined) {
    const pkcs11 = new pkcs11js.PKCS11();
    try {
      pkcs11.load(modulePath);
    } catch (err) {
      throw new KeystoreError('UNREACHABLE', PKCS11_PLUGIN_KIND, `cannot load PKCS#11 module ${modulePath}`, { cause: err });
    }
    try {
      pkcs11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (err) {
      if (ckr(err) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        try {
          pkcs11.close();
        } catch {
          // The module is unusable either way; report the initialisation error.
        }
        throw mapPkcs11Error(err, 'C_Initialize');
      }
    }
    entry = { pkcs11, refs: 0 };
    loadedModules.set(modulePath, entry);
  }
  entry.refs += 1;
  const loaded = entry;
  let released = false;
  return {
    pkcs11: loaded.pkcs11,
    release(): void {
      if (released) return;
      released = true;
      loaded.refs -= 1;
      if (loaded.refs === 0) {
        loadedModules.delete(modulePath);
        try {
          loaded.pkcs11.C_Finalize();
          loaded.pkcs11.close();
        } catch {
          // Finalising a broken module must not mask the caller's own close path.
        }
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Error mapping: CKR_* codes → stable keystore codes (PKCS#11 v2.40 §11.1 return values).

function ckr(err: unknown): number | undefined {
  if (err instanceof pkcs11js.Pkcs11Error) return err.code;
  return undefined;
}

const REVOKED = new Set<number>([
  pkcs11js.CKR_KEY_HANDLE_INVALID,
  pkcs11js.CKR_OBJECT_HANDLE_INVALID,
  // CKA_ENCRYPT/CKA_DECRYPT switched off at the source: the customer disabled the key.
  pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED,
]);
const DENIED = new Set<number>([
  pkcs11js.CKR_PIN_INCORRECT,
  pkcs11js.CKR_PIN_INVALID,
  pkcs11js.CKR_PIN_LEN_RANGE,
  pkcs11js.CKR_PIN_LOCKED,
  pkcs11js.CKR_PIN_EXPIRED,
  pkcs11js.CKR_USER_NOT_LOGGED_IN,
  pkcs11js.CKR_USER_PIN_NOT_INITIALIZED,
]);
const BAD_CIPHERTEXT = new Set<number>([
  pkcs11js.CKR_ENCRYPTED_DATA_INVALID,
  pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE,
]);
const BAD_ARGUMENT = new Set<number>([
  pkcs11js.CKR_ARGUMENTS_BAD,
  pkcs11js.CKR_DATA_LEN_RANGE,
  pkcs11js.CKR_MECHANISM_PARAM_INVALID,
]);

export function mapPkcs11Error(err: unknown, operation: string): KeystoreError {
  if (err instanceof KeystoreError) return err;
  const code = ckr(err);
  const text = err instanceof Error ? err.message : String(err);
  let mapped: KeystoreErrorCode = 'UNREACHABLE';
  if (code !== undefined) {
    if (REVOKED.has(code)) mapped = 'KEY_REVOKED_OR_DISABLED';
    else if (DENIED.has(code)) mapped = 'ACCESS_DENIED';
    else if (BAD_CIPHERTEXT.has(code)) mapped = 'INVALID_CIPHERTEXT';
    else if (BAD_ARGUMENT.has(code)) mapped = 'INVALID_ARGUMENT';
    // Everything else (device error, token absent, session closed, general error) is "cannot use the source".
  }
  return new KeystoreError(mapped, PKCS11_PLUGIN_KIND, `${operation} failed: ${text}`, { cause: err });
}

// ---------------------------------------------------------------------------------------------------------------

interface Connection {
  readonly module: Pkcs11ModuleHandle;
  readonly slot: Buffer;
  readonly idle: Buffer[];
  readonly waiters: ((session: Buffer) => void)[];
  open: number;
  key: Buffer | undefined;
}

function aadFor(context: WrapContext): Buffer {
  return Buffer.from(`${AAD_PREFIX}\0${context.tenant}\0${context.purpose ?? ''}`, 'utf8');
}

function trimLabel(label: string): string {
  return label.replace(/[\s\0]+$/u, '');
}

export class Pkcs11Keystore implements KeystorePlugin {
  readonly kind = PKCS11_PLUGIN_KIND;
  readonly #config: Pkcs11KeystoreConfig;
  readonly #poolSize: number;
  #connection: Connection | undefined;
  #closed = false;

  constructor(config: Pkcs11KeystoreConfig) {
    const poolSize = config.maxSessions ?? DEFAULT_SESSION_POOL;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > MAX_SESSION_POOL) {
      throw new KeystoreError('INVALID_ARGUMENT', PKCS11_PLUGIN_KIND, `maxSessions must be 1..${String(MAX_SESSION_POOL)}`);
    }
    for (const field of ['modulePath', 'tokenLabel', 'keyLabel'] as const) {
      if (typeof config[field] !== 'string' || config[field].length === 0) {
        throw new KeystoreError('INVALID_ARGUMENT', PKCS11_PLUGIN_KIND, `${field} must be a non-empty string`);
      }
    }
    this.#config = { ...config };
    this.#poolSize = poolSize;
  }

  get keyRef(): string {
    return `token=${this.#config.tokenLabel};object=${this.#config.keyLabel}`;
  }

  async wrap(plaintextKey: Uint8Array, context: WrapContext): Promise<Uint8Array> {
    checkWrapInput(PKCS11_PLUGIN_KIND, plaintextKey, context);
    return await this.#withKey('wrap', (p, session, key) => {
      const iv = randomBytes(GCM_IV_BYTES);
      p.C_EncryptInit(session, gcm(iv, aadFor(context)), key);
      const input = Buffer.from(plaintextKey.buffer, plaintextKey.byteOffset, plaintextKey.byteLength);
      const out = Buffer.alloc(plaintextKey.length + GCM_TAG_BYTES + 16);
      return gcmBlob(iv, p.C_Encrypt(session, input, out));
    });
  }

  async unwrap(wrapped: Uint8Array, context: WrapContext): Promise<Uint8Array> {
    checkUnwrapInput(PKCS11_PLUGIN_KIND, wrapped, context);
    const parts = gcmBlobParts(wrapped, PKCS11_PLUGIN_KIND, 'PKCS#11');
    const iv = Buffer.from(parts.iv);
    const body = Buffer.from(parts.sealed);
    return await this.#withKey('unwrap', (p, session, key) => {
      p.C_DecryptInit(session, gcm(iv, aadFor(context)), key);
      const out = Buffer.alloc(body.length);
      let plain: Buffer;
      try {
        plain = p.C_Decrypt(session, body, out);
      } catch (err) {
        out.fill(0);
        // A failed GCM tag check. SoftHSM 2.6 reports CKR_GENERAL_ERROR (observed), other HSMs
        // CKR_ENCRYPTED_DATA_INVALID or CKR_FUNCTION_FAILED. C_DecryptInit succeeded with this key just before,
        // so these codes at C_Decrypt mean the blob did not authenticate, not that the HSM is gone.
        const mapped = mapPkcs11Error(err, 'C_Decrypt');
        const code = ckr(err);
        if (code === pkcs11js.CKR_GENERAL_ERROR || code === pkcs11js.CKR_FUNCTION_FAILED) {
          throw new KeystoreError('INVALID_CIPHERTEXT', PKCS11_PLUGIN_KIND, 'authentication of the wrapped blob failed', { cause: err });
        }
        throw mapped;
      }
      const result = new Uint8Array(plain.length);
      result.set(plain);
      out.fill(0);
      return result;
    });
  }

  describe(): Promise<KeyDescription> {
    return this.#withKey('describe', (p, session, key) => {
      const attrs = p.C_GetAttributeValue(session, key, [
        { type: pkcs11js.CKA_VALUE_LEN },
        { type: pkcs11js.CKA_ID },
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_SENSITIVE },
      ]);
      const valueLen = attrs[0]?.value;
      const id = attrs[1]?.value;
      const token = p.C_GetTokenInfo(this.#requireConnection().slot);
      return {
        shadow: {
          plugin: PKCS11_PLUGIN_KIND,
          keyRef: this.keyRef,
          keyVersion: Buffer.isBuffer(id) ? id.toString('hex') : '',
        },
        mechanism: 'CKM_AES_GCM',
        keySizeBits: Buffer.isBuffer(valueLen) ? valueLen.readUIntLE(0, Math.min(valueLen.length, 6)) * 8 : 0,
        details: {
          keyLabel: this.#config.keyLabel,
          tokenLabel: trimLabel(token.label),
          tokenManufacturer: trimLabel(token.manufacturerID),
          tokenModel: trimLabel(token.model),
          tokenSerial: trimLabel(token.serialNumber),
          extractable: boolAttr(attrs[2]?.value),
          sensitive: boolAttr(attrs[3]?.value),
        },
      };
    });
  }

  async health(): Promise<HealthStatus> {
    const base = { plugin: PKCS11_PLUGIN_KIND, keyRef: this.keyRef } as const;
    try {
      return await roundTripHealth(this, base);
    } catch (err) {
      const mapped = mapPkcs11Error(err, 'health');
      return { ...base, ok: false, checkedAt: new Date(), code: mapped.code, message: mapped.message };
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#disconnect();
    return Promise.resolve();
  }

  // -------------------------------------------------------------------------------------------------------------

  #requireConnection(): Connection {
    if (this.#connection === undefined) throw new KeystoreError('UNREACHABLE', PKCS11_PLUGIN_KIND, 'not connected');
    return this.#connection;
  }

  #connect(): Connection {
    if (this.#closed) throw new KeystoreError('UNREACHABLE', PKCS11_PLUGIN_KIND, 'keystore is closed');
    if (this.#connection !== undefined) return this.#connection;
    const module = acquirePkcs11Module(this.#config.modulePath);
    try {
      const p = module.pkcs11;
      const slot = p.C_GetSlotList(true).find((s) => trimLabel(p.C_GetTokenInfo(s).label) === this.#config.tokenLabel);
      if (slot === undefined) {
        throw new KeystoreError('UNREACHABLE', PKCS11_PLUGIN_KIND, `no token labelled ${this.#config.tokenLabel}`);
      }
      const first = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      try {
        p.C_Login(first, pkcs11js.CKU_USER, this.#config.pin);
      } catch (err) {
        if (ckr(err) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) {
          p.C_CloseSession(first);
          throw err;
        }
      }
      this.#connection = { module, slot, idle: [first], waiters: [], open: 1, key: undefined };
      return this.#connection;
    } catch (err) {
      module.release();
      throw mapPkcs11Error(err, 'connect');
    }
  }

  #disconnect(): void {
    const conn = this.#connection;
    if (conn === undefined) return;
    this.#connection = undefined;
    for (const session of conn.idle) {
      try {
        conn.module.pkcs11.C_CloseSession(session);
      } catch {
        // The session may already be gone with the device; nothing left to release.
      }
    }
    conn.module.release();
  }

  async #acquire(conn: Connection): Promise<Buffer> {
    const idle = conn.idle.pop();
    if (idle !== undefined) return idle;
    if (conn.open < this.#poolSize) {
      conn.open += 1;
      try {
        return conn.module.pkcs11.C_OpenSession(conn.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      } catch (err) {
        conn.open -= 1;
        throw err;
      }
    }
    return new Promise((resolve) => conn.waiters.push(resolve));
  }

  #release(conn: Connection, session: Buffer): void {
    const waiter = conn.waiters.shift();
    if (waiter !== undefined) waiter(session);
    else if (this.#connection === conn) conn.idle.push(session);
    else {
      try {
        conn.module.pkcs11.C_CloseSession(session);
      } catch {
        // Already disconnected.
      }
    }
  }

  #findKey(p: PKCS11, session: Buffer): Buffer {
    p.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
      { type: pkcs11js.CKA_LABEL, value: this.#config.keyLabel },
    ]);
    let found: Buffer[];
    try {
      found = p.C_FindObjects(session, 2);
    } finally {
      p.C_FindObjectsFinal(session);
    }
    const key = found[0];
    if (key === undefined) {
      // Deleted at the source: this is the customer's kill-switch, not an outage.
      throw new KeystoreError('KEY_REVOKED_OR_DISABLED', PKCS11_PLUGIN_KIND, `no AES key labelled ${this.#config.keyLabel} on the token`);
    }
    if (found.length > 1) {
      // Two keys with one label: refusing beats guessing which one wrapped the tenant's L2.
      throw new KeystoreError('INVALID_ARGUMENT', PKCS11_PLUGIN_KIND, `more than one AES key labelled ${this.#config.keyLabel}`);
    }
    return key;
  }

  async #withKey<T>(operation: string, body: (p: PKCS11, session: Buffer, key: Buffer) => T): Promise<T> {
    let conn: Connection;
    try {
      conn = this.#connect();
    } catch (err) {
      throw mapPkcs11Error(err, operation);
    }
    let session: Buffer;
    try {
      session = await this.#acquire(conn);
    } catch (err) {
      this.#disconnect();
      throw mapPkcs11Error(err, operation);
    }
    const p = conn.module.pkcs11;
    let sessionBroken = false;
    try {
      for (let attempt = 0; ; attempt += 1) {
        conn.key ??= this.#findKey(p, session);
        try {
          return body(p, session, conn.key);
        } catch (err) {
          const code = ckr(err);
          // A cached handle goes stale when the object is destroyed (or re-created) at the source: look it up
          // again once, so a restored L1 recovers and a deleted one reports KEY_REVOKED_OR_DISABLED.
          if (attempt === 0 && (code === pkcs11js.CKR_KEY_HANDLE_INVALID || code === pkcs11js.CKR_OBJECT_HANDLE_INVALID)) {
            conn.key = undefined;
            continue;
          }
          throw err;
        }
      }
    } catch (err) {
      const mapped = mapPkcs11Error(err, operation);
      const code = ckr(err);
      if (
        code === pkcs11js.CKR_SESSION_HANDLE_INVALID ||
        code === pkcs11js.CKR_SESSION_CLOSED ||
        code === pkcs11js.CKR_DEVICE_REMOVED ||
        code === pkcs11js.CKR_TOKEN_NOT_PRESENT ||
        code === pkcs11js.CKR_USER_NOT_LOGGED_IN
      ) {
        sessionBroken = true;
      }
      throw mapped;
    } finally {
      if (sessionBroken) {
        try {
          p.C_CloseSession(session);
        } catch {
          // The session is already invalid; closing is best effort.
        }
        this.#disconnect();
      }
      else this.#release(conn, session);
    }
  }
}

function gcm(iv: Buffer, aad: Buffer): pkcs11js.Mechanism {
  const parameter: pkcs11js.GcmParams = {
    type: pkcs11js.CK_PARAMS_AES_GCM,
    iv,
    ivBits: GCM_IV_BYTES * 8,
    aad,
    tagBits: GCM_TAG_BYTES * 8,
  };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}

function boolAttr(value: unknown): boolean {
  if (Buffer.isBuffer(value)) return value.length > 0 && value[0] !== 0;
  return value === true;
}

/** Convenience factory; the plugin connects lazily on first use. */
export function createPkcs11Keystore(config: Pkcs11KeystoreConfig): KeystorePlugin {
  return new Pkcs11Keystore(config);
}
