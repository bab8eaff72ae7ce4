/**
 * The KMIP Basic Cryptographic Server profile's primitives (issue 3 §3; KMIP 2.1 Profiles, CS-BC-M
 * test cases): AES-ECB/CBC/CTR/GCM and Triple DES ECB/CBC with optional PKCS#5 padding, ChaCha20 and
 * ChaCha20-Poly1305, and HMAC-SHA-1/256/384/512 for MAC and MAC Verify, one-shot and streaming (KMIP Init
 * Indicator / Final Indicator). All run on keys in native slots.
 */
import { check, NativeArgumentError, NativeError } from './errors.js';
import { AEAD_DEFAULT_TAG_BYTES, AEAD_TAG_LENGTHS, CHACHA20_POLY1305_NONCE_BYTES, GCM_MAX_IV_BYTES, GCM_MIN_IV_BYTES, MAX_AAD_BYTES, MAX_BATCH_ITEMS, MAX_DATA_BYTES, MIN_MAC_VERIFY_BYTES } from './limits.js';

/** SHA-256 output: the audit chain's link and MAC size. */
const AUDIT_HASH_BYTES = 32;
import { binding, handleOf } from './secure-key.js';
import type { SecureKey } from './secure-key.js';
import { bytes, EMPTY, integer, oneOf, optionalBytes } from './validate.js';
import { loadNative } from './loader.js';

export type CipherAlgorithm = 'AES-ECB' | 'AES-CBC' | 'AES-CTR' | 'AES-GCM' | 'ChaCha20' | 'ChaCha20-Poly1305' | '3DES-ECB' | '3DES-CBC';
export type Padding = 'none' | 'pkcs5';
export type MacAlgorithm = 'HMAC-SHA1' | 'HMAC-SHA256' | 'HMAC-SHA384' | 'HMAC-SHA512';

export interface CipherParams {
  readonly algorithm: CipherAlgorithm;
  /** AES-ECB/CBC and 3DES-ECB/CBC only (KMIP Padding Method PKCS5); default 'none'. */
  readonly padding?: Padding;
  /**
   * AES-CBC/CTR: 16 bytes (CTR: the whole initial counter block). AES-GCM: 1..128 bytes (12 is the
   * SP 800-38D choice). ChaCha20: an 8-byte nonce (original ChaCha, 64-bit counter), a 12-byte nonce
   * (RFC 8439 §2.4, 32-bit counter), or OpenSSL's 16-byte counter || nonce block.
   * ChaCha20-Poly1305: a 12-byte nonce (RFC 8439 §2.8). 3DES-CBC: 8 bytes. AES-ECB, 3DES-ECB: none.
   */
  readonly iv?: Uint8Array;
  /** AEAD additional data (AES-GCM, ChaCha20-Poly1305). */
  readonly aad?: Uint8Array;
  /** AEAD tag length in bytes; default 16. */
  readonly tagLength?: number;
  /** ChaCha20 with an 8- or 12-byte nonce: the first block counter (KMIP Initial Counter Value); default 0. */
  readonly initialCounter?: number;
}

export interface Encrypted {
  readonly data: Uint8Array;
  /** AEAD only. */
  readonly tag?: Uint8Array;
}

// Ids of native/ops.h Alg and Hash.
const ALG_ID: Readonly<Record<CipherAlgorithm, number>> = {
  'AES-ECB': 1, 'AES-CBC': 2, 'AES-CTR': 3, 'AES-GCM': 4, ChaCha20: 5, 'ChaCha20-Poly1305': 6, '3DES-ECB': 7, '3DES-CBC': 8,
};
const ALGORITHMS = Object.keys(ALG_ID) as CipherAlgorithm[];
const HASH_ID: Readonly<Record<MacAlgorithm, number>> = { 'HMAC-SHA1': 1, 'HMAC-SHA256': 2, 'HMAC-SHA384': 3, 'HMAC-SHA512': 4 };
const MAC_SIZE: Readonly<Record<MacAlgorithm, number>> = { 'HMAC-SHA1': 20, 'HMAC-SHA256': 32, 'HMAC-SHA384': 48, 'HMAC-SHA512': 64 };
const MAC_ALGORITHMS = Object.keys(HASH_ID) as MacAlgorithm[];
const MAX_MAC_BYTES = 64;
/** The largest block (AES); output buffers leave this much room for padding. */
const BLOCK = 16;
/** Triple DES works on 64-bit blocks (NIST SP 800-67 Rev. 2 §3). */
const TDES_BLOCK = 8;
/**
 * Triple DES key sizes: 16 bytes is keying option 2 (K1 || K2, K3 = K1: the KMIP Cryptographic Length
 * 112), 24 bytes keying option 1 (K1 || K2 || K3: 168). SP 800-67 Rev. 2 §3.1; parity bits are ignored.
 */
