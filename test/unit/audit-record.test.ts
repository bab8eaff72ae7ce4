// The audit append core's fast canonical form (src/cmk/audit/record.ts jsonString, canonicalJsonOf, FieldMemo) must
// give exactly the bytes of the documented format, JSON.stringify of the record's array: a single character of
// difference would make every record the hot path writes fail `openkcm audit verify`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AUDIT_FIELD_MAX, canonicalJson, canonicalJsonOf, clip, FIELD_MEMO_MAX, FieldMemo, jsonString } from '../../src/cmk/audit/record.js';

// Every UTF-16 code unit, lone surrogates included, and the characters JSON treats specially.
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udfff', 'a', '\u00e9'), maxLength: 20 }),
);

describe('audit record: the fast canonical form', () => {
  test('jsonString is JSON.stringify for any string', () => {
    fc.assert(fc.property(anyText, (s) => { assert.equal(jsonString(s), JSON.stringify(s)); }), { numRuns: 5_000 });
    for (const s of ['', '"', '\\', '\n', '\u0000', '\u001f', ' ', '\u007f', '\ud83d\ude00', '\ud83d', '\ude00x', '\u2028']) {
      assert.equal(jsonString(s), JSON.stringify(s), JSON.stringify(s));
    }
  });

  test('canonicalJsonOf over clipped, quoted fields equals canonicalJson', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.date({ min: new Date(0), max: new Date(253_402_300_799_999), noInvalidDate: true }),
      anyText, anyText, anyText, anyText, anyText,
      (seq, at, p, t, op, ob, r) => {
        const iso = at.toISOString();
        const [cp, ct, cop, cob, cr] = [p, t, op, ob, r].map(clip) as [string, string, string, string, string];
        const fast = canonicalJsonOf(seq, iso, jsonString(cp), jsonString(ct), jsonString(cop), jsonString(cob), jsonString(cr));
        assert.equal(fast, canonicalJson(seq, iso, cp, ct, cop, cob, cr));
      },
    ), { numRuns: 2_000 });
  });

  test('FieldMemo gives what clip gives, and its quoted form, for repeated and over-long values', () => {
    const memo = new FieldMemo();
    const long = 'x'.repeat(AUDIT_FIELD_MAX + 5);
    for (const raw of ['kmip.Get', 'kmip.Get', 'nul\u0000here', 'lone \ud800', long, long, '']) {
      const f = memo.field(raw);
      assert.equal(f.value, clip(raw));
      assert.equal(f.json, JSON.stringify(clip(raw)));
    }
    assert.equal(memo.field(long).value.length, AUDIT_FIELD_MAX);
  });

  test('FieldMemo forgets past FIELD_MEMO_MAX distinct values and stays right after', () => {
    const memo = new FieldMemo();
    for (let i = 0; i <= FIELD_MEMO_MAX * 2 + 1; i++) {
      const f = memo.field(`value-${String(i)}`);
      assert.equal(f.value, `value-${String(i)}`);
      assert.ok(memo.size <= FIELD_MEMO_MAX, `${String(memo.size)} values held`);
    }
    assert.ok(memo.size < FIELD_MEMO_MAX, 'it started over');
    assert.equal(memo.field('"q"').json, JSON.stringify('"q"'));
  });
});
