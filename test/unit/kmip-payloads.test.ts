/**
 * Typed payload codecs: every request and response round-trips through binary TTLV in the
 * KMIP 1.4 and 2.1 shapes, the shapes differ where the specs say they do, and decoders
 * name the REQUIRED field that is missing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { enumeration, int, structure, text } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import type { StructureItem, TtlvItem } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { KmipError } from '../../src/kmip/errors.js';
import { KMIP_1_4, KMIP_2_0, KMIP_2_1, formatVersion } from '../../src/kmip/message.js';
import type { ProtocolVersion } from '../../src/kmip/message.js';
import {
  PAYLOAD_CODECS, createPayloads, deleteAttributePayloads, getAttributesPayloads, getPayloads, keyBlockBytes,
  payloadCodec, registerPayloads, revokePayloads, rngRetrievePayloads, symmetricKeyBlock,
} from '../../src/kmip/payloads/index.js';
import type { GetRequest, PayloadCodec, RequestOf, ResponseOf } from '../../src/kmip/payloads/index.js';
import {
  AdjustmentType, BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, InteropFunction, KeyFormatType,
  NameType, ObjectGroupMember, ObjectType, Operation, PaddingMethod, QueryFunction, RevocationReasonCode,
  SecretDataType, StorageStatusMask, Tag, ValidityIndicator,
} from '../../src/kmip/registry.js';

const wire = (item: TtlvItem): StructureItem => {
  const back = decodeTtlv(encodeTtlv(item));
  assert.equal(back.type, ItemType.Structure);
  return back;
};

const bytesOf = (...b: number[]): Uint8Array => new Uint8Array(b);
const alg = makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES);
const len = makeAttribute('Cryptographic Length', 256);
const mask = makeAttribute('Cryptographic Usage Mask', CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt);
const xid = makeAttribute('x-ID', 'key-1');
const name = makeAttribute('Name', [text(Tag.NameValue, 'k1'), enumeration(Tag.NameType, NameType.UninterpretedTextString)]);
const key = bytesOf(...Array.from({ length: 32 }, (_, i) => i));

interface Sample { op: number; v: 1 | 2 | 'both'; request?: object; response?: object }

/** One entry per shape; 'both' runs in 1.4 and 2.1. */
const SAMPLES: Sample[] = [
  { op: Operation.Create, v: 'both', request: { objectType: ObjectType.SymmetricKey, attributes: [alg, len, mask, xid, name] }, response: { objectType: ObjectType.SymmetricKey, uniqueIdentifier: 'u-1' } },
  { op: Operation.Create, v: 1, request: { objectType: ObjectType.SymmetricKey, attributes: [alg], templateNames: [structure(Tag.Name, [text(Tag.NameValue, 'tpl'), enumeration(Tag.NameType, NameType.UninterpretedTextString)])] }, response: { objectType: ObjectType.SymmetricKey, uniqueIdentifier: 'u-1', attributes: [makeAttribute('Unique Identifier', 'u-1')] } },
  { op: Operation.Create, v: 2, request: { objectType: ObjectType.SymmetricKey, attributes: [alg], protectionStorageMasks: [1, 3] } },
  {
    op: Operation.Register, v: 'both',
    request: { objectType: ObjectType.SymmetricKey, attributes: [mask, name], object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(key, { cryptographicAlgorithm: CryptographicAlgorithm.AES }) } },
    response: { uniqueIdentifier: 'u-2' },
  },
  {
    op: Operation.Register, v: 'both',
    request: { objectType: ObjectType.SymmetricKey, attributes: [], object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(key, { format: 'transparent', cryptographicAlgorithm: CryptographicAlgorithm.AES }) } },
  },
  {
    op: Operation.Register, v: 'both',
    request: { objectType: ObjectType.SecretData, attributes: [mask], object: { objectType: ObjectType.SecretData, secretDataType: SecretDataType.Password, keyBlock: { keyFormatType: KeyFormatType.Opaque, keyValue: { kind: 'plain', keyMaterial: bytesOf(1, 2, 3), attributes: [xid] } } } },
  },
  {
    op: Operation.Register, v: 'both',
    request: { objectType: ObjectType.OpaqueObject, attributes: [name], object: { objectType: ObjectType.OpaqueObject, opaqueDataType: 0x80000001, opaqueDataValue: bytesOf(9, 8, 7) } },
  },
  { op: Operation.Register, v: 1, response: { uniqueIdentifier: 'u-2', attributes: [makeAttribute('State', 1)] } },
  { op: Operation.ReKey, v: 'both', request: { uniqueIdentifier: 'u-1', offset: 3600, attributes: [name] }, response: { uniqueIdentifier: 'u-3' } },
  { op: Operation.ReKey, v: 'both', request: {} },
  { op: Operation.ReKey, v: 2, request: { uniqueIdentifier: 'u-1', protectionStorageMasks: [1] } },
  { op: Operation.ReKey, v: 1, response: { uniqueIdentifier: 'u-3', attributes: [makeAttribute('State', 1)] } },
  // Derive Key (1.4 §4.6 Tables 180-183, 2.1 §6.1.11 / §7.12): repeated Unique Identifier, nested Derivation Parameters.
  { op: Operation.DeriveKey, v: 'both', request: { objectType: 2, uniqueIdentifiers: ['u-1', 'u-2'], derivationMethod: 1, derivationParameters: { cryptographicParameters: { hashingAlgorithm: 6 }, initializationVector: new Uint8Array([1]), derivationData: [new Uint8Array([2])], salt: new Uint8Array([3]), iterationCount: 4096 }, attributes: [name] }, response: { uniqueIdentifier: 'u-3' } },
  { op: Operation.DeriveKey, v: 1, response: { uniqueIdentifier: 'u-3', attributes: [makeAttribute('State', 1)] } },
  {
    op: Operation.Get, v: 'both',
    request: { uniqueIdentifier: 'u-1', keyFormatType: KeyFormatType.Raw, keyWrapType: 1, keyCompressionType: 1, keyWrappingSpecification: structure(Tag.KeyWrappingSpecification, [enumeration(Tag.WrappingMethod, 1)]) },
    response: { objectType: ObjectType.SymmetricKey, uniqueIdentifier: 'u-1', object: { objectType: ObjectType.SymmetricKey, keyBlock: { keyFormatType: KeyFormatType.Raw, keyValue: { kind: 'wrapped', bytes: bytesOf(5, 5) }, cryptographicAlgorithm: CryptographicAlgorithm.AES, cryptographicLength: 256, keyWrappingData: structure(Tag.KeyWrappingData, [enumeration(Tag.WrappingMethod, 1)]) } } },
  },
  { op: Operation.Get, v: 'both', request: {}, response: { objectType: ObjectType.PublicKey, uniqueIdentifier: 'u-3', object: { objectType: ObjectType.PublicKey, raw: structure(Tag.PublicKey, [structure(Tag.KeyBlock, [enumeration(Tag.KeyFormatType, KeyFormatType.X_509)])]) } } },
  { op: Operation.GetAttributes, v: 'both', request: { uniqueIdentifier: 'u-1', attributeNames: ['Cryptographic Algorithm', 'Name', 'x-ID'] }, response: { uniqueIdentifier: 'u-1', attributes: [alg, name, xid] } },
  { op: Operation.GetAttributes, v: 'both', request: { attributeNames: [] }, response: { uniqueIdentifier: 'u-1', attributes: [] } },
  { op: Operation.GetAttributeList, v: 'both', request: { uniqueIdentifier: 'u-1' }, response: { uniqueIdentifier: 'u-1', attributeNames: ['Cryptographic Algorithm', 'State', 'y-created-by'] } },
  { op: Operation.AddAttribute, v: 1, request: { uniqueIdentifier: 'u-1', attribute: xid }, response: { uniqueIdentifier: 'u-1', attribute: { ...name, index: 1 } } },
  { op: Operation.AddAttribute, v: 2, request: { uniqueIdentifier: 'u-1', attribute: xid }, response: { uniqueIdentifier: 'u-1' } },
  { op: Operation.ModifyAttribute, v: 1, request: { uniqueIdentifier: 'u-1', attribute: { ...name, index: 0 } }, response: { uniqueIdentifier: 'u-1', attribute: { ...name, index: 0 } } },
  { op: Operation.ModifyAttribute, v: 2, request: { uniqueIdentifier: 'u-1', currentAttribute: name, attribute: makeAttribute('Name', [text(Tag.NameValue, 'k2'), enumeration(Tag.NameType, NameType.UninterpretedTextString)]) }, response: { uniqueIdentifier: 'u-1' } },
  { op: Operation.DeleteAttribute, v: 1, request: { uniqueIdentifier: 'u-1', attributeName: 'x-ID', attributeIndex: 0 }, response: { uniqueIdentifier: 'u-1', attribute: xid } },
  { op: Operation.DeleteAttribute, v: 2, request: { uniqueIdentifier: 'u-1', currentAttribute: xid }, response: { uniqueIdentifier: 'u-1' } },
  { op: Operation.DeleteAttribute, v: 2, request: { attributeName: 'Contact Information' } },
  { op: Operation.SetAttribute, v: 2, request: { uniqueIdentifier: 'u-1', attribute: makeAttribute('Contact Information', 'ops@example.com') }, response: { uniqueIdentifier: 'u-1' } },
  { op: Operation.AdjustAttribute, v: 2, request: { uniqueIdentifier: 'u-1', attributeName: 'Usage Limits', adjustmentType: AdjustmentType.Increment, adjustmentValue: int(Tag.AdjustmentValue, 5) }, response: { uniqueIdentifier: 'u-1' } },
  {
    op: Operation.Locate, v: 'both',
    request: { maximumItems: 10, offsetItems: 2, storageStatusMask: StorageStatusMask.OnLineStorage, objectGroupMember: ObjectGroupMember.GroupMemberDefault, attributes: [makeAttribute('Object Type', ObjectType.SymmetricKey), name] },
    response: { locatedItems: 2, uniqueIdentifiers: ['u-1', 'u-2'] },
  },
  { op: Operation.Locate, v: 'both', request: { attributes: [] }, response: { uniqueIdentifiers: [] } },
  { op: Operation.Check, v: 'both', request: { uniqueIdentifier: 'u-1', usageLimitsCount: 500n, cryptographicUsageMask: CryptographicUsageMask.Encrypt, leaseTime: 3600 }, response: { uniqueIdentifier: 'u-1', leaseTime: 600 } },
  { op: Operation.Activate, v: 'both', request: { uniqueIdentifier: 'u-1' }, response: { uniqueIdentifier: 'u-1' } },
  { op: Operation.Activate, v: 'both', request: {} },
  { op: Operation.Revoke, v: 'both', request: { uniqueIdentifier: 'u-1', revocationReason: { code: RevocationReasonCode.KeyCompromise, message: 'leaked' }, compromiseOccurrenceDate: 1_600_000_000n }, response: { uniqueIdentifier: 'u-1' } },
  { op: Operation.Revoke, v: 'both', request: { revocationReason: { code: RevocationReasonCode.CessationOfOperation } } },
  { op: Operation.Destroy, v: 'both', request: { uniqueIdentifier: 'u-1' }, response: { uniqueIdentifier: 'u-1' } },
  { op: Operation.Archive, v: 'both', request: { uniqueIdentifier: 'u-1' }, response: { uniqueIdentifier: 'u-1' } },
  { op: Operation.Recover, v: 'both', request: { uniqueIdentifier: 'u-1' }, response: { uniqueIdentifier: 'u-1' } },
  {
    op: Operation.Query, v: 'both',
    request: { queryFunctions: [QueryFunction.QueryOperations, QueryFunction.QueryObjects, QueryFunction.QueryServerInformation] },
    response: { operations: [Operation.Create, Operation.Get], objectTypes: [ObjectType.SymmetricKey], vendorIdentification: 'OpenKCM', serverInformation: structure(Tag.ServerInformation, [text(Tag.VendorIdentification, 'x')]), applicationNamespaces: ['ns'] },
  },
  { op: Operation.Query, v: 2, response: { protectionStorageMasks: [1], defaultsInformation: structure(Tag.DefaultsInformation, []) } },
  { op: Operation.DiscoverVersions, v: 'both', request: { protocolVersions: [KMIP_2_1, KMIP_1_4] }, response: { protocolVersions: [KMIP_2_1, KMIP_2_0, KMIP_1_4] } },
  { op: Operation.DiscoverVersions, v: 'both', request: { protocolVersions: [] } },
  { op: Operation.RNGRetrieve, v: 'both', request: { dataLength: 32 }, response: { data: key } },
  { op: Operation.RNGSeed, v: 'both', request: { data: key }, response: { dataLength: 0 } },
  {
    op: Operation.Encrypt, v: 'both',
    request: { uniqueIdentifier: 'u-1', cryptographicParameters: { blockCipherMode: BlockCipherMode.GCM, paddingMethod: PaddingMethod.None, randomIV: true, tagLength: 16, ivLength: 96 }, data: bytesOf(1, 2), ivCounterNonce: bytesOf(3), correlationValue: bytesOf(4), initIndicator: true, finalIndicator: false, authenticatedEncryptionAdditionalData: bytesOf(5) },
    response: { uniqueIdentifier: 'u-1', data: bytesOf(6), ivCounterNonce: bytesOf(7), correlationValue: bytesOf(8), authenticatedEncryptionTag: bytesOf(9) },
  },
  {
    op: Operation.Decrypt, v: 'both',
    request: { uniqueIdentifier: 'u-1', cryptographicParameters: { blockCipherMode: BlockCipherMode.CBC, paddingMethod: PaddingMethod.PKCS5, cryptographicAlgorithm: CryptographicAlgorithm.AES }, data: bytesOf(1), ivCounterNonce: bytesOf(2), authenticatedEncryptionTag: bytesOf(3) },
    response: { uniqueIdentifier: 'u-1', data: bytesOf(4) },
  },
  {
    op: Operation.MAC, v: 'both',
    request: { uniqueIdentifier: 'u-1', cryptographicParameters: { cryptographicAlgorithm: CryptographicAlgorithm.HMAC_SHA256 }, data: bytesOf(1, 2), correlationValue: bytesOf(3), initIndicator: true, finalIndicator: false },
    response: { uniqueIdentifier: 'u-1', macData: bytesOf(4), correlationValue: bytesOf(5) },
  },
  {
    op: Operation.MACVerify, v: 'both',
    request: { uniqueIdentifier: 'u-1', cryptographicParameters: { cryptographicAlgorithm: CryptographicAlgorithm.HMAC_SHA512 }, data: bytesOf(1), macData: bytesOf(2), correlationValue: bytesOf(3), initIndicator: false, finalIndicator: true },
    response: { uniqueIdentifier: 'u-1', validityIndicator: ValidityIndicator.Valid, correlationValue: bytesOf(4) },
  },
  { op: Operation.Interop, v: 2, request: { interopFunction: InteropFunction.Begin, interopIdentifier: 'BL-M-1-21' }, response: {} },
  { op: Operation.Log, v: 2, request: { logMessage: 'hello' }, response: {} },
  { op: Operation.Ping, v: 2, request: {}, response: {} },
];

