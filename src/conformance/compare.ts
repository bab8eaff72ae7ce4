/**
 * Compare a received KMIP response with the response a test case expects, and return the FIRST
 * difference as {path, expected, got}.
 *
 * Two views of each message are walked side by side: the XML element (names, and the values as
 * the file spells them, including `$` placeholders) and the TTLV item (the semantic value). The
 * XML gives readable paths and values; the TTLV makes equality exact and canonical (a mask
 * "Decrypt Encrypt" equals "Encrypt Decrypt" because both are the same Integer bit set; an
 * Enumeration written by name equals the same value written as hex; hex case does not matter).
 *
 * Everything is compared exactly, except:
 *  - `$` placeholders (see placeholders.ts): bound or checked, `$NOW` within a tolerance;
 *  - the permitted variations of the KMIP profiles, ALL listed in {@link PERMITTED_VARIATIONS}.
 * Result Status and Result Reason are never relaxed.
 */
import { ItemType, ItemTypeName } from '@openkcm/ttlv';
import { Tag } from '../kmip/registry.generated.js';
import type { TtlvItem } from '@openkcm/ttlv';
import { joinPath, pathSegments } from '../kmip/encodings/xml.js';
import type { XmlElement } from '../kmip/encodings/xml.js';
import { isPlaceholder, nowOffsetSeconds, placeholderForm, isoSeconds, toHex } from './placeholders.js';
import type { ReplayState } from './placeholders.js';

/** The first difference found. `expected` and `got` are spelled as in the XML encoding. */
export interface Difference {
  readonly path: string;
  readonly expected: string;
  readonly got: string;
}

/** One element seen two ways: its XML form and its TTLV form (same shape, 1:1 children). */
export interface Side {
  readonly xml: XmlElement;
  readonly ttlv: TtlvItem;
}

/** What a response batch item's comparison needs to know about the request that caused it. */
export interface BatchItemContext {
  /** The request's Operation as the XML encoding names it, e.g. 'Encrypt'. */
  readonly operation: string;
  /**
   * The object's material is not the file's to fix: the server generated it in this session, or
   * it comes from an earlier session (found by Locate). Registered-in-session material is exact.
   */
  readonly subjectGenerated: boolean;
  /** The object the request acts on is a public key or certificate. */
  readonly subjectPublic: boolean;
  /** An Encrypt request carried no IV/Counter/Nonce, so the server chose one. */
  readonly serverChoseIv: boolean;
  /** The request's Data was written literally in the file, not captured from a response. */
  readonly requestDataLiteral: boolean;
}

/** Where a rule is asked to apply. */
export interface RuleSite {
  /** Element names from below the batch item's root down to this element, e.g. ['BatchItem','ResponsePayload','Data']. */
  readonly names: readonly string[];
  readonly item: BatchItemContext | undefined;
  readonly expected: TtlvItem;
  readonly state: ReplayState;
}

/**
 * How much a permitted variation relaxes the comparison. The tag and the item type always
 * still have to match.
 *  - 'any-value':       the value (or a structure's whole content) may differ;
 *  - 'same-length':     a ByteString may differ in value but not in length;
 *  - 'optional':        may be missing on either side, and its value may differ;
 *  - 'may-be-absent':   may be missing on either side; when both sides carry it, it compares exactly;
 *  - 'subset-unordered': a structure whose expected children must each match a distinct child
 *                        of the received structure, in any order; extra received children are fine.
 */
export type Leniency = 'any-value' | 'same-length' | 'optional' | 'may-be-absent' | 'subset-unordered';

export interface VariationRule {
  readonly id: string;
  readonly leniency: Leniency;
  /** Why the profiles permit it; printed in docs/conformance.md. */
  readonly why: string;
  applies(site: RuleSite): boolean;
}

