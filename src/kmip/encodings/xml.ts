/**
 * KMIP XML encoding ⇄ TTLV tree.
 *
 * The format is the one of the OASIS KMIP test cases, specified in KMIP Profiles 2.1 §5.5.x
 * ("XML Encoding", originally KMIP Additional Message Encodings 1.0 §6.1):
 * - element name = the tag's normalised (CamelCase) name; a tag without a name (extension
 *   tags, tags unknown to the registry) is written `<TTLV tag="0x54FFFF" …>`;
 * - `type` attribute = the Item Type name; absent means Structure;
 * - `value` attribute = the value in text (below); Structures have child elements instead.
 *
 * Value text, per Item Type (inputs accept every form listed; outputs use the first):
 * | Integer          | decimal; for mask tags the bit names separated by spaces (ascending bit order,
 *                    leftover bits as 0x%08X); also `0x` + up to 8 hex digits                   |
 * | LongInteger      | decimal; also `0x` + up to 16 hex digits (two's complement at 16 digits)   |
 * | BigInteger       | hex of the two's-complement big-endian bytes, padded (sign-extended) to a
 *                    multiple of 8 bytes exactly as on the wire, lowercase, no `0x`               |
 * | Enumeration      | the value's CamelCase name; `0x` + 8 hex digits (uppercase) when it has none |
 * | Boolean          | `true` / `false`; also `1`/`0` and `0x0000000000000001`/`…0000`             |
 * | TextString       | the text                                                                    |
 * | ByteString       | lowercase hex, no `0x`                                                      |
 * | DateTime         | ISO 8601 with offset, `YYYY-MM-DDTHH:MM:SS+00:00` (UTC); input also `Z`, any
 *                    `±HH:MM` offset, a zero fraction, or `0x` + 16 hex digits                  |
 * | Interval         | decimal seconds; also `0x` + up to 8 hex digits                             |
 * | DateTimeExtended | ISO 8601 with 6 fractional digits (µs); input 0–6 fraction digits or hex    |
 *
 * Values outside 0000-01-01…9999-12-31 cannot be written in ISO 8601's four-digit years and are
 * written in the hex form, so every TTLV tree has a deterministic text form that parses back.
 *
 * Some Enumeration/Integer items take their enumeration from their context rather than from
 * their tag; see {@link VALUE_CONTEXT_RULES}.
 */
import { ItemType, ItemTypeName } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { parseXml, serializeXml, XmlSyntaxError } from './xmldom.js';
import type { XmlElement, XmlParseLimits } from './xmldom.js';
import { tagByCode, tagByName } from '../registry.js';
import type { KmipVersion } from '../registry.js';
import {
  KmipEncodingError,
  MAX_ENCODING_DEPTH,
  NO_CONTEXT,
  ValueSyntaxError,
  checkItemValue,
  clip,
  formatTagHex,
  formatTypedValue,
  isAttributeNameTag,
  itemTypeByName,
  joinPath,
  parseTagText,
  parseTypedValue,
  pathSegments,
  siblingContextOfItems,
  tagText,
} from './text.js';
import type { SiblingContext, TextEncodingOptions } from './text.js';

export type { XmlElement, XmlParseLimits } from './xmldom.js';
export { parseXml, serializeXml, XmlSyntaxError } from './xmldom.js';
// The shared value text was part of this module's API before the split; callers keep importing it from here.
export * from './text.js';

// ─────────────────────────────────────────── XML → TTLV ───────────────────────────────────────────

/**
 * Convert one element (a KMIP message, or any item) to a TTLV tree. Placeholders such as
 * `$NOW` must be substituted first; an unparseable value throws {@link KmipEncodingError}.
 */
export function xmlToTtlv(el: XmlElement): TtlvItem {
  return elementToItem(el, NO_CONTEXT, elementName(el), 1);
}

/** Parse an XML document whose root is one KMIP item. */
export function xmlStringToTtlv(text: string, limits?: Partial<XmlParseLimits>): TtlvItem {
  let root: XmlElement;
  try {
    root = parseXml(text, limits);
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw new KmipEncodingError(e.message, '', { cause: e });
    throw e;
  }
  return xmlToTtlv(root);
}

function elementName(el: XmlElement): string {
  return el.name === 'TTLV' && typeof el.attrs.tag === 'string' ? el.attrs.tag : el.name;
}

const ALLOWED_ATTRS = new Set(['tag', 'type', 'value']);

