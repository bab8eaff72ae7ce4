/**
 * The KMIP load generator behind `openkcm bench` (issue 7 §2), built on our own client
 * (src/client): every request is encoded, sent, framed, decoded and matched exactly as an
 * application's would be, so the figures include the client's own cost, identically for every
 * server it is pointed at.
 *
 * Two load models:
 * - CLOSED loop: each connection runs `pipeline` workers; a worker sends its next request when
 *   the previous one is answered. Latency = answer time − send time. Throughput is whatever the
 *   system sustains; latency under overload is NOT visible (a slow server slows the arrivals).
 * - OPEN loop: requests arrive at a fixed total rate R, request k at t0 + k/R, round-robin over
 *   the connections, whether or not earlier ones were answered. Latency is measured from the
 *   INTENDED send time, not the actual one: when the server (or this generator) falls behind,
 *   the requests that should have been sent meanwhile are charged for the wait. This is the
 *   correction for "coordinated omission" (Gil Tene; wrk2, HdrHistogram's
 *   recordValueWithExpectedInterval) — without it a stalled server suppresses exactly the
 *   samples that would show the stall. The uncorrected service time and the send lag (actual −
 *   intended send) are reported too, so the generator's own lateness is visible.
 *
 * Timers: setTimeout cannot wake sooner than ~1 ms, and at 5,000/s the arrivals are 0.2 ms
 * apart. By default (pacing 'spin') the generator yields with setImmediate when the next arrival
 * is under 2 ms away, which keeps one core busy but sends on time; pacing 'thread' has a helper
 * thread sleep until each arrival and wake this event loop, which otherwise sleeps in I/O
 * (src/bench/pacer.ts), leaving the cores to the server at the cost of wake-up lag. send_lag_ms
 * shows how on time the arrivals left either way.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import https from 'node:https';
import os from 'node:os';
import { KmipClient, nameAttribute } from '../client/client.js';
import type { BatchItemInput, KmipClientOptions, KmipVersionString } from '../client/client.js';
import { KmipConnection } from '../client/connection.js';
import { KmipClientError } from '../client/errors.js';
import { makeAttribute } from '../kmip/attributes.js';
import type { KmipAttribute } from '../kmip/attributes.js';
import { KmipResultError } from '../kmip/errors.js';
import { encodeRequest, requestMessage } from '../kmip/message.js';
import type { ProtocolVersion, RequestBatchItem } from '../kmip/message.js';
import { createPayloads } from '../kmip/payloads/create.js';
import { encryptPayloads } from '../kmip/payloads/encrypt.js';
import { getPayloads } from '../kmip/payloads/get.js';
import { locatePayloads } from '../kmip/payloads/locate.js';
import {
  BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, ObjectType, PaddingMethod, ResultReason, ResultStatus, Tag,
} from '../kmip/registry.generated.js';
import { encodeTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import { LatencyHistogram } from './histogram.js';
import type { LatencySummary } from './histogram.js';
import { OPEN_LOOP_DEFAULT_PIPELINE } from './options.js';
import { PacerThread } from './pacer.js';
import { CpuWindow } from './proc.js';
import type { CpuPerOp } from './proc.js';
import type { BenchOp, BenchTarget, Pacing } from './options.js';

export interface BenchTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly servername?: string;
}

/** A key prepared on the target before the run (Get/Encrypt/Locate act on it). */
export interface Fixture {
  readonly uid: string;
  readonly name: string;
}

