/**
 * The replay engine behind `openkcm conformance` (kept apart from the CLI so tests call it).
 *
 * Two modes:
 *  - parse-only: every message of every file survives XML → TTLV → binary → TTLV → XML (and
 *    serialized XML text back to TTLV) unchanged, modulo the canonical spellings of
 *    src/kmip/encodings/xml.ts (mask bit order, hex case, `Z` vs `+00:00`): values are compared as TTLV.
 *  - live: for each file a fresh connection (placeholder bindings are session-scoped), each
 *    RequestMessage sent in order, each answer compared with the expected ResponseMessage
 *    (compare.ts). The first difference fails the file and ends its replay.
 */
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { parseXml, serializeXml, ttlvToXml, xmlToTtlv } from '../kmip/encodings/xml.js';
import type { XmlElement } from '../kmip/encodings/xml.js';
import { compareResponseMessage, compareTree, PERMITTED_VARIATIONS } from './compare.js';
import type { BatchItemContext, Difference, Side, VariationRule } from './compare.js';
import {
  DEFAULT_TIME_TOLERANCE_SECONDS,
  instantiateRequest,
  startStreamIfInit,
  isPlaceholder,
  maskPlaceholders,
  ReplayState,
  UnboundPlaceholderError,
  UnknownPlaceholderError,
} from './placeholders.js';
import type { MessageTransport } from './transport.js';
import { isDirectory, listVectorFiles, loadVector } from './vectors.js';
import type { Vector } from './vectors.js';
import { KMIP_VERSIONS } from '../kmip/registry.generated.js';
import type { KmipVersion } from '../kmip/registry.generated.js';

export type FileResult =
  | { readonly relPath: string; readonly status: 'pass' }
  | { readonly relPath: string; readonly status: 'fail'; readonly difference: Difference }
  | { readonly relPath: string; readonly status: 'skip'; readonly reason: string };

export interface RunSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly results: readonly FileResult[];
}

/** Default wait for one response (and for the TLS handshake). */
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface LiveOptions {
  /** Opens a fresh connection; called once per file (with the file's path, to pick an encoding by profile). */
  readonly connect: (relPath: string) => Promise<MessageTransport>;
  readonly timeoutMs?: number;
  readonly timeToleranceSeconds?: number;
  /** Clock in seconds since the epoch (tests pin it). */
  readonly clock?: () => bigint;
  /** Rules in force (default {@link PERMITTED_VARIATIONS}). */
  readonly rules?: readonly VariationRule[];
  /** Called with each exchange, for --verbose. */
  readonly trace?: (line: string) => void;
}

export interface RunOptions {
  readonly vectorsDir: string;
  /** Keep files whose relative path contains any of these substrings (all files when empty). */
  readonly filters?: readonly string[];
  /** Omit for --parse-only. */
  readonly live?: LiveOptions;
  /** Called as each file finishes, so the CLI prints progressively. */
  readonly onResult?: (r: FileResult) => void;
}

export class VectorsDirNotFoundError extends Error {
  constructor(readonly dir: string) {
    super(`vectors directory not found: ${dir} (nothing to replay)`);
    this.name = 'VectorsDirNotFoundError';
  }
}

/** One line: a FAIL line must not be split by an error message's own newlines (OpenSSL adds them). */
function describeError(e: unknown): string {
  return (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).replace(/\s+/g, ' ').trim();
}

function fail(relPath: string, path: string, expected: string, got: string): FileResult {
  return { relPath, status: 'fail', difference: { path, expected, got } };
}

// ───────────────────────────────────────── parse-only ─────────────────────────────────────────

const STRICT = { rules: [] as const, names: [] as const, item: undefined, placeholders: false } as const;

/**
 * One message through XML → TTLV → binary → TTLV → XML → text → XML → TTLV. Placeholders are
 * replaced by type-valid stand-ins first (a `$NOW` is not a DateTime); identifiers stay as text.
 */
