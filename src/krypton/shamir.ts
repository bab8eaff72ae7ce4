/**
 * Shamir secret sharing of the MasterKey (`openkcm operator init --shares N --threshold K`, `operator unseal`):
 * split, combine, and the text form of a share with a checksum that catches typos before combining.
 *
 * The arithmetic is the audited `shamir-secret-sharing` library (GF(256), one polynomial per key byte). It works on
 * Uint8Array, so during split and combine the 32 key bytes, the shares and the library's temporaries exist on the
 * JS heap; every array we own is wiped once the key is in its slot (SecureKey.import also wipes its input).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { SecureKey } from '../native/index.js';
import { MasterKeyError } from './errors.js';

/** AES-256: the MasterKey is 32 bytes. */
export const MASTER_KEY_BYTES = 32;
/** Shamir share = 32 key bytes + the x coordinate (shamir-secret-sharing appends it). */
const SHARE_BYTES = MASTER_KEY_BYTES + 1;
/** Most shares one key is split into: x coordinates are the non-zero elements of GF(256). */
export const MAX_SHARES = 255;
/**
 * Longest share text accepted (a share is 80 characters). Stops an operator-socket client from making the server
 * buffer and parse megabytes per "share".
 */
export const MAX_SHARE_TEXT_CHARS = 256;
/** Share text: `okcm1-` + 8 hex checksum + `-` + 66 hex (the 33 share bytes). */
const SHARE_PREFIX = 'okcm1';
const SHARE_PATTERN = /^okcm1-([0-9a-f]{8})-([0-9a-f]{66})$/;
/** Domain label: the checksum input is distinct from every other use of a hash here. */
const SHARE_CHECKSUM_LABEL = 'openkcm/share-checksum/v1\0';

/** Why (N, K) is not acceptable, or undefined. 1 <= K <= N <= 255; K >= 2 unless N = 1. */
export function shamirParamsProblem(shares: number, threshold: number): string | undefined {
  if (!Number.isInteger(shares) || shares < 1 || shares > MAX_SHARES) return `shares must be an integer in 1..${String(MAX_SHARES)}, got ${String(shares)}`;
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) return `threshold must be an integer in 1..shares (${String(shares)}), got ${String(threshold)}`;
  if (threshold === 1 && shares !== 1) return 'threshold 1 with several shares would make every share a full copy of the key; use threshold >= 2 (or shares 1)';
  return undefined;
}

function shareChecksum(share: Uint8Array): string {
  return createHash('sha256').update(SHARE_CHECKSUM_LABEL).update(share).digest('hex').slice(0, 8);
}

/** Text form of a share: `okcm1-<8 hex checksum>-<66 hex>`. The checksum catches typos before combining. */
export function encodeShare(share: Uint8Array): string {
  return `${SHARE_PREFIX}-${shareChecksum(share)}-${Buffer.from(share).toString('hex')}`;
}

/** Parses a share's text form (surrounding blanks ignored). Throws INVALID_SHARE naming the problem. */
export function decodeShare(text: string): Uint8Array {
  if (typeof text !== 'string') throw new MasterKeyError('INVALID_SHARE', 'a share must be a string');
  if (text.length > MAX_SHARE_TEXT_CHARS) throw new MasterKeyError('INVALID_SHARE', `a share is at most ${String(MAX_SHARE_TEXT_CHARS)} characters`);
  const m = SHARE_PATTERN.exec(text.trim().toLowerCase());
  if (m === null) throw new MasterKeyError('INVALID_SHARE', `malformed share: expected ${SHARE_PREFIX}-XXXXXXXX-<66 hex digits> as printed by openkcm operator init`);
  // Copy into a plain Uint8Array: shamir-secret-sharing checks `constructor === Uint8Array` (a Buffer fails).
  const hex = Buffer.from(m[2] ?? '', 'hex');
  const share = new Uint8Array(SHARE_BYTES);
  share.set(hex);
  hex.fill(0);
  const sum = Buffer.from(shareChecksum(share), 'utf8');
  const given = Buffer.from(m[1] ?? '', 'utf8');
  if (!timingSafeEqual(sum, given)) {
    share.fill(0);
    throw new MasterKeyError('INVALID_SHARE', 'share checksum mismatch: the share was mistyped or damaged');
  }
  if (share[MASTER_KEY_BYTES] === 0) {
    share.fill(0);
    throw new MasterKeyError('INVALID_SHARE', 'malformed share: index 0 is not a valid share');
  }
  return share;
}

/** Splits the key in `key` into N shares (text form). The exported bytes are wiped before returning. */
export async function splitKey(key: SecureKey, shares: number, threshold: number): Promise<string[]> {
  const exported = key.export();
  const secret = new Uint8Array(MASTER_KEY_BYTES);
  secret.set(exported);
  exported.fill(0);
  let parts: Uint8Array[];
  try {
    if (shares === 1) {
      // Threshold 1: the degree-0 polynomial's value at any x is the secret itself (the library needs N >= 2).
      const only = new Uint8Array(SHARE_BYTES);
      only.set(secret);
      only[MASTER_KEY_BYTES] = 1;
      parts = [only];
    } else {
      parts = await split(secret, shares, threshold);
    }
  } finally {
    secret.fill(0);
  }
  const out = parts.map(encodeShare);
  for (const p of parts) p.fill(0);
  return out;
}

/** Combines shares into a new slot; every JS copy is wiped. */
export async function combineShares(parts: readonly Uint8Array[]): Promise<SecureKey> {
  let secret: Uint8Array;
  if (parts.length === 1) {
    secret = new Uint8Array(MASTER_KEY_BYTES);
    secret.set((parts[0] ?? new Uint8Array(SHARE_BYTES)).subarray(0, MASTER_KEY_BYTES));
  } else {
    secret = await combine([...parts]);
  }
  try {
    return SecureKey.import(secret); // wipes `secret`
  } finally {
    secret.fill(0);
  }
}
