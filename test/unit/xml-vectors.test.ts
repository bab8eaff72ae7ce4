/**
 * Every OASIS KMIP test case (../shared/kmip/vectors, v1.4 and v2.1, mandatory and optional):
 * each RequestMessage/ResponseMessage, after its placeholders are replaced by dummy values of
 * the right type, goes XML → TTLV → binary → TTLV → XML and must equal the original element
 * modulo the documented canonicalisation (docs/encodings.md):
 * - hex digits in ByteString/BigInteger are written lowercase;
 * - mask bit names are written in ascending bit order (compared as sets);
 * - DateTime is written in UTC (compared as instants);
 * - an enumeration value with two spellings in the registry is written with its newest one
 *   (compared as values; each such rewrite is printed as a diagnostic).
 * The canonical XML must itself be a fixed point, and its text form must parse back.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseXml, serializeXml, ttlvToXml, xmlToTtlv } from '../../src/kmip/encodings/xml.js';
import type { XmlElement } from '../../src/kmip/encodings/xml.js';
import { encodeTtlv } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';
import { attributeByName, enumForTag, enumValue, tagByName } from '../../src/kmip/registry.js';
import { substitutePlaceholders, vectorFiles } from '../helpers/oasis-vectors.js';
import { VECTORS_DIR as VECTORS } from '../helpers/repo.js';

interface Rewrite {
  path: string;
  from: string;
  to: string;
}

/**
 * Asserts `back` equals `orig` modulo the canonicalisation listed at the top of this file.
 * Returns the enumeration re-spellings it accepted.
 */
function assertEquivalent(orig: XmlElement, back: XmlElement, where: string, attributeName?: string): Rewrite[] {
  const rewrites: Rewrite[] = [];
  assert.equal(back.name, orig.name, `${where}: element name`);
  assert.deepEqual(Object.keys(back.attrs).sort(), Object.keys(orig.attrs).sort(), `${where}: attributes`);
  assert.equal(back.attrs.type, orig.attrs.type, `${where}: type`);
  const a = orig.attrs.value;
  const b = back.attrs.value;
  if (a !== b) {
    assert.ok(a !== undefined && b !== undefined, `${where}: value presence`);
    switch (orig.attrs.type) {
      case 'ByteString':
      case 'BigInteger':
        assert.equal(b, a.toLowerCase(), `${where}: hex`);
        break;
      case 'Integer':
        assert.deepEqual(b.split(/\s+/).sort(), a.trim().split(/\s+/).sort(), `${where}: mask bits`);
        break;
      case 'DateTime':
      case 'DateTimeExtended':
        assert.equal(Date.parse(b), Date.parse(a), `${where}: instant`);
        break;
      case 'Enumeration': {
        const enumName =
          orig.name === 'AttributeValue' && attributeName !== undefined
            ? attributeByName(attributeName)?.enumName
            : enumForTag(tagByName(orig.name)?.code ?? -1)?.xmlName;
        assert.ok(enumName !== undefined, `${where}: ${a} → ${b} and no enumeration to compare in`);
        assert.equal(enumValue(enumName, b), enumValue(enumName, a), `${where}: ${a} → ${b} are different values`);
        rewrites.push({ path: where, from: a, to: b });
        break;
      }
      default:
        assert.equal(b, a, `${where}: value`);
    }
  }
  assert.equal(back.children.length, orig.children.length, `${where}: number of children`);
  const attrName = orig.children.find((c) => c.name === 'AttributeName')?.attrs.value;
  orig.children.forEach((c, i) => {
    rewrites.push(...assertEquivalent(c, back.children[i]!, `${where}/${c.name}`, attrName));
  });
  return rewrites;
}

const files = vectorFiles();

if (files.length === 0) {
  test('OASIS KMIP XML vectors', () => {
    console.log(`KMIP test vectors not found under ${VECTORS} (set OPENKCM_VECTORS); vector round trips not run.`);
  });
} else {
  describe('OASIS KMIP XML vectors: XML → TTLV → binary → TTLV → XML', () => {
    test('all 168 published test-case files are present', () => {
      assert.equal(files.length, 168);
    });
    for (const file of files) {
      const name = path.relative(VECTORS, file);
      test(name, (t) => {
        const doc = parseXml(fs.readFileSync(file, 'utf8'));
        assert.equal(doc.name, 'KMIP');
        assert.ok(doc.children.length > 0, 'no messages');
        doc.children.forEach((raw, i) => {
          assert.match(raw.name, /^(RequestMessage|ResponseMessage)$/);
          const where = `${raw.name}#${i}`;
          const orig = substitutePlaceholders(raw);
          const item = xmlToTtlv(orig);
          const decoded = decodeTtlv(encodeTtlv(item));
          assert.deepEqual(decoded, item, `${where}: binary round trip`);
          // Spell enumerations as the test case's KMIP version does (a few were renamed in 2.0).
          const back = ttlvToXml(decoded, { version: name.startsWith('v1.4') ? '1.4' : '2.1' });
          for (const r of assertEquivalent(orig, back, where)) t.diagnostic(`re-spelt ${r.path}: ${r.from} → ${r.to}`);
          // Canonical form is a fixed point, and survives text.
          assert.deepEqual(ttlvToXml(xmlToTtlv(back), { version: name.startsWith('v1.4') ? '1.4' : '2.1' }), back, `${where}: canonical fixed point`);
          assert.deepEqual(xmlToTtlv(parseXml(serializeXml(back))), item, `${where}: text round trip`);
        });
      });
    }
  });
}