export function roundTripMessage(original: XmlElement, path: string): Difference | undefined {
  const masked = maskPlaceholders(original);
  const state = new ReplayState();
  const t1 = xmlToTtlv(masked);
  const t2 = decodeTtlv(encodeTtlv(t1));
  const x2 = ttlvToXml(t2);
  const first = compareTree({ xml: masked, ttlv: t1 }, { xml: x2, ttlv: t2 }, path, { ...STRICT, state });
  if (first !== undefined) return first;
  const x3 = parseXml(serializeXml(x2));
  const t3 = xmlToTtlv(x3);
  return compareTree({ xml: x2, ttlv: t2 }, { xml: x3, ttlv: t3 }, path, { ...STRICT, state });
}

export function parseOnlyVector(vector: Vector): FileResult {
  const { relPath } = vector;
  for (const [k, ex] of vector.exchanges.entries()) {
    for (const [el, path] of [[ex.request, `RequestMessage[${k}]`], [ex.response, `ResponseMessage[${k}]`]] as const) {
      let d: Difference | undefined;
      try {
        d = roundTripMessage(el, path);
      } catch (e) {
        return fail(relPath, path, 'a message that encodes and decodes', describeError(e));
      }
      if (d !== undefined) return { relPath, status: 'fail', difference: d };
    }
  }
  return { relPath, status: 'pass' };
}

// ─────────────────────────────────────────── live ───────────────────────────────────────────

/** Operations whose Success creates objects the server generated the key material of. */
const GENERATING_OPERATIONS = new Set(['Create', 'CreateKeyPair', 'ReKey', 'ReKeyKeyPair', 'DeriveKey', 'CreateSplitKey', 'JoinSplitKey']);
const GENERATED_ID_ELEMENTS = new Set(['UniqueIdentifier', 'PrivateKeyUniqueIdentifier', 'PublicKeyUniqueIdentifier']);
const PUBLIC_OBJECT_TYPES = new Set(['PublicKey', 'Certificate']);

function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

function batchItems(message: XmlElement): XmlElement[] {
  return message.children.filter((c) => c.name === 'BatchItem');
}

function collectDates(item: TtlvItem, into: Set<bigint>): void {
  if (item.type === ItemType.Structure) for (const c of item.value) collectDates(c, into);
  else if (item.type === ItemType.DateTime) into.add(item.value);
}

function collectBytes(side: Side, into: Map<string, Uint8Array>): void {
  const t = side.ttlv;
  if (t.type === ItemType.ByteString) into.set(side.xml.name, t.value);
  if (t.type !== ItemType.Structure) return;
  t.value.forEach((ttlv, i) => {
    const xml = side.xml.children[i];
    if (xml !== undefined) collectBytes({ xml, ttlv }, into);
  });
}

/** What the n-th response batch item's comparison needs to know about its request. */
function itemContext(original: XmlElement | undefined, sent: XmlElement | undefined, state: ReplayState): BatchItemContext | undefined {
  if (sent === undefined) return undefined;
  const operation = child(sent, 'Operation')?.attrs.value ?? '';
  const payload = child(sent, 'RequestPayload');
  const uid = child(payload, 'UniqueIdentifier');
  // No Unique Identifier: the server uses its ID Placeholder (KMIP 1.4 §3.33).
  const subject = uid?.attrs.type === 'TextString' ? uid.attrs.value : state.lastIdentifier;
  const originalData = child(child(original, 'RequestPayload'), 'Data');
  return {
    operation,
    // Generated by the server in this session, or made in an earlier session (e.g. TL-M-3 Gets
    // by Locate the key TL-M-2 Created): either way its material is not the file's to fix. Only
    // material this session's client Registered is compared exactly.
    subjectGenerated: subject !== undefined
      && (state.generatedObjects.has(subject) || !state.registeredObjects.has(subject)),
    subjectPublic: subject !== undefined && state.publicObjects.has(subject),
    serverChoseIv: operation === 'Encrypt' && child(payload, 'IVCounterNonce') === undefined,
    requestDataLiteral: originalData !== undefined && !isPlaceholder(originalData.attrs.value),
  };
}

/** Whether every base object of a Derive Key request (its Unique Identifiers, else the ID Placeholder) was
 *  Registered in this session and not generated by the server. */
