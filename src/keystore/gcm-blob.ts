/**
 * The wrapped-blob layout of the plugins that run AES-256-GCM under L1 themselves (local, PKCS#11):
 * 0x01 ‖ 12-byte IV ‖ ciphertext ‖ 16-byte tag. Each plugin binds its own AAD (its prefix, the tenant and purpose);
 * the layout and its checks are written once, here.
 */
import { KeystoreError } from './types.js';

const GCM_BLOB_FORMAT_V1 = 0x01;
/** 96-bit IV, the length NIST SP 800-38D §8.2 recommends for random IVs. */
export const GCM_IV_BYTES = 12;
/** Full 128-bit tag (SP 800-38D Appendix C: truncated tags weaken forgery resistance). */
export const GCM_TAG_BYTES = 16;

/** The blob of `sealed` (ciphertext ‖ tag) sealed under `iv`. */
export function gcmBlob(iv: Uint8Array, sealed: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + GCM_IV_BYTES + sealed.length);
  out[0] = GCM_BLOB_FORMAT_V1;
  out.set(iv, 1);
  out.set(sealed, 1 + GCM_IV_BYTES);
  return out;
}

/**
 * The IV and the ciphertext ‖ tag of a blob (views into it). A blob of the wrong version, or too short to hold one
 * byte of key, is refused before any key is touched.
 * @throws KeystoreError INVALID_CIPHERTEXT "not a version-1 `what` wrapped blob"
 */
export function gcmBlobParts(wrapped: Uint8Array, plugin: string, what: string): { readonly iv: Uint8Array; readonly sealed: Uint8Array } {
  if (wrapped.length < 1 + GCM_IV_BYTES + GCM_TAG_BYTES + 1 || wrapped[0] !== GCM_BLOB_FORMAT_V1) {
    throw new KeystoreError('INVALID_CIPHERTEXT', plugin, `not a version-1 ${what} wrapped blob`);
  }
  return { iv: wrapped.subarray(1, 1 + GCM_IV_BYTES), sealed: wrapped.subarray(1 + GCM_IV_BYTES) };
}
