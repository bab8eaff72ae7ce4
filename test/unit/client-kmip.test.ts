/**
 * KmipClient (src/client/client.ts) against an in-process fake KMIP server over mutual TLS.
 * The fake decodes real Request Messages with the message model and answers with Response
 * Messages it builds per test, so each test controls exactly what a server says: order of
 * batch items, Unique Batch Item IDs, failures, versions, malformed payloads.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { KmipClient, op } from '../../src/client/client.js';
import type { KmipClientOptions } from '../../src/client/client.js';
import { KmipClientError } from '../../src/client/errors.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import { decodeRequest, encodeProtocolVersion, encodeResponse, responseMessage } from '../../src/kmip/message.js';
import type { ProtocolVersion, RequestMessage, ResponseBatchItem, ResponseMessage } from '../../src/kmip/message.js';
import { activatePayloads } from '../../src/kmip/payloads/activate.js';
import { getPayloads } from '../../src/kmip/payloads/get.js';
import { destroyPayloads } from '../../src/kmip/payloads/destroy.js';
import {
  CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation, ResultReason, ResultStatus, Tag,
} from '../../src/kmip/registry.generated.js';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { TtlvFramer } from '@openkcm/ttlv';
import { enumeration, structure, text } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import { testPki } from '../helpers/pki.js';
import type { TestPki } from '../helpers/pki.js';

type Handler = (req: RequestMessage) => ResponseMessage | Buffer | undefined;

interface Fake {
  port: number;
  requests: RequestMessage[];
  close(): Promise<void>;
}

/** `chunk`: write each response in pieces of this many bytes (framing test). */
async function startFake(pki: TestPki, handler: Handler, chunk = 0): Promise<Fake> {
  const sockets = new Set<tls.TLSSocket>();
  const requests: RequestMessage[] = [];
  const server = tls.createServer({
    key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: true,
  }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    const framer = new TtlvFramer();
    sock.on('data', (data: Buffer) => {
      for (const f of framer.push(data)) {
        const req = decodeRequest(decodeTtlv(f));
        requests.push(req);
        const resp = handler(req);
        if (resp === undefined) continue;
        const bytes = Buffer.isBuffer(resp) ? resp : encodeTtlv(encodeResponse(resp));
        if (chunk <= 0) sock.write(bytes);
        else for (let i = 0; i < bytes.length; i += chunk) sock.write(bytes.subarray(i, i + chunk));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => { r(); }); }),
  };
}

const NOW = 1_700_000_000n;

function respond(req: RequestMessage, items: ResponseBatchItem[], version: ProtocolVersion = req.header.protocolVersion): ResponseMessage {
  return responseMessage({ protocolVersion: version, timeStamp: NOW }, items);
}

function payload(items: Parameters<typeof structure>[1]): StructureItem {
  return structure(Tag.ResponsePayload, items);
}

/** Success item echoing operation, Unique Batch Item ID and the request's Unique Identifier. */
function echoUid(req: RequestMessage, i: number): ResponseBatchItem {
  const b = req.batchItems[i]!;
  const uidItem = b.payload?.value.find((c) => c.tag === Tag.UniqueIdentifier);
  const out: ResponseBatchItem = {
    operation: b.operation,
    resultStatus: ResultStatus.Success,
    payload: payload([text(Tag.UniqueIdentifier, uidItem?.type === ItemType.TextString ? uidItem.value : 'none')]),
  };
  if (b.uniqueBatchItemId !== undefined) out.uniqueBatchItemId = b.uniqueBatchItemId;
  return out;
}

function failed(req: RequestMessage, i: number, reason: number, message: string): ResponseBatchItem {
  const b = req.batchItems[i]!;
  const out: ResponseBatchItem = { operation: b.operation, resultStatus: ResultStatus.OperationFailed, resultReason: reason, resultMessage: message };
  if (b.uniqueBatchItemId !== undefined) out.uniqueBatchItemId = b.uniqueBatchItemId;
  return out;
}

