/**
 * The KMIP server core: configuration and named limits (src/config), the TLS listener, per-connection
 * pipelining and flow control, identity → tenant mapping, and the transport-independent
 * request processor. Operation handlers live in src/operations; storage in src/vault.
 */
export { KmipServer } from './listener.js';
export type { KmipServerOptions, KmipServerStats } from './listener.js';
export { ServerConnection } from './connection.js';
export type { ServerConnectionOptions } from './connection.js';
export {
  processMessage,
  messageErrorResponse,
  encodeResponseBytes,
  sniffProtocolVersion,
  kmipVersionOf,
  handlerSupports,
  newSession,
  SERVER_KMIP_VERSIONS,
  FALLBACK_PROTOCOL_VERSION,
} from './processor.js';
export type { ProcessorDeps } from './processor.js';
export {
  DEFAULT_SERVER_LIMITS,
  DEFAULT_IDENTITY_CONFIG,
  DEFAULT_CIPHERS,
  DEFAULT_KMIP_LISTEN,
  CONFIG_FILE_NAME,
  resolveServerLimits,
  parseListen,
  formatListen,
  parseJsonc,
  validateConfigFile,
  resolveConfig,
  loadConfig,
  renderDefaultConfigFile,
} from '../config/index.js';
export type {
  ServerLimits, IdentityConfig, IdentitySource, TlsMaterial, TlsVersionFloor, ListenAddress, ServerConfig, ConfigFile, LoadedConfig,
} from '../config/index.js';
export { ConfigError } from '../common/config-error.js';
export { TENANT_NAME_PATTERN } from '../common/tenant-name.js';
export { certCommonName, certSanUris } from '../common/x509.js';
export { identityOf, tenantOf, principalOf, IdentityError } from './identity.js';
export { jsonLogger, silentLogger, describeError, isLogLevel } from '../common/log.js';
export type { Logger, LogLevel, LogFields } from '../common/log.js';
