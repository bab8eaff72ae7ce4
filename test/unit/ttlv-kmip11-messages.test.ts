/**
 * Full request and response messages of the KMIP 1.1 Test Cases (as reproduced by PyKMIP,
 * see ttlv-vectors.ts for each message's citation): decode → encode is byte-identical,
 * and a few decoded fields are what the documents say.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { findChild, findChildren, isStructure } from '@openkcm/ttlv';
import { ItemType, type StructureItem, type TtlvItem } from '@openkcm/ttlv';
import {
  CREATE_REQUEST,
  CREATE_RESPONSE,
  GET_REQUEST,
  GET_RESPONSE,
  INVALID_MESSAGE_RESPONSE,
  KMIP_1_1_MESSAGES,
  LOCATE_REQUEST,
  REGISTER_REQUEST,
  T,
  getRequest,
  getResponseAes256,
  hex,
} from '../helpers/ttlv-vectors.js';

/** Follows a path of tags through nested structures (first match at each level). */
function at(root: TtlvItem, ...tags: number[]): TtlvItem {
  let cur: TtlvItem = root;
  for (const tag of tags) {
    assert.ok(isStructure(cur), `0x${cur.tag.toString(16)} is not a structure`);
    const next = findChild(cur, tag);
    assert.ok(next !== undefined, `no child 0x${tag.toString(16)}`);
    cur = next;
  }
  return cur;
}

describe('KMIP 1.1 Test Cases messages', () => {
  for (const { name, bytes } of KMIP_1_1_MESSAGES) {
    test(`${name}: decode → encode is byte-identical`, () => {
      const item = decodeTtlv(bytes);
      assert.equal(item.type, ItemType.Structure);
      assert.deepEqual(encodeTtlv(item), bytes);
    });
  }

  test('Create request (§3.1.1): protocol 1.1, Create of a 128-bit AES key', () => {
    const msg = decodeTtlv(CREATE_REQUEST);
    assert.equal(msg.tag, T.RequestMessage);
    assert.equal(at(msg, T.RequestHeader, T.ProtocolVersion, T.ProtocolVersionMajor).value, 1);
    assert.equal(at(msg, T.RequestHeader, T.ProtocolVersion, T.ProtocolVersionMinor).value, 1);
    assert.equal(at(msg, T.BatchItem, T.Operation).value, 1); // Create
    const attrs = at(msg, T.BatchItem, T.RequestPayload, 0x420091 /* Template-Attribute */) as StructureItem;
    const attributes = findChildren(attrs, 0x420008 /* Attribute */);
    assert.deepEqual(
      attributes.map((a) => at(a, 0x42000a /* Attribute Name */).value),
      ['Cryptographic Algorithm', 'Cryptographic Length', 'Cryptographic Usage Mask'],
    );
    assert.equal(at(attributes[1]!, 0x42000b /* Attribute Value */).value, 128);
    assert.equal(at(attributes[2]!, 0x42000b).value, 12); // Encrypt | Decrypt
  });

  test('Create response (§3.1.1): time stamp, success, the new identifier', () => {
    const msg = decodeTtlv(CREATE_RESPONSE);
    assert.equal(at(msg, T.ResponseHeader, T.TimeStamp).value, 0x4f9a54e5n);
    assert.equal(at(msg, T.BatchItem, T.ResultStatus).value, 0);
    assert.equal(at(msg, T.BatchItem, T.ResponsePayload, T.UniqueIdentifier).value, 'fb4b5b9c-6188-4c63-8142-fe9c328129fc');
  });

  test('Register request (§3.1.2): an empty Template-Attribute and nested attribute values', () => {
    const msg = decodeTtlv(REGISTER_REQUEST);
    const payload = at(msg, T.BatchItem, T.RequestPayload) as StructureItem;
    assert.deepEqual(at(payload, 0x420091 /* Template-Attribute */).value, []);
    const asi = findChildren(at(payload, 0x420090 /* Template */) as StructureItem, 0x420008)[1]!;
    assert.equal(at(asi, 0x42000b, 0x420003 /* Application Namespace */).value, 'ssl');
    assert.equal(at(asi, 0x42000b, 0x420002 /* Application Data */).value, 'www.example.com');
  });

  test('Locate request (§3.1.3): by Object Type and Name', () => {
    const msg = decodeTtlv(LOCATE_REQUEST);
    assert.equal(at(msg, T.BatchItem, T.Operation).value, 8); // Locate
    const payload = at(msg, T.BatchItem, T.RequestPayload) as StructureItem;
    const name = findChildren(payload, 0x420008)[1]!;
    assert.equal(at(name, 0x42000b, 0x420055 /* Name Value */).value, 'Key1');
  });

  test('Get response (§3.1.3): a 24-byte Triple-DES key of length 168', () => {
    const msg = decodeTtlv(GET_RESPONSE);
    const block = [T.BatchItem, T.ResponsePayload, T.SymmetricKey, T.KeyBlock];
    assert.equal(at(msg, ...block, T.KeyFormatType).value, 1); // Raw
    assert.deepEqual(
      at(msg, ...block, T.KeyValue, T.KeyMaterial).value,
      new Uint8Array(hex('73 67 57 80 51 01 2A 6D 13 4A 85 5E 25 C8 CD 5E 4C A1 31 45 57 29 D3 C8')),
    );
    assert.equal(at(msg, ...block, T.CryptographicAlgorithm).value, 2); // 3DES
    assert.equal(at(msg, ...block, T.CryptographicLength).value, 168);
  });

  test('failure response: Operation Failed / Invalid Message with a Result Message', () => {
    const msg = decodeTtlv(INVALID_MESSAGE_RESPONSE);
    assert.equal(at(msg, T.BatchItem, T.ResultStatus).value, 1);
    assert.equal(at(msg, T.BatchItem, 0x42007e /* Result Reason */).value, 4);
    assert.equal(at(msg, T.BatchItem, 0x42007d /* Result Message */).value, 'Default response. No operations supported.');
  });
});

