/**
 * Azure Key Vault plugin: its kind, wrap algorithms and named limits (see ./keystore.ts for the design).
 * Each limit bounds what a misconfiguration or a hostile endpoint can make us do.
 */
export const AZURE_KEYVAULT_PLUGIN_KIND = 'azure-keyvault';

/** The wrap algorithms we accept (see the module comment for why RSA-OAEP and RSA1_5 are not among them). */
export const AZURE_WRAP_ALGORITHMS = ['RSA-OAEP-256', 'A256KW'] as const;
export type AzureWrapAlgorithm = (typeof AZURE_WRAP_ALGORITHMS)[number];

// Limits. Each bounds what a misconfiguration or a hostile endpoint can make us do.

/** Default per-attempt HTTP timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** A hung vault must not pin a tenant activation (and its caller) for minutes: attempts are capped at 2 minutes. */
export const MAX_REQUEST_TIMEOUT_MS = 120_000;
/** Below this no TLS handshake to a cloud region completes; smaller values only produce false UNREACHABLEs. */
export const MIN_REQUEST_TIMEOUT_MS = 100;
/** Retries after the first attempt for throttling (429), 5xx and connection errors. */
export const DEFAULT_RETRIES = 2;
/** Retry storms against a throttled vault make throttling worse and multiply the time an activation waits. */
export const MAX_RETRIES = 10;
/** Base and cap of the SDK's exponential back-off between retries. */
export const RETRY_DELAY_MS = 400;
export const MAX_RETRY_DELAY_MS = 4_000;
/** A hostile or broken token authority cannot make us buffer more than this (memory exhaustion). */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** Entra access tokens are a few KiB; anything larger is refused before it is stored or sent. */
export const MAX_ACCESS_TOKEN_CHARS = 16 * 1024;
/** The credential secret is a small JSON document (room for a maximal static token); more is not a credential. */
export const MAX_CREDENTIAL_SECRET_BYTES = 32 * 1024;
/** A PEM bundle of private CAs; refusing larger files stops a mistyped path (a disk image, a log) being slurped. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;
/** Key identifiers are short URLs; this bounds what we parse and echo in messages. */
export const MAX_KEY_REF_CHARS = 2048;
/** Key Vault versions are 32 hex characters; the bound keeps a forged blob from naming a huge "version". */
export const MAX_KEY_VERSION_CHARS = 64;
/** Versions whose key bundle and client we keep; a flood of blobs naming many versions cannot grow memory. */
export const MAX_CACHED_VERSIONS = 16;
/** How long a fetched key bundle (enabled, expiry, key_ops) is trusted before it is fetched again. */
export const KEY_PROPERTIES_TTL_MS = 5 * 60_000;
/** RSA keys shorter than this are refused (NIST SP 800-57: 2048 bits is the minimum for wrapping). */
export const MIN_RSA_KEY_BITS = 2048;
/** Idle and in-flight sockets per host; a burst of tenant activations must not open hundreds of TLS sessions. */
export const MAX_SOCKETS_PER_HOST = 16;
/** A new token is fetched when less than this (or half its lifetime) remains. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
/** Lifetime assumed for a static token that is not a JWT with `exp`; the secret is re-read after it. */
export const STATIC_TOKEN_ASSUMED_LIFETIME_MS = 60 * 60_000;
/** Where Microsoft Entra ID issues tokens (public cloud). Sovereign clouds set `authorityHost`. */
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/**
 * The only scopes our credential requests. The SDK derives the scope from the vault's 401 challenge; without this
 * list, an endpoint we were pointed at could name any resource (Microsoft Graph, ARM) and receive a token for it.
 */
export const ALLOWED_SCOPES = new Set([
  'https://vault.azure.net/.default',
  'https://vault.azure.cn/.default',
  'https://vault.usgovcloudapi.net/.default',
  'https://vault.microsoftazure.de/.default',
  'https://managedhsm.azure.net/.default',
  'https://managedhsm.azure.cn/.default',
  'https://managedhsm.usgovcloudapi.net/.default',
]);
