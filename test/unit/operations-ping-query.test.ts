/**
 * Ping (KMIP 2.1 §6.1.36) through the real processor at every version, and the rule that Query Operations (KMIP 1.4
 * §4.25, 2.1 §6.1.40) claims exactly the operations the registry dispatches in the request's version: never an
 * operation the server does not do (issue 20), never one it does but hides.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { payloadCodec } from '../../src/kmip/payloads/index.js';
import { Operation, QueryFunction, ResultReason, ResultStatus, Tag } from '../../src/kmip/registry.js';
import type { KmipVersion } from '../../src/kmip/registry.js';
import { decodeResponse, encodeRequest, requestMessage } from '../../src/kmip/message.js';
import { struct } from '../../src/kmip/payloads/fields.js';
import { allHandlers, getHandler, handlerFor } from '../../src/operations/registry.js';
import type { OperationServices } from '../../src/operations/services.js';
import type { OperationHandler } from '../../src/operations/types.js';
import { newSession, processMessage } from '../../src/server/processor.js';
import { silentLogger } from '../../src/common/log.js';
import { decodeTtlv, encodeTtlv } from '@openkcm/ttlv';
import { Fixture, pv } from './operations-fixture.js';

const VERSIONS: readonly KmipVersion[] = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'];

describe('Ping', () => {
  test('2.1: Success with an empty response payload', async () => {
    const [item] = await new Fixture().wire([{ op: Operation.Ping, req: {} }], { version: '2.1' });
    assert.equal(item?.resultStatus, ResultStatus.Success, item?.resultMessage);
    assert.equal(item.operation, Operation.Ping);
    assert.deepEqual(item.payload?.value ?? [], []);
  });

  test('before 2.1 (1.x and 2.0, whose Operation enumeration has no Ping): Operation Not Supported', async () => {
    for (const version of ['1.0', '1.4', '2.0'] as const) {
      const [item] = await new Fixture().wire([{ op: Operation.Ping, req: {} }], { version });
      assert.equal(item?.resultStatus, ResultStatus.OperationFailed, version);
      assert.equal(item.resultReason, ResultReason.OperationNotSupported, version);
    }
  });

  test('in a batch with other operations it answers in place', async () => {
    const items = await new Fixture().wire([
      { op: Operation.Ping, req: {} },
      { op: Operation.Query, req: { queryFunctions: [QueryFunction.QueryOperations] } },
      { op: Operation.Ping, req: {} },
    ]);
    assert.deepEqual(items.map((i) => [i.operation, i.resultStatus]), [
      [Operation.Ping, ResultStatus.Success], [Operation.Query, ResultStatus.Success], [Operation.Ping, ResultStatus.Success],
    ]);
  });
});

describe('Query Operations equals the registry', () => {
  test('per version: listed ⇔ dispatched, each listed operation has a payload codec', async () => {
    const f = new Fixture();
    // Every value of the Operation enumeration (KMIP 2.1 §11.36), not only the registered ones.
    const everyOperation = Object.values(Operation);
    for (const version of VERSIONS) {
      const q = await f.call(Operation.Query, { queryFunctions: [QueryFunction.QueryOperations] }, { version });
      const listed = [...(q.operations ?? [])].sort((a, b) => a - b);
      const dispatched = everyOperation.filter((op) => handlerFor(op, version) !== undefined).sort((a, b) => a - b);
      assert.deepEqual(listed, dispatched, version);
      assert.equal(new Set(listed).size, listed.length, `${version}: an operation listed twice`);
      for (const op of listed) assert.ok(payloadCodec(op) !== undefined, `${version}: ${String(op)} listed without a codec`);
    }
    // Every registered handler is listed in at least one version.
    const ever = new Set<number>();
    for (const version of VERSIONS) {
      for (const op of (await f.call(Operation.Query, { queryFunctions: [QueryFunction.QueryOperations] }, { version })).operations ?? []) ever.add(op);
    }
    assert.deepEqual(ever, new Set(allHandlers().map((h) => h.operation)));
  });

  test('Ping is listed at 2.1 only', async () => {
    const f = new Fixture();
    for (const version of VERSIONS) {
      const q = await f.call(Operation.Query, { queryFunctions: [QueryFunction.QueryOperations] }, { version });
      assert.equal((q.operations ?? []).includes(Operation.Ping), version === '2.1', version);
    }
  });

  test('what the processor answers agrees: a listed operation is dispatched, an unlisted one is Operation Not Supported', async () => {
    const f = new Fixture();
    for (const version of ['1.4', '2.1'] as const) {
      const listed = new Set((await f.call(Operation.Query, { queryFunctions: [QueryFunction.QueryOperations] }, { version })).operations);
      // One request per operation of the enumeration, with an empty payload: a dispatched operation fails on its
      // payload (or succeeds), an undispatched one never gets that far.
      for (const op of Object.values(Operation)) {
        const msg = requestMessage({ protocolVersion: pv(version) }, [{ operation: op, payload: struct(Tag.RequestPayload, []) }]);
        const resp = await processMessage(decodeTtlv(encodeTtlv(encodeRequest(msg))), { identity: 'wire', tenant: 'alice' }, newSession(),
          { getHandler: getHandler as (o: number) => OperationHandler<unknown, unknown, OperationServices> | undefined, services: f.services, logger: silentLogger, now: () => f.now });
        const [item] = decodeResponse(decodeTtlv(encodeTtlv(resp))).batchItems;
        const notSupported = item?.resultReason === ResultReason.OperationNotSupported;
        assert.equal(notSupported, !listed.has(op), `${version}: operation ${String(op)} ${listed.has(op) ? 'listed but refused' : 'served but not listed'}`);
      }
    }
  });
});
