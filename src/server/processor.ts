/**
 * The ONE transport-independent entry point of the KMIP server (ARCHITECTURE §4, Cosmian
 * habit "both transports call the same core"): a decoded TTLV Request Message in, a TTLV
 * Response Message out. The TLS connection (src/server/connection.ts) and any future
 * transport (HTTP, the conformance harness) call {@link processMessage}; it never sees
 * sockets or bytes, and it never throws — every failure becomes a response.
 *
 * Per message (KMIP 1.4 §6-7, 2.1 §8-9):
 * - decodeRequest; a malformed message is answered with a header and ONE batch item without
 *   Operation, Result Status Operation Failed (KMIP 1.4 §11.1 "Message cannot be parsed"),
 *   in the client's protocol version when it could be read;
 * - protocol version: major 1 and 2 are served; an unknown minor of a known major is served
 *   as the highest minor we know ("Same major version, different minor versions: ignore
 *   unknown fields, process rest normally", KMIP 1.4 §11.1); another major is a "protocol
 *   major version mismatch" (Invalid Message in 1.x, Unsupported Protocol Version in 2.x);
 * - batch items run one after another in message order (which also satisfies Batch Order
 *   Option, KMIP 1.4 §6.12), with Batch Error Continuation Option (KMIP 1.4 §6.13, §11.43):
 *   Stop (the default), Continue, and Undo: mutating handlers record compensating steps
 *   in ctx.undo, run newest first when a later item fails;
 * - the ID Placeholder is discarded at the start of every message ("only valid and preserved
 *   during the execution of a batch", KMIP 1.4 §4 preamble); handlers maintain it inside it;
 * - Unique Batch Item ID is echoed (KMIP 1.4 §6.15); the response header carries the
 *   request's Protocol Version, a Time Stamp and the Batch Count (KMIP 1.4 §7.2 Table 279);
 * - Maximum Response Size (KMIP 1.4 §6.3): an oversized response has its payload-carrying
 *   items replaced by Response Too Large failures;
 * - every error becomes Result Status Operation Failed + the Result Reason of the catalog
 *   for the request's version (src/kmip/errors.ts resultReasonFor) + a Result Message;
 *   errors that are not KmipErrors become General Failure with a fixed message (nothing
 *   internal leaks) and are logged.
 */
import { performance } from 'node:perf_hooks';
import { encodeTtlv, encodeTtlvWithin, measureTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem, TtlvItem } from '@openkcm/ttlv';
import { KMIP_ERROR_CATALOG, KmipError, resultReasonFor, toKmipError } from '../kmip/errors.js';
import type { KmipErrorCode } from '../kmip/errors.js';
import { decodeRequest, encodeResponse, KMIP_1_0, KmipRequestDecodeError, responseMessage } from '../kmip/message.js';
import type { ProtocolVersion, RequestBatchItem, RequestMessage, ResponseBatchItem, ResponseMessage } from '../kmip/message.js';
import { payloadCodec } from '../kmip/payloads/index.js';
import type { PayloadCodec } from '../kmip/payloads/codec.js';
import { BatchErrorContinuationOption, ResultStatus, Tag } from '../kmip/registry.generated.js';
import type { KmipVersion } from '../kmip/registry.generated.js';
import { enumValueExistsIn } from '../kmip/registry.js';
import type { OperationHandler, Principal, RequestContext, SessionState, UndoJournal } from '../operations/types.js';
import { describeError, logEnabled } from '../common/log.js';
import type { Logger } from '../common/log.js';

/** Every protocol version the server speaks, lowest first (also the Discover Versions answer, reversed). */
export const SERVER_KMIP_VERSIONS: readonly KmipVersion[] = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'];

/**
 * The version used to answer a message whose own version could not be read (a TTLV decode
 * error before the header). KMIP 1.0 because every client parses a 1.0 Response Header and
 * Invalid Message exists in every version; a 2.x-only reason such as Codec Error would be an
 * unknown enumeration value to a 1.x client (PyKMIP rejects those).
 */
