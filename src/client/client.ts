/**
 * KmipClient: KMIP requests over one mutually authenticated TLS connection.
 *
 * Layers (as undici/pg keep them apart): src/client/connection.ts moves whole TTLV frames
 * and owns the socket; this file builds Request Messages (src/kmip/message.ts), encodes
 * payloads with the version-aware codecs of src/kmip/payloads, matches response batch
 * items to request batch items and turns failed items into KmipResultError.
 *
 * Spec points this file implements:
 * - Protocol version per connection, optionally negotiated with Discover Versions
 *   (KMIP 1.4 §4.26 / 2.1 §6.1.16); every request carries it and every payload is
 *   encoded in it (1.x Template-Attribute vs 2.x Attributes).
 * - Batches (KMIP 1.4 §6.14-6.15, §7.2; 2.1 §9.x): Unique Batch Item ID is REQUIRED when a
 *   message holds more than one batch item, and the server echoes it, so responses are
 *   matched by ID, not position. Batch Error Continuation Option (Continue / Stop / Undo)
 *   is passed through; items a server did not process after a Stop are reported as such.
 * - A server that cannot parse the message answers with one batch item without Operation
 *   (KMIP 1.4 §11.1): that failure applies to every item of the request.
 */
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { TtlvError } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import { enumeration, text } from '@openkcm/ttlv';
import { KmipError, KmipResultError } from '../kmip/errors.js';
import {
  compareVersions, decodeResponse, encodeRequest, formatVersion, KMIP_1_0, KMIP_1_1, KMIP_2_0, requestMessage,
} from '../kmip/message.js';
import type { ProtocolVersion, RequestBatchItem, RequestHeader, RequestMessage, ResponseBatchItem, ResponseMessage } from '../kmip/message.js';
import { BatchErrorContinuationOption, NameType, ObjectType, ResultReason, ResultStatus, Tag } from '../kmip/registry.generated.js';
import type { KmipAttribute } from '../kmip/attributes.js';
import { makeAttribute } from '../kmip/attributes.js';
import type { PayloadCodec } from '../kmip/payloads/codec.js';
import { activatePayloads } from '../kmip/payloads/activate.js';
import { addAttributePayloads } from '../kmip/payloads/add-attribute.js';
import type { AddAttributeResponse } from '../kmip/payloads/add-attribute.js';
import { createPayloads } from '../kmip/payloads/create.js';
import type { CreateRequest, CreateResponse } from '../kmip/payloads/create.js';
import { decryptPayloads } from '../kmip/payloads/decrypt.js';
import type { DecryptRequest, DecryptResponse } from '../kmip/payloads/decrypt.js';
import { deleteAttributePayloads } from '../kmip/payloads/delete-attribute.js';
import type { DeleteAttributeRequest, DeleteAttributeResponse } from '../kmip/payloads/delete-attribute.js';
import { destroyPayloads } from '../kmip/payloads/destroy.js';
import { discoverVersionsPayloads } from '../kmip/payloads/discover-versions.js';
import { encryptPayloads } from '../kmip/payloads/encrypt.js';
import type { EncryptRequest, EncryptResponse } from '../kmip/payloads/encrypt.js';
import { getAttributeListPayloads } from '../kmip/payloads/get-attribute-list.js';
import { getAttributesPayloads } from '../kmip/payloads/get-attributes.js';
import type { GetAttributesResponse } from '../kmip/payloads/get-attributes.js';
import { getPayloads } from '../kmip/payloads/get.js';
import type { GetRequest, GetResponse } from '../kmip/payloads/get.js';
import { encodeKeyWrappingSpecification } from '../kmip/payloads/key-wrapping.js';
import type { KeyWrappingSpecification } from '../kmip/payloads/key-wrapping.js';
import { locatePayloads } from '../kmip/payloads/locate.js';
import type { LocateRequest, LocateResponse } from '../kmip/payloads/locate.js';
import { modifyAttributePayloads } from '../kmip/payloads/modify-attribute.js';
import type { ModifyAttributeResponse } from '../kmip/payloads/modify-attribute.js';
import { queryPayloads } from '../kmip/payloads/query.js';
import type { QueryResponse } from '../kmip/payloads/query.js';
import { registerPayloads } from '../kmip/payloads/register.js';
import type { RegisterRequest, RegisterResponse } from '../kmip/payloads/register.js';
import { revokePayloads } from '../kmip/payloads/revoke.js';
import type { RevocationReason, RevokeRequest } from '../kmip/payloads/revoke.js';
import { rngRetrievePayloads } from '../kmip/payloads/rng-retrieve.js';
import { setAttributePayloads } from '../kmip/payloads/set-attribute.js';
import { DEFAULT_CLIENT_MAX_MESSAGE_BYTES, KmipConnection } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { KmipClientError } from './errors.js';