const GENERATED_CRYPTO_OUTPUTS = new Set(['Data', 'SignatureData', 'MACData', 'IVCounterNonce', 'AuthenticatedEncryptionTag']);
const SERVER_IV_OUTPUTS = new Set(['Data', 'IVCounterNonce', 'AuthenticatedEncryptionTag']);

function last(names: readonly string[]): string | undefined { return names[names.length - 1]; }
function parent(names: readonly string[]): string | undefined { return names[names.length - 2]; }
function op(site: RuleSite): string | undefined { return site.item?.operation; }

/**
 * The permitted variations (KMIP Profiles: "What may legitimately differ": unique identifiers,
 * time stamps, server-generated key material and crypto outputs, dates the request did not
 * fix, extra items in Query responses, extra attributes, the text of Result Message).
 * Identifiers and time stamps are handled by the placeholders; this table holds the rest.
 * The first rule that applies wins. Nothing here may touch ResultStatus or ResultReason.
 */
export const PERMITTED_VARIATIONS: readonly VariationRule[] = [
  {
    id: 'result-message-text',
    leniency: 'optional',
    why: 'Result Message is free text for humans; servers word it (or omit it) as they like',
    applies: (s) => last(s.names) === 'ResultMessage' && parent(s.names) === 'BatchItem',
  },
  {
    id: 'query-extra-items',
    leniency: 'subset-unordered',
    why: 'a server may support more operations, object types, ... than the recording server (expected ⊆ got)',
    applies: (s) => op(s) === 'Query' && last(s.names) === 'ResponsePayload',
  },
  {
    id: 'query-vendor-information',
    leniency: 'any-value',
    why: 'Vendor Identification and Server Information describe the server, not the protocol',
    applies: (s) => op(s) === 'Query' && parent(s.names) === 'ResponsePayload'
      && (last(s.names) === 'VendorIdentification' || last(s.names) === 'ServerInformation'),
  },
  {
    id: 'get-attributes-extra-attributes',
    leniency: 'subset-unordered',
    why: 'a server may hold and return more attributes (or attribute names) than the recording server, in its own order',
    applies: (s) => (op(s) === 'GetAttributes' || op(s) === 'GetAttributeList')
      && (last(s.names) === 'ResponsePayload' || (last(s.names) === 'Attributes' && parent(s.names) === 'ResponsePayload')),
  },
  {
    id: 'generated-key-material',
    leniency: 'any-value',
    why: 'the key material of a key the server generated is random',
    applies: (s) => s.item?.subjectGenerated === true && s.names.includes('KeyBlock')
      && (last(s.names) === 'KeyMaterial' || (last(s.names) === 'KeyValue' && s.expected.type !== ItemType.Structure)),
  },
  {
    id: 'generated-key-digest',
    leniency: 'any-value',
    why: 'the Digest of a generated key hashes random key material',
    applies: (s) => s.item?.subjectGenerated === true && last(s.names) === 'DigestValue',
  },
  {
    id: 'generated-key-crypto-output',
    leniency: 'any-value',
    why: 'Encrypt / Sign / MAC outputs under a key the server generated differ from the recording; so does Decrypt of literal ciphertext under such a key',
    applies: (s) => {
      if (s.item?.subjectGenerated !== true || parent(s.names) !== 'ResponsePayload') return false;
      const name = last(s.names) ?? '';
      if (!GENERATED_CRYPTO_OUTPUTS.has(name)) return false;
      if (s.item.operation === 'Decrypt') return name === 'Data' && s.item.requestDataLiteral;
      return s.item.operation === 'Encrypt' || s.item.operation === 'Sign' || s.item.operation === 'MAC';
    },
  },
  {
    id: 'server-chosen-iv',
    leniency: 'any-value',
    why: 'an Encrypt request without IV/Counter/Nonce lets the server pick one, which changes the ciphertext and tag',
    applies: (s) => op(s) === 'Encrypt' && s.item?.serverChoseIv === true && parent(s.names) === 'ResponsePayload'
      && SERVER_IV_OUTPUTS.has(last(s.names) ?? ''),
  },
  {
    id: 'randomised-public-key-encryption',
    leniency: 'any-value',
    why: 'RSA encryption (OAEP, PKCS#1 v1.5) is randomised; the decrypting side checks it',
    applies: (s) => op(s) === 'Encrypt' && s.item?.subjectPublic === true && parent(s.names) === 'ResponsePayload'
      && last(s.names) === 'Data',
  },
  {
    id: 'random-number-output',
    leniency: 'same-length',
    why: 'RNG Retrieve returns fresh random bytes; only the length is fixed by the request',
    applies: (s) => op(s) === 'RNGRetrieve' && parent(s.names) === 'ResponsePayload' && last(s.names) === 'Data',
  },
  {
    id: 'server-correlation-value',
    leniency: 'optional',
    why: 'Server Correlation Value is generated by the server for its own logs (KMIP 2.1 §8.5); the files carry the recording server\'s',
    applies: (s) => s.item === undefined && s.names.join('/') === 'ResponseHeader/ServerCorrelationValue',
  },
  {
    id: 'locate-located-items',
    leniency: 'may-be-absent',
    why: 'Located Items is the server\'s choice: it "MAY elect to omit this value" and "MAY elect to return [it] even if Offset Items is not present" (KMIP 2.1 §6.1.28, Locate response); when both sides carry it, the count compares exactly',
    applies: (s) => op(s) === 'Locate' && parent(s.names) === 'ResponsePayload' && last(s.names) === 'LocatedItems',
  },
  {
    id: 'random-number-generator',
    leniency: 'any-value',
    why: 'the Random Number Generator attribute describes the server\'s own RNG (KMIP 1.4 §3.44), not the protocol',
    applies: (s) => {
      if (last(s.names) === 'RandomNumberGenerator') return true;
      // 1.x: Attribute { Attribute Name 'Random Number Generator', Attribute Value { RNG Algorithm, ... } }.
      return last(s.names) === 'AttributeValue' && parent(s.names) === 'Attribute' && s.expected.type === ItemType.Structure
        && s.expected.value.some((c) => c.tag === Tag.RNGAlgorithm);
    },
  },
  {
    id: 'unfixed-date',
    leniency: 'any-value',
    why: 'a date the request did not fix is the server\'s choice (dates the request fixed compare exactly)',
    applies: (s) => s.item !== undefined && s.expected.type === ItemType.DateTime && !s.state.requestDates.has(s.expected.value),
  },
];

