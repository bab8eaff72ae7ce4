/**
 * Key wrapping on Get (issue 20; KMIP 1.4 §2.1.5-2.1.6 / §11.12, KMIP 2.1 §3.3 / §7.18 / §6.1.19): through the real
 * Get handler over a MemoryObjectStore and the real addon. The wrapped bytes are checked against the RFC 3394 §4 and
 * RFC 5649 §6 vectors (keys registered with those bytes) and unwrapped with node:crypto's id-aes*-wrap(-pad), an
 * implementation independent of ours; every refusal the handler has, and the Result Reasons per protocol version.
 */
import { createDecipheriv } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bytes, decodeTtlv, enumeration, ItemType } from '@openkcm/ttlv';
import { struct } from '../../src/kmip/payloads/fields.js';
import type { StructureItem } from '@openkcm/ttlv';
import { makeAttribute } from '../../src/kmip/attributes.js';
import type { KmipAttribute } from '../../src/kmip/attributes.js';
import { decodeKeyWrappingData, encodeKeyWrappingSpecification } from '../../src/kmip/payloads/key-wrapping.js';
import type { KeyWrappingSpecification } from '../../src/kmip/payloads/key-wrapping.js';
import { keyBlockBytes, symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import type { ManagedObject } from '../../src/kmip/payloads/objects.js';
import {
  BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, EncodingOption, KeyFormatType, ObjectType, Operation,
  ResultReason, ResultStatus, RevocationReasonCode, SecretDataType, Tag, WrappingMethod,
} from '../../src/kmip/registry.js';
import type { KmipVersion } from '../../src/kmip/registry.js';
import { nativeLimits } from '../../src/native/index.js';
import { Fixture, pv, rejectsWith } from './operations-fixture.js';

const U = CryptographicUsageMask;
const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const KW = [enumeration(Tag.BlockCipherMode, BlockCipherMode.NISTKeyWrap)];
const KWP = [enumeration(Tag.BlockCipherMode, BlockCipherMode.AESKeyWrapPadding)];

interface KeyOpts { mask?: number; params?: ReturnType<typeof enumeration>[] | null; activate?: boolean; extra?: KmipAttribute[]; tenant?: string }

async function registerKey(f: Fixture, key: Uint8Array, o: KeyOpts = {}): Promise<string> {
  const r = await f.call(Operation.Register, {
    objectType: ObjectType.SymmetricKey,
    attributes: [
      makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES),
      makeAttribute('Cryptographic Usage Mask', o.mask ?? (U.Encrypt | U.Decrypt | U.WrapKey | U.UnwrapKey)),
      ...(o.params === null ? [] : [makeAttribute('Cryptographic Parameters', o.params ?? KW)]),
      ...(o.extra ?? []),
    ],
    object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(Uint8Array.from(key), { cryptographicAlgorithm: CryptographicAlgorithm.AES }) },
  }, o.tenant === undefined ? {} : { tenant: o.tenant });
  if (o.activate !== false) await f.call(Operation.Activate, { uniqueIdentifier: r.uniqueIdentifier }, o.tenant === undefined ? {} : { tenant: o.tenant });
  return r.uniqueIdentifier;
}

function spec(kek: string, extra: Partial<KeyWrappingSpecification> = {}, v: KmipVersion = '2.1'): StructureItem {
  return encodeKeyWrappingSpecification({
    wrappingMethod: WrappingMethod.Encrypt,
    encryptionKeyInformation: { uniqueIdentifier: kek, cryptographicParameters: { blockCipherMode: BlockCipherMode.NISTKeyWrap } },
    encodingOption: EncodingOption.NoEncoding,
    ...extra,
  }, pv(v));
}

function wrappedBytes(o: ManagedObject): Uint8Array {
  assert.ok('keyBlock' in o);
  const kv = o.keyBlock.keyValue;
  assert.ok(kv?.kind === 'wrapped', 'the Key Value is a wrapped Byte String');
  return kv.bytes;
}