// ---- versions ------------------------------------------------------------------------------

export type KmipVersionString = '1.0' | '1.1' | '1.2' | '1.3' | '1.4' | '2.0' | '2.1';

/** Every version this client can speak, highest first (the Discover Versions preference order). */
export const CLIENT_PROTOCOL_VERSIONS: readonly KmipVersionString[] = ['2.1', '2.0', '1.4', '1.3', '1.2', '1.1', '1.0'];

export function parseVersion(v: KmipVersionString): ProtocolVersion {
  const [major, minor] = v.split('.').map(Number);
  return { major: major ?? 0, minor: minor ?? 0 };
}

function isKnownVersion(v: string): v is KmipVersionString {
  return (CLIENT_PROTOCOL_VERSIONS as readonly string[]).includes(v);
}

// ---- options ---------------------------------------------------------------------------------

export type BatchErrorContinuation = 'continue' | 'stop' | 'undo';

const CONTINUATION_VALUE: Readonly<Record<BatchErrorContinuation, number>> = {
  continue: BatchErrorContinuationOption.Continue,
  stop: BatchErrorContinuationOption.Stop,
  undo: BatchErrorContinuationOption.Undo,
};

export interface KmipClientOptions extends ConnectionOptions {
  /**
   * The protocol version of every request on this connection, or 'negotiate' (default):
   * Discover Versions at connect, then the highest version both sides support.
   */
  readonly protocolVersion?: KmipVersionString | 'negotiate';
  /** Versions the client may pick when negotiating. Default: all of {@link CLIENT_PROTOCOL_VERSIONS}. */
  readonly acceptVersions?: readonly KmipVersionString[];
  /** Request Header Maximum Response Size (KMIP 1.4 §6.3), bytes. Omitted by default. */
  readonly maximumResponseSize?: number;
}

export interface BatchOptions {
  /** Batch Error Continuation Option (KMIP 1.4 §6.14). Omitted: the server default, Stop. */
  readonly errorContinuation?: BatchErrorContinuation;
  /** Batch Order Option (KMIP 1.4 §6.12): true asks the server to process items in order. */
  readonly ordered?: boolean;
  /** Per-request timeout override, ms. */
  readonly timeoutMs?: number;
}

/** One raw batch item for {@link KmipClient.sendBatch}. */
export interface BatchItemInput {
  readonly operation: number;
  /** Request Payload; KMIP requires one, so an absent payload is sent as an empty structure. */
  readonly payload?: StructureItem;
}

/** A typed batch operation: a payload codec and its request (see {@link op}). */
export interface BatchOperation<Resp> {
  readonly codec: PayloadCodec<never, Resp>;
  readonly encode: (v: ProtocolVersion) => StructureItem;
}

/** Builds a typed batch operation for {@link KmipClient.batch}. */
export function op<Req, Resp>(codec: PayloadCodec<Req, Resp>, request: Req): BatchOperation<Resp> {
  return { codec: codec as PayloadCodec<never, Resp>, encode: (v) => codec.encodeRequest(request, v) };
}

/** Outcome of one typed batch operation, shaped like Promise.allSettled results. */
export type BatchOutcome<Resp> =
  | { readonly status: 'fulfilled'; readonly value: Resp }
  | { readonly status: 'rejected'; readonly reason: KmipResultError | KmipClientError };

export type BatchOutcomes<T extends readonly BatchOperation<unknown>[]> = {
  -readonly [K in keyof T]: T[K] extends BatchOperation<infer R> ? BatchOutcome<R> : never;
};

/** Parameters of {@link KmipClient.createSymmetricKey}. */
export interface SymmetricKeySpec {
  /** Cryptographic Algorithm enumeration value (e.g. CryptographicAlgorithm.AES). */
  readonly algorithm: number;
  /** Cryptographic Length in bits (e.g. 256). */
  readonly length: number;
  /** Cryptographic Usage Mask bits (e.g. Encrypt | Decrypt). */
  readonly usageMask: number;
  /** Name attribute (Uninterpreted Text String). */
  readonly name?: string;
  /** Further attributes, already built (see makeAttribute). */
  readonly attributes?: readonly KmipAttribute[];
}

