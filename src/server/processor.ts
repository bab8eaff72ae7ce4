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
import { encodeTtlv } from '../ttlv/encode.js';
import { ItemType } from '../ttlv/types.js';
import type { StructureItem, TtlvItem } from '../ttlv/types.js';
import { KMIP_ERROR_CATALOG, KmipError, resultReasonFor, toKmipError } from '../kmip/errors.js';
import type { KmipErrorCode } from '../kmip/errors.js';
import { decodeRequest, encodeResponse, KMIP_1_0, KmipRequestDecodeError, responseMessage } from '../kmip/message.js';
import type { ProtocolVersion, RequestBatchItem, RequestMessage, ResponseBatchItem, ResponseMessage } from '../kmip/message.js';
import { payloadCodec } from '../kmip/payloads/index.js';
import { BatchErrorContinuationOption, ResultStatus, Tag } from '../kmip/registry.generated.js';
import type { KmipVersion } from '../kmip/registry.generated.js';
import { enumValueExistsIn } from '../kmip/registry.js';
import type { OperationHandler, Principal, RequestContext, SessionState, UndoJournal } from '../operations/types.js';
import { describeError } from './log.js';
import type { Logger } from './log.js';

/** Every protocol version the server speaks, lowest first (also the Discover Versions answer, reversed). */
export const SERVER_KMIP_VERSIONS: readonly KmipVersion[] = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'];

/**
 * The version used to answer a message whose own version could not be read (a TTLV decode
 * error before the header). KMIP 1.0 because every client parses a 1.0 Response Header and
 * Invalid Message exists in every version; a 2.x-only reason such as Codec Error would be an
 * unknown enumeration value to a 1.x client (PyKMIP rejects those).
 */
export const FALLBACK_PROTOCOL_VERSION: ProtocolVersion = KMIP_1_0;

export interface ProcessorDeps<Services = unknown> {
  /** The operation registry (src/operations/registry.ts getHandler). */
  getHandler(operation: number): OperationHandler<unknown, unknown, Services> | undefined;
  /** Handed to every handler as ctx.services. */
  readonly services: Services;
  /**
   * Policy hook, called before the payload is decoded and before any handler work
   * (Cosmian habit: "check policy before any crypto"). Throw a KmipError (e.g.
   * PERMISSION_DENIED) to refuse the batch item.
   */
  authorize?: (principal: Principal, operation: number, version: KmipVersion) => void | Promise<void>;
  readonly logger: Logger;
  /** Clock; one read per request message. Default `new Date()`. */
  readonly now?: () => Date;
  /**
   * Audit hook (ARCHITECTURE §6 "Audit"; src/server/governance.ts): called once per batch item after it
   * completed, success or failure, including refusals by `authorize`. Must only enqueue: it is never awaited,
   * and what it throws is ignored.
   */
  readonly audit?: (event: KmipAuditEvent) => void;
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
  if (deps.audit === undefined) return;
  try {
    deps.audit({ principal: ctx.principal.identity, tenant: ctx.principal.tenant, operation, ...(uid === undefined ? {} : { uid }), result, at: ctx.now });
  } catch {
    // An audit sink failure must not turn a served item into a failed one (the sink reports its own errors).
  }
}

