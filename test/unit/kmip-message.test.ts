/**
 * Message model: header/batch item round trips (through binary TTLV too) and the
 * validation decodeRequest performs (KMIP 1.4 §7, §11.1; KMIP 2.1 §8).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bool, bytes, enumeration, int, structure, text } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import type { StructureItem, TtlvItem } from '@openkcm/ttlv';
import { KmipError } from '../../src/kmip/errors.js';
import {
  KMIP_1_4, KMIP_2_1, KmipRequestDecodeError, decodeRequest, decodeResponse, encodeProtocolVersion, encodeRequest,
  encodeResponse, requestMessage, responseMessage,
} from '../../src/kmip/message.js';
import type { RequestMessage, ResponseMessage } from '../../src/kmip/message.js';
import { AttestationType, BatchErrorContinuationOption, Operation, ResultReason, ResultStatus, Tag } from '../../src/kmip/registry.js';

const wire = (item: TtlvItem): TtlvItem => decodeTtlv(encodeTtlv(item));

const uidPayload: StructureItem = structure(Tag.RequestPayload, [text(Tag.UniqueIdentifier, 'k-1')]);

function fullRequest(): RequestMessage {
  return requestMessage({
    protocolVersion: KMIP_1_4,
    maximumResponseSize: 65536,
    clientCorrelationValue: 'client-1',
    serverCorrelationValue: 'server-1',
    asynchronousIndicator: false,
    attestationCapableIndicator: true,
    attestationTypes: [AttestationType.TPMQuote],
    authentication: structure(Tag.Authentication, [structure(Tag.Credential, [enumeration(Tag.CredentialType, 1)])]),
    batchErrorContinuationOption: BatchErrorContinuationOption.Continue,
    batchOrderOption: true,
    timeStamp: 1_700_000_000n,
  }, [
    { operation: Operation.Get, uniqueBatchItemId: new Uint8Array([1]), payload: uidPayload },
    {
      operation: Operation.Destroy,
      uniqueBatchItemId: new Uint8Array([2]),
      payload: uidPayload,
      messageExtensions: [structure(Tag.MessageExtension, [text(Tag.VendorIdentification, 'acme'), bool(Tag.CriticalityIndicator, false), structure(Tag.VendorExtension, [])])],
    },
  ]);
}

/** Hand-built request tree with `mutate` applied to the header/batch items. */
function rawRequest(opts: { header?: TtlvItem[] | null; items?: TtlvItem[][] } = {}): StructureItem {
  const header = opts.header === null ? [] : [structure(Tag.RequestHeader, opts.header ?? [encodeProtocolVersion(KMIP_2_1), int(Tag.BatchCount, 1)])];
  const items = (opts.items ?? [[enumeration(Tag.Operation, Operation.Query), structure(Tag.RequestPayload, [])]]).map((c) => structure(Tag.BatchItem, c));
  return structure(Tag.RequestMessage, [...header, ...items]);
}