// ---- the client ------------------------------------------------------------------------------

const UNIQUE_BATCH_ITEM_ID_BYTES = 8;

export class KmipClient {
  readonly #conn: KmipConnection;
  readonly #maximumResponseSize: number | undefined;
  readonly #decodeLimits: { maxMessageBytes: number; maxByteStringBytes: number };
  #version: ProtocolVersion;
  #serverVersions: readonly ProtocolVersion[] | undefined;
  /** Source of Unique Batch Item IDs; unique per connection, which is all the spec asks. */
  #nextBatchItemId = 1n;

  private constructor(conn: KmipConnection, version: ProtocolVersion, opts: KmipClientOptions) {
    this.#conn = conn;
    this.#version = version;
    this.#maximumResponseSize = opts.maximumResponseSize;
    // A response can only be as large as the framer let through; inside it, one Byte
    // String (Get of a key, Decrypt output) may use all of it.
    const max = opts.maxMessageBytes ?? DEFAULT_CLIENT_MAX_MESSAGE_BYTES;
    this.#decodeLimits = { maxMessageBytes: max, maxByteStringBytes: max };
  }

  /** Connect, complete the TLS handshake and, when asked, negotiate the protocol version. */
  static async connect(opts: KmipClientOptions): Promise<KmipClient> {
    const requested = opts.protocolVersion ?? 'negotiate';
    if (requested !== 'negotiate' && !isKnownVersion(requested)) {
      throw new KmipClientError('INVALID_ARGUMENT', `protocolVersion must be one of ${CLIENT_PROTOCOL_VERSIONS.join(', ')} or 'negotiate', got ${String(requested)}`);
    }
    const accept = opts.acceptVersions ?? CLIENT_PROTOCOL_VERSIONS;
    for (const v of accept) {
      if (!isKnownVersion(v)) throw new KmipClientError('INVALID_ARGUMENT', `acceptVersions: unknown version ${String(v)}`);
    }
    const conn = await KmipConnection.connect(opts);
    const client = new KmipClient(conn, requested === 'negotiate' ? KMIP_1_1 : parseVersion(requested), opts);
    if (requested === 'negotiate') {
      try {
        await client.#negotiate(accept);
      } catch (e) {
        conn.destroy();
        throw e;
      }
    }
    return client;
  }

  /** The protocol version every request on this connection carries. */
  get protocolVersion(): ProtocolVersion {
    return this.#version;
  }

  /** Versions the server listed in Discover Versions (negotiation only), in its preference order. */
  get serverVersions(): readonly ProtocolVersion[] | undefined {
    return this.#serverVersions;
  }

  /** Requests in flight on the connection. */
  get pending(): number {
    return this.#conn.pending;
  }

  get isClosed(): boolean {
    return this.#conn.isClosed;
  }

  /** Wait for in-flight requests, then close the TLS session. */
  close(): Promise<void> {
    return this.#conn.close();
  }

  /**
   * Close at once; in-flight requests fail with CONNECTION_CLOSED. (Not `destroy`: that
   * name belongs to the KMIP Destroy operation below.)
   */
  abort(): void {
    this.#conn.destroy();
  }

