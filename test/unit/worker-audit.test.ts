/**
 * A KMIP worker's audit forwarding to the primary (src/appliance/worker-audit.ts): records leave in one IPC message per
 * forwarding interval, not one per event-loop turn (docs/performance.md "Open-loop tail": per-turn messages woke the
 * primary thousands of times a second), a full message leaves at once, and closing sends what waits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { deserialize, serialize } from 'node:v8';
import type { AuditBatch, AuditEntry } from '../../src/cmk/audit/index.js';
import { AuditForwarder, unpackAuditBatch } from '../../src/appliance/worker-audit.js';
import type { PackedAuditBatch } from '../../src/appliance/worker-audit.js';

function entry(n: number): AuditEntry {
  return { principal: 'CN=client', operation: 'kmip.Get', object: `uid-${String(n)}`, result: 'ok', at: 1_700_000_000_000 + n, keep: true };
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test('records of several event-loop turns within one interval leave in one message, grouped per tenant, in order', async () => {
  const sent: AuditBatch[][] = [];
  const f = new AuditForwarder({ send: (b) => { sent.push(b.map(unpackAuditBatch)); }, intervalMs: 200 });
  f.recordEntry('alpha', entry(1));
  await nextTurn();
  f.recordEntry('bravo', entry(2));
  await nextTurn();
  f.recordEntry('alpha', entry(3));
  await nextTurn();
  await nextTurn();
  assert.equal(sent.length, 0, 'nothing is sent per event-loop turn');
  assert.equal(f.pending, 3);
  await until('the interval\'s message', () => sent.length > 0);
  assert.deepEqual(sent, [[
    { tenant: 'alpha', entries: [entry(1), entry(3)] },
    { tenant: 'bravo', entries: [entry(2)] },
  ]]);
  assert.equal(f.pending, 0);
  // The next record opens a new interval.
  f.recordEntry('alpha', entry(4));
  await until('the second message', () => sent.length > 1);
  assert.deepEqual(sent[1], [{ tenant: 'alpha', entries: [entry(4)] }]);
});

test('at maxEntries the message leaves at once; one past starts the next message', () => {
  const sent: AuditBatch[][] = [];
  const f = new AuditForwarder({ send: (b) => { sent.push(b.map(unpackAuditBatch)); }, intervalMs: 60_000, maxEntries: 3 });
  f.recordEntry('alpha', entry(1));
  f.recordEntry('alpha', entry(2));
  assert.equal(sent.length, 0);
  f.recordEntry('bravo', entry(3));
  assert.deepEqual(sent, [[{ tenant: 'alpha', entries: [entry(1), entry(2)] }, { tenant: 'bravo', entries: [entry(3)] }]]);
  f.recordEntry('alpha', entry(4));
  assert.equal(sent.length, 1, 'one past the cap waits for its own interval');
  assert.equal(f.pending, 1);
  f.flush();
  assert.deepEqual(sent[1], [{ tenant: 'alpha', entries: [entry(4)] }]);
});

test('flush sends what waits at once (the worker closing), and an empty flush sends nothing', async () => {
  const sent: AuditBatch[][] = [];
  const f = new AuditForwarder({ send: (b) => { sent.push(b.map(unpackAuditBatch)); }, intervalMs: 30 });
  f.flush();
  assert.equal(sent.length, 0);
  f.recordEntry('alpha', entry(1));
  f.flush();
  assert.deepEqual(sent, [[{ tenant: 'alpha', entries: [entry(1)] }]]);
  // The flushed interval's timer is gone: no empty or duplicate message follows.
  await sleep(90);
  assert.equal(sent.length, 1);
});

test('a message carries each distinct field value once, survives structured clone (the IPC hop), and unpacks to the records in order', () => {
  const packed: PackedAuditBatch[][] = [];
  const f = new AuditForwarder({ send: (b) => { packed.push(b); }, intervalMs: 60_000 });
  const records: AuditEntry[] = [];
  for (let i = 0; i < 10; i++) {
    const e: AuditEntry = { principal: 'CN=client', operation: i % 2 === 0 ? 'kmip.Get' : 'kmip.Encrypt', object: `uid-${String(i % 3)}`, result: 'ok', at: 1_700_000_000_000 + i * 0.5 };
    records.push(i === 7 ? { ...e, keep: true } : e);
  }
  records.push({ principal: '', operation: 'kmip.Query', object: '', result: 'Item Not Found', at: 0 });
  for (const r of records) f.recordEntry('alpha', r);
  f.flush();
  const [message] = packed;
  assert.ok(message !== undefined);
  const [batch] = message;
  assert.ok(batch !== undefined);
  // CN=client, kmip.Get, uid-0, ok, kmip.Encrypt, uid-1, uid-2, '', kmip.Query, Item Not Found.
  assert.equal(batch.strings.length, 10);
  const cloned = deserialize(serialize({ t: 'audit', batches: message })) as { batches: PackedAuditBatch[] };
  const [again] = cloned.batches;
  assert.ok(again !== undefined);
  assert.deepEqual(unpackAuditBatch(again), { tenant: 'alpha', entries: records });
});

test('a packed batch that does not add up is refused whole', () => {
  const good: PackedAuditBatch = { tenant: 'alpha', strings: ['p', 'kmip.Get', 'u', 'ok'], fields: Uint32Array.of(0, 1, 2, 3), at: Float64Array.of(1), keep: Uint8Array.of(0) };
  assert.deepEqual(unpackAuditBatch(good).entries, [{ principal: 'p', operation: 'kmip.Get', object: 'u', result: 'ok', at: 1 }]);
  const bad: unknown[] = [
    { ...good, fields: Uint32Array.of(0, 1, 2, 4) },
    { ...good, fields: Uint32Array.of(0, 1, 2) },
    { ...good, keep: Uint8Array.of(0, 0) },
    { ...good, at: [1] },
    { ...good, strings: ['p', 'kmip.Get', 7, 'ok'] },
    { ...good, tenant: undefined },
  ];
  for (const b of bad) assert.throws(() => unpackAuditBatch(b as PackedAuditBatch), TypeError);
});
