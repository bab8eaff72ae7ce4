/**
 * The audit trail's back-pressure end to end, through a running server (the app's own wiring, governance on the real
 * PostgreSQL): a tenant whose audit queue passes half its quota has its connections held until the chain owner has
 * caught up, instead of its operations being refused with AUDIT_BACKLOGGED at the quota. Eight connections of tenant
 * pb run messages of ten Gets back to back, well past the quota within the flush interval; every item is served and
 * audited. Another tenant's connection is served throughout.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BatchItemInput } from '../../src/client/client.js';
import { getPayloads } from '../../src/kmip/payloads/get.js';
import { CryptographicAlgorithm, CryptographicUsageMask, Operation, ResultStatus } from '../../src/kmip/registry.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { startTestServer } from '../helpers/server.js';

/** pb's quota: slow at 100 records; eight connections with one message of ten items each in flight add at most 80. */
const TENANT_QUEUE_MAX = 200;
const CONNECTIONS = 8;
const ITEMS = 10;
const MESSAGES_PER_CONNECTION = 60;
const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };

test("a tenant past half its audit quota is held, not refused: all of a burst past the quota is served and audited, and another tenant is served meanwhile", async () => {
  const tdb = await createThrowawayDatabase();
  const srv = await startTestServer({
    tenants: ['pa', 'pb'],
    governance: { databaseUrl: tdb.url, l1HealthIntervalMs: 60_000, audit: { tenantQueueMax: TENANT_QUEUE_MAX } },
  });
  const holds: string[] = [];
  try {
    const plane = srv.app?.governance;
    const gov = plane?.governance;
    assert.ok(plane !== undefined && gov !== undefined, 'the governance plane runs');
    // Watch the server's holds: the listener's holdTenant is what the back-pressure calls.
    const server = srv.app?.server;
    assert.ok(server !== undefined);
    const holdTenant = server.holdTenant.bind(server);
    server.holdTenant = (tenant: string, on: boolean): void => { holds.push(`${on ? 'hold' : 'release'} ${tenant}`); holdTenant(tenant, on); };

    const a = await srv.connect('pa');
    const aKey = await a.createSymmetricKey(AES);
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => srv.connect('pb')));
    const bKey = await (clients[0] as (typeof clients)[number]).createSymmetricKey(AES);
    await plane.flushAudit();
    const v = a.protocolVersion;
    const gets: BatchItemInput[] = Array.from({ length: ITEMS }, () => ({ operation: Operation.Get, payload: getPayloads.encodeRequest({ uniqueIdentifier: bKey }, v) }));

    let served = 0;
    const failures: string[] = [];
    let aServed = 0;
    const run = { on: true };
    const aLoop = (async (): Promise<void> => {
      // A few Gets a second: pa's own queue stays far below half its quota between pb's flushes.
      while (run.on) {
        await a.get(aKey);
        aServed++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await Promise.all(clients.map(async (c) => {
      for (let m = 0; m < MESSAGES_PER_CONNECTION; m++) {
        for (const item of await c.sendBatch(gets, { errorContinuation: 'continue' })) {
          if (item?.resultStatus === ResultStatus.Success) served++;
          else failures.push(item?.resultMessage ?? String(item?.resultReason));
        }
      }
    }));
    run.on = false;
    await aLoop;
    const total = CONNECTIONS * MESSAGES_PER_CONNECTION * ITEMS;
    process.stdout.write(`# pb: ${String(served)} of ${String(total)} Gets served, holds: ${String(holds.filter((h) => h.startsWith('hold')).length)}; pa: ${String(aServed)} Gets meanwhile\n`);
    assert.deepEqual(failures.slice(0, 3), [], 'no item refused');
    assert.equal(served, total);
    assert.ok(total > 2 * TENANT_QUEUE_MAX);
    assert.ok(holds.includes('hold pb'), 'pb was held');
    assert.ok(!holds.some((h) => h.endsWith(' pa')), 'pa was never held');
    assert.ok(aServed > 0, 'pa was served during the burst');
    assert.equal(holds.at(-1), 'release pb', 'and released');
    await plane.flushAudit();
    const records = [];
    for (let after = 0; ; after += 1000) {
      const page = await gov.audit.list('pb', { after, limit: 1000 });
      records.push(...page);
      if (page.length < 1000) break;
    }
    assert.equal(records.filter((r) => r.operation === 'kmip.Get' && r.result === 'ok').length, total, 'every Get is in the trail');
    assert.equal(gov.auditSink.stats().refused, 0);
    for (const c of clients) await c.close();
    await a.close();
  } finally {
    await srv.stop();
    await tdb.drop();
  }
});
