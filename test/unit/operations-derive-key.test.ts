/**
 * Derive Key (src/operations/derive-key.ts, src/operations/model/derivation.ts; KMIP 1.4 §4.6, KMIP 2.1 §6.1.11):
 * one known-answer vector per method from its own standard, computed again here with node:crypto where the standard
 * gives none, then the errors of 1.4 Table 333 / 2.1 §6.1.14.1, the two configurable limits at the limit and one past,
 * the links both ways, the ID Placeholder and inherited protection.
 *
 * Vectors: PBKDF2 RFC 6070 §2 (HMAC-SHA-1); PBKDF2-HMAC-SHA-256 as TC-DERIVEKEY-5 records it; SP 800-108 counter mode
 * from the NIST CAVP KBKDF vectors (KDFCTR_gen.txt, PRF=HMAC_SHA256, CTRLOCATION=BEFORE_FIXED, RLEN=32_BITS, COUNT=0);
 * ENCRYPT with the FIPS 197 Appendix C.1 AES-128 block; HKDF RFC 5869 Appendix A.1.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, test } from 'node:test';
import { makeAttribute } from '../../src/kmip/attributes.js';
import type { KmipAttribute } from '../../src/kmip/attributes.js';
import {
  BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, DerivationMethod, HashingAlgorithm, KeyFormatType, LinkType, ObjectType,
  Operation, QueryFunction, ResultReason, ResultStatus, SecretDataType,
} from '../../src/kmip/registry.js';
import type { KmipVersion } from '../../src/kmip/registry.js';
import type { DerivationParameters, DeriveKeyRequest } from '../../src/kmip/payloads/derive-key.js';
import { symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import type { ManagedObject } from '../../src/kmip/payloads/objects.js';
import { attrsOf, boolAttr } from '../../src/operations/model/record.js';
import { ItemType } from '@openkcm/ttlv';
import { DEFAULT_SERVER_LIMITS, resolveServerLimits } from '../../src/config/index.js';
import { operationsConfig } from '../../src/appliance/operations-config.js';
import { DEFAULT_OPERATIONS_CONFIG } from '../../src/operations/services.js';
import { silentLogger } from '../../src/common/log.js';
import { Fixture, rejectsWith } from './operations-fixture.js';

const U = CryptographicUsageMask;
const M = DerivationMethod;
const A = CryptographicAlgorithm;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const TC_KEY = bytes('00112233445566778899aabbccddeeff');

async function registerKey(f: Fixture, key: Uint8Array, opts: { mask?: number; activate?: boolean; algorithm?: number; extra?: KmipAttribute[]; tenant?: string } = {}): Promise<string> {
  const algorithm = opts.algorithm ?? A.AES;
  const tenant = opts.tenant === undefined ? {} : { tenant: opts.tenant };
  const r = await f.call(Operation.Register, {
    objectType: ObjectType.SymmetricKey,
    attributes: [makeAttribute('Cryptographic Algorithm', algorithm), makeAttribute('Cryptographic Usage Mask', opts.mask ?? U.DeriveKey), ...(opts.extra ?? [])],
    object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(Uint8Array.from(key), { cryptographicAlgorithm: algorithm }) },
  }, tenant);
  if (opts.activate !== false) await f.call(Operation.Activate, { uniqueIdentifier: r.uniqueIdentifier }, tenant);
  return r.uniqueIdentifier;
}

async function registerSecret(f: Fixture, value: Uint8Array, mask: number = U.DeriveKey): Promise<string> {
  const r = await f.call(Operation.Register, {
    objectType: ObjectType.SecretData,
    attributes: [makeAttribute('Cryptographic Usage Mask', mask)],
    object: { objectType: ObjectType.SecretData, secretDataType: SecretDataType.Password, keyBlock: { keyFormatType: KeyFormatType.Opaque, keyValue: { kind: 'plain', keyMaterial: Uint8Array.from(value) } } },
  });
  await f.call(Operation.Activate, { uniqueIdentifier: r.uniqueIdentifier });
  return r.uniqueIdentifier;
}

const aesKey = (bits: number): KmipAttribute[] => [makeAttribute('Cryptographic Algorithm', A.AES), makeAttribute('Cryptographic Length', bits), makeAttribute('Cryptographic Usage Mask', U.Encrypt | U.Decrypt)];
const secret = (bits: number): KmipAttribute[] => [makeAttribute('Cryptographic Length', bits)];

function request(uids: string[], method: number, params: DerivationParameters, attributes: KmipAttribute[], objectType: number = ObjectType.SymmetricKey): DeriveKeyRequest {
  return { objectType, uniqueIdentifiers: uids, derivationMethod: method, derivationParameters: params, attributes };
}

async function derive(f: Fixture, req: DeriveKeyRequest, version?: KmipVersion): Promise<string> {
  return (await f.call(Operation.DeriveKey, req, version === undefined ? {} : { version })).uniqueIdentifier;
}

async function material(f: Fixture, uid: string): Promise<string> {
  const r = await f.store.get('alice', uid, { withObject: true });
  const o: ManagedObject | undefined = r?.object;
  assert.ok(o !== undefined && 'keyBlock' in o);
  const kv = o.keyBlock.keyValue;
  assert.ok(kv?.kind === 'plain' && kv.keyMaterial instanceof Uint8Array);
  return hex(kv.keyMaterial);
}

const sha = (h: number): DerivationParameters => ({ cryptographicParameters: { hashingAlgorithm: h } });

describe('Derive Key: one known answer per method', () => {
  test('HASH: SHA-256 of the base key, truncated (TC-DERIVEKEY-1: a8faed6a...)', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const uid = await derive(f, request([base], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128)), '1.0');
    const expected = createHash('sha256').update(TC_KEY).digest().subarray(0, 16);
    assert.equal(await material(f, uid), hex(expected));
    assert.equal(hex(expected), 'a8faed6abbf35c12a4b26e40f6feb19d');
  });

  test('HASH of Derivation Data given by a second (Secret Data) base object', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const data = await registerSecret(f, ascii('context'));
    const uid = await derive(f, request([base, data], M.HASH, sha(HashingAlgorithm.SHA_512), aesKey(256)));
    assert.equal(await material(f, uid), hex(createHash('sha512').update('context').digest().subarray(0, 32)));
  });

  test('HMAC: HMAC-SHA-256(base key, Derivation Data), truncated (TC-DERIVEKEY-2: 1e15c1f1...)', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const uid = await derive(f, request([base], M.HMAC, { ...sha(HashingAlgorithm.SHA_256), derivationData: [bytes('0102')] }, aesKey(128)), '1.2');
    assert.equal(await material(f, uid), hex(createHmac('sha256', TC_KEY).update(bytes('0102')).digest().subarray(0, 16)));
    assert.equal(await material(f, uid), '1e15c1f1da233629f770fb0a04a5020e');
  });

  test('HMAC without Cryptographic Parameters takes the PRF from an HMAC base key', async () => {
    const f = new Fixture();
    const key = bytes('0b'.repeat(32));
    const base = await registerKey(f, key, { algorithm: A.HMAC_SHA384 });
    const uid = await derive(f, request([base], M.HMAC, { derivationData: [ascii('x')] }, secret(384), ObjectType.SecretData));
    assert.equal(await material(f, uid), hex(createHmac('sha384', key).update('x').digest()));
  });

  for (const [c, dk] of [[1, '0c60c80f961f0e71f3a9b524af6012062fe037a6'], [2, 'ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957'], [4096, '4b007901b765489abead49d926f721d065a429c1']] as const) {
    test(`PBKDF2 RFC 6070: "password" / "salt", c = ${String(c)}, HMAC-SHA-1 by default`, async () => {
      const f = new Fixture();
      const password = await registerSecret(f, ascii('password'));
      const uid = await derive(f, request([password], M.PBKDF2, { salt: ascii('salt'), iterationCount: c }, secret(160), ObjectType.SecretData), '1.1');
      assert.equal(await material(f, uid), dk);
    });
  }

  test('PBKDF2-HMAC-SHA-256, c = 4096, 256 bits (TC-DERIVEKEY-5)', async () => {
    const f = new Fixture();
    const password = await registerSecret(f, ascii('password'));
    const uid = await derive(f, request([password], M.PBKDF2, { ...sha(HashingAlgorithm.SHA_256), salt: ascii('salt'), iterationCount: 4096 }, aesKey(256)));
    assert.equal(await material(f, uid), 'c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a');
  });

  test('NIST800-108-C: CAVP KDFCTR HMAC_SHA256 BEFORE_FIXED RLEN=32 COUNT=0', async () => {
    const f = new Fixture();
    const ki = bytes('dd1d91b7d90b2bd3138533ce92b272fbf8a369316aefe242e659cc0ae238afe0');
    const fixed = bytes('01322b96b30acd197979444e468e1c5c6859bf1b1cf951b7e725303e237e46b864a145fab25e517b08f8683d0315bb2911d80a0e8aba17f3b413faac');
    const base = await registerKey(f, ki);
    const uid = await derive(f, request([base], M.NIST800_108_C, { ...sha(HashingAlgorithm.SHA_256), derivationData: [fixed] }, aesKey(128)));
    assert.equal(await material(f, uid), '10621342bfb0fd40046c0e29f2cfdbf0');
  });

  test('NIST800-108-C over two PRF blocks: K(1) || K(2) with a big-endian 32-bit counter', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const label = ascii('label\u0000context');
    const uid = await derive(f, request([base], M.NIST800_108_C, { ...sha(HashingAlgorithm.SHA_1), derivationData: [label] }, secret(256), ObjectType.SecretData));
    const block = (i: number): Buffer => createHmac('sha1', TC_KEY).update(Buffer.from([0, 0, 0, i])).update(label).digest();
    assert.equal(await material(f, uid), hex(Buffer.concat([block(1), block(2)]).subarray(0, 32)));
  });

  test('ENCRYPT: AES-128-ECB of the Derivation Data (FIPS 197 Appendix C.1)', async () => {
    const f = new Fixture();
    const base = await registerKey(f, bytes('000102030405060708090a0b0c0d0e0f'));
    const uid = await derive(f, request([base], M.ENCRYPT, { derivationData: [bytes('00112233445566778899aabbccddeeff')] }, aesKey(128)));
    assert.equal(await material(f, uid), '69c4e0d86a7b0430d8cdb78070b4c55a');
  });

  test('ENCRYPT: AES-CBC with an IV; without one the IV is all zero ("an empty IV is assumed")', async () => {
    const f = new Fixture();
    const base = await registerKey(f, bytes('000102030405060708090a0b0c0d0e0f'));
    const block = bytes('00112233445566778899aabbccddeeff');
    const cbc = { cryptographicParameters: { blockCipherMode: BlockCipherMode.CBC } };
    const zeroIv = await derive(f, request([base], M.ENCRYPT, { ...cbc, derivationData: [block] }, aesKey(128)));
    // One block under a zero IV is the ECB block.
    assert.equal(await material(f, zeroIv), '69c4e0d86a7b0430d8cdb78070b4c55a');
    const iv = bytes('ff'.repeat(16));
    const withIv = await derive(f, request([base], M.ENCRYPT, { ...cbc, initializationVector: iv, derivationData: [block] }, aesKey(128)));
    assert.notEqual(await material(f, withIv), '69c4e0d86a7b0430d8cdb78070b4c55a');
  });

  test('HKDF (2.1): RFC 5869 Appendix A.1, SHA-256 by default', async () => {
    const f = new Fixture();
    const ikm = await registerSecret(f, bytes('0b'.repeat(22)));
    const uid = await derive(f, request([ikm], M.HKDF, { salt: bytes('000102030405060708090a0b0c'), derivationData: [bytes('f0f1f2f3f4f5f6f7f8f9')] }, secret(42 * 8), ObjectType.SecretData));
    assert.equal(await material(f, uid), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  test('a derived Triple DES key gets odd parity (FIPS 46-3), like Create', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const uid = await derive(f, request([base], M.HMAC, { ...sha(HashingAlgorithm.SHA_256), derivationData: [bytes('01')] }, [makeAttribute('Cryptographic Algorithm', A.DES3), makeAttribute('Cryptographic Length', 168)]));
    for (const b of Buffer.from(await material(f, uid), 'hex')) {
      let ones = 0;
      for (let v = b; v !== 0; v >>= 1) ones += v & 1;
      assert.equal(ones % 2, 1);
    }
  });
});

describe('Derive Key: the new object, links and ID Placeholder', () => {
  test('Derivation Base Object Link on the new object, Derived Key Link on the base, ID Placeholder set', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const uid = await derive(f, request([base], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128)));
    const links = async (u: string): Promise<[number, string][]> => {
      const r = await f.store.get('alice', u, { withObject: false });
      assert.ok(r !== undefined);
      return attrsOf(r, 'Link').map((a) => {
        assert.ok(a.value.type === ItemType.Structure);
        const [t, id] = a.value.value;
        assert.ok(t?.type === ItemType.Enumeration && id?.type === ItemType.TextString);
        return [t.value, id.value];
      });
    };
    assert.deepEqual(await links(uid), [[LinkType.DerivationBaseObjectLink, base]]);
    assert.deepEqual(await links(base), [[LinkType.DerivedKeyLink, uid]]);
    assert.equal(f.session.idPlaceholder, uid);
  });

  test('a derived object is Sensitive / not Extractable when its base is', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY, { extra: [makeAttribute('Sensitive', true), makeAttribute('Extractable', false)] });
    const uid = await derive(f, request([base], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128)));
    const r = await f.store.get('alice', uid, { withObject: false });
    assert.ok(r !== undefined);
    assert.equal(boolAttr(r, 'Sensitive'), true);
    assert.equal(boolAttr(r, 'Extractable'), false);
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: uid }), 'SENSITIVE');
  });

  test('Query Operations lists Derive Key from 1.0 on', async () => {
    const f = new Fixture();
    for (const version of ['1.0', '1.4', '2.1'] as const) {
      const q = await f.call(Operation.Query, { queryFunctions: [QueryFunction.QueryOperations] }, { version });
      assert.ok((q.operations ?? []).includes(Operation.DeriveKey), version);
    }
  });
});

describe('Derive Key: errors (1.4 Table 333, 2.1 §6.1.14.1)', () => {
  test('a base object without the Derive Key bit: Invalid Field at 1.x, Incompatible Cryptographic Usage Mask at 2.x', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY, { mask: U.Encrypt });
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128)), { version: '1.4' }), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128))), 'INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK');
  });

  test('a Pre-Active base is refused (Wrong Key Lifecycle State), an unknown or other tenant\'s one is Item Not Found', async () => {
    const f = new Fixture();
    const pre = await registerKey(f, TC_KEY, { activate: false });
    await rejectsWith(f.call(Operation.DeriveKey, request([pre], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128))), 'WRONG_KEY_LIFECYCLE_STATE');
    await rejectsWith(f.call(Operation.DeriveKey, request(['nope'], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128))), 'ITEM_NOT_FOUND');
    const bobs = await registerKey(f, TC_KEY, { tenant: 'bob' });
    await rejectsWith(f.call(Operation.DeriveKey, request([bobs], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128))), 'ITEM_NOT_FOUND');
  });

  test('Object Type other than Symmetric Key / Secret Data: Invalid Field (1.x), Invalid Object Type (2.x)', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128), ObjectType.PublicKey), { version: '1.0' }), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128), ObjectType.PublicKey)), 'INVALID_OBJECT_TYPE');
  });

  test('methods: not offered is Feature Not Supported, unknown is Invalid Field, HKDF only at 2.x', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const p = { ...sha(HashingAlgorithm.SHA_256), derivationData: [bytes('01')] };
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.NIST800_108_F, p, aesKey(128))), 'FEATURE_NOT_SUPPORTED');
    await rejectsWith(f.call(Operation.DeriveKey, request([base], 0x7f, p, aesKey(128))), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HKDF, p, aesKey(128)), { version: '1.4' }), 'INVALID_FIELD');
  });

  test('a length beyond the method\'s output is Cryptographic Failure (HASH SHA-1 is 160 bits)', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, sha(HashingAlgorithm.SHA_1), aesKey(192))), 'CRYPTOGRAPHIC_FAILURE');
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.ENCRYPT, { derivationData: [bytes('00'.repeat(16))] }, aesKey(256))), 'CRYPTOGRAPHIC_FAILURE');
  });

  test('missing Cryptographic Length / Algorithm, missing parameters', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const pw = await registerSecret(f, ascii('password'));
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, sha(HashingAlgorithm.SHA_256), [makeAttribute('Cryptographic Algorithm', A.AES)])), 'MISSING_DATA');
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, sha(HashingAlgorithm.SHA_256), [makeAttribute('Cryptographic Length', 128)])), 'MISSING_DATA');
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, {}, aesKey(128))), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HMAC, sha(HashingAlgorithm.SHA_256), aesKey(128))), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.DeriveKey, request([pw], M.PBKDF2, { iterationCount: 1 }, aesKey(128))), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.DeriveKey, request([pw], M.PBKDF2, { salt: ascii('salt') }, aesKey(128))), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.DeriveKey, request([pw], M.PBKDF2, { salt: ascii('salt'), iterationCount: 0 }, aesKey(128))), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, sha(HashingAlgorithm.MD5), aesKey(128))), 'INVALID_FIELD');
  });

  test('Derivation Data both explicit and as Secret Data is Invalid Message; HASH of key and data both is Invalid Field', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const data = await registerSecret(f, ascii('data'));
    await rejectsWith(f.call(Operation.DeriveKey, request([base, data], M.HMAC, { ...sha(HashingAlgorithm.SHA_256), derivationData: [bytes('01')] }, aesKey(128))), 'INVALID_MESSAGE');
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, { ...sha(HashingAlgorithm.SHA_256), derivationData: [bytes('01')] }, aesKey(128))), 'INVALID_FIELD');
  });

  test('more than MAX_BASE_OBJECTS (2) base objects, or a second one that is not Secret Data, is Invalid Field', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const data = await registerSecret(f, ascii('data'));
    await rejectsWith(f.call(Operation.DeriveKey, request([base, data, data], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128))), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.DeriveKey, request([base, base], M.HMAC, sha(HashingAlgorithm.SHA_256), aesKey(128))), 'INVALID_FIELD');
  });

  test('no object is created and no link is added when derivation fails', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    await rejectsWith(f.call(Operation.DeriveKey, request([base], M.HASH, sha(HashingAlgorithm.SHA_1), aesKey(256))), 'CRYPTOGRAPHIC_FAILURE');
    const r = await f.store.get('alice', base, { withObject: false });
    assert.ok(r !== undefined);
    assert.deepEqual(attrsOf(r, 'Link'), []);
  });
});

describe('Derive Key: configurable limits, at the limit and one past', () => {
  test('maxDeriveIterationCount', async () => {
    const f = new Fixture({ maxDeriveIterationCount: 4096 });
    const pw = await registerSecret(f, ascii('password'));
    const uid = await derive(f, request([pw], M.PBKDF2, { salt: ascii('salt'), iterationCount: 4096 }, secret(160), ObjectType.SecretData));
    assert.equal(await material(f, uid), '4b007901b765489abead49d926f721d065a429c1');
    const e = await rejectsWith(f.call(Operation.DeriveKey, request([pw], M.PBKDF2, { salt: ascii('salt'), iterationCount: 4097 }, secret(160), ObjectType.SecretData)), 'INVALID_FIELD');
    assert.match(e.message, /maxDeriveIterationCount/);
  });

  test('maxDeriveIterationCount bounds Iteration Count x output blocks (two SHA-1 blocks halve it)', async () => {
    const f = new Fixture({ maxDeriveIterationCount: 4096 });
    const pw = await registerSecret(f, ascii('password'));
    const uid = await derive(f, request([pw], M.PBKDF2, { salt: ascii('salt'), iterationCount: 2048 }, secret(320), ObjectType.SecretData));
    assert.equal(await material(f, uid), pbkdf2Sync('password', 'salt', 2048, 40, 'sha1').toString('hex'));
    await rejectsWith(f.call(Operation.DeriveKey, request([pw], M.PBKDF2, { salt: ascii('salt'), iterationCount: 2049 }, secret(320), ObjectType.SecretData)), 'INVALID_FIELD');
  });

  test('maxDeriveLengthBits', async () => {
    const f = new Fixture({ maxDeriveLengthBits: 512 });
    const pw = await registerSecret(f, ascii('password'));
    const p = { salt: ascii('salt'), iterationCount: 1 };
    const uid = await derive(f, request([pw], M.PBKDF2, p, secret(512), ObjectType.SecretData));
    assert.equal(await material(f, uid).then((h) => h.length), 128);
    const e = await rejectsWith(f.call(Operation.DeriveKey, request([pw], M.PBKDF2, p, secret(520), ObjectType.SecretData)), 'INVALID_FIELD');
    assert.match(e.message, /maxDeriveLengthBits/);
  });

  test('the defaults bound a request that asks for the most a 4-byte Integer allows', async () => {
    const f = new Fixture();
    const pw = await registerSecret(f, ascii('password'));
    await rejectsWith(f.call(Operation.DeriveKey, request([pw], M.PBKDF2, { salt: ascii('salt'), iterationCount: 0x7fffffff }, secret(128), ObjectType.SecretData)), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.DeriveKey, request([pw], M.PBKDF2, { salt: ascii('salt'), iterationCount: 1 }, secret(0x7ffffff8), ObjectType.SecretData)), 'INVALID_FIELD');
  });
});

describe('Derive Key limits in the config file (kmip.limits)', () => {
  test('defaults agree with the operations defaults, reach the handlers, and are bounded by their ceilings', () => {
    assert.equal(DEFAULT_SERVER_LIMITS.maxDeriveIterationCount, DEFAULT_OPERATIONS_CONFIG.maxDeriveIterationCount);
    assert.equal(DEFAULT_SERVER_LIMITS.maxDeriveLengthBits, DEFAULT_OPERATIONS_CONFIG.maxDeriveLengthBits);
    const limits = resolveServerLimits({ maxDeriveIterationCount: 100_000_000, maxDeriveLengthBits: 64 * 1024 * 8 });
    const ops = operationsConfig(limits, silentLogger);
    assert.equal(ops.maxDeriveIterationCount, 100_000_000);
    assert.equal(ops.maxDeriveLengthBits, 64 * 1024 * 8);
    assert.throws(() => resolveServerLimits({ maxDeriveIterationCount: 100_000_001 }));
    assert.throws(() => resolveServerLimits({ maxDeriveLengthBits: 64 * 1024 * 8 + 1 }));
  });
});

describe('Derive Key on the wire', () => {
  test('1.0 request through the processor: Success, then the 1.x Result Reason of a refused one', async () => {
    const f = new Fixture();
    const base = await registerKey(f, TC_KEY);
    const noBit = await registerKey(f, TC_KEY, { mask: U.Encrypt });
    const items = await f.wire([
      { op: Operation.DeriveKey, req: request([base], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128)) },
      { op: Operation.DeriveKey, req: request([noBit], M.HASH, sha(HashingAlgorithm.SHA_256), aesKey(128)) },
    ], { version: '1.0' });
    const [done, refused] = items;
    assert.ok(done !== undefined && refused !== undefined);
    assert.equal(done.resultStatus, ResultStatus.Success);
    assert.equal(refused.resultStatus, ResultStatus.OperationFailed);
    assert.equal(refused.resultReason, ResultReason.InvalidField);
  });
});
