/**
 * A setting that cannot be used as given: thrown by every section's validator (openkcm.conf, CLI flags,
 * environment). A leaf module so that the planes below the server can reject their own settings without
 * importing the transport (ARCHITECTURE's layering).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Refuses a key of `obj` that is not in `allowed`, naming it and the allowed ones (a misspelt setting must not
 * silently fall back to its default). One definition for every section; `error` is the section's own error class
 * (the admin API's authentication settings throw AuthConfigError).
 */
export function checkKeys(where: string, obj: Readonly<Record<string, unknown>>, allowed: readonly string[], error: new (message: string) => Error = ConfigError): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new error(`unknown setting ${where}.${k} (allowed: ${allowed.join(', ')})`);
  }
}

/**
 * A named limit's configured value: an integer from 1 to `max`, its ceiling (0 or a huge value would disable the
 * limit by accident). One check for the KMIP listener's limits (src/config/limits.ts) and the admin API's
 * (src/cmk/api/limits.ts); `label` names the setting in the message, `error` is the section's own error class.
 */
export function checkLimit(label: string, v: unknown, max: number, error: new (message: string) => Error = ConfigError): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > max) {
    throw new error(`${label} must be an integer from 1 to ${String(max)}, got ${String(v)}`);
  }
  return v;
}
