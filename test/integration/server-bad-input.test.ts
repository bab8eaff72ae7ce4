/**
 * The bad-input suite of issue 2 §8, over real mutual TLS, against both the tiny handler table
 * and the real operation registry: each hostile message gets its error response (or a clean
 * close), and the server still serves a healthy connection afterwards.
 *
 * Messages are built byte by byte (below) so that lengths can lie. Layout of every TTLV item
 * (KMIP 1.4 §9.1.1): 3-byte tag, 1-byte type, 4-byte big-endian length, value padded to 8.
 * A well-formed Discover Versions request at 2.1 decodes as:
 *   RequestMessage { RequestHeader { ProtocolVersion { Major 2, Minor 1 }, BatchCount 1 },
 *                    BatchItem { Operation DiscoverVersions, RequestPayload {} } }
 * Error replies (KMIP 1.4 §11.1, 2.1 §11.46): a TTLV error is Codec Error in 2.x, Invalid
 * Message in 1.x, in the version read from the message's fixed prefix, else in 1.0, and the
 * connection closes; a message that is TTLV but not a valid request is answered and the
 * connection stays open.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import { decodeResponse } from '../../src/kmip/message.js';
import type { ResponseMessage } from '../../src/kmip/message.js';
import { BatchErrorContinuationOption, Operation, ResultReason, ResultStatus, Tag } from '../../src/kmip/registry.generated.js';
import { rawConnect, startTestServer, tinyHandlers } from '../helpers/server.js';
import type { RawConnection, TestServer } from '../helpers/server.js';

// ---- a byte-level TTLV writer that can lie about lengths ----------------------------------------

function header(tag: number, type: number, len: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUIntBE(tag, 0, 3);
  b.writeUInt8(type, 3);
  b.writeUInt32BE(len >>> 0, 4);
  return b;
}

function pad(value: Buffer): Buffer {
  const rem = value.length % 8;
  return rem === 0 ? value : Buffer.concat([value, Buffer.alloc(8 - rem)]);
}

/** A primitive item; `len` overrides the true length. */
function prim(tag: number, type: number, value: Buffer, len = value.length): Buffer {
  return Buffer.concat([header(tag, type, len), pad(value)]);
}

function i32(tag: number, n: number, type: number = ItemType.Integer): Buffer {
  const v = Buffer.alloc(4);
  v.writeUInt32BE(n >>> 0);
  return prim(tag, type, v);
}

function st(tag: number, ...children: Buffer[]): Buffer {
  const body = Buffer.concat(children);
  return Buffer.concat([header(tag, ItemType.Structure, body.length), body]);
}

function version(major: number, minor: number): Buffer {
  return st(Tag.ProtocolVersion, i32(Tag.ProtocolVersionMajor, major), i32(Tag.ProtocolVersionMinor, minor));
}

function requestHeader(major: number, minor: number, batchCount: number, ...extra: Buffer[]): Buffer {
  return st(Tag.RequestHeader, version(major, minor), ...extra, i32(Tag.BatchCount, batchCount));
}

function discoverItem(payload: Buffer[] = []): Buffer {
  return st(Tag.BatchItem, i32(Tag.Operation, Operation.DiscoverVersions, ItemType.Enumeration), st(Tag.RequestPayload, ...payload));
}

/** A valid Discover Versions request (the health probe). */
function discover(major = 2, minor = 1): Buffer {
  return st(Tag.RequestMessage, requestHeader(major, minor, 1), discoverItem());
}

// ---- harness ---------------------------------------------------------------------------------------

function decode(frame: Buffer): ResponseMessage {
  return decodeResponse(decodeTtlv(frame));
}

function assertFailure(r: ResponseMessage, reason: number, pv: { major: number; minor: number }): void {
  assert.deepEqual(r.header.protocolVersion, pv);
  assert.equal(r.batchItems.length, 1);
  assert.equal(r.batchItems[0]?.resultStatus, ResultStatus.OperationFailed);
  assert.equal(r.batchItems[0].resultReason, reason, `Result Reason 0x${(r.batchItems[0].resultReason ?? 0).toString(16)}`);
}