export interface LoadOptions {
  readonly target: BenchTarget;
  readonly tls: BenchTls;
  readonly kmipVersion?: KmipVersionString | undefined;
  readonly op: BenchOp;
  readonly connections: number;
  /** See BenchArgs.pipeline. */
  readonly pipeline?: number | undefined;
  /** Open loop: total ops/s (items/s when batch > 1: each message carries `batch` items). */
  readonly rate?: number | undefined;
  readonly durationS: number;
  readonly warmupS: number;
  readonly batch?: number;
  /** Use this key instead of creating one (the floor server cannot create). */
  readonly fixture?: Fixture | undefined;
  /** get: choose each request's key at random from these (scale runs) instead of the fixture. */
  readonly uids?: readonly string[] | undefined;
  /** A name for the target in the report ("openkcm", "pykmip", "floor"). */
  readonly label?: string;
  /** Per-request timeout, ms (default 30 000). */
  readonly requestTimeoutMs?: number;
  /** Open loop: how the generator waits for its next arrival (src/bench/pacer.ts); default 'spin'. */
  readonly pacing?: Pacing | undefined;
  /** 'full' (default): KmipClient; 'wire': our transport with pre-encoded requests (see {@link ClientMode}). */
  readonly client?: ClientMode;
  /** client 'https': the KMIP-over-HTTPS port on the target host. */
  readonly httpsPort?: number;
  /** Receives the live counter of successful operations once the run starts (the CLI's live rate on a terminal). */
  readonly onTally?: (live: { readonly ops: number }) => void;
  /**
   * The target's pid, when it runs on this machine: the CPU its process tree (every process and thread, the
   * workers of `openkcm serve` included) used in the measured window is reported per operation (Linux /proc).
   */
  readonly serverPid?: number | undefined;
}

/**
 * - full: every request goes through KmipClient.sendBatch: message model, TTLV encode, frame,
 *   TTLV decode, batch-item matching — what an application pays.
 * - wire: our client's transport only (src/client/connection.ts: mutual TLS, TCP_NODELAY,
 *   framer, in-order pipelining) carrying request frames encoded ONCE at setup; each answer is
 *   checked by walking its TTLV headers for Result Status/Reason, without decoding it. On a
 *   2-core machine where client and server share the CPU, every microsecond the generator
 *   spends is taken from the server, so this mode shows the server's capacity with the least
 *   client in the way (it is how the issue's TLS floor figures were taken: a minimal client).
 * - https: the wire mode's pre-encoded frames, each sent as `POST /kmip` (application/octet-stream) over one
 *   keep-alive mutual-TLS HTTPS connection per --connections (issue 20: KMIP over HTTPS measured beside TTLV over
 *   TLS). HTTP/1.1 answers one request at a time per connection, so `pipeline` > 1 only queues on it.
 */
export type ClientMode = 'full' | 'wire' | 'https';

/** The JSON contract of issue 7 §2, plus what makes a run reproducible. */
export interface BenchResult {
  readonly target_label: string;
  readonly target: string;
  readonly op: BenchOp;
  readonly connections: number;
  readonly pipeline: number;
  readonly batch: number;
  readonly mode: 'closed' | 'open';
  readonly rate_ops_s: number | null;
  readonly kmip_version: string;
  readonly client: ClientMode;
  readonly duration_s: number;
  readonly warmup_s: number;
  /** Successful operations (batch items) per second over the measured window. */
  readonly throughput_ops_s: number;
  readonly messages_s: number;
  readonly ops: number;
  /** Latency of a whole request message; open loop: from its intended send time. */
  readonly latency_ms: LatencySummary;
  /** Open loop only: from the actual send (without the coordinated-omission correction). */
  readonly service_time_ms: LatencySummary | null;
  /** Open loop only: actual − intended send time (the generator's own lateness plus queueing behind `pipeline`). */
  readonly send_lag_ms: LatencySummary | null;
  /** Open loop only: how the generator waited for its arrivals (src/bench/pacer.ts). */
  readonly pacing: Pacing | null;
  /** CPU per successful operation in the measured window; null when nothing succeeded (see {@link CpuPerOp}). */
  readonly cpu_per_op: CpuPerOp | null;
  /** Failed operations (batch items), transport failures and requests never answered. */
  readonly errors: number;
  readonly error_kinds: Readonly<Record<string, number>>;
  /** Encoded size of one request message and of its response (from a probe exchange before the run). */
  readonly request_bytes: number;
  readonly response_bytes: number;
  readonly loadavg_before: readonly number[];
  readonly loadavg_after: readonly number[];
  readonly started_at: string;
}

