/**
 * AWS KMS keystore plugin: L1 is a symmetric (SYMMETRIC_DEFAULT, AES-256-GCM) KMS key (issue 4, deliverable 3).
 *
 * wrap   = KMS Encrypt of the L2 bytes under the key ARN, EncryptionContext {openkcm:tenant, openkcm:purpose}.
 * unwrap = KMS Decrypt with the same EncryptionContext AND the KeyId pinned to the configured ARN.
 * The blob we store is KMS's CiphertextBlob unchanged: KMS already versions it and names its backing key.
 *
 * Why EncryptionContext: KMS binds it as AAD (ARCHITECTURE §2, "the AAD binds the blob to its identity"), so a
 * tenant's wrapped L2 moved into another tenant's record fails with InvalidCiphertextException. It also shows up
 * in CloudTrail and can be used in key-policy conditions (docs/keystores.md, "AWS KMS").
 *
 * Why KeyId on Decrypt: without it KMS decrypts with whatever key the blob names. Pinning it means a blob
 * produced under some other key the credentials can use is refused (IncorrectKeyException), so the L1 that
 * the shadow reference names is the only key that can open a tenant's L2.
 *
 * Secrets: the credentials are read from the node's SecretSource once at open; the buffer is wiped, but the SDK
 * needs them as JS strings, which cannot be wiped (documented). Plaintext returned by Decrypt is copied into a
 * fresh buffer for the caller and the SDK's copy is zeroed. The plaintext also passes through a base64 JSON
 * string in the SDK's request/response bodies; JS strings cannot be wiped either, which is a property of every
 * JSON-over-HTTPS KMS client and the reason L2 crosses this path only at onboarding and activation.
 */
import { readFile, stat } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { DecryptCommand, DescribeKeyCommand, EncryptCommand, KMSClient, type KeyMetadata } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { parseAssumeRole, parseWebIdentity, roleCredentialProvider, type AwsAssumeRole, type AwsWebIdentity } from './aws-identity.js';
import {
  HEALTH_PROBE_CONTEXT,
  KeystoreError,
  checkUnwrapInput,
  checkWrapInput,
  roundTripHealth,
  secretJsonObject,
  type HealthStatus,
  type KeyDescription,
  type KeystoreErrorCode,
  type KeystorePlugin,
  type SecretSource,
  type ShadowReference,
  type WrapContext,
} from './types.js';

export const AWS_KMS_PLUGIN_KIND = 'aws-kms';

/** EncryptionContext keys. Stable: they are part of every stored blob's AAD and of customers' key policies. */
export const AWS_KMS_CONTEXT_TENANT = 'openkcm:tenant';
export const AWS_KMS_CONTEXT_PURPOSE = 'openkcm:purpose';

/** Per-request timeout (connect + response). A KMS call normally answers in tens of milliseconds; the bound stops
 *  a black-holed endpoint from stalling tenant activation and the kill-switch health loop indefinitely. */
export const AWS_KMS_DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
export const AWS_KMS_MIN_REQUEST_TIMEOUT_MS = 100;
/** Upper bound so a misconfiguration cannot make one health check (× attempts) take many minutes. */
export const AWS_KMS_MAX_REQUEST_TIMEOUT_MS = 60_000;
/** SDK attempts per call (1 = no retry). Retries ride out throttling and 5xx blips. */
export const AWS_KMS_DEFAULT_MAX_ATTEMPTS = 3;
/** Bounds retry storms: N nodes × attempts multiply load on a struggling KMS and stretch the kill-switch check. */
export const AWS_KMS_MAX_ATTEMPTS = 10;
/** Concurrent HTTPS connections per plugin: bounds sockets a burst of activations can open (KMS also throttles
 *  per account, so more would only turn into ThrottlingException). */
export const AWS_KMS_MAX_SOCKETS = 50;
/** A CA bundle larger than this is refused before reading: a wrong path (a device, a log file) must not make
 *  the node read unbounded data into memory. 1 MiB holds the whole public WebPKI bundle several times over. */