let pki: TestPki;
before(async () => { pki = await testPki(); });

function connect(port: number, extra: Partial<KmipClientOptions> = {}): Promise<KmipClient> {
  return KmipClient.connect({
    host: '127.0.0.1', port, ca: pki.ca.certPem, cert: pki.client.certPem, key: pki.client.keyPem, protocolVersion: '1.4', ...extra,
  });
}

/** A Discover Versions responder offering `versions`; everything else echoes its Unique Identifier. */
function versionServer(versions: ProtocolVersion[]): Handler {
  return (req) => {
    if (req.batchItems[0]?.operation === Operation.DiscoverVersions) {
      return respond(req, [{ operation: Operation.DiscoverVersions, resultStatus: ResultStatus.Success, payload: payload(versions.map(encodeProtocolVersion)) }]);
    }
    if (req.batchItems[0]?.operation === Operation.Create) {
      return respond(req, [{
        operation: Operation.Create, resultStatus: ResultStatus.Success,
        payload: payload([enumeration(Tag.ObjectType, ObjectType.SymmetricKey), text(Tag.UniqueIdentifier, 'key-1')]),
      }]);
    }
    return respond(req, req.batchItems.map((_, i) => echoUid(req, i)));
  };
}

describe('KmipClient version negotiation', () => {
  test('Discover Versions lists our versions highest first and the highest common one is used', async () => {
    const fake = await startFake(pki, versionServer([{ major: 2, minor: 0 }, { major: 1, minor: 4 }, { major: 1, minor: 2 }]));
    try {
      const client = await connect(fake.port, { protocolVersion: 'negotiate' });
      assert.deepEqual(client.protocolVersion, { major: 2, minor: 0 });
      const dv = fake.requests[0]!;
      assert.deepEqual(dv.header.protocolVersion, { major: 1, minor: 1 });
      const listed = dv.batchItems[0]!.payload!.value.map((pv) => (pv as StructureItem).value.map((c) => String(c.value as number)).join('.'));
      assert.deepEqual(listed, ['2.1', '2.0', '1.4', '1.3', '1.2', '1.1', '1.0']);

      // Later requests carry 2.0 and use the 2.x attribute form (Attributes, not Template-Attribute).
      const uid = await client.createSymmetricKey({ algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt });
      assert.equal(uid, 'key-1');
      const create = fake.requests[1]!;
      assert.deepEqual(create.header.protocolVersion, { major: 2, minor: 0 });
      const tags = create.batchItems[0]!.payload!.value.map((c) => c.tag);
      assert.ok(tags.includes(Tag.Attributes));
      assert.ok(!tags.includes(Tag.TemplateAttribute));
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('acceptVersions limits the choice', async () => {
    const fake = await startFake(pki, versionServer([{ major: 2, minor: 0 }, { major: 1, minor: 4 }]));
    try {
      const client = await connect(fake.port, { protocolVersion: 'negotiate', acceptVersions: ['1.4', '1.2'] });
      assert.deepEqual(client.protocolVersion, { major: 1, minor: 4 });
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('no common version fails the connect with VERSION_NEGOTIATION_FAILED', async () => {
    const fake = await startFake(pki, versionServer([]));
    try {
      await assert.rejects(connect(fake.port, { protocolVersion: 'negotiate' }), (e: unknown) =>
        e instanceof KmipClientError && e.code === 'VERSION_NEGOTIATION_FAILED');
    } finally {
      await fake.close();
    }
  });

  test('a KMIP 1.0 server (Operation Not Supported) is spoken to in 1.0', async () => {
    const fake = await startFake(pki, (req) => respond(req, [failed(req, 0, ResultReason.OperationNotSupported, 'unknown operation')]));
    try {
      const client = await connect(fake.port, { protocolVersion: 'negotiate' });
      assert.deepEqual(client.protocolVersion, { major: 1, minor: 0 });
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('a fixed version is used without Discover Versions', async () => {
    const fake = await startFake(pki, versionServer([]));
    try {
      const client = await connect(fake.port, { protocolVersion: '1.2' });
      assert.equal(await client.activate('k'), 'k');
      assert.equal(fake.requests.length, 1);
      assert.deepEqual(fake.requests[0]!.header.protocolVersion, { major: 1, minor: 2 });
      await client.close();
    } finally {
      await fake.close();
    }
  });
});

describe('KmipClient results and batches', () => {
  test('pipelined typed calls each get their own answer', async () => {
    const fake = await startFake(pki, (req) => respond(req, [echoUid(req, 0)]));
    try {
      const client = await connect(fake.port);
      const ids = Array.from({ length: 40 }, (_, i) => `obj-${i}`);
      const answers = await Promise.all(ids.map((id) => client.activate(id)));
      assert.deepEqual(answers, ids);
      // Single-item messages carry no Unique Batch Item ID (only REQUIRED when Batch Count > 1).
      assert.ok(fake.requests.every((r) => r.batchItems.length === 1 && r.batchItems[0]!.uniqueBatchItemId === undefined));
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('responses written 3 bytes at a time are reassembled and decoded', async () => {
    const fake = await startFake(pki, (req) => respond(req, [echoUid(req, 0)]), 3);
    try {
      const client = await connect(fake.port);
      assert.deepEqual(await Promise.all([client.activate('a'), client.destroy('b')]), ['a', 'b']);
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('a failed item raises KmipResultError with status, reason, message and operation', async () => {
    const fake = await startFake(pki, (req) => respond(req, [failed(req, 0, ResultReason.ItemNotFound, 'no such object')]));
    try {
      const client = await connect(fake.port);
      await assert.rejects(client.get('missing'), (e: unknown) => {
        assert.ok(e instanceof KmipResultError);
        assert.equal(e.resultStatus, ResultStatus.OperationFailed);
        assert.equal(e.resultReason, ResultReason.ItemNotFound);
        assert.equal(e.resultMessage, 'no such object');
        assert.equal(e.operation, Operation.Get);
        return true;
      });
      // A result error does not hurt the connection.
      assert.equal(client.isClosed, false);
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('a batch gets distinct Unique Batch Item IDs and answers are matched by ID, not position', async () => {
    // The server answers in REVERSE order; item 1 fails.
    const fake = await startFake(pki, (req) => respond(req, req.batchItems.map((_, i) =>
      i === 1 ? failed(req, i, ResultReason.PermissionDenied, 'not yours') : echoUid(req, i)).reverse()));
    try {
      const client = await connect(fake.port);
      const [a, b, c] = await client.batch([
        op(activatePayloads, { uniqueIdentifier: 'first' }),
        op(destroyPayloads, { uniqueIdentifier: 'second' }),
        op(activatePayloads, { uniqueIdentifier: 'third' }),
      ], { errorContinuation: 'continue' });
      assert.deepEqual(a, { status: 'fulfilled', value: { uniqueIdentifier: 'first' } });
      assert.equal(b.status, 'rejected');
      assert.ok(b.reason instanceof KmipResultError);
      assert.equal(b.reason.operation, Operation.Destroy);
      assert.equal(b.reason.resultReason, ResultReason.PermissionDenied);
      assert.deepEqual(c, { status: 'fulfilled', value: { uniqueIdentifier: 'third' } });

      const req = fake.requests[0]!;
      assert.equal(req.header.batchCount, 3);
      assert.equal(req.header.batchErrorContinuationOption, 1 /* Continue */);
      const ids = req.batchItems.map((it) => Buffer.from(it.uniqueBatchItemId!).toString('hex'));
      assert.equal(new Set(ids).size, 3);
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('after a failure with Stop, unanswered items are reported as not processed', async () => {
    const fake = await startFake(pki, (req) => respond(req, [echoUid(req, 0), failed(req, 1, ResultReason.ItemNotFound, 'gone')]));
    try {
      const client = await connect(fake.port);
      const out = await client.batch([
        op(activatePayloads, { uniqueIdentifier: 'x' }),
        op(getPayloads, { uniqueIdentifier: 'y' }),
        op(activatePayloads, { uniqueIdentifier: 'z' }),
      ], { errorContinuation: 'stop' });
      assert.deepEqual(out.map((o) => o.status), ['fulfilled', 'rejected', 'rejected']);
      const third = out[2];
      assert.ok(third.status === 'rejected' && third.reason instanceof KmipClientError && /not processed/.test(third.reason.message));
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('a message-level error (one item without Operation) fails every item of the batch', async () => {
    const fake = await startFake(pki, (req) => respond(req, [{
      resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.InvalidMessage, resultMessage: 'cannot parse',
    }]));
    try {
      const client = await connect(fake.port);
      const out = await client.batch([op(activatePayloads, { uniqueIdentifier: 'a' }), op(activatePayloads, { uniqueIdentifier: 'b' })]);
      for (const o of out) {
        assert.ok(o.status === 'rejected' && o.reason instanceof KmipResultError && o.reason.resultReason === ResultReason.InvalidMessage);
      }
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('an answer with an unknown Unique Batch Item ID is a RESPONSE_MISMATCH', async () => {
    const fake = await startFake(pki, (req) => respond(req, req.batchItems.map((_, i) => ({ ...echoUid(req, i), uniqueBatchItemId: Uint8Array.of(9, 9, i) }))));
    try {
      const client = await connect(fake.port);
      await assert.rejects(client.batch([op(activatePayloads, { uniqueIdentifier: 'a' }), op(activatePayloads, { uniqueIdentifier: 'b' })]),
        (e: unknown) => e instanceof KmipClientError && e.code === 'RESPONSE_MISMATCH');
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('an answer for a different operation is a RESPONSE_MISMATCH', async () => {
    const fake = await startFake(pki, (req) => respond(req, [{ ...echoUid(req, 0), operation: Operation.Destroy }]));
    try {
      const client = await connect(fake.port);
      await assert.rejects(client.activate('a'), (e: unknown) => e instanceof KmipClientError && e.code === 'RESPONSE_MISMATCH');
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('a well-framed message that is not a Response Message is a PROTOCOL_ERROR', async () => {
    const bogus = encodeTtlv(structure(Tag.RequestMessage, [text(Tag.UniqueIdentifier, 'x')]));
    const fake = await startFake(pki, () => bogus);
    try {
      const client = await connect(fake.port);
      await assert.rejects(client.activate('a'), (e: unknown) => e instanceof KmipClientError && e.code === 'PROTOCOL_ERROR');
      client.abort();
    } finally {
      await fake.close();
    }
  });

  test('a response payload missing a REQUIRED field is a PROTOCOL_ERROR naming the operation', async () => {
    const fake = await startFake(pki, (req) => respond(req, [{ operation: Operation.Activate, resultStatus: ResultStatus.Success, payload: payload([]) }]));
    try {
      const client = await connect(fake.port);
      await assert.rejects(client.activate('a'), (e: unknown) =>
        e instanceof KmipClientError && e.code === 'PROTOCOL_ERROR' && e.message.includes('Activate'));
      await client.close();
    } finally {
      await fake.close();
    }
  });

  test('sendBatch sends an empty Request Payload when none is given (KMIP requires one)', async () => {
    const fake = await startFake(pki, (req) => respond(req, [{ operation: Operation.Query, resultStatus: ResultStatus.Success, payload: payload([]) }]));
    try {
      const client = await connect(fake.port);
      const [item] = await client.sendBatch([{ operation: Operation.Query }]);
      assert.equal(item?.resultStatus, ResultStatus.Success);
      const sent = fake.requests[0]!.batchItems[0]!.payload;
      assert.equal(sent?.tag, Tag.RequestPayload);
      assert.equal(sent.value.length, 0);
      await client.close();
    } finally {
      await fake.close();
    }
  });
});
