/**
 * The versioned envelope every wrapped blob uses (ARCHITECTURE §2 "Envelope").
 *
 * Layout, format version 1 (all integers big-endian):
 *
 *   offset   size  field
 *   0        1     format version = 0x01
 *   1        1     key id length L (1..255)
 *   2        L     wrapping key id, UTF-8 (KekProvider.id)
 *   2+L      4     wrapping key version (uint32, KekProvider version)
 *   6+L      12    nonce (96 bits, random per seal)
 *   18+L     n     AES-256-GCM ciphertext (n = plaintext length)
 *   18+L+n   16    GCM tag
 *
 * The GCM AAD is header ‖ identity, where header = bytes [0, 18+L) and
 *   identity = "openkcm/envelope/v1" 0x00 ‖ u16 len ‖ tenant ‖ u16 len ‖ uid ‖ u32 version.
 * Binding the header stops a key-id/version swap; binding the identity stops a blob copied
 * into another tenant's or object's record (or an older material version) from opening.
 *
 * Random 96-bit nonces are safe for up to 2^32 seals under one key version (NIST SP 800-38D
 * §8.3): every sealing key counts its invocations and refuses past the limit (src/vault/seal-counter.ts).
 *
 * This module is the ONLY writer of the format: the vault's L4 envelopes ({@link seal}), krypton's L3 blobs under
 * L2, the local keystore's L1 key files and the MasterKey's items all come from {@link newHeader}; the slot-to-slot
 * variant ({@link sealKeyEnvelope} / {@link openKeyEnvelope}) wraps one native key slot under another, so the
 * wrapped key never enters JS.
 */
import { randomFillSync } from 'node:crypto';
import { NativeError, openKey, sealKey } from '../native/index.js';
import type { SecureKey } from '../native/index.js';
import { EnvelopeError } from './errors.js';
import { GCM_NONCE_BYTES, GCM_TAG_BYTES, MAX_KEK_ID_BYTES } from './kek.js';
import type { KekProvider } from './kek.js';
import type { SealCounter } from './seal-counter.js';

export const ENVELOPE_FORMAT_V1 = 0x01;

/**
 * Nonces come from a pool of CSPRNG output refilled 4 KiB at a time: one getrandom(2) per seal
 * was the largest single cost of sealing (perf/vault.bench.ts profile). Every pool byte is
 * handed out once, then the pool is refilled.
 */
const NONCE_POOL_BYTES = 4096 - (4096 % GCM_NONCE_BYTES);
const noncePool = Buffer.alloc(NONCE_POOL_BYTES);
let noncePos = NONCE_POOL_BYTES;

function fillNonce(dst: Buffer): void {
  if (noncePos + GCM_NONCE_BYTES > NONCE_POOL_BYTES) {
    randomFillSync(noncePool);
    noncePos = 0;
  }
  noncePool.copy(dst, 0, noncePos, noncePos + GCM_NONCE_BYTES);
  noncePos += GCM_NONCE_BYTES; // never hand the same pool bytes out twice

}

/** Domain-separation label: an AAD built for the envelope can never equal one built elsewhere. */
const AAD_LABEL = Buffer.from('openkcm/envelope/v1\0', 'latin1');
/** u16 length prefixes in the AAD. */
const MAX_AAD_FIELD_BYTES = 0xffff;

/** The identity a blob is bound to. `version` is the record's material version (uint32). */
export interface EnvelopeAad {
  readonly tenant: string;
  readonly uid: string;
  readonly version: number;
}

export interface EnvelopeHeader {
  readonly formatVersion: number;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly nonce: Buffer;
  /** Bytes [0, headerLength) are the header (authenticated as AAD). */
  readonly headerLength: number;
}

/** Envelope overhead for a key id of `keyIdBytes` bytes: header + tag. */
export function envelopeOverhead(keyIdBytes: number): number {
  return 2 + keyIdBytes + 4 + GCM_NONCE_BYTES + GCM_TAG_BYTES;
}