export const FALLBACK_PROTOCOL_VERSION: ProtocolVersion = KMIP_1_0;

/**
 * Most batch items one request message may carry (issue 15: one message of 20,000 Query items ran for ~700 ms and
 * every other tenant waited behind it). Past it the whole message is refused with Server Limit Exceeded (General
 * Failure in 1.x), before any item runs. Configurable as `kmip.limits.maxBatchItems`; real clients send a handful
 * (the OASIS test cases at most a few dozen), so 1,024 leaves a wide margin.
 */
export const DEFAULT_MAX_BATCH_ITEMS = 1024;

/**
 * Longest stretch of one message's batch items run without giving the event loop back (issue 15 Deliver 5: "no
 * tenant waits more than 100 ms behind another's single request"). After each item that ran synchronously past this
 * slice, the rest of the batch continues in a later turn, so other connections' requests are served in between.
 */
export const BATCH_YIELD_SLICE_MS = 4;

/** A gate may answer synchronously (the common case) or, rarely, after some I/O (first use of a tenant). */
export type MaybePromise<T> = T | Promise<T>;

export interface ProcessorDeps<Services = unknown> {
  /** The operation registry (src/operations/registry.ts getHandler). */
  getHandler(operation: number): OperationHandler<unknown, unknown, Services> | undefined;
  /** Handed to every handler as ctx.services. */
  readonly services: Services;
  /**
   * Policy hook, called before the payload is decoded and before any handler work
   * (Cosmian habit: "check policy before any crypto"). Throw a KmipError (e.g.
   * PERMISSION_DENIED) to refuse the batch item. Returns nothing when it decided at once (it is
   * then not awaited: issue 14, no await on synchronous work), a Promise only when it had to wait.
   */
  authorize?: (principal: Principal, operation: number, version: KmipVersion) => void | Promise<void>;
  readonly logger: Logger;
  /** Clock; one read per request message. Default `new Date()`. */
  readonly now?: () => Date;
  /**
   * Audit hook (ARCHITECTURE §6 "Audit"; src/appliance/governance/plane.ts): called once per batch item after it
   * completed, success or failure, including refusals by `authorize`. Must only enqueue: it is never awaited,
   * and what it throws is ignored.
   */
  readonly audit?: (event: KmipAuditEvent) => void;
  /** See {@link DEFAULT_MAX_BATCH_ITEMS} (the server passes `kmip.limits.maxBatchItems`). */
  readonly maxBatchItems?: number;
}

/** One KMIP batch item, for the audit trail. */
export interface KmipAuditEvent {
  /** Client identity (certificate CN or SAN URI). */
  readonly principal: string;
  readonly tenant: string;
  /** Operation enumeration value. */
  readonly operation: number;
  /** Unique Identifier from the request or response payload, when it names one. */
  readonly uid?: string;
  readonly result: 'success' | KmipErrorCode;
  /** The request message's time (ctx.now). */
  readonly at: Date;
}