function elementToItem(el: XmlElement, ctx: SiblingContext, path: string, depth: number): TtlvItem {
  if (depth > MAX_ENCODING_DEPTH) throw new KmipEncodingError(`structures nest deeper than ${MAX_ENCODING_DEPTH}`, path);
  for (const k of Object.keys(el.attrs)) {
    if (!ALLOWED_ATTRS.has(k)) throw new KmipEncodingError(`unexpected attribute "${k}" (KMIP XML uses tag, type and value)`, path);
  }
  const tag = elementTag(el, path);
  const typeAttr = el.attrs.type;
  let type: ItemType = ItemType.Structure;
  if (typeAttr !== undefined) {
    const t = itemTypeByName(typeAttr);
    if (t === undefined) throw new KmipEncodingError(`unknown type "${clip(typeAttr)}"`, path);
    type = t;
  }
  const valueAttr = el.attrs.value;
  if (type === ItemType.Structure) {
    if (valueAttr !== undefined) throw new KmipEncodingError('a Structure has child elements, not a value attribute', path);
    const childCtx = siblingContextOfElements(el.children);
    const segs = pathSegments(el.children, elementName);
    const value = el.children.map((c, i) => elementToItem(c, childCtx, joinPath(path, segs[i] ?? c.name), depth + 1));
    return { tag, type: ItemType.Structure, value };
  }
  if (el.children.length > 0) throw new KmipEncodingError(`a ${ItemTypeName[type]} has no child elements`, path);
  if (valueAttr === undefined) throw new KmipEncodingError(`a ${ItemTypeName[type]} needs a value attribute`, path);
  try {
    return parseTypedValue(tag, type, valueAttr, ctx, ' ');
  } catch (e) {
    if (e instanceof ValueSyntaxError) throw new KmipEncodingError(`bad ${ItemTypeName[type]} value: ${e.message}`, path, { cause: e });
    throw e;
  }
}

function elementTag(el: XmlElement, path: string): number {
  const tagAttr = el.attrs.tag;
  try {
    if (tagAttr !== undefined) {
      const code = parseTagText(tagAttr);
      if (code === undefined) throw new KmipEncodingError(`tag attribute "${clip(tagAttr)}" is neither 0x + 6 hex digits nor a tag name`, path);
      if (el.name !== 'TTLV') {
        const byName = tagByName(el.name)?.code;
        if (byName !== undefined && byName !== code) {
          throw new KmipEncodingError(`element <${el.name}> contradicts its tag attribute ${tagAttr}`, path);
        }
      }
      return code;
    }
    if (el.name === 'TTLV') throw new KmipEncodingError('<TTLV> needs a tag attribute', path);
    const code = tagByName(el.name)?.code;
    if (code === undefined) throw new KmipEncodingError(`unknown tag <${el.name}> (write <TTLV tag="0x54xxxx" …> for extensions)`, path);
    return code;
  } catch (e) {
    if (e instanceof ValueSyntaxError) throw new KmipEncodingError(e.message, path, { cause: e });
    throw e;
  }
}

function siblingContextOfElements(children: readonly XmlElement[]): SiblingContext {
  for (const c of children) {
    if (c.attrs.type === 'TextString' && c.attrs.value !== undefined && isAttributeNameTag(elementName(c))) return { attributeName: c.attrs.value };
  }
  return NO_CONTEXT;
}


// ─────────────────────────────────────────── TTLV → XML ───────────────────────────────────────────

/** Convert a TTLV tree to its KMIP XML element tree (deterministic). */
export function ttlvToXml(item: TtlvItem, options: TextEncodingOptions = {}): XmlElement {
  return itemToElement(item, NO_CONTEXT, tagText(item.tag), 1, options.version);
}

/** Serialize a TTLV tree as KMIP XML text (2-space indentation unless `indent` says otherwise). */
export function ttlvToXmlString(item: TtlvItem, indent: string | number = 2, options: TextEncodingOptions = {}): string {
  return serializeXml(ttlvToXml(item, options), indent);
}

function itemToElement(item: TtlvItem, ctx: SiblingContext, path: string, depth: number, version: KmipVersion | undefined): XmlElement {
  if (depth > MAX_ENCODING_DEPTH) throw new KmipEncodingError(`structures nest deeper than ${MAX_ENCODING_DEPTH}`, path);
  const def = tagByCode(item.tag);
  const attrs: Record<string, string> = {};
  let name: string;
  if (def === undefined) {
    name = 'TTLV';
    attrs.tag = formatTagHex(item.tag);
  } else {
    name = def.xmlName;
  }
  try {
    checkItemValue(item);
  } catch (e) {
    if (e instanceof ValueSyntaxError) throw new KmipEncodingError(e.message, path, { cause: e });
    throw e;
  }
  if (item.type === ItemType.Structure) {
    const childCtx = siblingContextOfItems(item.value);
    const segs = pathSegments(item.value, (c) => tagText(c.tag));
    const children = item.value.map((c, i) => itemToElement(c, childCtx, joinPath(path, segs[i] ?? ''), depth + 1, version));
    return { name, attrs, children };
  }
  attrs.type = ItemTypeName[item.type];
  // No version of XML can carry U+0000, not even as a character reference (XML 1.1 §2.2).
  if (item.type === ItemType.TextString && item.value.includes('\u0000')) {
    throw new KmipEncodingError('TextString value contains U+0000, which XML cannot represent (use the JSON or binary encoding)', path);
  }
  attrs.value = formatTypedValue(item, ctx, ' ', version);
  return { name, attrs, children: [] };
}