export const AWS_KMS_MAX_CA_FILE_BYTES = 1024 * 1024;
/** The credentials secret is a small JSON document; STS session tokens are a few KiB. Larger is refused so a
 *  wrong secret name cannot pull a large blob through JSON.parse. */
export const AWS_KMS_MAX_CREDENTIALS_SECRET_BYTES = 16 * 1024;

/** A KMS key ARN (not an alias): an alias can be re-pointed at another key by whoever controls the account,
 *  which would silently swap L1 under every tenant. Multi-region keys have `mrk-` ids. */
const KEY_ARN =
  /^arn:(aws[a-z-]{0,16}):kms:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):key\/((?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|(?:mrk-[0-9a-f]{32}))$/u;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/u;
/** AWS access key ids: 16..128 word characters (IAM API AccessKeyIdType). */
const ACCESS_KEY_ID = /^\w{16,128}$/u;

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface AwsKmsKeystoreConfig {
  /** The L1 key ARN, e.g. `arn:aws:kms:eu-central-1:111122223333:key/1234abcd-...`. Its region must be `region`. */
  readonly keyArn: string;
  readonly region: string;
  /** Override of the service endpoint (https only): VPC endpoints, FIPS endpoints, test endpoints. */
  readonly endpoint?: string;
  /** PEM CA certificates the endpoint must chain to. When given, it REPLACES the system trust store. */
  readonly ca?: string;
  /**
   * Static credentials (from a node secret), or `'default-chain'`: the AWS SDK's default provider chain
   * (environment, shared config/SSO, web identity token file, ECS/EC2 instance role), for a node that runs with a
   * role instead of a stored key (issue 16 item 4).
   */
  readonly credentials: AwsCredentials | 'default-chain';
  /** Exchange an OIDC token file for a role's session (src/keystore/aws-identity.ts); replaces `credentials`. */
  readonly webIdentity?: AwsWebIdentity;
  /** Assume this role (in the customer's account, with their external id) on top of the credentials above. */
  readonly assumeRole?: AwsAssumeRole;
  /** STS endpoint for webIdentity/assumeRole (https only); default: the region's. */
  readonly stsEndpoint?: string;
  readonly requestTimeoutMs?: number;
  readonly maxAttempts?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Error mapping: AWS error names → stable keystore codes. The SDK sets `name` to the wire `__type` for modeled and
// unmodeled errors alike (AccessDeniedException, UnrecognizedClientException and InvalidSignatureException are
// not in the KMS model; they come from the AWS front end).

const REVOKED = new Set([
  'DisabledException',
  // PendingDeletion, PendingImport, or a custom key store disconnected by the customer (the XKS kill-switch).
  'KMSInvalidStateException',
  'NotFoundException',
]);
const DENIED = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'SignatureDoesNotMatch',
  // STS (assumeRole / webIdentity): the customer's trust policy refused us, or the OIDC token was not accepted.
  // AccessDenied is not in STS's model (the SDK names it by the wire code); the others are modeled exceptions.
  'AccessDenied',
  'InvalidIdentityTokenException',
  'IDPRejectedClaimException',
]);
const BAD_CIPHERTEXT = new Set([
  'InvalidCiphertextException',
  // The blob names another KMS key than the pinned KeyId. This is a property of the blob (moved, forged, or
  // corrupted in its key-id field), not of our credentials; treating it as ACCESS_DENIED would send operators
  // hunting IAM problems for what is a tampered record.
  'IncorrectKeyException',
]);
const BAD_ARGUMENT = new Set([
  'ValidationException',
  'InvalidArnException',
  // The configured key is not a symmetric ENCRYPT_DECRYPT key: a configuration error, not a revocation.
  'InvalidKeyUsageException',
  'InvalidGrantTokenException',
  'SerializationException',
]);
// Everything else is UNREACHABLE: network errors, timeouts, ThrottlingException, KMSInternalException,
// DependencyTimeoutException, any 5xx, and KeyUnavailableException. The last one is a server fault that AWS
// documents as "you can retry the request"; mapping it to KEY_REVOKED_OR_DISABLED would let a transient KMS
// incident trip the kill-switch (Krypton.checkL1 revokes on that code) and take tenants dark.

