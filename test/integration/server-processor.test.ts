/**
 * The transport-independent processor (src/server/processor.ts), called directly: batches and
 * Batch Error Continuation Option (KMIP 1.4 §6.13, §11.43), Unique Batch Item ID echo (§6.15),
 * versions, Maximum Response Size (§6.3), message-level errors (§11.1) and internal errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { int, structure, text, enumeration } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { decodeResponse, encodeRequest, requestMessage } from '../../src/kmip/message.js';
import type { ProtocolVersion, RequestBatchItem, RequestHeader, ResponseMessage } from '../../src/kmip/message.js';
import { activatePayloads } from '../../src/kmip/payloads/activate.js';
import { rngRetrievePayloads } from '../../src/kmip/payloads/rng-retrieve.js';
import { BatchErrorContinuationOption, Operation, ResultReason, ResultStatus, Tag } from '../../src/kmip/registry.generated.js';
import { kmipVersionOf, newSession, processMessage, sniffProtocolVersion } from '../../src/server/processor.js';
import type { ProcessorDeps } from '../../src/server/processor.js';
import type { Logger } from '../../src/common/log.js';
import { tinyHandlers } from '../helpers/server.js';
import type { TinyServices } from '../helpers/server.js';

const V14: ProtocolVersion = { major: 1, minor: 4 };
const V21: ProtocolVersion = { major: 2, minor: 1 };
const principal = { identity: 'alice', tenant: 'alice' };

function deps(logged: string[] = []): ProcessorDeps<TinyServices> {
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (msg, fields) => { logged.push(`${msg} ${JSON.stringify(fields)}`); },
  };
  return { getHandler: tinyHandlers(), services: { events: [] }, logger, now: () => new Date(1_700_000_000_000) };
}

function activate(uid: string, pv: ProtocolVersion, id?: number): RequestBatchItem {
  const item: RequestBatchItem = { operation: Operation.Activate, payload: activatePayloads.encodeRequest({ uniqueIdentifier: uid }, pv) };
  if (id !== undefined) item.uniqueBatchItemId = new Uint8Array([id]);
  return item;
}

async function run(d: ProcessorDeps<TinyServices>, header: Omit<RequestHeader, 'batchCount'>, items: RequestBatchItem[]): Promise<ResponseMessage> {
  const resp = await processMessage(encodeRequest(requestMessage(header, items)), principal, newSession(), d);
  return decodeResponse(resp);
}

describe('processor: batches', () => {
  test('a single item succeeds; the header echoes the version, has a Time Stamp and Batch Count', async () => {
    const r = await run(deps(), { protocolVersion: V21 }, [activate('k1', V21)]);
    assert.deepEqual(r.header.protocolVersion, V21);
    assert.equal(r.header.timeStamp, 1_700_000_000n);
    assert.equal(r.header.batchCount, 1);
    assert.equal(r.batchItems[0]?.resultStatus, ResultStatus.Success);
    assert.equal(r.batchItems[0].operation, Operation.Activate);
  });

  test('Stop (the default): the failed item is the last one answered', async () => {
    const d = deps();
    const r = await run(d, { protocolVersion: V14 }, [activate('a', V14, 1), activate('fail', V14, 2), activate('c', V14, 3)]);
    assert.equal(r.batchItems.length, 2);
    assert.equal(r.header.batchCount, 2);
    assert.deepEqual(r.batchItems.map((b) => b.resultStatus), [ResultStatus.Success, ResultStatus.OperationFailed]);
    assert.equal(r.batchItems[1]?.resultReason, ResultReason.ItemNotFound);
    assert.deepEqual([...(r.batchItems[1].uniqueBatchItemId ?? [])], [2]);
    assert.deepEqual(d.services.events, ['activate:a']);
  });

  test('Continue: every item is answered, Unique Batch Item IDs echoed in order', async () => {
    const d = deps();
    const r = await run(d, { protocolVersion: V14, batchErrorContinuationOption: BatchErrorContinuationOption.Continue },
      [activate('a', V14, 1), activate('fail', V14, 2), activate('c', V14, 3)]);
    assert.deepEqual(r.batchItems.map((b) => b.resultStatus), [ResultStatus.Success, ResultStatus.OperationFailed, ResultStatus.Success]);
    assert.deepEqual(r.batchItems.map((b) => b.uniqueBatchItemId?.[0]), [1, 2, 3]);
    assert.deepEqual(d.services.events, ['activate:a', 'activate:c']);
  });

  test('Undo: earlier items are rolled back newest first and answered Operation Undone', async () => {
    const d = deps();
    const r = await run(d, { protocolVersion: V21, batchErrorContinuationOption: BatchErrorContinuationOption.Undo },
      [activate('a', V21, 1), activate('b', V21, 2), activate('fail', V21, 3), activate('d', V21, 4)]);
    assert.deepEqual(r.batchItems.map((b) => b.resultStatus), [ResultStatus.OperationUndone, ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    assert.ok(r.batchItems[0]?.payload !== undefined, 'undone items keep their payload (vector BL-M-2-21)');
    assert.deepEqual(d.services.events, ['activate:a', 'activate:b', 'undo:b', 'undo:a']);
  });

  test('Undo when everything succeeds: nothing is undone', async () => {
    const d = deps();
    const r = await run(d, { protocolVersion: V21, batchErrorContinuationOption: BatchErrorContinuationOption.Undo }, [activate('a', V21, 1), activate('b', V21, 2)]);
    assert.deepEqual(r.batchItems.map((b) => b.resultStatus), [ResultStatus.Success, ResultStatus.Success]);
    assert.deepEqual(d.services.events, ['activate:a', 'activate:b']);
  });

  test('the ID Placeholder is discarded at the start of each message', async () => {
    const session = newSession();
    session.idPlaceholder = 'left-over';
    await processMessage(encodeRequest(requestMessage({ protocolVersion: V14 }, [activate('a', V14)])), principal, session, deps());
    assert.equal(session.idPlaceholder, undefined);
  });
});

describe('processor: errors', () => {
  test('an internal error is General Failure with a fixed message, and is logged', async () => {
    const logged: string[] = [];
    const r = await run(deps(logged), { protocolVersion: V21 }, [activate('boom', V21)]);
    const item = r.batchItems[0];
    assert.equal(item?.resultStatus, ResultStatus.OperationFailed);
    assert.equal(item.resultReason, ResultReason.GeneralFailure);
    assert.doesNotMatch(item.resultMessage ?? '', /secret|00112233/);
    assert.equal(logged.length, 1);
  });

  test('an operation without handler is Operation Not Supported', async () => {
    const r = await run(deps(), { protocolVersion: V21 }, [{ operation: Operation.Create, payload: undefined }]);
    assert.equal(r.batchItems[0]?.resultReason, ResultReason.OperationNotSupported);
    assert.equal(r.batchItems[0].operation, Operation.Create);
  });

  test('an operation newer than the request version is Operation Not Supported (RNG Retrieve is 1.3+)', async () => {
    const pv = { major: 1, minor: 2 };
    const r = await run(deps(), { protocolVersion: pv }, [{ operation: Operation.RNGRetrieve, payload: rngRetrievePayloads.encodeRequest({ dataLength: 4 }, pv) }]);
    assert.equal(r.batchItems[0]?.resultReason, ResultReason.OperationNotSupported);
    const ok = await run(deps(), { protocolVersion: V14 }, [{ operation: Operation.RNGRetrieve, payload: rngRetrievePayloads.encodeRequest({ dataLength: 4 }, V14) }]);
    assert.equal(ok.batchItems[0]?.resultStatus, ResultStatus.Success);
  });

  test('a missing REQUIRED payload field is Missing Data, in the request version', async () => {
    const r = await run(deps(), { protocolVersion: V14 }, [{ operation: Operation.RNGRetrieve, payload: structure(Tag.RequestPayload, []) }]);
    assert.equal(r.batchItems[0]?.resultReason, ResultReason.MissingData);
  });

  test('Batch Count that disagrees: one batch item without Operation, Invalid Message, request version', async () => {
    const resp = await processMessage(encodeRequest({ header: { protocolVersion: V21, batchCount: 3 }, batchItems: [activate('a', V21)] }), principal, newSession(), deps());
    const r = decodeResponse(resp);
    assert.deepEqual(r.header.protocolVersion, V21);
    assert.equal(r.batchItems.length, 1);
    assert.equal(r.batchItems[0]?.resultReason, ResultReason.InvalidMessage);
  });

  test('a missing Request Header is Invalid Message in the fallback version 1.0', async () => {
    const msg: StructureItem = structure(Tag.RequestMessage, [structure(Tag.BatchItem, [enumeration(Tag.Operation, Operation.Activate)])]);
    const r = decodeResponse(await processMessage(msg, principal, newSession(), deps()));
    assert.deepEqual(r.header.protocolVersion, { major: 1, minor: 0 });
    assert.equal(r.batchItems[0]?.operation, undefined);
    assert.equal(r.batchItems[0]?.resultReason, ResultReason.InvalidMessage);
  });

  test('an unknown major version is rejected (2.x: Unsupported Protocol Version)', async () => {
    const pv = { major: 3, minor: 0 };
    const r1 = await run(deps(), { protocolVersion: pv }, [activate('a', V21)]);
    assert.equal(r1.batchItems[0]?.resultStatus, ResultStatus.OperationFailed);
    assert.equal(r1.batchItems[0].resultReason, ResultReason.UnsupportedProtocolVersion);
    const r0 = await run(deps(), { protocolVersion: { major: 0, minor: 9 } }, [activate('a', V21)]);
    assert.equal(r0.batchItems[0]?.resultReason, ResultReason.InvalidMessage);
  });

  test('an unknown minor version of a known major is served and echoed (KMIP 1.4 §11.1)', async () => {
    const pv = { major: 1, minor: 7 };
    assert.equal(kmipVersionOf(pv), '1.4');
    const r = await run(deps(), { protocolVersion: pv }, [activate('a', V14)]);
    assert.deepEqual(r.header.protocolVersion, pv);
    assert.equal(r.batchItems[0]?.resultStatus, ResultStatus.Success);
  });

  test('an unknown Operation value is Operation Not Supported, echoing the Unique Batch Item ID', async () => {
    const msg = encodeRequest({ header: { protocolVersion: V21, batchCount: 1 }, batchItems: [{ operation: 0x7777, uniqueBatchItemId: new Uint8Array([9]), payload: undefined }] });
    const r = decodeResponse(await processMessage(msg, principal, newSession(), deps()));
    assert.equal(r.batchItems[0]?.resultReason, ResultReason.OperationNotSupported);
    assert.deepEqual([...(r.batchItems[0].uniqueBatchItemId ?? [])], [9]);
  });

  test('a critical Message Extension fails the item (2.x: Unknown Message Extension)', async () => {
    const item = activate('a', V21);
    item.messageExtensions = [structure(Tag.MessageExtension, [text(Tag.VendorIdentification, 'x'), { tag: Tag.CriticalityIndicator, type: 0x06, value: true }, structure(Tag.VendorExtension, [])])];
    const r = await run(deps(), { protocolVersion: V21 }, [item]);
    assert.equal(r.batchItems[0]?.resultReason, ResultReason.UnknownMessageExtension);
  });
});

describe('processor: Maximum Response Size', () => {
  const get = (n: number, pv: ProtocolVersion): RequestBatchItem => ({ operation: Operation.RNGRetrieve, payload: rngRetrievePayloads.encodeRequest({ dataLength: n }, pv) });

  test('at the limit the response is sent; one byte less is Response Too Large', async () => {
    const full = await processMessage(encodeRequest(requestMessage({ protocolVersion: V14 }, [get(100, V14)])), principal, newSession(), deps());
    const size = encodeTtlv(full).length;
    const atLimit = await run(deps(), { protocolVersion: V14, maximumResponseSize: size }, [get(100, V14)]);
    assert.equal(atLimit.batchItems[0]?.resultStatus, ResultStatus.Success);
    const over = await run(deps(), { protocolVersion: V14, maximumResponseSize: size - 1 }, [get(100, V14)]);
    assert.equal(over.batchItems[0]?.resultStatus, ResultStatus.OperationFailed);
    assert.equal(over.batchItems[0].resultReason, ResultReason.ResponseTooLarge);
    assert.equal(over.batchItems[0].operation, Operation.RNGRetrieve);
  });
});

describe('processor: sniffProtocolVersion', () => {
  test('reads the version from the fixed prefix of a request, else undefined', () => {
    const bytes = encodeTtlv(encodeRequest(requestMessage({ protocolVersion: { major: 2, minor: 0 } }, [activate('a', V21)])));
    assert.deepEqual(sniffProtocolVersion(bytes), { major: 2, minor: 0 });
    assert.equal(sniffProtocolVersion(bytes.subarray(0, 40)), undefined);
    const other = encodeTtlv(structure(Tag.RequestMessage, [int(Tag.BatchCount, 1), int(Tag.BatchCount, 1), int(Tag.BatchCount, 1), int(Tag.BatchCount, 1)]));
    assert.equal(sniffProtocolVersion(other), undefined);
  });
});