function derivedFromRegistered(sent: XmlElement | undefined, state: ReplayState): boolean {
  const payload = child(sent, 'RequestPayload');
  const ids = (payload?.children ?? []).filter((c) => c.name === 'UniqueIdentifier' && c.attrs.type === 'TextString').map((c) => c.attrs.value);
  const bases = ids.length > 0 ? ids : [state.lastIdentifier];
  return bases.every((b) => b !== undefined && state.registeredObjects.has(b) && !state.generatedObjects.has(b));
}

/** Learn from a matched response batch item: generated objects, the ID Placeholder, captured bytes. */
function learn(sent: XmlElement | undefined, got: Side, state: ReplayState): void {
  const operation = child(sent, 'Operation')?.attrs.value ?? '';
  const success = child(got.xml, 'ResultStatus')?.attrs.value === 'Success';
  const payload = child(got.xml, 'ResponsePayload');
  if (success && payload !== undefined) {
    for (const c of payload.children) {
      const v = c.attrs.value;
      if (c.attrs.type !== 'TextString' || v === undefined) continue;
      if (GENERATING_OPERATIONS.has(operation) && GENERATED_ID_ELEMENTS.has(c.name)) {
        // Derive Key is deterministic (KMIP 1.4 §4.6): from bases this session Registered, the derived material is
        // the file's to fix and is compared exactly, like a Registered object's (TC-DERIVEKEY-*).
        if (operation === 'DeriveKey' && derivedFromRegistered(sent, state)) state.registeredObjects.add(v);
        else state.generatedObjects.add(v);
      }
      if (c.name === 'PublicKeyUniqueIdentifier') state.publicObjects.add(v);
      if (operation === 'Register' && c.name === 'UniqueIdentifier') state.registeredObjects.add(v);
      if (operation === 'Register' && c.name === 'UniqueIdentifier') {
        const type = child(child(sent, 'RequestPayload'), 'ObjectType')?.attrs.value;
        if (type !== undefined && PUBLIC_OBJECT_TYPES.has(type)) state.publicObjects.add(v);
      }
    }
    // KMIP 1.4 §3.33: the ID Placeholder is the identifier the operation returned (for
    // Create Key Pair, the private key's).
    const id = child(payload, 'PrivateKeyUniqueIdentifier') ?? child(payload, 'UniqueIdentifier');
    if (id?.attrs.type === 'TextString' && id.attrs.value !== undefined) state.lastIdentifier = id.attrs.value;
  }
  collectBytes(got, state.lastBytesByElement);
}

/** The request's protocol version, so received values are shown in that version's names. */
function protocolVersion(request: XmlElement): KmipVersion | undefined {
  const pv = child(child(request, 'RequestHeader'), 'ProtocolVersion');
  const v = `${child(pv, 'ProtocolVersionMajor')?.attrs.value ?? ''}.${child(pv, 'ProtocolVersionMinor')?.attrs.value ?? ''}`;
  return KMIP_VERSIONS.find((k) => k === v);
}

