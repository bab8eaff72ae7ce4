/**
 * Issue 15 item 4 end to end, through a running server (the app's own wiring, governance on the real PostgreSQL):
 * tenant fb floods with messages of Query items, as the review did, while tenant fa runs Gets. fa's Gets are all
 * served and all in fa's trail; each of fb's Gets is either served and in fb's trail, or refused with
 * AUDIT_BACKLOGGED and counted; fb's chain verifies with a gap record, which the admin API's verify reports; the
 * losses are metrics; the log says so once per interval, not once per record.
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { BatchItemInput } from '../../src/client/client.js';
import { AUDIT_DROP_REPORT_INTERVAL_MS, AUDIT_REFUSED_RESULT } from '../../src/cmk/audit/index.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import { getPayloads } from '../../src/kmip/payloads/get.js';
import { queryPayloads } from '../../src/kmip/payloads/query.js';
import { CryptographicAlgorithm, CryptographicUsageMask, Operation, QueryFunction, ResultStatus } from '../../src/kmip/registry.js';
import { jsonLogger } from '../../src/common/log.js';
import { until } from '../helpers/wait.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { startTestServer } from '../helpers/server.js';

/** Records fb may have waiting: far fewer than one flood message's items, more than fa's Gets in the whole test. */
const TENANT_QUEUE_MAX = 200;
const FLOOD_ITEMS = 1_000;
const A_GETS = 120;
const MAX_FLOOD_MESSAGES = 8;
const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };

test("a tenant's flood neither drops another tenant's audit records nor serves its own key operations unaudited; its gap is verified, counted and logged once per interval", async () => {
  const tdb = await createThrowawayDatabase();
  const logLines: string[] = [];
  const started = Date.now();
  const srv = await startTestServer({
    tenants: ['fa', 'fb'],
    logger: jsonLogger('warn', (l) => { logLines.push(l); }),
    governance: { databaseUrl: tdb.url, l1HealthIntervalMs: 60_000, audit: { tenantQueueMax: TENANT_QUEUE_MAX } },
  });
  try {
    const plane = srv.app?.governance;
    const gov = plane?.governance;
    assert.ok(plane !== undefined && gov !== undefined, 'the governance plane runs');
    const pki = path.join(srv.dataDir, 'pki');
    const admin = { cert: await readFile(path.join(pki, 'admin.crt'), 'utf8'), key: await readFile(path.join(pki, 'admin.key'), 'utf8') };
    const api = (urlPath: string): Promise<{ status: number; text: string }> => new Promise((resolve, reject) => {
      const port = plane.adminApiAddress()?.port;
      assert.ok(port !== undefined, 'the admin API listens');
      httpsRequest({ host: '127.0.0.1', port, path: urlPath, ca: srv.ca, ...admin }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (s: string) => { text += s; }).on('end', () => { resolve({ status: res.statusCode ?? 0, text }); });
      }).on('error', reject).end();
    });

    const a = await srv.connect('fa');
    const b = await srv.connect('fb');
    const aKey = await a.createSymmetricKey(AES);
    const bKey = await b.createSymmetricKey(AES);
    const v = b.protocolVersion;
    const query: BatchItemInput = { operation: Operation.Query, payload: queryPayloads.encodeRequest({ queryFunctions: [QueryFunction.QueryServerInformation] }, v) };
    const flood: BatchItemInput[] = [...Array.from({ length: FLOOD_ITEMS }, () => query), { operation: Operation.Get, payload: getPayloads.encodeRequest({ uniqueIdentifier: bKey }, v) }];

    // fa: Gets back to back for as long as fb floods (and at least A_GETS of them).
    const run = { flooding: true };
    let aServed = 0;
    const aFailures: string[] = [];
    const aLoop = (async (): Promise<void> => {
      while (run.flooding || aServed + aFailures.length < A_GETS) {
        if (aServed + aFailures.length >= A_GETS) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        try {
          await a.get(aKey);
          aServed++;
        } catch (e) {
          aFailures.push(e instanceof KmipResultError ? `${e.code}: ${e.resultMessage ?? ''}` : String(e));
        }
      }
    })();
    // fb: flood messages, each ending in a Get, until one of those Gets was refused.
    let bServed = 0;
    let bRefused = 0;
    for (let m = 0; m < MAX_FLOOD_MESSAGES && bRefused === 0; m++) {
      const items = await b.sendBatch(flood, { errorContinuation: 'continue' });
      const get = items[items.length - 1];
      assert.ok(get !== undefined);
      if (get.resultStatus === ResultStatus.Success) bServed++;
      else {
        assert.match(get.resultMessage ?? '', /audit trail of this tenant is backlogged/);
        bRefused++;
      }
    }
    run.flooding = false;
    await aLoop;
    assert.ok(bRefused > 0, `one of fb's Gets behind ${String(FLOOD_ITEMS)} Query items is refused`);

    process.stdout.write(`# fa: ${String(aServed)} Gets served; fb: ${String(bServed)} Gets served, ${String(bRefused)} refused; ${String(gov.auditSink.stats().dropped)} records dropped\n`);
    // fa was never affected: every Get served, every one in fa's trail.
    assert.deepEqual(aFailures, []);
    await plane.flushAudit();
    const aRecords = (await gov.audit.list('fa', { limit: 1000 })).filter((r) => r.operation === 'kmip.Get');
    assert.equal(aRecords.length, aServed);
    assert.ok(aRecords.every((r) => r.object === aKey && r.result === 'ok'));
    const aVerify = JSON.parse((await api('/v1/tenants/fa/audit/verify')).text) as Record<string, unknown>;
    assert.equal(aVerify.ok, true);
    assert.equal(aVerify.gaps, undefined);

    // fb: every served Get is in its trail; every refusal is audited once (its own record, or counted in a gap).
    const stats = gov.auditSink.stats();
    assert.ok(stats.dropped >= FLOOD_ITEMS - TENANT_QUEUE_MAX, `${String(stats.dropped)} records dropped`);
    const bVerify = await until('fb\'s gap record', async () => {
      const body = JSON.parse((await api('/v1/tenants/fb/audit/verify')).text) as { ok: boolean; gaps?: { dropped: number; refused: number } };
      return body.gaps !== undefined && body.gaps.dropped === stats.dropped ? body : undefined;
    });
    assert.equal(bVerify.ok, true);
    const bRecords = [];
    for (let after = 0; ; after += 1000) {
      const page = await gov.audit.list('fb', { after, limit: 1000 });
      bRecords.push(...page);
      if (page.length < 1000) break;
    }
    const bGets = bRecords.filter((r) => r.operation === 'kmip.Get');
    assert.equal(bGets.filter((r) => r.result === 'ok' && r.object === bKey).length, bServed);
    assert.equal(bGets.filter((r) => r.result === AUDIT_REFUSED_RESULT).length + (bVerify.gaps?.refused ?? 0), bRefused);

    // Metrics: the losses, per tenant.
    const metrics = (await api('/metrics')).text;
    assert.match(metrics, new RegExp(`^openkcm_audit_records_dropped_total\\{tenant="fb"\\} ${String(stats.dropped)}$`, 'm'));
    assert.match(metrics, /^openkcm_audit_operations_refused_total\{tenant="fb"\} \d+$/m);
    assert.doesNotMatch(metrics, /tenant="fa"/);

    // The log: one line per tenant per interval at most, with counts; nothing for fa.
    const reports = logLines.filter((l) => l.includes('audit queue full'));
    const intervals = Math.ceil((Date.now() - started) / AUDIT_DROP_REPORT_INTERVAL_MS);
    assert.ok(reports.length >= 1 && reports.length <= intervals + 1, `${String(reports.length)} log lines in ${String(intervals)} intervals`);
    assert.ok(reports.every((l) => l.includes('"tenant":"fb"')));
    assert.ok(logLines.length < 50, `${String(logLines.length)} warning lines`);
    await a.close();
    await b.close();
  } finally {
    await srv.stop();
    await tdb.drop();
  }
});
