/**
 * Azure Key Vault keystore plugin: L1 is a Key Vault (or Managed HSM) key, used through the real
 * `@azure/keyvault-keys` CryptographyClient (issue 4, deliverable 4). Documented for users in docs/keystores.md,
 * section "Azure Key Vault".
 *
 * Wrap: `CryptographyClient.wrapKey` with RSA-OAEP-256 (standard vaults, RSA/RSA-HSM keys) or A256KW (Managed HSM
 * oct-HSM keys); unwrap: `unwrapKey`. RSA-OAEP (SHA-1) is refused on purpose: the SDK performs it LOCALLY with the
 * public key (RsaCryptographyProvider), so a wrap would never reach the vault and could not notice that the
 * customer disabled the key.
 *
 * Tenant binding (ARCHITECTURE §2, "the AAD binds the blob to its identity"). Key Vault's wrapKey takes no AAD
 * (RSA-OAEP's label is not exposed, AES-KW has none), so we bind the context inside the wrapped plaintext:
 *
 *   payload = 0x01 | keyLen | 6 zero bytes | 8-byte random nonce | SHA-256(AAD) | key | zero pad to a multiple of 8
 *   AAD     = "openkcm/keystore/v1" 0x00 tenant 0x00 purpose      (the same encoding as the PKCS#11 plugin)
 *
 * and compare the digest on unwrap (mismatch → INVALID_CIPHERTEXT). RSA-OAEP and AES-KW are both non-malleable,
 * so an existing blob cannot be edited to name another tenant, and a blob copied into another tenant's record
 * decrypts to the wrong digest. The digest (not the context itself) keeps the payload at most 112 bytes for any
 * tenant length: RSA-2048 with OAEP-SHA-256 carries at most 190. The 8-byte header keeps the payload a multiple
 * of 8 as AES-KW (RFC 3394) requires, and the nonce makes AES-KW (deterministic) produce a fresh blob per wrap.
 * Known limit (RSA only): the RSA public key is public, so whoever holds it can wrap a key of their choice for
 * any tenant; the binding stops moving or editing EXISTING blobs, not forging new ones by someone who can also
 * write the hierarchy store. A256KW on a Managed HSM has no such property.
 *
 * Blob (version 1): 0x01 | versionLength (1 byte) | key version (ASCII) | wrapped bytes. The version is kept so
 * that a blob wrapped before the customer rotated the key still unwraps under the version that wrapped it.
 *
 * Authentication: the SDK's Key Vault policy first sends each client's first request WITHOUT a token and expects
 * 401 with `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"`
 * (challenge-based auth), then asks our TokenCredential for the scope `<resource>/.default`. We implement the
 * TokenCredential ourselves (OAuth2 client-credentials against Microsoft Entra ID, or a static token) because
 * @azure/identity is not a dependency. The credential only ever requests Key Vault / Managed HSM scopes, so a
 * hostile endpoint cannot make us fetch a token for another resource through a forged challenge.
 */
import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { CryptographyClient, KeyClient, type CryptographyClientOptions, type KeyVaultKey } from '@azure/keyvault-keys';
import {
  KeystoreError,
  checkUnwrapInput,
  checkWrapInput,
  roundTripHealth,
  type HealthStatus,
  type KeyDescription,
  type KeystorePlugin,
  type WrapContext,
} from '../types.js';
import {
  AZURE_KEYVAULT_PLUGIN_KIND,
  AZURE_WRAP_ALGORITHMS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRIES,
  KEY_PROPERTIES_TTL_MS,
  MAX_CACHED_VERSIONS,
  MAX_REQUEST_TIMEOUT_MS,
  MAX_RETRIES,
  MAX_RETRY_DELAY_MS,
  MAX_SOCKETS_PER_HOST,
  MIN_REQUEST_TIMEOUT_MS,
  MIN_RSA_KEY_BITS,
  RETRY_DELAY_MS,
  type AzureWrapAlgorithm,
} from './constants.js';
import { AzureSecretCredential } from './credential.js';
import { isRestErrorLike, mapAzureError } from './errors.js';
import { isValidVersion, parseAzureKeyRef, type AzureKeyRef } from './key-ref.js';
import { decodeBlob, decodePayload, encodeBlob, encodePayload, rsaBytes } from './payload.js';

