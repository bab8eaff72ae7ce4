/**
 * A tiny, strict XML parser and serializer: exactly the subset the KMIP XML encoding needs
 * (KMIP Profiles 2.1 §5.5 / KMIP Additional Message Encodings 1.0 §6 "XML Encoding"), and
 * nothing that opens the classic XML attack surface.
 *
 * Supported: an optional BOM and `<?xml …?>` declaration, comments, elements (self-closing or
 * not), attributes quoted with `"` or `'`, the five predefined entities and numeric character
 * references, whitespace between elements.
 *
 * Rejected with an {@link XmlSyntaxError} naming line and column: DOCTYPE (and therefore any
 * entity definition: no "billion laughs", no external entities/XXE), processing instructions
 * other than the declaration, CDATA sections, text content (KMIP XML carries every value in
 * the `value` attribute), unknown entities, duplicate attributes, mismatched tags, anything
 * after the root element except comments and whitespace.
 *
 * Deliberate leniency: a numeric character reference may name any Unicode scalar value except
 * U+0000 (XML 1.0 forbids most C0 controls even as references; XML 1.1 allows them). This lets
 * a TTLV Text String that contains control characters survive XML and come back unchanged.
 * Literal control characters in the document are still rejected.
 */

/** The minimal DOM: an element, its attributes (document order) and its child elements. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

/** A document that is not in the supported XML subset. `offset` is a 0-based UTF-16 index. */
export class XmlSyntaxError extends Error {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
  constructor(message: string, line: number, column: number, offset: number) {
    super(`XML syntax error at line ${line}, column ${column}: ${message}`);
    this.name = 'XmlSyntaxError';
    this.line = line;
    this.column = column;
    this.offset = offset;
  }
}

/** Named parser limits. Every one stops a resource-exhaustion attack by a hostile peer. */
export interface XmlParseLimits {
  /** Input size in UTF-16 code units. Stops memory exhaustion from an unbounded document. */
  maxInputChars: number;
  /** Element nesting depth. Stops deep-nesting attacks on every recursive consumer of the DOM. */
  maxDepth: number;
  /** Total elements. Stops "many tiny elements" amplification (each costs ~200 bytes of heap). */
  maxElements: number;
  /** Attributes on one element. KMIP uses at most three; stops hash-flooding/quadratic checks. */
  maxAttributes: number;
}

export const DEFAULT_XML_LIMITS: Readonly<XmlParseLimits> = Object.freeze({
  // 16 Mi chars: XML is ~5x the size of TTLV, so this comfortably covers a maximal KMIP message.
  maxInputChars: 16 * 1024 * 1024,
  // KMIP messages nest about 10 deep; the TTLV codec's own depth limit is of the same order.
  maxDepth: 64,
  maxElements: 500_000,
  maxAttributes: 32,
});

// XML 1.0 §2.3 names, restricted to the BMP ranges that matter in practice.
const NAME_START = /[A-Za-z_:\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD]/;
const NAME_CHARS = /[A-Za-z0-9_:.\-\u00B7\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u037D\u037F-\u1FFF\u200C-\u200D\u203F\u2040\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD]*/y;
const VALID_NAME = new RegExp(`^${NAME_START.source}${NAME_CHARS.source}$`);
// XML 1.0 §2.2 Char: no C0 controls except TAB/LF/CR, no U+FFFE/U+FFFF, no lone surrogates.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
const ILLEGAL_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const WS = /[ \t\n\r]*/y;

const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

/** True when `name` is a legal XML element/attribute name (used by the serializer and callers). */
export function isXmlName(name: string): boolean {
  return VALID_NAME.test(name);
}

/**
 * Parse one XML document into its root element. Throws {@link XmlSyntaxError} for anything
 * outside the supported subset, or when a limit in {@link XmlParseLimits} is exceeded.
 */
export function parseXml(text: string, limits?: Partial<XmlParseLimits>, options: XmlParseOptions = {}): XmlElement {
  return new Parser(text, Object.assign({}, DEFAULT_XML_LIMITS, limits), new Set(options.freeTextIn ?? [])).parseDocument();
}