const versionsOf = (s: Sample): ProtocolVersion[] => (s.v === 'both' ? [KMIP_1_4, KMIP_2_1] : s.v === 1 ? [KMIP_1_4] : [KMIP_2_1]);

function codecOf(op: number): PayloadCodec<object, object> {
  const c = payloadCodec(op);
  assert.ok(c !== undefined, `no codec for operation ${String(op)}`);
  return c;
}

function expectKmipError(fn: () => unknown, code: string, field?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KmipError, String(e));
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return true;
  });
}

describe('payload round trips', () => {
  for (const [i, s] of SAMPLES.entries()) {
    for (const v of versionsOf(s)) {
      const codec = codecOf(s.op);
      const label = `${codec.name} #${String(i)} in KMIP ${formatVersion(v)}`;
      if (s.request !== undefined) {
        const request = s.request;
        test(`${label}: request`, () => {
          const tree = codec.encodeRequest(request, v);
          assert.equal(tree.tag, Tag.RequestPayload);
          assert.deepEqual(codec.decodeRequest(wire(tree), v), request);
        });
      }
      if (s.response !== undefined) {
        const response = s.response;
        test(`${label}: response`, () => {
          const tree = codec.encodeResponse(response, v);
          assert.equal(tree.tag, Tag.ResponsePayload);
          assert.deepEqual(codec.decodeResponse(wire(tree), v), response);
        });
      }
    }
  }

  test('every codec in the table is exercised and sits under its own Operation', () => {
    const covered = new Set(SAMPLES.map((s) => s.op));
    for (const [op, codec] of Object.entries(PAYLOAD_CODECS)) {
      assert.equal(codec.operation, Number(op));
      assert.ok(covered.has(Number(op)), `${codec.name} has no round-trip sample`);
    }
    assert.equal(payloadCodec(Operation.Certify), undefined);
  });
});

