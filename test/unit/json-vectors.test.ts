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
import { parseXml, xmlToTtlv } from '../../src/kmip/encodings/xml.js';
import { jsonStringToTtlv, ttlvToJson, ttlvToJsonString } from '../../src/kmip/encodings/json.js';
import { encodeTtlv } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';
import { substitutePlaceholders, vectorFiles } from '../helpers/oasis-vectors.js';
import { VECTORS_DIR as VECTORS } from '../helpers/repo.js';

const files = vectorFiles();

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