  /**
   * Negotiation (KMIP 1.4 §4.26): send our versions, highest first, and use the highest one
   * the server returns. The request header must carry SOME version before one is agreed:
   * 1.1 is the first version that defines Discover Versions, and 1.x servers must accept
   * any 1.x minor version (KMIP 1.4 §6.1). A server that answers Operation Not Supported is
   * a 1.0 server; one that rejects the 1.x header (2.x-only servers need not support other
   * major versions, §6.1) gets a second attempt with a 2.0 header.
   */
  async #negotiate(accept: readonly KmipVersionString[]): Promise<void> {
    const ours = [...accept].map(parseVersion).sort((a, b) => compareVersions(b, a));
    let lastError: unknown;
    for (const header of [KMIP_1_1, KMIP_2_0]) {
      this.#version = header;
      try {
        const theirs = await this.discoverVersions(ours);
        this.#serverVersions = theirs;
        const common = theirs.filter((t) => ours.some((o) => compareVersions(o, t) === 0));
        const best = common.sort((a, b) => compareVersions(b, a))[0];
        if (best === undefined) {
          throw new KmipClientError('VERSION_NEGOTIATION_FAILED', `no common protocol version: server offers [${theirs.map(formatVersion).join(', ')}], client accepts [${ours.map(formatVersion).join(', ')}]`);
        }
        this.#version = best;
        return;
      } catch (e) {
        if (e instanceof KmipResultError && e.resultReason === ResultReason.OperationNotSupported && ours.some((o) => compareVersions(o, KMIP_1_0) === 0)) {
          // A KMIP 1.0 server: Discover Versions did not exist yet.
          this.#version = KMIP_1_0;
          this.#serverVersions = [KMIP_1_0];
          return;
        }
        if (!(e instanceof KmipResultError) || this.#conn.isClosed) throw e;
        lastError = e;
      }
    }
    throw new KmipClientError('VERSION_NEGOTIATION_FAILED', 'the server rejected Discover Versions with both a 1.1 and a 2.0 request header', { cause: lastError });
  }

  // ---- raw messages ----------------------------------------------------------------------

