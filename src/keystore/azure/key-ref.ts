/** Azure Key Vault key identifiers: `https://<vault>/keys/<name>[/<version>]`. */
import { KeystoreError } from '../types.js';
import { AZURE_KEYVAULT_PLUGIN_KIND, MAX_KEY_REF_CHARS, MAX_KEY_VERSION_CHARS } from './constants.js';

const KEY_NAME_PATTERN = /^[0-9A-Za-z-]{1,127}$/u;
const KEY_VERSION_PATTERN = /^[0-9A-Za-z]+$/u;

export interface AzureKeyRef {
  /** `https://<vault host>` (with port when not 443). */
  readonly vaultUrl: string;
  readonly name: string;
  /** Pinned key version, or undefined to follow the current version. */
  readonly version: string | undefined;
}

/** Parses `https://<vault>/keys/<name>[/<version>]`; anything else is INVALID_ARGUMENT. */
export function parseAzureKeyRef(keyRef: string): AzureKeyRef {
  const bad = (why: string): KeystoreError => new KeystoreError('INVALID_ARGUMENT', AZURE_KEYVAULT_PLUGIN_KIND, `keyRef ${why}`);
  if (typeof keyRef !== 'string' || keyRef.length === 0 || keyRef.length > MAX_KEY_REF_CHARS) {
    throw bad(`must be a key identifier URL of 1..${String(MAX_KEY_REF_CHARS)} characters`);
  }
  let url: URL;
  try {
    url = new URL(keyRef);
  } catch {
    throw bad('is not a URL');
  }
  if (url.protocol !== 'https:') throw bad('must use https');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw bad('must not carry credentials, a query or a fragment');
  }
  const parts = url.pathname.replace(/\/+$/u, '').split('/');
  // ['', 'keys', name] or ['', 'keys', name, version]
  if (parts.length < 3 || parts.length > 4 || parts[0] !== '' || parts[1] !== 'keys') {
    throw bad('must look like https://<vault>/keys/<name>[/<version>]');
  }
  const name = parts[2] ?? '';
  if (!KEY_NAME_PATTERN.test(name)) throw bad('has an invalid key name (1..127 letters, digits and dashes)');
  const version = parts[3];
  if (version !== undefined && !isValidVersion(version)) throw bad('has an invalid key version');
  return { vaultUrl: `https://${url.host}`, name, version };
}

export function isValidVersion(version: string): boolean {
  return version.length > 0 && version.length <= MAX_KEY_VERSION_CHARS && KEY_VERSION_PATTERN.test(version);
}
