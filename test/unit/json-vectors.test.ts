/**
 * KMIP JSON round trip over every OASIS test case (../shared/kmip/vectors): each message,
 * placeholders replaced by dummies of the right type, goes XML → TTLV → JSON text → TTLV and
 * must come back identical, and the JSON must be a fixed point. The OASIS MSGENC-JSON test case
 * carries its messages as XML (there are no JSON samples in the published files), so these
 * messages are the JSON corpus.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseXml, xmlToTtlv } from '../../src/kmip/encodings/xml.js';
import type { XmlElement } from '../../src/kmip/encodings/xml.js';
import { jsonStringToTtlv, ttlvToJson, ttlvToJsonString } from '../../src/kmip/encodings/json.js';
import { encodeTtlv } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'tsconfig.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
}

const VECTORS = process.env.OPENKCM_VECTORS ?? path.resolve(repoRoot(), '..', 'shared', 'kmip', 'vectors');

const DUMMIES: Readonly<Record<string, string>> = {
  Integer: '0',
  LongInteger: '0',
  BigInteger: '0000000000000000',
  Enumeration: '0x00000000',
  Boolean: 'false',
  ByteString: '00',
  DateTime: '1970-01-01T00:00:00+00:00',
  Interval: '0',
  DateTimeExtended: '1970-01-01T00:00:00.000000+00:00',
};

function substitutePlaceholders(el: XmlElement): XmlElement {
  const attrs = { ...el.attrs };
  if (attrs.value?.startsWith('$') && attrs.type !== undefined && attrs.type !== 'TextString') {
    attrs.value = DUMMIES[attrs.type] ?? attrs.value;
  }
  return { name: el.name, attrs, children: el.children.map(substitutePlaceholders) };
}

const files: string[] = [];
for (const version of ['v1.4', 'v2.1']) {
  for (const kind of ['mandatory', 'optional']) {
    const dir = path.join(VECTORS, version, kind);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.xml')) files.push(path.join(dir, f));
  }
}

if (files.length === 0) {
  test('OASIS KMIP vectors as JSON', () => {
    console.log(`KMIP test vectors not found under ${VECTORS} (set OPENKCM_VECTORS); JSON vector round trips not run.`);
  });
} else {
  describe('OASIS KMIP vectors: TTLV → KMIP JSON → TTLV', () => {
    for (const file of files) {
      test(path.relative(VECTORS, file), () => {
        const doc = parseXml(fs.readFileSync(file, 'utf8'));
        doc.children.forEach((raw, i) => {
          const where = `${raw.name}#${i}`;
          const item = decodeTtlv(encodeTtlv(xmlToTtlv(substitutePlaceholders(raw))));
          const text = ttlvToJsonString(item);
          const back = jsonStringToTtlv(text);
          assert.deepEqual(back, item, `${where}: JSON round trip`);
          assert.deepEqual(ttlvToJson(back), JSON.parse(text), `${where}: JSON fixed point`);
        });
      });
    }
  });
}
