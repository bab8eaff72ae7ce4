/**
 * The error catalog, docs/errors.md and the Result Reason registry stay in sync
 * (STYLE.md: "a test keeps the code, the docs and the types in sync").
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  KMIP_ERROR_CATALOG, KMIP_ERROR_CODES, KmipError, KmipResultError, codeForResultReason, fromTtlvError,
  isKmipErrorCode, resultReasonFor, toKmipError,
} from '../../src/kmip/errors.js';
import type { KmipErrorCode } from '../../src/kmip/errors.js';
import { ResultReason, ResultStatus, enumValue, enumValueExistsIn } from '../../src/kmip/registry.js';
import { TtlvError } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';

/** dist/test/unit → repo root. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const vectorsDir = process.env.OPENKCM_VECTORS ?? path.resolve(repoRoot, '..', 'shared', 'kmip', 'vectors');

/** Result Reason names the OASIS test cases of one version expect (read at test time, never copied). */
function vectorResultReasons(version: 'v1.4' | 'v2.1'): Set<string> {
  const names = new Set<string>();
  for (const profile of ['mandatory', 'optional']) {
    const dir = path.join(vectorsDir, version, profile);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.xml'))) {
      const xml = readFileSync(path.join(dir, file), 'utf8');
      for (const m of xml.matchAll(/<ResultReason type="Enumeration" value="([A-Za-z]+)"/g)) {
        if (m[1] !== undefined) names.add(m[1]);
      }
    }
  }
  return names;
}

interface DocRow { code: string; reason1x: number; reason2x: number; description: string }

function parseDocTable(): DocRow[] {
  const md = readFileSync(path.join(repoRoot, 'docs', 'errors.md'), 'utf8');
  const rows: DocRow[] = [];
  for (const line of md.split('\n')) {
    const m = /^\| `([A-Z0-9_]+)` \| [^|]*\(0x([0-9A-F]+)\) \| [^|]*\(0x([0-9A-F]+)\) \| ([^|]*) \|/.exec(line);
    if (m === null) continue;
    const [, code, r1, r2, description] = m;
    assert.ok(code !== undefined && r1 !== undefined && r2 !== undefined && description !== undefined);
    rows.push({ code, reason1x: Number.parseInt(r1, 16), reason2x: Number.parseInt(r2, 16), description: description.trim() });
  }
  return rows;
}