/** Encodes the identity part of the AAD (exported for tests and for a native primitive to reuse). */
export function encodeAadIdentity(aad: EnvelopeAad): Buffer {
  const tenant = Buffer.from(aad.tenant, 'utf8');
  const uid = Buffer.from(aad.uid, 'utf8');
  if (tenant.length > MAX_AAD_FIELD_BYTES || uid.length > MAX_AAD_FIELD_BYTES) {
    throw new RangeError('envelope AAD tenant/uid longer than 65535 bytes');
  }
  if (!Number.isInteger(aad.version) || aad.version < 0 || aad.version > 0xffffffff) {
    throw new RangeError(`envelope AAD version must be a uint32, got ${aad.version}`);
  }
  const out = Buffer.allocUnsafe(AAD_LABEL.length + 2 + tenant.length + 2 + uid.length + 4);
  let o = AAD_LABEL.copy(out, 0);
  o = out.writeUInt16BE(tenant.length, o);
  o += tenant.copy(out, o);
  o = out.writeUInt16BE(uid.length, o);
  o += uid.copy(out, o);
  out.writeUInt32BE(aad.version, o);
  return out;
}

/** Parses the header without opening anything (e.g. to decide whether a blob needs re-wrapping). */
export function parseEnvelope(envelope: Uint8Array): EnvelopeHeader {
  const b = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  if (b.length < 1) throw new EnvelopeError('MALFORMED', 'empty envelope');
  const formatVersion = b[0] ?? 0;
  if (formatVersion !== ENVELOPE_FORMAT_V1) {
    throw new EnvelopeError('UNKNOWN_VERSION', `unknown envelope format version ${formatVersion}`);
  }
  if (b.length < 2) throw new EnvelopeError('MALFORMED', 'envelope truncated in the key id length');
  const idLen = b[1] ?? 0;
  if (idLen === 0) throw new EnvelopeError('MALFORMED', 'envelope key id is empty');
  const headerLength = 2 + idLen + 4 + GCM_NONCE_BYTES;
  if (b.length < headerLength + GCM_TAG_BYTES) {
    throw new EnvelopeError('MALFORMED', `envelope of ${b.length} bytes is shorter than its header and tag (${headerLength + GCM_TAG_BYTES})`);
  }
  return {
    formatVersion,
    keyId: b.toString('utf8', 2, 2 + idLen),
    keyVersion: b.readUInt32BE(2 + idLen),
    nonce: b.subarray(6 + idLen, headerLength),
    headerLength,
  };
}

/** A fresh header for (keyId, keyVersion) with a new random nonce; `nonce` is a view into `header`. */
export function newHeader(keyId: string, keyVersion: number): { header: Buffer; nonce: Buffer } {
  const id = Buffer.from(keyId, 'utf8');
  if (id.length === 0 || id.length > MAX_KEK_ID_BYTES) {
    throw new EnvelopeError('MALFORMED', `KEK id must be 1..${MAX_KEK_ID_BYTES} bytes`);
  }
  const headerLength = 2 + id.length + 4 + GCM_NONCE_BYTES;
  const header = Buffer.allocUnsafe(headerLength);
  header[0] = ENVELOPE_FORMAT_V1;
  header[1] = id.length;
  id.copy(header, 2);
  header.writeUInt32BE(keyVersion, 2 + id.length);
  const nonce = header.subarray(6 + id.length, headerLength);
  fillNonce(nonce);
  return { header, nonce };
}

/**
 * Seals `plaintext` under the provider's current key version, bound to `aad`.
 * Does not copy the plaintext; the caller still owns (and wipes) it.
 */
export async function seal(kek: KekProvider, plaintext: Uint8Array, aad: EnvelopeAad): Promise<Buffer> {
  const { header, nonce } = newHeader(kek.id, kek.currentVersion);
  const sealed = await kek.seal(kek.currentVersion, nonce, plaintext, aadOf(header, header.length, aad));
  return Buffer.concat([header, sealed]);
}

