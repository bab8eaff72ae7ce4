/**
 * Test fixture for the operation handlers: services over a MemoryObjectStore with a settable
 * clock and predictable UIDs, direct handler calls (typed per operation), and whole-message
 * calls through the real processor, to see the Result Status / Reason that reach the wire.
 */
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import type { KmipAttribute } from '../../src/kmip/attributes.js';
import { KmipError } from '../../src/kmip/errors.js';
import type { KmipErrorCode } from '../../src/kmip/errors.js';
import { decodeResponse, encodeRequest, requestMessage } from '../../src/kmip/message.js';
import type { ProtocolVersion, ResponseBatchItem } from '../../src/kmip/message.js';
import { payloadCodec } from '../../src/kmip/payloads/index.js';
import type { CodedOperation, RequestOf, ResponseOf } from '../../src/kmip/payloads/index.js';
import { CryptographicAlgorithm, CryptographicUsageMask, NameType, ObjectType, Operation, Tag } from '../../src/kmip/registry.js';
import type { KmipVersion } from '../../src/kmip/registry.js';
import { getHandler } from '../../src/operations/registry.js';
import { createServices } from '../../src/operations/services.js';
import type { OperationsConfig, OperationServices } from '../../src/operations/services.js';
import { MemoryObjectStore } from '../../src/operations/model/store.js';
import type { OperationHandler, RequestContext, SessionState, UndoJournal } from '../../src/operations/types.js';
import { newSession, processMessage } from '../../src/server/processor.js';
import { silentLogger } from '../../src/common/log.js';
import { enumeration, text } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';

export const T0 = new Date('2024-01-01T00:00:00Z');

export function pv(v: KmipVersion): ProtocolVersion {
  return { major: Number(v[0]), minor: Number(v[2]) };
}

export interface CallOptions {
  readonly version?: KmipVersion;
  readonly tenant?: string;
  readonly session?: SessionState;
  readonly undo?: UndoJournal;
}

export class Fixture {
  now: Date = T0;
  readonly store = new MemoryObjectStore();
  readonly services: OperationServices;
  readonly session: SessionState = newSession();
  #uid = 0;

  constructor(config: Partial<OperationsConfig> = {}) {
    this.services = createServices({
      store: this.store,
      clock: () => this.now,
      newUid: () => `uid-${String(++this.#uid)}`,
      config,
    });
  }

  /** Moves the clock forward by `seconds`. */
  advance(seconds: number): void {
    this.now = new Date(this.now.getTime() + seconds * 1000);
  }

  ctx(opts: CallOptions = {}): RequestContext<OperationServices> {
    const version = opts.version ?? '2.1';
    return {
      protocolVersion: pv(version),
      version,
      principal: { identity: `client-of-${opts.tenant ?? 'alice'}`, tenant: opts.tenant ?? 'alice' },
      session: opts.session ?? this.session,
      services: this.services,
      now: this.now,
      ...(opts.undo === undefined ? {} : { undo: opts.undo }),
    };
  }

  /** Calls the registered handler of `op` directly. */
  call<Op extends CodedOperation>(op: Op, req: RequestOf<Op>, opts: CallOptions = {}): Promise<ResponseOf<Op>> {
    const h = getHandler(op) as OperationHandler<RequestOf<Op>, ResponseOf<Op>, OperationServices> | undefined;
    assert.ok(h !== undefined, `no handler for operation ${String(op)}`);
    // A handler may answer synchronously (issue 14); callers here always get a promise, and a synchronous throw becomes its rejection.
    return Promise.resolve().then(() => h.handle(this.ctx(opts), req));
  }

  /**
   * Sends one request message through the real processor (encode → decode → dispatch →
   * encode), as a client of `version` would, and returns its decoded batch items.
   */
  async wire(items: readonly { op: CodedOperation; req: object }[], opts: CallOptions & { undo?: never } = {}): Promise<ResponseBatchItem[]> {
    const version = opts.version ?? '2.1';
    const p = pv(version);
    const msg = requestMessage({ protocolVersion: p }, items.map(({ op, req }) => {
      const codec = payloadCodec(op);
      assert.ok(codec !== undefined);
      return { operation: op, payload: codec.encodeRequest(req, p) };
    }));
    const resp = await processMessage(decodeTtlv(encodeTtlv(encodeRequest(msg))),
      { identity: 'wire', tenant: opts.tenant ?? 'alice' }, opts.session ?? newSession(),
      { getHandler: getHandler as (op: number) => OperationHandler<unknown, unknown, OperationServices> | undefined, services: this.services, logger: silentLogger, now: () => this.now });
    return decodeResponse(decodeTtlv(encodeTtlv(resp))).batchItems;
  }

  /** Create an AES key; returns its UID. */
  async createKey(opts: CallOptions & { name?: string; mask?: number; length?: number; extra?: KmipAttribute[] } = {}): Promise<string> {
    const attributes = [
      makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES),
      makeAttribute('Cryptographic Length', opts.length ?? 128),
      makeAttribute('Cryptographic Usage Mask', opts.mask ?? (CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt)),
      ...(opts.name === undefined ? [] : [nameAttr(opts.name)]),
      ...(opts.extra ?? []),
    ];
    const r = await this.call(Operation.Create, { objectType: ObjectType.SymmetricKey, attributes }, opts);
    return r.uniqueIdentifier;
  }
}

export function nameAttr(value: string): KmipAttribute {
  return makeAttribute('Name', [text(Tag.NameValue, value), enumeration(Tag.NameType, NameType.UninterpretedTextString)]);
}

/** Asserts that `p` rejects with KmipError `code`. */
export async function rejectsWith(p: Promise<unknown>, code: KmipErrorCode): Promise<KmipError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof KmipError, `expected a KmipError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}