export interface CompareContext {
  readonly state: ReplayState;
  readonly item: BatchItemContext | undefined;
  /** Rules in force; [] compares strictly (used by --parse-only and by the scripted server). */
  readonly rules: readonly VariationRule[];
  /** Element names from the batch-item level down (for rules). */
  readonly names: readonly string[];
  /** False: `$` values are ordinary text and compare literally (--parse-only). */
  readonly placeholders: boolean;
}

/** A difference plus how far the walk got before it, to pick the closest candidate in a subset match. */
interface Found extends Difference { readonly progress: readonly number[] }

const ABSENT = '(absent)';

function shown(el: XmlElement): string {
  return el.attrs.value ?? `<${el.name}>`;
}

function typeName(t: TtlvItem): string { return ItemTypeName[t.type]; }

function leafEqual(a: TtlvItem, b: TtlvItem): boolean {
  if (a.type !== b.type) return false;
  if (a.type === ItemType.ByteString && b.type === ItemType.ByteString) {
    return Buffer.from(a.value).equals(Buffer.from(b.value));
  }
  if (a.type === ItemType.Structure || b.type === ItemType.Structure) return false;
  return a.value === b.value;
}

function ruleFor(exp: Side, ctx: CompareContext): VariationRule | undefined {
  if (ctx.rules.length === 0) return undefined;
  const site: RuleSite = { names: ctx.names, item: ctx.item, expected: exp.ttlv, state: ctx.state };
  return ctx.rules.find((r) => r.applies(site));
}

