/**
 * Triple DES (TDEA) in the native crypto core (issue 20): published known answers, each cited, plus
 * OpenSSL-CLI-computed CBC and two-key vectors and a differential check against node:crypto. A broken
 * key expansion (keying option 1 vs 2, K3 = K1), a wrong mode, IV handling or padding fails here.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { CipherStream, decrypt, encrypt, initNative, NativeArgumentError, NativeError, SecureKey } from '../../src/native/index.js';
import type { CipherParams } from '../../src/native/index.js';

initNative({ allowUnlocked: true });

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const out = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Encrypts and decrypts `p` under `k` with `params`, returning the ciphertext; the round trip must hold. */
function roundTrip(k: string, params: CipherParams, p: Uint8Array): string {
  const key = SecureKey.import(hex(k));
  try {
    const c = encrypt(key, params, p).data;
    assert.equal(out(decrypt(key, params, c)), out(p));
    return out(c);
  } finally {
    key.destroy();
  }
}

// NIST SP 800-67 Rev. 1, Appendix B "Sample Known Answer": three distinct keys, ECB, with the
// document's own (misspelt) plaintext "The qufck brown fox jump".
const SP800_67 = {
  k: '0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123',
  p: 'The qufck brown fox jump',
  c: 'A826FD8CE53B855F CCE21C8112256FE6 68D5C05DD9B6B900',
};

// NIST SP 800-20 (TMOVS), Appendix A. With K1 = K2 = K3 TDEA is single DES, which is how SP 800-20
// tests the TDEA implementation's DES core: Table A.1 (variable plaintext), A.2 (variable key; the
// key bytes keep odd parity), A.4 (substitution table).
const SP800_20 = [
  { table: 'A.1 round 1', k: '0101010101010101', p: '8000000000000000', c: '95F8A5E5DD31D900' },
  { table: 'A.1 round 64', k: '0101010101010101', p: '0000000000000001', c: '166B40B44ABA4BD6' },
  { table: 'A.2 round 1', k: '8001010101010101', p: '0000000000000000', c: '95A8D72813DAA94D' },
  { table: 'A.4 round 1', k: '7CA110454A1A6E57', p: '01A1D6D039776742', c: '690F5B0D9A26939B' },
];

// Computed with the OpenSSL 3.0.19 command line (an implementation independent of the addon's call
// path), the SP 800-67 key and IV F69F2445DF4F9B17, for example:
//   printf 'The quick brown fox jump' | openssl enc -des-ede3-cbc -K <key> -iv F69F2445DF4F9B17 -nopad | xxd -p
const K3 = '0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123';
const K2 = '0123456789ABCDEF23456789ABCDEF01';
const IV = 'F69F2445DF4F9B17';
const CLI_CASES: { name: string; k: string; params: CipherParams; p: Buffer; c: string }[] = [
  { name: 'three-key CBC, no padding (-des-ede3-cbc -nopad)', k: K3, params: { algorithm: '3DES-CBC', iv: hex(IV) }, p: ascii('The quick brown fox jump'), c: '63693c3d378a862f8051ae7c2934a296aa6c3102b6e5b79e' },
  { name: 'three-key CBC, PKCS#5, 21 bytes (-des-ede3-cbc)', k: K3, params: { algorithm: '3DES-CBC', iv: hex(IV), padding: 'pkcs5' }, p: ascii('The quick brown fox j'), c: '63693c3d378a862f8051ae7c2934a296e6ae519214102180' },
  { name: 'three-key ECB, PKCS#5 adds a whole block (-des-ede3-ecb)', k: K3, params: { algorithm: '3DES-ECB', padding: 'pkcs5' }, p: ascii('The quick brown fox jump'), c: '1ccf23869d09333ecce21c8112256fe668d5c05dd9b6b900832846b52f9e213d' },
  { name: 'two-key CBC, no padding (-des-ede-cbc -nopad)', k: K2, params: { algorithm: '3DES-CBC', iv: hex(IV) }, p: ascii('The quick brown fox jump'), c: '9aa8a4d461dd682ac944fb2e0e94f278795b15e079941327' },
  { name: 'two-key ECB, no padding (-des-ede-ecb -nopad)', k: K2, params: { algorithm: '3DES-ECB' }, p: ascii('The quick brown fox jump'), c: '04a3aaa7954df2419077d0909fa91b884cabd61fc58e0cbb' },
  { name: 'two-key ECB, PKCS#5, 5 bytes (-des-ede-ecb)', k: K2, params: { algorithm: '3DES-ECB', padding: 'pkcs5' }, p: ascii('Hello'), c: '68872959969a4f42' },
];