const TDES_KEY_BYTES: readonly number[] = [16, 24];
const FLAG_ENCRYPT = 1;
const FLAG_PAD = 2;

interface Resolved {
  readonly alg: number;
  readonly algorithm: CipherAlgorithm;
  readonly flags: number;
  readonly iv: Uint8Array;
  readonly aad: Uint8Array;
  readonly tagLength: number;
  /** Block size of the block modes (ECB, CBC), else 0. */
  readonly blockSize: number;
  readonly aead: boolean;
}

function chachaIv(iv: Uint8Array, counter: number): Uint8Array {
  if (iv.length === 16) return iv;
  const full = new Uint8Array(16);
  const view = new DataView(full.buffer);
  if (iv.length === 8) {
    // Original ChaCha: words 12-13 are a 64-bit block counter, words 14-15 the nonce.
    view.setBigUint64(0, BigInt(counter), true);
    full.set(iv, 8);
  } else {
    // RFC 8439 §2.3: word 12 is a 32-bit counter, words 13-15 the 96-bit nonce.
    view.setUint32(0, counter, true);
    full.set(iv, 4);
  }
  return full;
}

function resolve(key: SecureKey, params: CipherParams, encrypt: boolean): Resolved {
  if (typeof params !== 'object') throw new NativeArgumentError('params must be an object');
  const algorithm = oneOf('params.algorithm', params.algorithm, ALGORITHMS);
  const alg = ALG_ID[algorithm];
  const chacha = algorithm === 'ChaCha20' || algorithm === 'ChaCha20-Poly1305';
  const tdes = algorithm === '3DES-ECB' || algorithm === '3DES-CBC';
  if (chacha && key.length !== 32) throw new NativeArgumentError(`${algorithm} needs a 32-byte key (RFC 8439 §2.3), got ${key.length} bytes`);
  if (tdes && !TDES_KEY_BYTES.includes(key.length)) throw new NativeArgumentError(`${algorithm} needs a Triple DES key of 16 or 24 bytes (SP 800-67 §3.1), got ${key.length} bytes`);
  if (!chacha && !tdes && ![16, 24, 32].includes(key.length)) throw new NativeArgumentError(`${algorithm} needs an AES key of 16, 24 or 32 bytes, got ${key.length} bytes`);
  const blockSize = tdes ? TDES_BLOCK : algorithm === 'AES-ECB' || algorithm === 'AES-CBC' ? BLOCK : 0;
  const aead = algorithm === 'AES-GCM' || algorithm === 'ChaCha20-Poly1305';
  const padding = params.padding === undefined ? 'none' : oneOf<Padding>('params.padding', params.padding, ['none', 'pkcs5']);
  if (padding === 'pkcs5' && blockSize === 0) throw new NativeArgumentError(`params.padding 'pkcs5' applies to AES-ECB and AES-CBC only (and 3DES-ECB, 3DES-CBC), not ${algorithm}`);
  let iv: Uint8Array;
  switch (algorithm) {
    case 'AES-ECB':
    case '3DES-ECB':
      if (params.iv !== undefined && params.iv.length !== 0) throw new NativeArgumentError(`params.iv must be absent for ${algorithm} (ECB has no IV)`);
      iv = EMPTY;
      break;
    case '3DES-CBC':
      iv = bytes('params.iv', params.iv, TDES_BLOCK, TDES_BLOCK);
      break;
    case 'AES-CBC':
    case 'AES-CTR':
      iv = bytes('params.iv', params.iv, BLOCK, BLOCK);
      break;
    case 'AES-GCM':
      iv = bytes('params.iv', params.iv, GCM_MIN_IV_BYTES, GCM_MAX_IV_BYTES);
      break;
    case 'ChaCha20': {
      const nonce = bytes('params.iv', params.iv, 8, 16);
      if (![8, 12, 16].includes(nonce.length)) throw new NativeArgumentError(`params.iv must be 8, 12 or 16 bytes for ChaCha20, got ${nonce.length}`);
      const max = nonce.length === 8 ? Number.MAX_SAFE_INTEGER : 0xFFFF_FFFF;
      iv = chachaIv(nonce, integer('params.initialCounter', params.initialCounter ?? 0, 0, max));
      break;
    }
    case 'ChaCha20-Poly1305':
      iv = bytes('params.iv', params.iv, CHACHA20_POLY1305_NONCE_BYTES, CHACHA20_POLY1305_NONCE_BYTES);
      break;
  }
  if (!aead && params.aad !== undefined) throw new NativeArgumentError(`params.aad applies to AEAD algorithms only, not ${algorithm}`);
  const aad = optionalBytes('params.aad', params.aad, MAX_AAD_BYTES);
  const tagLength = aead ? oneOf('params.tagLength', params.tagLength ?? AEAD_DEFAULT_TAG_BYTES, AEAD_TAG_LENGTHS, 'SP 800-38D §5.2.1.2') : 0;
  const flags = (encrypt ? FLAG_ENCRYPT : 0) | (padding === 'pkcs5' ? FLAG_PAD : 0);
  return { alg, algorithm, flags, iv, aad, tagLength, blockSize, aead };
}

