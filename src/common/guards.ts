/** A plain object (not null, not an array): the shape every JSON/JSONC section parser starts from. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