function errorName(err: unknown): string {
  if (err instanceof Error) return err.name;
  return typeof err;
}

export function mapAwsKmsError(err: unknown, operation: string, redact: (text: string) => string = (t) => t): KeystoreError {
  if (err instanceof KeystoreError) return err;
  const name = errorName(err);
  let mapped: KeystoreErrorCode = 'UNREACHABLE';
  if (REVOKED.has(name)) mapped = 'KEY_REVOKED_OR_DISABLED';
  else if (DENIED.has(name)) mapped = 'ACCESS_DENIED';
  else if (BAD_CIPHERTEXT.has(name)) mapped = 'INVALID_CIPHERTEXT';
  else if (BAD_ARGUMENT.has(name)) mapped = 'INVALID_ARGUMENT';
  const text = err instanceof Error ? err.message : String(err);
  return new KeystoreError(mapped, AWS_KMS_PLUGIN_KIND, redact(`${operation} failed: ${name}: ${text}`), { cause: err });
}

// ---------------------------------------------------------------------------------------------------------------

function invalid(message: string): KeystoreError {
  return new KeystoreError('INVALID_ARGUMENT', AWS_KMS_PLUGIN_KIND, message);
}

function checkIntInRange(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer ${String(min)}..${String(max)}`);
  }
  return value;
}

function checkEndpoint(endpoint: unknown): string {
  if (typeof endpoint !== 'string') throw invalid('endpoint must be a string');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalid('endpoint must be an absolute URL');
  }
  // SigV4 over plain HTTP would expose plaintext L2 and replayable signed requests on the wire.
  if (url.protocol !== 'https:') throw invalid('endpoint must be an https:// URL');
  if (url.username !== '' || url.password !== '') throw invalid('endpoint must not carry credentials');
  if (url.search !== '' || url.hash !== '') throw invalid('endpoint must not have a query or fragment');
  return endpoint;
}

function checkCredentials(credentials: AwsCredentials): void {
  if (typeof credentials.accessKeyId !== 'string' || !ACCESS_KEY_ID.test(credentials.accessKeyId)) {
    throw invalid('credentials.accessKeyId must be 16..128 word characters');
  }
  if (typeof credentials.secretAccessKey !== 'string' || credentials.secretAccessKey.length === 0) {
    throw invalid('credentials.secretAccessKey must be a non-empty string');
  }
  if (credentials.sessionToken !== undefined && (typeof credentials.sessionToken !== 'string' || credentials.sessionToken.length === 0)) {
    throw invalid('credentials.sessionToken must be a non-empty string when present');
  }
}

function encryptionContext(context: WrapContext): Record<string, string> {
  // `purpose` is omitted when empty, so `{tenant}` and `{tenant, purpose: ''}` bind the same way, as in the
  // PKCS#11 plugin's AAD. KMS compares the whole map, so {tenant} never opens a blob wrapped with a purpose.
  const ec: Record<string, string> = { [AWS_KMS_CONTEXT_TENANT]: context.tenant };
  if (context.purpose !== undefined && context.purpose !== '') ec[AWS_KMS_CONTEXT_PURPOSE] = context.purpose;
  return ec;
}

const HEALTH_CONTEXT: WrapContext = { ...HEALTH_PROBE_CONTEXT, purpose: 'health' };

export class AwsKmsKeystore implements KeystorePlugin {
  readonly kind = AWS_KMS_PLUGIN_KIND;
  readonly keyRef: string;
  readonly region: string;
  readonly #client: KMSClient;
  readonly #redact: (text: string) => string;
  #closed = false;

  constructor(config: AwsKmsKeystoreConfig) {
    if (typeof config.region !== 'string' || !REGION.test(config.region)) {
      throw invalid('region must look like eu-central-1');
    }
    const arn = typeof config.keyArn === 'string' ? KEY_ARN.exec(config.keyArn) : null;
    if (arn === null) {
      throw invalid('keyRef must be a KMS key ARN arn:<partition>:kms:<region>:<account>:key/<key-id> (aliases are refused)');
    }
    if (arn[2] !== config.region) {
      // The SDK signs for and talks to one region; a key in another region would only fail later and obscurely.
      throw invalid(`the key ARN is in region ${String(arn[2])}, the connection is for ${config.region}`);
    }
    if (config.credentials !== 'default-chain') checkCredentials(config.credentials);
    const requestTimeoutMs = checkIntInRange(
      'requestTimeoutMs',
      config.requestTimeoutMs ?? AWS_KMS_DEFAULT_REQUEST_TIMEOUT_MS,
      AWS_KMS_MIN_REQUEST_TIMEOUT_MS,
      AWS_KMS_MAX_REQUEST_TIMEOUT_MS,
    );
    const maxAttempts = checkIntInRange('maxAttempts', config.maxAttempts ?? AWS_KMS_DEFAULT_MAX_ATTEMPTS, 1, AWS_KMS_MAX_ATTEMPTS);
    const endpoint = config.endpoint === undefined ? undefined : checkEndpoint(config.endpoint);
    const stsEndpoint = config.stsEndpoint === undefined ? undefined : checkEndpoint(config.stsEndpoint);
    if (config.ca !== undefined && (typeof config.ca !== 'string' || !config.ca.includes('-----BEGIN CERTIFICATE-----'))) {
      throw invalid('ca must be PEM certificates');
    }

    this.keyRef = config.keyArn;
    this.region = config.region;
    const stat = config.credentials === 'default-chain' ? undefined : config.credentials;
    // The default chain's secrets never pass through our code: nothing of ours to redact then.
    const hidden = stat === undefined ? [] : [stat.secretAccessKey, ...(stat.sessionToken === undefined ? [] : [stat.sessionToken])];
    // Defence in depth: no SDK message we know of echoes a secret, but error text ends up in logs and audit.
    this.#redact = (text) => hidden.reduce((acc, secret) => acc.split(secret).join('[redacted]'), text);

    const agent = new HttpsAgent({
      keepAlive: true,
      maxSockets: AWS_KMS_MAX_SOCKETS,
      ...(config.ca === undefined ? {} : { ca: config.ca }),
    });
    const requestHandler = new NodeHttpHandler({
      httpsAgent: agent,
      connectionTimeout: requestTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // Without this the SDK only logs a warning when requestTimeout passes and keeps waiting.
      throwOnRequestTimeout: true,
    });
    const staticCredentials = stat === undefined ? undefined : { accessKeyId: stat.accessKeyId, secretAccessKey: stat.secretAccessKey, ...(stat.sessionToken === undefined ? {} : { sessionToken: stat.sessionToken }) };
    const roles = roleCredentialProvider({
      region: config.region, stsEndpoint, requestHandler, base: staticCredentials, webIdentity: config.webIdentity, assumeRole: config.assumeRole,
    });
    const credentials = roles ?? staticCredentials;
    this.#client = new KMSClient({
      region: config.region,
      ...(endpoint === undefined ? {} : { endpoint }),
      // Without `credentials` the SDK resolves its default provider chain on first use.
      ...(credentials === undefined ? {} : { credentials }),
      maxAttempts,
      requestHandler,
    });
  }

  async wrap(plaintextKey: Uint8Array, context: WrapContext): Promise<Uint8Array> {
    checkWrapInput(AWS_KMS_PLUGIN_KIND, plaintextKey, context);
    this.#checkOpen();
    const out = await this.#send('Encrypt', () =>
      this.#client.send(new EncryptCommand({ KeyId: this.keyRef, Plaintext: plaintextKey, EncryptionContext: encryptionContext(context) })),
    );
    const blob = out.CiphertextBlob;
    if (blob === undefined || blob.length === 0) {
      throw new KeystoreError('UNREACHABLE', AWS_KMS_PLUGIN_KIND, 'Encrypt returned no ciphertext');
    }
    return Uint8Array.from(blob);
  }

  async unwrap(wrapped: Uint8Array, context: WrapContext): Promise<Uint8Array> {
    checkUnwrapInput(AWS_KMS_PLUGIN_KIND, wrapped, context);
    if (wrapped.length === 0) {
      // KMS would answer ValidationException (CiphertextBlob has min length 1); an empty record is a bad blob.
      throw new KeystoreError('INVALID_CIPHERTEXT', AWS_KMS_PLUGIN_KIND, 'empty wrapped blob');
    }
    this.#checkOpen();
    const out = await this.#send('Decrypt', () =>
      this.#client.send(new DecryptCommand({ KeyId: this.keyRef, CiphertextBlob: wrapped, EncryptionContext: encryptionContext(context) })),
    );
    const plain = out.Plaintext;
    try {
      if (plain === undefined) throw new KeystoreError('UNREACHABLE', AWS_KMS_PLUGIN_KIND, 'Decrypt returned no plaintext');
      if (out.KeyId !== undefined && out.KeyId !== this.keyRef) {
        // Belt and braces over the pinned KeyId: KMS reports the key that actually decrypted.
        throw new KeystoreError('INVALID_CIPHERTEXT', AWS_KMS_PLUGIN_KIND, 'Decrypt used another key than the configured ARN');
      }
      const result = new Uint8Array(plain.length);
      result.set(plain);
      return result;
    } finally {
      plain?.fill(0);
    }
  }

  async describe(): Promise<KeyDescription> {
    this.#checkOpen();
    const meta = await this.#describeKey();
    const details: Record<string, string | number | boolean> = {
      keyId: meta.KeyId ?? '',
      region: this.region,
      keyState: meta.KeyState ?? 'unknown',
      keySpec: meta.KeySpec ?? 'unknown',
      keyUsage: meta.KeyUsage ?? 'unknown',
      origin: meta.Origin ?? 'unknown',
      keyManager: meta.KeyManager ?? 'unknown',
      multiRegion: meta.MultiRegion ?? false,
    };
    if (meta.AWSAccountId !== undefined) details['accountId'] = meta.AWSAccountId;
    if (meta.CustomKeyStoreId !== undefined) details['customKeyStoreId'] = meta.CustomKeyStoreId;
    if (meta.CreationDate !== undefined) details['creationDate'] = meta.CreationDate.toISOString();
    return {
      // KMS rotates symmetric key material inside the key and records the version in each ciphertext, so there
      // is no version to pin here: the ARN identifies L1 across rotations.
      shadow: { plugin: AWS_KMS_PLUGIN_KIND, keyRef: this.keyRef, keyVersion: '' },
      // SYMMETRIC_DEFAULT is AES-256-GCM inside the KMS HSMs.
      mechanism: meta.KeySpec === 'SYMMETRIC_DEFAULT' ? 'SYMMETRIC_DEFAULT (AES-256-GCM)' : (meta.KeySpec ?? 'unknown'),
      keySizeBits: meta.KeySpec === 'SYMMETRIC_DEFAULT' ? 256 : 0,
      details,
    };
  }

  async health(): Promise<HealthStatus> {
    const base = { plugin: AWS_KMS_PLUGIN_KIND, keyRef: this.keyRef } as const;
    try {
      this.#checkOpen();
      const meta = await this.#describeKey();
      if (meta.KeyState !== 'Enabled') {
        return { ...base, ok: false, checkedAt: new Date(), code: 'KEY_REVOKED_OR_DISABLED', message: `key state is ${String(meta.KeyState)}` };
      }
      if (meta.KeySpec !== 'SYMMETRIC_DEFAULT' || meta.KeyUsage !== 'ENCRYPT_DECRYPT') {
        return {
          ...base,
          ok: false,
          checkedAt: new Date(),
          code: 'INVALID_ARGUMENT',
          message: `key is ${String(meta.KeySpec)}/${String(meta.KeyUsage)}, not SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT`,
        };
      }
      return await roundTripHealth(this, base, HEALTH_CONTEXT);
    } catch (err) {
      const mapped = mapAwsKmsError(err, 'health', this.#redact);
      return { ...base, ok: false, checkedAt: new Date(), code: mapped.code, message: mapped.message };
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#client.destroy();
    }
    return Promise.resolve();
  }

  // -------------------------------------------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#closed) throw new KeystoreError('UNREACHABLE', AWS_KMS_PLUGIN_KIND, 'keystore is closed');
  }

  async #describeKey(): Promise<KeyMetadata> {
    const out = await this.#send('DescribeKey', () => this.#client.send(new DescribeKeyCommand({ KeyId: this.keyRef })));
    if (out.KeyMetadata === undefined) throw new KeystoreError('UNREACHABLE', AWS_KMS_PLUGIN_KIND, 'DescribeKey returned no metadata');
    if (out.KeyMetadata.Arn !== undefined && out.KeyMetadata.Arn !== this.keyRef) {
      throw new KeystoreError('INVALID_ARGUMENT', AWS_KMS_PLUGIN_KIND, `DescribeKey answered for ${out.KeyMetadata.Arn}`);
    }
    return out.KeyMetadata;
  }

  async #send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw mapAwsKmsError(err, operation, this.#redact);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Factory (notes/contracts.md): settings = config `keystores.connections.aws-kms`; the key ARN is shadow.keyRef.

const SETTINGS = new Set(['region', 'endpoint', 'caFile', 'credentialsSecret', 'credentials', 'requestTimeoutMs', 'maxAttempts', 'assumeRole', 'webIdentity', 'stsEndpoint']);

async function readCaFile(caFile: string): Promise<string> {
  let size: number;
  try {
    const info = await stat(caFile);
    if (!info.isFile()) throw invalid(`caFile ${caFile} is not a regular file`);
    size = info.size;
  } catch (err) {
    if (err instanceof KeystoreError) throw err;
    throw new KeystoreError('INVALID_ARGUMENT', AWS_KMS_PLUGIN_KIND, `cannot read caFile ${caFile}`, { cause: err });
  }
  if (size > AWS_KMS_MAX_CA_FILE_BYTES) {
    throw invalid(`caFile is ${String(size)} bytes, more than ${String(AWS_KMS_MAX_CA_FILE_BYTES)}`);
  }
  try {
    return await readFile(caFile, 'utf8');
  } catch (err) {
    throw new KeystoreError('INVALID_ARGUMENT', AWS_KMS_PLUGIN_KIND, `cannot read caFile ${caFile}`, { cause: err });
  }
}

/** Parses the credentials secret `{"accessKeyId","secretAccessKey","sessionToken"?}`. Never echoes its content. */
export function parseAwsCredentialsSecret(raw: Uint8Array): AwsCredentials {
  if (raw.length > AWS_KMS_MAX_CREDENTIALS_SECRET_BYTES) {
    throw invalid(`credentials secret is longer than ${String(AWS_KMS_MAX_CREDENTIALS_SECRET_BYTES)} bytes`);
  }
  const record = secretJsonObject(raw, (problem) => invalid(`credentials secret ${problem}`));
  for (const field of Object.keys(record)) {
    if (field !== 'accessKeyId' && field !== 'secretAccessKey' && field !== 'sessionToken') {
      throw invalid(`credentials secret has unknown field ${JSON.stringify(field)}`);
    }
  }
  const { accessKeyId, secretAccessKey, sessionToken } = record;
  if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string') {
    throw invalid('credentials secret needs string accessKeyId and secretAccessKey');
  }
  if (sessionToken !== undefined && typeof sessionToken !== 'string') throw invalid('credentials secret sessionToken must be a string');
  const credentials: AwsCredentials = { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) };
  checkCredentials(credentials);
  return credentials;
}

export async function openAwsKmsKeystore(
  shadow: ShadowReference,
  settings: Readonly<Record<string, unknown>>,
  secrets: SecretSource,
): Promise<KeystorePlugin> {
  if (shadow.plugin !== AWS_KMS_PLUGIN_KIND) throw invalid(`shadow reference is for plugin ${shadow.plugin}`);
  for (const field of Object.keys(settings)) {
    if (!SETTINGS.has(field)) throw invalid(`unknown setting ${JSON.stringify(field)} in keystores.connections.aws-kms`);
  }
  const { region, endpoint, caFile, credentialsSecret, requestTimeoutMs, maxAttempts } = settings;
  if (typeof region !== 'string') throw invalid('setting region is required (e.g. "eu-central-1")');
  // `"credentials": "default-chain"` (a role: instance profile, web identity...) and credentialsSecret are exclusive,
  // so a config never silently uses the other one.
  const source = settings['credentials'];
  const webIdentity = settings['webIdentity'] === undefined ? undefined : parseWebIdentity(settings['webIdentity']);
  const assumeRole = settings['assumeRole'] === undefined ? undefined : parseAssumeRole(settings['assumeRole']);
  const stsEndpoint = settings['stsEndpoint'];
  if (stsEndpoint !== undefined && (typeof stsEndpoint !== 'string' || (webIdentity === undefined && assumeRole === undefined))) {
    throw invalid('setting stsEndpoint must be a string, and only goes with webIdentity or assumeRole');
  }
  if (webIdentity !== undefined && (source !== undefined || credentialsSecret !== undefined)) {
    throw invalid('setting webIdentity replaces credentials and credentialsSecret: they are exclusive');
  }
  if (source !== undefined && source !== 'default-chain') throw invalid('setting credentials must be "default-chain" (or absent: credentialsSecret)');
  if (source === 'default-chain' && credentialsSecret !== undefined) throw invalid('settings credentials "default-chain" and credentialsSecret are exclusive');
  if (source === undefined && webIdentity === undefined && (typeof credentialsSecret !== 'string' || credentialsSecret.length === 0)) {
    throw invalid('setting credentialsSecret (the name of a node secret) is required, or credentials "default-chain", or webIdentity');
  }
  if (endpoint !== undefined && typeof endpoint !== 'string') throw invalid('setting endpoint must be a string');
  if (caFile !== undefined && (typeof caFile !== 'string' || caFile.length === 0)) throw invalid('setting caFile must be a path');
  if (requestTimeoutMs !== undefined && typeof requestTimeoutMs !== 'number') throw invalid('setting requestTimeoutMs must be a number');
  if (maxAttempts !== undefined && typeof maxAttempts !== 'number') throw invalid('setting maxAttempts must be a number');

  const ca = caFile === undefined ? undefined : await readCaFile(caFile);
  let credentials: AwsCredentials | 'default-chain' = 'default-chain';
  if (typeof credentialsSecret === 'string') {
    const raw = await secrets.get(credentialsSecret);
    try {
      credentials = parseAwsCredentialsSecret(raw);
    } finally {
      raw.fill(0);
    }
  }
  return new AwsKmsKeystore({
    keyArn: shadow.keyRef,
    region,
    credentials,
    ...(webIdentity === undefined ? {} : { webIdentity }),
    ...(assumeRole === undefined ? {} : { assumeRole }),
    ...(stsEndpoint === undefined ? {} : { stsEndpoint }),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(ca === undefined ? {} : { ca }),
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  });
}