  /**
   * Send a complete Request Message as given and return the decoded Response Message.
   * No result checking: failed batch items are returned, not thrown.
   */
  async send(message: RequestMessage, timeoutMs?: number): Promise<ResponseMessage> {
    let bytes: Buffer;
    try {
      bytes = encodeTtlv(encodeRequest(message));
    } catch (e) {
      throw new KmipClientError('INVALID_ARGUMENT', `cannot encode request: ${(e as Error).message}`, { cause: e });
    }
    const frame = await this.#conn.request(bytes, timeoutMs);
    try {
      return decodeResponse(decodeTtlv(frame, this.#decodeLimits));
    } catch (e) {
      if (e instanceof TtlvError || e instanceof KmipError) {
        throw new KmipClientError('PROTOCOL_ERROR', `malformed response message: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }

  #header(opts: BatchOptions): Omit<RequestHeader, 'batchCount'> {
    const h: Omit<RequestHeader, 'batchCount'> = { protocolVersion: this.#version };
    if (this.#maximumResponseSize !== undefined) h.maximumResponseSize = this.#maximumResponseSize;
    if (opts.errorContinuation !== undefined) h.batchErrorContinuationOption = CONTINUATION_VALUE[opts.errorContinuation];
    if (opts.ordered !== undefined) h.batchOrderOption = opts.ordered;
    return h;
  }

  #batchItemId(): Uint8Array {
    const id = Buffer.alloc(UNIQUE_BATCH_ITEM_ID_BYTES);
    id.writeBigUInt64BE(this.#nextBatchItemId);
    this.#nextBatchItemId += 1n;
    return id;
  }

  /**
   * Send several operations in ONE Request Message and return one Response Batch Item per
   * input, in input order (matched by Unique Batch Item ID, which this method assigns).
   * Failed items are returned, not thrown; items a server skipped after a failure with
   * errorContinuation 'stop' come back as `undefined`.
   * Throws KmipClientError for transport failures and responses that do not match.
   */
  async sendBatch(items: readonly BatchItemInput[], opts: BatchOptions = {}): Promise<(ResponseBatchItem | undefined)[]> {
    if (items.length === 0) throw new KmipClientError('INVALID_ARGUMENT', 'a batch needs at least one item');
    const multi = items.length > 1;
    const batchItems: RequestBatchItem[] = items.map((it) => {
      const b: RequestBatchItem = { operation: it.operation, payload: it.payload ?? { tag: Tag.RequestPayload, type: ItemType.Structure, value: [] } };
      if (multi) b.uniqueBatchItemId = this.#batchItemId();
      return b;
    });
    const response = await this.send(requestMessage(this.#header(opts), batchItems), opts.timeoutMs);
    return this.#match(batchItems, response);
  }

  /** Pair response items with request items (KMIP 1.4 §6.4 Unique Batch Item ID, §11.1 message errors). */
  #match(request: readonly RequestBatchItem[], response: ResponseMessage): (ResponseBatchItem | undefined)[] {
    const got = response.batchItems;
    const first = got[0];
    // Message-level failure: one item without Operation / ID stands for the whole request.
    if (got.length === 1 && first !== undefined && first.operation === undefined && first.uniqueBatchItemId === undefined
      && first.resultStatus !== ResultStatus.Success && request.length > 1) {
      return request.map(() => first);
    }
    if (got.length > request.length) {
      throw new KmipClientError('RESPONSE_MISMATCH', `response has ${got.length} batch items for ${request.length} requested`);
    }
    if (compareVersions(response.header.protocolVersion, this.#version) !== 0 && got.every((g) => g.resultStatus === ResultStatus.Success)) {
      throw new KmipClientError('RESPONSE_MISMATCH', `response protocol version ${formatVersion(response.header.protocolVersion)} differs from the request's ${formatVersion(this.#version)}`);
    }
    const out: (ResponseBatchItem | undefined)[] = request.map(() => undefined);
    if (request.length === 1) {
      out[0] = got[0];
    } else {
      const index = new Map<string, number>();
      request.forEach((r, i) => { if (r.uniqueBatchItemId !== undefined) index.set(Buffer.from(r.uniqueBatchItemId).toString('hex'), i); });
      got.forEach((g, pos) => {
        let i: number | undefined;
        if (g.uniqueBatchItemId === undefined) {
          // REQUIRED in the response when it was in the request; tolerate its absence only
          // when position is unambiguous (every item answered, in order).
          if (got.length !== request.length) throw new KmipClientError('RESPONSE_MISMATCH', 'response batch item without Unique Batch Item ID in a partial batch');
          i = pos;
        } else {
          i = index.get(Buffer.from(g.uniqueBatchItemId).toString('hex'));
          if (i === undefined) throw new KmipClientError('RESPONSE_MISMATCH', 'response batch item carries a Unique Batch Item ID that was not requested');
        }
        if (out[i] !== undefined) throw new KmipClientError('RESPONSE_MISMATCH', 'two response batch items answer the same request item');
        out[i] = g;
      });
    }
    out.forEach((g, i) => {
      const want = request[i]?.operation;
      if (g?.operation !== undefined && g.operation !== want) {
        throw new KmipClientError('RESPONSE_MISMATCH', `response batch item ${i} is for operation 0x${g.operation.toString(16)}, request was 0x${(want ?? 0).toString(16)}`);
      }
    });
    return out;
  }

  #resultError(item: ResponseBatchItem, operation: number): KmipResultError {
    return new KmipResultError({
      resultStatus: item.resultStatus,
      resultReason: item.resultReason,
      resultMessage: item.resultMessage,
      operation: item.operation ?? operation,
      version: this.#version,
    });
  }

  #decodeItem<Resp>(codec: PayloadCodec<never, Resp>, item: ResponseBatchItem): Resp {
    try {
      return codec.decodeResponse(item.payload, this.#version);
    } catch (e) {
      if (e instanceof KmipError) throw new KmipClientError('PROTOCOL_ERROR', `malformed ${codec.name} response payload: ${e.message}`, { cause: e });
      throw e;
    }
  }

  /**
   * Send typed operations in one message. Each outcome is fulfilled with the decoded
   * response payload or rejected with KmipResultError (the server's Result Status/Reason/
   * Message), or with KmipClientError RESPONSE_MISMATCH when the server stopped before
   * reaching the item (Batch Error Continuation Option Stop) or sent a malformed payload
   * (PROTOCOL_ERROR).
   */
  async batch<const T extends readonly BatchOperation<unknown>[]>(ops: T, opts: BatchOptions = {}): Promise<BatchOutcomes<T>> {
    const version = this.#version;
    let inputs: BatchItemInput[];
    try {
      inputs = ops.map((o) => ({ operation: o.codec.operation, payload: o.encode(version) }));
    } catch (e) {
      throw new KmipClientError('INVALID_ARGUMENT', `cannot encode batch item: ${(e as Error).message}`, { cause: e });
    }
    const items = await this.sendBatch(inputs, opts);
    return ops.map((o, i): BatchOutcome<unknown> => {
      const item = items[i];
      if (item === undefined) {
        return { status: 'rejected', reason: new KmipClientError('RESPONSE_MISMATCH', `batch item ${i} (${o.codec.name}) was not processed: an earlier item failed and the server stopped`) };
      }
      if (item.resultStatus !== ResultStatus.Success) return { status: 'rejected', reason: this.#resultError(item, o.codec.operation) };
      try {
        return { status: 'fulfilled', value: this.#decodeItem(o.codec, item) };
      } catch (e) {
        return { status: 'rejected', reason: e as KmipClientError };
      }
    }) as BatchOutcomes<T>;
  }

  /** One typed operation; throws KmipResultError when the server reports a failure. */
  async call<Req, Resp>(codec: PayloadCodec<Req, Resp>, request: Req, opts: { timeoutMs?: number } = {}): Promise<Resp> {
    let payload: StructureItem;
    try {
      payload = codec.encodeRequest(request, this.#version);
    } catch (e) {
      throw new KmipClientError('INVALID_ARGUMENT', `cannot encode ${codec.name} request: ${(e as Error).message}`, { cause: e });
    }
    const [item] = await this.sendBatch([{ operation: codec.operation, payload }], opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs });
    if (item === undefined) throw new KmipClientError('RESPONSE_MISMATCH', `no response batch item for ${codec.name}`);
    if (item.resultStatus !== ResultStatus.Success) throw this.#resultError(item, codec.operation);
    return this.#decodeItem(codec as PayloadCodec<never, Resp>, item);
  }

  // ---- typed operations (KMIP 1.4 §4 / 2.1 §6.1) -----------------------------------------

  /** Discover Versions (1.4 §4.26): the server's versions, in its preference order. */
  async discoverVersions(versions: readonly ProtocolVersion[] = []): Promise<ProtocolVersion[]> {
    return (await this.call(discoverVersionsPayloads, { protocolVersions: [...versions] })).protocolVersions;
  }

  /** Query (1.4 §4.25) with Query Function values (e.g. QueryFunction.QueryOperations). */
  query(queryFunctions: readonly number[]): Promise<QueryResponse> {
    return this.call(queryPayloads, { queryFunctions: [...queryFunctions] });
  }

  /** Create (1.4 §4.1 / 2.1 §6.1.8). */
  create(request: CreateRequest): Promise<CreateResponse> {
    return this.call(createPayloads, request);
  }

  /** Create a Symmetric Key from its essentials; returns the Unique Identifier. */
  async createSymmetricKey(spec: SymmetricKeySpec): Promise<string> {
    const attributes: KmipAttribute[] = [
      makeAttribute('Cryptographic Algorithm', spec.algorithm),
      makeAttribute('Cryptographic Length', spec.length),
      makeAttribute('Cryptographic Usage Mask', spec.usageMask),
    ];
    if (spec.name !== undefined) attributes.push(nameAttribute(spec.name));
    attributes.push(...(spec.attributes ?? []));
    return (await this.create({ objectType: ObjectType.SymmetricKey, attributes })).uniqueIdentifier;
  }

  /** Register (1.4 §4.3 / 2.1 §6.1.41). */
  register(request: RegisterRequest): Promise<RegisterResponse> {
    return this.call(registerPayloads, request);
  }

  /** Get (1.4 §4.11 / 2.1 §6.1.19). */
  get(uniqueIdentifier: string, options: Omit<GetRequest, 'uniqueIdentifier'> = {}): Promise<GetResponse> {
    return this.call(getPayloads, Object.assign({}, options, { uniqueIdentifier }));
  }

  /**
   * Get of the object wrapped under another key (Key Wrapping Specification: 1.4 §2.1.6 / 2.1 §7.18); the answer's
   * Key Block carries the wrapped bytes as its Key Value and the Key Wrapping Data (decodeKeyWrappingData reads it).
   */
  getWrapped(uniqueIdentifier: string, spec: KeyWrappingSpecification, options: Omit<GetRequest, 'uniqueIdentifier' | 'keyWrappingSpecification'> = {}): Promise<GetResponse> {
    return this.get(uniqueIdentifier, Object.assign({}, options, { keyWrappingSpecification: encodeKeyWrappingSpecification(spec, this.#version) }));
  }

  /** Get Attributes (1.4 §4.12 / 2.1 §6.1.21); no names = all attributes. */
  getAttributes(uniqueIdentifier: string, attributeNames: readonly string[] = []): Promise<GetAttributesResponse> {
    return this.call(getAttributesPayloads, { uniqueIdentifier, attributeNames: [...attributeNames] });
  }

  /** Get Attribute List (1.4 §4.13 / 2.1 §6.1.20): the names of the object's attributes. */
  async getAttributeList(uniqueIdentifier: string): Promise<string[]> {
    return (await this.call(getAttributeListPayloads, { uniqueIdentifier })).attributeNames;
  }

  /** Add Attribute (1.4 §4.14 / 2.1 §6.1.2). */
  addAttribute(uniqueIdentifier: string, attribute: KmipAttribute): Promise<AddAttributeResponse> {
    return this.call(addAttributePayloads, { uniqueIdentifier, attribute });
  }

  /** Modify Attribute (1.4 §4.15 / 2.1 §6.1.33); `currentAttribute` selects the instance in 2.x. */
  modifyAttribute(uniqueIdentifier: string, attribute: KmipAttribute, currentAttribute?: KmipAttribute): Promise<ModifyAttributeResponse> {
    return this.call(modifyAttributePayloads, currentAttribute === undefined
      ? { uniqueIdentifier, attribute }
      : { uniqueIdentifier, attribute, currentAttribute });
  }

  /** Delete Attribute (1.4 §4.16 / 2.1 §6.1.13): by name (+ 1.x index) or, in 2.x, by current value. */
  deleteAttribute(uniqueIdentifier: string, target: string | Omit<DeleteAttributeRequest, 'uniqueIdentifier'>): Promise<DeleteAttributeResponse> {
    return this.call(deleteAttributePayloads, typeof target === 'string' ? { uniqueIdentifier, attributeName: target } : Object.assign({}, target, { uniqueIdentifier }));
  }

  /** Set Attribute (2.1 §6.1.50, KMIP 2.0+). */
  async setAttribute(uniqueIdentifier: string, attribute: KmipAttribute): Promise<string> {
    return (await this.call(setAttributePayloads, { uniqueIdentifier, attribute })).uniqueIdentifier;
  }

  /** Locate (1.4 §4.9 / 2.1 §6.1.28): Unique Identifiers of matching objects. */
  locate(request: Partial<LocateRequest> = {}): Promise<LocateResponse> {
    return this.call(locatePayloads, Object.assign({}, request, { attributes: request.attributes ?? [] }));
  }

  /** Activate (1.4 §4.19 / 2.1 §6.1.1). */
  async activate(uniqueIdentifier: string): Promise<string> {
    return (await this.call(activatePayloads, { uniqueIdentifier })).uniqueIdentifier;
  }

  /**
   * Revoke (1.4 §4.20 / 2.1 §6.1.44). `reason` is a Revocation Reason Code or the full
   * structure; `compromiseOccurrenceDate` (POSIX seconds) SHOULD accompany Key/CA Compromise.
   */
  async revoke(uniqueIdentifier: string, reason: number | RevocationReason, compromiseOccurrenceDate?: bigint | Date): Promise<string> {
    const req: RevokeRequest = { uniqueIdentifier, revocationReason: typeof reason === 'number' ? { code: reason } : reason };
    if (compromiseOccurrenceDate !== undefined) {
      req.compromiseOccurrenceDate = compromiseOccurrenceDate instanceof Date ? BigInt(Math.floor(compromiseOccurrenceDate.getTime() / 1000)) : compromiseOccurrenceDate;
    }
    return (await this.call(revokePayloads, req)).uniqueIdentifier;
  }

  /** Destroy (1.4 §4.21 / 2.1 §6.1.15). */
  async destroy(uniqueIdentifier: string): Promise<string> {
    return (await this.call(destroyPayloads, { uniqueIdentifier })).uniqueIdentifier;
  }

  /** Encrypt (1.4 §4.29 / 2.1 §6.1.17). */
  encrypt(request: EncryptRequest): Promise<EncryptResponse> {
    return this.call(encryptPayloads, request);
  }

  /** Decrypt (1.4 §4.30 / 2.1 §6.1.11). */
  decrypt(request: DecryptRequest): Promise<DecryptResponse> {
    return this.call(decryptPayloads, request);
  }

  /** RNG Retrieve (1.4 §4.35 / 2.1 §6.1.46): `length` random bytes from the server. */
  async rngRetrieve(length: number): Promise<Uint8Array> {
    return (await this.call(rngRetrievePayloads, { dataLength: length })).data;
  }
}

/** A Name attribute of type Uninterpreted Text String (KMIP 1.4 §3.2). */
export function nameAttribute(value: string, nameType: number = NameType.UninterpretedTextString): KmipAttribute {
  return makeAttribute('Name', [text(Tag.NameValue, value), enumeration(Tag.NameType, nameType)]);
}

