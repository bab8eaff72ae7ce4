/**
 * Audit fairness and visibility (issue 15 item 4) and the sink's shape for KMIP workers (issue 14 deliverable 4),
 * at the sink over the real PostgreSQL and over PGlite. The review's finding: all tenants shared one queue, so
 * tenant b's flood silently dropped tenant a's records, verify still said ok, and every drop wrote a log line.
 * Now each tenant has a quota; b's losses are counted, reported at most once per interval, and written as a gap
 * record that verify (and `openkcm audit verify`) reports. The end-to-end test through a running server is
 * test/integration/audit-fairness-server.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { runAudit } from '../../src/cli/commands/audit.js';
import {
  AUDIT_GAP_OPERATION, AUDIT_REFUSED_RESULT, AUDIT_SYSTEM_PRINCIPAL, AuditAdmission, auditGapOf,
} from '../../src/cmk/audit/index.js';
import type { AuditBacklog, AuditBatch, AuditDropReport, AuditEntry, AuditRecord, AuditSinkOptions } from '../../src/cmk/audit/index.js';
import { migrateTenant } from '../../src/cmk/migrations.js';
import { ENGINES, testAuditHmac } from '../helpers/governance-db.js';
import { auditTestId, auditTrailSuite, TextOut } from '../helpers/audit.js';
import { until } from '../helpers/wait.js';

const HMAC_KEY = randomBytes(32);
const hmac = testAuditHmac(HMAC_KEY);

function rec(tenant: string, i: number, extra: Partial<AuditRecord> = {}): AuditRecord {
  return { principal: `client-${tenant}`, tenant, operation: 'kmip.Get', object: `uid-${String(i)}`, result: 'ok', ...extra };
}

function entry(i: number, extra: Partial<AuditEntry> = {}): AuditEntry {
  return { principal: 'client-w', operation: 'kmip.Get', object: `uid-${String(i)}`, result: 'ok', at: 1_700_000_000_000 + i, ...extra };
}

for (const engine of ENGINES) {
  describe(`audit fairness over ${engine}`, () => {
    const suite = auditTrailSuite(engine, hmac);

    async function tenants(n: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const id = auditTestId('fair');
        await migrateTenant(suite.t.db, id);
        ids.push(id);
      }
      return ids;
    }

    test("tenant b's flood never drops tenant a's records; b's losses become a gap record that verify reports", async () => {
      const [a, b] = await tenants(2) as [string, string];
      const reports: AuditDropReport[] = [];
      // As the review did it: b floods (a message of 5,000 Query items is 5,000 records enqueued without a pause)
      // while a's Gets keep coming. All tenants shared the 2,000-record queue before.
      const opts = { queueMax: 2_000, tenantQueueMax: 100, onDrop: (r: AuditDropReport) => { reports.push(r); } } as AuditSinkOptions;
      const sink = suite.trail.createSink(opts);
      const aObjects: string[] = [];
      for (let i = 0; i < 5_000; i++) {
        sink.record(rec(b, i, { operation: 'kmip.Query', object: '' }));
        if (i % 500 === 499) {
          assert.equal(sink.admits(a), true, `a is admitted while b floods (item ${String(i)})`);
          assert.equal(sink.record(rec(a, i)), true, `a's record ${String(i)} is queued while b floods`);
          aObjects.push(`uid-${String(i)}`);
        }
      }
      assert.equal(sink.admits(b), false, 'b, at its quota, is refused');
      // A Get of b admitted before its queue filled was served: its record is kept past the quota.
      assert.equal(sink.recordEntry(b, entry(1, { keep: true })), true);
      // A Get of b refused by the gate: counted as refused, not recorded one by one.
      assert.equal(sink.recordEntry(b, entry(2, { result: AUDIT_REFUSED_RESULT })), false);
      const s = sink.stats();
      assert.equal(s.dropped, 4_900);
      assert.equal(s.refused, 1);
      assert.equal(sink.tenantLosses().get(b)?.dropped, 4_900);
      assert.equal(sink.tenantLosses().has(a), false);
      await sink.close();
      // a: every record, and no gap.
      const aRows = await suite.trail.list(a);
      assert.deepEqual(aRows.map((r) => r.object), aObjects);
      assert.deepEqual(await suite.trail.verify(a), { ok: true, count: aObjects.length });
      // b: its 100 queued records, the kept one, then the gap record (written at close: the flood never ended).
      const bRows = await suite.trail.list(b, { limit: 1000 });
      assert.equal(bRows.length, 102);
      const gapRow = bRows[101];
      assert.equal(gapRow?.operation, AUDIT_GAP_OPERATION);
      assert.equal(gapRow.principal, AUDIT_SYSTEM_PRINCIPAL);
      assert.deepEqual({ ...auditGapOf(gapRow), from: '', to: '' }, { dropped: 4_900, refused: 1, from: '', to: '', cause: 'tenant-quota' });
      const v = await suite.trail.verify(b);
      assert.ok(v.ok);
      assert.equal(v.count, 102);
      assert.deepEqual({ ...v.gaps, from: '', to: '' }, { records: 1, dropped: 4_900, refused: 1, firstSeq: 102, lastSeq: 102, from: '', to: '' });
      // The log: one report for b (the first loss, at once; the rest at close), never one per record.
      assert.ok(reports.length <= 2, `${String(reports.length)} reports`);
      assert.ok(reports.every((r) => r.tenant === b));
      assert.equal(reports.reduce((n, r) => n + r.dropped, 0), 4_900);
      assert.equal(reports.reduce((n, r) => n + r.refused, 0), 1);
    });

    test('the gap record is written once the flood has been quiet for a while, without a close; verify names it', async () => {
      const [b] = await tenants(1) as [string];
      const sink = suite.trail.createSink({ tenantQueueMax: 20, onDrop: () => undefined });
      try {
        for (let i = 0; i < 500; i++) sink.record(rec(b, i, { operation: 'kmip.Query', object: '' }));
        assert.equal(sink.stats().dropped, 480);
        const v = await until('the gap record', async () => {
          const r = await suite.trail.verify(b);
          return r.ok && r.gaps !== undefined ? r : undefined;
        });
        assert.equal(v.count, 21);
        assert.equal(v.gaps?.dropped, 480);
        assert.equal(v.gaps.firstSeq, 21);
        // Admitted again once the queue was written: no further gap, and new records follow the gap record.
        assert.equal(sink.admits(b), true);
        assert.equal(sink.record(rec(b, 1000)), true);
        await sink.flush();
        assert.equal((await suite.trail.list(b, { after: 21 }))[0]?.object, 'uid-1000');
        if (engine === 'postgres') {
          // `openkcm audit verify` says the chain is intact and reports the gap.
          const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-audit-gap-'));
          try {
            const keyFile = path.join(dir, 'audit.key');
            writeFileSync(keyFile, HMAC_KEY.toString('hex'), { mode: 0o600 });
            const out = new TextOut();
            const code = await runAudit(['verify', '--tenant', b, '--database-url', suite.t.url ?? ''], { env: { OPENKCM_AUDIT_HMAC_KEY_FILE: keyFile }, stdout: out, stderr: new TextOut() });
            assert.equal(code, 0);
            assert.match(out.text, new RegExp(`^audit: the chain of tenant ${b} is intact: 22 records; 1 gap record \\(records 21\\.\\.21\\): 480 records dropped and 0 operations refused while the audit queue was full, \\S+ \\.\\. \\S+\\n$`));
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        }
      } finally {
        await sink.close();
      }
    });

    test("losses are reported at most once per tenant per interval, with the count since the last report", async () => {
      const [b, c] = await tenants(2) as [string, string];
      const reports: AuditDropReport[] = [];
      const interval = 200;
      const started = Date.now();
      const sink = suite.trail.createSink({ tenantQueueMax: 10, dropReportIntervalMs: interval, onDrop: (r) => { reports.push(r); } });
      const byTenant = (x: string): number[] => reports.filter((r) => r.tenant === x).map((r) => r.dropped);
      const sum = (xs: number[]): number => xs.reduce((n, x) => n + x, 0);
      try {
        for (let i = 0; i < 10_000; i++) sink.record(rec(b, i));
        for (let i = 0; i < 50; i++) sink.record(rec(c, i));
        // Every count arrives, in reports that each cover an interval: the first loss at once, then the rest.
        await until('the summaries', () => (sum(byTenant(b)) === 9_990 && sum(byTenant(c)) === 40 ? true : undefined));
      } finally {
        await sink.close();
      }
      const elapsed = Date.now() - started;
      for (const x of [b, c]) {
        const counts = byTenant(x);
        assert.equal(counts[0], 1, 'the first loss is reported at once');
        assert.ok(counts.length >= 2 && counts.length <= 1 + Math.ceil(elapsed / interval), `${x}: ${String(counts.length)} reports in ${String(elapsed)} ms`);
      }
      assert.ok(reports.every((r) => r.cause === 'tenant-quota'));
    });

    test("backlog() tells a KMIP worker's AuditAdmission whom to refuse; the node's bound refuses everyone", async () => {
      const [a, b, c] = await tenants(3) as [string, string, string];
      const mirror = new AuditAdmission();
      // What the chain owner would send to its workers at each notice (and what they would then answer).
      const sent: AuditBacklog[] = [];
      const answers: [boolean, boolean][] = [];
      const sink = suite.trail.createSink({
        queueMax: 20, tenantQueueMax: 10, onDrop: () => undefined,
        onBacklogChange: () => {
          const b = structuredClone(sink.backlog());
          sent.push(b);
          mirror.update(b);
          answers.push([mirror.admits(tenantA), mirror.admits(tenantB)]);
        },
      });
      const [tenantA, tenantB] = [a, b];
      try {
        for (let i = 0; i < 10; i++) sink.record(rec(b, i));
        assert.equal(sink.admits(b), false);
        assert.equal(sink.admits(a), true);
        // The full queue is flushed at once; the workers hear "b refused", then "all clear".
        await until('the all-clear', () => (sent.length >= 2 ? true : undefined));
        assert.deepEqual(sent.slice(0, 2), [{ node: false, tenants: [b] }, { node: false, tenants: [] }]);
        assert.deepEqual(answers.slice(0, 2), [[true, false], [true, true]]);
        assert.equal(sink.admits(b), true);
        // b and c fill the node's bound of 20 between them (each within its own quota): every tenant is refused.
        for (let i = 0; i < 10; i++) {
          sink.record(rec(b, i));
          sink.record(rec(c, i));
        }
        assert.equal(sink.admits(a), false);
        assert.equal(sink.record(rec(a, 1)), false);
        assert.deepEqual(sink.backlog(), { node: true, tenants: [b, c] });
        assert.equal(sink.stats().nodeBacklogged, true);
        await until('the node all-clear', () => (sent.length >= 4 ? true : undefined));
        assert.deepEqual(sent.slice(2, 4), [{ node: true, tenants: [b, c] }, { node: false, tenants: [] }]);
        assert.deepEqual(answers.slice(2, 4), [[false, false], [true, true]]);
      } finally {
        await sink.close();
      }
      // a's one loss came from the node's bound: its gap record is in the global chain, naming a.
      const pub = await suite.trail.list(undefined, { limit: 1000 });
      const g = pub.find((r) => r.tenant === a && r.operation === AUDIT_GAP_OPERATION);
      assert.equal(g === undefined ? undefined : auditGapOf(g)?.cause, 'node-queue');
      assert.equal((await suite.trail.verify()).ok, true);
    });

    test('a tenant past half its quota is reported slow (its connections are held) until its queue is back under a quarter', async () => {
      const [a, b] = await tenants(2) as [string, string];
      let notices = 0;
      const sink = suite.trail.createSink({ tenantQueueMax: 20, onDrop: () => undefined, onBacklogChange: () => { notices++; } });
      try {
        for (let i = 0; i < 9; i++) sink.record(rec(b, i));
        assert.deepEqual(sink.slowTenants(), [], '9 of 20: not slow');
        sink.record(rec(b, 9));
        sink.record(rec(a, 0));
        assert.deepEqual(sink.slowTenants(), [b], '10 of 20: slow; a (1 of 20) is not');
        assert.equal(sink.admits(b), true, 'slow is not refused');
        assert.deepEqual(sink.backlog(), { node: false, tenants: [] }, 'the backlog (whom to refuse) is unchanged');
        // Turning slow kicks a flush: the queue drains, and the workers hear it.
        await until('b no longer slow', () => (sink.slowTenants().length === 0 ? true : undefined));
        assert.ok(notices >= 2, `slow, then clear, notified (${String(notices)} notices)`);
        assert.equal(sink.stats().written, 11);
      } finally {
        await sink.close();
      }
    });

    test("recordMany takes a worker's batch as it crossed a MessagePort (structured clone): in order, within the quota", async () => {
      const [w] = await tenants(1) as [string];
      const sink = suite.trail.createSink({ tenantQueueMax: 300, onDrop: () => undefined });
      try {
        const { port1, port2 } = new MessageChannel();
        const received = new Promise<AuditBatch>((resolve) => { port2.once('message', (m: AuditBatch) => { resolve(m); }); });
        const sent: AuditBatch = { tenant: w, entries: Array.from({ length: 400 }, (_, i) => entry(i)) };
        port1.postMessage(sent);
        const batch = await received;
        port1.close();
        assert.equal(sink.recordMany(batch.tenant, batch.entries), 300);
        assert.equal(sink.stats().dropped, 100);
        await sink.flush();
        const rows = [...await suite.trail.list(w, { limit: 1000 })];
        assert.deepEqual(rows.map((r) => r.object), sent.entries.slice(0, 300).map((e) => e.object));
        assert.deepEqual(rows.map((r) => r.at.getTime()), sent.entries.slice(0, 300).map((e) => e.at));
        assert.ok(rows.every((r) => r.tenant === w && r.principal === 'client-w'));
      } finally {
        await sink.close();
      }
      assert.equal((await suite.trail.verify(w)).ok, true);
    });
  });
}
