/**
 * Encrypt, Decrypt, MAC and MAC Verify (issue 3 §5) through the real handlers: results checked
 * against node:crypto and RFC 4231, the Cryptographic Parameters rules, the usage mask and state,
 * Usage Limits, streaming, the NativeError → KMIP mapping on the wire, and the DEK cache wiping
 * keys on Revoke and Destroy.
 */
import { createCipheriv, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import {
  BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation, PaddingMethod, ResultReason,
  ResultStatus, RevocationReasonCode, Tag, UsageLimitsUnit, ValidityIndicator,
} from '../../src/kmip/registry.js';
import { enumeration, long } from '@openkcm/ttlv';
import { struct } from '../../src/kmip/payloads/fields.js';
import { Fixture, rejectsWith } from './operations-fixture.js';

const U = CryptographicUsageMask;
const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array(0)).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const AES_KEY = bytes('000102030405060708090a0b0c0d0e0f');

async function registerKey(f: Fixture, key: Uint8Array, opts: { algorithm?: number; mask?: number; activate?: boolean; extra?: ReturnType<typeof makeAttribute>[] } = {}): Promise<string> {
  const algorithm = opts.algorithm ?? CryptographicAlgorithm.AES;
  const r = await f.call(Operation.Register, {
    objectType: ObjectType.SymmetricKey,
    attributes: [
      makeAttribute('Cryptographic Algorithm', algorithm),
      makeAttribute('Cryptographic Usage Mask', opts.mask ?? (U.Encrypt | U.Decrypt)),
      ...(opts.extra ?? []),
    ],
    object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(Uint8Array.from(key), { cryptographicAlgorithm: algorithm }) },
  });
  if (opts.activate !== false) await f.call(Operation.Activate, { uniqueIdentifier: r.uniqueIdentifier });
  return r.uniqueIdentifier;
}

