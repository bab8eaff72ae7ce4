/**
 * The hot path (issue 3 §3): AES-GCM seal/open on a slot's cached context, AES key wrap (RFC 3394,
 * RFC 5649), and slot-to-slot wrap/unwrap and seal/open, where one key protects another without either
 * entering JS. Batch forms are in batch.ts.
 *
 * Sealed form: ciphertext || tag (the tag is the last `tagLength` bytes), as WebCrypto and the vault
 * envelope use it.
 */
import { check } from './errors.js';
import { AEAD_DEFAULT_TAG_BYTES, AEAD_TAG_LENGTHS, GCM_MAX_IV_BYTES, GCM_MIN_IV_BYTES, MAX_AAD_BYTES, MAX_DATA_BYTES, MAX_KEY_BYTES, MAX_WRAP_INPUT_BYTES } from './limits.js';
import { adoptHandle, binding, handleOf } from './secure-key.js';
import type { SecureKey } from './secure-key.js';
import { bytes, oneOf, optionalBytes } from './validate.js';
import { NativeArgumentError } from './errors.js';

/** RFC 3394 (input a multiple of 8 bytes, at least 16) or RFC 5649 (any length, with padding). */
export type KeyWrapMode = 'rfc3394' | 'rfc5649';
const WRAP_MODES: readonly KeyWrapMode[] = ['rfc3394', 'rfc5649'];
const AES_KEY_LENGTHS = [16, 24, 32];

/** The key must be an AES key (16, 24 or 32 bytes) for GCM and key wrap. */
export function aesKeyHandle(name: string, key: SecureKey): number {
  const h = handleOf(key);
  if (!AES_KEY_LENGTHS.includes(key.length)) {
    throw new NativeArgumentError(`${name} must be an AES key of 16, 24 or 32 bytes, got ${key.length} bytes`);
  }
  return h;
}

export function gcmIv(name: string, iv: unknown): Uint8Array {
  return bytes(name, iv, GCM_MIN_IV_BYTES, GCM_MAX_IV_BYTES);
}

export function tagLength(v: unknown): number {
  return oneOf('tagLength', v, AEAD_TAG_LENGTHS, 'SP 800-38D §5.2.1.2');
}

/**
 * AES-GCM encrypt (SP 800-38D). The IV must never repeat under one key: the vault envelope draws a
 * fresh random 96-bit nonce per seal. Returns ciphertext || tag.
 */
export function gcmSeal(key: SecureKey, iv: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array, tagBytes = AEAD_DEFAULT_TAG_BYTES): Uint8Array {
  const h = aesKeyHandle('key', key);
  const n = gcmIv('iv', iv);
  const pt = bytes('plaintext', plaintext, 0, MAX_DATA_BYTES);
  const a = optionalBytes('aad', aad, MAX_AAD_BYTES);
  const t = tagLength(tagBytes);
  const out = Buffer.allocUnsafe(pt.length + t);
  check(binding().gcmSeal(h, n, a, pt, out), 'gcmSeal');
  return out;
}

/** AES-GCM decrypt and verify. Throws NativeError AUTHENTICATION_FAILED on any mismatch. */
export function gcmOpen(key: SecureKey, iv: Uint8Array, sealed: Uint8Array, aad?: Uint8Array, tagBytes = AEAD_DEFAULT_TAG_BYTES): Uint8Array {
  const h = aesKeyHandle('key', key);
  const n = gcmIv('iv', iv);
  const t = tagLength(tagBytes);
  const s = bytes('sealed', sealed, t, MAX_DATA_BYTES + t);
  const a = optionalBytes('aad', aad, MAX_AAD_BYTES);
  const out = Buffer.allocUnsafe(s.length - t);
  // The addon needs a distinct out buffer even for an empty plaintext; a 0-length one is fine.
  check(binding().gcmOpen(h, n, a, s, out), 'gcmOpen');
  return out;
}

export function wrapMode(mode: unknown): boolean {
  return oneOf('mode', mode, WRAP_MODES) === 'rfc5649';
}

export function wrapInput(name: string, data: unknown, pad: boolean): Uint8Array {
  const d = bytes(name, data, pad ? 1 : 16, MAX_WRAP_INPUT_BYTES);
  if (!pad && d.length % 8 !== 0) {
    throw new NativeArgumentError(`${name} must be a multiple of 8 bytes for RFC 3394 key wrap (use 'rfc5649' for other lengths), got ${d.length}`);
  }
  return d;
}