const RESULT_REASON_NAME = new Map<number, string>(Object.entries(ResultReason).map(([k, v]) => [v, k]));

const ENCRYPT_PLAINTEXT_BYTES = 64;
/** Mix weights (issue 7 names the ops, not the blend): mostly reads, as a DEK cache in front of storage would see. */
const MIX = { get: 0.7, locate: 0.2 } as const;
/** Connections opened at once while setting up: each handshake costs the server CPU; thousands at once only time out. */
const CONNECT_CONCURRENCY = 32;
/** How long the open loop waits for the last answers after the last arrival before counting them as lost. */
const DRAIN_TIMEOUT_MS = 10_000;

export function clientOptions(o: Pick<LoadOptions, 'target' | 'tls' | 'kmipVersion' | 'requestTimeoutMs'>, extra: Partial<KmipClientOptions> = {}): KmipClientOptions {
  return {
    host: o.target.host,
    port: o.target.port,
    ca: o.tls.ca,
    cert: o.tls.cert,
    key: o.tls.key,
    ...(o.tls.servername === undefined ? {} : { servername: o.tls.servername }),
    protocolVersion: o.kmipVersion ?? 'negotiate',
    timeouts: { connect: 20_000, request: o.requestTimeoutMs ?? 30_000 },
    ...extra,
  };
}

function aesKeyAttributes(): KmipAttribute[] {
  return [
    makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES),
    makeAttribute('Cryptographic Length', 256),
    makeAttribute('Cryptographic Usage Mask', CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt),
  ];
}

/** Creates (and for Encrypt activates) the key the run works on. */
export async function prepareFixture(client: KmipClient, op: BenchOp): Promise<Fixture> {
  const name = `openkcm-bench-${randomUUID()}`;
  const uid = await client.createSymmetricKey({
    algorithm: CryptographicAlgorithm.AES, length: 256,
    usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt, name,
  });
  if (op === 'encrypt' || op === 'mix') {
    // Encrypt needs an Active key (KMIP 1.4 §4.29). A server without Activate still gets measured.
    await client.activate(uid).catch(() => undefined);
  }
  return { uid, name };
}

/** Source of batch items for one op: payloads are encoded once, at setup, in the connection's version. */
export interface Workload {
  /** One batch item. */
  item(): BatchItemInput;
}

export function buildWorkload(op: BenchOp, version: ProtocolVersion, fixture: Fixture, uids?: readonly string[]): Workload {
  const get: BatchItemInput[] = (uids !== undefined && uids.length > 0 ? uids : [fixture.uid]).map((uniqueIdentifier) => ({
    operation: getPayloads.operation, payload: getPayloads.encodeRequest({ uniqueIdentifier }, version),
  }));
  const create: BatchItemInput = {
    operation: createPayloads.operation,
    payload: createPayloads.encodeRequest({ objectType: ObjectType.SymmetricKey, attributes: aesKeyAttributes() }, version),
  };
  const locate: BatchItemInput = {
    operation: locatePayloads.operation,
    payload: locatePayloads.encodeRequest({ maximumItems: 1, attributes: [nameAttribute(fixture.name)] }, version),
  };
  const encrypt: BatchItemInput = {
    operation: encryptPayloads.operation,
    payload: encryptPayloads.encodeRequest({
      uniqueIdentifier: fixture.uid,
      cryptographicParameters: {
        cryptographicAlgorithm: CryptographicAlgorithm.AES, blockCipherMode: BlockCipherMode.CBC,
        paddingMethod: PaddingMethod.PKCS5, randomIV: true,
      },
      data: randomBytes(ENCRYPT_PLAINTEXT_BYTES),
    }, version),
  };
  const pickGet = (): BatchItemInput => (get.length === 1 ? get[0] : get[Math.floor(Math.random() * get.length)]) ?? create;
  switch (op) {
    case 'get': return { item: pickGet };
    case 'create': return { item: () => create };
    case 'locate': return { item: () => locate };
    case 'encrypt': return { item: () => encrypt };
    case 'mix': return {
      item: () => {
        const r = Math.random();
        return r < MIX.get ? pickGet() : r < MIX.get + MIX.locate ? locate : create;
      },
    };
  }
}