/** Leniency for documents that are not KMIP messages themselves (test-case files). */
export interface XmlParseOptions {
  /**
   * Element names whose direct content may carry free text between child elements, which is skipped (never
   * interpreted: no entity in it is expanded). The OASIS test-case notes of KMIP 1.0-1.3 and 2.0 write `# TIME 0`
   * lines and `#` remarks straight inside `<KMIP>` (issue 20); a KMIP message never has text content.
   */
  readonly freeTextIn?: readonly string[];
}

class Parser {
  private pos = 0;
  private elements = 0;
  private readonly src: string;

  constructor(
    src: string,
    private readonly limits: XmlParseLimits,
    private readonly freeTextIn: ReadonlySet<string> = new Set(),
  ) {
    if (src.length > limits.maxInputChars) {
      throw new XmlSyntaxError(`document is ${src.length} characters, over the limit of ${limits.maxInputChars}`, 1, 1, 0);
    }
    // XML 1.0 §2.11: line ends are normalised to LF before parsing.
    this.src = src.includes('\r') ? src.replace(/\r\n?/g, '\n') : src;
    const bad = ILLEGAL_CHAR.exec(this.src);
    if (bad) {
      this.pos = bad.index;
      this.fail(`illegal character U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`);
    }
  }

  parseDocument(): XmlElement {
    if (this.src.startsWith('\uFEFF')) this.pos = 1;
    if (this.src.startsWith('<?xml', this.pos) && /[ \t\n?]/.test(this.src.charAt(this.pos + 5))) {
      this.parseDeclaration();
    }
    this.skipMisc();
    if (this.pos >= this.src.length) this.fail('no root element');
    if (this.src.charAt(this.pos) !== '<') this.fail('text content is not supported');
    const root = this.parseElementTree();
    this.skipMisc();
    if (this.pos < this.src.length) {
      this.fail(this.src.charAt(this.pos) === '<' ? 'only one root element is allowed' : 'text content is not supported');
    }
    return root;
  }

