/**
 * Create, Register, Get (with Key Format Type conversion), the Digest attribute, Locate and the
 * ID Placeholder.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { keyBlockBytes, symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import {
  CryptographicAlgorithm, KeyFormatType, ObjectGroupMember, ObjectType, Operation, ResultReason, SecretDataType, State,
  StorageStatusMask, Tag,
} from '../../src/kmip/registry.js';
import { encodeTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import { bytes, dateTime } from '@openkcm/ttlv';
import { struct } from '../../src/kmip/payloads/fields.js';
import { computeDigest } from '../../src/operations/model/digest.js';
import { Fixture, nameAttr, rejectsWith, T0 } from './operations-fixture.js';

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i);
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function registerKey(f: Fixture, opts: { transparent?: boolean; name?: string; extra?: ReturnType<typeof makeAttribute>[] } = {}): Promise<string> {
  return f.call(Operation.Register, {
    objectType: ObjectType.SymmetricKey,
    attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), ...(opts.name === undefined ? [] : [nameAttr(opts.name)]), ...(opts.extra ?? [])],
    object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(KEY, { format: opts.transparent === true ? 'transparent' : 'raw', cryptographicAlgorithm: CryptographicAlgorithm.AES }) },
  }).then((r) => r.uniqueIdentifier);
}

describe('Create', () => {
  for (const [alg, len, bytesLen] of [[CryptographicAlgorithm.AES, 128, 16], [CryptographicAlgorithm.AES, 192, 24], [CryptographicAlgorithm.AES, 256, 32],
    [CryptographicAlgorithm.HMAC_SHA256, 256, 32], [CryptographicAlgorithm.DES3, 168, 24]] as const) {
    test(`algorithm ${String(alg)} / ${String(len)} bits → ${String(bytesLen)} bytes of material`, async () => {
      const f = new Fixture();
      const r = await f.call(Operation.Create, { objectType: ObjectType.SymmetricKey, attributes: [
        makeAttribute('Cryptographic Algorithm', alg), makeAttribute('Cryptographic Length', len)] });
      const got = await f.call(Operation.Get, { uniqueIdentifier: r.uniqueIdentifier });
      assert.ok('keyBlock' in got.object);
      assert.equal(keyBlockBytes(got.object.keyBlock)?.length, bytesLen);
      assert.equal(got.object.keyBlock.cryptographicLength, len);
    });
  }

  test('bad algorithm, length or object type are refused with the spec reasons', async () => {
    const f = new Fixture();
    await rejectsWith(f.createKey({ length: 100 }), 'INVALID_ATTRIBUTE_VALUE');
    await rejectsWith(f.call(Operation.Create, { objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.RSA), makeAttribute('Cryptographic Length', 2048)] }), 'INVALID_ATTRIBUTE_VALUE');
    await rejectsWith(f.call(Operation.Create, { objectType: ObjectType.SymmetricKey, attributes: [] }), 'MISSING_DATA');
    await rejectsWith(f.call(Operation.Create, { objectType: ObjectType.Certificate, attributes: [] }), 'INVALID_OBJECT_TYPE');
  });

  test('1.x Create response lists no implicit attributes; 2.x carries Object Type and UID', async () => {
    const f = new Fixture();
    const r = await f.call(Operation.Create, { objectType: ObjectType.SymmetricKey, attributes: [
      makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), makeAttribute('Cryptographic Length', 128)] }, { version: '1.4' });
    assert.equal(r.attributes, undefined);
    assert.equal(r.objectType, ObjectType.SymmetricKey);
  });
});

describe('Digest (KMIP 1.4 §3.17, 2.1 §4.21)', () => {
  test('SHA-256 of the raw key bytes, Key Format Type Raw, also for a key registered as Transparent Symmetric Key', async () => {
    const f = new Fixture();
    for (const transparent of [false, true]) {
      const uid = await registerKey(f, { transparent });
      const r = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['Digest'] });
      const d = r.attributes[0]?.value;
      assert.ok(d?.type === ItemType.Structure);
      const value = d.value.find((c) => c.tag === Tag.DigestValue);
      const kft = d.value.find((c) => c.tag === Tag.KeyFormatType);
      assert.ok(value?.type === ItemType.ByteString);
      assert.equal(hex(value.value), sha256(KEY));
      assert.equal(kft?.value, KeyFormatType.Raw);
    }
  });

  test('a Key Material structure is hashed as its TTLV encoding; an opaque object hashes its value', () => {
    const material = struct(Tag.KeyMaterial, [bytes(Tag.Key, KEY)]);
    const raw = struct(Tag.PrivateKey, [struct(Tag.KeyBlock, [
      { tag: Tag.KeyFormatType, type: ItemType.Enumeration, value: KeyFormatType.TransparentRSAPrivateKey },
      struct(Tag.KeyValue, [material]),
    ])]);
    const d = computeDigest({ objectType: ObjectType.PrivateKey, raw });
    const v = d?.value.find((c) => c.tag === Tag.DigestValue);
    assert.ok(v?.type === ItemType.ByteString);
    assert.equal(hex(v.value), sha256(encodeTtlv(material)));
    const o = computeDigest({ objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000001, opaqueDataValue: KEY });
    assert.equal(o?.value.length, 2, 'no Key Format Type for an opaque object');
  });
});

describe('Register and Get', () => {
  test('Get converts a symmetric key between Raw and Transparent Symmetric Key', async () => {
    const f = new Fixture();
    const uid = await registerKey(f);
    const t = await f.call(Operation.Get, { uniqueIdentifier: uid, keyFormatType: KeyFormatType.TransparentSymmetricKey });
    assert.ok('keyBlock' in t.object);
    assert.equal(t.object.keyBlock.keyFormatType, KeyFormatType.TransparentSymmetricKey);
    assert.deepEqual(keyBlockBytes(t.object.keyBlock), KEY);
    const raw = await f.call(Operation.Get, { uniqueIdentifier: uid, keyFormatType: KeyFormatType.Raw });
    assert.ok('keyBlock' in raw.object);
    assert.ok(raw.object.keyBlock.keyValue?.kind === 'plain' && raw.object.keyBlock.keyValue.keyMaterial instanceof Uint8Array);
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: uid, keyFormatType: KeyFormatType.PKCS_8 }), 'KEY_FORMAT_TYPE_NOT_SUPPORTED');
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: uid, keyCompressionType: 1 }), 'KEY_COMPRESSION_TYPE_NOT_SUPPORTED');
  });

  test('Secret Data and Opaque Objects round-trip as registered', async () => {
    const f = new Fixture();
    const sd = await f.call(Operation.Register, { objectType: ObjectType.SecretData, attributes: [],
      object: { objectType: ObjectType.SecretData, secretDataType: SecretDataType.Password, keyBlock: { keyFormatType: KeyFormatType.Opaque, keyValue: { kind: 'plain', keyMaterial: KEY } } } });
    const got = await f.call(Operation.Get, { uniqueIdentifier: sd.uniqueIdentifier });
    assert.ok(got.object.objectType === ObjectType.SecretData && 'secretDataType' in got.object);
    assert.equal(got.object.secretDataType, SecretDataType.Password);
    const op = await f.call(Operation.Register, { objectType: ObjectType.OpaqueObject, attributes: [],
      object: { objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000001, opaqueDataValue: KEY } });
    const o = await f.call(Operation.Get, { uniqueIdentifier: op.uniqueIdentifier });
    assert.ok('opaqueDataValue' in o.object);
    assert.deepEqual(o.object.opaqueDataValue, KEY);
  });

  test('a stated length that contradicts the key material is Invalid Field (1.4 §11.4)', async () => {
    const f = new Fixture();
    await rejectsWith(f.call(Operation.Register, { objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Length', 256)],
      object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(KEY) } }), 'INVALID_FIELD');
  });

  test('Sensitive keys: Sensitive (BL-M-12-21); not Extractable: Not Extractable; Fresh cleared by the first Get (BL-M-13-21)', async () => {
    const f = new Fixture();
    const s = await registerKey(f, { extra: [makeAttribute('Sensitive', true)] });
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: s }), 'SENSITIVE');
    const n = await registerKey(f, { extra: [makeAttribute('Extractable', false)] });
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: n }), 'NOT_EXTRACTABLE');
    const fresh = await registerKey(f);
    const before = await f.call(Operation.GetAttributes, { uniqueIdentifier: fresh, attributeNames: ['Fresh', 'Always Sensitive', 'Never Extractable'] });
    assert.deepEqual(before.attributes.map((a) => a.value.value), [true, false, false]);
    await f.call(Operation.Get, { uniqueIdentifier: fresh });
    const after = await f.call(Operation.GetAttributes, { uniqueIdentifier: fresh, attributeNames: ['Fresh'] });
    assert.equal(after.attributes[0]?.value.value, false);
  });

  test('an unknown UID is Item Not Found (1.x) / Object Not Found (2.x, BL-M-4-21)', async () => {
    const f = new Fixture();
    assert.equal((await f.wire([{ op: Operation.Get, req: { uniqueIdentifier: 'AAABBBCCC' } }], { version: '2.1' }))[0]?.resultReason, ResultReason.ObjectNotFound);
    assert.equal((await f.wire([{ op: Operation.Get, req: { uniqueIdentifier: 'AAABBBCCC' } }], { version: '1.4' }))[0]?.resultReason, ResultReason.ItemNotFound);
  });

  test('Templates (1.x): a registered Template supplies attributes to Create by Template Name; a missing one is Item Not Found', async () => {
    const f = new Fixture();
    const { writeAttribute1x } = await import('../../src/kmip/attributes.js');
    const template = struct(Tag.Template, [writeAttribute1x(makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES)), writeAttribute1x(makeAttribute('Cryptographic Length', 256))]);
    await f.call(Operation.Register, { objectType: ObjectType.Template, attributes: [nameAttr('aes-256')], object: { objectType: ObjectType.Template, raw: template } }, { version: '1.4' });
    const r = await f.call(Operation.Create, { objectType: ObjectType.SymmetricKey, attributes: [], templateNames: [nameAttr('aes-256').value as never] }, { version: '1.4' });
    const got = await f.call(Operation.GetAttributes, { uniqueIdentifier: r.uniqueIdentifier, attributeNames: ['Cryptographic Length', 'Name'] }, { version: '1.4' });
    assert.deepEqual(got.attributes.map((a) => a.name), ['Cryptographic Length'], 'the template\'s Name is not copied');
    await rejectsWith(f.call(Operation.Create, { objectType: ObjectType.SymmetricKey, attributes: [], templateNames: [nameAttr('nope').value as never] }, { version: '1.4' }), 'ITEM_NOT_FOUND');
  });

  test('Certificates: type, length and subject fields come from the certificate (BL-M-10-21)', async () => {
    const f = new Fixture();
    const { testPki } = await import('../helpers/pki.js');
    const pki = await testPki();
    const der = new (await import('node:crypto')).X509Certificate(pki.client.certPem).raw;
    const raw = struct(Tag.Certificate, [{ tag: Tag.CertificateType, type: ItemType.Enumeration, value: 1 }, bytes(Tag.CertificateValue, der)]);
    const r = await f.call(Operation.Register, { objectType: ObjectType.Certificate, attributes: [], object: { objectType: ObjectType.Certificate, raw } });
    const got = await f.call(Operation.GetAttributes, { uniqueIdentifier: r.uniqueIdentifier, attributeNames: ['Certificate Length', 'Certificate Subject CN'] });
    assert.deepEqual(got.attributes.map((a) => a.value.value), [der.length, 'test-client']);
  });
});

describe('Locate', () => {
  test('matches every attribute, newest first; Maximum / Offset Items page; Located Items only when paging', async () => {
    const f = new Fixture();
    const a = await f.createKey({ extra: [makeAttribute('Object Group', 'g')] });
    f.advance(1);
    const b = await f.createKey({ extra: [makeAttribute('Object Group', 'g')] });
    f.advance(1);
    await f.createKey({ extra: [makeAttribute('Object Group', 'other')] });
    const all = await f.call(Operation.Locate, { attributes: [makeAttribute('Object Group', 'g')] });
    assert.deepEqual(all.uniqueIdentifiers, [b, a]);
    assert.equal(all.locatedItems, undefined);
    const page = await f.call(Operation.Locate, { maximumItems: 1, offsetItems: 1, attributes: [makeAttribute('Object Group', 'g')] });
    assert.deepEqual(page.uniqueIdentifiers, [a]);
    assert.equal(page.locatedItems, 2);
  });

  test('dates: one value matches exactly, two give an inclusive range (2.1 §6.1.28, BL-M-4-21)', async () => {
    const f = new Fixture();
    const t = BigInt(Math.floor(T0.getTime() / 1000));
    const uid = await f.createKey({ extra: [makeAttribute('Protect Stop Date', dateTime(Tag.ProtectStopDate, t + 50n))] });
    const loc = (...ds: bigint[]): Promise<string[]> => f.call(Operation.Locate, { attributes: ds.map((d) => makeAttribute('Protect Stop Date', dateTime(Tag.ProtectStopDate, d))) }).then((r) => r.uniqueIdentifiers);
    assert.deepEqual(await loc(t + 50n), [uid]);
    assert.deepEqual(await loc(t + 49n), []);
    assert.deepEqual(await loc(t, t + 100n), [uid]);
    assert.deepEqual(await loc(t + 51n, t + 100n), []);
  });

  test('Cryptographic Usage Mask matches objects having every requested bit; structures match partially', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ mask: 4 | 8, name: 'n1' });
    assert.deepEqual((await f.call(Operation.Locate, { attributes: [makeAttribute('Cryptographic Usage Mask', 4)] })).uniqueIdentifiers, [uid]);
    assert.deepEqual((await f.call(Operation.Locate, { attributes: [makeAttribute('Cryptographic Usage Mask', 4 | 16)] })).uniqueIdentifiers, []);
    const { text } = await import('@openkcm/ttlv');
    assert.deepEqual((await f.call(Operation.Locate, { attributes: [makeAttribute('Name', [text(Tag.NameValue, 'n1')])] })).uniqueIdentifiers, [uid]);
  });

  test('Storage Status Mask: destroyed objects only with Destroyed Storage, archived only with Archival Storage', async () => {
    const f = new Fixture();
    const gone = await f.createKey({ name: 'gone' });
    await f.call(Operation.Destroy, { uniqueIdentifier: gone });
    const kept = await f.createKey({ name: 'kept' });
    await f.call(Operation.Archive, { uniqueIdentifier: kept });
    const uidAttr = (u: string): ReturnType<typeof makeAttribute> => makeAttribute('Unique Identifier', u);
    assert.deepEqual((await f.call(Operation.Locate, { attributes: [uidAttr(gone)] })).uniqueIdentifiers, []);
    assert.deepEqual((await f.call(Operation.Locate, { storageStatusMask: StorageStatusMask.DestroyedStorage, attributes: [uidAttr(gone)] })).uniqueIdentifiers, [gone]);
    assert.deepEqual((await f.call(Operation.Locate, { attributes: [uidAttr(kept)] })).uniqueIdentifiers, []);
    assert.deepEqual((await f.call(Operation.Locate, { storageStatusMask: StorageStatusMask.ArchivalStorage, attributes: [uidAttr(kept)] })).uniqueIdentifiers, [kept]);
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: kept }), 'OBJECT_ARCHIVED');
    await f.call(Operation.Recover, { uniqueIdentifier: kept });
    assert.ok(await f.call(Operation.Get, { uniqueIdentifier: kept }));
  });

  test('Group Member Fresh returns only objects never retrieved', async () => {
    const f = new Fixture();
    const a = await f.createKey({ extra: [makeAttribute('Object Group', 'pool')] });
    const b = await f.createKey({ extra: [makeAttribute('Object Group', 'pool')] });
    await f.call(Operation.Get, { uniqueIdentifier: b });
    const r = await f.call(Operation.Locate, { objectGroupMember: ObjectGroupMember.GroupMemberFresh, attributes: [makeAttribute('Object Group', 'pool')] });
    assert.deepEqual(r.uniqueIdentifiers, [a]);
  });
});

describe('ID Placeholder (KMIP 1.4 §4, 2.1 §6.1)', () => {
  test('Create sets it; a later item without Unique Identifier uses it (TL-M-2)', async () => {
    const f = new Fixture();
    const uid = await f.createKey();
    assert.equal(f.session.idPlaceholder, uid);
    const got = await f.call(Operation.Get, {});
    assert.equal(got.uniqueIdentifier, uid);
  });

  test('Locate with one result sets it; with several or none it is emptied, so the next item fails', async () => {
    const f = new Fixture();
    const a = await f.createKey({ name: 'only' });
    await f.createKey();
    await f.call(Operation.Locate, { attributes: [nameAttr('only')] });
    assert.equal(f.session.idPlaceholder, a);
    await f.call(Operation.Locate, { attributes: [] });
    assert.equal(f.session.idPlaceholder, undefined);
    await rejectsWith(f.call(Operation.Get, {}), 'MISSING_DATA');
  });

  test('a failed Check empties it (1.4 §4.10)', async () => {
    const f = new Fixture();
    await f.createKey({ mask: 4 });
    await rejectsWith(f.call(Operation.Check, { cryptographicUsageMask: 8 }), 'INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK');
    assert.equal(f.session.idPlaceholder, undefined);
  });

  test('it does not outlive the request message: the processor clears it per batch', async () => {
    const f = new Fixture();
    const { newSession } = await import('../../src/server/processor.js');
    const session = newSession();
    const [created] = await f.wire([{ op: Operation.Create, req: { objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), makeAttribute('Cryptographic Length', 128)] } }], { session });
    assert.equal(created?.resultStatus, 0);
    const [next] = await f.wire([{ op: Operation.Get, req: {} }], { session });
    assert.equal(next?.resultReason, ResultReason.MissingData);
  });
});

describe('tenants', () => {
  test('another tenant\'s object is Item Not Found for every operation and invisible to Locate', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ name: 'secret', tenant: 'alice' });
    const bob = { tenant: 'bob' } as const;
    await rejectsWith(f.call(Operation.Get, { uniqueIdentifier: uid }, bob), 'ITEM_NOT_FOUND');
    await rejectsWith(f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: [] }, bob), 'ITEM_NOT_FOUND');
    await rejectsWith(f.call(Operation.Activate, { uniqueIdentifier: uid }, bob), 'ITEM_NOT_FOUND');
    await rejectsWith(f.call(Operation.Destroy, { uniqueIdentifier: uid }, bob), 'ITEM_NOT_FOUND');
    assert.deepEqual((await f.call(Operation.Locate, { attributes: [nameAttr('secret')] }, bob)).uniqueIdentifiers, []);
    // Names are unique per tenant, not across tenants: bob may use the same name.
    assert.ok(await f.createKey({ name: 'secret', tenant: 'bob' }));
    const state = await f.call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: ['State'] });
    assert.equal(state.attributes[0]?.value.value, State.PreActive);
  });
});