/** Replay one file over a connection the caller opened (and closes). */
export async function replayVector(vector: Vector, transport: MessageTransport, options: Omit<LiveOptions, 'connect'> = {}): Promise<FileResult> {
  const { relPath } = vector;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const rules = options.rules ?? PERMITTED_VARIATIONS;
  const state = new ReplayState(options.clock, options.timeToleranceSeconds ?? DEFAULT_TIME_TOLERANCE_SECONDS);
  for (const [k, ex] of vector.exchanges.entries()) {
    const reqPath = `RequestMessage[${k}]`;
    const respPath = `ResponseMessage[${k}]`;
    let expected: Side;
    try {
      expected = { xml: ex.response, ttlv: xmlToTtlv(maskPlaceholders(ex.response)) };
    } catch (e) {
      return fail(relPath, respPath, 'a well-formed expected response', describeError(e));
    }
    let sentXml: XmlElement;
    let sentTtlv: TtlvItem;
    try {
      sentXml = instantiateRequest(ex.request, state);
      sentTtlv = xmlToTtlv(sentXml);
    } catch (e) {
      if (e instanceof UnboundPlaceholderError || e instanceof UnknownPlaceholderError) {
        return { relPath, status: 'skip', reason: `${reqPath}: ${e.message}` };
      }
      return fail(relPath, reqPath, 'a request that encodes', describeError(e));
    }
    collectDates(sentTtlv, state.requestDates);
    let got: Side;
    try {
      const answer = await transport.exchange(encodeTtlv(sentTtlv), timeoutMs);
      const ttlv = decodeTtlv(answer);
      const version = protocolVersion(sentXml);
      got = { xml: ttlvToXml(ttlv, version !== undefined ? { version } : {}), ttlv };
    } catch (e) {
      return fail(relPath, respPath, 'ResponseMessage', describeError(e));
    }
    options.trace?.(`${relPath} #${k}: ${batchItems(sentXml).map((b) => child(b, 'Operation')?.attrs.value ?? '?').join(', ')} → ${batchItems(got.xml).map((b) => child(b, 'ResultStatus')?.attrs.value ?? '?').join(', ')}`);
    const sentItems = batchItems(sentXml);
    const originalItems = batchItems(ex.request);
    let d: Difference | undefined;
    try {
      d = compareResponseMessage(expected, got, respPath, state, {
        contextFor: (i) => {
          startStreamIfInit(originalItems[i], state);
          return itemContext(originalItems[i], sentItems[i], state);
        },
        afterItem: (i, g) => { learn(sentItems[i], g, state); },
      }, rules);
    } catch (e) {
      return fail(relPath, respPath, 'a comparable response', describeError(e));
    }
    if (d !== undefined) {
      options.trace?.(`expected:\n${serializeXml(ex.response)}\ngot:\n${serializeXml(got.xml)}`);
      return { relPath, status: 'fail', difference: d };
    }
  }
  return { relPath, status: 'pass' };
}

// ─────────────────────────────────────────── runner ───────────────────────────────────────────

export function formatResult(r: FileResult): string {
  switch (r.status) {
    case 'pass': return `PASS ${r.relPath}`;
    case 'fail': return `FAIL ${r.relPath}: ${r.difference.path} expected ${r.difference.expected} got ${r.difference.got}`;
    case 'skip': return `SKIP ${r.relPath}: ${r.reason}`;
  }
}

/** `N passed, M failed`, with `, K skipped` only when K > 0. */
export function formatSummary(s: Pick<RunSummary, 'passed' | 'failed' | 'skipped'>): string {
  return `${s.passed} passed, ${s.failed} failed${s.skipped > 0 ? `, ${s.skipped} skipped` : ''}`;
}

/**
 * Run every selected file. Throws {@link VectorsDirNotFoundError} when the directory is missing
 * (the CLI prints it and exits 0: a checkout without the shared vectors has nothing to replay).
 */
export async function runConformance(options: RunOptions): Promise<RunSummary> {
  if (!(await isDirectory(options.vectorsDir))) throw new VectorsDirNotFoundError(options.vectorsDir);
  const filters = options.filters ?? [];
  const files = (await listVectorFiles(options.vectorsDir))
    .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
  const results: FileResult[] = [];
  for (const relPath of files) {
    const r = await runOne(options, relPath);
    results.push(r);
    options.onResult?.(r);
  }
  return {
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail').length,
    skipped: results.filter((r) => r.status === 'skip').length,
    results,
  };
}

async function runOne(options: RunOptions, relPath: string): Promise<FileResult> {
  let vector: Vector;
  try {
    vector = await loadVector(options.vectorsDir, relPath);
  } catch (e) {
    return fail(relPath, 'KMIP', 'a well-formed test case', describeError(e));
  }
  const live = options.live;
  if (live === undefined) return parseOnlyVector(vector);
  let transport: MessageTransport;
  try {
    transport = await live.connect(relPath);
  } catch (e) {
    return fail(relPath, 'RequestMessage[0]', 'a connection', describeError(e));
  }
  try {
    return await replayVector(vector, transport, live);
  } finally {
    transport.close();
  }
}
