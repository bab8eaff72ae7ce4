/**
 * The keystore plugin contract: how OpenKCM talks to the customer-held root key (L1).
 *
 * ARCHITECTURE §2: L1 lives outside the appliance (an HSM over PKCS#11, AWS KMS, Azure Key Vault). We keep
 * only a shadow reference `{plugin, keyRef, keyVersion}` and ask the plugin to wrap/unwrap the tenant's L2.
 * If the customer revokes L1 at the source, every call must fail with KEY_REVOKED_OR_DISABLED so the engine
 * can zeroise the tenant (the kill-switch). STYLE.md rule 9: every implementation passes one conformance
 * suite (test/unit/keystore-conformance.ts).
 *
 * Ownership of secrets: `wrap` never keeps a copy of the plaintext it was given; `unwrap` returns a fresh
 * buffer that the CALLER owns and must wipe (`fill(0)`) as soon as it has moved the bytes into a native slot.
 */
import { randomBytes } from 'node:crypto';
import { CodedError } from '../common/coded-error.js';
import { isRecord } from '../common/guards.js';

/** What we persist about L1, and nothing else (ARCHITECTURE §2, "Shadow reference"). */
export interface ShadowReference {
  /** The plugin kind, e.g. `pkcs11`, `aws-kms`, `azure-keyvault`. */
  readonly plugin: string;
  /** Locates the key at the source: an ARN, a vault key URL, or `token=<label>;object=<label>` for PKCS#11. */
  readonly keyRef: string;
  /** The source's version of the key (KMS key version, PKCS#11 CKA_ID in hex); '' if the source has none. */
  readonly keyVersion: string;
}

/**
 * The binding context of a wrap. It is authenticated (GCM AAD, KMS EncryptionContext, ...) so a blob
 * wrapped for one tenant cannot be unwrapped for another: a moved or swapped L2 record fails to open.
 */
export interface WrapContext {
  readonly tenant: string;
  /** Optional sub-purpose, e.g. `l2`; also bound. */
  readonly purpose?: string;
}

/** Public facts about the L1 key. Never contains key material, PINs or credentials. */
export interface KeyDescription {
  readonly shadow: ShadowReference;
  /** The wrapping algorithm as the source names it, e.g. `CKM_AES_GCM`. */
  readonly mechanism: string;
  readonly keySizeBits: number;
  /** Source-specific, non-secret details (token label, model, serial, key attributes). */
  readonly details: Readonly<Record<string, string | number | boolean>>;
}

/** The result of `health()`. Health never throws for source trouble; it reports it. */
export type HealthStatus =
  | { readonly ok: true; readonly plugin: string; readonly keyRef: string; readonly checkedAt: Date }
  | {
      readonly ok: false;
      readonly plugin: string;
      readonly keyRef: string;
      readonly checkedAt: Date;
      readonly code: KeystoreErrorCode;
      readonly message: string;
    };

/** The context every plugin's health probe wraps under: a tenant name no tenant can have (it holds dashes). */
export const HEALTH_PROBE_CONTEXT: WrapContext = { tenant: 'openkcm-health-probe' };

/**
 * The round trip every plugin's health check ends with: 32 random bytes wrapped under L1 and unwrapped again. OK
 * when the same bytes come back, UNREACHABLE when others do. A thrown error is the plugin's to map (each source
 * names its own failures).
 */
export async function roundTripHealth(plugin: Pick<KeystorePlugin, 'wrap' | 'unwrap'>, base: { readonly plugin: string; readonly keyRef: string }, context = HEALTH_PROBE_CONTEXT): Promise<HealthStatus> {
  const probe = randomBytes(32);
  try {
    const back = await plugin.unwrap(await plugin.wrap(probe, context), context);
    const same = Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(probe);
    back.fill(0);
    if (!same) return { ...base, ok: false, checkedAt: new Date(), code: 'UNREACHABLE', message: 'round trip returned different bytes' };
    return { ...base, ok: true, checkedAt: new Date() };
  } finally {
    probe.fill(0);
  }
}

export interface KeystorePlugin {
  /** Stable plugin kind; equals `describe().shadow.plugin`. */
  readonly kind: string;
  /** Wraps `plaintextKey` under L1, bound to `context`. The input is not retained; the caller wipes it. */
  wrap(plaintextKey: Uint8Array, context: WrapContext): Promise<Uint8Array>;
  /** Unwraps a blob produced by `wrap` with the same context. The caller owns and wipes the result. */
  unwrap(wrapped: Uint8Array, context: WrapContext): Promise<Uint8Array>;
  describe(): Promise<KeyDescription>;
  /** Finds L1 and does a wrap/unwrap round trip. */
  health(): Promise<HealthStatus>;
  /** Releases sessions and connections. Further calls fail with UNREACHABLE. */
  close(): Promise<void>;
}