export interface AzureKeyVaultKeystoreConfig {
  /** Key identifier URL `https://<vault>/keys/<name>[/<version>]`. Without a version, wraps use the current one. */
  readonly keyRef: string;
  readonly credential: TokenCredential;
  /** Default RSA-OAEP-256. */
  readonly algorithm?: AzureWrapAlgorithm;
  /** Extra trust anchors (PEM) for private endpoints and tests, added to Node's bundled roots. */
  readonly caPem?: string;
  /** Per-attempt timeout, MIN_REQUEST_TIMEOUT_MS..MAX_REQUEST_TIMEOUT_MS; default DEFAULT_REQUEST_TIMEOUT_MS. */
  readonly requestTimeoutMs?: number;
  /** Retries after the first attempt, 0..MAX_RETRIES; default DEFAULT_RETRIES. */
  readonly retries?: number;
  /**
   * The SDK checks that the challenge's resource domain is a suffix of the vault host (`*.vault.azure.net`).
   * Only set this for a vault reached under another name (a local test endpoint, a custom DNS name).
   */
  readonly disableChallengeResourceVerification?: boolean;
  /** HTTPS agent the plugin takes ownership of (destroyed by close()); one is created when absent. */
  readonly agent?: HttpsAgent;
}

interface VersionEntry {
  readonly version: string;
  readonly key: KeyVaultKey;
  readonly crypto: CryptographyClient;
  readonly fetchedAt: number;
  /** The first call on a client runs alone: see #call. */
  warm: boolean;
  warming: Promise<void> | undefined;
}
export function validateNumber(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `${name} must be an integer ${String(min)}..${String(max)}`);
  }
  return value;
}

export function createAzureAgent(caPem: string | undefined): HttpsAgent {
  return new HttpsAgent({
    keepAlive: true,
    maxSockets: MAX_SOCKETS_PER_HOST,
    maxFreeSockets: MAX_SOCKETS_PER_HOST,
    // Per-agent trust (never process-global): Node's bundled roots plus the configured private CA.
    ...(caPem === undefined ? {} : { ca: [...rootCertificates, caPem] }),
  });
}

export class AzureKeyVaultKeystore implements KeystorePlugin {
  readonly kind = AZURE_KEYVAULT_PLUGIN_KIND;
  readonly keyRef: string;
  readonly algorithm: AzureWrapAlgorithm;
  readonly #ref: AzureKeyRef;
  readonly #credential: TokenCredential;
  readonly #agent: HttpsAgent;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #disableChallengeResourceVerification: boolean;
  #keyClient: KeyClient | undefined;
  readonly #versions = new Map<string, VersionEntry>();
  readonly #fetching = new Map<string, Promise<VersionEntry>>();
  /** The version wraps use when the keyRef is not pinned, and when it was resolved. */
  #current: { version: string; at: number } | undefined;
  #closed = false;

