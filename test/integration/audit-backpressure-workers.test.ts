/**
 * The audit trail's back-pressure across processes: `openkcm serve --workers 2` (a primary that owns the audit chain
 * in embedded PGlite, and two KMIP worker processes). The primary reports a tenant slow past half its audit quota and
 * both workers hold that tenant's connections (src/appliance/governance/audit-backpressure.ts), so a closed-loop
 * burst of audited Gets, far past the quota within one flush interval, is served without a single AUDIT_BACKLOGGED
 * refusal. Without the hold the same burst is refused by the thousands (the quota fills within the first second).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { runLoad } from '../../src/bench/load.js';
import { startOpenKcmServer } from '../../src/bench/openkcm-server.js';
import type { OpenKcmServer } from '../../src/bench/openkcm-server.js';

/** Large beside one worker's forwarding batch (10 ms of records), small beside a second of this load. */
const QUOTA = 2_000;

const servers: OpenKcmServer[] = [];
after(async () => { await Promise.all(servers.map((s) => s.stop())); });

test('two workers hold a slow tenant instead of refusing it: a burst far past the audit quota is served without refusals', async () => {
  // A hold of up to 5 s: the tests run two files at a time on two cores, where the primary's drain can take longer than
  // the default quarter of a second (which test/unit/audit-backpressure.test.ts covers).
  const s = await startOpenKcmServer({ workers: 2, extraConfig: { governance: { audit: { tenantQueueMax: QUOTA, holdMaxMs: 5_000 } } } });
  servers.push(s);
  const r = await runLoad({
    target: { host: s.host, port: s.port }, tls: { ca: s.ca, cert: s.cert, key: s.key }, op: 'get', batch: 10, connections: 8,
    durationS: 2, warmupS: 0.5, kmipVersion: '1.4', client: 'wire',
  });
  process.stdout.write(`# ${String(Math.round(r.throughput_ops_s))} Gets/s, ${String(r.errors)} errors ${JSON.stringify(r.error_kinds)}\n`);
  assert.ok(r.ops > 4 * QUOTA, `${String(r.ops)} Gets: far past the quota`);
  assert.equal(r.errors, 0, JSON.stringify(r.error_kinds));
});
