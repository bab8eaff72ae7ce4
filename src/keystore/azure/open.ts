/** Factory (contracts.md: openXxxKeystore(shadow, settings, secrets)) for the Azure Key Vault plugin. */
import { readFile } from 'node:fs/promises';
import { KeystoreError, type KeystorePlugin, type SecretSource, type ShadowReference } from '../types.js';
import {
  AZURE_KEYVAULT_PLUGIN_KIND,
  AZURE_WRAP_ALGORITHMS,
  DEFAULT_AUTHORITY_HOST,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRIES,
  MAX_CA_FILE_BYTES,
  MAX_REQUEST_TIMEOUT_MS,
  MAX_RETRIES,
  MIN_REQUEST_TIMEOUT_MS,
  type AzureWrapAlgorithm,
} from './constants.js';
import { AZURE_IMDS_TOKEN_ENDPOINT, AzureSecretCredential, DIRECTORY_ID_PATTERN, parseCredentialSecret, type AzureWorkloadIdentity } from './credential.js';
import { parseAzureKeyRef } from './key-ref.js';
import { AzureKeyVaultKeystore, createAzureAgent, validateNumber } from './keystore.js';

const SETTINGS = new Set([
  'credentialSecret',
  'algorithm',
  'caFile',
  'authorityHost',
  'requestTimeoutMs',
  'retries',
  'disableChallengeResourceVerification',
  'identity',
  'managedIdentityClientId',
  'imdsEndpoint',
  'tenantId',
  'clientId',
  'federatedTokenFile',
]);

/** Longest managed identity client id accepted (a GUID is 36 characters). */
const MAX_MI_CLIENT_ID_CHARS = 64;

/**
 * Opens the plugin for a shadow reference with its connection's settings (`keystores.connections.<name>`):
 * `{credentialSecret | identity: "managed" (imdsEndpoint?, managedIdentityClientId?) | identity: "workload"
 * (tenantId?, clientId?, federatedTokenFile?), algorithm?, caFile?, authorityHost?, requestTimeoutMs?, retries?,
 * disableChallengeResourceVerification?}`. The credential secret is read once here to fail fast on a bad one,
 * then again whenever a token is needed.
 */