function expectKmipError(fn: () => unknown, code: string, field?: string): KmipError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof KmipError, `expected KmipError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field);
    return e;
  }
  assert.fail(`expected KmipError ${code}`);
}

describe('request message', () => {
  test('every header and batch item field round-trips through binary TTLV', () => {
    const msg = fullRequest();
    assert.deepEqual(decodeRequest(wire(encodeRequest(msg))), msg);
  });

  test('2.x header: Asynchronous Indicator is an Enumeration, Ephemeral is kept', () => {
    const msg = requestMessage({ protocolVersion: KMIP_2_1, asynchronousIndicator: 1 }, [
      { operation: Operation.Activate, ephemeral: true, payload: uidPayload },
    ]);
    const tree = encodeRequest(msg);
    assert.deepEqual(decodeRequest(wire(tree)), msg);
  });

  test('header fields are written in spec order (KMIP 1.4 §7.2 Table 276)', () => {
    const header = encodeRequest(fullRequest()).value[0];
    assert.ok(header?.type === 0x01);
    assert.deepEqual(header.value.map((i) => i.tag), [
      Tag.ProtocolVersion, Tag.MaximumResponseSize, Tag.ClientCorrelationValue, Tag.ServerCorrelationValue,
      Tag.AsynchronousIndicator, Tag.AttestationCapableIndicator, Tag.AttestationType, Tag.Authentication,
      Tag.BatchErrorContinuationOption, Tag.BatchOrderOption, Tag.TimeStamp, Tag.BatchCount,
    ]);
  });

  test('a missing Request Payload decodes as undefined', () => {
    const msg = decodeRequest(rawRequest({ items: [[enumeration(Tag.Operation, Operation.Query)]] }));
    assert.equal(msg.batchItems[0]?.payload, undefined);
  });

  test('not a Request Message → INVALID_MESSAGE', () => {
    expectKmipError(() => decodeRequest(structure(Tag.ResponseMessage, [])), 'INVALID_MESSAGE');
    expectKmipError(() => decodeRequest(text(Tag.RequestMessage, 'x')), 'INVALID_MESSAGE');
  });

  test('missing Request Header → INVALID_MESSAGE', () => {
    expectKmipError(() => decodeRequest(rawRequest({ header: null })), 'INVALID_MESSAGE', 'Request Header');
  });

  test('missing Protocol Version or Batch Count → INVALID_MESSAGE naming the field', () => {
    expectKmipError(() => decodeRequest(rawRequest({ header: [int(Tag.BatchCount, 1)] })), 'INVALID_MESSAGE', 'Protocol Version');
    expectKmipError(() => decodeRequest(rawRequest({ header: [encodeProtocolVersion(KMIP_1_4)] })), 'INVALID_MESSAGE', 'Batch Count');
    expectKmipError(() => decodeRequest(rawRequest({ header: [structure(Tag.ProtocolVersion, [int(Tag.ProtocolVersionMajor, 1)]), int(Tag.BatchCount, 1)] })), 'INVALID_MESSAGE', 'Protocol Version Minor');
  });

  test('Batch Count that disagrees with the Batch Items → INVALID_MESSAGE', () => {
    const e = expectKmipError(() => decodeRequest(rawRequest({ header: [encodeProtocolVersion(KMIP_1_4), int(Tag.BatchCount, 2)] })), 'INVALID_MESSAGE', 'Batch Count');
    assert.ok(e instanceof KmipRequestDecodeError);
    assert.deepEqual(e.context.protocolVersion, KMIP_1_4);
  });

  test('no Batch Item → INVALID_MESSAGE', () => {
    expectKmipError(() => decodeRequest(rawRequest({ header: [encodeProtocolVersion(KMIP_1_4), int(Tag.BatchCount, 0)], items: [] })), 'INVALID_MESSAGE', 'Batch Item');
  });

  test('missing Operation → INVALID_MESSAGE; unknown Operation → OPERATION_NOT_SUPPORTED, with context', () => {
    expectKmipError(() => decodeRequest(rawRequest({ items: [[structure(Tag.RequestPayload, [])]] })), 'INVALID_MESSAGE', 'Operation');
    const e = expectKmipError(() => decodeRequest(rawRequest({
      items: [[enumeration(Tag.Operation, 0xfff), bytes(Tag.UniqueBatchItemID, new Uint8Array([7])), structure(Tag.RequestPayload, [])]],
    })), 'OPERATION_NOT_SUPPORTED', 'Operation');
    assert.ok(e instanceof KmipRequestDecodeError);
    assert.equal(e.context.batchItemIndex, 0);
    assert.deepEqual(e.context.uniqueBatchItemId, new Uint8Array([7]));
    assert.deepEqual(e.context.protocolVersion, KMIP_2_1);
  });

  test('wrong item type → INVALID_DATA_TYPE; a repeated header field → INVALID_MESSAGE', () => {
    expectKmipError(() => decodeRequest(rawRequest({ header: [encodeProtocolVersion(KMIP_2_1), text(Tag.BatchCount, '1')] })), 'INVALID_DATA_TYPE', 'Batch Count');
    expectKmipError(() => decodeRequest(rawRequest({ header: [encodeProtocolVersion(KMIP_2_1), int(Tag.BatchCount, 1), int(Tag.BatchCount, 1)] })), 'INVALID_MESSAGE', 'Batch Count');
    expectKmipError(() => decodeRequest(rawRequest({ items: [[enumeration(Tag.Operation, Operation.Get), text(Tag.RequestPayload, 'x')]] })), 'INVALID_MESSAGE', 'Request Payload');
  });
});

describe('response message', () => {
  function fullResponse(): ResponseMessage {
    return responseMessage({
      protocolVersion: KMIP_2_1,
      timeStamp: 1_700_000_001n,
      attestationTypes: [AttestationType.SAMLAssertion],
      clientCorrelationValue: 'c',
      serverCorrelationValue: 's',
    }, [
      { operation: Operation.Get, uniqueBatchItemId: new Uint8Array([1]), resultStatus: ResultStatus.Success, payload: structure(Tag.ResponsePayload, [text(Tag.UniqueIdentifier, 'k')]) },
      { operation: Operation.Destroy, uniqueBatchItemId: new Uint8Array([2]), resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.WrongKeyLifecycleState, resultMessage: 'active' },
      { operation: Operation.Encrypt, resultStatus: ResultStatus.OperationPending, asyncCorrelationValue: new Uint8Array([9, 9]) },
      // KMIP 1.4 §11.1: an unparseable item is answered without Operation.
      { resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.InvalidMessage },
    ]);
  }

  test('round-trips through binary TTLV', () => {
    const msg = fullResponse();
    assert.deepEqual(decodeResponse(wire(encodeResponse(msg))), msg);
  });

  test('batch item fields are written in spec order (KMIP 2.1 §8.6)', () => {
    const item = encodeResponse(fullResponse()).value[3]; // [0] is the header
    assert.ok(item?.type === 0x01);
    assert.deepEqual(item.value.map((i) => i.tag), [Tag.Operation, Tag.ResultStatus, Tag.AsynchronousCorrelationValue]);
  });

  test('validation: header, Time Stamp, Result Status, Batch Count', () => {
    const header = (items: TtlvItem[]): StructureItem => structure(Tag.ResponseMessage, [structure(Tag.ResponseHeader, items), structure(Tag.BatchItem, [enumeration(Tag.ResultStatus, 0)])]);
    expectKmipError(() => decodeResponse(structure(Tag.ResponseMessage, [])), 'INVALID_MESSAGE', 'Response Header');
    expectKmipError(() => decodeResponse(header([encodeProtocolVersion(KMIP_1_4), int(Tag.BatchCount, 1)])), 'INVALID_MESSAGE', 'Time Stamp');
    const msg = structure(Tag.ResponseMessage, [
      structure(Tag.ResponseHeader, [encodeProtocolVersion(KMIP_1_4), { tag: Tag.TimeStamp, type: 0x09, value: 1n }, int(Tag.BatchCount, 1)]),
      structure(Tag.BatchItem, [enumeration(Tag.Operation, Operation.Get)]),
    ]);
    expectKmipError(() => decodeResponse(msg), 'INVALID_MESSAGE', 'Result Status');
    const twoItems = structure(Tag.ResponseMessage, [
      structure(Tag.ResponseHeader, [encodeProtocolVersion(KMIP_1_4), { tag: Tag.TimeStamp, type: 0x09, value: 1n }, int(Tag.BatchCount, 2)]),
      structure(Tag.BatchItem, [enumeration(Tag.ResultStatus, 0)]),
    ]);
    expectKmipError(() => decodeResponse(twoItems), 'INVALID_MESSAGE', 'Batch Count');
  });
});
