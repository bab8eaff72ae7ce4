/**
 * Known-answer tests of the native crypto core (issue 3 acceptance): published vectors, each cited,
 * run through the addon, plus differential checks against node:crypto for shapes the vectors miss.
 * scripts/valgrind-native.sh runs this file under memcheck.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import {
  auditChain, decrypt, encrypt, gcmOpen, gcmSeal, initNative, keyUnwrap, keyWrap, mac, macVerify, NativeError, SecureKey, unwrapKey, wrapKey,
} from '../../src/native/index.js';
import type { CipherAlgorithm, MacAlgorithm } from '../../src/native/index.js';
import { NativeArgumentError } from '../../src/native/index.js';

initNative({ allowUnlocked: true });

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const key = (s: string): SecureKey => SecureKey.import(hex(s));
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B test cases (the vectors
// NIST's GCM validation suite grew from). P3 is shared by several cases.
const P3 = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255';
const P4 = P3.slice(0, 120);
const A4 = 'feedfacedeadbeeffeedfacedeadbeefabaddad2';
const K3 = 'feffe9928665731c6d6a8f9467308308';
const GCM_CASES = [
  { tc: 1, k: '00000000000000000000000000000000', iv: '000000000000000000000000', p: '', a: '', c: '', t: '58e2fccefa7e3061367f1d57a4e7455a' },
  { tc: 2, k: '00000000000000000000000000000000', iv: '000000000000000000000000', p: '00000000000000000000000000000000', a: '', c: '0388dace60b6a392f328c2b971b2fe78', t: 'ab6e47d42cec13bdf53a67b21257bddf' },
  { tc: 3, k: K3, iv: 'cafebabefacedbaddecaf888', p: P3, a: '', c: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985', t: '4d5c2af327cd64a62cf35abd2ba6fab4' },
  { tc: 4, k: K3, iv: 'cafebabefacedbaddecaf888', p: P4, a: A4, c: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091', t: '5bc94fbc3221a5db94fae95ae7121a47' },
  // 64-bit IV (GHASH-derived J0)
  { tc: 5, k: K3, iv: 'cafebabefacedbad', p: P4, a: A4, c: '61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c742373806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598', t: '3612d2e79e3b0785561be14aaca2fccb' },
  // 480-bit IV
  { tc: 6, k: K3, iv: '9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b', p: P4, a: A4, c: '8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca701e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5', t: '619cc5aefffe0bfa462af43c1699d050' },
  { tc: 13, k: '0'.repeat(64), iv: '000000000000000000000000', p: '', a: '', c: '', t: '530f8afbc74536b9a963b4f1c4cb738b' },
  { tc: 14, k: '0'.repeat(64), iv: '000000000000000000000000', p: '00000000000000000000000000000000', a: '', c: 'cea7403d4d606b6e074ec5d3baf39d18', t: 'd0d1c8a799996bf0265b98b5d48ab919' },
  { tc: 15, k: K3 + K3, iv: 'cafebabefacedbaddecaf888', p: P3, a: '', c: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad', t: 'b094dac5d93471bdec1a502270e3cc6c' },
  { tc: 16, k: K3 + K3, iv: 'cafebabefacedbaddecaf888', p: P4, a: A4, c: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662', t: '76fc6ece0f4e1768cddf8853bb2d551b' },
];

describe('AES-GCM known answers (GCM spec Appendix B)', () => {
  for (const v of GCM_CASES) {
    test(`test case ${v.tc}: seal, open, and the profile encrypt/decrypt agree`, () => {
      const k = key(v.k);
      const sealed = gcmSeal(k, hex(v.iv), hex(v.p), hex(v.a));
      assert.equal(Buffer.from(sealed).toString('hex'), v.c + v.t);
      assert.equal(Buffer.from(gcmOpen(k, hex(v.iv), sealed, hex(v.a))).toString('hex'), v.p);
      // The same vector through the one-shot profile path (a fresh context, separate tag).
      const params = { algorithm: 'AES-GCM' as const, iv: hex(v.iv), ...(v.a === '' ? {} : { aad: hex(v.a) }) };
      const e = encrypt(k, params, hex(v.p));
      assert.equal(Buffer.from(e.data).toString('hex'), v.c);
      assert.equal(Buffer.from(e.tag ?? []).toString('hex'), v.t);
      assert.equal(Buffer.from(decrypt(k, params, hex(v.c), hex(v.t))).toString('hex'), v.p);
      k.destroy();
    });
  }

  test('the cached context switches IV lengths and directions without carrying state', () => {
    // Cases 4, 5 and 6 share a key and differ only in IV length: run them interleaved on one slot.
    const k = key(K3);
    for (let round = 0; round < 3; round++) {
      for (const v of GCM_CASES.filter((c) => c.k === K3)) {
        const sealed = gcmSeal(k, hex(v.iv), hex(v.p), hex(v.a));
        assert.equal(Buffer.from(sealed).toString('hex'), v.c + v.t, `tc ${v.tc} round ${round}`);
        assert.equal(Buffer.from(gcmOpen(k, hex(v.iv), sealed, hex(v.a))).toString('hex'), v.p);
      }
    }
    k.destroy();
  });

  test('truncated tags (SP 800-38D §5.2.1.2) are prefixes of the full tag', () => {
    const v = GCM_CASES[3]!;
    const k = key(v.k);
    for (const t of [4, 8, 12, 13, 14, 15]) {
      const sealed = gcmSeal(k, hex(v.iv), hex(v.p), hex(v.a), t);
      assert.equal(Buffer.from(sealed).toString('hex'), v.c + v.t.slice(0, 2 * t));
      assert.equal(Buffer.from(gcmOpen(k, hex(v.iv), sealed, hex(v.a), t)).toString('hex'), v.p);
    }
    k.destroy();
  });
});

// RFC 3394 §4: key data wrapped with KEKs of 128, 192 and 256 bits.
const KEK128 = '000102030405060708090A0B0C0D0E0F';
const KEK192 = '000102030405060708090A0B0C0D0E0F1011121314151617';
const KEK256 = '000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F';
const KD128 = '00112233445566778899AABBCCDDEEFF';
const KD192 = '00112233445566778899AABBCCDDEEFF0001020304050607';
const KD256 = '00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F';
const RFC3394 = [
  { s: '4.1', kek: KEK128, kd: KD128, w: '1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5' },
  { s: '4.2', kek: KEK192, kd: KD128, w: '96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D' },
  { s: '4.3', kek: KEK256, kd: KD128, w: '64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7' },
  { s: '4.4', kek: KEK192, kd: KD192, w: '031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2' },
  { s: '4.5', kek: KEK256, kd: KD192, w: 'A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1' },
  { s: '4.6', kek: KEK256, kd: KD256, w: '28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21' },
];

describe('AES key wrap known answers (RFC 3394 §4, RFC 5649 §6)', () => {
  for (const v of RFC3394) {
    test(`RFC 3394 §${v.s}: wrap, unwrap, and slot-to-slot`, () => {
      const kek = key(v.kek);
      assert.equal(Buffer.from(keyWrap(kek, hex(v.kd), 'rfc3394')).toString('hex'), v.w.toLowerCase());
      // Twice: the cached wrap context must be reusable.
      assert.equal(Buffer.from(keyWrap(kek, hex(v.kd), 'rfc3394')).toString('hex'), v.w.toLowerCase());
      assert.equal(Buffer.from(keyUnwrap(kek, hex(v.w), 'rfc3394')).toString('hex'), v.kd.toLowerCase());
      const target = key(v.kd);
      assert.equal(Buffer.from(wrapKey(kek, target, 'rfc3394')).toString('hex'), v.w.toLowerCase());
      const back = unwrapKey(kek, hex(v.w), 'rfc3394');
      assert.equal(back.length, v.kd.length / 2);
      assert.equal(Buffer.from(back.export()).toString('hex'), v.kd.toLowerCase());
      for (const k of [kek, target, back]) k.destroy();
    });
  }

  const KEK5649 = '5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8';
  const RFC5649 = [
    { name: '20-octet key', kd: 'c37b7e6492584340bed12207808941155068f738', w: '138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a' },
    { name: '7-octet key', kd: '466f7250617369', w: 'afbeb0f07dfbf5419200f2ccb50bb24f' },
  ];
  for (const v of RFC5649) {
    test(`RFC 5649 §6 (${v.name}): wrap, unwrap, and slot-to-slot`, () => {
      const kek = key(KEK5649);
      assert.equal(Buffer.from(keyWrap(kek, hex(v.kd), 'rfc5649')).toString('hex'), v.w);
      assert.equal(Buffer.from(keyUnwrap(kek, hex(v.w), 'rfc5649')).toString('hex'), v.kd);
      const target = key(v.kd);
      assert.equal(Buffer.from(wrapKey(kek, target, 'rfc5649')).toString('hex'), v.w);
      const back = unwrapKey(kek, hex(v.w), 'rfc5649');
      assert.equal(Buffer.from(back.export()).toString('hex'), v.kd);
      for (const k of [kek, target, back]) k.destroy();
    });
  }

  test('a corrupted wrapped key fails the integrity check (RFC 3394 §2.2.3)', () => {
    const kek = key(KEK128);
    const w = hex(RFC3394[0]!.w);
    w[5] = (w[5] ?? 0) ^ 1;
    assert.throws(() => keyUnwrap(kek, w, 'rfc3394'), (e: unknown) => e instanceof NativeError && e.code === 'AUTHENTICATION_FAILED');
    assert.throws(() => unwrapKey(kek, w, 'rfc3394'), (e: unknown) => e instanceof NativeError && e.code === 'AUTHENTICATION_FAILED');
    kek.destroy();
  });
});

// RFC 4231 §4 (HMAC-SHA-256/384/512) and RFC 2202 §3 (HMAC-SHA-1).
const HMAC_CASES: { name: string; k: string; d: string; mac: Partial<Record<MacAlgorithm, string>> }[] = [
  {
    name: 'RFC 4231 §4.2 / RFC 2202 test 1', k: '0b'.repeat(20), d: ascii('Hi There').toString('hex'),
    mac: {
      'HMAC-SHA1': 'b617318655057264e28bc0b6fb378c8ef146be00',
      'HMAC-SHA256': 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
      'HMAC-SHA384': 'afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6',
      'HMAC-SHA512': '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854',
    },
  },
  {
    name: 'RFC 4231 §4.3 / RFC 2202 test 2 (key shorter than the hash)', k: ascii('Jefe').toString('hex'), d: ascii('what do ya want for nothing?').toString('hex'),
    mac: {
      'HMAC-SHA1': 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79',
      'HMAC-SHA256': '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      'HMAC-SHA384': 'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649',
      'HMAC-SHA512': '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
    },
  },
  {
    name: 'RFC 4231 §4.7 (131-byte key: a large slot, hashed first)', k: 'aa'.repeat(131), d: ascii('Test Using Larger Than Block-Size Key - Hash Key First').toString('hex'),
    mac: {
      'HMAC-SHA256': '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
      'HMAC-SHA512': '80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598',
    },
  },
];

describe('HMAC known answers (RFC 4231, RFC 2202)', () => {
  for (const v of HMAC_CASES) {
    test(v.name, () => {
      const k = key(v.k);
      for (const [alg, expected] of Object.entries(v.mac) as [MacAlgorithm, string][]) {
        assert.equal(Buffer.from(mac(k, alg, hex(v.d))).toString('hex'), expected, alg);
        assert.equal(macVerify(k, alg, hex(v.d), hex(expected)), true, `${alg} verify`);
        const wrong = hex(expected);
        wrong[wrong.length - 1] = (wrong[wrong.length - 1] ?? 0) ^ 0x80;
        assert.equal(macVerify(k, alg, hex(v.d), wrong), false, `${alg} verify of a wrong MAC`);
      }
      k.destroy();
    });
  }

  test('RFC 4231 §4.6: a MAC truncated to 128 bits verifies', () => {
    const k = key('0c'.repeat(20));
    const d = ascii('Test With Truncation');
    assert.equal(macVerify(k, 'HMAC-SHA256', d, hex('a3b6167473100ee06e0c796c2955552b')), true);
    assert.equal(macVerify(k, 'HMAC-SHA512', d, hex('415fad6271580a531d4179bc891d87a6')), true);
    assert.equal(macVerify(k, 'HMAC-SHA512', d, hex('415fad6271580a531d4179bc891d87a7')), false);
    k.destroy();
  });
});

describe('ChaCha20 and ChaCha20-Poly1305 known answers (RFC 8439)', () => {
  const SUNSCREEN = ascii("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");

  test('RFC 8439 §2.8.2: AEAD encryption and decryption', () => {
    const k = key('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const params = { algorithm: 'ChaCha20-Poly1305' as const, iv: hex('070000004041424344454647'), aad: hex('50515253c0c1c2c3c4c5c6c7') };
    const c = 'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116';
    const e = encrypt(k, params, SUNSCREEN);
    assert.equal(Buffer.from(e.data).toString('hex'), c);
    assert.equal(Buffer.from(e.tag ?? []).toString('hex'), '1ae10b594f09e26a7e902ecbd0600691');
    assert.deepEqual(Buffer.from(decrypt(k, params, hex(c), hex('1ae10b594f09e26a7e902ecbd0600691'))), SUNSCREEN);
    assert.throws(() => decrypt(k, params, hex(c), hex('ffe10b594f09e26a7e902ecbd0600691')), (err: unknown) => err instanceof NativeError && err.code === 'AUTHENTICATION_FAILED');
    k.destroy();
  });

  test('RFC 8439 §2.4.2: ChaCha20 with a 96-bit nonce and initial counter 1', () => {
    const k = key('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const e = encrypt(k, { algorithm: 'ChaCha20', iv: hex('000000000000004a00000000'), initialCounter: 1 }, SUNSCREEN);
    assert.equal(
      Buffer.from(e.data).toString('hex'),
      '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d',
    );
    k.destroy();
  });

  test('RFC 8439 §A.1 #1: ChaCha20 keystream of the all-zero key, 64-bit nonce form', () => {
    const k = key('0'.repeat(64));
    const ks = '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586';
    assert.equal(Buffer.from(encrypt(k, { algorithm: 'ChaCha20', iv: hex('0000000000000000') }, new Uint8Array(64)).data).toString('hex'), ks);
    assert.equal(Buffer.from(encrypt(k, { algorithm: 'ChaCha20', iv: hex('000000000000000000000000') }, new Uint8Array(64)).data).toString('hex'), ks);
    k.destroy();
  });
});

describe('AES-ECB/CBC/CTR known answers (SP 800-38A Appendix F)', () => {
  const K = '2b7e151628aed2a6abf7158809cf4f3c';
  const P = '6bc1bee22e409f96e93d7e117393172a';
  const cases: { alg: CipherAlgorithm; iv?: string; c: string; s: string }[] = [
    { alg: 'AES-ECB', c: '3ad77bb40d7a3660a89ecaf32466ef97', s: 'F.1.1' },
    { alg: 'AES-CBC', iv: '000102030405060708090a0b0c0d0e0f', c: '7649abac8119b246cee98e9b12e9197d', s: 'F.2.1' },
    { alg: 'AES-CTR', iv: 'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', c: '874d6191b620e3261bef6864990db6ce', s: 'F.5.1' },
  ];
  for (const v of cases) {
    test(`${v.s} ${v.alg}`, () => {
      const k = key(K);
      const params = { algorithm: v.alg, ...(v.iv === undefined ? {} : { iv: hex(v.iv) }) };
      assert.equal(Buffer.from(encrypt(k, params, hex(P)).data).toString('hex'), v.c);
      assert.equal(Buffer.from(decrypt(k, params, hex(v.c))).toString('hex'), P);
      k.destroy();
    });
  }
});

describe('differential checks against node:crypto (same OpenSSL, independent code path)', () => {
  const nodeName: Record<string, string> = { 'AES-ECB': 'ecb', 'AES-CBC': 'cbc', 'AES-CTR': 'ctr' };
  for (const alg of ['AES-ECB', 'AES-CBC', 'AES-CTR'] as const) {
    for (const bits of [128, 192, 256]) {
      for (const padding of alg === 'AES-CTR' ? (['none'] as const) : (['none', 'pkcs5'] as const)) {
        test(`${alg}-${bits} padding=${padding}, lengths 0..48`, () => {
          const raw = randomBytes(bits / 8);
          const k = SecureKey.import(Buffer.from(raw));
          const iv = alg === 'AES-ECB' ? null : randomBytes(16);
          for (let len = 0; len <= 48; len++) {
            if (padding === 'none' && alg !== 'AES-CTR' && len % 16 !== 0) continue;
            const data = randomBytes(len);
            const c = createCipheriv(`aes-${bits}-${nodeName[alg]!}`, raw, iv);
            c.setAutoPadding(padding === 'pkcs5');
            const expected = Buffer.concat([c.update(data), c.final()]);
            const params = { algorithm: alg, padding, ...(iv === null ? {} : { iv }) };
            assert.deepEqual(Buffer.from(encrypt(k, params, data).data), expected, `len ${len}`);
            assert.deepEqual(Buffer.from(decrypt(k, params, expected)), data, `len ${len}`);
          }
          k.destroy();
        });
      }
    }
  }

  test('AES-GCM with random keys, IVs, AAD and lengths matches node:crypto', () => {
    for (let i = 0; i < 50; i++) {
      const raw = randomBytes([16, 24, 32][i % 3]!);
      const k = SecureKey.import(Buffer.from(raw));
      const iv = randomBytes(i % 5 === 0 ? 16 : 12);
      const aad = randomBytes(i % 7);
      const pt = randomBytes(i * 3);
      const c = createCipheriv(`aes-${raw.length * 8}-gcm`, raw, iv) as import('node:crypto').CipherGCM;
      c.setAAD(aad);
      const expected = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
      assert.deepEqual(Buffer.from(gcmSeal(k, iv, pt, aad)), expected);
      assert.deepEqual(Buffer.from(gcmOpen(k, iv, expected, aad)), pt);
      k.destroy();
    }
  });

  test('AES key wrap (RFC 3394 and 5649) of random keys and lengths matches node:crypto', () => {
    for (const bits of [128, 192, 256]) {
      const raw = randomBytes(bits / 8);
      const kek = SecureKey.import(Buffer.from(raw));
      for (let len = 1; len <= 72; len++) {
        const data = randomBytes(len);
        const p = createCipheriv(`id-aes${bits}-wrap-pad`, raw, Buffer.from('A65959A6', 'hex'));
        const padded = Buffer.concat([p.update(data), p.final()]);
        assert.deepEqual(Buffer.from(keyWrap(kek, data, 'rfc5649')), padded, `rfc5649 ${bits} len ${len}`);
        assert.deepEqual(Buffer.from(keyUnwrap(kek, padded, 'rfc5649')), data);
        if (len >= 16 && len % 8 === 0) {
          const w = createCipheriv(`id-aes${bits}-wrap`, raw, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
          const wrapped = Buffer.concat([w.update(data), w.final()]);
          assert.deepEqual(Buffer.from(keyWrap(kek, data, 'rfc3394')), wrapped, `rfc3394 ${bits} len ${len}`);
          assert.deepEqual(Buffer.from(keyUnwrap(kek, wrapped, 'rfc3394')), data);
        }
      }
      kek.destroy();
    }
  });

  test('RFC 5649 unwrap rejects a wrong length indicator and non-zero padding (RFC 5649 §3)', () => {
    const kek = SecureKey.generate(32);
    // Build wrapped forms whose AIV says 7 bytes but whose padding byte is not zero, and whose MLI is
    // out of range, by wrapping the crafted 8-byte block with RFC 3394's algorithm in node:crypto.
    const raw = Buffer.from(kek.export());
    const forge = (aiv: string, block: string): Buffer => {
      const c = createCipheriv('aes-256-ecb', raw, null);
      c.setAutoPadding(false);
      return Buffer.concat([c.update(hex(aiv + block)), c.final()]);
    };
    assert.deepEqual(Buffer.from(keyUnwrap(kek, forge('a65959a600000007', '01020304050607' + '00'), 'rfc5649')), hex('01020304050607'));
    for (const [what, aiv, block] of [
      ['non-zero padding', 'a65959a600000007', '0102030405060708'],
      ['MLI of 0', 'a65959a600000000', '0000000000000000'],
      ['MLI beyond the data', 'a65959a600000009', '0102030405060708'],
      ['wrong AIV prefix', 'a6a6a6a600000008', '0102030405060708'],
    ] as const) {
      assert.throws(() => keyUnwrap(kek, forge(aiv, block), 'rfc5649'), (e: unknown) => e instanceof NativeError && e.code === 'AUTHENTICATION_FAILED', what);
    }
    kek.destroy();
  });

  test('HMAC of random keys (1..200 bytes) and data matches node:crypto', () => {
    for (let i = 1; i <= 200; i += 7) {
      const raw = randomBytes(i);
      const k = SecureKey.import(Buffer.from(raw));
      const data = randomBytes(i * 2);
      for (const [alg, name] of [['HMAC-SHA1', 'sha1'], ['HMAC-SHA256', 'sha256'], ['HMAC-SHA384', 'sha384'], ['HMAC-SHA512', 'sha512']] as const) {
        assert.deepEqual(Buffer.from(mac(k, alg, data)), createHmac(name, raw).update(data).digest(), `${alg} key ${i}`);
      }
      k.destroy();
    }
  });
});

/** The audit chain by its definition (src/cmk/audit/record.ts): one SHA-256 and one HMAC per record, node:crypto. */
function chainByDefinition(rawKey: Uint8Array, records: readonly Buffer[], prev: Buffer): Buffer {
  const out: Buffer[] = [];
  let link = prev;
  for (const r of records) {
    const hash = createHash('sha256').update(r).update(link).digest();
    out.push(hash, createHmac('sha256', rawKey).update(hash).digest());
    link = hash;
  }
  return Buffer.concat(out);
}

