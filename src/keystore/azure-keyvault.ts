/**
 * Azure Key Vault keystore plugin (issue 4, deliverable 4; docs/keystores.md, "Azure Key Vault"). The code lives
 * in ./azure/, one file per concern (issue 19 item 5):
 *
 *   azure/constants.ts   kind, wrap algorithms, named limits
 *   azure/key-ref.ts     key identifier URLs
 *   azure/credential.ts  the TokenCredential (client credentials, static token, managed identity)
 *   azure/errors.ts      Key Vault REST errors → keystore error codes
 *   azure/payload.ts     the tenant-binding payload and the wrapped blob format
 *   azure/keystore.ts    the plugin (design notes in its module comment)
 *   azure/open.ts        openAzureKeyVaultKeystore: connection settings → plugin
 *
 * This module is the public surface the factory and the tests import.
 */
export * from './azure/constants.js';
export { parseAzureKeyRef, type AzureKeyRef } from './azure/key-ref.js';
export {
  AZURE_IMDS_TOKEN_ENDPOINT,
  AzureSecretCredential,
  parseCredentialSecret,
  type AzureCredentialSecret,
  type AzureSecretCredentialOptions,
} from './azure/credential.js';
export { mapAzureError } from './azure/errors.js';
export { AzureKeyVaultKeystore, createAzureAgent, type AzureKeyVaultKeystoreConfig } from './azure/keystore.js';
export { openAzureKeyVaultKeystore } from './azure/open.js';