describe('KMIP error catalog', () => {
  test('docs/errors.md lists exactly the catalog, in order, with the same reasons and descriptions', () => {
    const rows = parseDocTable();
    assert.deepEqual(rows.map((r) => r.code), [...KMIP_ERROR_CODES]);
    for (const row of rows) {
      assert.ok(isKmipErrorCode(row.code));
      const entry = KMIP_ERROR_CATALOG[row.code];
      assert.equal(row.reason1x, entry.reason1x, `${row.code} 1.x reason`);
      assert.equal(row.reason2x, entry.reason2x, `${row.code} 2.x reason`);
      assert.equal(row.description, entry.description, `${row.code} description`);
    }
  });

  test('1.x reasons exist in KMIP 1.4 and 2.x reasons exist in KMIP 2.1', () => {
    for (const code of KMIP_ERROR_CODES) {
      const e = KMIP_ERROR_CATALOG[code];
      assert.ok(enumValueExistsIn('ResultReason', e.reason1x, '1.4'), `${code}: 0x${e.reason1x.toString(16)} not in 1.4`);
      assert.ok(enumValueExistsIn('ResultReason', e.reason2x, '2.1'), `${code}: 0x${e.reason2x.toString(16)} not in 2.1`);
    }
  });

  test('the reasons 2.1 reserved are never sent to a 2.x client', () => {
    for (const code of KMIP_ERROR_CODES) {
      const r = KMIP_ERROR_CATALOG[code].reason2x;
      assert.notEqual(r, ResultReason.IllegalOperation, code);
      assert.notEqual(r, ResultReason.IndexOutOfBounds, code);
    }
  });

  test('every Result Reason the OASIS vectors expect can be produced from some code, per version', () => {
    for (const [version, major] of [['v1.4', 1], ['v2.1', 2]] as const) {
      const expected = vectorResultReasons(version);
      assert.ok(expected.size > 3, `no vectors found under ${vectorsDir} (set OPENKCM_VECTORS)`);
      for (const name of expected) {
        const value = enumValue('ResultReason', name);
        assert.ok(value !== undefined, name);
        assert.ok(KMIP_ERROR_CODES.some((c) => resultReasonFor(c, { major }) === value), `${version}: nothing produces ${name}`);
      }
    }
  });

  test('mappings taken from the OASIS vectors', () => {
    // SKLC-M-2-14 vs SKLC-M-2-21: Destroy of an Active key.
    assert.equal(resultReasonFor('WRONG_KEY_LIFECYCLE_STATE', { major: 1 }), ResultReason.PermissionDenied);
    assert.equal(resultReasonFor('WRONG_KEY_LIFECYCLE_STATE', { major: 2 }), ResultReason.WrongKeyLifecycleState);
    // BL-M-4-21: Get of an unknown identifier.
    assert.equal(resultReasonFor('ITEM_NOT_FOUND', { major: 2 }), ResultReason.ObjectNotFound);
    assert.equal(resultReasonFor('ITEM_NOT_FOUND', { major: 1 }), ResultReason.ItemNotFound);
    assert.equal(resultReasonFor('ATTRIBUTE_READ_ONLY', { major: 2 }), ResultReason.AttributeReadOnly);
    assert.equal(resultReasonFor('CODEC_ERROR', { major: 1 }), ResultReason.InvalidMessage);
    assert.equal(resultReasonFor('CODEC_ERROR', { major: 2 }), ResultReason.CodecError);
  });

  test('KmipError carries code, 2.x reason, field and the catalog description by default', () => {
    const e = new KmipError('ATTRIBUTE_SINGLE_VALUED', undefined, { field: 'Cryptographic Algorithm' });
    assert.equal(e.code, 'ATTRIBUTE_SINGLE_VALUED');
    assert.equal(e.resultReason, ResultReason.AttributeSingleValued);
    assert.equal(e.resultReasonFor({ major: 1 }), ResultReason.IllegalOperation);
    assert.equal(e.field, 'Cryptographic Algorithm');
    assert.equal(e.message, KMIP_ERROR_CATALOG.ATTRIBUTE_SINGLE_VALUED.description);
    assert.equal(e.name, 'KmipError');
    assert.ok(e instanceof Error);
  });

  test('fromTtlvError maps any codec failure to CODEC_ERROR and keeps the cause', () => {
    let caught: unknown;
    try {
      decodeTtlv(new Uint8Array([0x42, 0x00, 0x78, 0x01, 0x00, 0x00, 0x00, 0x10]));
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof TtlvError);
    const k = fromTtlvError(caught);
    assert.equal(k.code, 'CODEC_ERROR');
    assert.equal(k.cause, caught);
    assert.match(k.message, /TRUNCATED/);
  });

  test('toKmipError: KmipError passes through, TtlvError converts, anything else is a sanitised GENERAL_FAILURE', () => {
    const k = new KmipError('PERMISSION_DENIED');
    assert.equal(toKmipError(k), k);
    assert.equal(toKmipError(new TtlvError('BAD_TYPE', 3, 'x')).code, 'CODEC_ERROR');
    const g = toKmipError(new Error('/var/lib/secret path leaked'));
    assert.equal(g.code, 'GENERAL_FAILURE');
    assert.doesNotMatch(g.message, /secret/);
  });

  test('codeForResultReason prefers the generic code and falls back to GENERAL_FAILURE', () => {
    assert.equal(codeForResultReason(ResultReason.PermissionDenied, { major: 1 }), 'PERMISSION_DENIED');
    assert.equal(codeForResultReason(ResultReason.WrongKeyLifecycleState, { major: 2 }), 'WRONG_KEY_LIFECYCLE_STATE');
    assert.equal(codeForResultReason(ResultReason.ItemNotFound, { major: 1 }), 'ITEM_NOT_FOUND');
    assert.equal(codeForResultReason(0x80000001, { major: 2 }), 'GENERAL_FAILURE');
    assert.equal(codeForResultReason(undefined, { major: 2 }), 'GENERAL_FAILURE');
  });

  test('every code round-trips through its 2.x reason to a code with the same reason', () => {
    for (const code of KMIP_ERROR_CODES) {
      for (const major of [1, 2]) {
        const reason = resultReasonFor(code, { major });
        const back: KmipErrorCode = codeForResultReason(reason, { major });
        assert.equal(resultReasonFor(back, { major }), reason, `${code} in ${String(major)}.x`);
      }
    }
  });

  test('KmipResultError exposes the server answer', () => {
    const e = new KmipResultError({ resultStatus: ResultStatus.OperationFailed, resultReason: ResultReason.AttributeReadOnly, resultMessage: 'nope', operation: 0x0e });
    assert.equal(e.code, 'ATTRIBUTE_READ_ONLY');
    assert.equal(e.resultMessage, 'nope');
    assert.equal(e.operation, 0x0e);
    assert.match(e.message, /failed.*0x22.*nope/);
  });
});