/** KMIP requires a Request Payload; the client sends an empty one for payload-less items (as here). */
const EMPTY_PAYLOAD: StructureItem = { tag: Tag.RequestPayload, type: ItemType.Structure, value: [] };

/** The request message one send carries (batch items get Unique Batch Item IDs as the client would). */
function probeMessage(version: ProtocolVersion, items: readonly BatchItemInput[]): Buffer {
  const multi = items.length > 1;
  const batchItems: RequestBatchItem[] = items.map((it, i) => {
    const b: RequestBatchItem = { operation: it.operation, payload: it.payload ?? EMPTY_PAYLOAD };
    if (multi) {
      const id = Buffer.alloc(8);
      id.writeBigUInt64BE(BigInt(i + 1));
      b.uniqueBatchItemId = id;
    }
    return b;
  });
  return encodeTtlv(encodeRequest(requestMessage({ protocolVersion: version }, batchItems)));
}

export interface Exchange {
  readonly fixture: Fixture;
  readonly version: ProtocolVersion;
  /** The encoded request message and the raw response frame the target answered it with. */
  readonly request: Buffer;
  readonly response: Buffer;
}

/**
 * One request/response of the op on its own connection, raw: gives the message sizes for the
 * report and, against our server, the response the TLS floor server replays (same size as ours).
 */
export async function captureExchange(o: LoadOptions, fixture: Fixture, version: ProtocolVersion): Promise<Exchange> {
  const workload = buildWorkload(o.op === 'mix' ? 'get' : o.op, version, fixture, o.uids);
  const items = Array.from({ length: o.batch ?? 1 }, () => workload.item());
  const request = probeMessage(version, items);
  const conn = await KmipConnection.connect(clientOptions(o));
  try {
    const response = await conn.request(request);
    return { fixture, version, request, response };
  } finally {
    conn.destroy();
  }
}

const TAG_BATCH_ITEM = Tag.BatchItem;
const TAG_RESULT_STATUS = Tag.ResultStatus;
const TAG_RESULT_REASON = Tag.ResultReason;
const TTLV_HEADER = 8;

interface ItemResult { resultStatus: number; resultReason?: number | undefined }

/**
 * Result Status and Reason of each Batch Item of a Response Message (KMIP 1.4 §7.2: Response
 * Message = Response Header, Batch Item+; Batch Item holds Result Status, Result Reason?),
 * read by walking TTLV item headers (KMIP 1.4 §9.1: tag 3 bytes, type 1, length 4, value padded
 * to 8) without decoding anything else. Throws on a malformed frame.
 */
export function scanResults(frame: Uint8Array): ItemResult[] {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const end = frame.byteLength;
  const out: ItemResult[] = [];
  const padded = (len: number): number => (len + 7) & ~7;
  if (end < TTLV_HEADER) throw new Error('response shorter than a TTLV header');
  let off = TTLV_HEADER;
  while (off + TTLV_HEADER <= end) {
    const tag = (dv.getUint16(off) << 8) | dv.getUint8(off + 2);
    const len = dv.getUint32(off + 4);
    const next = off + TTLV_HEADER + padded(len);
    if (next > end) throw new Error('TTLV item overruns the response');
    if (tag === TAG_BATCH_ITEM) {
      const item: ItemResult = { resultStatus: -1 };
      for (let p = off + TTLV_HEADER; p + TTLV_HEADER <= off + TTLV_HEADER + len;) {
        const t = (dv.getUint16(p) << 8) | dv.getUint8(p + 2);
        const l = dv.getUint32(p + 4);
        if (t === TAG_RESULT_STATUS) item.resultStatus = dv.getUint32(p + TTLV_HEADER);
        else if (t === TAG_RESULT_REASON) item.resultReason = dv.getUint32(p + TTLV_HEADER);
        p += TTLV_HEADER + padded(l);
      }
      out.push(item);
    }
    off = next;
  }
  return out;
}