describe('input views', () => {
  test('a plain Uint8Array and a view at a non-zero offset decode the same', () => {
    const expected = decodeTtlv(GET_RESPONSE);
    assert.deepEqual(decodeTtlv(new Uint8Array(GET_RESPONSE)), expected);
    const padded = new Uint8Array(GET_RESPONSE.length + 13);
    padded.set(GET_RESPONSE, 5);
    assert.deepEqual(decodeTtlv(padded.subarray(5, 5 + GET_RESPONSE.length)), expected);
  });
  test('decoded byte strings are copies: wiping the input leaves them intact', () => {
    const input = Buffer.from(GET_RESPONSE);
    const msg = decodeTtlv(input);
    input.fill(0);
    const key = at(msg, T.BatchItem, T.ResponsePayload, T.SymmetricKey, T.KeyBlock, T.KeyValue, T.KeyMaterial).value;
    assert.deepEqual(key, new Uint8Array(hex('73 67 57 80 51 01 2A 6D 13 4A 85 5E 25 C8 CD 5E 4C A1 31 45 57 29 D3 C8')));
    assert.ok(!(key instanceof Buffer));
  });
});

describe('encode output', () => {
  test('sets every byte itself (Buffer.allocUnsafe memory may hold stale data)', () => {
    const original = Buffer.allocUnsafe.bind(Buffer);
    Buffer.allocUnsafe = (size: number) => original(size).fill(0xa5);
    try {
      for (const { bytes } of KMIP_1_1_MESSAGES) assert.deepEqual(encodeTtlv(decodeTtlv(bytes)), bytes);
      assert.deepEqual(decodeTtlv(encodeTtlv(getResponseAes256())), getResponseAes256());
    } finally {
      Buffer.allocUnsafe = original;
    }
  });
});

describe('benchmark messages', () => {
  test('Get request is the §3.1.3 Get request with protocol version 1.4', () => {
    const wire = encodeTtlv(getRequest());
    const expected = Buffer.from(GET_REQUEST);
    expected[51] = 4; // Protocol Version Minor: item at offset 40, its 4-byte value at 48..51
    assert.deepEqual(wire, expected);
    assert.deepEqual(decodeTtlv(wire), getRequest());
  });
  test('Get response with an AES-256 key round-trips', () => {
    const wire = encodeTtlv(getResponseAes256());
    assert.deepEqual(decodeTtlv(wire), getResponseAes256());
    assert.equal((at(decodeTtlv(wire), T.BatchItem, T.ResponsePayload, T.SymmetricKey, T.KeyBlock, T.KeyValue, T.KeyMaterial).value as Uint8Array).length, 32);
  });
});
