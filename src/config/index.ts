/**
 * One config module (issue 19): every section of DIR/openkcm.conf is parsed and validated here, one file per
 * section, and ./file.ts composes them into the file's shape. A ConfigError names the bad setting.
 *
 *   kmip ............ ./kmip.ts (listen ./listen.ts, tls ./tls.ts, limits ./limits.ts, https ./https.ts,
 *                     trust ./trust.ts)
 *   identity ........ ./identity.ts      vault ...... ./vault.ts        native ..... ./native.ts
 *   keystores ....... ./keystores.ts     governance . ./governance.ts   compat ..... ./compat.ts
 *   logLevel ........ ./file.ts          seal ....... src/krypton (master-key.ts resolveSealSettings, auto-seal.ts):
 *                                        the MasterKey's own rules, applied when the node opens it
 *
 * The format (JSON with comments) is ./jsonc.ts; loading and resolving against the data directory ./load.ts; the
 * commented default file ./default-file.ts.
 */
export { validateCompatSection } from './compat.js';
export { renderDefaultConfigFile } from './default-file.js';
export { CONFIG_FILE_NAME, validateConfigFile } from './file.js';
export type { ConfigFile } from './file.js';
export { DEFAULT_ADMIN_API_HOST, DEFAULT_ADMIN_API_PORT, governanceSettings } from './governance.js';
export type { AdminApiSettings, GovernanceSettings } from './governance.js';
export { DEFAULT_HTTPS_SETTINGS, resolveHttps, validateHttpsSection } from './https.js';
export type { HttpsFile, HttpsSettings } from './https.js';
export { DEFAULT_IDENTITY_CONFIG, validateIdentitySection } from './identity.js';
export type { IdentityConfig, IdentityFile, IdentitySource } from './identity.js';
export { jsonSyntaxError, lineColumn, parseJsonc } from './jsonc.js';
export { keystoresSettings } from './keystores.js';
export type { KeystoresSettings } from './keystores.js';
export { validateKmipSection } from './kmip.js';
export type { KmipFile, ServerConfig } from './kmip.js';
export { DEFAULT_SERVER_LIMITS, resolveServerLimits } from './limits.js';
export type { ServerLimits } from './limits.js';
export { DEFAULT_KMIP_LISTEN, formatListen, parseListen } from './listen.js';
export type { ListenAddress } from './listen.js';
export { loadConfig, resolveConfig } from './load.js';
export type { LoadedConfig } from './load.js';
export { nativeSettings } from './native.js';
export { DEFAULT_CIPHERS, DEFAULT_TLS_RELOAD_INTERVAL_MS, MAX_TLS_RELOAD_INTERVAL_MS, MIN_TLS_RELOAD_INTERVAL_MS, validateTlsSection } from './tls.js';
export type { TlsFile, TlsMaterial, TlsVersionFloor } from './tls.js';
export { DEFAULT_CRL_REFRESH_MS, DEFAULT_MAX_CRL_BYTES, MAX_CRL_REFRESH_MS, MAX_MAX_CRL_BYTES, MIN_CRL_REFRESH_MS, resolveTrustAnchors } from './trust.js';
export { DEFAULT_MAX_OCSP_CACHE_ENTRIES, DEFAULT_MAX_OCSP_RESPONSE_BYTES, MAX_MAX_OCSP_CACHE_ENTRIES, MAX_MAX_OCSP_RESPONSE_BYTES } from './trust.js';
export type { TrustAnchor } from './trust.js';
export { vaultSettings } from './vault.js';
export type { VaultSettings } from './vault.js';