describe('payload shapes per version', () => {
  test('Create: Template-Attribute in 1.x, Attributes in 2.x (KMIP 1.4 §4.1, 2.1 §6.1.8)', () => {
    const req = { objectType: ObjectType.SymmetricKey, attributes: [alg] };
    assert.deepEqual(createPayloads.encodeRequest(req, KMIP_1_4).value.map((c) => c.tag), [Tag.ObjectType, Tag.TemplateAttribute]);
    assert.deepEqual(createPayloads.encodeRequest(req, KMIP_2_1).value.map((c) => c.tag), [Tag.ObjectType, Tag.Attributes]);
    // 2.x has no Template-Attribute in the response: a 2.x encoder drops it.
    const resp = { objectType: ObjectType.SymmetricKey, uniqueIdentifier: 'u', attributes: [alg] };
    assert.deepEqual(createPayloads.encodeResponse(resp, KMIP_2_1).value.map((c) => c.tag), [Tag.ObjectType, Tag.UniqueIdentifier]);
  });

  test('Get Attributes: Attribute Name text in 1.x, Attribute Reference in 2.x', () => {
    const req = { uniqueIdentifier: 'u', attributeNames: ['State'] };
    assert.deepEqual(getAttributesPayloads.encodeRequest(req, KMIP_1_4).value[1], text(Tag.AttributeName, 'State'));
    assert.deepEqual(getAttributesPayloads.encodeRequest(req, KMIP_2_1).value[1], enumeration(Tag.AttributeReference, Tag.State));
    const resp = { uniqueIdentifier: 'u', attributes: [alg] };
    assert.deepEqual(getAttributesPayloads.encodeResponse(resp, KMIP_1_4).value[1]?.tag, Tag.Attribute);
    assert.deepEqual(getAttributesPayloads.encodeResponse(resp, KMIP_2_1).value[1], structure(Tag.Attributes, [enumeration(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES)]));
  });

  test('Register: the Key Block carries Raw bytes or a Transparent Symmetric Key structure', () => {
    const raw = symmetricKeyBlock(key);
    const transparent = symmetricKeyBlock(key, { format: 'transparent' });
    assert.deepEqual(keyBlockBytes(raw), key);
    assert.deepEqual(keyBlockBytes(transparent), key);
    assert.equal(raw.cryptographicLength, 256);
    const tree = registerPayloads.encodeRequest({ objectType: ObjectType.SymmetricKey, attributes: [], object: { objectType: ObjectType.SymmetricKey, keyBlock: transparent } }, KMIP_2_1);
    const sk = tree.value[2];
    assert.ok(sk?.type === ItemType.Structure && sk.tag === Tag.SymmetricKey);
  });
});