  private parseDeclaration(): void {
    const end = this.src.indexOf('?>', this.pos);
    if (end < 0) this.fail('unterminated XML declaration');
    const body = this.src.slice(this.pos + 5, end);
    if (!/^\s+version\s*=\s*(["'])1\.[0-9]+\1(\s+encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._-]*\3)?(\s+standalone\s*=\s*(["'])(yes|no)\5)?\s*$/.test(body)) {
      this.fail('malformed XML declaration');
    }
    this.pos = end + 2;
  }

  /** Whitespace and comments (the only "Misc" we accept); rejects DOCTYPE and PIs clearly. */
  private skipMisc(): void {
    for (;;) {
      this.skipWs();
      if (this.src.startsWith('<!--', this.pos)) {
        this.skipComment();
      } else if (this.src.startsWith('<!DOCTYPE', this.pos)) {
        this.fail('DOCTYPE is not supported (it enables entity-expansion and external-entity attacks)');
      } else if (this.src.startsWith('<?', this.pos)) {
        this.fail('processing instructions are not supported');
      } else {
        return;
      }
    }
  }

  private skipWs(): void {
    WS.lastIndex = this.pos;
    WS.test(this.src);
    this.pos = WS.lastIndex;
  }

  private skipComment(): void {
    const end = this.src.indexOf('--', this.pos + 4);
    if (end < 0) this.fail('unterminated comment');
    // XML 1.0 §2.5: "--" must not occur inside a comment.
    if (this.src.charAt(end + 2) !== '>') {
      this.pos = end;
      this.fail('"--" is not allowed inside a comment');
    }
    this.pos = end + 3;
  }

  /** Iterative (explicit stack) so that nesting depth can never overflow the JS stack. */
  private parseElementTree(): XmlElement {
    const stack: XmlElement[] = [];
    for (;;) {
      // Content between tags: whitespace only.
      const lt = this.src.indexOf('<', this.pos);
      const textEnd = lt < 0 ? this.src.length : lt;
      if (textEnd > this.pos) {
        const text = this.src.slice(this.pos, textEnd);
        const nonWs = text.search(/[^ \t\n]/);
        const open = stack[stack.length - 1];
        if (nonWs >= 0 && !(open !== undefined && this.freeTextIn.has(open.name))) {
          this.pos += nonWs;
          this.fail('text content is not supported (KMIP XML carries values in the "value" attribute)');
        }
        this.pos = textEnd;
      }
      if (lt < 0) {
        const open = stack[stack.length - 1];
        this.fail(`unexpected end of document: <${open?.name ?? ''}> is not closed`);
      }
      if (this.src.startsWith('</', this.pos)) {
        const start = this.pos;
        this.pos += 2;
        const name = this.parseName();
        this.skipWs();
        this.expect('>');
        const open = stack.pop();
        if (open?.name !== name) {
          this.pos = start;
          this.fail(open ? `end tag </${name}> does not match <${open.name}>` : `unexpected end tag </${name}>`);
        }
        if (stack.length === 0) return open;
        continue;
      }
      if (this.src.startsWith('<!--', this.pos)) {
        this.skipComment();
        continue;
      }
      if (this.src.startsWith('<![CDATA[', this.pos)) this.fail('CDATA sections are not supported');
      if (this.src.startsWith('<!', this.pos)) this.fail('markup declarations (<!…>) are not supported');
      if (this.src.startsWith('<?', this.pos)) this.fail('processing instructions are not supported');

      // Start tag.
      if (stack.length >= this.limits.maxDepth) this.fail(`elements nest deeper than the limit of ${this.limits.maxDepth}`);
      if (++this.elements > this.limits.maxElements) this.fail(`more than ${this.limits.maxElements} elements`);
      this.pos += 1;
      const el: XmlElement = { name: this.parseName(), attrs: {}, children: [] };
      const selfClosing = this.parseAttributes(el);
      stack[stack.length - 1]?.children.push(el);
      if (selfClosing) {
        if (stack.length === 0) return el;
      } else {
        stack.push(el);
      }
    }
  }

  /** Parses attributes up to and including `>` or `/>`; returns true for `/>`. */
  private parseAttributes(el: XmlElement): boolean {
    const seen = new Set<string>();
    for (;;) {
      const before = this.pos;
      this.skipWs();
      const c = this.src.charAt(this.pos);
      if (c === '>') {
        this.pos += 1;
        return false;
      }
      if (c === '/') {
        this.pos += 1;
        this.expect('>');
        return true;
      }
      if (c === '') this.fail(`unexpected end of document inside <${el.name}>`);
      if (before === this.pos) this.fail('whitespace is required between attributes');
      const attrPos = this.pos;
      const name = this.parseName();
      this.skipWs();
      this.expect('=');
      this.skipWs();
      const value = this.parseAttributeValue();
      if (seen.has(name)) {
        this.pos = attrPos;
        this.fail(`duplicate attribute "${name}"`);
      }
      if (seen.size >= this.limits.maxAttributes) {
        this.pos = attrPos;
        this.fail(`more than ${this.limits.maxAttributes} attributes on <${el.name}>`);
      }
      seen.add(name);
      // defineProperty: an attribute called "__proto__" must be data, never a prototype change.
      Object.defineProperty(el.attrs, name, { value, enumerable: true, writable: true, configurable: true });
    }
  }

  private parseAttributeValue(): string {
    const quote = this.src.charAt(this.pos);
    if (quote !== '"' && quote !== "'") this.fail('attribute value must be quoted');
    const start = this.pos + 1;
    const end = this.src.indexOf(quote, start);
    if (end < 0) this.fail('unterminated attribute value');
    const raw = this.src.slice(start, end);
    const lt = raw.indexOf('<');
    if (lt >= 0) {
      this.pos = start + lt;
      this.fail('"<" is not allowed in an attribute value (write &lt;)');
    }
    let out: string;
    if (raw.includes('&')) {
      out = '';
      let i = 0;
      while (i < raw.length) {
        const amp = raw.indexOf('&', i);
        if (amp < 0) {
          out += normalizeAttrWs(raw.slice(i));
          break;
        }
        out += normalizeAttrWs(raw.slice(i, amp));
        const semi = raw.indexOf(';', amp);
        if (semi < 0) {
          this.pos = start + amp;
          this.fail('"&" must start an entity or character reference (write &amp;)');
        }
        out += this.decodeReference(raw.slice(amp + 1, semi), start + amp);
        i = semi + 1;
      }
    } else {
      out = normalizeAttrWs(raw);
    }
    this.pos = end + 1;
    return out;
  }

  private decodeReference(ref: string, at: number): string {
    const named = PREDEFINED_ENTITIES[ref];
    if (named !== undefined) return named;
    let cp = NaN;
    if (/^#[0-9]{1,7}$/.test(ref)) cp = Number.parseInt(ref.slice(1), 10);
    else if (/^#x[0-9A-Fa-f]{1,6}$/.test(ref)) cp = Number.parseInt(ref.slice(2), 16);
    this.pos = at;
    if (Number.isNaN(cp)) this.fail(`unknown entity "&${ref.slice(0, 20)};" (only &lt; &gt; &amp; &quot; &apos; and &#…; are supported)`);
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail(`character reference "&${ref};" is not a legal character`);
    return String.fromCodePoint(cp);
  }

  private parseName(): string {
    const start = this.pos;
    if (!NAME_START.test(this.src.charAt(start))) this.fail('expected a name');
    NAME_CHARS.lastIndex = start + 1;
    NAME_CHARS.test(this.src);
    this.pos = NAME_CHARS.lastIndex;
    return this.src.slice(start, this.pos);
  }

  private expect(ch: string): void {
    if (this.src.charAt(this.pos) !== ch) {
      const got = this.src.charAt(this.pos);
      this.fail(`expected "${ch}" but found ${got === '' ? 'end of document' : `"${got}"`}`);
    }
    this.pos += 1;
  }

  private fail(message: string): never {
    let line = 1;
    let lineStart = 0;
    for (let i = this.src.indexOf('\n'); i >= 0 && i < this.pos; i = this.src.indexOf('\n', i + 1)) {
      line += 1;
      lineStart = i + 1;
    }
    throw new XmlSyntaxError(message, line, this.pos - lineStart + 1, this.pos);
  }
}

/** XML 1.0 §3.3.3 attribute-value normalisation for CDATA attributes: literal TAB/LF become spaces. */
function normalizeAttrWs(s: string): string {
  return /[\t\n]/.test(s) ? s.replace(/[\t\n]/g, ' ') : s;
}

/**
 * Escape an attribute value so that {@link parseXml} returns it unchanged: the markup
 * characters, and every whitespace or control character that normalisation would alter.
 */
export function escapeXmlAttribute(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we escape
  return value.replace(/[&<>"\u0000-\u001F\u007F\uFFFE\uFFFF]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      default:
        return `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`;
    }
  });
}

/**
 * Serialize an element tree. `indent` is the per-level indentation (a string, or a number of
 * spaces; default 2 spaces). An empty indent produces the compact one-line form. No XML
 * declaration is written; attributes appear in their insertion order; childless elements are
 * self-closing. The output is deterministic.
 */
export function serializeXml(el: XmlElement, indent: string | number = 2): string {
  const unit = typeof indent === 'number' ? ' '.repeat(indent) : indent;
  const parts: string[] = [];
  writeElement(el, unit, '', parts);
  return parts.join('');
}

function writeElement(el: XmlElement, unit: string, prefix: string, out: string[]): void {
  if (!isXmlName(el.name)) throw new TypeError(`serializeXml: "${el.name}" is not a legal XML element name`);
  out.push(prefix, '<', el.name);
  for (const [k, v] of Object.entries(el.attrs)) {
    if (!isXmlName(k)) throw new TypeError(`serializeXml: "${k}" is not a legal XML attribute name`);
    out.push(' ', k, '="', escapeXmlAttribute(v), '"');
  }
  if (el.children.length === 0) {
    out.push('/>');
    return;
  }
  out.push('>');
  const childPrefix = unit === '' ? '' : prefix + unit;
  for (const child of el.children) {
    if (unit !== '') out.push('\n');
    writeElement(child, unit, childPrefix, out);
  }
  if (unit !== '') out.push('\n', prefix);
  out.push('</', el.name, '>');
}
