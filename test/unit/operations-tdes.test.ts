/**
 * Encrypt and Decrypt with Triple DES keys (issue 20) through the real handlers: a published known answer
 * on a registered key, created three-key (168) and two-key (112) keys checked against node:crypto with
 * the key fetched by Get, Random IV (8 bytes) and a client IV, the key's Cryptographic Parameters,
 * streaming, and the errors each wrong choice answers with.
 */
import { createCipheriv } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { enumeration } from '@openkcm/ttlv';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { keyBlockBytes, symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import {
  BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation, PaddingMethod, ResultReason, ResultStatus, Tag,
} from '../../src/kmip/registry.js';
import { encryptPayloads } from '../../src/kmip/payloads/encrypt.js';
import { Fixture, pv, rejectsWith } from './operations-fixture.js';

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array(0)).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const ENCRYPT_DECRYPT = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;
const CBC_PKCS5 = [enumeration(Tag.BlockCipherMode, BlockCipherMode.CBC), enumeration(Tag.PaddingMethod, PaddingMethod.PKCS5)];

// NIST SP 800-67 Rev. 1 Appendix B: three-key TDEA-ECB of "The qufck brown fox jump".
const SP800_67_KEY = bytes('0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123');
const SP800_67_PLAIN = new TextEncoder().encode('The qufck brown fox jump');
const SP800_67_CIPHER = 'a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900';

/** Registers and activates a Triple DES key of the stated Cryptographic Length. */
async function registerDes3(f: Fixture, key: Uint8Array, bits: number): Promise<string> {
  const r = await f.call(Operation.Register, {
    objectType: ObjectType.SymmetricKey,
    attributes: [makeAttribute('Cryptographic Usage Mask', ENCRYPT_DECRYPT)],
    object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(Uint8Array.from(key), { cryptographicAlgorithm: CryptographicAlgorithm.DES3, cryptographicLength: bits }) },
  });
  await f.call(Operation.Activate, { uniqueIdentifier: r.uniqueIdentifier });
  return r.uniqueIdentifier;
}

/** Creates and activates a Triple DES key whose Cryptographic Parameters say CBC with PKCS#5; returns its id and bytes. */
async function createDes3(f: Fixture, bits: 168 | 112): Promise<{ uid: string; key: Uint8Array }> {
  const c = await f.call(Operation.Create, {
    objectType: ObjectType.SymmetricKey,
    attributes: [
      makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.DES3),
      makeAttribute('Cryptographic Length', bits),
      makeAttribute('Cryptographic Usage Mask', ENCRYPT_DECRYPT),
      makeAttribute('Cryptographic Parameters', CBC_PKCS5),
    ],
  });
  await f.call(Operation.Activate, { uniqueIdentifier: c.uniqueIdentifier });
  const got = await f.call(Operation.Get, { uniqueIdentifier: c.uniqueIdentifier });
  const key = 'keyBlock' in got.object ? keyBlockBytes(got.object.keyBlock) : undefined;
  assert.ok(key !== undefined);
  return { uid: c.uniqueIdentifier, key };
}