async function probe(raw: RawConnection): Promise<void> {
  raw.send(discover());
  const r = decode(await raw.nextMessage());
  assert.equal(r.batchItems[0]?.resultStatus, ResultStatus.Success, 'Discover Versions works');
}

for (const registry of ['tiny handlers', 'operation registry'] as const) {
  describe(`bad input (${registry})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startTestServer(registry === 'tiny handlers' ? { getHandler: tinyHandlers(), services: { events: [] } } : {});
    });
    after(async () => { await srv.stop(); });

    /** Sends `bytes`; expects one error response, then close (fatal) or a working connection. */
    async function expectError(bytes: Buffer, reason: number, pv: { major: number; minor: number }, fatal: boolean): Promise<void> {
      const raw = await rawConnect(srv.clientOptions());
      raw.send(bytes);
      assertFailure(decode(await raw.nextMessage()), reason, pv);
      if (fatal) {
        await raw.closed;
      } else {
        await probe(raw);
        raw.destroy();
      }
      const fresh = await rawConnect(srv.clientOptions());
      await probe(fresh);
      fresh.destroy();
    }

    test('a well-formed request works (control)', async () => {
      const raw = await rawConnect(srv.clientOptions());
      await probe(raw);
      raw.destroy();
    });

    test('truncated: the client stops mid-message and half-closes → clean close, no response', async () => {
      const raw = await rawConnect(srv.clientOptions());
      const full = discover();
      raw.send(full.subarray(0, full.length - 13));
      raw.socket.end();
      await raw.closed;
      assert.equal(raw.received, 0);
      const fresh = await rawConnect(srv.clientOptions());
      await probe(fresh);
      fresh.destroy();
    });

    test('truncated: an inner item runs past its structure → Codec Error (2.1), close', async () => {
      // The Request Payload claims 16 bytes but the message ends after the Batch Item header.
      const item = Buffer.concat([header(Tag.BatchItem, ItemType.Structure, 32), i32(Tag.Operation, Operation.DiscoverVersions, ItemType.Enumeration), header(Tag.RequestPayload, ItemType.Structure, 16)]);
      await expectError(st(Tag.RequestMessage, requestHeader(2, 1, 1), item), ResultReason.CodecError, { major: 2, minor: 1 }, true);
    });

    test('a message length of 0xFFFFFFFF → Invalid Message in 1.0, close', async () => {
      await expectError(header(Tag.RequestMessage, ItemType.Structure, 0xffffffff), ResultReason.InvalidMessage, { major: 1, minor: 0 }, true);
    });

    test('an inner length of 0xFFFFFFFF → Invalid Message (1.4), close', async () => {
      const bad = Buffer.concat([header(Tag.Data, ItemType.ByteString, 0xffffffff), Buffer.alloc(8)]);
      await expectError(st(Tag.RequestMessage, requestHeader(1, 4, 1), discoverItem([bad])), ResultReason.InvalidMessage, { major: 1, minor: 4 }, true);
    });

    test('lengths that do not fit their type (Integer of 8 bytes, Boolean of 4) → Codec Error, close', async () => {
      const longInt = prim(Tag.BatchCount, ItemType.Integer, Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]));
      await expectError(st(Tag.RequestMessage, st(Tag.RequestHeader, version(2, 1), longInt), discoverItem()), ResultReason.CodecError, { major: 2, minor: 1 }, true);
      const shortBool = prim(Tag.BatchOrderOption, ItemType.Boolean, Buffer.from([0, 0, 0, 1]));
      await expectError(st(Tag.RequestMessage, requestHeader(2, 0, 1, shortBool), discoverItem()), ResultReason.CodecError, { major: 2, minor: 0 }, true);
    });

    test('nesting at the depth limit is decoded; one past it → Codec Error, close', async () => {
      // RequestMessage (1) > BatchItem (2) > RequestPayload (3) > nested structures.
      const nest = (levels: number): Buffer => {
        let inner = st(Tag.Attributes);
        for (let i = 1; i < levels; i++) inner = st(Tag.Attributes, inner);
        return inner;
      };
      const atLimit = st(Tag.RequestMessage, requestHeader(2, 1, 1), discoverItem([nest(64 - 3)]));
      const raw = await rawConnect(srv.clientOptions());
      raw.send(atLimit);
      const r = decode(await raw.nextMessage());
      assert.equal(r.batchItems.length, 1, 'answered, not refused as TTLV');
      await probe(raw);
      raw.destroy();
      await expectError(st(Tag.RequestMessage, requestHeader(2, 1, 1), discoverItem([nest(64 - 2)])), ResultReason.CodecError, { major: 2, minor: 1 }, true);
    });

    test('an unknown tag inside a payload is ignored (KMIP 1.4 §11.1); the request succeeds', async () => {
      const raw = await rawConnect(srv.clientOptions());
      raw.send(st(Tag.RequestMessage, requestHeader(1, 4, 1), discoverItem([i32(0x42ff00, 7)])));
      assert.equal(decode(await raw.nextMessage()).batchItems[0]?.resultStatus, ResultStatus.Success);
      await probe(raw);
      raw.destroy();
    });

    test('an unknown top-level tag → Invalid Message, connection stays open', async () => {
      await expectError(st(0x42ff00, requestHeader(2, 1, 1), discoverItem()), ResultReason.InvalidMessage, { major: 1, minor: 0 }, false);
    });

    test('a tag outside the KMIP and extension ranges → Invalid Message, close', async () => {
      await expectError(st(0x990001, i32(Tag.BatchCount, 1)), ResultReason.InvalidMessage, { major: 1, minor: 0 }, true);
    });

    test('a Batch Count that disagrees with the items → Invalid Message, connection stays open', async () => {
      await expectError(st(Tag.RequestMessage, requestHeader(2, 1, 2), discoverItem()), ResultReason.InvalidMessage, { major: 2, minor: 1 }, false);
      await expectError(st(Tag.RequestMessage, requestHeader(1, 2, 1), discoverItem(), discoverItem()), ResultReason.InvalidMessage, { major: 1, minor: 2 }, false);
    });

    test('unknown enumeration values: an Operation → Operation Not Supported; a Batch Error Continuation Option → Invalid Field', async () => {
      const unknownOp = st(Tag.BatchItem, i32(Tag.Operation, 0x7777, ItemType.Enumeration), st(Tag.RequestPayload));
      await expectError(st(Tag.RequestMessage, requestHeader(2, 1, 1), unknownOp), ResultReason.OperationNotSupported, { major: 2, minor: 1 }, false);
      const beco = i32(Tag.BatchErrorContinuationOption, 99, ItemType.Enumeration);
      await expectError(st(Tag.RequestMessage, requestHeader(1, 4, 2, beco), discoverItem(), discoverItem()), ResultReason.InvalidField, { major: 1, minor: 4 }, false);
      assert.ok(!(Object.values(BatchErrorContinuationOption) as number[]).includes(99));
    });

    test('a missing Request Header → Invalid Message in 1.0, connection stays open', async () => {
      await expectError(st(Tag.RequestMessage, discoverItem()), ResultReason.InvalidMessage, { major: 1, minor: 0 }, false);
    });

    test('an empty Request Message → Invalid Message, connection stays open', async () => {
      await expectError(st(Tag.RequestMessage), ResultReason.InvalidMessage, { major: 1, minor: 0 }, false);
    });

    test('pipelined: a valid request, then garbage → the valid one is answered first, then the error', async () => {
      const raw = await rawConnect(srv.clientOptions());
      raw.send(discover(1, 4));
      raw.send(st(Tag.RequestMessage, st(Tag.RequestHeader, version(1, 4), prim(Tag.BatchCount, ItemType.Integer, Buffer.alloc(8))), discoverItem()));
      assert.equal(decode(await raw.nextMessage()).batchItems[0]?.resultStatus, ResultStatus.Success);
      assertFailure(decode(await raw.nextMessage()), ResultReason.InvalidMessage, { major: 1, minor: 4 });
      await raw.closed;
    });
  });
}