describe('payload validation', () => {
  test('missing REQUIRED fields → MISSING_DATA naming the field', () => {
    expectKmipError(() => createPayloads.decodeRequest(structure(Tag.RequestPayload, []), KMIP_1_4), 'MISSING_DATA', 'Object Type');
    expectKmipError(() => rngRetrievePayloads.decodeRequest(undefined, KMIP_2_1), 'MISSING_DATA', 'Data Length');
    expectKmipError(() => revokePayloads.decodeRequest(structure(Tag.RequestPayload, [text(Tag.UniqueIdentifier, 'u')]), KMIP_1_4), 'MISSING_DATA', 'Revocation Reason');
    expectKmipError(() => revokePayloads.decodeRequest(structure(Tag.RequestPayload, [structure(Tag.RevocationReason, [])]), KMIP_1_4), 'MISSING_DATA', 'Revocation Reason Code');
    expectKmipError(() => getPayloads.decodeResponse(structure(Tag.ResponsePayload, [enumeration(Tag.ObjectType, ObjectType.SymmetricKey)]), KMIP_1_4), 'MISSING_DATA', 'Unique Identifier');
    expectKmipError(() => getPayloads.decodeResponse(structure(Tag.ResponsePayload, [enumeration(Tag.ObjectType, ObjectType.SymmetricKey), text(Tag.UniqueIdentifier, 'u')]), KMIP_1_4), 'MISSING_DATA', 'Symmetric Key');
    expectKmipError(() => deleteAttributePayloads.decodeRequest(structure(Tag.RequestPayload, [text(Tag.UniqueIdentifier, 'u')]), KMIP_2_1), 'MISSING_DATA');
    expectKmipError(() => rngRetrievePayloads.encodeRequest({} as { dataLength: number }, KMIP_2_1), 'MISSING_DATA', 'Data Length');
  });

  test('a Key Block without Key Format Type, and Key Value without Key Material, are MISSING_DATA', () => {
    const payload = (keyBlock: StructureItem): StructureItem => structure(Tag.RequestPayload, [enumeration(Tag.ObjectType, ObjectType.SymmetricKey), structure(Tag.TemplateAttribute, []), structure(Tag.SymmetricKey, [keyBlock])]);
    expectKmipError(() => registerPayloads.decodeRequest(payload(structure(Tag.KeyBlock, [])), KMIP_1_4), 'MISSING_DATA', 'Key Format Type');
    expectKmipError(() => registerPayloads.decodeRequest(payload(structure(Tag.KeyBlock, [enumeration(Tag.KeyFormatType, 1), structure(Tag.KeyValue, [])])), KMIP_1_4), 'MISSING_DATA', 'Key Material');
  });

  test('Object Type that does not match the object → INVALID_FIELD (KMIP 1.4 §11.4)', () => {
    const p = structure(Tag.RequestPayload, [enumeration(Tag.ObjectType, ObjectType.SecretData), structure(Tag.TemplateAttribute, []), structure(Tag.SymmetricKey, [])]);
    expectKmipError(() => registerPayloads.decodeRequest(p, KMIP_1_4), 'INVALID_FIELD', 'Object Type');
    expectKmipError(() => registerPayloads.encodeRequest({ objectType: ObjectType.SecretData, attributes: [], object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(key) } }, KMIP_1_4), 'INVALID_FIELD', 'Object Type');
  });

  test('wrong item types → INVALID_DATA_TYPE; repeated single fields → INVALID_MESSAGE', () => {
    expectKmipError(() => getPayloads.decodeRequest(structure(Tag.RequestPayload, [int(Tag.UniqueIdentifier, 1)]), KMIP_1_4), 'INVALID_DATA_TYPE', 'Unique Identifier');
    expectKmipError(() => getPayloads.decodeRequest(structure(Tag.RequestPayload, [text(Tag.UniqueIdentifier, 'a'), text(Tag.UniqueIdentifier, 'b')]), KMIP_1_4), 'INVALID_MESSAGE', 'Unique Identifier');
  });

  test('per-operation request/response types are inferred from the table', () => {
    const req: RequestOf<typeof Operation.Get> = { uniqueIdentifier: 'u' };
    const asGet: GetRequest = req;
    const resp: ResponseOf<typeof Operation.RNGRetrieve> = { data: key };
    assert.deepEqual(PAYLOAD_CODECS[Operation.Get].decodeRequest(wire(PAYLOAD_CODECS[Operation.Get].encodeRequest(asGet, KMIP_1_4)), KMIP_1_4), req);
    assert.deepEqual(PAYLOAD_CODECS[Operation.RNGRetrieve].decodeResponse(wire(PAYLOAD_CODECS[Operation.RNGRetrieve].encodeResponse(resp, KMIP_2_1)), KMIP_2_1), resp);
  });
});
