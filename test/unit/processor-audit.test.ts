/**
 * The processor's audit hook (src/server/processor.ts ProcessorDeps.audit; issue 5): one event per answered batch
 * item — success, handler failure and a refusal by `authorize` before the payload is decoded — with the Unique
 * Identifier of the request, and a throwing hook never changes the answer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KmipError } from '../../src/kmip/errors.js';
import { decodeResponse, encodeRequest, requestMessage } from '../../src/kmip/message.js';
import type { ProtocolVersion, RequestBatchItem } from '../../src/kmip/message.js';
import { activatePayloads } from '../../src/kmip/payloads/activate.js';
import { BatchErrorContinuationOption, Operation, ResultStatus } from '../../src/kmip/registry.generated.js';
import { silentLogger } from '../../src/common/log.js';
import { newSession, processMessage } from '../../src/server/processor.js';
import type { KmipAuditEvent, ProcessorDeps } from '../../src/server/processor.js';
import { tinyHandlers } from '../helpers/server.js';
import type { TinyServices } from '../helpers/server.js';

const V14: ProtocolVersion = { major: 1, minor: 4 };
const AT = new Date(1_700_000_000_000);
const principal = { identity: 'cn-alice', tenant: 'alice' };

function activate(uid: string): RequestBatchItem {
  return { operation: Operation.Activate, payload: activatePayloads.encodeRequest({ uniqueIdentifier: uid }, V14) };
}

async function run(deps: ProcessorDeps<TinyServices>, items: RequestBatchItem[]): Promise<number[]> {
  const header = { protocolVersion: V14, batchErrorContinuationOption: BatchErrorContinuationOption.Continue };
  const r = decodeResponse(await processMessage(encodeRequest(requestMessage(header, items)), principal, newSession(), deps));
  return r.batchItems.map((b) => b.resultStatus);
}

test('one audit event per item: success, handler failure, and a refusal before decoding, each with its UID', async () => {
  const events: KmipAuditEvent[] = [];
  const deps: ProcessorDeps<TinyServices> = {
    getHandler: tinyHandlers(), services: { events: [] }, logger: silentLogger, now: () => AT,
    authorize: (_p, op) => { if (op === Operation.Activate && events.length === 2) throw new KmipError('PERMISSION_DENIED', 'no'); },
    audit: (e) => { events.push(e); },
  };
  const statuses = await run(deps, [activate('k1'), activate('fail'), activate('k3')]);
  assert.deepEqual(statuses, [ResultStatus.Success, ResultStatus.OperationFailed, ResultStatus.OperationFailed]);
  assert.deepEqual(events, [
    { principal: 'cn-alice', tenant: 'alice', operation: Operation.Activate, uid: 'k1', result: 'success', at: AT },
    { principal: 'cn-alice', tenant: 'alice', operation: Operation.Activate, uid: 'fail', result: 'ITEM_NOT_FOUND', at: AT },
    { principal: 'cn-alice', tenant: 'alice', operation: Operation.Activate, uid: 'k3', result: 'PERMISSION_DENIED', at: AT },
  ]);
});

test('a throwing audit hook does not change any answer', async () => {
  const deps: ProcessorDeps<TinyServices> = {
    getHandler: tinyHandlers(), services: { events: [] }, logger: silentLogger, now: () => AT,
    audit: () => { throw new Error('sink broken'); },
  };
  assert.deepEqual(await run(deps, [activate('a'), activate('fail')]), [ResultStatus.Success, ResultStatus.OperationFailed]);
  assert.deepEqual(deps.services.events, ['activate:a']);
});