  constructor(config: AzureKeyVaultKeystoreConfig) {
    this.#ref = parseAzureKeyRef(config.keyRef);
    this.keyRef = config.keyRef;
    const algorithm = config.algorithm ?? 'RSA-OAEP-256';
    if (!(AZURE_WRAP_ALGORITHMS as readonly string[]).includes(algorithm)) {
      throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `algorithm must be one of ${AZURE_WRAP_ALGORITHMS.join(', ')}`);
    }
    this.algorithm = algorithm;
    this.#timeoutMs = validateNumber('requestTimeoutMs', config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, MIN_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS);
    this.#retries = validateNumber('retries', config.retries ?? DEFAULT_RETRIES, 0, MAX_RETRIES);
    this.#disableChallengeResourceVerification = config.disableChallengeResourceVerification ?? false;
    this.#credential = config.credential;
    this.#agent = config.agent ?? createAzureAgent(config.caPem);
  }

  async wrap(plaintextKey: Uint8Array, context: WrapContext): Promise<Uint8Array> {
    checkWrapInput(AZURE_KEYVAULT_PLUGIN_KIND, plaintextKey, context);
    return await this.#guard('wrapKey', async () => {
      const entry = await this.#currentEntry(false);
      this.#assertUsable(entry, 'wrapKey');
      const payload = encodePayload(plaintextKey, context);
      try {
        const result = await this.#call(entry, () => entry.crypto.wrapKey(this.algorithm, payload, this.#operationOptions()));
        return encodeBlob(entry.version, result.result);
      } finally {
        payload.fill(0);
      }
    });
  }

  async unwrap(wrapped: Uint8Array, context: WrapContext): Promise<Uint8Array> {
    checkUnwrapInput(AZURE_KEYVAULT_PLUGIN_KIND, wrapped, context);
    const blob = decodeBlob(wrapped);
    if (this.#ref.version !== undefined && blob.version !== this.#ref.version) {
      throw new KeystoreError('INVALID_CIPHERTEXT', AZURE_KEYVAULT_PLUGIN_KIND, 'blob was wrapped by another key version than the pinned keyRef');
    }
    return await this.#guard('unwrapKey', async () => {
      const entry = await this.#versionForUnwrap(blob.version);
      this.#assertUsable(entry, 'unwrapKey');
      const modulus = entry.key.key?.n;
      if (modulus !== undefined && this.algorithm === 'RSA-OAEP-256' && blob.wrapped.length !== rsaBytes(modulus)) {
        throw new KeystoreError('INVALID_CIPHERTEXT', AZURE_KEYVAULT_PLUGIN_KIND, 'wrapped bytes do not match the RSA modulus length');
      }
      const result = await this.#call(entry, () => entry.crypto.unwrapKey(this.algorithm, blob.wrapped, this.#operationOptions()));
      try {
        return decodePayload(result.result, context);
      } finally {
        result.result.fill(0);
      }
    });
  }

  async describe(): Promise<KeyDescription> {
    return await this.#guard('describe', async () => {
      const entry = await this.#currentEntry(false);
      const key = entry.key;
      const props = key.properties;
      const details: Record<string, string | number | boolean> = {
        vaultUrl: this.#ref.vaultUrl,
        keyName: this.#ref.name,
        keyVersion: entry.version,
        pinnedVersion: this.#ref.version !== undefined,
        keyType: key.keyType ?? '',
        keyOperations: (key.keyOperations ?? []).join(','),
        enabled: props.enabled ?? true,
      };
      if (props.createdOn !== undefined) details['createdOn'] = props.createdOn.toISOString();
      if (props.updatedOn !== undefined) details['updatedOn'] = props.updatedOn.toISOString();
      if (props.expiresOn !== undefined) details['expiresOn'] = props.expiresOn.toISOString();
      if (props.notBefore !== undefined) details['notBefore'] = props.notBefore.toISOString();
      if (props.recoveryLevel !== undefined) details['recoveryLevel'] = props.recoveryLevel;
      if (props.exportable !== undefined) details['exportable'] = props.exportable;
      return {
        shadow: { plugin: AZURE_KEYVAULT_PLUGIN_KIND, keyRef: this.keyRef, keyVersion: entry.version },
        mechanism: this.algorithm,
        keySizeBits: key.key?.n !== undefined ? rsaBytes(key.key.n) * 8 : 256,
        details,
      };
    });
  }

  async health(): Promise<HealthStatus> {
    const base = { plugin: AZURE_KEYVAULT_PLUGIN_KIND, keyRef: this.keyRef } as const;
    try {
      // Fetch the key again: health is how a disable/delete/rotation at the source is noticed between operations.
      const entry = await this.#guard('health', () => this.#currentEntry(true));
      this.#assertUsable(entry, 'wrapKey');
      this.#assertUsable(entry, 'unwrapKey');
      return await roundTripHealth(this, base);
    } catch (err) {
      const mapped = mapAzureError(err, 'health', this.#secretCredential());
      return { ...base, ok: false, checkedAt: new Date(), code: mapped.code, message: mapped.message };
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#forget();
    this.#keyClient = undefined;
    this.#agent.destroy();
    return Promise.resolve();
  }

  // -------------------------------------------------------------------------------------------------------------

  /** Key versions whose bundle and client are cached (bounded by MAX_CACHED_VERSIONS). */
  get cachedVersionCount(): number {
    return this.#versions.size;
  }

  #secretCredential(): AzureSecretCredential | undefined {
    return this.#credential instanceof AzureSecretCredential ? this.#credential : undefined;
  }

  /** Runs an operation, maps its failure, and drops cached state when the source's answer says it is stale. */
  async #guard<T>(operation: string, body: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, 'keystore is closed');
    try {
      return await body();
    } catch (err) {
      const mapped = mapAzureError(err, operation, this.#secretCredential());
      if (mapped.code === 'KEY_REVOKED_OR_DISABLED' || mapped.code === 'ACCESS_DENIED') {
        // Re-read the key and, on refusal, get a fresh token next time, so that re-enabling the key or restoring
        // our access recovers without a restart.
        this.#forget();
        if (mapped.code === 'ACCESS_DENIED') {
          // The SDK clients cache the token they were given; new clients ask the credential again.
          this.#keyClient = undefined;
          this.#secretCredential()?.invalidate();
        }
      }
      throw mapped;
    }
  }

  #forget(): void {
    this.#versions.clear();
    this.#current = undefined;
  }

  #pipelineOptions(): CryptographyClientOptions {
    return {
      agent: this.#agent,
      retryOptions: { maxRetries: this.#retries, retryDelayInMs: RETRY_DELAY_MS, maxRetryDelayInMs: MAX_RETRY_DELAY_MS },
      // A vault never redirects; following one would carry the request (and a token) somewhere else.
      redirectOptions: { maxRetries: 0 },
      disableChallengeResourceVerification: this.#disableChallengeResourceVerification,
      userAgentOptions: { userAgentPrefix: 'openkcm' },
      additionalPolicies: [{ policy: attemptTimeoutPolicy(this.#timeoutMs), position: 'perRetry' }],
    };
  }

  #operationOptions(): Record<string, never> {
    // The per-attempt timeout lives in attemptTimeoutPolicy, not in the SDK's `requestOptions.timeout`.
    return {};
  }

  #client(): KeyClient {
    this.#keyClient ??= new KeyClient(this.#ref.vaultUrl, this.#credential, this.#pipelineOptions());
    return this.#keyClient;
  }

  /**
   * The SDK's challenge policy strips the body of a client's first request and restores it when the 401 arrives;
   * if a concurrent request completes the challenge first, the stripped request is retried without its body.
   * So the first call on each CryptographyClient runs alone and the others wait for it. Only the very first
   * request is stripped, so after it (success or failure) concurrent calls are safe.
   */
  async #call<T>(entry: VersionEntry, fn: () => Promise<T>): Promise<T> {
    if (entry.warm) return await fn();
    if (entry.warming !== undefined) {
      await entry.warming;
      return await fn();
    }
    const first = fn();
    entry.warming = first.then(
      () => {
        entry.warm = true;
      },
      () => undefined,
    );
    return await first;
  }

  async #currentEntry(refresh: boolean): Promise<VersionEntry> {
    if (this.#ref.version !== undefined) return await this.#versionEntry(this.#ref.version, refresh);
    const current = this.#current;
    if (!refresh && current !== undefined && Date.now() - current.at < KEY_PROPERTIES_TTL_MS) {
      return await this.#versionEntry(current.version, false);
    }
    const entry = await this.#fetch(undefined);
    this.#current = { version: entry.version, at: entry.fetchedAt };
    return entry;
  }

  async #versionForUnwrap(version: string): Promise<VersionEntry> {
    try {
      return await this.#versionEntry(version, false);
    } catch (err) {
      const notFound = isRestErrorLike(err) && err.statusCode === 404 && err.code === 'KeyNotFound';
      if (!notFound || this.#ref.version !== undefined) throw err;
      // The blob names a version the vault does not know. Key Vault never deletes single versions, so if the key
      // itself still exists the blob is forged or corrupted (INVALID_CIPHERTEXT) and must not trip the kill-switch.
      // A disabled version (403 KeyDisabled) or a deleted key (this GET fails too) stays KEY_REVOKED_OR_DISABLED.
      await this.#currentEntry(true);
      throw new KeystoreError('INVALID_CIPHERTEXT', AZURE_KEYVAULT_PLUGIN_KIND, 'blob names a key version the vault does not have');
    }
  }

  async #versionEntry(version: string, refresh: boolean): Promise<VersionEntry> {
    const cached = this.#versions.get(version);
    if (!refresh && cached !== undefined && Date.now() - cached.fetchedAt < KEY_PROPERTIES_TTL_MS) return cached;
    return await this.#fetch(version);
  }

  /** GET /keys/<name>[/<version>] (keys/get permission), deduplicated per version, into a bounded cache. */
  async #fetch(version: string | undefined): Promise<VersionEntry> {
    const slot = version ?? '';
    let pending = this.#fetching.get(slot);
    if (pending === undefined) {
      pending = (async () => {
        const options = this.#operationOptions();
        const key = await this.#client().getKey(this.#ref.name, version === undefined ? options : { ...options, version });
        const resolved = key.properties.version ?? '';
        if (!isValidVersion(resolved) || (version !== undefined && resolved !== version)) {
          throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, 'vault returned a key bundle for another version');
        }
        this.#checkKeyType(key);
        if (this.#closed) throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, 'keystore is closed');
        const entry: VersionEntry = {
          version: resolved,
          key,
          // A client per version (a CryptographyClient addresses one key version), new with every fetch: the SDK
          // checks expiry and key_ops against the bundle it was built with, which must be the one we checked.
          crypto: new CryptographyClient(key, this.#credential, this.#pipelineOptions()),
          fetchedAt: Date.now(),
          warm: false,
          warming: undefined,
        };
        this.#versions.delete(resolved);
        this.#versions.set(resolved, entry);
        while (this.#versions.size > MAX_CACHED_VERSIONS) {
          const oldest = this.#versions.keys().next().value;
          if (oldest === undefined) break;
          this.#versions.delete(oldest);
        }
        return entry;
      })().finally(() => this.#fetching.delete(slot));
      this.#fetching.set(slot, pending);
    }
    return await pending;
  }

  #checkKeyType(key: KeyVaultKey): void {
    const type = key.keyType ?? '';
    if (this.algorithm === 'RSA-OAEP-256') {
      if (type !== 'RSA' && type !== 'RSA-HSM') {
        throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `RSA-OAEP-256 needs an RSA key, the vault key is ${type}`);
      }
      const n = key.key?.n;
      if (n === undefined || rsaBytes(n) * 8 < MIN_RSA_KEY_BITS) {
        throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `RSA key must have at least ${String(MIN_RSA_KEY_BITS)} bits`);
      }
    } else if (type !== 'oct' && type !== 'oct-HSM') {
      throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `A256KW needs an AES (oct-HSM) key, the vault key is ${type}`);
    }
  }

  /**
   * What the SDK's CryptographyClient would otherwise refuse with untyped errors, checked from the same key bundle:
   * a disabled, expired or not-yet-valid key, or key_ops without the operation, is the customer switching L1 off
   * (the analogue of CKR_KEY_FUNCTION_NOT_PERMITTED in the PKCS#11 plugin).
   */
  #assertUsable(entry: VersionEntry, operation: 'wrapKey' | 'unwrapKey'): void {
    const props = entry.key.properties;
    const now = Date.now();
    let why: string | undefined;
    if (props.enabled === false) why = 'is disabled';
    else if (props.expiresOn !== undefined && props.expiresOn.getTime() <= now) why = 'has expired';
    else if (props.notBefore !== undefined && props.notBefore.getTime() > now) why = 'is not valid yet';
    else if (entry.key.keyOperations !== undefined && !entry.key.keyOperations.includes(operation)) why = `does not permit ${operation}`;
    if (why !== undefined) {
      this.#forget();
      throw new KeystoreError('KEY_REVOKED_OR_DISABLED', AZURE_KEYVAULT_PLUGIN_KIND, `key ${this.#ref.name} version ${entry.version} ${why}`);
    }
  }
}

/**
 * Per-attempt timeout. The SDK's own `requestOptions.timeout` timer is cleared only when a response arrives
 * (@typespec/ts-http-runtime nodeHttpClient), so every refused connection or TLS failure leaves a referenced timer
 * that holds a shutting-down process open for up to the timeout. Ours is unref'd and always cleared. On expiry
 * the request's abort signal fires and the SDK rejects with AbortError (→ UNREACHABLE); an aborted attempt is not
 * retried.
 */
function attemptTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: 'openkcmAttemptTimeout',
    async sendRequest(request, next) {
      const outer = request.abortSignal;
      const controller = new AbortController();
      const forward = (): void => {
        controller.abort();
      };
      if (outer?.aborted === true) controller.abort();
      outer?.addEventListener('abort', forward);
      const timer = setTimeout(forward, timeoutMs);
      timer.unref();
      request.abortSignal = controller.signal;
      try {
        return await next(request);
      } finally {
        clearTimeout(timer);
        outer?.removeEventListener('abort', forward);
        if (outer === undefined) delete request.abortSignal;
        else request.abortSignal = outer;
      }
    },
  };
}