function isOptional(el: XmlElement, ttlv: TtlvItem, ctx: CompareContext): boolean {
  const leniency = ruleFor({ xml: el, ttlv }, { ...ctx, names: [...ctx.names, el.name] })?.leniency;
  return leniency === 'optional' || leniency === 'may-be-absent';
}

/**
 * The path of `siblings[index]` below `parentPath`, spelled like the encodings' error paths
 * (src/kmip/encodings/xml.ts pathSegments): `[n]`, counted from 0, after a name that repeats among its
 * siblings, and always after BatchItem.
 */
/** An element's name; an extension tag written `<TTLV tag="0x54xxxx">` is named by its tag. */
function elementLabel(el: XmlElement): string {
  return el.name === 'TTLV' ? el.attrs.tag ?? el.name : el.name;
}

function childPath(parentPath: string, siblings: readonly XmlElement[], index: number): string {
  const seg = pathSegments(siblings, elementLabel)[index];
  return seg === undefined ? parentPath : joinPath(parentPath, seg);
}

function differ(path: string, expected: string, got: string, progress: readonly number[]): Found {
  return { path, expected, got, progress };
}

function comparePlaceholder(exp: Side, got: Side, path: string, ctx: CompareContext, progress: readonly number[]): Found | undefined {
  const ph = exp.xml.attrs.value ?? '';
  const form = placeholderForm(ph);
  if (form === undefined) return differ(path, ph, `${shown(got.xml)} (unknown placeholder in the test case)`, progress);
  const g = got.ttlv;
  const state = ctx.state;
  if (form.kind === 'time') {
    if (g.type !== ItemType.DateTime && g.type !== ItemType.DateTimeExtended) return undefined; // type checked by caller
    const seconds = g.type === ItemType.DateTime ? g.value : g.value / 1_000_000n;
    const want = state.nowSeconds() + nowOffsetSeconds(ph);
    const delta = seconds > want ? seconds - want : want - seconds;
    if (delta <= BigInt(state.timeToleranceSeconds)) return undefined;
    return differ(path, `${ph} (${isoSeconds(want)} ±${state.timeToleranceSeconds}s)`, shown(got.xml), progress);
  }
  const gotValue: string | Uint8Array | undefined =
    g.type === ItemType.TextString ? g.value : g.type === ItemType.ByteString ? g.value : undefined;
  if (gotValue === undefined) return undefined;
  const bound = state.bindings.get(ph);
  if (bound !== undefined) {
    const same = typeof bound === 'string' ? bound === gotValue
      : typeof gotValue !== 'string' && Buffer.from(bound).equals(Buffer.from(gotValue));
    if (same) return undefined;
    const boundShown = typeof bound === 'string' ? bound : toHex(bound);
    return differ(path, `${ph} (${boundShown})`, shown(got.xml), progress);
  }
  if (form.kind === 'identifier' && typeof gotValue === 'string') {
    const owner = state.identifierOwner.get(gotValue);
    if (owner !== undefined && owner !== ph) {
      return differ(path, `${ph} (a new identifier)`, `${gotValue} (already ${owner})`, progress);
    }
    state.identifierOwner.set(gotValue, ph);
  }
  state.bindings.set(ph, gotValue);
  return undefined;
}

