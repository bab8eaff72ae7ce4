/**
 * The processor's fairness limits (issue 15 item 5; docs/security.md threat model): `maxBatchItems` refuses a message
 * with more batch items than allowed, before any item runs, with Server Limit Exceeded (2.x) or General Failure (1.x,
 * which has no such reason); and a long batch gives the event loop back every BATCH_YIELD_SLICE_MS, so another
 * connection's work runs between its items instead of after the whole message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeResponse, encodeRequest, requestMessage } from '../../src/kmip/message.js';
import type { ProtocolVersion, RequestBatchItem } from '../../src/kmip/message.js';
import { activatePayloads } from '../../src/kmip/payloads/activate.js';
import { Operation, ResultReason, ResultStatus } from '../../src/kmip/registry.generated.js';
import { silentLogger } from '../../src/common/log.js';
import { BATCH_YIELD_SLICE_MS, DEFAULT_MAX_BATCH_ITEMS, newSession, processMessage } from '../../src/server/processor.js';
import type { ProcessorDeps } from '../../src/server/processor.js';
import type { OperationHandler } from '../../src/operations/types.js';
import { tinyHandlers } from '../helpers/server.js';
import type { TinyServices } from '../helpers/server.js';

const V21: ProtocolVersion = { major: 2, minor: 1 };
const V14: ProtocolVersion = { major: 1, minor: 4 };
const principal = { identity: 'cn-a', tenant: 'a' };

function activate(uid: string, pv: ProtocolVersion): RequestBatchItem {
  return { operation: Operation.Activate, payload: activatePayloads.encodeRequest({ uniqueIdentifier: uid }, pv) };
}

async function run(deps: ProcessorDeps<TinyServices>, pv: ProtocolVersion, n: number): Promise<{ status: number; reason?: number | undefined }[]> {
  const items = Array.from({ length: n }, (_, i) => activate(`k${String(i)}`, pv));
  const r = decodeResponse(await processMessage(encodeRequest(requestMessage({ protocolVersion: pv }, items)), principal, newSession(), deps));
  return r.batchItems.map((b) => ({ status: b.resultStatus, reason: b.resultReason }));
}

test('maxBatchItems: a message at the limit runs every item; one past it runs none and gets one Server Limit Exceeded item', async () => {
  assert.equal(DEFAULT_MAX_BATCH_ITEMS, 1024);
  const deps: ProcessorDeps<TinyServices> = { getHandler: tinyHandlers(), services: { events: [] }, logger: silentLogger, maxBatchItems: 3 };
  const atLimit = await run(deps, V21, 3);
  assert.deepEqual(atLimit.map((x) => x.status), [ResultStatus.Success, ResultStatus.Success, ResultStatus.Success]);
  assert.equal(deps.services.events.length, 3);
  const past = await run(deps, V21, 4);
  assert.deepEqual(past, [{ status: ResultStatus.OperationFailed, reason: ResultReason.ServerLimitExceeded }]);
  assert.equal(deps.services.events.length, 3, 'no item of the refused message ran');
  // KMIP 1.x has no Server Limit Exceeded: General Failure (src/kmip/errors.ts SERVER_LIMIT_EXCEEDED).
  assert.deepEqual(await run(deps, V14, 4), [{ status: ResultStatus.OperationFailed, reason: ResultReason.GeneralFailure }]);
  // The default applies when the server passes none.
  const byDefault: ProcessorDeps<TinyServices> = { getHandler: tinyHandlers(), services: { events: [] }, logger: silentLogger };
  assert.equal((await run(byDefault, V21, DEFAULT_MAX_BATCH_ITEMS + 1)).length, 1);
});

test('a batch whose items each run past the yield slice gives the event loop back between them', async () => {
  // Each Activate busy-works for twice the slice, synchronously, as a CPU-bound handler would.
  const base = tinyHandlers();
  let ran = 0;
  const slow: OperationHandler = {
    operation: Operation.Activate, since: '1.0', mutating: false,
    handle: (_ctx, req: { uniqueIdentifier?: string }) => {
      const until = performance.now() + 2 * BATCH_YIELD_SLICE_MS;
      while (performance.now() < until) { /* CPU-bound item */ }
      ran++;
      return { uniqueIdentifier: req.uniqueIdentifier ?? '' };
    },
  };
  const deps: ProcessorDeps<TinyServices> = {
    getHandler: (op) => (op === Operation.Activate ? slow : base(op)),
    services: { events: [] }, logger: silentLogger,
  };
  // Another connection's work, queued before the batch starts: it must run before the batch's last item.
  let ranBeforeOther = -1;
  setImmediate(() => { ranBeforeOther = ran; });
  const statuses = await run(deps, V21, 10);
  assert.equal(statuses.length, 10);
  assert.ok(ranBeforeOther >= 0 && ranBeforeOther < 10, `the other work ran after ${String(ranBeforeOther)} of 10 items`);
});