describe('Encrypt / Decrypt', () => {
  test('AES-128-GCM with AAD matches node:crypto and decrypts back', async () => {
    const f = new Fixture();
    const uid = await registerKey(f, AES_KEY);
    const iv = bytes('cafebabefacedbaddecaf888');
    const aad = bytes('feedfacedeadbeef');
    const data = new TextEncoder().encode('sixteen byte msg and a bit more');
    const cp = { blockCipherMode: BlockCipherMode.GCM, tagLength: 16 };
    const enc = await f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data, ivCounterNonce: iv, authenticatedEncryptionAdditionalData: aad });
    const ref = createCipheriv('aes-128-gcm', AES_KEY, iv).setAAD(aad);
    const refData = Buffer.concat([ref.update(data), ref.final()]);
    assert.equal(hex(enc.data), hex(refData));
    assert.equal(hex(enc.authenticatedEncryptionTag), hex(ref.getAuthTag()));
    assert.equal(enc.ivCounterNonce, undefined, 'the client chose the IV');
    const dec = await f.call(Operation.Decrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data: enc.data ?? new Uint8Array(0), ivCounterNonce: iv, authenticatedEncryptionAdditionalData: aad, authenticatedEncryptionTag: enc.authenticatedEncryptionTag ?? new Uint8Array(0) });
    assert.equal(hex(dec.data), hex(data));
  });

  test('the key\'s Cryptographic Parameters apply when the request has none; Random IV comes back', async () => {
    const f = new Fixture();
    const uid = await registerKey(f, AES_KEY, { extra: [makeAttribute('Cryptographic Parameters', [
      enumeration(Tag.BlockCipherMode, BlockCipherMode.CBC), enumeration(Tag.PaddingMethod, PaddingMethod.PKCS5),
    ])] });
    const data = bytes('0102030405060708091011121314151601');
    const enc = await f.call(Operation.Encrypt, { uniqueIdentifier: uid, data, cryptographicParameters: { blockCipherMode: BlockCipherMode.CBC, paddingMethod: PaddingMethod.PKCS5, randomIV: true } });
    assert.equal(enc.ivCounterNonce?.length, 16);
    const ref = createCipheriv('aes-128-cbc', AES_KEY, enc.ivCounterNonce ?? new Uint8Array(16));
    assert.equal(hex(enc.data), hex(Buffer.concat([ref.update(data), ref.final()])));
    // No parameters in the request: the attribute's CBC/PKCS5 apply.
    const dec = await f.call(Operation.Decrypt, { uniqueIdentifier: uid, data: enc.data ?? new Uint8Array(0), ivCounterNonce: enc.ivCounterNonce ?? new Uint8Array(0) });
    assert.equal(hex(dec.data), hex(data));
  });

  test('a missing IV is Invalid Message; an unsupported mode is Unsupported Cryptographic Parameters', async () => {
    const f = new Fixture();
    const uid = await registerKey(f, AES_KEY);
    await rejectsWith(f.call(Operation.Decrypt, { uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.CBC }, data: new Uint8Array(16) }), 'INVALID_MESSAGE');
    await rejectsWith(f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.XTS }, data: new Uint8Array(16) }), 'UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS');
    await rejectsWith(f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.GCM, tagLength: 32 }, data: new Uint8Array(16), ivCounterNonce: new Uint8Array(12) }), 'GENERAL_FAILURE');
  });

  test('usage mask and state are enforced', async () => {
    const f = new Fixture();
    const encOnly = await registerKey(f, AES_KEY, { mask: U.Encrypt });
    await rejectsWith(f.call(Operation.Decrypt, { uniqueIdentifier: encOnly, cryptographicParameters: { blockCipherMode: BlockCipherMode.ECB }, data: new Uint8Array(16) }), 'INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK');
    const preActive = await registerKey(f, AES_KEY, { activate: false });
    await rejectsWith(f.call(Operation.Encrypt, { uniqueIdentifier: preActive, cryptographicParameters: { blockCipherMode: BlockCipherMode.ECB }, data: new Uint8Array(16) }), 'WRONG_KEY_LIFECYCLE_STATE');
  });

  test('a wrong GCM tag reaches the wire as Cryptographic Failure (NativeError mapping), in 1.4 and 2.1', async () => {
    const f = new Fixture();
    const uid = await registerKey(f, AES_KEY);
    for (const version of ['1.4', '2.1'] as const) {
      const [item] = await f.wire([{ op: Operation.Decrypt, req: {
        uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.GCM }, data: new Uint8Array(16),
        ivCounterNonce: new Uint8Array(12), authenticatedEncryptionTag: new Uint8Array(16),
      } }], { version });
      assert.equal(item?.resultStatus, ResultStatus.OperationFailed);
      assert.equal(item.resultReason, ResultReason.CryptographicFailure);
    }
  });

  test('Usage Limits (Byte) are consumed by Encrypt and then refuse with Permission Denied', async () => {
    const f = new Fixture();
    const limits = makeAttribute('Usage Limits', [long(Tag.UsageLimitsTotal, 16n), enumeration(Tag.UsageLimitsUnit, UsageLimitsUnit.Byte)]);
    const uid = await registerKey(f, AES_KEY, { extra: [limits] });
    const cp = { blockCipherMode: BlockCipherMode.ECB };
    await f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data: new Uint8Array(16) });
    await rejectsWith(f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data: new Uint8Array(16) }), 'PERMISSION_DENIED');
    // Decrypt processes protected data: not limited.
    await f.call(Operation.Decrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data: new Uint8Array(16) });
    const attrs = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['Usage Limits'] });
    const ul = attrs.attributes.find((a) => a.name === 'Usage Limits');
    assert.deepEqual(ul?.value, struct(Tag.UsageLimits, [long(Tag.UsageLimitsTotal, 16n), long(Tag.UsageLimitsCount, 0n), enumeration(Tag.UsageLimitsUnit, UsageLimitsUnit.Byte)]));
  });

  test('streaming GCM (Init / Correlation Value / Final) equals the one-shot result', async () => {
    const f = new Fixture();
    const uid = await registerKey(f, AES_KEY);
    const cp = { blockCipherMode: BlockCipherMode.GCM, tagLength: 16 };
    const iv = new Uint8Array(12).fill(7);
    const part1 = bytes('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72');
    const part2 = bytes('1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
    const first = await f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data: part1, ivCounterNonce: iv, initIndicator: true });
    assert.ok(first.correlationValue !== undefined);
    const last = await f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data: part2, correlationValue: first.correlationValue, finalIndicator: true });
    const whole = await f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data: new Uint8Array([...part1, ...part2]), ivCounterNonce: iv });
    assert.equal(hex(first.data) + hex(last.data), hex(whole.data));
    assert.equal(hex(last.authenticatedEncryptionTag), hex(whole.authenticatedEncryptionTag));
    await rejectsWith(f.call(Operation.Encrypt, { uniqueIdentifier: uid, cryptographicParameters: cp, data: part2, correlationValue: first.correlationValue, finalIndicator: true }), 'INVALID_CORRELATION_VALUE');
  });

  test('the DEK cache holds the key after use and wipes it on Revoke and on Destroy', async () => {
    const f = new Fixture();
    const a = await registerKey(f, AES_KEY);
    const b = await registerKey(f, AES_KEY);
    const cp = { blockCipherMode: BlockCipherMode.ECB };
    await f.call(Operation.Encrypt, { uniqueIdentifier: a, cryptographicParameters: cp, data: new Uint8Array(16) });
    await f.call(Operation.Encrypt, { uniqueIdentifier: b, cryptographicParameters: cp, data: new Uint8Array(16) });
    assert.equal(f.services.keyCache.size, 2);
    await f.call(Operation.Revoke, { uniqueIdentifier: a, revocationReason: { code: RevocationReasonCode.Unspecified } });
    assert.equal(f.services.keyCache.size, 1);
    await f.call(Operation.Revoke, { uniqueIdentifier: b, revocationReason: { code: RevocationReasonCode.Unspecified } });
    // Deactivated: Decrypt is still allowed and re-opens the key...
    await f.call(Operation.Decrypt, { uniqueIdentifier: b, cryptographicParameters: cp, data: new Uint8Array(16) });
    assert.equal(f.services.keyCache.size, 1);
    // ...and Destroy wipes it again.
    await f.call(Operation.Destroy, { uniqueIdentifier: b });
    assert.equal(f.services.keyCache.size, 0);
  });
});