function blockLength(r: Resolved, encrypt: boolean, n: number, name: string): void {
  if (r.blockSize === 0) return;
  const padded = (r.flags & FLAG_PAD) !== 0;
  if ((!padded || !encrypt) && n % r.blockSize !== 0) {
    throw new NativeArgumentError(`${name} must be a multiple of ${r.blockSize} bytes for ${r.algorithm}${padded ? ' decryption' : " without padding (use padding: 'pkcs5')"}, got ${n}`);
  }
  if (padded && !encrypt && n === 0) throw new NativeArgumentError(`${name} must hold at least one block for ${r.algorithm} with PKCS#5 padding`);
}

/** One-shot encrypt. AEAD algorithms return the tag separately (KMIP Authenticated Encryption Tag). */
export function encrypt(key: SecureKey, params: CipherParams, data: Uint8Array): Encrypted {
  const h = handleOf(key);
  const r = resolve(key, params, true);
  const input = bytes('data', data, 0, MAX_DATA_BYTES);
  blockLength(r, true, input.length, 'data');
  const out = Buffer.allocUnsafe(input.length + (r.blockSize === 0 ? 0 : BLOCK));
  const tag = r.aead ? Buffer.allocUnsafe(r.tagLength) : EMPTY;
  const n = check(binding().cipher(h, r.alg, r.flags, r.iv, r.aad, input, out, tag), `encrypt ${r.algorithm}`);
  return r.aead ? { data: out.subarray(0, n), tag } : { data: out.subarray(0, n) };
}

/** One-shot decrypt. AEAD: `tag` is required; a mismatch throws AUTHENTICATION_FAILED. */
export function decrypt(key: SecureKey, params: CipherParams, data: Uint8Array, tag?: Uint8Array): Uint8Array {
  const h = handleOf(key);
  const r = resolve(key, params, false);
  const input = bytes('data', data, 0, MAX_DATA_BYTES);
  blockLength(r, false, input.length, 'data');
  let t: Uint8Array = EMPTY;
  if (r.aead) t = bytes('tag', tag, r.tagLength, r.tagLength);
  else if (tag !== undefined) throw new NativeArgumentError(`tag applies to AEAD algorithms only, not ${r.algorithm}`);
  const out = Buffer.allocUnsafe(input.length + (r.blockSize === 0 ? 0 : BLOCK));
  const n = check(binding().cipher(h, r.alg, r.flags, r.iv, r.aad, input, out, t), `decrypt ${r.algorithm}`);
  return out.subarray(0, n);
}