/** The handler-facing version for a wire version, or undefined when its major is not served. */
export function kmipVersionOf(pv: ProtocolVersion): KmipVersion | undefined {
  if (!Number.isInteger(pv.minor) || pv.minor < 0) return undefined;
  if (pv.major === 1) return `1.${String(Math.min(pv.minor, 4))}` as KmipVersion;
  if (pv.major === 2) return `2.${String(Math.min(pv.minor, 1))}` as KmipVersion;
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
  echo: { operation?: number | undefined; uniqueBatchItemId?: Uint8Array | undefined } = {},
): StructureItem {
  return encodeResponse(responseMessage({ protocolVersion: pv, timeStamp: seconds(now) }, [failedItem(code, message, pv, echo)]));
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
  logger.error('internal error while processing a batch item', { ...fields, ...describeError(e) });
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

async function processItem<S>(
  item: RequestBatchItem,
  ctx: RequestContext<S>,
  deps: ProcessorDeps<S>,
): Promise<ItemOutcome> {
  const pv = ctx.protocolVersion;
  const echo = { operation: item.operation, uniqueBatchItemId: item.uniqueBatchItemId };
  let uid: string | undefined;
  try {
    if (hasCriticalExtension(item)) {
      throw new KmipError('UNKNOWN_MESSAGE_EXTENSION', 'a critical Message Extension is not supported', { field: 'Message Extension' });
    }
    const handler = deps.getHandler(item.operation);
    const codec = payloadCodec(item.operation);
    if (handler === undefined || codec === undefined || !handlerSupports(handler, ctx.version)) {
      throw new KmipError('OPERATION_NOT_SUPPORTED', `operation 0x${item.operation.toString(16)} is not supported in KMIP ${ctx.version}`, { field: 'Operation' });
    }
    if (deps.authorize !== undefined) await deps.authorize(ctx.principal, item.operation, ctx.version);
    const request = codec.decodeRequest(item.payload, pv);
    uid = uidOf(request);
    const result = await handler.handle({ ...ctx, operation: item.operation }, request);
    uid = uidOf(result) ?? uid;
    const payload = codec.encodeResponse(result as object, pv);
    const response: ResponseBatchItem = { operation: item.operation, resultStatus: ResultStatus.Success, payload };
    if (item.uniqueBatchItemId !== undefined) response.uniqueBatchItemId = item.uniqueBatchItemId;
    auditItem(deps, ctx, item.operation, uid, 'success');
    return { response, failed: false };
  } catch (e) {
    const { code, message } = classify(e, deps.logger, { tenant: ctx.principal.tenant, operation: item.operation });
    // Refused before the payload was decoded (authorize): the UID is read off the TTLV tree, nothing is decoded.
    if (deps.audit !== undefined) uid ??= uidInTree(item.payload);
    auditItem(deps, ctx, item.operation, uid, code);
    return { response: failedItem(code, message, pv, echo), failed: true };
  }
}

/** Built once, not per message. */
const KNOWN_CONTINUATIONS: ReadonlySet<number> = new Set(Object.values(BatchErrorContinuationOption));

function continuationOf(msg: RequestMessage): number {
  return msg.header.batchErrorContinuationOption ?? BatchErrorContinuationOption.Stop;
}

/**
 * Replaces the payload-carrying items of a response that exceeds the client's Maximum
 * Response Size with Response Too Large failures (KMIP 1.4 §6.3, §11.1). The operations
 * themselves have run; only their answers are withheld, as the spec's error row implies.
 */
function enforceMaximumResponseSize(resp: ResponseMessage, max: number): StructureItem {
  const full = encodeResponse(resp);
  if (encodeTtlv(full).length <= max) return full;
  const pv = resp.header.protocolVersion;
  const items = resp.batchItems.map((b) => (b.payload === undefined ? b
    : failedItem('RESPONSE_TOO_LARGE', `the response exceeds the Maximum Response Size of ${String(max)} bytes`, pv, b)));
  return encodeResponse(responseMessage({ protocolVersion: pv, timeStamp: resp.header.timeStamp }, items));
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

/**
 * Process one decoded Request Message for `principal` on a connection whose state is
 * `session`. Never throws; always resolves to a Response Message tree.
 */
export async function processMessage<S>(
  item: TtlvItem,
  principal: Principal,
  session: SessionState,
  deps: ProcessorDeps<S>,
): Promise<StructureItem> {
  const now = deps.now === undefined ? new Date() : deps.now();
  let msg: RequestMessage;
  try {
    msg = decodeRequest(item);
  } catch (e) {
    if (e instanceof KmipRequestDecodeError) {
      const c = e.context;
      const pv = c.protocolVersion !== undefined && kmipVersionOf(c.protocolVersion) !== undefined ? c.protocolVersion : FALLBACK_PROTOCOL_VERSION;
      deps.logger.info('request rejected', { tenant: principal.tenant, code: e.code, reason: e.message });
      return messageErrorResponse(e.code, e.message, pv, now, { operation: c.operation, uniqueBatchItemId: c.uniqueBatchItemId });
    }
    const { code, message } = classify(e, deps.logger, { tenant: principal.tenant });
    return messageErrorResponse(code, message, FALLBACK_PROTOCOL_VERSION, now);
  }

  const pv = msg.header.protocolVersion;
  const version = kmipVersionOf(pv);
  if (version === undefined) {
    return messageErrorResponse('PROTOCOL_VERSION_NOT_SUPPORTED', `KMIP ${String(pv.major)}.${String(pv.minor)} is not supported; this server speaks ${SERVER_KMIP_VERSIONS.join(', ')}`, pv, now);
  }

  const continuation = continuationOf(msg);
  if (!KNOWN_CONTINUATIONS.has(continuation)) {
    return messageErrorResponse('INVALID_FIELD', `unknown Batch Error Continuation Option ${String(continuation)}`, pv, now);
  }
  const journal = continuation === BatchErrorContinuationOption.Undo ? new Journal() : undefined;
  // The ID Placeholder lives for one batch (KMIP 1.4 §4 preamble), so each message gets its own,
  // starting empty; the connection's scratch is shared. A per-message object (rather than
  // resetting the shared one) stays correct when a connection's messages run concurrently.
  session.idPlaceholder = undefined;
  const batchSession: SessionState = { idPlaceholder: undefined, scratch: session.scratch };
  const ctx: RequestContext<S> = {
    protocolVersion: pv,
    version,
    principal,
    session: batchSession,
    services: deps.services,
    now,
    ...(journal === undefined ? {} : { undo: journal }),
  };
  const responses: ResponseBatchItem[] = [];
  for (const item of msg.batchItems) {
    const outcome = await processItem(item, ctx, deps);
    responses.push(outcome.response);
    if (!outcome.failed || continuation === BatchErrorContinuationOption.Continue) continue;
    // Stop and Undo: later items are neither processed nor answered (KMIP 1.4 §11.43).
    if (journal !== undefined) {
      const rolledBack = await journal.rollback(deps.logger, principal.tenant);
      // KMIP 1.4 §11.43 Undo: processed items are returned with Result Status Operation Undone.
      if (rolledBack) {
        for (const r of responses) if (r !== outcome.response) r.resultStatus = ResultStatus.OperationUndone;
      }
    }
    break;
  }

  deps.logger.debug('request processed', {
    tenant: principal.tenant,
    version,
    operations: msg.batchItems.map((b) => b.operation.toString(16)).join(','),
    failed: responses.filter((r) => r.resultStatus === ResultStatus.OperationFailed).length,
  });
  const resp = responseMessage({ protocolVersion: pv, timeStamp: seconds(now) }, responses);
  const max = msg.header.maximumResponseSize;
  return max === undefined ? encodeResponse(resp) : enforceMaximumResponseSize(resp, max);
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
    logger.error('response could not be encoded', describeError(e));
    let pv = FALLBACK_PROTOCOL_VERSION;
    const header = resp.value[0];
    if (header?.type === ItemType.Structure) {
      const pvItem = header.value[0];
      if (pvItem?.type === ItemType.Structure) {
        const [maj, min] = pvItem.value;
        if (maj?.type === ItemType.Integer && min?.type === ItemType.Integer) pv = { major: maj.value, minor: min.value };
      }
    }
    return encodeTtlv(messageErrorResponse('GENERAL_FAILURE', GENERAL_FAILURE_MESSAGE, pv));
  }
}

/** A fresh per-connection session (ID Placeholder and handler scratch, src/operations/types.ts). */
export function newSession(): SessionState {
  return { idPlaceholder: undefined, scratch: new Map() };
}
