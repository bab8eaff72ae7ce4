/**
 * Tenant names are storage keys (Postgres schema suffixes, LMDB key prefixes) and file names (PKI folders), so
 * every plane accepts the same conservative alphabet. One definition, a leaf below every layer.
 */
export const TENANT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