/** node:crypto's RFC 3394 / RFC 5649 unwrap (the default IVs). */
function nodeUnwrap(kek: Uint8Array, wrapped: Uint8Array, pad: boolean): Buffer {
  const iv = pad ? Buffer.from('a65959a6', 'hex') : Buffer.from('a6a6a6a6a6a6a6a6', 'hex');
  const d = createDecipheriv(`id-aes${String(kek.length * 8)}-wrap${pad ? '-pad' : ''}`, kek, iv);
  return Buffer.concat([d.update(wrapped), d.final()]);
}

describe('Get with a Key Wrapping Specification: known answers', () => {
  // RFC 3394 §4.1, §4.2, §4.6 (KEK, key data, wrapped).
  const RFC3394 = [
    { kek: '000102030405060708090A0B0C0D0E0F', kd: '00112233445566778899AABBCCDDEEFF', w: '1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5' },
    { kek: '000102030405060708090A0B0C0D0E0F1011121314151617', kd: '00112233445566778899AABBCCDDEEFF', w: '96778B25AE6CA435 F92B5B97C050AED2 468AB8A17AD84E5D' },
    { kek: '000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F', kd: '00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F', w: '28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21' },
  ];
  for (const v of RFC3394) {
    test(`NIST Key Wrap, No Encoding: RFC 3394 vector KEK ${String(v.kek.length * 4)} / data ${String(v.kd.length * 4)}`, async () => {
      const f = new Fixture();
      const kek = await registerKey(f, hex(v.kek));
      const dek = await registerKey(f, hex(v.kd), { mask: U.Encrypt, params: null, activate: false });
      const r = await f.call(Operation.Get, { uniqueIdentifier: dek, keyWrappingSpecification: spec(kek) });
      assert.equal(hexOf(wrappedBytes(r.object)), v.w.replace(/\s+/g, '').toLowerCase());
    });
  }

  // RFC 5649 §6: the 20-byte key (the KWP path over W) as Secret Data, since an AES key is 16, 24 or 32 bytes.
  test('AES Key Wrap Padding, No Encoding: RFC 5649 §6 vector (20 bytes, Secret Data)', async () => {
    const f = new Fixture();
    const kek = await registerKey(f, hex('5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8'), { params: KWP });
    const sd = await f.call(Operation.Register, {
      objectType: ObjectType.SecretData,
      attributes: [makeAttribute('Cryptographic Usage Mask', U.DeriveKey)],
      object: { objectType: ObjectType.SecretData, secretDataType: SecretDataType.Password, keyBlock: { keyFormatType: KeyFormatType.Opaque, keyValue: { kind: 'plain', keyMaterial: hex('c37b7e6492584340 bed1220780894115 5068f738') } } },
    });
    const r = await f.call(Operation.Get, { uniqueIdentifier: sd.uniqueIdentifier, keyWrappingSpecification: spec(kek, { encryptionKeyInformation: { uniqueIdentifier: kek, cryptographicParameters: { blockCipherMode: BlockCipherMode.AESKeyWrapPadding } } }) });
    assert.equal(hexOf(wrappedBytes(r.object)), '138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a');
    assert.ok('secretDataType' in r.object);
    assert.equal(r.object.secretDataType, SecretDataType.Password);
    // The same Secret Data with NIST Key Wrap: 20 bytes are not a multiple of 8.
    const kw = await registerKey(f, hex('5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8'));
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: sd.uniqueIdentifier, keyWrappingSpecification: spec(kw) }), 'BAD_CRYPTOGRAPHIC_PARAMETERS');
  });
});