function compareNode(exp: Side, got: Side, path: string, ctx: CompareContext, progress: readonly number[]): Found | undefined {
  if (exp.ttlv.tag !== got.ttlv.tag) return differ(path, exp.xml.name, got.xml.name, progress);
  if (exp.ttlv.type !== got.ttlv.type) {
    return differ(path, `type ${typeName(exp.ttlv)}`, `type ${typeName(got.ttlv)}`, progress);
  }
  if (ctx.placeholders && isPlaceholder(exp.xml.attrs.value)) return comparePlaceholder(exp, got, path, ctx, progress);
  const rule = ruleFor(exp, ctx);
  const leniency = rule?.leniency;
  if (leniency === 'any-value' || leniency === 'optional') return undefined;
  if (exp.ttlv.type === ItemType.Structure && got.ttlv.type === ItemType.Structure) {
    return leniency === 'subset-unordered'
      ? compareChildrenUnordered(exp, got, path, ctx, progress)
      : compareChildrenOrdered(exp, got, path, ctx, progress);
  }
  if (leniency === 'same-length' && exp.ttlv.type === ItemType.ByteString && got.ttlv.type === ItemType.ByteString) {
    if (exp.ttlv.value.length === got.ttlv.value.length) return undefined;
    return differ(path, `${exp.ttlv.value.length} bytes`, `${got.ttlv.value.length} bytes`, progress);
  }
  if (leafEqual(exp.ttlv, got.ttlv)) return undefined;
  return differ(path, shown(exp.xml), shown(got.xml), progress);
}

function children(side: Side): Side[] {
  const t = side.ttlv;
  if (t.type !== ItemType.Structure) return [];
  const xs = side.xml.children;
  if (xs.length !== t.value.length) {
    throw new Error(`internal: XML and TTLV views of ${side.xml.name} differ in shape (${xs.length} vs ${t.value.length} children)`);
  }
  return t.value.map((ttlv, i) => ({ xml: xs[i] as XmlElement, ttlv }));
}

function compareChildrenOrdered(exp: Side, got: Side, path: string, ctx: CompareContext, progress: readonly number[]): Found | undefined {
  const es = children(exp);
  const gs = children(got);
  const exml = es.map((s) => s.xml);
  const gxml = gs.map((s) => s.xml);
  let i = 0;
  let j = 0;
  while (i < es.length || j < gs.length) {
    const e = es[i];
    const g = gs[j];
    const here = [...progress, i];
    if (e !== undefined && g !== undefined && e.ttlv.tag === g.ttlv.tag) {
      const d = compareNode(e, g, childPath(path, exml, i), { ...ctx, names: [...ctx.names, e.xml.name] }, here);
      if (d !== undefined) return d;
      i++;
      j++;
      continue;
    }
    if (e !== undefined && isOptional(e.xml, e.ttlv, ctx)) { i++; continue; }
    if (g !== undefined && isOptional(g.xml, g.ttlv, ctx)) { j++; continue; }
    if (e === undefined && g !== undefined) return differ(childPath(path, gxml, j), ABSENT, g.xml.name, here);
    if (e !== undefined && g === undefined) return differ(childPath(path, exml, i), e.xml.name, ABSENT, here);
    if (e !== undefined && g !== undefined) return differ(childPath(path, exml, i), e.xml.name, g.xml.name, here);
  }
  return undefined;
}

function laterThan(a: readonly number[], b: readonly number[]): boolean {
  for (let k = 0; k < Math.min(a.length, b.length); k++) {
    const x = a[k] ?? 0;
    const y = b[k] ?? 0;
    if (x !== y) return x > y;
  }
  return a.length > b.length;
}

function compareChildrenUnordered(exp: Side, got: Side, path: string, ctx: CompareContext, progress: readonly number[]): Found | undefined {
  const es = children(exp);
  const gs = children(got);
  const exml = es.map((s) => s.xml);
  const used = new Array<boolean>(gs.length).fill(false);
  for (let i = 0; i < es.length; i++) {
    const e = es[i] as Side;
    const here = [...progress, i];
    const p = childPath(path, exml, i);
    const names = [...ctx.names, e.xml.name];
    let closest: Found | undefined;
    let matched = false;
    for (let j = 0; j < gs.length && !matched; j++) {
      const g = gs[j] as Side;
      if (used[j] === true || g.ttlv.tag !== e.ttlv.tag) continue;
      // A failed candidate must not leave bindings behind, so each trial runs on a fork.
      const trial = ctx.state.fork();
      const d = compareNode(e, g, p, { ...ctx, state: trial, names }, here);
      if (d === undefined) {
        ctx.state.adopt(trial);
        used[j] = true;
        matched = true;
      } else if (closest === undefined || laterThan(d.progress, closest.progress)) {
        closest = d;
      }
    }
    if (matched) continue;
    if (isOptional(e.xml, e.ttlv, ctx)) continue;
    // For a structure (an Attribute), the candidate that matched furthest says most; a leaf
    // (an Operation in a Query list) is simply missing.
    return (e.ttlv.type === ItemType.Structure ? closest : undefined) ?? differ(p, shown(e.xml), ABSENT, here);
  }
  return undefined;
}

