/**
 * The derivation functions of Derive Key (KMIP 1.4 §4.6, KMIP 2.1 §6.1.11; Derivation Method enumeration 1.4
 * §9.1.3.2.21, 2.1 §11.13), as pure functions of bytes so each has a known-answer test
 * (test/unit/operations-derive-key.test.ts). The handler (src/operations/derive-key.ts) picks the inputs, bounds the
 * lengths and iteration counts, and wipes what these return.
 *
 * What each method computes, and why that reading:
 *  - HASH: H(key) or H(Derivation Data) ("computing a hash over the derivation key or the derivation data"), the
 *    output truncated to the requested length. TC-DERIVEKEY-1-1x records SHA-256(base key)[0..16).
 *  - HMAC: HMAC_H(key, Derivation Data), truncated. TC-DERIVEKEY-2-1x records HMAC-SHA-256(base key, 0102)[0..16).
 *    (PyKMIP's server computes HKDF for this method instead; the OASIS test cases decide.)
 *  - PBKDF2: RFC 8018 §5.2 (PKCS #5 v2.1) with HMAC_H; H defaults to SHA-1, the PRF PKCS #5 names as default — the
 *    TC-DERIVEKEY-3/4 cases send no Cryptographic Parameters and expect the RFC 6070 (HMAC-SHA-1) answers.
 *  - NIST800-108-C: SP 800-108 §5.1 counter mode, HMAC_H PRF, a 32-bit big-endian counter from 1 placed BEFORE the
 *    fixed input, and the fixed input is the Derivation Data as sent. KMIP says the data is Label || 0x00 || Context;
 *    we do not append [L]_2 ourselves, so a client that wants it includes it. This is what PyKMIP's server does
 *    (cryptography KBKDFHMAC, rlen 4, llen None, fixed = Derivation Data), and it makes the NIST CAVP KBKDF vectors
 *    (CTRLOCATION=BEFORE_FIXED, RLEN=32_BITS, the fixed input data given whole) apply as they are.
 *  - ENCRYPT: AES-ECB or AES-CBC (IV from Derivation Parameters, all-zero when absent: "an empty IV is assumed")
 *    of the Derivation Data under the base key, no padding unless PKCS5 is asked for; the ciphertext is the output.
 *  - HKDF (KMIP 2.1 only): RFC 5869, SHA-256 unless a Hashing Algorithm is given (2.1 §7.12).
 */
import { createCipheriv, createHash, createHmac, hkdf, pbkdf2 } from 'node:crypto';
import { KmipError } from '../../kmip/errors.js';
import { HashingAlgorithm } from '../../kmip/registry.js';

/** KMIP Hashing Algorithm → OpenSSL digest name and output bytes; the ones every supported method can use. */
const HASHES: ReadonlyMap<number, { readonly name: string; readonly bytes: number }> = new Map([
  [HashingAlgorithm.SHA_1, { name: 'sha1', bytes: 20 }],
  [HashingAlgorithm.SHA_224, { name: 'sha224', bytes: 28 }],
  [HashingAlgorithm.SHA_256, { name: 'sha256', bytes: 32 }],
  [HashingAlgorithm.SHA_384, { name: 'sha384', bytes: 48 }],
  [HashingAlgorithm.SHA_512, { name: 'sha512', bytes: 64 }],
  [HashingAlgorithm.SHA3_224, { name: 'sha3-224', bytes: 28 }],
  [HashingAlgorithm.SHA3_256, { name: 'sha3-256', bytes: 32 }],
  [HashingAlgorithm.SHA3_384, { name: 'sha3-384', bytes: 48 }],
  [HashingAlgorithm.SHA3_512, { name: 'sha3-512', bytes: 64 }],
]);

export interface Digest { readonly name: string; readonly bytes: number }

/** The digest of a KMIP Hashing Algorithm, or Invalid Field (1.4 Table 333 "Invalid Derivation Parameters"). */
export function digestOf(hashingAlgorithm: number): Digest {
  const d = HASHES.get(hashingAlgorithm);
  if (d === undefined) {
    throw new KmipError('INVALID_FIELD', 'unsupported Hashing Algorithm for key derivation (SHA-1, SHA-2 and SHA-3 are)', { field: 'Hashing Algorithm' });
  }
  return d;
}