describe('Get with a Key Wrapping Specification: the TC-SENSITIVE / TC-EXTRACTABLE flows', () => {
  test('a Sensitive key is refused plain and released wrapped; the answer carries Key Wrapping Data; the KEK unwraps it', async () => {
    const f = new Fixture();
    const kekBytes = hex('101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f');
    const kek = await registerKey(f, kekBytes);
    const dek = await f.createKey({ length: 256, extra: [makeAttribute('Sensitive', true)] });
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: dek }), 'SENSITIVE');
    const r = await f.call(Operation.Get, { uniqueIdentifier: dek, keyWrappingSpecification: spec(kek) });
    assert.ok('keyBlock' in r.object);
    const kb = r.object.keyBlock;
    assert.equal(kb.keyFormatType, KeyFormatType.Raw);
    assert.equal(kb.cryptographicAlgorithm, CryptographicAlgorithm.AES);
    assert.equal(kb.cryptographicLength, 256);
    assert.ok(kb.keyWrappingData !== undefined);
    const kwd = decodeKeyWrappingData(kb.keyWrappingData, pv('2.1'));
    assert.deepEqual(kwd, {
      wrappingMethod: WrappingMethod.Encrypt,
      encryptionKeyInformation: { uniqueIdentifier: kek, cryptographicParameters: { blockCipherMode: BlockCipherMode.NISTKeyWrap } },
      encodingOption: EncodingOption.NoEncoding,
    });
    const unwrapped = nodeUnwrap(kekBytes, wrappedBytes(r.object), false);
    assert.equal(unwrapped.length, 32);
    // The plain key is not readable: compare through Encrypt (ECB) under the DEK with the unwrapped bytes.
    await f.call(Operation.Activate, { uniqueIdentifier: dek });
    const enc = await f.call(Operation.Encrypt, { uniqueIdentifier: dek, cryptographicParameters: { blockCipherMode: BlockCipherMode.ECB }, data: new Uint8Array(16) });
    const { createCipheriv } = await import('node:crypto');
    const ref = createCipheriv('aes-256-ecb', unwrapped, null).setAutoPadding(false).update(new Uint8Array(16));
    assert.equal(hexOf(enc.data ?? new Uint8Array(0)), hexOf(ref));
  });

  test('a key that is not Extractable is refused wrapped or not (KMIP 2.1 §4.23, TC-EXTRACTABLE-1-20)', async () => {
    const f = new Fixture();
    const kek = await registerKey(f, hex('000102030405060708090A0B0C0D0E0F'));
    const dek = await f.createKey({ extra: [makeAttribute('Extractable', false)] });
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: dek }), 'NOT_EXTRACTABLE');
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: dek, keyWrappingSpecification: spec(kek) }), 'NOT_EXTRACTABLE');
  });

  test('no Encoding Option: the TTLV of the Key Value is wrapped (KMIP 2.1 Table 370); KWP; Transparent format', async () => {
    const f = new Fixture();
    const kekBytes = hex('000102030405060708090A0B0C0D0E0F');
    const kek = await registerKey(f, kekBytes, { params: KWP });
    const key = hex('00112233445566778899AABBCCDDEEFF');
    const dek = await registerKey(f, key, { mask: U.Encrypt, params: null, activate: false });
    const noEncoding = { encryptionKeyInformation: { uniqueIdentifier: kek } };
    const r = await f.call(Operation.Get, { uniqueIdentifier: dek, keyFormatType: KeyFormatType.TransparentSymmetricKey, keyWrappingSpecification: encodeKeyWrappingSpecification({ wrappingMethod: WrappingMethod.Encrypt, ...noEncoding }, pv('2.1')) });
    assert.ok('keyBlock' in r.object);
    assert.equal(r.object.keyBlock.keyFormatType, KeyFormatType.TransparentSymmetricKey);
    const kwd = decodeKeyWrappingData(r.object.keyBlock.keyWrappingData ?? { tag: 0, type: ItemType.Structure, value: [] }, pv('2.1'));
    // Without request parameters the key's attribute is named; no Encoding Option was asked for, none is answered.
    assert.deepEqual(kwd.encryptionKeyInformation, { uniqueIdentifier: kek, cryptographicParameters: { blockCipherMode: BlockCipherMode.AESKeyWrapPadding } });
    assert.equal(kwd.encodingOption, undefined);
    const ttlv = decodeTtlv(nodeUnwrap(kekBytes, wrappedBytes(r.object), true));
    assert.equal(ttlv.tag, Tag.KeyValue);
    assert.ok(ttlv.type === ItemType.Structure);
    const material = ttlv.value.find((c) => c.tag === Tag.KeyMaterial);
    assert.ok(material?.type === ItemType.Structure, 'Transparent Symmetric Key: Key Material is a structure');
    assert.equal(hexOf(keyBlockBytes({ keyFormatType: KeyFormatType.TransparentSymmetricKey, keyValue: { kind: 'plain', keyMaterial: material } }) ?? new Uint8Array(0)), hexOf(key));
    // No Encoding of a Transparent key: its Key Material is a structure (KMIP 1.4 §11.12 Encoding Option Error).
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: dek, keyFormatType: KeyFormatType.TransparentSymmetricKey, keyWrappingSpecification: spec(kek, { ...noEncoding, encodingOption: EncodingOption.NoEncoding }) }), 'ENCODING_OPTION_ERROR');
  });

  test('a wrapped Get clears Fresh; a refused one leaves it', async () => {
    const f = new Fixture();
    const kek = await registerKey(f, hex('000102030405060708090A0B0C0D0E0F'));
    const dek = await f.createKey();
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: dek, keyWrappingSpecification: spec('no-such-key') }), 'WRAPPING_OBJECT_NOT_FOUND');
    const fresh = async (): Promise<unknown> => (await f.call(Operation.GetAttributes, { uniqueIdentifier: dek, attributeNames: ['Fresh'] })).attributes[0]?.value;
    assert.deepEqual(await fresh(), { tag: Tag.Fresh, type: ItemType.Boolean, value: true });
    await f.call(Operation.Get, { uniqueIdentifier: dek, keyWrappingSpecification: spec(kek) });
    assert.deepEqual(await fresh(), { tag: Tag.Fresh, type: ItemType.Boolean, value: false });
  });
});