describe('Encrypt / Decrypt with Triple DES', () => {
  test('SP 800-67 Appendix B known answer through Encrypt and Decrypt (ECB, registered 168-bit key)', async () => {
    const f = new Fixture();
    const uid = await registerDes3(f, SP800_67_KEY, 168);
    const cp = { blockCipherMode: BlockCipherMode.ECB };
    const enc = await f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data: SP800_67_PLAIN });
    assert.equal(hex(enc.data), SP800_67_CIPHER);
    assert.equal(enc.ivCounterNonce, undefined, 'ECB has no IV');
    const dec = await f.call(Operation.Decrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data: bytes(SP800_67_CIPHER) });
    assert.equal(hex(dec.data), hex(SP800_67_PLAIN));
  });

  test('a KMIP 1.3 client encrypts under a registered three-key 3DES key, ECB without padding (the 1.3 CS-BC 3DES case)', async () => {
    // Issue 20: the KMIP 1.3 Basic Cryptographic Server profile has one case that encrypts with a 3DES key (all key
    // bytes 0x01, stated as 168 bits; ECB; three blocks). K1 = K2 = K3, so it is single DES; the expected ciphertext
    // is `openssl enc -des-ede3-ecb -nopad` of the same input. Before issue 20 this answered Feature Not Supported.
    const f = new Fixture();
    const uid = await registerDes3(f, new Uint8Array(24).fill(1), 168);
    const [item] = await f.wire([{ op: Operation.Encrypt, req: {
      uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.ECB }, data: bytes('010203040506070809101112131415161718192021222324'),
    } }], { version: '1.3' });
    assert.equal(item?.resultStatus, ResultStatus.Success);
    assert.ok(item.payload !== undefined);
    const r = encryptPayloads.decodeResponse(item.payload, pv('1.3'));
    assert.equal(hex(r.data), 'cead373db80eabf87477d921e6d5a5d116c10e3814ebe004');
  });

  for (const [bits, cipher] of [[168, 'des-ede3-cbc'], [112, 'des-ede-cbc']] as const) {
    test(`created ${String(bits)}-bit key: CBC/PKCS5 with Random IV matches node:crypto and decrypts by the key's parameters`, async () => {
      const f = new Fixture();
      const { uid, key } = await createDes3(f, bits);
      assert.equal(key.length, bits === 168 ? 24 : 16);
      const data = new TextEncoder().encode('twenty-one bytes here');
      const enc = await f.call(Operation.Encrypt, { uniqueIdentifier: uid, data, cryptographicParameters: { blockCipherMode: BlockCipherMode.CBC, paddingMethod: PaddingMethod.PKCS5, randomIV: true } });
      assert.equal(enc.ivCounterNonce?.length, 8, 'a Triple DES IV is one 8-byte block');
      const ref = createCipheriv(cipher, key, enc.ivCounterNonce ?? null);
      assert.equal(hex(enc.data), hex(Buffer.concat([ref.update(data), ref.final()])));
      assert.equal(enc.data?.length, 24);
      // No parameters in the request: the key's CBC / PKCS5 apply.
      const dec = await f.call(Operation.Decrypt, { uniqueIdentifier: uid, data: enc.data ?? new Uint8Array(0), ivCounterNonce: enc.ivCounterNonce ?? new Uint8Array(0) });
      assert.equal(hex(dec.data), hex(data));
    });
  }

  test('a client IV is used and not echoed; streaming in pieces equals one shot', async () => {
    const f = new Fixture();
    const { uid, key } = await createDes3(f, 168);
    const iv = bytes('f69f2445df4f9b17');
    const data = new TextEncoder().encode('a message of more than one 3DES block');
    const whole = await f.call(Operation.Encrypt, { uniqueIdentifier: uid, data, ivCounterNonce: iv });
    assert.equal(whole.ivCounterNonce, undefined);
    const ref = createCipheriv('des-ede3-cbc', key, iv);
    assert.equal(hex(whole.data), hex(Buffer.concat([ref.update(data), ref.final()])));
    const first = await f.call(Operation.Encrypt, { uniqueIdentifier: uid, data: data.subarray(0, 11), ivCounterNonce: iv, initIndicator: true });
    assert.ok(first.correlationValue !== undefined);
    const last = await f.call(Operation.Encrypt, { uniqueIdentifier: uid, data: data.subarray(11), correlationValue: first.correlationValue, finalIndicator: true });
    assert.equal(hex(first.data) + hex(last.data), hex(whole.data));
  });

  test('wrong choices answer from the one error catalog', async () => {
    const f = new Fixture();
    const uid = await registerDes3(f, SP800_67_KEY, 168);
    const block = new Uint8Array(8);
    // Modes other than ECB and CBC, and no mode at all.
    await rejectsWith(f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.CTR }, data: block, ivCounterNonce: block }), 'UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS');
    await rejectsWith(f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.GCM }, data: block, ivCounterNonce: bytes('000000000000000000000000') }), 'UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS');
    await rejectsWith(f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: {}, data: block }), 'INVALID_FIELD');
    // CBC without an IV, as the OASIS cases record it (CS-BC-M-11..13).
    await rejectsWith(f.call(Operation.Decrypt, { uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.CBC }, data: block }), 'INVALID_MESSAGE');
    // The addon's argument checks (an AES-sized IV, a partial block without padding) reach the wire as Invalid Field.
    for (const req of [
      { uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.CBC }, data: block, ivCounterNonce: new Uint8Array(16) },
      { uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.ECB }, data: new Uint8Array(12) },
    ]) {
      const [item] = await f.wire([{ op: Operation.Encrypt, req }], { version: '1.3' });
      assert.equal(item?.resultReason, ResultReason.InvalidField);
    }
  });

  test('bad PKCS#5 padding reaches the wire as Cryptographic Failure, in 1.2 and 2.1', async () => {
    const f = new Fixture();
    const uid = await registerDes3(f, SP800_67_KEY, 168);
    for (const version of ['1.2', '2.1'] as const) {
      const [item] = await f.wire([{ op: Operation.Decrypt, req: {
        uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.ECB, paddingMethod: PaddingMethod.PKCS5 }, data: bytes(SP800_67_CIPHER),
      } }], { version });
      assert.equal(item?.resultStatus, ResultStatus.OperationFailed);
      assert.equal(item.resultReason, ResultReason.CryptographicFailure);
    }
  });
});