/** The Unique Identifier field of a decoded request/response payload, without decoding anything again. */
function uidOf(payload: unknown): string | undefined {
  const v = typeof payload === 'object' && payload !== null ? (payload as { uniqueIdentifier?: unknown }).uniqueIdentifier : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** A top-level Unique Identifier (Text String) of an undecoded request payload. */
function uidInTree(payload: StructureItem | undefined): string | undefined {
  for (const c of payload?.value ?? []) if (c.tag === Tag.UniqueIdentifier && c.type === ItemType.TextString) return c.value;
  return undefined;
}

function auditItem<S>(deps: ProcessorDeps<S>, ctx: RequestContext<S>, operation: number, uid: string | undefined, result: KmipAuditEvent['result']): void {
  const sink = deps.audit;
  if (sink === undefined) return;
  const p = ctx.principal;
  try {
    // Two literal shapes rather than a spread: the audit event is built for every batch item.
    sink(uid === undefined
      ? { principal: p.identity, tenant: p.tenant, operation, result, at: ctx.now }
      : { principal: p.identity, tenant: p.tenant, operation, uid, result, at: ctx.now });
  } catch {
    // An audit sink failure must not turn a served item into a failed one (the sink reports its own errors).
  }
}

/** Handler-facing versions by wire (major, minor < 16): a table lookup, no string built per message. */
const VERSION_OF = new Map<number, KmipVersion>();
for (let minor = 0; minor < 16; minor++) {
  VERSION_OF.set(16 + minor, `1.${String(Math.min(minor, 4))}` as KmipVersion);
  VERSION_OF.set(32 + minor, `2.${String(Math.min(minor, 1))}` as KmipVersion);
}

/** The handler-facing version for a wire version, or undefined when its major is not served. */
export function kmipVersionOf(pv: ProtocolVersion): KmipVersion | undefined {
  if (!Number.isInteger(pv.minor) || pv.minor < 0) return undefined;
  if (pv.minor < 16 && (pv.major === 1 || pv.major === 2)) return VERSION_OF.get(pv.major * 16 + pv.minor);
  if (pv.major === 1) return '1.4';
  if (pv.major === 2) return '2.1';
  return undefined;
}

function versionIndex(v: KmipVersion): number {
  return SERVER_KMIP_VERSIONS.indexOf(v);
}

/** True when `handler` exists in `version`: its since/until bounds and the Operation enumeration of that version. */
export function handlerSupports(handler: Pick<OperationHandler, 'operation' | 'since' | 'until'>, version: KmipVersion): boolean {
  if (!enumValueExistsIn('Operation', handler.operation, version)) return false;
  const i = versionIndex(version);
  if (i < versionIndex(handler.since)) return false;
  return handler.until === undefined || i <= versionIndex(handler.until);
}

/** {@link handlerSupports} per handler and version, computed once (the registry never changes a handler). */
const SUPPORT = new WeakMap<object, Map<KmipVersion, boolean>>();
function supports(handler: OperationHandler, version: KmipVersion): boolean {
  let byVersion = SUPPORT.get(handler);
  if (byVersion === undefined) {
    byVersion = new Map();
    SUPPORT.set(handler, byVersion);
  }
  let yes = byVersion.get(version);
  if (yes === undefined) {
    yes = handlerSupports(handler, version);
    byVersion.set(version, yes);
  }
  return yes;
}

function seconds(d: Date): bigint {
  return BigInt(Math.floor(d.getTime() / 1000));
}

/** A failed response batch item for `code`, in `pv`'s Result Reason column. */
function failedItem(code: KmipErrorCode, message: string, pv: ProtocolVersion, echo: { operation?: number | undefined; uniqueBatchItemId?: Uint8Array | undefined }): ResponseBatchItem {
  const item: ResponseBatchItem = {
    resultStatus: ResultStatus.OperationFailed,
    resultReason: resultReasonFor(code, pv),
    resultMessage: message,
  };
  if (echo.operation !== undefined) item.operation = echo.operation;
  if (echo.uniqueBatchItemId !== undefined) item.uniqueBatchItemId = echo.uniqueBatchItemId;
  return item;
}

type Echo = { operation?: number | undefined; uniqueBatchItemId?: Uint8Array | undefined };

/** The model of {@link messageErrorResponse}. */
function errorMessage(code: KmipErrorCode, message: string, pv: ProtocolVersion, now: Date, echo: Echo = {}): ResponseMessage {
  return responseMessage({ protocolVersion: pv, timeStamp: seconds(now) }, [failedItem(code, message, pv, echo)]);
}

/**
 * A response to a message that could not be processed at all: a header and ONE batch item,
 * Operation and Unique Batch Item ID echoed when known (KMIP 1.4 §11.1 "Response message
 * containing a header and a Batch Item without Operation, but with the Result Status field
 * set to Operation Failed").
 */
export function messageErrorResponse(
  code: KmipErrorCode,
  message: string,
  pv: ProtocolVersion = FALLBACK_PROTOCOL_VERSION,
  now: Date = new Date(),
  echo: Echo = {},
): StructureItem {
  return encodeResponse(errorMessage(code, message, pv, now, echo));
}

/**
 * Best effort: read the Protocol Version from the raw bytes of a message that failed TTLV
 * decoding (e.g. nesting too deep in a payload), so the error can still be answered in the
 * client's version. Every Request Message starts with the same fixed prefix (KMIP 1.4
 * §7.2, §9.1.1): Request Message, Request Header, Protocol Version (structures), then
 * Protocol Version Major and Minor (Integers: 8-byte header, 4-byte value, 4 bytes padding).
 */
export function sniffProtocolVersion(frame: Uint8Array): ProtocolVersion | undefined {
  if (frame.length < 56) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const head = (at: number): { tag: number; type: number; len: number } => ({
    tag: view.getUint32(at) >>> 8,
    type: view.getUint8(at + 3),
    len: view.getUint32(at + 4),
  });
  const msg = head(0);
  const hdr = head(8);
  const pv = head(16);
  const major = head(24);
  const minor = head(40);
  if (msg.tag !== Tag.RequestMessage || msg.type !== ItemType.Structure) return undefined;
  if (hdr.tag !== Tag.RequestHeader || hdr.type !== ItemType.Structure) return undefined;
  if (pv.tag !== Tag.ProtocolVersion || pv.type !== ItemType.Structure || pv.len !== 32) return undefined;
  if (major.tag !== Tag.ProtocolVersionMajor || major.type !== ItemType.Integer || major.len !== 4) return undefined;
  if (minor.tag !== Tag.ProtocolVersionMinor || minor.type !== ItemType.Integer || minor.len !== 4) return undefined;
  const v = { major: view.getInt32(32), minor: view.getInt32(48) };
  return kmipVersionOf(v) === undefined ? undefined : v;
}

/** Result Message for errors a client must not learn details of. */
const GENERAL_FAILURE_MESSAGE = KMIP_ERROR_CATALOG.GENERAL_FAILURE.description;

/** Turns any thrown value into a client-safe code and message; logs what is not a KmipError. */
function classify(e: unknown, logger: Logger, fields: Record<string, string | number>): { code: KmipErrorCode; message: string } {
  if (e instanceof KmipError) return { code: e.code, message: e.message };
  const k = toKmipError(e);
  if (k.code !== 'GENERAL_FAILURE') return { code: k.code, message: k.message };
  logger.error('internal error while processing a batch item', Object.assign({}, fields, describeError(e)));
  return { code: 'GENERAL_FAILURE', message: GENERAL_FAILURE_MESSAGE };
}

/** A critical Message Extension the server does not understand (KMIP 1.4 §6.16, §11.1). */
function hasCriticalExtension(item: RequestBatchItem): boolean {
  for (const ext of item.messageExtensions ?? []) {
    for (const child of ext.value) {
      if (child.tag === Tag.CriticalityIndicator && child.type === ItemType.Boolean && child.value) return true;
    }
  }
  return false;
}

interface ItemOutcome {
  readonly response: ResponseBatchItem;
  readonly failed: boolean;
}

/**
 * The per-message context handlers receive. One object per message; the processor sets `operation` before each item
 * rather than spreading a copy per item (issue 14: no per-request spreads of context).
 */
interface MessageContext<S> extends RequestContext<S> {
  operation?: number | undefined;
}

type AnyHandler<S> = OperationHandler<unknown, unknown, S>;
type AnyCodec = PayloadCodec<unknown, unknown>;

function itemFailed<S>(item: RequestBatchItem, ctx: MessageContext<S>, deps: ProcessorDeps<S>, e: unknown, uid: string | undefined): ItemOutcome {
  const { code, message } = classify(e, deps.logger, { tenant: ctx.principal.tenant, operation: item.operation });
  // Refused before the payload was decoded (authorize): the UID is read off the TTLV tree, nothing is decoded.
  const auditUid = deps.audit === undefined ? uid : uid ?? uidInTree(item.payload);
  auditItem(deps, ctx, item.operation, auditUid, code);
  return { response: failedItem(code, message, ctx.protocolVersion, item), failed: true };
}

function itemSucceeded<S>(item: RequestBatchItem, codec: AnyCodec, ctx: MessageContext<S>, deps: ProcessorDeps<S>, result: unknown, requestUid: string | undefined): ItemOutcome {
  try {
    const payload = codec.encodeResponse(result, ctx.protocolVersion);
    const response: ResponseBatchItem = { operation: item.operation, resultStatus: ResultStatus.Success, payload };
    if (item.uniqueBatchItemId !== undefined) response.uniqueBatchItemId = item.uniqueBatchItemId;
    auditItem(deps, ctx, item.operation, uidOf(result) ?? requestUid, 'success');
    return { response, failed: false };
  } catch (e) {
    return itemFailed(item, ctx, deps, e, requestUid);
  }
}

/** Decodes the payload and runs the handler; synchronous when the handler answered synchronously. */
function runHandler<S>(item: RequestBatchItem, handler: AnyHandler<S>, codec: AnyCodec, ctx: MessageContext<S>, deps: ProcessorDeps<S>): MaybePromise<ItemOutcome> {
  let uid: string | undefined;
  try {
    const request = codec.decodeRequest(item.payload, ctx.protocolVersion);
    uid = uidOf(request);
    ctx.operation = item.operation;
    const result = handler.handle(ctx, request);
    if (result instanceof Promise) {
      const requestUid = uid;
      return result.then(
        (r: unknown) => itemSucceeded(item, codec, ctx, deps, r, requestUid),
        (e: unknown) => itemFailed(item, ctx, deps, e, requestUid),
      );
    }
    return itemSucceeded(item, codec, ctx, deps, result, uid);
  } catch (e) {
    return itemFailed(item, ctx, deps, e, uid);
  }
}

function processItem<S>(item: RequestBatchItem, ctx: MessageContext<S>, deps: ProcessorDeps<S>): MaybePromise<ItemOutcome> {
  try {
    if (hasCriticalExtension(item)) {
      throw new KmipError('UNKNOWN_MESSAGE_EXTENSION', 'a critical Message Extension is not supported', { field: 'Message Extension' });
    }
    const handler = deps.getHandler(item.operation);
    const codec = payloadCodec(item.operation);
    if (handler === undefined || codec === undefined || !supports(handler, ctx.version)) {
      throw new KmipError('OPERATION_NOT_SUPPORTED', `operation 0x${item.operation.toString(16)} is not supported in KMIP ${ctx.version}`, { field: 'Operation' });
    }
    if (deps.authorize !== undefined) {
      const gate = deps.authorize(ctx.principal, item.operation, ctx.version);
      // Only a gate that had to wait (first use of a tenant) costs a promise.
      if (gate instanceof Promise) {
        return gate.then(
          () => runHandler(item, handler, codec, ctx, deps),
          (e: unknown) => itemFailed(item, ctx, deps, e, undefined),
        );
      }
    }
    return runHandler(item, handler, codec, ctx, deps);
  } catch (e) {
    return itemFailed(item, ctx, deps, e, undefined);
  }
}

/** Built once, not per message. */
const KNOWN_CONTINUATIONS: ReadonlySet<number> = new Set(Object.values(BatchErrorContinuationOption));

function continuationOf(msg: RequestMessage): number {
  return msg.header.batchErrorContinuationOption ?? BatchErrorContinuationOption.Stop;
}

/** The undo journal of one Undo batch (src/operations/types.ts UndoJournal). */
class Journal implements UndoJournal {
  readonly #steps: (() => Promise<void>)[] = [];

  record(step: () => Promise<void>): void {
    this.#steps.push(step);
  }

  /** Runs the steps newest first; false (and logged) when one of them failed. */
  async rollback(logger: Logger, tenant: string): Promise<boolean> {
    let ok = true;
    for (const step of this.#steps.reverse()) {
      try {
        await step();
      } catch (e) {
        ok = false;
        logger.error('undo step failed; the batch is only partly rolled back', { tenant, ...describeError(e) });
      }
    }
    this.#steps.length = 0;
    return ok;
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => { setImmediate(resolve); });
}

/**
 * Runs the batch items in message order (KMIP 1.4 §6.12-6.13) and returns their answers. Stays synchronous while the
 * items do; gives the event loop back after {@link BATCH_YIELD_SLICE_MS} of work.
 */
function runBatch<S>(msg: RequestMessage, ctx: MessageContext<S>, deps: ProcessorDeps<S>, continuation: number, journal: Journal | undefined): MaybePromise<ResponseBatchItem[]> {
  const items = msg.batchItems;
  const responses: ResponseBatchItem[] = [];
  let i = 0;
  let sliceStart = items.length > 1 ? performance.now() : 0;

  /** After one item: true to go on, else what the batch answers (Stop and Undo end it; Undo rolls back first). */
  const settle = (outcome: ItemOutcome): true | MaybePromise<ResponseBatchItem[]> => {
    responses.push(outcome.response);
    if (!outcome.failed || continuation === BatchErrorContinuationOption.Continue) return true;
    // Stop and Undo: later items are neither processed nor answered (KMIP 1.4 §11.43).
    if (journal === undefined) return responses;
    return journal.rollback(deps.logger, ctx.principal.tenant).then((rolledBack) => {
      // KMIP 1.4 §11.43 Undo: processed items are returned with Result Status Operation Undone.
      if (rolledBack) for (const r of responses) if (r !== outcome.response) r.resultStatus = ResultStatus.OperationUndone;
      return responses;
    });
  };

  const step = (): MaybePromise<ResponseBatchItem[]> => {
    while (i < items.length) {
      const item = items[i++];
      if (item === undefined) break;
      const out = processItem(item, ctx, deps);
      if (out instanceof Promise) {
        return out.then((o) => {
          const next = settle(o);
          if (next !== true) return next;
          sliceStart = performance.now();
          return step();
        });
      }
      const next = settle(out);
      if (next !== true) return next;
      if (i < items.length && performance.now() - sliceStart >= BATCH_YIELD_SLICE_MS) {
        return nextTurn().then(() => {
          sliceStart = performance.now();
          return step();
        });
      }
    }
    return responses;
  };
  return step();
}

/** What a message is answered with, before encoding; `max` is the client's Maximum Response Size. */
interface Answer {
  readonly resp: ResponseMessage;
  readonly max: number | undefined;
}

function answer(resp: ResponseMessage, max?: number): Answer {
  return { resp, max };
}

/** The message's answer as a model: synchronous unless an item (or a gate) had to wait. Never throws. */
function runMessage<S>(item: TtlvItem, principal: Principal, session: SessionState, deps: ProcessorDeps<S>): MaybePromise<Answer> {
  const now = deps.now === undefined ? new Date() : deps.now();
  let msg: RequestMessage;
  try {
    msg = decodeRequest(item);
  } catch (e) {
    if (e instanceof KmipRequestDecodeError) {
      const c = e.context;
      const pv = c.protocolVersion !== undefined && kmipVersionOf(c.protocolVersion) !== undefined ? c.protocolVersion : FALLBACK_PROTOCOL_VERSION;
      deps.logger.info('request rejected', { tenant: principal.tenant, code: e.code, reason: e.message });
      return answer(errorMessage(e.code, e.message, pv, now, { operation: c.operation, uniqueBatchItemId: c.uniqueBatchItemId }));
    }
    const { code, message } = classify(e, deps.logger, { tenant: principal.tenant });
    return answer(errorMessage(code, message, FALLBACK_PROTOCOL_VERSION, now));
  }

  const pv = msg.header.protocolVersion;
  const version = kmipVersionOf(pv);
  if (version === undefined) {
    return answer(errorMessage('PROTOCOL_VERSION_NOT_SUPPORTED', `KMIP ${String(pv.major)}.${String(pv.minor)} is not supported; this server speaks ${SERVER_KMIP_VERSIONS.join(', ')}`, pv, now));
  }
  const maxItems = deps.maxBatchItems ?? DEFAULT_MAX_BATCH_ITEMS;
  if (msg.batchItems.length > maxItems) {
    deps.logger.info('request rejected: too many batch items', { tenant: principal.tenant, items: msg.batchItems.length, maxBatchItems: maxItems });
    return answer(errorMessage('SERVER_LIMIT_EXCEEDED', `the message has ${String(msg.batchItems.length)} batch items; this server accepts at most ${String(maxItems)} per message`, pv, now));
  }

  const continuation = continuationOf(msg);
  if (!KNOWN_CONTINUATIONS.has(continuation)) {
    return answer(errorMessage('INVALID_FIELD', `unknown Batch Error Continuation Option ${String(continuation)}`, pv, now));
  }
  const journal = continuation === BatchErrorContinuationOption.Undo ? new Journal() : undefined;
  // The ID Placeholder lives for one batch (KMIP 1.4 §4 preamble), so each message gets its own,
  // starting empty; the connection's scratch is shared. A per-message object (rather than
  // resetting the shared one) stays correct when a connection's messages run concurrently.
  session.idPlaceholder = undefined;
  const batchSession: SessionState = { idPlaceholder: undefined, scratch: session.scratch };
  const ctx: MessageContext<S> = journal === undefined
    ? { protocolVersion: pv, version, principal, session: batchSession, services: deps.services, now, operation: undefined }
    : { protocolVersion: pv, version, principal, session: batchSession, services: deps.services, now, operation: undefined, undo: journal };
  const finish = (responses: ResponseBatchItem[]): Answer => {
    if (logEnabled(deps.logger, 'debug')) {
      deps.logger.debug('request processed', {
        tenant: principal.tenant,
        version,
        operations: msg.batchItems.map((b) => b.operation.toString(16)).join(','),
        failed: responses.filter((r) => r.resultStatus === ResultStatus.OperationFailed).length,
      });
    }
    return answer(responseMessage({ protocolVersion: pv, timeStamp: seconds(now) }, responses), msg.header.maximumResponseSize);
  };
  try {
    const responses = runBatch(msg, ctx, deps, continuation, journal);
    if (responses instanceof Promise) {
      return responses.then(finish, (e: unknown) => {
        const { code, message } = classify(e, deps.logger, { tenant: principal.tenant });
        return answer(errorMessage(code, message, pv, now));
      });
    }
    return finish(responses);
  } catch (e) {
    const { code, message } = classify(e, deps.logger, { tenant: principal.tenant });
    return answer(errorMessage(code, message, pv, now));
  }
}

/**
 * The answer to a response exceeding the client's Maximum Response Size: its payload-carrying items replaced by
 * Response Too Large failures (KMIP 1.4 §6.3, §11.1). The operations themselves have run; only their answers are
 * withheld, as the spec's error row implies.
 */
function tooLarge(resp: ResponseMessage, max: number): StructureItem {
  const pv = resp.header.protocolVersion;
  const items = resp.batchItems.map((b) => (b.payload === undefined ? b
    : failedItem('RESPONSE_TOO_LARGE', `the response exceeds the Maximum Response Size of ${String(max)} bytes`, pv, b)));
  return encodeResponse(responseMessage({ protocolVersion: pv, timeStamp: resp.header.timeStamp }, items));
}

/** The answer as a tree, the size limit applied (measured, not encoded). */
function answerTree(a: Answer): StructureItem {
  const full = encodeResponse(a.resp);
  if (a.max === undefined || measureTtlv(full) <= a.max) return full;
  return tooLarge(a.resp, a.max);
}

/** The answer as bytes: encoded once, the size limit checked on the way. */
function answerBytes(a: Answer, logger: Logger): Buffer {
  const pv = a.resp.header.protocolVersion;
  try {
    const full = encodeResponse(a.resp);
    const bytes = a.max === undefined ? encodeTtlv(full) : encodeTtlvWithin(full, a.max);
    return bytes ?? encodeTtlv(tooLarge(a.resp, a.max ?? 0));
  } catch (e) {
    return generalFailureBytes(e, pv, logger);
  }
}

function generalFailureBytes(e: unknown, pv: ProtocolVersion, logger: Logger): Buffer {
  logger.error('response could not be encoded', describeError(e));
  return encodeTtlv(messageErrorResponse('GENERAL_FAILURE', GENERAL_FAILURE_MESSAGE, pv));
}

/**
 * Process one decoded Request Message for `principal` on a connection whose state is
 * `session`. Never throws; always resolves to a Response Message tree (the KMIP XML/JSON
 * transports and tests use the tree; the TTLV transport uses {@link processMessageBytes}).
 */
export async function processMessage<S>(
  item: TtlvItem,
  principal: Principal,
  session: SessionState,
  deps: ProcessorDeps<S>,
): Promise<StructureItem> {
  return answerTree(await runMessage(item, principal, session, deps));
}

/**
 * {@link processMessage}, encoded: the response is encoded once, with Maximum Response Size checked on the way, and
 * returned synchronously when every batch item was answered synchronously (issue 14: no await on synchronous work).
 * Never throws, never rejects: a response that cannot be encoded becomes a General Failure in the request's version.
 */
export function processMessageBytes<S>(
  item: TtlvItem,
  principal: Principal,
  session: SessionState,
  deps: ProcessorDeps<S>,
): Buffer | Promise<Buffer> {
  let a: MaybePromise<Answer>;
  try {
    a = runMessage(item, principal, session, deps);
  } catch (e) {
    return generalFailureBytes(e, FALLBACK_PROTOCOL_VERSION, deps.logger);
  }
  if (a instanceof Promise) return a.then((x) => answerBytes(x, deps.logger), (e: unknown) => generalFailureBytes(e, FALLBACK_PROTOCOL_VERSION, deps.logger));
  return answerBytes(a, deps.logger);
}

/**
 * Encodes a response tree to bytes. Handlers build trees through typed codecs, but a value
 * out of range (e.g. an Integer above 2^31) is only caught by the encoder; such a response
 * becomes a General Failure in the same protocol version rather than a dropped connection.
 */
export function encodeResponseBytes(resp: StructureItem, logger: Logger): Buffer {
  try {
    return encodeTtlv(resp);
  } catch (e) {
    let pv = FALLBACK_PROTOCOL_VERSION;
    const header = resp.value[0];
    if (header?.type === ItemType.Structure) {
      const pvItem = header.value[0];
      if (pvItem?.type === ItemType.Structure) {
        const [maj, min] = pvItem.value;
        if (maj?.type === ItemType.Integer && min?.type === ItemType.Integer) pv = { major: maj.value, minor: min.value };
      }
    }
    return generalFailureBytes(e, pv, logger);
  }
}

/** A fresh per-connection session (ID Placeholder and handler scratch, src/operations/types.ts). */
export function newSession(): SessionState {
  return { idPlaceholder: undefined, scratch: new Map() };
}