describe('Get with a Key Wrapping Specification: refusals', () => {
  const KEK = hex('000102030405060708090A0B0C0D0E0F');

  test('the wrapping key: not found, other tenant, archived, destroyed, not a key, asymmetric, no Wrap Key, not Active', async () => {
    const f = new Fixture();
    const dek = await f.createKey();
    const get = (s: StructureItem): Promise<unknown> => f.call(Operation.Get, { uniqueIdentifier: dek, keyWrappingSpecification: s });
    await rejectsWith(get(spec('missing')), 'WRAPPING_OBJECT_NOT_FOUND');
    const bobs = await registerKey(f, KEK, { tenant: 'bob' });
    await rejectsWith(get(spec(bobs)), 'WRAPPING_OBJECT_NOT_FOUND');
    const archived = await registerKey(f, KEK);
    await f.call(Operation.Archive, { uniqueIdentifier: archived });
    await rejectsWith(get(spec(archived)), 'WRAPPING_OBJECT_ARCHIVED');
    const destroyed = await registerKey(f, KEK, { activate: false });
    await f.call(Operation.Destroy, { uniqueIdentifier: destroyed });
    await rejectsWith(get(spec(destroyed)), 'WRAPPING_OBJECT_DESTROYED');
    const sd = await f.call(Operation.Register, {
      objectType: ObjectType.SecretData, attributes: [makeAttribute('Cryptographic Usage Mask', U.WrapKey)],
      object: { objectType: ObjectType.SecretData, secretDataType: SecretDataType.Seed, keyBlock: { keyFormatType: KeyFormatType.Opaque, keyValue: { kind: 'plain', keyMaterial: KEK } } },
    });
    await rejectsWith(get(spec(sd.uniqueIdentifier)), 'INVALID_OBJECT_TYPE');
    const pub = await f.call(Operation.Register, {
      objectType: ObjectType.PublicKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.RSA), makeAttribute('Cryptographic Usage Mask', U.WrapKey)],
      object: { objectType: ObjectType.PublicKey, raw: struct(Tag.PublicKey, [struct(Tag.KeyBlock, [enumeration(Tag.KeyFormatType, KeyFormatType.PKCS_1), struct(Tag.KeyValue, [bytes(Tag.KeyMaterial, KEK)])])]) },
    });
    await rejectsWith(get(spec(pub.uniqueIdentifier)), 'FEATURE_NOT_SUPPORTED');
    const noWrap = await registerKey(f, KEK, { mask: U.Encrypt | U.Decrypt });
    await rejectsWith(get(spec(noWrap)), 'INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK');
    const preActive = await registerKey(f, KEK, { activate: false });
    await rejectsWith(get(spec(preActive)), 'WRONG_KEY_LIFECYCLE_STATE');
    const revoked = await registerKey(f, KEK);
    await f.call(Operation.Revoke, { uniqueIdentifier: revoked, revocationReason: { code: RevocationReasonCode.Unspecified } });
    await rejectsWith(get(spec(revoked)), 'WRONG_KEY_LIFECYCLE_STATE');
  });

  test('Cryptographic Parameters: must match one of the key\'s (KMIP 1.4 §2.1.6); only KW / KWP with AES', async () => {
    const f = new Fixture();
    const dek = await f.createKey();
    const get = (s: StructureItem): Promise<unknown> => f.call(Operation.Get, { uniqueIdentifier: dek, keyWrappingSpecification: s });
    const kek = await registerKey(f, KEK);
    await rejectsWith(get(spec(kek, { encryptionKeyInformation: { uniqueIdentifier: kek, cryptographicParameters: { blockCipherMode: BlockCipherMode.AESKeyWrapPadding } } })), 'WRAPPING_PARAMETERS_MISMATCH');
    const bare = await registerKey(f, KEK, { params: null });
    await rejectsWith(get(spec(bare)), 'WRAPPING_PARAMETERS_MISMATCH');
    await rejectsWith(get(spec(bare, { encryptionKeyInformation: { uniqueIdentifier: bare } })), 'WRAPPING_PARAMETERS_MISMATCH');
    const cbc = await registerKey(f, KEK, { params: [enumeration(Tag.BlockCipherMode, BlockCipherMode.CBC)] });
    await rejectsWith(get(spec(cbc, { encryptionKeyInformation: { uniqueIdentifier: cbc } })), 'UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS');
    // A request naming a subset of the key's parameters matches.
    const full = await registerKey(f, KEK, { params: [...KW, enumeration(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES)] });
    await f.call(Operation.Get, { uniqueIdentifier: dek, keyWrappingSpecification: spec(full) });
    await rejectsWith(get(spec(full, { encryptionKeyInformation: { uniqueIdentifier: full, cryptographicParameters: { blockCipherMode: BlockCipherMode.NISTKeyWrap, cryptographicAlgorithm: CryptographicAlgorithm.DES3 } } })), 'WRAPPING_PARAMETERS_MISMATCH');
  });

  test('the specification: MAC/sign methods, MAC/Signature Key Information, no key, Attribute Names, Encoding Option', async () => {
    const f = new Fixture();
    const dek = await f.createKey();
    const kek = await registerKey(f, KEK);
    const get = (s: StructureItem): Promise<unknown> => f.call(Operation.Get, { uniqueIdentifier: dek, keyWrappingSpecification: s });
    for (const m of [WrappingMethod.MACSign, WrappingMethod.EncryptThenMACSign, WrappingMethod.MACSignThenEncrypt, WrappingMethod.TR_31]) {
      await rejectsWith(get(spec(kek, { wrappingMethod: m })), 'FEATURE_NOT_SUPPORTED');
    }
    await rejectsWith(get(spec(kek, { macSignatureKeyInformation: { uniqueIdentifier: kek } })), 'FEATURE_NOT_SUPPORTED');
    await rejectsWith(get(encodeKeyWrappingSpecification({ wrappingMethod: WrappingMethod.Encrypt }, pv('2.1'))), 'MISSING_DATA');
    await rejectsWith(get(spec(kek, { attributeNames: ['Name'] })), 'ENCODING_OPTION_ERROR');
    await rejectsWith(get(spec(kek, { attributeNames: ['Name'], encodingOption: EncodingOption.TTLVEncoding })), 'FEATURE_NOT_SUPPORTED');
    await rejectsWith(get(spec(kek, { encodingOption: 7 })), 'ENCODING_OPTION_ERROR');
  });

  test('the object: Opaque Object is not wrapped; the native wrap limit at MAX_WRAP_INPUT_BYTES and one past', async () => {
    const f = new Fixture();
    const kek = await registerKey(f, KEK, { params: KWP });
    const kwp = spec(kek, { encryptionKeyInformation: { uniqueIdentifier: kek } });
    const opaque = await f.call(Operation.Register, {
      objectType: ObjectType.OpaqueObject, attributes: [], object: { objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000001, opaqueDataValue: KEK },
    });
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: opaque.uniqueIdentifier, keyWrappingSpecification: kwp }), 'FEATURE_NOT_SUPPORTED');
    const secret = async (n: number): Promise<string> => (await f.call(Operation.Register, {
      objectType: ObjectType.SecretData, attributes: [makeAttribute('Cryptographic Usage Mask', U.DeriveKey)],
      object: { objectType: ObjectType.SecretData, secretDataType: SecretDataType.Seed, keyBlock: { keyFormatType: KeyFormatType.Opaque, keyValue: { kind: 'plain', keyMaterial: new Uint8Array(n).fill(7) } } },
    })).uniqueIdentifier;
    const atLimit = await f.call(Operation.Get, { uniqueIdentifier: await secret(nativeLimits.MAX_WRAP_INPUT_BYTES), keyWrappingSpecification: kwp });
    assert.equal(wrappedBytes(atLimit.object).length, nativeLimits.MAX_WRAP_INPUT_BYTES + 8);
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: await secret(nativeLimits.MAX_WRAP_INPUT_BYTES + 1), keyWrappingSpecification: kwp }), 'SERVER_LIMIT_EXCEEDED');
  });

  test('Result Reasons per protocol version on the wire (catalog columns)', async () => {
    const f = new Fixture();
    const dek = await f.createKey();
    const kek = await registerKey(f, KEK, { params: KWP });
    const cases: { v: KmipVersion; s: StructureItem; reason: number }[] = [
      { v: '1.4', s: spec('missing', {}, '1.4'), reason: ResultReason.ItemNotFound },
      { v: '2.0', s: spec('missing', {}, '2.0'), reason: ResultReason.WrappingObjectNotFound },
      { v: '1.4', s: spec(kek, {}, '1.4'), reason: ResultReason.ItemNotFound },
      { v: '2.1', s: spec(kek, {}, '2.1'), reason: ResultReason.BadCryptographicParameters },
      { v: '1.2', s: spec(kek, { wrappingMethod: WrappingMethod.MACSign }, '1.2'), reason: ResultReason.FeatureNotSupported },
    ];
    for (const c of cases) {
      const [item] = await f.wire([{ op: Operation.Get, req: { uniqueIdentifier: dek, keyWrappingSpecification: c.s } }], { version: c.v });
      assert.equal(item?.resultStatus, ResultStatus.OperationFailed, c.v);
      assert.equal(item.resultReason, c.reason, `${c.v}: reason ${String(item.resultReason)}`);
    }
    // And a success on the wire at 1.0: the Key Wrapping Data encodes in every version.
    const kw = await registerKey(f, KEK);
    const [ok] = await f.wire([{ op: Operation.Get, req: { uniqueIdentifier: dek, keyWrappingSpecification: spec(kw, {}, '1.0') } }], { version: '1.0' });
    assert.equal(ok?.resultStatus, ResultStatus.Success);
  });
});