describe('Triple DES known answers', () => {
  test('SP 800-67 Rev. 1 Appendix B: three-key ECB', () => {
    assert.equal(roundTrip(SP800_67.k, { algorithm: '3DES-ECB' }, ascii(SP800_67.p)), hex(SP800_67.c).toString('hex'));
  });

  for (const v of SP800_20) {
    test(`SP 800-20 Table ${v.table}: K1 = K2 = K3 is single DES, as a 24- and a 16-byte key`, () => {
      assert.equal(roundTrip(v.k.repeat(3), { algorithm: '3DES-ECB' }, hex(v.p)), v.c.toLowerCase());
      assert.equal(roundTrip(v.k.repeat(2), { algorithm: '3DES-ECB' }, hex(v.p)), v.c.toLowerCase());
    });
  }

  for (const v of CLI_CASES) {
    test(`openssl enc: ${v.name}`, () => {
      assert.equal(roundTrip(v.k, v.params, v.p), v.c);
    });
  }

  test('a 16-byte key is keying option 2: the same as K1 || K2 || K1, not K1 || K2 || K2', () => {
    const p = ascii('The quick brown fox jump');
    const params: CipherParams = { algorithm: '3DES-CBC', iv: hex(IV) };
    const k1 = K2.slice(0, 16);
    const k2 = K2.slice(16);
    assert.equal(roundTrip(K2, params, p), roundTrip(k1 + k2 + k1, params, p));
    assert.notEqual(roundTrip(K2, params, p), roundTrip(k1 + k2 + k2, params, p));
  });

  test('streaming in uneven chunks equals the one-shot result, both directions', () => {
    const key = SecureKey.import(hex(K3));
    const params: CipherParams = { algorithm: '3DES-CBC', iv: hex(IV), padding: 'pkcs5' };
    const p = randomBytes(53);
    const whole = encrypt(key, params, p).data;
    const enc = CipherStream.encrypt(key, params);
    const parts = [enc.update(p.subarray(0, 3)), enc.update(p.subarray(3, 20)), enc.update(p.subarray(20)), enc.final().data];
    assert.equal(Buffer.concat(parts).toString('hex'), out(whole));
    const dec = CipherStream.decrypt(key, params);
    const back = [dec.update(whole.subarray(0, 13)), dec.update(whole.subarray(13)), dec.final().data];
    assert.equal(Buffer.concat(back).toString('hex'), p.toString('hex'));
    key.destroy();
  });
});

describe('Triple DES against node:crypto (same OpenSSL, independent code path)', () => {
  for (const [bytes, name] of [[24, 'des-ede3'], [16, 'des-ede']] as const) {
    for (const mode of ['ecb', 'cbc'] as const) {
      test(`${name}-${mode}, random keys and IVs, lengths 0..40, with and without PKCS#5`, () => {
        for (let n = 0; n <= 40; n++) {
          const k = randomBytes(bytes);
          const iv = mode === 'cbc' ? randomBytes(8) : null;
          const key = SecureKey.import(Uint8Array.from(k));
          for (const padding of ['none', 'pkcs5'] as const) {
            if (padding === 'none' && n % 8 !== 0) continue;
            const params: CipherParams = { algorithm: mode === 'ecb' ? '3DES-ECB' : '3DES-CBC', padding, ...(iv === null ? {} : { iv }) };
            const p = randomBytes(n);
            const ref = createCipheriv(`${name}-${mode}`, k, iv).setAutoPadding(padding === 'pkcs5');
            const c = encrypt(key, params, p).data;
            assert.equal(out(c), Buffer.concat([ref.update(p), ref.final()]).toString('hex'), `n=${n} ${padding}`);
            assert.equal(out(decrypt(key, params, c)), p.toString('hex'));
          }
          key.destroy();
        }
      });
    }
  }
});

describe('Triple DES argument checks', () => {
  test('key sizes other than 16 or 24 bytes, a wrong IV and a partial block are refused', () => {
    for (const n of [8, 32]) {
      const key = SecureKey.import(randomBytes(n));
      assert.throws(() => encrypt(key, { algorithm: '3DES-ECB' }, new Uint8Array(8)), NativeArgumentError);
      key.destroy();
    }
    const key = SecureKey.import(hex(K3));
    assert.throws(() => encrypt(key, { algorithm: '3DES-CBC', iv: new Uint8Array(16) }, new Uint8Array(8)), NativeArgumentError);
    assert.throws(() => encrypt(key, { algorithm: '3DES-CBC' }, new Uint8Array(8)), NativeArgumentError);
    assert.throws(() => encrypt(key, { algorithm: '3DES-ECB', iv: new Uint8Array(8) }, new Uint8Array(8)), NativeArgumentError);
    // 3DES blocks are 8 bytes: 8 passes without padding, 12 does not.
    assert.equal(encrypt(key, { algorithm: '3DES-ECB' }, new Uint8Array(8)).data.length, 8);
    assert.throws(() => encrypt(key, { algorithm: '3DES-ECB' }, new Uint8Array(12)), NativeArgumentError);
    key.destroy();
  });

  test('bad PKCS#5 padding on decrypt is DECRYPT_FAILED', () => {
    const key = SecureKey.import(hex(K3));
    // A block that decrypts to the SP 800-67 plaintext's first 8 bytes: "The qufc" is no valid padding.
    const c = hex(SP800_67.c).subarray(0, 8);
    assert.throws(() => decrypt(key, { algorithm: '3DES-ECB', padding: 'pkcs5' }, c), (e: unknown) => e instanceof NativeError && e.code === 'DECRYPT_FAILED');
    key.destroy();
  });
});