/** One connection as the load loops see it. */
interface Sender {
  send(): Promise<readonly (ItemResult | undefined)[]>;
  readonly isClosed: boolean;
  close(): Promise<void>;
  abort(): void;
}

function fullSender(c: KmipClient, items: () => BatchItemInput[]): Sender {
  return {
    send: () => c.sendBatch(items()),
    get isClosed() { return c.isClosed; },
    close: () => c.close(),
    abort: () => { c.abort(); },
  };
}

/** Distinct request frames to cycle through (random Gets over many keys, the mix). */
const WIRE_FRAMES = 4096;

function wireSender(c: KmipConnection, frames: readonly Buffer[]): Sender {
  let i = 0;
  const pick = frames.length === 1
    ? (): Buffer => frames[0] ?? Buffer.alloc(0)
    : (): Buffer => frames[(i = (i + 1) % frames.length)] ?? Buffer.alloc(0);
  return {
    send: async () => scanResults(await c.request(pick())),
    get isClosed() { return c.isClosed; },
    close: () => c.close(),
    abort: () => { c.destroy(); },
  };
}

/** One keep-alive HTTPS connection carrying KMIP TTLV frames as POST /kmip bodies. */
function httpsSender(o: LoadOptions, port: number, frames: readonly Buffer[]): Sender {
  const agent = new https.Agent({
    keepAlive: true, maxSockets: 1, ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key,
    ...(o.tls.servername === undefined ? {} : { servername: o.tls.servername }),
  });
  let closed = false;
  let i = 0;
  const pick = (): Buffer => (frames.length === 1 ? frames[0] : frames[(i = (i + 1) % frames.length)]) ?? Buffer.alloc(0);
  const timeout = o.requestTimeoutMs ?? 30_000;
  return {
    send: () => new Promise((resolve, reject) => {
      const body = pick();
      const req = https.request({
        host: o.target.host, port, method: 'POST', path: '/kmip', agent,
        ...(o.tls.servername === undefined ? { checkServerIdentity: () => undefined } : {}),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => { chunks.push(c); });
        res.on('error', reject);
        res.on('end', () => {
          try {
            resolve(scanResults(Buffer.concat(chunks)));
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      });
      req.setTimeout(timeout, () => { req.destroy(new Error(`no HTTPS answer within ${String(timeout)} ms`)); });
      req.on('error', reject);
      req.end(body);
    }),
    get isClosed() { return closed; },
    close: () => {
      closed = true;
      agent.destroy();
      return Promise.resolve();
    },
    abort: () => {
      closed = true;
      agent.destroy();
    },
  };
}

async function connectAll<T extends { abort(): void }>(n: number, connect: () => Promise<T>): Promise<T[]> {
  const clients: T[] = [];
  let next = 0;
  let failure: unknown;
  const opener = async (): Promise<void> => {
    while (next < n && failure === undefined) {
      next++;
      try {
        clients.push(await connect());
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, n) }, opener));
  if (failure !== undefined) {
    for (const c of clients) c.abort();
    throw failure instanceof Error ? failure : new Error('connection failed', { cause: failure });
  }
  return clients;
}

class Tally {
  ops = 0;
  messages = 0;
  errors = 0;
  readonly kinds = new Map<string, number>();

  error(kind: string, count = 1): void {
    this.errors += count;
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + count);
  }

  /** Counts the items of one answered message; returns whether every item succeeded. */
  items(res: readonly ({ resultStatus: number; resultReason?: number | undefined } | undefined)[]): void {
    this.messages++;
    for (const it of res) {
      if (it === undefined) this.error('NotProcessed');
      else if (it.resultStatus === ResultStatus.Success) this.ops++;
      else this.error(RESULT_REASON_NAME.get(it.resultReason ?? -1) ?? `ResultReason(${String(it.resultReason)})`);
    }
  }

  thrown(e: unknown, items: number): void {
    if (e instanceof KmipClientError) this.error(e.code, items);
    else if (e instanceof KmipResultError) this.error(RESULT_REASON_NAME.get(e.resultReason ?? -1) ?? 'KmipResultError', items);
    else this.error(e instanceof Error ? e.name : 'Error', items);
  }
}