/** Compare two trees (any level). Exported for --parse-only and the scripted test server. */
export function compareTree(exp: Side, got: Side, path: string, ctx: CompareContext): Difference | undefined {
  const d = compareNode(exp, got, path, ctx, []);
  return d === undefined ? undefined : { path: d.path, expected: d.expected, got: d.got };
}

export interface ResponseHooks {
  /** Context of the n-th (0-based) batch item, computed just before it is compared. */
  contextFor(index: number): BatchItemContext | undefined;
  /** Called after the n-th batch item matched, to learn identifiers and captured values. */
  afterItem(index: number, got: Side): void;
}

/**
 * Compare a whole Response Message. Batch items are compared in order (KMIP 1.4 §7.1 answers a
 * batch in request order); the hooks let the replayer update its session state between them,
 * which a batch such as Create + Get-with-ID-Placeholder needs.
 */
export function compareResponseMessage(
  exp: Side,
  got: Side,
  path: string,
  state: ReplayState,
  hooks: ResponseHooks,
  rules: readonly VariationRule[] = PERMITTED_VARIATIONS,
): Difference | undefined {
  if (exp.ttlv.tag !== got.ttlv.tag) return { path, expected: exp.xml.name, got: got.xml.name };
  const es = children(exp);
  const gs = children(got);
  const eHead = es.filter((s) => s.xml.name !== 'BatchItem');
  const gHead = gs.filter((s) => s.xml.name !== 'BatchItem');
  const eItems = es.filter((s) => s.xml.name === 'BatchItem');
  const gItems = gs.filter((s) => s.xml.name === 'BatchItem');
  const headerCtx: CompareContext = { state, item: undefined, rules, names: [], placeholders: true };
  const headExp: Side = { xml: { ...exp.xml, children: eHead.map((s) => s.xml) }, ttlv: { ...exp.ttlv, type: ItemType.Structure, value: eHead.map((s) => s.ttlv) } };
  const headGot: Side = { xml: { ...got.xml, children: gHead.map((s) => s.xml) }, ttlv: { ...got.ttlv, type: ItemType.Structure, value: gHead.map((s) => s.ttlv) } };
  const h = compareChildrenOrdered(headExp, headGot, path, headerCtx, []);
  if (h !== undefined) return { path: h.path, expected: h.expected, got: h.got };
  const exml = eItems.map((s) => s.xml);
  const gxml = gItems.map((s) => s.xml);
  for (let i = 0; i < Math.max(eItems.length, gItems.length); i++) {
    const e = eItems[i];
    const g = gItems[i];
    if (e === undefined) return { path: childPath(path, gxml, i), expected: ABSENT, got: 'BatchItem' };
    if (g === undefined) return { path: childPath(path, exml, i), expected: 'BatchItem', got: ABSENT };
    const ctx: CompareContext = { state, item: hooks.contextFor(i), rules, names: ['BatchItem'], placeholders: true };
    const d = compareNode(e, g, childPath(path, exml, i), ctx, [i]);
    if (d !== undefined) return { path: d.path, expected: d.expected, got: d.got };
    hooks.afterItem(i, g);
  }
  return undefined;
}