/** Stable error codes; the engine's kill-switch and the KMIP error mapping switch on these, never on text. */
export const KeystoreErrorCode = {
  /** L1 is disabled, scheduled for deletion or deleted at the source: the tenant must go dark. */
  KEY_REVOKED_OR_DISABLED: 'KEY_REVOKED_OR_DISABLED',
  /** Our credentials (PIN, IAM policy, bearer token) are wrong or were withdrawn. */
  ACCESS_DENIED: 'ACCESS_DENIED',
  /** The source cannot be reached (module not loadable, token absent, network down). Possibly transient. */
  UNREACHABLE: 'UNREACHABLE',
  /**
   * A node secret the connection names (PIN, cloud credential) is not stored on this node: store it with
   * `openkcm operator secret put NAME` (issue 16 item 1). Not transient, but fixed without touching L1.
   */
  SECRET_MISSING: 'SECRET_MISSING',
  /** The wrapped blob is malformed, tampered with, or bound to another context. */
  INVALID_CIPHERTEXT: 'INVALID_CIPHERTEXT',
  /** The caller passed something outside the contract (size, empty tenant, ...). */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
} as const;
export type KeystoreErrorCode = (typeof KeystoreErrorCode)[keyof typeof KeystoreErrorCode];

/** The one error class every keystore plugin throws (STYLE.md rule 5: one catalog, stable codes). */
export class KeystoreError extends CodedError<KeystoreErrorCode> {
  override readonly name = 'KeystoreError';
  readonly plugin: string;

  constructor(code: KeystoreErrorCode, plugin: string, message: string, options?: { cause?: unknown }) {
    super(code, `${plugin}: ${message}`, options);
    this.plugin = plugin;
  }
}

export function isKeystoreError(err: unknown, code?: KeystoreErrorCode): err is KeystoreError {
  return err instanceof KeystoreError && (code === undefined || err.code === code);
}

/**
 * Limits shared by every plugin; each stops an abuse of L1 as a general-purpose oracle.
 * - Key sizes: we only ever wrap AES/HMAC keys; refusing big inputs keeps L1 from encrypting bulk data
 *   for an attacker who reaches the engine, and bounds the memory a single call can pin.
 * - Tenant/purpose: bounded so a hostile tenant id cannot blow up AAD or KMS EncryptionContext limits.
 */
export const MIN_WRAP_KEY_BYTES = 16;
export const MAX_WRAP_KEY_BYTES = 64;
export const MAX_CONTEXT_FIELD_BYTES = 256;
/** An upper bound for any plugin's wrapped output; longer inputs are refused before reaching the source. */
export const MAX_WRAPPED_BYTES = 1024;

/** Validates the shared contract; plugins call it first so every plugin rejects the same inputs. */
export function checkWrapInput(plugin: string, plaintextKey: Uint8Array, context: WrapContext): void {
  if (!(plaintextKey instanceof Uint8Array)) {
    throw new KeystoreError('INVALID_ARGUMENT', plugin, 'plaintextKey must be a Uint8Array');
  }
  if (plaintextKey.length < MIN_WRAP_KEY_BYTES || plaintextKey.length > MAX_WRAP_KEY_BYTES) {
    throw new KeystoreError(
      'INVALID_ARGUMENT',
      plugin,
      `plaintextKey must be ${String(MIN_WRAP_KEY_BYTES)}..${String(MAX_WRAP_KEY_BYTES)} bytes, got ${String(plaintextKey.length)}`,
    );
  }
  checkContext(plugin, context);
}

export function checkUnwrapInput(plugin: string, wrapped: Uint8Array, context: WrapContext): void {
  if (!(wrapped instanceof Uint8Array)) {
    throw new KeystoreError('INVALID_ARGUMENT', plugin, 'wrapped must be a Uint8Array');
  }
  if (wrapped.length > MAX_WRAPPED_BYTES) {
    throw new KeystoreError('INVALID_CIPHERTEXT', plugin, `wrapped blob longer than ${String(MAX_WRAPPED_BYTES)} bytes`);
  }
  checkContext(plugin, context);
}

function checkContext(plugin: string, context: WrapContext): void {
  const tenantBytes = Buffer.byteLength(context.tenant, 'utf8');
  if (typeof context.tenant !== 'string' || tenantBytes === 0 || tenantBytes > MAX_CONTEXT_FIELD_BYTES) {
    throw new KeystoreError('INVALID_ARGUMENT', plugin, `tenant must be 1..${String(MAX_CONTEXT_FIELD_BYTES)} UTF-8 bytes`);
  }
  if (context.purpose !== undefined && Buffer.byteLength(context.purpose, 'utf8') > MAX_CONTEXT_FIELD_BYTES) {
    throw new KeystoreError('INVALID_ARGUMENT', plugin, `purpose must be at most ${String(MAX_CONTEXT_FIELD_BYTES)} UTF-8 bytes`);
  }
  if (context.tenant.includes('\0') || (context.purpose ?? '').includes('\0')) {
    // NUL separates fields in the AAD encoding; refusing it keeps the encoding injective.
    throw new KeystoreError('INVALID_ARGUMENT', plugin, 'tenant and purpose must not contain NUL');
  }
}

/**
 * Where a plugin gets its credentials (HSM PIN, cloud secrets). In the appliance this is the MasterKey's sealed
 * node secrets (ARCHITECTURE §2: the MasterKey seals the keystore credentials), so connection settings name a
 * secret instead of holding it. `get` returns a fresh buffer the caller wipes after use.
 */
export interface SecretSource {
  get(name: string): Promise<Buffer>;
}

/**
 * A credential secret's bytes as a JSON object. `fail` makes the plugin's error from the problem ("is not JSON",
 * "must be a JSON object"). The parser's own message quotes the input: it must not reach an error or a log.
 */
export function secretJsonObject(raw: Uint8Array, fail: (problem: string) => KeystoreError): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch {
    throw fail('is not JSON');
  }
  if (!isRecord(parsed)) throw fail('must be a JSON object');
  return parsed;
}
