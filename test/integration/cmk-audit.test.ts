// The audit trail (src/cmk/audit/) over the real PostgreSQL and over PGlite: batched hot-path appends and
// synchronous admin appends build one chain per schema; verify() proves it intact and names the first broken
// record after each kind of tampering; export() writes JSON lines that re-verify offline with the documented format.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { AUDIT_KEY_MAX_BYTES, AUDIT_KEY_MIN_BYTES, runAudit } from '../../src/cli/commands/audit.js';
import {
  AUDIT_BATCH_SIZE, AUDIT_FIELD_MAX, AUDIT_FLUSH_INTERVAL_MS, AUDIT_FORMAT, AuditTrail,
} from '../../src/cmk/audit/index.js';
import type { AuditRecord } from '../../src/cmk/audit/index.js';
import { quoteIdent, tenantSchema } from '../../src/cmk/db.js';
import { GovernanceError } from '../../src/cmk/errors.js';
import { migratePublic, migrateTenant } from '../../src/cmk/migrations.js';
import { ENGINES, openTestDatabase, testAuditHmac } from '../helpers/governance-db.js';
import type { TestDatabase } from '../helpers/governance-db.js';

const HMAC_KEY = randomBytes(32);
const hmac = testAuditHmac(HMAC_KEY);
let counter = 0;
function uid(prefix: string): string {
  counter += 1;
  return `${prefix}_${String(process.pid % 10000)}_${String(counter)}`;
}

function rec(tenant: string, i: number, extra: Partial<AuditRecord> = {}): AuditRecord {
  return { principal: `client-${String(i % 3)}`, tenant, operation: 'kmip.Get', object: `uid-${String(i)}`, result: 'ok', ...extra };
}

class Lines extends Writable {
  readonly lines: string[] = [];
  private buf = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.buf += chunk.toString('utf8');
    const parts = this.buf.split('\n');
    this.buf = parts.pop() ?? '';
    this.lines.push(...parts);
    cb();
  }
}