/** "If the specified length exceeds the output of the derivation method, then the server SHALL return an error." */
function fits(out: Buffer, bytes: number, method: string): Buffer {
  if (bytes > out.length) {
    out.fill(0);
    throw new KmipError('CRYPTOGRAPHIC_FAILURE', `${method} yields ${String(out.length * 8)} bits; ${String(bytes * 8)} were asked for`, { field: 'Cryptographic Length' });
  }
  if (bytes === out.length) return out;
  const head = Buffer.from(out.subarray(0, bytes));
  out.fill(0);
  return head;
}

export function deriveHash(d: Digest, input: Uint8Array, bytes: number): Buffer {
  return fits(createHash(d.name).update(input).digest(), bytes, 'HASH');
}

export function deriveHmac(d: Digest, key: Uint8Array, data: Uint8Array, bytes: number): Buffer {
  return fits(createHmac(d.name, key).update(data).digest(), bytes, 'HMAC');
}

/** SP 800-108 counter mode (see the module comment for the input layout). */
export function deriveCounterMode(d: Digest, key: Uint8Array, fixed: Uint8Array, bytes: number): Buffer {
  const blocks = Math.ceil(bytes / d.bytes);
  const out = Buffer.alloc(blocks * d.bytes);
  const counter = Buffer.alloc(4);
  for (let i = 1; i <= blocks; i++) {
    counter.writeUInt32BE(i);
    const k = createHmac(d.name, key).update(counter).update(fixed).digest();
    k.copy(out, (i - 1) * d.bytes);
    k.fill(0);
  }
  return fits(out, bytes, 'NIST800-108-C');
}

/** PBKDF2 on libuv's thread pool: thousands of iterations must not stall the KMIP event loop. */
export function derivePbkdf2(d: Digest, password: Uint8Array, salt: Uint8Array, iterations: number, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, bytes, d.name, (err, key) => {
      if (err === null) resolve(key);
      else reject(new KmipError('CRYPTOGRAPHIC_FAILURE', `PBKDF2 failed: ${err.message}`));
    });
  });
}

export function deriveHkdf(d: Digest, key: Uint8Array, salt: Uint8Array, info: Uint8Array, bytes: number): Promise<Buffer> {
  // RFC 5869 §2.3: L <= 255 * HashLen.
  if (bytes > 255 * d.bytes) {
    return Promise.reject(new KmipError('CRYPTOGRAPHIC_FAILURE', `HKDF yields at most ${String(255 * d.bytes * 8)} bits with this hash`, { field: 'Cryptographic Length' }));
  }
  return new Promise((resolve, reject) => {
    hkdf(d.name, key, salt, info, bytes, (err, out) => {
      if (err === null) resolve(Buffer.from(out));
      else reject(new KmipError('CRYPTOGRAPHIC_FAILURE', `HKDF failed: ${err.message}`));
    });
  });
}

const AES_KEY_BYTES = new Set([16, 24, 32]);
const AES_BLOCK = 16;

/** AES-ECB / AES-CBC of the Derivation Data under the base key (1.4 §4.6 "ENCRYPT"). */
export function deriveEncrypt(key: Uint8Array, data: Uint8Array, opts: { cbc: boolean; iv?: Uint8Array; pad: boolean }, bytes: number): Buffer {
  if (!AES_KEY_BYTES.has(key.length)) {
    throw new KmipError('INVALID_FIELD', 'ENCRYPT derivation needs an AES base key of 128, 192 or 256 bits', { field: 'Unique Identifier' });
  }
  if (!opts.pad && data.length % AES_BLOCK !== 0) {
    throw new KmipError('INVALID_FIELD', 'without padding the Derivation Data must be a whole number of 16-byte blocks', { field: 'Derivation Data' });
  }
  const iv = opts.cbc ? (opts.iv ?? Buffer.alloc(AES_BLOCK)) : null;
  if (iv !== null && iv.length !== AES_BLOCK) {
    throw new KmipError('INVALID_FIELD', 'the Initialization Vector of AES-CBC is 16 bytes', { field: 'Initialization Vector' });
  }
  const cipher = createCipheriv(`aes-${String(key.length * 8)}-${opts.cbc ? 'cbc' : 'ecb'}`, key, iv);
  cipher.setAutoPadding(opts.pad);
  const out = Buffer.concat([cipher.update(data), cipher.final()]);
  return fits(out, bytes, 'ENCRYPT');
}