describe('MAC / MAC Verify', () => {
  // RFC 4231 §4.3 test case 2.
  const KEY = new TextEncoder().encode('Jefe');
  const DATA = new TextEncoder().encode('what do ya want for nothing?');
  const HMAC_SHA256 = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843';

  test('HMAC-SHA256 matches RFC 4231; MAC Verify answers Valid / Invalid', async () => {
    const f = new Fixture();
    const uid = await registerKey(f, KEY, { algorithm: CryptographicAlgorithm.HMAC_SHA256, mask: U.MACGenerate | U.MACVerify });
    const r = await f.call(Operation.MAC, { uniqueIdentifier: uid, data: DATA });
    assert.equal(hex(r.macData), HMAC_SHA256);
    const ok = await f.call(Operation.MACVerify, { uniqueIdentifier: uid, data: DATA, macData: bytes(HMAC_SHA256) });
    assert.equal(ok.validityIndicator, ValidityIndicator.Valid);
    const truncated = await f.call(Operation.MACVerify, { uniqueIdentifier: uid, data: DATA, macData: bytes(HMAC_SHA256.slice(0, 32)) });
    assert.equal(truncated.validityIndicator, ValidityIndicator.Valid);
    const bad = await f.call(Operation.MACVerify, { uniqueIdentifier: uid, data: DATA, macData: new Uint8Array(32) });
    assert.equal(bad.validityIndicator, ValidityIndicator.Invalid);
  });

  test('streaming MAC equals one-shot, for every profile hash (request parameters override the key)', async () => {
    const f = new Fixture();
    const key = new Uint8Array(32).fill(0x0b);
    const uid = await registerKey(f, key, { algorithm: CryptographicAlgorithm.HMAC_SHA256, mask: U.MACGenerate | U.MACVerify });
    for (const [alg, name] of [[CryptographicAlgorithm.HMAC_SHA1, 'sha1'], [CryptographicAlgorithm.HMAC_SHA384, 'sha384'], [CryptographicAlgorithm.HMAC_SHA512, 'sha512']] as const) {
      const cp = { cryptographicAlgorithm: alg };
      const first = await f.call(Operation.MAC, { uniqueIdentifier: uid, cryptographicParameters: cp, data: DATA.subarray(0, 10), initIndicator: true });
      assert.equal(first.macData, undefined);
      const last = await f.call(Operation.MAC, { uniqueIdentifier: uid, cryptographicParameters: cp, data: DATA.subarray(10), correlationValue: first.correlationValue ?? new Uint8Array(0), finalIndicator: true });
      assert.equal(hex(last.macData), createHmac(name, key).update(DATA).digest('hex'));
    }
  });

  test('a MAC needs the MAC Generate bit, and an AES key is not a MAC key', async () => {
    const f = new Fixture();
    const verifyOnly = await registerKey(f, KEY, { algorithm: CryptographicAlgorithm.HMAC_SHA256, mask: U.MACVerify });
    await rejectsWith(f.call(Operation.MAC, { uniqueIdentifier: verifyOnly, data: DATA }), 'INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK');
    const aes = await registerKey(f, AES_KEY, { mask: U.MACGenerate });
    await rejectsWith(f.call(Operation.MAC, { uniqueIdentifier: aes, data: DATA }), 'UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS');
  });
});