async function waitFor(what: string, cond: () => Promise<boolean>, limitMs = 15_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - start;
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const engine of ENGINES) {
  describe(`audit trail over ${engine}`, () => {
    let t: TestDatabase;
    let trail: AuditTrail;
    before(async () => {
      t = await openTestDatabase(engine);
      await migratePublic(t.db);
      trail = new AuditTrail(t.db, hmac);
    });
    after(async () => { await t.close(); });

    /** A fresh tenant chain holding `n` records (half appended synchronously, half through the sink). */
    async function chain(n: number): Promise<string> {
      const id = uid('ch');
      await migrateTenant(t.db, id);
      const sink = trail.createSink();
      for (let i = 1; i <= n; i++) {
        if (i % 2 === 0) await trail.appendSync(rec(id, i, { operation: 'tenant.admin' }));
        else assert.equal(sink.record(rec(id, i)), true);
        if (i % 4 === 0) await sink.flush();
      }
      await sink.close();
      return id;
    }

    const table = (id: string): string => `${quoteIdent(tenantSchema(id))}.audit`;

    test('batched and synchronous appends form one chain that verifies', async () => {
      const id = await chain(10);
      assert.deepEqual(await trail.verify(id), { ok: true, count: 10 });
      const rows = await trail.list(id);
      assert.deepEqual(rows.map((r) => r.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      for (let i = 1; i < rows.length; i++) assert.deepEqual(rows[i]?.prevHash, rows[i - 1]?.hash);
      assert.deepEqual(rows[0]?.prevHash, new Uint8Array(32));
      // The public chain is separate and verifies too (empty is intact).
      assert.equal((await trail.verify()).ok, true);
      await assert.rejects(trail.verify(uid('nochain')), (e: unknown) => e instanceof GovernanceError && e.code === 'TENANT_NOT_FOUND');
    });

    test('record() returns at once; the sink flushes on its own within the interval (no await on the hot path)', async () => {
      const id = uid('hot');
      await migrateTenant(t.db, id);
      const sink = trail.createSink();
      try {
        const t0 = Date.now();
        for (let i = 0; i < 5; i++) assert.equal(sink.record(rec(id, i)), true);
        // Nothing is written synchronously: the records are still queued when record() returns.
        assert.equal(sink.stats().queued, 5);
        const waited = await waitFor('the timed flush', async () => (await trail.list(id)).length === 5);
        const elapsed = Date.now() - t0;
        process.stdout.write(`# ${engine}: 5 hot-path records durable after ${String(elapsed)} ms (interval ${String(AUDIT_FLUSH_INTERVAL_MS)} ms, polled ${String(waited)} ms)\n`);
        assert.equal(sink.stats().written, 5);
        assert.deepEqual(await trail.verify(id), { ok: true, count: 5 });
      } finally {
        await sink.close();
      }
    });

    test(`a full batch (${String(AUDIT_BATCH_SIZE)} records) is flushed without waiting for the timer`, async () => {
      const id = uid('batch');
      await migrateTenant(t.db, id);
      const sink = trail.createSink();
      try {
        for (let i = 0; i < AUDIT_BATCH_SIZE; i++) sink.record(rec(id, i));
        assert.equal(sink.stats().queued, AUDIT_BATCH_SIZE);
        await waitFor('the batch flush', () => Promise.resolve(sink.stats().written === AUDIT_BATCH_SIZE));
        assert.deepEqual(await trail.verify(id), { ok: true, count: AUDIT_BATCH_SIZE });
      } finally {
        await sink.close();
      }
    });

    test('queue bound: records beyond it are dropped and counted, never thrown at the caller', async () => {
      const id = uid('full');
      await migrateTenant(t.db, id);
      const errors: Error[] = [];
      const sink = trail.createSink({ queueMax: 3, onError: (e) => errors.push(e) });
      for (let i = 0; i < 3; i++) assert.equal(sink.record(rec(id, i)), true);
      assert.equal(sink.record(rec(id, 3)), false);
      assert.equal(sink.stats().dropped, 1);
      assert.equal(errors.length, 1);
      await sink.close();
      assert.equal(sink.record(rec(id, 4)), false);
      assert.equal((await trail.list(id)).length, 3);
    });

    test(`text fields are kept up to ${String(AUDIT_FIELD_MAX)} characters; longer ones are cut, marked and still verify`, async () => {
      const id = uid('long');
      await migrateTenant(t.db, id);
      const exact = 'p'.repeat(AUDIT_FIELD_MAX);
      await trail.appendSync(rec(id, 0, { principal: exact }));
      await trail.appendSync(rec(id, 1, { principal: exact + 'p', object: 'x\u0000y' }));
      const [a, b] = await trail.list(id);
      assert.equal(a?.principal, exact);
      assert.equal(b?.principal.length, AUDIT_FIELD_MAX);
      assert.ok(b.principal.endsWith('…'));
      assert.equal(b.object, 'x\uFFFDy');
      // A lone surrogate (a cut emoji, a hostile certificate) is stored as U+FFFD and still verifies.
      const sink = trail.createSink();
      sink.record(rec(id, 2, { object: 'a\uD83D' }));
      await sink.close();
      assert.equal((await trail.list(id))[2]?.object, 'a\uFFFD');
      assert.deepEqual(await trail.verify(id), { ok: true, count: 3 });
    });

    test('text that means something inside an array literal, COPY text or SQL (quotes, braces, commas, NULL, backslashes, tabs, newlines) is stored verbatim', async () => {
      // The rows travel as text arrays (real PostgreSQL: the driver escapes them) or in binary COPY (PGlite:
      // length-prefixed UTF-8, src/cmk/copy-binary.ts), audit/trail.ts rowChunk.
      const id = uid('quote');
      await migrateTenant(t.db, id);
      const values = ['"', "'); DROP TABLE x; --", '{a,b}', 'NULL', '', ' lead and trail ', 'back\\slash\\"q', 'comma,comma', '\u00e9\u6f22\u{1F510}', '{"json":[1,2]}',
        'tab\there', 'line\nbreak', 'cr\rlf\r\n', '\\.', '\\N', '\\x00ff', '\\\t\\\n', '\t\t'];
      const sink = trail.createSink();
      for (const [i, v] of values.entries()) sink.record(rec(id, i, { principal: v, object: v, result: v }));
      await sink.close();
      const rows = await trail.list(id);
      assert.deepEqual(rows.map((r) => r.principal), values);
      assert.deepEqual(rows.map((r) => r.object), values);
      assert.deepEqual(rows.map((r) => r.result), values);
      assert.deepEqual(await trail.verify(id), { ok: true, count: values.length });
    });

    test('tampering: an edited row is named', async () => {
      const id = await chain(8);
      await t.db.query(`UPDATE ${table(id)} SET result = 'denied' WHERE seq = 5`);
      const v = await trail.verify(id);
      assert.equal(!v.ok && v.firstBadSeq, 5);
      assert.match(!v.ok ? v.reason : '', /edited/);
    });

    test('tampering: an edited row whose hashes were recomputed (no key) fails its HMAC', async () => {
      const id = await chain(6);
      // The attacker knows the documented format, not the key: rewrite record 3 and re-chain 3..6.
      const rows = await trail.list(id);
      let prev = rows[1]!.hash;
      for (const r of rows.slice(2)) {
        const result = r.seq === 3 ? 'denied' : r.result;
        const canonical = JSON.stringify([AUDIT_FORMAT, r.seq, r.at.toISOString(), r.principal, r.tenant, r.operation, r.object, result]);
        const hash = createHash('sha256').update(canonical).update(prev).digest();
        await t.db.query(`UPDATE ${table(id)} SET result = $2, prev_hash = $3, hash = $4 WHERE seq = $1`, [r.seq, result, prev, hash]);
        prev = hash;
      }
      const v = await trail.verify(id);
      assert.equal(!v.ok && v.firstBadSeq, 3);
      assert.match(!v.ok ? v.reason : '', /HMAC/);
    });

    test('tampering: a deleted row is named (middle, and the end of the chain)', async () => {
      const id = await chain(7);
      await t.db.query(`DELETE FROM ${table(id)} WHERE seq = 4`);
      const v = await trail.verify(id);
      assert.equal(!v.ok && v.firstBadSeq, 4);
      assert.match(!v.ok ? v.reason : '', /missing/);

      const id2 = await chain(7);
      await t.db.query(`DELETE FROM ${table(id2)} WHERE seq = 7`);
      const w = await trail.verify(id2);
      assert.equal(!w.ok && w.firstBadSeq, 7);
      // Also moving the head back (without the key) is caught at the head.
      const six = (await trail.list(id2))[5]!;
      await t.db.query(`UPDATE ${quoteIdent(tenantSchema(id2))}.audit_head SET seq = 6, hash = $1`, [six.hash]);
      const x = await trail.verify(id2);
      assert.equal(!x.ok && x.firstBadSeq, 6);
      assert.match(!x.ok ? x.reason : '', /head/);
    });

    test('tampering: two rows swapped in order are named at the first of them', async () => {
      const id = await chain(8);
      await t.db.query(`UPDATE ${table(id)} SET seq = 1000000 WHERE seq = 3`);
      await t.db.query(`UPDATE ${table(id)} SET seq = 3 WHERE seq = 6`);
      await t.db.query(`UPDATE ${table(id)} SET seq = 6 WHERE seq = 1000000`);
      const v = await trail.verify(id);
      assert.equal(!v.ok && v.firstBadSeq, 3);
    });

    test('export writes JSON lines that re-verify offline with the documented format and the key', async () => {
      const id = await chain(9);
      const out = new Lines();
      assert.equal(await trail.export(id, out), 9);
      assert.equal(out.lines.length, 9);
      let prev = Buffer.alloc(32);
      for (const [i, line] of out.lines.entries()) {
        const r = JSON.parse(line) as Record<string, string | number>;
        assert.equal(r.seq, i + 1);
        assert.equal(r.prevHash, prev.toString('hex'));
        const canonical = JSON.stringify([AUDIT_FORMAT, r.seq, r.at, r.principal, r.tenant, r.operation, r.object, r.result]);
        const hash = createHash('sha256').update(canonical).update(prev).digest();
        assert.equal(r.hash, hash.toString('hex'));
        assert.equal(r.hmac, Buffer.from(hmac(hash)).toString('hex'));
        prev = hash;
      }
      const pub = new Lines();
      await trail.export(undefined, pub);
      for (const line of pub.lines) JSON.parse(line);
    });

    test('concurrent appenders (sync and batched, several connections) keep one gap-free chain', async () => {
      const id = uid('conc');
      await migrateTenant(t.db, id);
      const other = engine === 'postgres' ? new AuditTrail(await t.openAnother(), hmac) : trail;
      const sinks = [trail.createSink(), other.createSink()];
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 40; i++) {
        if (i % 4 === 0) work.push((i % 8 === 0 ? trail : other).appendSync(rec(id, i, { operation: 'tenant.admin' })));
        else sinks[i % 2]!.record(rec(id, i));
        if (i % 10 === 9) work.push(sinks[0]!.flush(), sinks[1]!.flush());
      }
      await Promise.all(work);
      for (const s of sinks) await s.close();
      assert.deepEqual(await trail.verify(id), { ok: true, count: 40 });
    });

    if (engine === 'postgres') {
      test('openkcm audit verify/export: exit 0 intact, 1 naming the broken record, 3 without the key', async () => {
        const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-audit-cli-'));
        try {
          const keyFile = path.join(dir, 'audit.key');
          writeFileSync(keyFile, HMAC_KEY.toString('hex') + '\n', { mode: 0o600 });
          const id = await chain(5);
          const url = t.url!;
          const cli = async (argv: string[], env: NodeJS.ProcessEnv = { OPENKCM_AUDIT_HMAC_KEY_FILE: keyFile }): Promise<[number, string]> => {
            const out = new Lines();
            const code = await runAudit(argv, { env, stdout: out, stderr: new Lines() });
            return [code, out.lines.join('\n')];
          };
          assert.deepEqual(await cli(['verify', '--tenant', id, '--database-url', url]), [0, `audit: the chain of tenant ${id} is intact: 5 records`]);
          const file = path.join(dir, 'export.jsonl');
          assert.equal((await cli(['export', '--tenant', id, '--out', file, '--database-url', url]))[0], 0);
          assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 5);
          assert.equal((await cli(['verify', '--tenant', id, '--database-url', url], {}))[0], 3);
          // Key file bounds: AUDIT_KEY_MIN_BYTES is accepted (the chain then fails its HMAC: exit 1), one less is not.
          const shortKey = path.join(dir, 'short.key');
          writeFileSync(shortKey, randomBytes(AUDIT_KEY_MIN_BYTES - 1));
          assert.equal((await cli(['verify', '--tenant', id, '--database-url', url], { OPENKCM_AUDIT_HMAC_KEY_FILE: shortKey }))[0], 3);
          writeFileSync(shortKey, randomBytes(AUDIT_KEY_MIN_BYTES));
          assert.equal((await cli(['verify', '--tenant', id, '--database-url', url], { OPENKCM_AUDIT_HMAC_KEY_FILE: shortKey }))[0], 1);
          writeFileSync(shortKey, randomBytes(AUDIT_KEY_MAX_BYTES + 1));
          assert.equal((await cli(['verify', '--tenant', id, '--database-url', url], { OPENKCM_AUDIT_HMAC_KEY_FILE: shortKey }))[0], 3);
          assert.equal((await cli(['verify', '--tenant', id], {}))[0], 2);
          assert.equal((await cli(['frobnicate'], {}))[0], 2);
          await t.db.query(`UPDATE ${table(id)} SET object = 'other' WHERE seq = 4`);
          const [code, text] = await cli(['verify', '--tenant', id, '--database-url', url]);
          assert.equal(code, 1);
          assert.match(text, /BROKEN at record 4:/);
          // The wrong key is a broken chain too (from record 1: nothing verifies without the right key).
          writeFileSync(keyFile, randomBytes(32));
          const [code2, text2] = await cli(['verify', '--tenant', id, '--database-url', url]);
          assert.equal(code2, 1);
          assert.match(text2, /BROKEN at record 1:.*HMAC/);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }

    test('records of a tenant whose schema is gone land in the public chain, tenant field intact', async () => {
      const id = uid('gone');
      await migrateTenant(t.db, id);
      const sink = trail.createSink();
      sink.record(rec(id, 1));
      await t.db.exec(`DROP SCHEMA ${quoteIdent(tenantSchema(id))} CASCADE`);
      await sink.close();
      const pub = await trail.list(undefined, { limit: 1000 });
      assert.ok(pub.some((r) => r.tenant === id && r.object === 'uid-1'));
      assert.equal((await trail.verify()).ok, true);
    });
  });
}
