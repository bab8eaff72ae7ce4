// The published OASIS KMIP test cases (v1.4 and v2.1, mandatory and optional; ../shared/kmip/vectors) as the
// encoding round-trip suites read them: the files, and each message with its placeholders ($NOW, $UNIQUE_IDENTIFIER_0,
// ...) replaced by dummies of the right type so that it encodes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { XmlElement } from '../../src/kmip/encodings/xml.js';
import { VECTORS_DIR } from './repo.js';

/** Every test-case file, sorted within each version and kind; none when the vectors are not there. */
export function vectorFiles(): string[] {
  const out: string[] = [];
  for (const version of ['v1.4', 'v2.1']) {
    for (const kind of ['mandatory', 'optional']) {
      const dir = path.join(VECTORS_DIR, version, kind);
      if (!fs.existsSync(dir)) continue;
      for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.xml')) out.push(path.join(dir, f));
    }
  }
  return out;
}

/** Dummy values for placeholders ($NOW, $IV_COUNTER_NONCE, ...) of each non-text type. */
const PLACEHOLDER_DUMMIES: Readonly<Record<string, string>> = {
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

/** A copy of `el` with placeholders replaced; a TextString "$X" is already a valid value. */
export function substitutePlaceholders(el: XmlElement): XmlElement {
  const attrs = { ...el.attrs };
  const { type, value } = attrs;
  if (value?.startsWith('$') && type !== undefined && type !== 'TextString') {
    const dummy = PLACEHOLDER_DUMMIES[type];
    assert.ok(dummy !== undefined, `no dummy for placeholder type ${type}`);
    attrs.value = dummy;
  }
  return { name: el.name, attrs, children: el.children.map(substitutePlaceholders) };
}