// Backstop for streams dropped without final()/abort(): free the native context (and its key schedule).
const streamFinalizer = new FinalizationRegistry<number>((stream) => {
  loadNative().streamFree(stream);
});

/**
 * A streaming encryption or decryption (KMIP Init Indicator … Final Indicator, correlated by a
 * Correlation Value that the server maps to this object). The stream dies with its key: destroying
 * the SecureKey makes the next update() throw STALE_KEY.
 *
 * AEAD decryption releases plaintext from update() before the tag is checked in final(): a caller
 * must not act on it until final() succeeds (inherent to streaming AEAD).
 */
export class CipherStream {
  #stream: number;
  readonly #r: Resolved;
  readonly #encrypt: boolean;

  private constructor(key: SecureKey, params: CipherParams, encrypt: boolean) {
    const h = handleOf(key);
    this.#r = resolve(key, params, encrypt);
    this.#encrypt = encrypt;
    this.#stream = check(binding().streamCipherInit(h, this.#r.alg, this.#r.flags, this.#r.iv, this.#r.aad), `${this.#r.algorithm} stream`);
    streamFinalizer.register(this, this.#stream, this);
  }

  static encrypt(key: SecureKey, params: CipherParams): CipherStream {
    return new CipherStream(key, params, true);
  }

  static decrypt(key: SecureKey, params: CipherParams): CipherStream {
    return new CipherStream(key, params, false);
  }

  #live(): number {
    if (this.#stream === 0) throw new NativeError('STALE_KEY', 'the cipher stream is finished');
    return this.#stream;
  }

  /** Process a chunk; block modes may return fewer bytes than they took (held until the next call). */
  update(data: Uint8Array): Uint8Array {
    const s = this.#live();
    const input = bytes('data', data, 0, MAX_DATA_BYTES);
    const out = Buffer.allocUnsafe(input.length + (this.#r.blockSize === 0 ? 0 : BLOCK));
    const n = binding().streamCipherUpdate(s, input, out);
    if (n < 0) this.#fail(s);
    return out.subarray(0, check(n, `${this.#r.algorithm} stream update`));
  }

  /** Finish. Encrypt: returns the last bytes and the AEAD tag. Decrypt: `tag` is required for AEAD. */
  final(tag?: Uint8Array): Encrypted {
    const s = this.#live();
    let t: Uint8Array = EMPTY;
    if (this.#r.aead) t = this.#encrypt ? Buffer.allocUnsafe(this.#r.tagLength) : bytes('tag', tag, this.#r.tagLength, this.#r.tagLength);
    else if (tag !== undefined) throw new NativeArgumentError(`tag applies to AEAD algorithms only, not ${this.#r.algorithm}`);
    const out = Buffer.allocUnsafe(BLOCK);
    this.#drop(); // the addon releases the stream in final, whatever the outcome
    const n = check(binding().streamCipherFinal(s, out, t), `${this.#r.algorithm} stream final`);
    return this.#r.aead && this.#encrypt ? { data: out.subarray(0, n), tag: t } : { data: out.subarray(0, n) };
  }

  /** Abandon the stream and free its native context. Idempotent. */
  abort(): void {
    if (this.#stream === 0) return;
    this.#fail(this.#stream);
  }

  get finished(): boolean {
    return this.#stream === 0;
  }

  #drop(): void {
    streamFinalizer.unregister(this);
    this.#stream = 0;
  }

  /** Drop and free natively; a stream the addon already released is stale there, which is harmless. */
  #fail(s: number): void {
    this.#drop();
    loadNative().streamFree(s);
  }
}

function macAlgorithm(v: unknown): MacAlgorithm {
  return oneOf('algorithm', v, MAC_ALGORITHMS);
}

/** HMAC (RFC 2104) of data under the slot's key. */
export function mac(key: SecureKey, algorithm: MacAlgorithm, data: Uint8Array): Uint8Array {
  const h = handleOf(key);
  const a = macAlgorithm(algorithm);
  const input = bytes('data', data, 0, MAX_DATA_BYTES);
  const out = Buffer.allocUnsafe(MAX_MAC_BYTES);
  return out.subarray(0, check(binding().hmac(h, HASH_ID[a], input, out), `mac ${a}`));
}

/**
 * The audit chain step for n records in one call (src/cmk/audit/record.ts; issue 14 deliverable 4: one HMAC call
 * and one SHA-256 object per record cost the chain owner ~5 µs a record). Record i is data[offsets[i] ..
 * offsets[i+1]); with hash_{-1} = prev: hash_i = SHA-256(record_i || hash_{i-1}), mac_i = HMAC-SHA-256(key,
 * hash_i). Returns 64 n bytes, hash_i || mac_i for each record in order. Byte for byte what a SHA-256 and a
 * {@link mac} per record give.
 */
export function auditChain(key: SecureKey, data: Uint8Array, offsets: Uint32Array, prev: Uint8Array): Uint8Array {
  const h = handleOf(key);
  const input = bytes('data', data, 0, MAX_DATA_BYTES);
  const link = bytes('prev', prev, AUDIT_HASH_BYTES, AUDIT_HASH_BYTES);
  if (!(offsets instanceof Uint32Array)) throw new NativeArgumentError('offsets must be a Uint32Array');
  const n = offsets.length - 1;
  if (n < 1 || n > MAX_BATCH_ITEMS) throw new NativeArgumentError(`auditChain takes 1..${String(MAX_BATCH_ITEMS)} records, not ${String(Math.max(n, 0))}`);
  let last = 0;
  for (const o of offsets) {
    if (o < last) throw new NativeArgumentError('auditChain offsets must not decrease');
    last = o;
  }
  if (last > input.length) throw new NativeArgumentError('auditChain offsets run past the data');
  const out = Buffer.allocUnsafe(2 * AUDIT_HASH_BYTES * n);
  check(binding().auditChain(h, input, offsets, link, out), 'auditChain');
  return out;
}

/**
 * Constant-time HMAC verification (CRYPTO_memcmp in the addon). `expected` may be truncated to no
 * fewer than MIN_MAC_VERIFY_BYTES (RFC 2104 §5); its leading bytes are compared.
 */
export function macVerify(key: SecureKey, algorithm: MacAlgorithm, data: Uint8Array, expected: Uint8Array): boolean {
  const h = handleOf(key);
  const a = macAlgorithm(algorithm);
  const input = bytes('data', data, 0, MAX_DATA_BYTES);
  const e = bytes('expected', expected, Math.min(MIN_MAC_VERIFY_BYTES, MAC_SIZE[a]), MAC_SIZE[a]);
  return check(binding().hmacVerify(h, HASH_ID[a], input, e), `macVerify ${a}`) === 1;
}

/** Streaming HMAC (KMIP MAC with Init/Final Indicator). */
export class MacStream {
  #stream: number;
  readonly #algorithm: MacAlgorithm;

  private constructor(key: SecureKey, algorithm: MacAlgorithm) {
    const h = handleOf(key);
    this.#algorithm = macAlgorithm(algorithm);
    this.#stream = check(binding().streamMacInit(h, HASH_ID[this.#algorithm]), `${this.#algorithm} stream`);
    streamFinalizer.register(this, this.#stream, this);
  }

  static open(key: SecureKey, algorithm: MacAlgorithm): MacStream {
    return new MacStream(key, algorithm);
  }

  #live(): number {
    if (this.#stream === 0) throw new NativeError('STALE_KEY', 'the MAC stream is finished');
    return this.#stream;
  }

  update(data: Uint8Array): void {
    const s = this.#live();
    const input = bytes('data', data, 0, MAX_DATA_BYTES);
    const r = binding().streamMacUpdate(s, input);
    if (r < 0) {
      this.#drop();
      loadNative().streamFree(s);
    }
    check(r, `${this.#algorithm} stream update`);
  }

  final(): Uint8Array {
    const s = this.#live();
    this.#drop();
    const out = Buffer.allocUnsafe(MAX_MAC_BYTES);
    return out.subarray(0, check(binding().streamMacFinal(s, out), `${this.#algorithm} stream final`));
  }

  abort(): void {
    if (this.#stream === 0) return;
    const s = this.#stream;
    this.#drop();
    loadNative().streamFree(s);
  }

  #drop(): void {
    streamFinalizer.unregister(this);
    this.#stream = 0;
  }
}
