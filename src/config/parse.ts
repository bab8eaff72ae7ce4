/** Small checks every section's validator uses; each throws ConfigError naming the setting. */
import { checkKeys, ConfigError } from '../common/config-error.js';
import { isRecord } from '../common/guards.js';

/** `v` as an object whose keys are all in `allowed` (undefined = an empty section). */
export function section(where: string, v: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isRecord(v)) throw new ConfigError(`${where} must be an object`);
  checkKeys(where, v, allowed);
  return v;
}

export function optString(where: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`${where} must be a non-empty string`);
  return v;
}

export function numbers(where: string, v: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'number') throw new ConfigError(`${where}.${k} must be a number`);
    out[k] = x;
  }
  return out;
}