export async function openAzureKeyVaultKeystore(
  shadow: ShadowReference,
  settings: Readonly<Record<string, unknown>>,
  secrets: SecretSource,
): Promise<KeystorePlugin> {
  const bad = (why: string): KeystoreError => new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, why);
  if (shadow.plugin !== AZURE_KEYVAULT_PLUGIN_KIND) throw bad(`shadow reference is for plugin ${shadow.plugin}`);
  const ref = parseAzureKeyRef(shadow.keyRef);
  if (shadow.keyVersion !== '' && ref.version !== undefined && shadow.keyVersion !== ref.version) {
    throw bad('shadow keyVersion differs from the version in keyRef');
  }
  for (const field of Object.keys(settings)) {
    if (!SETTINGS.has(field)) throw bad(`unknown setting ${JSON.stringify(field)}`);
  }
  // Issue 16 item 4: `"identity": "managed"` takes tokens from the host's managed identity (IMDS), `"workload"`
  // from a federated token file, instead of a node secret; they are exclusive so a config never silently uses
  // another one.
  const identity = settings['identity'];
  if (identity !== undefined && identity !== 'managed' && identity !== 'workload') throw bad('identity must be "managed" or "workload" (or absent: credentialSecret)');
  const credentialSecret = settings['credentialSecret'];
  let managedIdentity: { endpoint: string; clientId?: string } | undefined;
  let workloadIdentity: AzureWorkloadIdentity | undefined;
  if (identity !== 'workload' && ['tenantId', 'clientId', 'federatedTokenFile'].some((k) => settings[k] !== undefined)) {
    throw bad('tenantId, clientId and federatedTokenFile need identity "workload"');
  }
  if (identity === 'workload') {
    if (credentialSecret !== undefined) throw bad('identity "workload" and credentialSecret are exclusive');
    workloadIdentity = workloadSettings(settings, bad);
    if (settings['imdsEndpoint'] !== undefined || settings['managedIdentityClientId'] !== undefined) throw bad('imdsEndpoint and managedIdentityClientId need identity "managed"');
  } else if (identity === 'managed') {
    if (credentialSecret !== undefined) throw bad('identity "managed" and credentialSecret are exclusive');
    const endpoint = settings['imdsEndpoint'] ?? AZURE_IMDS_TOKEN_ENDPOINT;
    if (typeof endpoint !== 'string' || !isHttpBase(endpoint)) throw bad('imdsEndpoint must be an http(s) URL without credentials, query or fragment');
    const clientId = settings['managedIdentityClientId'];
    if (clientId !== undefined && (typeof clientId !== 'string' || !/^[\w-]{1,64}$/u.test(clientId))) {
      throw bad(`managedIdentityClientId must be 1..${String(MAX_MI_CLIENT_ID_CHARS)} word characters or dashes`);
    }
    managedIdentity = { endpoint, ...(clientId === undefined ? {} : { clientId }) };
  } else {
    if (settings['imdsEndpoint'] !== undefined || settings['managedIdentityClientId'] !== undefined) throw bad('imdsEndpoint and managedIdentityClientId need identity "managed"');
    if (typeof credentialSecret !== 'string' || credentialSecret.length === 0) throw bad('credentialSecret must name a node secret');
  }
  const algorithm = settings['algorithm'] ?? 'RSA-OAEP-256';
  if (typeof algorithm !== 'string' || !(AZURE_WRAP_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw bad(`algorithm must be one of ${AZURE_WRAP_ALGORITHMS.join(', ')}`);
  }
  // The AKS workload identity webhook injects AZURE_AUTHORITY_HOST beside the token file (sovereign clouds).
  const authorityHost = settings['authorityHost'] ?? (identity === 'workload' ? process.env['AZURE_AUTHORITY_HOST'] : undefined) ?? DEFAULT_AUTHORITY_HOST;
  if (typeof authorityHost !== 'string' || !isHttpsBase(authorityHost)) throw bad('authorityHost must be an https URL');
  const timeout = settings['requestTimeoutMs'] ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const retries = settings['retries'] ?? DEFAULT_RETRIES;
  if (typeof timeout !== 'number') throw bad('requestTimeoutMs must be a number');
  if (typeof retries !== 'number') throw bad('retries must be a number');
  validateNumber('requestTimeoutMs', timeout, MIN_REQUEST_TIMEOUT_MS, MAX_REQUEST_TIMEOUT_MS);
  validateNumber('retries', retries, 0, MAX_RETRIES);
  const disableVerification = settings['disableChallengeResourceVerification'] ?? false;
  if (typeof disableVerification !== 'boolean') throw bad('disableChallengeResourceVerification must be a boolean');
  const caFile = settings['caFile'];
  let caPem: string | undefined;
  if (caFile !== undefined) {
    if (typeof caFile !== 'string' || caFile.length === 0) throw bad('caFile must be a path');
    caPem = await readCaFile(caFile);
  }

  if (typeof credentialSecret === 'string') {
    let raw: Buffer;
    try {
      raw = await secrets.get(credentialSecret);
    } catch (err) {
      throw new KeystoreError('UNREACHABLE', AZURE_KEYVAULT_PLUGIN_KIND, `credential secret ${credentialSecret} is not available`, { cause: err });
    }
    try {
      parseCredentialSecret(raw);
    } finally {
      raw.fill(0);
    }
  }

  const agent = createAzureAgent(caPem);
  const credential = new AzureSecretCredential({
    secrets, secretName: typeof credentialSecret === 'string' ? credentialSecret : '', authorityHost, agent, timeoutMs: timeout,
    ...(managedIdentity === undefined ? {} : { managedIdentity }),
    ...(workloadIdentity === undefined ? {} : { workloadIdentity }),
  });
  return new AzureKeyVaultKeystore({
    keyRef: shadow.keyRef,
    credential,
    algorithm: algorithm as AzureWrapAlgorithm,
    requestTimeoutMs: timeout,
    retries,
    disableChallengeResourceVerification: disableVerification,
    agent,
  });
}

/**
 * Workload identity settings; each falls back to the variable the AKS workload identity webhook injects
 * (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE), so one pod identity needs no settings and
 * several connections (customers) can each name their own application.
 */
function workloadSettings(settings: Readonly<Record<string, unknown>>, bad: (why: string) => KeystoreError): AzureWorkloadIdentity {
  const pick = (key: string, env: string): unknown => settings[key] ?? process.env[env];
  const tenantId = pick('tenantId', 'AZURE_TENANT_ID');
  const clientId = pick('clientId', 'AZURE_CLIENT_ID');
  const tokenFile = pick('federatedTokenFile', 'AZURE_FEDERATED_TOKEN_FILE');
  if (typeof tenantId !== 'string' || !DIRECTORY_ID_PATTERN.test(tenantId)) throw bad('identity "workload" needs tenantId (or AZURE_TENANT_ID): a tenant GUID or domain');
  if (typeof clientId !== 'string' || !DIRECTORY_ID_PATTERN.test(clientId)) throw bad('identity "workload" needs clientId (or AZURE_CLIENT_ID): an application (client) id');
  if (typeof tokenFile !== 'string' || tokenFile.length === 0) throw bad('identity "workload" needs federatedTokenFile (or AZURE_FEDERATED_TOKEN_FILE): the path of the federated token');
  return { tenantId, clientId, tokenFile };
}

function isHttpBase(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

function isHttpsBase(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

async function readCaFile(path: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `caFile ${path} cannot be read`, { cause: err });
  }
  if (data.length > MAX_CA_FILE_BYTES) {
    throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `caFile ${path} is larger than ${String(MAX_CA_FILE_BYTES)} bytes`);
  }
  const pem = data.toString('utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `caFile ${path} holds no PEM certificate`);
  }
  return pem;
}