export function unwrapInput(name: string, data: unknown, pad: boolean): Uint8Array {
  const d = bytes(name, data, pad ? 16 : 24, MAX_WRAP_INPUT_BYTES + 16);
  if (d.length % 8 !== 0) throw new NativeArgumentError(`${name} must be a multiple of 8 bytes (RFC 3394 §2.2.2 / RFC 5649 §4.2), got ${d.length}`);
  return d;
}

export function wrappedLength(pad: boolean, n: number): number {
  return pad ? Math.ceil(n / 8) * 8 + 8 : n + 8;
}

/** AES key wrap of bytes held in JS (RFC 3394 §2.2.1 / RFC 5649 §4.1). */
export function keyWrap(kek: SecureKey, data: Uint8Array, mode: KeyWrapMode): Uint8Array {
  const h = aesKeyHandle('kek', kek);
  const pad = wrapMode(mode);
  const d = wrapInput('data', data, pad);
  const out = Buffer.allocUnsafe(wrappedLength(pad, d.length));
  check(binding().keyWrap(h, pad, d, out), 'keyWrap');
  return out;
}

/** AES key unwrap (RFC 3394 §2.2.2 / RFC 5649 §4.2). Throws AUTHENTICATION_FAILED when the check fails. */
export function keyUnwrap(kek: SecureKey, wrapped: Uint8Array, mode: KeyWrapMode): Uint8Array {
  const h = aesKeyHandle('kek', kek);
  const pad = wrapMode(mode);
  const w = unwrapInput('wrapped', wrapped, pad);
  const out = Buffer.allocUnsafe(w.length - 8);
  const n = check(binding().keyUnwrap(h, pad, w, out), 'keyUnwrap');
  return out.subarray(0, n);
}

/** Wrap the key in slot `target` under `kek`; the target key never enters JS. */
export function wrapKey(kek: SecureKey, target: SecureKey, mode: KeyWrapMode): Uint8Array {
  const k = aesKeyHandle('kek', kek);
  const t = handleOf(target);
  const pad = wrapMode(mode);
  if (!pad && (target.length % 8 !== 0 || target.length < 16)) {
    throw new NativeArgumentError(`target must be a multiple of 8 bytes and at least 16 for RFC 3394 key wrap, got ${target.length}`);
  }
  if (kek === target) throw new NativeArgumentError('kek and target must be different keys');
  const out = Buffer.allocUnsafe(wrappedLength(pad, target.length));
  check(binding().slotWrap(k, t, pad, out), 'wrapKey');
  return out;
}

/** Unwrap straight into a new slot; the key never enters JS. */
export function unwrapKey(kek: SecureKey, wrapped: Uint8Array, mode: KeyWrapMode): SecureKey {
  const k = aesKeyHandle('kek', kek);
  const pad = wrapMode(mode);
  const w = unwrapInput('wrapped', wrapped, pad);
  if (w.length - 8 > MAX_KEY_BYTES) throw new NativeArgumentError(`wrapped must be at most ${MAX_KEY_BYTES + 8} bytes to unwrap into a slot (MAX_KEY_BYTES + 8), got ${w.length}`);
  return adoptHandle(check(binding().slotUnwrap(k, pad, w), 'unwrapKey'));
}

/** AES-GCM seal of the key in slot `target` under `kek` (the vault envelope form): ciphertext || tag. */
export function sealKey(kek: SecureKey, target: SecureKey, iv: Uint8Array, aad?: Uint8Array, tagBytes = AEAD_DEFAULT_TAG_BYTES): Uint8Array {
  const k = aesKeyHandle('kek', kek);
  const t = handleOf(target);
  if (kek === target) throw new NativeArgumentError('kek and target must be different keys');
  const n = gcmIv('iv', iv);
  const a = optionalBytes('aad', aad, MAX_AAD_BYTES);
  const tl = tagLength(tagBytes);
  const out = Buffer.allocUnsafe(target.length + tl);
  check(binding().slotSeal(k, t, n, a, out, tl), 'sealKey');
  return out;
}

/** AES-GCM open straight into a new slot. Throws AUTHENTICATION_FAILED on any mismatch. */
export function openKey(kek: SecureKey, iv: Uint8Array, sealed: Uint8Array, aad?: Uint8Array, tagBytes = AEAD_DEFAULT_TAG_BYTES): SecureKey {
  const k = aesKeyHandle('kek', kek);
  const n = gcmIv('iv', iv);
  const tl = tagLength(tagBytes);
  const s = bytes('sealed', sealed, tl + 1, MAX_KEY_BYTES + tl);
  const a = optionalBytes('aad', aad, MAX_AAD_BYTES);
  return adoptHandle(check(binding().slotOpen(k, n, a, s, tl), 'openKey'));
}
