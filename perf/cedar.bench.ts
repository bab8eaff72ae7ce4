/**
 * Cost of Cedar authorization on the KMIP hot path (src/cmk/authz; issue 5 deliverable 2).
 *
 *   npx tsc -p . && node dist/perf/cedar.bench.js
 *
 * Goal: >= 50,000 decisions/s and p99 < 50 µs for one decision. Measured through the two KMIP
 * hooks exactly as the server calls them (kmipAuthorizer: operation level with resource =
 * Tenant, object level with resource = the ManagedObject built from a stored record), with the
 * default policies plus one tenant policy:
 *  - "hot": the decision memo answers (a client using the same keys again — the steady state);
 *  - "1,000 objects": the memo holds 1,000 distinct objects, visited round-robin;
 *  - "cold": memo disabled, every decision is a Cedar evaluation in wasm (first use of an object,
 *    or right after a policy change).
 * Throughput comes from tinybench (BATCH decisions per task call); p50/p99 of ONE decision from
 * hrtime around single calls (SAMPLES per case). Results go to stdout and perf/results/cedar.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Bench } from 'tinybench';
import { CryptographicAlgorithm, ObjectType, Operation, State, Tag } from '../src/kmip/registry.generated.js';
import type { ManagedObjectRecord } from '../src/operations/model/store.js';
import type { Principal, RequestContext } from '../src/operations/types.js';
import { enumeration, int, text } from '@openkcm/ttlv';
import { PolicyEngine, kmipAuthorizer, parseIdentityRoles, rolesFromConfig } from '../src/cmk/authz/index.js';
import type { KmipAuthorizer } from '../src/cmk/authz/index.js';
import { benchTiming, resultsPath, samples } from './common.js';

const GOAL_DECISIONS_PER_SEC = 50_000;
const GOAL_P99_US = 50;
const BATCH = 200;
const SAMPLES = samples(20_000, 200);
const COLD_SAMPLES = samples(1_000, 20);
const OBJECTS = 1_000;

function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').trim();
  } catch {
    return os.loadavg().map((n) => n.toFixed(2)).join(' ');
  }
}

function record(i: number): ManagedObjectRecord {
  const uid = `0190a1b2-c3d4-7e5f-8a9b-${String(i).padStart(12, '0')}`;
  return {
    uid,
    objectType: ObjectType.SymmetricKey,
    attributes: [
      { name: 'Unique Identifier', value: text(Tag.UniqueIdentifier, uid) },
      { name: 'Object Type', value: enumeration(Tag.ObjectType, ObjectType.SymmetricKey) },
      { name: 'Cryptographic Algorithm', value: enumeration(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES) },
      { name: 'Cryptographic Length', value: int(Tag.CryptographicLength, 256) },
      { name: 'Cryptographic Usage Mask', value: int(Tag.CryptographicUsageMask, 12) },
      { name: 'State', value: enumeration(Tag.State, State.Active) },
      { name: 'Object Group', value: text(Tag.ObjectGroup, `group-${String(i % 10)}`) },
      { name: 'Name', value: text(Tag.NameValue, `key-${String(i)}`) },
    ],
    hasObject: true,
    object: undefined,
  };
}

const principal: Principal = { identity: 'spiffe://acme.example/payments', tenant: 'acme' };
const ctx: RequestContext = {
  protocolVersion: { major: 2, minor: 1 }, version: '2.1', principal, session: { idPlaceholder: undefined, scratch: new Map() },
  services: {}, now: new Date(), operation: Operation.Encrypt,
};
const records = Array.from({ length: OBJECTS }, (_, i) => record(i));
const one = records[0] ?? record(0);

function setup(maxMemoEntries?: number): { engine: PolicyEngine; authz: KmipAuthorizer } {
  const engine = new PolicyEngine(maxMemoEntries === undefined ? {} : { maxMemoEntries });
  // A realistic tenant: one extra rule on top of the defaults.
  engine.setTenantPolicies('acme', '@id("legal-hold") forbid (principal, action == OpenKCM::Action::"Destroy", resource) when { resource is OpenKCM::ManagedObject && resource.group == "hold" };');
  const rolesOf = rolesFromConfig(parseIdentityRoles({ roles: { [principal.identity]: ['crypto-user'] } }));
  return { engine, authz: kmipAuthorizer(engine, { rolesOf }) };
}

const hot = setup();
const cold = setup(0);
let n = 0;

const cases: { name: string; run: () => void; cold?: boolean }[] = [
  { name: 'operation level (Encrypt on Tenant), hot', run: () => { hot.authz.authorize(principal, Operation.Encrypt, '2.1'); } },
  { name: 'object level (Encrypt on ManagedObject), hot', run: () => { hot.authz.authorizeObject(ctx, one); } },
  {
    name: 'one KMIP item: operation + object level, hot',
    run: () => { hot.authz.authorize(principal, Operation.Encrypt, '2.1'); hot.authz.authorizeObject(ctx, one); },
  },
  { name: `object level, ${String(OBJECTS)} objects round-robin (memoised)`, run: () => { hot.authz.authorizeObject(ctx, records[n++ % OBJECTS] ?? one); } },
  { name: 'operation level, cold (Cedar evaluation)', run: () => { cold.authz.authorize(principal, Operation.Encrypt, '2.1'); }, cold: true },
  { name: 'object level, cold (Cedar evaluation)', run: () => { cold.authz.authorizeObject(ctx, one); }, cold: true },
];

// Warm the memo (and the JIT) so "hot" measures the steady state.
for (let i = 0; i < 3 * OBJECTS; i++) for (const c of cases) if (c.cold !== true) c.run();

const loadBefore = loadavg();
const bench = new Bench(benchTiming(1000, 200));
for (const c of cases) {
  const batch = c.cold === true ? 10 : BATCH;
  bench.add(c.name, () => { for (let i = 0; i < batch; i++) c.run(); });
}
await bench.run();

function percentiles(run: () => void, samples: number): { p50Us: number; p99Us: number } {
  const t = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    run();
    t[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  t.sort();
  return { p50Us: t[Math.floor(samples * 0.5)] ?? 0, p99Us: t[Math.floor(samples * 0.99)] ?? 0 };
}

interface Row { case: string; decisionsPerSec: number; meanUs: number; p50Us: number; p99Us: number; decisionsPerCall: number }
const rows: Row[] = [];
for (const [i, task] of bench.tasks.entries()) {
  const c = cases[i];
  const r = task.result;
  if (c === undefined || r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`);
  const batch = c.cold === true ? 10 : BATCH;
  const perCall = c.name.startsWith('one KMIP item') ? 2 : 1;
  const { p50Us, p99Us } = percentiles(c.run, c.cold === true ? COLD_SAMPLES : SAMPLES);
  rows.push({
    case: c.name,
    decisionsPerSec: Math.round(((batch * perCall) * 1000) / r.period),
    meanUs: Number(((r.period * 1000) / batch).toFixed(2)),
    p50Us: Number(p50Us.toFixed(2)),
    p99Us: Number(p99Us.toFixed(2)),
    decisionsPerCall: perCall,
  });
}
const loadAfter = loadavg();
console.table(rows.map((r) => ({ case: r.case, 'decisions/s': r.decisionsPerSec.toLocaleString('en-US'), 'mean µs/call': r.meanUs, 'p50 µs': r.p50Us, 'p99 µs': r.p99Us })));

const item = rows[2];
const met = item !== undefined && item.decisionsPerSec >= GOAL_DECISIONS_PER_SEC && item.p99Us < GOAL_P99_US;
console.log(`hot path (operation + object level per KMIP item): ${item?.decisionsPerSec.toLocaleString('en-US') ?? '?'} decisions/s, p99 ${String(item?.p99Us)} µs per item — goal ${GOAL_DECISIONS_PER_SEC.toLocaleString('en-US')}/s and p99 < ${String(GOAL_P99_US)} µs: ${met ? 'MET' : 'NOT MET'}`);
console.log(`memo: ${JSON.stringify(hot.engine.stats())}`);
console.log(`/proc/loadavg: before ${loadBefore}; after ${loadAfter} (${String(os.cpus().length)} CPUs)`);

const out = resultsPath('cedar.json');
writeFileSync(out, JSON.stringify({
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cpus: os.cpus().length,
  // Other work on the machine slows every number; record how busy it was.
  loadavg: { before: loadBefore, after: loadAfter },
  goal: { decisionsPerSec: GOAL_DECISIONS_PER_SEC, p99Us: GOAL_P99_US },
  goalMet: met,
  results: rows,
  memo: hot.engine.stats(),
}, null, 2) + '\n');
console.log(`wrote ${out}`);
hot.engine.close();
cold.engine.close();
