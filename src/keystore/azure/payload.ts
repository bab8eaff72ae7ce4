/** The tenant-binding payload and the version-1 blob (see ./keystore.ts for the format and why). */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { KeystoreError, type WrapContext } from '../types.js';
import { AZURE_KEYVAULT_PLUGIN_KIND, MAX_KEY_VERSION_CHARS } from './constants.js';
import { isValidVersion } from './key-ref.js';

const BLOB_FORMAT_V1 = 0x01;
const PAYLOAD_FORMAT_V1 = 0x01;
const PAYLOAD_HEADER_BYTES = 8;
const PAYLOAD_NONCE_BYTES = 8;
const CONTEXT_DIGEST_BYTES = 32;
const PAYLOAD_PREFIX_BYTES = PAYLOAD_HEADER_BYTES + PAYLOAD_NONCE_BYTES + CONTEXT_DIGEST_BYTES;
const AAD_PREFIX = 'openkcm/keystore/v1';

export function contextDigest(context: WrapContext): Buffer {
  return createHash('sha256').update(`${AAD_PREFIX}\0${context.tenant}\0${context.purpose ?? ''}`, 'utf8').digest();
}

export function paddedLength(keyLength: number): number {
  return PAYLOAD_PREFIX_BYTES + Math.ceil(keyLength / 8) * 8;
}

export function encodePayload(key: Uint8Array, context: WrapContext): Buffer {
  const out = Buffer.alloc(paddedLength(key.length));
  out[0] = PAYLOAD_FORMAT_V1;
  out[1] = key.length;
  randomBytes(PAYLOAD_NONCE_BYTES).copy(out, PAYLOAD_HEADER_BYTES);
  contextDigest(context).copy(out, PAYLOAD_HEADER_BYTES + PAYLOAD_NONCE_BYTES);
  out.set(key, PAYLOAD_PREFIX_BYTES);
  return out;
}

export function decodePayload(plain: Uint8Array, context: WrapContext): Uint8Array {
  const invalid = (): KeystoreError =>
    new KeystoreError('INVALID_CIPHERTEXT', AZURE_KEYVAULT_PLUGIN_KIND, 'unwrapped payload is malformed or bound to another tenant/purpose');
  if (plain.length < PAYLOAD_PREFIX_BYTES + 1 || plain[0] !== PAYLOAD_FORMAT_V1) throw invalid();
  const keyLength = plain[1] ?? 0;
  if (keyLength === 0 || plain.length !== paddedLength(keyLength)) throw invalid();
  for (let i = 2; i < PAYLOAD_HEADER_BYTES; i += 1) if (plain[i] !== 0) throw invalid();
  const digest = plain.subarray(PAYLOAD_HEADER_BYTES + PAYLOAD_NONCE_BYTES, PAYLOAD_PREFIX_BYTES);
  if (!timingSafeEqual(digest, contextDigest(context))) throw invalid();
  for (let i = PAYLOAD_PREFIX_BYTES + keyLength; i < plain.length; i += 1) if (plain[i] !== 0) throw invalid();
  return Uint8Array.from(plain.subarray(PAYLOAD_PREFIX_BYTES, PAYLOAD_PREFIX_BYTES + keyLength));
}

export function encodeBlob(version: string, wrapped: Uint8Array): Uint8Array {
  const v = Buffer.from(version, 'ascii');
  const out = new Uint8Array(2 + v.length + wrapped.length);
  out[0] = BLOB_FORMAT_V1;
  out[1] = v.length;
  out.set(v, 2);
  out.set(wrapped, 2 + v.length);
  return out;
}

export function decodeBlob(blob: Uint8Array): { version: string; wrapped: Uint8Array } {
  const invalid = (): KeystoreError =>
    new KeystoreError('INVALID_CIPHERTEXT', AZURE_KEYVAULT_PLUGIN_KIND, 'not a version-1 Azure Key Vault wrapped blob');
  if (blob.length < 3 || blob[0] !== BLOB_FORMAT_V1) throw invalid();
  const vlen = blob[1] ?? 0;
  if (vlen === 0 || vlen > MAX_KEY_VERSION_CHARS || blob.length <= 2 + vlen) throw invalid();
  const version = Buffer.from(blob.subarray(2, 2 + vlen)).toString('latin1');
  if (!isValidVersion(version)) throw invalid();
  return { version, wrapped: blob.subarray(2 + vlen) };
}

/** Length in bytes of an RSA modulus without leading zeros. */
export function rsaBytes(n: Uint8Array): number {
  let i = 0;
  while (i < n.length && n[i] === 0) i += 1;
  return n.length - i;
}