function packed(records: readonly Buffer[]): { data: Buffer; offsets: Uint32Array } {
  const offsets = new Uint32Array(records.length + 1);
  records.forEach((r, i) => { offsets[i + 1] = (offsets[i] ?? 0) + r.length; });
  return { data: Buffer.concat(records), offsets };
}

describe('audit chain step (src/cmk/audit/record.ts: hash = SHA-256(canonical || prev_hash), hmac = HMAC-SHA-256(hash))', () => {
  test('known answer: three records from the genesis link', () => {
    const raw = hex('0b'.repeat(32));
    const k = SecureKey.import(Buffer.from(raw));
    const records = [
      '["openkcm.audit.v1",1,"2026-12-07T14:00:00.000Z","client-a","t1","kmip.Get","uid-1","ok"]',
      '["openkcm.audit.v1",2,"2026-12-07T14:00:00.001Z","client-é","t1","kmip.Get","","ok"]',
      '["openkcm.audit.v1",3,"2026-12-07T14:00:00.002Z","client-a","t1","kmip.Encrypt","uid-3","ITEM_NOT_FOUND"]',
    ].map((r) => Buffer.from(r, 'utf8'));
    const { data, offsets } = packed(records);
    const out = Buffer.from(auditChain(k, data, offsets, new Uint8Array(32)));
    // Pinned from node:crypto (createHash/createHmac, an independent code path over the same definition).
    assert.equal(out.subarray(128, 160).toString('hex'), 'c7c4af542bc4496c46f8176a533b8ce1c9304093f4ee29b25d3b64391695ba97');
    assert.equal(out.subarray(160, 192).toString('hex'), '79ac60aa787d41adbad86e6f56673c8beeda84613e8d7b521799d8879b94fe2f');
    assert.equal(out.subarray(96, 128).toString('hex'), '9d39d129a944854cef32f0cea628112b00bb43740b080d1dc0ed8995d4b0872d');
    assert.deepEqual(out, chainByDefinition(raw, records, Buffer.alloc(32)));
    k.destroy();
  });

  test('random chains (1..300 records, empty and non-ASCII records, any prev) match the definition', () => {
    const raw = randomBytes(32);
    const k = SecureKey.import(Buffer.from(raw));
    for (const n of [1, 2, 17, 128, 300]) {
      const records = Array.from({ length: n }, (_, i) => (i % 11 === 5 ? Buffer.alloc(0) : Buffer.from(`${randomBytes(1 + (i % 90)).toString('base64')}\u00e9€`, 'utf8')));
      const prev = randomBytes(32);
      const { data, offsets } = packed(records);
      assert.deepEqual(Buffer.from(auditChain(k, data, offsets, prev)), chainByDefinition(raw, records, prev), `${String(n)} records`);
    }
    k.destroy();
  });

  test('bad shapes are refused before the addon: offsets decreasing or past the data, 0 or too many records, prev not 32 bytes', () => {
    const k = SecureKey.import(randomBytes(32));
    const data = Buffer.from('abcdef');
    const refused = (f: () => unknown): void => { assert.throws(f, NativeArgumentError); };
    refused(() => auditChain(k, data, new Uint32Array([0, 4, 2]), new Uint8Array(32)));
    refused(() => auditChain(k, data, new Uint32Array([0, 7]), new Uint8Array(32)));
    refused(() => auditChain(k, data, new Uint32Array([0]), new Uint8Array(32)));
    refused(() => auditChain(k, data, new Uint32Array(4098), new Uint8Array(32)));
    refused(() => auditChain(k, data, new Uint32Array([0, 3]), new Uint8Array(31)));
    // 4096 records (MAX_BATCH_ITEMS) are taken.
    assert.equal(auditChain(k, data, new Uint32Array(4097), new Uint8Array(32)).length, 4096 * 64);
    k.destroy();
  });
});
