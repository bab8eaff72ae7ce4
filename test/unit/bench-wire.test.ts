/**
 * The wire client's answer check (src/bench/load.ts scanResults): Result Status and Reason of
 * every Batch Item, read from TTLV headers alone (KMIP 1.4 §7.2, §9.1), must agree with the
 * full decoder for real response messages, and reject frames whose items overrun them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { scanResults } from '../../src/bench/load.js';
import { encodeResponse, KMIP_1_4, responseMessage } from '../../src/kmip/message.js';
import type { ResponseBatchItem } from '../../src/kmip/message.js';
import { Operation, ResultReason, ResultStatus, Tag } from '../../src/kmip/registry.generated.js';
import { text } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';

function frame(items: ResponseBatchItem[]): Buffer {
  return encodeTtlv(encodeResponse(responseMessage({ protocolVersion: KMIP_1_4, timeStamp: 1_700_000_000n }, items)));
}

describe('scanResults', () => {
  test('one successful Get with a payload', () => {
    const f = frame([{
      operation: Operation.Get, resultStatus: ResultStatus.Success,
      payload: { tag: Tag.ResponsePayload, type: ItemType.Structure, value: [text(Tag.UniqueIdentifier, 'a-key-with-an-odd-length')] },
    }]);
    assert.deepEqual(scanResults(f), [{ resultStatus: ResultStatus.Success }]);
  });
  test('a batch of three: success, failure with reason and message, success', () => {
    const f = frame([
      { operation: Operation.Encrypt, uniqueBatchItemId: Buffer.from('01', 'hex'), resultStatus: ResultStatus.Success },
      { operation: Operation.Encrypt, uniqueBatchItemId: Buffer.from('02', 'hex'), resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.ItemNotFound, resultMessage: 'no such key' },
      { operation: Operation.Encrypt, uniqueBatchItemId: Buffer.from('03', 'hex'), resultStatus: ResultStatus.Success },
    ]);
    assert.deepEqual(scanResults(f), [
      { resultStatus: ResultStatus.Success },
      { resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.ItemNotFound },
      { resultStatus: ResultStatus.Success },
    ]);
  });
  test('a truncated frame is rejected, not misread', () => {
    const f = frame([{ operation: Operation.Get, resultStatus: ResultStatus.Success }]);
    assert.throws(() => scanResults(f.subarray(0, f.length - 8)), /overruns/);
    assert.throws(() => scanResults(f.subarray(0, 4)), /shorter/);
  });
});
