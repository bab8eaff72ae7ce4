/**
 * The minimal XML parser/serializer behind the KMIP XML encoding (src/kmip/encodings/xmldom.ts):
 * the supported subset, the rejected constructs and their messages, the limits.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml, serializeXml, XmlSyntaxError, DEFAULT_XML_LIMITS, escapeXmlAttribute, isXmlName } from '../../src/kmip/encodings/xmldom.js';
import type { XmlElement } from '../../src/kmip/encodings/xmldom.js';

function rejects(text: string, message: RegExp, where?: { line: number; column: number }): void {
  assert.throws(
    () => parseXml(text),
    (e: unknown) => {
      assert.ok(e instanceof XmlSyntaxError, `expected XmlSyntaxError, got ${String(e)}`);
      assert.match(e.message, message);
      if (where) assert.deepEqual({ line: e.line, column: e.column }, where);
      return true;
    },
  );
}

describe('parseXml: the supported subset', () => {
  test('declaration, BOM, comments, self-closing and nested elements', () => {
    const doc = parseXml(
      '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- head -->\n<KMIP>\n  <!-- c -->\n  <A type="Integer" value="1"/>\n  <B><C/></B>\n</KMIP>\n<!-- tail -->\n',
    );
    const expected: XmlElement = {
      name: 'KMIP',
      attrs: {},
      children: [
        { name: 'A', attrs: { type: 'Integer', value: '1' }, children: [] },
        { name: 'B', attrs: {}, children: [{ name: 'C', attrs: {}, children: [] }] },
      ],
    };
    assert.deepEqual(doc, expected);
  });

  test('attribute quoting with " and \', whitespace around =, and order preserved', () => {
    const el = parseXml(`<X b = 'it"s' a="it's"  c=""/>`);
    assert.deepEqual(Object.keys(el.attrs), ['b', 'a', 'c']);
    assert.deepEqual(el.attrs, { b: 'it"s', a: "it's", c: '' });
  });

  test('the five predefined entities and numeric character references', () => {
    const el = parseXml('<X v="&lt;&gt;&amp;&quot;&apos; &#65;&#x42;&#x1F600; &#10;&#9;"/>');
    assert.equal(el.attrs.v, `<>&"' AB\u{1F600} \n\t`);
  });

  test('literal TAB/LF/CR in an attribute are normalised to spaces (XML 1.0 §3.3.3), references are kept', () => {
    assert.equal(parseXml('<X v="a\tb\nc\r\nd"/>').attrs.v, 'a b c d');
    assert.equal(parseXml('<X v="a&#13;&#10;b"/>').attrs.v, 'a\r\nb');
  });

  test('a control character is accepted as a reference (lenient, XML 1.1 style) but not literally', () => {
    assert.equal(parseXml('<X v="&#x1;"/>').attrs.v, '\u0001');
    rejects('<X v="\u0001"/>', /illegal character U\+0001/);
  });

  test('an attribute named __proto__ is plain data', () => {
    const el = parseXml('<X __proto__="v"/>');
    assert.equal(Object.getPrototypeOf(el.attrs), Object.prototype);
    assert.deepEqual(Object.keys(el.attrs), ['__proto__']);
  });

  test('end tags may carry whitespace; names may contain - . : and digits', () => {
    const el = parseXml('<a:b-c.d1 ></a:b-c.d1 >');
    assert.equal(el.name, 'a:b-c.d1');
  });
});

describe('parseXml: rejected input', () => {
  test('DOCTYPE (entity expansion / XXE) is refused before anything is expanded', () => {
    rejects('<!DOCTYPE x [<!ENTITY a "aaaa">]><x v="&a;"/>', /DOCTYPE is not supported/);
  });
  test('unknown entities', () => {
    rejects('<x v="&nbsp;"/>', /unknown entity "&nbsp;"/, { line: 1, column: 7 });
  });
  test('a bare ampersand', () => {
    rejects('<x v="a & b"/>', /"&" must start an entity/);
  });
  test('illegal character references', () => {
    rejects('<x v="&#0;"/>', /not a legal character/);
    rejects('<x v="&#xD800;"/>', /not a legal character/);
    rejects('<x v="&#x110000;"/>', /not a legal character/);
  });
  test('CDATA, processing instructions and text content', () => {
    rejects('<x><![CDATA[hi]]></x>', /CDATA sections are not supported/);
    rejects('<x><?pi data?></x>', /processing instructions are not supported/);
    rejects('<?pi data?><x/>', /processing instructions are not supported/);
    rejects('<x>\n  hello</x>', /text content is not supported/, { line: 2, column: 3 });
    rejects('<x>&amp;</x>', /text content is not supported/);
  });
  test('mismatched, unclosed and stray end tags', () => {
    rejects('<a>\n<b></a>', /end tag <\/a> does not match <b>/, { line: 2, column: 4 });
    rejects('<a><b/>', /<a> is not closed/);
    rejects('</a>', /expected a name|unexpected end tag/);
  });
  test('duplicate attributes, unquoted values, missing whitespace, < in a value', () => {
    rejects('<x a="1" a="2"/>', /duplicate attribute "a"/, { line: 1, column: 10 });
    rejects('<x a=1/>', /attribute value must be quoted/);
    rejects('<x a="1"b="2"/>', /whitespace is required between attributes/);
    rejects('<x a="<"/>', /"<" is not allowed in an attribute value/);
  });
  test('no root, two roots, trailing text', () => {
    rejects('', /no root element/);
    rejects('<!-- only a comment -->', /no root element/);
    rejects('<a/><b/>', /only one root element is allowed/);
    rejects('<a/>junk', /text content is not supported/);
  });
  test('comments must not contain "--" and must end', () => {
    rejects('<a><!-- a -- b --></a>', /"--" is not allowed inside a comment/);
    rejects('<a><!-- open', /unterminated comment/);
  });
  test('a malformed declaration', () => {
    rejects('<?xml version="2"?><a/>', /malformed XML declaration/);
    rejects('<?xml version="1.0"', /unterminated XML declaration/);
  });
  test('an unterminated start tag or attribute', () => {
    rejects('<a b="1"', /unexpected end of document inside <a>/);
    rejects('<a b="1', /unterminated attribute value/);
  });
});

describe('parseXml: limits', () => {
  test('depth: at the limit accepted, one past rejected', () => {
    const nest = (n: number): string => '<a>'.repeat(n - 1) + '<a/>' + '</a>'.repeat(n - 1);
    assert.doesNotThrow(() => parseXml(nest(DEFAULT_XML_LIMITS.maxDepth)));
    rejects(nest(DEFAULT_XML_LIMITS.maxDepth + 1), /nest deeper than the limit of 64/);
  });
  test('element count', () => {
    const doc = (n: number): string => `<r>${'<a/>'.repeat(n - 1)}</r>`;
    assert.doesNotThrow(() => parseXml(doc(10), { maxElements: 10 }));
    assert.throws(() => parseXml(doc(11), { maxElements: 10 }), /more than 10 elements/);
  });
  test('attribute count', () => {
    const doc = (n: number): string => `<r ${Array.from({ length: n }, (_, i) => `a${i}="x"`).join(' ')}/>`;
    assert.doesNotThrow(() => parseXml(doc(3), { maxAttributes: 3 }));
    assert.throws(() => parseXml(doc(4), { maxAttributes: 3 }), /more than 3 attributes/);
  });
  test('input size', () => {
    assert.doesNotThrow(() => parseXml('<a/>', { maxInputChars: 4 }));
    assert.throws(() => parseXml('<a />', { maxInputChars: 4 }), /over the limit of 4/);
  });
  test('a very deep document fails cleanly, not with a stack overflow', () => {
    assert.throws(() => parseXml('<a>'.repeat(200_000)), XmlSyntaxError);
  });
});

describe('serializeXml', () => {
  const tree: XmlElement = {
    name: 'M',
    attrs: {},
    children: [
      { name: 'A', attrs: { type: 'TextString', value: 'a<b>&"c"\n\t\u0001' }, children: [] },
      { name: 'S', attrs: {}, children: [{ name: 'E', attrs: {}, children: [] }] },
    ],
  };

  test('indented form, self-closing leaves, escaping', () => {
    assert.equal(
      serializeXml(tree),
      '<M>\n  <A type="TextString" value="a&lt;b&gt;&amp;&quot;c&quot;&#xA;&#x9;&#x1;"/>\n  <S>\n    <E/>\n  </S>\n</M>',
    );
  });
  test('compact form and custom indentation', () => {
    assert.equal(serializeXml(tree.children[1]!, ''), '<S><E/></S>');
    assert.equal(serializeXml(tree.children[1]!, '\t'), '<S>\n\t<E/>\n</S>');
  });
  test('parse(serialize(x)) is x, for any attribute text', () => {
    const odd = String.fromCharCode(...Array.from({ length: 0x80 }, (_, i) => i).filter((c) => c !== 0)) + '\u00e9\u{1F600}';
    const el: XmlElement = { name: 'X', attrs: { v: odd }, children: [] };
    assert.deepEqual(parseXml(serializeXml(el)), el);
    assert.deepEqual(parseXml(serializeXml(tree)), tree);
  });
  test('refuses illegal names (no markup injection through a name)', () => {
    assert.throws(() => serializeXml({ name: 'a b', attrs: {}, children: [] }), /not a legal XML element name/);
    assert.throws(() => serializeXml({ name: 'a', attrs: { 'x"y': '1' }, children: [] }), /not a legal XML attribute name/);
    assert.equal(isXmlName('1a'), false);
    assert.equal(isXmlName('ActivationDate'), true);
    assert.equal(escapeXmlAttribute('plain'), 'plain');
  });
});
