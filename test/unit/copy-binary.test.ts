// PostgreSQL's binary COPY format as src/cmk/copy-binary.ts writes it, read back by the embedded engine (PGlite in
// its worker thread, src/cmk/db.ts copyBinary): every field type the audit rows use, at the edges of its range, and
// a buffer that has to grow. The audit trail's own round trips (tamper detection, verbatim text) are in
// test/integration/cmk-audit.test.ts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CopyBinaryWriter } from '../../src/cmk/copy-binary.js';
import { openDb } from '../../src/cmk/db.js';
import type { Db } from '../../src/cmk/db.js';

const T = { timeout: 120_000 };
const COLUMNS = ['n', 'at', 'label', 'blob'] as const;
/** PostgreSQL's timestamp epoch and the audit trail's bounds (src/cmk/audit/record.ts MAX_AT_MS). */
const PG_EPOCH_MS = 946_684_800_000;
const MAX_AT_MS = 253_402_300_799_999;

interface Row { n: number; at: number; label: string; blob: Uint8Array }

function encode(rows: readonly Row[], initialBytes?: number): Uint8Array {
  const w = new CopyBinaryWriter(initialBytes);
  for (const r of rows) {
    w.row(COLUMNS.length, 2 + 4 * 4 + 16 + 3 * r.label.length + r.blob.length);
    w.int8(r.n);
    w.timestamptzMs(r.at);
    w.text(r.label);
    w.bytea(r.blob);
  }
  assert.equal(w.rows, rows.length);
  return w.finish();
}

describe('binary COPY (src/cmk/copy-binary.ts) into the embedded engine', () => {
  let db: Db;
  before(async () => {
    db = await openDb({});
    await db.exec('CREATE TABLE t (n bigint PRIMARY KEY, at timestamptz NOT NULL, label text NOT NULL, blob bytea NOT NULL)');
  });
  after(async () => {
    await db.close();
  });

  async function roundTrip(rows: readonly Row[], initialBytes?: number): Promise<void> {
    await db.exec('TRUNCATE t');
    const copied = await db.transaction(async (tx) => {
      assert.ok(tx.copyBinary !== undefined, 'the embedded engine has copyBinary');
      return tx.copyBinary('t', COLUMNS, encode(rows, initialBytes));
    });
    assert.equal(copied, rows.length);
    // Read back as text the JS side can compare exactly: the int8 as text, the time as Unix milliseconds.
    const back = await db.query<{ n: string; ms: string; label: string; blob: string }>(
      "SELECT n::text AS n, (extract(epoch FROM at) * 1000)::numeric(20,0)::text AS ms, label, encode(blob, 'hex') AS blob FROM t ORDER BY t.n");
    assert.deepEqual(back.rows, [...rows].sort((a, b) => a.n - b.n).map((r) => ({
      n: String(r.n), ms: String(r.at), label: r.label, blob: Buffer.from(r.blob).toString('hex'),
    })));
  }

  it('int8 across its safe range, timestamps from 1970 to 9999 (both sides of 2000 and past the exact-double range)', T, async () => {
    await roundTrip([
      { n: 1, at: 0, label: 'epoch', blob: new Uint8Array(0) },
      { n: -1, at: PG_EPOCH_MS - 1, label: 'just before 2000', blob: Uint8Array.of(0) },
      { n: 0, at: PG_EPOCH_MS, label: '2000', blob: Uint8Array.of(255) },
      { n: Number.MAX_SAFE_INTEGER, at: 1_796_000_000_123, label: 'now-ish', blob: new Uint8Array(32).fill(0xab) },
      { n: -Number.MAX_SAFE_INTEGER, at: MAX_AT_MS, label: 'year 9999, BigInt path', blob: Uint8Array.of(1, 2, 3) },
      { n: 2 ** 32, at: 10_000_000_000_000, label: '2286: first past the exact range', blob: Uint8Array.of(4) },
      { n: 2 ** 32 - 1, at: 9_000_000_000_000, label: '2255', blob: Uint8Array.of(5) },
    ]);
  });

  it('text in UTF-8 (multi-byte, astral, COPY-text specials) and a buffer that grows many times', T, async () => {
    const specials = ['', '\t\n\r\\', '\\N', '\\.', 'é漢🔐', '…'.repeat(512), 'x'.repeat(5_000)];
    await roundTrip(specials.map((label, i) => ({ n: i, at: 1_796_000_000_000 + i, label, blob: new Uint8Array(i * 100).fill(i) })), 32);
  });

  it('refuses values the format cannot hold exactly', () => {
    const w = new CopyBinaryWriter();
    w.row(2, 64);
    assert.throws(() => { w.int8(2 ** 53); }, RangeError);
    assert.throws(() => { w.int8(1.5); }, RangeError);
    assert.throws(() => { w.timestamptzMs(1.5); }, RangeError);
    assert.throws(() => { w.timestamptzMs(Number.NaN); }, RangeError);
  });
});