const now = (): number => performance.now();

function formatVersionString(v: ProtocolVersion): KmipVersionString {
  return `${String(v.major)}.${String(v.minor)}` as KmipVersionString;
}

function loadavg(): number[] {
  return os.loadavg().map((v) => Math.round(v * 100) / 100);
}

/**
 * Runs one load: connect, prepare the key, probe the message sizes, warm up, measure, close.
 * Never throws for failed operations (they are counted); throws when it cannot connect or
 * cannot prepare its key.
 */
export async function runLoad(o: LoadOptions): Promise<BenchResult> {
  const open = o.rate !== undefined;
  const pipeline = o.pipeline ?? (open ? OPEN_LOOP_DEFAULT_PIPELINE : 1);
  const batch = o.batch ?? 1;
  const loadBefore = loadavg();
  const startedAt = new Date().toISOString();
  const mode: ClientMode = o.client ?? 'full';
  // A generous client-side cap: the open loop's own queue holds what exceeds `pipeline`.
  const maxPendingRequests = Math.max(pipeline, 64);
  const fullClients = mode === 'full'
    ? await connectAll(o.connections, () => KmipClient.connect(clientOptions(o, { maxPendingRequests })))
    : [];
  let clients: Sender[] = [];
  const cpu = new CpuWindow(o.serverPid);
  try {
    // Setup (version negotiation, the key) always goes through the full client.
    const setup = fullClients[0] ?? await KmipClient.connect(clientOptions(o));
    const version = setup.protocolVersion;
    const fixture = o.fixture ?? (o.uids !== undefined && o.uids.length > 0 && o.op === 'get'
      ? { uid: o.uids[0] ?? '', name: '' }
      : await prepareFixture(setup, o.op));
    if (fullClients.length === 0) await setup.close();
    const probe = await captureExchange({ ...o, kmipVersion: formatVersionString(version) }, fixture, version);
    const workload = buildWorkload(o.op, version, fixture, o.uids);
    const items = (): BatchItemInput[] => Array.from({ length: batch }, () => workload.item());
    if (mode === 'full') clients = fullClients.map((c) => fullSender(c, items));
    else if (mode === 'https') {
      const port = o.httpsPort;
      if (port === undefined) throw new Error('client mode https needs httpsPort');
      const distinct = o.op === 'get' && (o.uids?.length ?? 0) > 1 ? Math.min(WIRE_FRAMES, o.uids?.length ?? 1) : o.op === 'mix' ? WIRE_FRAMES : 1;
      const frames = Array.from({ length: distinct }, () => probeMessage(version, items()));
      clients = Array.from({ length: o.connections }, () => httpsSender(o, port, frames));
    } else {
      const distinct = o.op === 'get' && (o.uids?.length ?? 0) > 1 ? Math.min(WIRE_FRAMES, o.uids?.length ?? 1) : o.op === 'mix' ? WIRE_FRAMES : 1;
      const frames = Array.from({ length: distinct }, () => probeMessage(version, items()));
      const conns = await connectAll(o.connections, async () => {
        const c = await KmipConnection.connect(clientOptions(o, { maxPendingRequests }));
        return Object.assign(c, { abort: () => { c.destroy(); } });
      });
      clients = conns.map((c) => wireSender(c, frames));
    }

    const hist = new LatencyHistogram();
    const service = new LatencyHistogram();
    const lag = new LatencyHistogram();
    const tally = new Tally();
    o.onTally?.(tally);
    const warmupMs = o.warmupS * 1000;
    const durationMs = o.durationS * 1000;
    let elapsedMs: number;

    if (!open) {
      const t0 = now();
      const measureAt = t0 + warmupMs;
      const endAt = measureAt + durationMs;
      cpu.startAt(measureAt);
      const worker = async (c: Sender): Promise<void> => {
        while (!c.isClosed) {
          const s = now();
          if (s >= endAt) return;
          const measured = s >= measureAt;
          try {
            const res = await c.send();
            const d = now() - s;
            if (measured) {
              hist.recordMs(d);
              tally.items(res);
            }
          } catch (e) {
            if (measured) tally.thrown(e, batch);
          }
        }
        if (now() < endAt) tally.error('CONNECTION_CLOSED');
      };
      await Promise.all(clients.flatMap((c) => Array.from({ length: pipeline }, () => worker(c))));
      elapsedMs = Math.max(now() - measureAt, 1);
    } else {
      const rate = o.rate ?? 1;
      // One arrival per message; a message carries `batch` operations.
      const intervalMs = 1000 / (rate / batch);
      const pacer = o.pacing === 'thread' ? await PacerThread.start() : undefined;
      const t0 = now() + 1;
      const measureAt = t0 + warmupMs;
      const endAt = measureAt + durationMs;
      cpu.startAt(measureAt);
      const inflight = new Array<number>(clients.length).fill(0);
      const queues: number[][] = clients.map(() => []);
      let k = 0;
      let outstanding = 0;
      let scheduled = false;
      /** Completion time of the last measured answer: an overloaded target answers after the window. */
      let lastDone = 0;
      let resolveDone: () => void = () => undefined;
      const done = new Promise<void>((r) => { resolveDone = r; });
      const send = (ci: number, intended: number): void => {
        const c = clients[ci];
        if (c === undefined) return;
        inflight[ci] = (inflight[ci] ?? 0) + 1;
        const sentAt = now();
        const finish = (): void => {
          inflight[ci] = (inflight[ci] ?? 1) - 1;
          outstanding--;
          const q = queues[ci]?.shift();
          if (q !== undefined) send(ci, q);
          else if (scheduled && outstanding === 0) resolveDone();
        };
        c.send().then((res) => {
          const end = now();
          if (intended >= measureAt) {
            lastDone = end;
            hist.recordMs(end - intended);
            service.recordMs(end - sentAt);
            lag.recordMs(sentAt - intended);
            tally.items(res);
          }
          finish();
        }, (e: unknown) => {
          if (intended >= measureAt) tally.thrown(e, batch);
          finish();
        });
      };
      const tick = (): void => {
        const t = now();
        for (;;) {
          const intended = t0 + k * intervalMs;
          if (intended > t || intended >= endAt) break;
          const ci = k % clients.length;
          k++;
          outstanding++;
          if ((inflight[ci] ?? 0) < pipeline) send(ci, intended);
          else queues[ci]?.push(intended);
        }
        const nextAt = t0 + k * intervalMs;
        if (nextAt >= endAt) {
          scheduled = true;
          if (outstanding === 0) resolveDone();
          return;
        }
        if (pacer !== undefined) return;
        const wait = nextAt - now();
        if (wait > 2) setTimeout(tick, wait - 1);
        else setImmediate(tick);
      };
      if (pacer === undefined) setTimeout(tick, 0);
      else pacer.run({ t0, endAt, intervalMs }, tick);
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        done.then(() => true),
        new Promise<boolean>((r) => {
          // Armed once the last arrival is due: the deadline counts from the end of the schedule.
          const arm = (): void => {
            if (scheduled) timer = setTimeout(() => { r(false); }, DRAIN_TIMEOUT_MS);
            else timer = setTimeout(arm, 50);
          };
          arm();
        }),
      ]);
      clearTimeout(timer);
      await pacer?.stop();
      if (!drained) {
        // Never answered: charged as errors AND as latency, so they cannot vanish from the
        // percentiles. Each was due before endAt, so now − endAt is a lower bound of its latency.
        const lost = outstanding;
        tally.error('NO_ANSWER_IN_DRAIN', lost * batch);
        const atLeast = now() - endAt;
        for (let i = 0; i < lost; i++) hist.recordMs(atLeast);
      }
      // Throughput is answers per second of the time it took to get them: a target that cannot
      // keep up answers the window's arrivals after the window ends.
      elapsedMs = Math.max(durationMs, lastDone - measureAt);
    }

    const seconds = elapsedMs / 1000;
    const cpuPerOp = cpu.finish(tally.ops);
    return {
      target_label: o.label ?? `${o.target.host}:${String(o.target.port)}`,
      target: `${o.target.host}:${String(o.target.port)}`,
      op: o.op,
      connections: o.connections,
      pipeline,
      batch,
      mode: open ? 'open' : 'closed',
      rate_ops_s: o.rate ?? null,
      kmip_version: formatVersionString(version),
      client: mode,
      duration_s: o.durationS,
      warmup_s: o.warmupS,
      throughput_ops_s: Math.round(tally.ops / seconds),
      messages_s: Math.round(tally.messages / seconds),
      ops: tally.ops,
      latency_ms: hist.summary(),
      service_time_ms: open ? service.summary() : null,
      send_lag_ms: open ? lag.summary() : null,
      pacing: open ? o.pacing ?? 'spin' : null,
      cpu_per_op: cpuPerOp,
      errors: tally.errors,
      error_kinds: Object.fromEntries([...tally.kinds.entries()].sort((a, b) => b[1] - a[1])),
      request_bytes: probe.request.length,
      response_bytes: probe.response.length,
      loadavg_before: loadBefore,
      loadavg_after: loadavg(),
      started_at: startedAt,
    };
  } finally {
    cpu.cancel();
    if (clients.length === 0) for (const c of fullClients) c.abort();
    await Promise.all(clients.map((c) => c.close().catch(() => { c.abort(); })));
  }
}

/** One line for a terminal. */
export function formatResult(r: BenchResult): string {
  const l = r.latency_ms;
  const mode = r.mode === 'open' ? `open ${String(r.rate_ops_s)}/s` : 'closed';
  const errs = r.errors === 0 ? '0 errors' : `${String(r.errors)} errors ${JSON.stringify(r.error_kinds)}`;
  return `${r.target_label}${r.client === 'full' ? '' : ` (${r.client})`} ${r.op} c=${String(r.connections)} d=${String(r.pipeline)} b=${String(r.batch)} ${mode}: ` +
    `${r.throughput_ops_s.toLocaleString('en')} ops/s  p50 ${l.p50.toFixed(3)} p90 ${l.p90.toFixed(3)} p99 ${l.p99.toFixed(3)} ` +
    `p99.9 ${l.p999.toFixed(3)} max ${l.max.toFixed(3)} ms  ${errs}  (req ${String(r.request_bytes)} B, resp ${String(r.response_bytes)} B)` +
    (r.cpu_per_op === null ? '' : `  CPU/op${r.cpu_per_op.server_us === null ? '' : ` server ${String(r.cpu_per_op.server_us)} µs,`} generator ${String(r.cpu_per_op.generator_us)} µs`);
}