/**
 * The slot-to-slot variant: seals the key in slot `key` under the slot `wrapping` (lineage `keyId`, version
 * `keyVersion`) inside the addon, so the wrapped key never enters JS. `counter` is the wrapping key's seal counter
 * (src/vault/seal-counter.ts), taken before the cipher runs.
 * @throws EnvelopeError KEY_EXHAUSTED | MALFORMED
 */
export function sealKeyEnvelope(wrapping: SecureKey, keyId: string, keyVersion: number, key: SecureKey, aad: EnvelopeAad, counter: SealCounter): Buffer {
  const { header, nonce } = newHeader(keyId, keyVersion);
  const fullAad = aadOf(header, header.length, aad);
  counter.take();
  return Buffer.concat([header, sealKey(wrapping, key, nonce, fullAad, GCM_TAG_BYTES)]);
}

/**
 * Opens a slot-to-slot envelope (already parsed: the caller checked its key id and version) into a new slot.
 * @throws EnvelopeError TAMPERED when it does not authenticate for `aad` under `wrapping`
 */
export function openKeyEnvelope(wrapping: SecureKey, envelope: Uint8Array, h: EnvelopeHeader, aad: EnvelopeAad): SecureKey {
  try {
    return openKey(wrapping, h.nonce, envelope.subarray(h.headerLength), aadOf(envelope, h.headerLength, aad), GCM_TAG_BYTES);
  } catch (cause) {
    if (cause instanceof NativeError && cause.code === 'AUTHENTICATION_FAILED') {
      throw new EnvelopeError('TAMPERED', 'envelope failed authentication (ciphertext, tag, header or AAD changed)', { cause });
    }
    throw cause;
  }
}

/**
 * Opens an envelope sealed for `aad`. Returns a fresh plaintext buffer: the caller owns it and
 * must wipe it (`fill(0)`) when done.
 * @throws EnvelopeError UNKNOWN_VERSION | MALFORMED | WRONG_KEY | TAMPERED
 */
export async function open(kek: KekProvider, envelope: Uint8Array, aad: EnvelopeAad): Promise<Buffer> {
  return openParsed(kek, envelope, parseEnvelope(envelope), aad);
}

/** The GCM AAD of an envelope: its header ‖ the identity (file comment), built in one allocation. */
function aadOf(envelope: Uint8Array, headerLength: number, aad: EnvelopeAad): Buffer {
  const identity = encodeAadIdentity(aad);
  const out = Buffer.allocUnsafe(headerLength + identity.length);
  out.set(envelope.subarray(0, headerLength), 0);
  identity.copy(out, headerLength);
  return out;
}

/**
 * {@link open} of an envelope whose header the caller already parsed (the vault reads the header to pick the KEK:
 * issue 14, the envelope is parsed once per read). Synchronous when the provider has `openSync` (a native slot), a
 * Promise otherwise; errors are thrown or rejected accordingly.
 * @throws EnvelopeError WRONG_KEY | TAMPERED | MALFORMED
 */
export function openParsed(kek: KekProvider, envelope: Uint8Array, h: EnvelopeHeader, aad: EnvelopeAad): Buffer | Promise<Buffer> {
  if (h.keyId !== kek.id) {
    throw new EnvelopeError('WRONG_KEY', `envelope was sealed under KEK '${h.keyId}', this provider holds '${kek.id}'`);
  }
  if (!kek.hasVersion(h.keyVersion)) {
    throw new EnvelopeError('WRONG_KEY', `KEK '${kek.id}' has no version ${h.keyVersion}`);
  }
  const sealed = envelope.subarray(h.headerLength);
  const fullAad = aadOf(envelope, h.headerLength, aad);
  return kek.openSync !== undefined
    ? kek.openSync(h.keyVersion, h.nonce, sealed, fullAad)
    : kek.open(h.keyVersion, h.nonce, sealed, fullAad);
}
