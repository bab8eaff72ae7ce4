/**
 * Binary key layouts of the vault's LMDB databases (docs/vault.md "Keys and indexes").
 *
 * Every key starts with the tenant as `u8 length ‖ UTF-8`, so
 * - one tenant's keys form one contiguous range (scan, count) and
 * - a lookup under tenant A can never reach a key of tenant B: isolation is in the key itself,
 *   not in a check someone could forget (ARCHITECTURE §4 "Identity and tenancy").
 * Length prefixes (not separators) make prefixes unambiguous: tenant "a" + name "bc" never
 * collides with tenant "ab" + name "c".
 *
 *   objects  : T ‖ uid
 *   byName   : T ‖ V(name value)  ‖ uid     (one entry per Name attribute instance)
 *   byGroup  : T ‖ V(object group) ‖ uid    (one entry per Object Group instance)
 *   byType   : T ‖ u32 objectType ‖ uid
 *   byState  : T ‖ u32 state ‖ uid
 *   with T = u8 len ‖ tenant, V(s) = u16 len ‖ s when s ≤ 512 bytes, else 0xFFFF ‖ SHA-256(s).
 *
 * The uid is last, so index ranges come back in uid byte order, which for server-assigned
 * UUIDv7 UIDs is creation order.
 */
import { createHash } from 'node:crypto';
import { VaultError } from './errors.js';
import { MAX_INLINE_INDEX_TEXT_BYTES, MAX_TENANT_BYTES, MAX_UID_BYTES } from './limits.js';

/** Marks a hashed (long) index text value; inline lengths are ≤ MAX_INLINE_INDEX_TEXT_BYTES < 0xFFFF. */
const HASHED_TEXT = 0xffff;

/** Any UTF-16 surrogate; only strings containing one need the full well-formedness check. */
const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * UTF-8 of a string that must round-trip exactly. Lone surrogates would be replaced by U+FFFD,
 * making two different tenant strings share one key prefix — an isolation bug; refuse them.
 */
function utf8Exact(s: string, what: string, max: number): Buffer {
  if (typeof s !== 'string' || s.length === 0) throw new VaultError('INVALID_RECORD', `${what} must be a non-empty string`);
  if (SURROGATE.test(s) && LONE_SURROGATE.test(s)) throw new VaultError('INVALID_RECORD', `${what} is not well-formed Unicode (lone surrogate)`);
  const b = Buffer.from(s, 'utf8');
  if (b.length > max) throw new VaultError('LIMIT_EXCEEDED', `${what} is ${b.length} UTF-8 bytes, over the limit of ${max}`);
  return b;
}

export function tenantBytes(tenant: string): Buffer {
  return utf8Exact(tenant, 'tenant', MAX_TENANT_BYTES);
}

export function uidBytes(uid: string): Buffer {
  return utf8Exact(uid, 'uid', MAX_UID_BYTES);
}

/**
 * Tenant prefixes are built on every call and tenants are few, so they are cached. Bounded:
 * a caller cycling through many tenant names only ever makes the cache restart, never grow.
 */
const MAX_CACHED_TENANT_PREFIXES = 4096;
const prefixCache = new Map<string, Buffer>();

/** T = u8 len ‖ tenant: the prefix of every key of this tenant in every database. Do not mutate. */
export function tenantPrefix(tenant: string): Buffer {
  const cached = prefixCache.get(tenant);
  if (cached !== undefined) return cached;
  const t = tenantBytes(tenant);
  const out = Buffer.allocUnsafe(1 + t.length);
  out[0] = t.length;
  t.copy(out, 1);
  if (prefixCache.size >= MAX_CACHED_TENANT_PREFIXES) prefixCache.clear();
  prefixCache.set(tenant, out);
  return out;
}

export function objectKey(tenant: string, uid: string): Buffer {
  return Buffer.concat([tenantPrefix(tenant), uidBytes(uid)]);
}

function indexText(value: string): Buffer {
  const v = Buffer.from(value, 'utf8');
  if (v.length <= MAX_INLINE_INDEX_TEXT_BYTES) {
    const out = Buffer.allocUnsafe(2 + v.length);
    out.writeUInt16BE(v.length, 0);
    v.copy(out, 2);
    return out;
  }
  const out = Buffer.allocUnsafe(2 + 32);
  out.writeUInt16BE(HASHED_TEXT, 0);
  createHash('sha256').update(v).digest().copy(out, 2);
  return out;
}

/** Prefix of all byName/byGroup entries for (tenant, value). */
export function textIndexPrefix(tenant: string, value: string): Buffer {
  return Buffer.concat([tenantPrefix(tenant), indexText(value)]);
}

/** Prefix of all byType/byState entries for (tenant, n). */
export function enumIndexPrefix(tenant: string, n: number): Buffer {
  const t = tenantPrefix(tenant);
  const out = Buffer.allocUnsafe(t.length + 4);
  t.copy(out, 0);
  out.writeUInt32BE(n, t.length);
  return out;
}

/**
 * The smallest key greater than every key that starts with `prefix` (exclusive range end):
 * increment the last byte that is not 0xFF and drop what follows it.
 */
export function prefixEnd(prefix: Buffer): Buffer {
  const out = Buffer.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    const byte = out[i] ?? 0;
    if (byte !== 0xff) {
      out[i] = byte + 1;
      return out.subarray(0, i + 1);
    }
  }
  // Unreachable for our prefixes: they end in UTF-8 or a length byte, and UTF-8 never contains 0xFF.
  throw new RangeError('prefix has no finite upper bound');
}
