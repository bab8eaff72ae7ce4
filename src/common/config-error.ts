/**
 * A setting that cannot be used as given: thrown by every section's validator (openkcm.conf, CLI flags,
 * environment). A leaf module so that the planes below the server can reject their own settings without
 * importing the transport (ARCHITECTURE's layering).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
