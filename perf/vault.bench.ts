/**
 * Vault read latency versus size: Get and findUids-by-name must stay flat from 1,000 to
 * 1,000,000 objects (B-tree lookups are O(log n); the goal is "no scan anywhere on the hot path").
 *
 *   npx tsc -p . && node dist/perf/vault.bench.js
 *   VAULT_BENCH_SIZES=1000,100000 node dist/perf/vault.bench.js      # skip the 1M fill
 *   VAULT_BENCH_DIR=/var/tmp node dist/perf/vault.bench.js           # where the vaults are built
 *
 * Method: for each size, a fresh vault is filled with putMany calls (FILL_BATCH records per
 * event turn, which lmdb-js commits as one durable transaction), then each read is timed on its own with hrtime over SAMPLES
 * random existing objects (warm page cache: the file fits in RAM, as on the appliance), and the
 * median and p99 are reported. Plain hrtime instead of tinybench because we want per-operation
 * percentiles over random keys, not a mean over one repeated key. Also measured: durable
 * single-put latency (sequential awaits) and group-commit throughput (one burst of concurrent puts).
 * Results go to stdout and perf/results/vault.json.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import type { KmipAttribute } from '../src/kmip/attributes.js';
import { ObjectType, State, Tag } from '../src/kmip/registry.generated.js';
import { dateTime, enumeration, int, structure, text } from '@openkcm/ttlv';
import { NodeCryptoKekProvider } from '../src/vault/kek.js';
import type { NewVaultObject, VaultRecord } from '../src/vault/store.js';
import { Vault } from '../src/vault/vault.js';
import { resultsPath, samples } from './common.js';

const SIZES = (process.env.VAULT_BENCH_SIZES ?? '1000,100000,1000000').split(',').map(Number);
/** Records per putMany call (≤ MAX_PUT_MANY_OBJECTS) and putMany calls per event turn: one durable commit each turn. */
const FILL_CHUNK = 250;
const FILL_BATCH = 20 * FILL_CHUNK;
const SAMPLES = samples(20_000, 500);
const TENANTS = ['tenant-0', 'tenant-1', 'tenant-2', 'tenant-3'];
const GROUPS = 100;

let sink = 0;

function attributesFor(i: number): KmipAttribute[] {
  return [
    { name: 'Name', value: structure(Tag.Name, [text(Tag.NameValue, `key-${i}`), enumeration(Tag.NameType, 1)]) },
    { name: 'Object Group', value: text(Tag.ObjectGroup, `group-${i % GROUPS}`) },
    { name: 'Cryptographic Algorithm', value: enumeration(Tag.CryptographicAlgorithm, 3) },
    { name: 'Cryptographic Length', value: int(Tag.CryptographicLength, 256) },
    { name: 'Cryptographic Usage Mask', value: int(Tag.CryptographicUsageMask, 12) },
    { name: 'Initial Date', value: dateTime(Tag.InitialDate, 1_700_000_000n + BigInt(i)) },
  ];
}

function objectFor(i: number, material: Uint8Array = randomBytes(32)): NewVaultObject {
  return {
    tenant: TENANTS[i % TENANTS.length] ?? 'tenant-0',
    objectType: ObjectType.SymmetricKey,
    state: i % 10 === 0 ? State.PreActive : State.Active,
    attributes: attributesFor(i),
    material,
  };
}

interface Stat { medianUs: number; p99Us: number; samples: number }

function percentiles(ns: Float64Array): Stat {
  ns.sort();
  const at = (q: number): number => ns[Math.min(ns.length - 1, Math.floor(q * ns.length))] ?? 0;
  return { medianUs: +(at(0.5) / 1000).toFixed(2), p99Us: +(at(0.99) / 1000).toFixed(2), samples: ns.length };
}

/**
 * Times each call of op over n samples, PASSES times, and keeps the pass with the lowest median:
 * the machine is shared (2 cores, other builds running), and the quietest pass is the one that
 * measures the vault rather than the neighbours.
 */
const PASSES = 3;
function timeEach(n: number, op: (i: number) => void): Stat {
  for (let i = 0; i < Math.min(n, 2000); i++) op(i); // warm-up (JIT, page cache)
  let best: Stat | undefined;
  for (let pass = 0; pass < PASSES; pass++) {
    const ns = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      op(i);
      ns[i] = Number(process.hrtime.bigint() - t0);
    }
    const st = percentiles(ns);
    if (best === undefined || st.medianUs < best.medianUs) best = st;
  }
  return best ?? { medianUs: 0, p99Us: 0, samples: 0 };
}

async function timeEachAsync(n: number, op: (i: number) => Promise<void>): Promise<Stat> {
  const ns = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await op(i);
    ns[i] = Number(process.hrtime.bigint() - t0);
  }
  return percentiles(ns);
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((s, f) => s + statSync(path.join(dir, f)).size, 0);
}

interface SizeResult {
  objects: number;
  fillSeconds: number;
  fillPerSec: number;
  fileMiB: number;
  get: Stat;
  getAndOpenMaterial: Stat;
  findUidsByName: Stat;
  findUidsByNameAndState: Stat;
  putSequentialDurable: Stat;
  putBurst1000: { totalMs: number; perSec: number };
}

async function benchSize(n: number, baseDir: string): Promise<SizeResult> {
  const dir = mkdtempSync(path.join(baseDir, `openkcm-vault-bench-${n}-`));
  const vault = await Vault.open({ path: dir, kek: NodeCryptoKekProvider.random('bench'), mapSize: 4 * 1024 * 1024 * 1024 });
  try {
    // Reservoir of (index, uid) pairs to read back: uniform over the whole vault, bounded memory.
    const sample: { i: number; uid: string }[] = [];
    let seen = 0;
    const t0 = performance.now();
    for (let start = 0; start < n; start += FILL_BATCH) {
      const objs: NewVaultObject[] = [];
      const end = Math.min(n, start + FILL_BATCH);
      const materials = randomBytes(32 * (end - start));
      for (let i = start; i < end; i++) objs.push(objectFor(i, materials.subarray(32 * (i - start), 32 * (i - start + 1))));
      const chunks: Promise<VaultRecord[]>[] = [];
      for (let c = 0; c < objs.length; c += FILL_CHUNK) chunks.push(vault.putMany(objs.slice(c, c + FILL_CHUNK)));
      const recs = (await Promise.all(chunks)).flat();
      materials.fill(0);
      for (const [k, r] of recs.entries()) {
        const i = start + k;
        seen++;
        if (sample.length < SAMPLES) sample.push({ i, uid: r.uid });
        else {
          const j = randomInt(seen);
          if (j < SAMPLES) sample[j] = { i, uid: r.uid };
        }
      }
      if (n >= 100_000 && (start / FILL_BATCH) % 40 === 0) process.stdout.write(`  filled ${start + objs.length}/${n}\r`);
    }
    const fillSeconds = (performance.now() - t0) / 1000;
    const tenantOf = (i: number): string => TENANTS[i % TENANTS.length] ?? 'tenant-0';
    const pick = (k: number): { i: number; uid: string } => sample[k % sample.length] ?? { i: 0, uid: '' };

    const get = timeEach(SAMPLES, (k) => {
      const s = pick(k);
      const r = vault.get(tenantOf(s.i), s.uid);
      if (r === undefined) throw new Error(`lost ${s.uid}`);
      sink += r.version;
    });
    const getAndOpenMaterial = await timeEachAsync(5000, async (k) => {
      const s = pick(k);
      const r = vault.get(tenantOf(s.i), s.uid);
      if (r === undefined) throw new Error(`lost ${s.uid}`);
      const m = await vault.openMaterial(r);
      sink += m?.length ?? 0;
      m?.fill(0);
    });
    const findUidsByName = timeEach(SAMPLES, (k) => {
      const s = pick(k);
      const uids = vault.findUids(tenantOf(s.i), { name: `key-${s.i}` });
      if (uids.length !== 1) throw new Error(`findUids(key-${s.i}) returned ${uids.length}`);
      sink += uids.length;
    });
    const findUidsByNameAndState = timeEach(SAMPLES, (k) => {
      const s = pick(k);
      sink += vault.findUids(tenantOf(s.i), { name: `key-${s.i}`, state: s.i % 10 === 0 ? State.PreActive : State.Active }).length;
    });
    let extra = n;
    const putSequentialDurable = await timeEachAsync(200, async () => {
      await vault.put(objectFor(extra++));
    });
    const tb = performance.now();
    await Promise.all(Array.from({ length: 1000 }, () => vault.put(objectFor(extra++))));
    const burstMs = performance.now() - tb;
    return {
      objects: n,
      fillSeconds: +fillSeconds.toFixed(1),
      fillPerSec: Math.round(n / fillSeconds),
      fileMiB: +(dirBytes(dir) / 1024 / 1024).toFixed(1),
      get, getAndOpenMaterial, findUidsByName, findUidsByNameAndState, putSequentialDurable,
      putBurst1000: { totalMs: +burstMs.toFixed(1), perSec: Math.round(1000 / (burstMs / 1000)) },
    };
  } finally {
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const baseDir = process.env.VAULT_BENCH_DIR ?? os.tmpdir();
// Throwaway run so that the first measured size does not pay for JIT warm-up.
await benchSize(1000, baseDir);
const results: SizeResult[] = [];
for (const n of SIZES) {
  console.log(`vault with ${n.toLocaleString('en')} objects...`);
  const r = await benchSize(n, baseDir);
  results.push(r);
  console.log(`  fill ${r.fillSeconds}s (${r.fillPerSec}/s, ${r.fileMiB} MiB)  get ${r.get.medianUs}µs (p99 ${r.get.p99Us})  ` +
    `get+open ${r.getAndOpenMaterial.medianUs}µs  findUids(name) ${r.findUidsByName.medianUs}µs (p99 ${r.findUidsByName.p99Us})  ` +
    `findUids(name∧state) ${r.findUidsByNameAndState.medianUs}µs  durable put ${r.putSequentialDurable.medianUs}µs  burst ${r.putBurst1000.perSec}/s`);
}

const first = results[0];
const last = results[results.length - 1];
const flatness = first && last ? {
  getMedianRatio: +(last.get.medianUs / first.get.medianUs).toFixed(2),
  findUidsByNameMedianRatio: +(last.findUidsByName.medianUs / first.findUidsByName.medianUs).toFixed(2),
} : undefined;
console.log('largest/smallest median ratio:', flatness);

const out = resultsPath('vault.json');
writeFileSync(out, JSON.stringify({
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  method: `fill: ${FILL_BATCH / FILL_CHUNK} putMany(${FILL_CHUNK}) per event turn = one durable commit of ${FILL_BATCH} records; ${SAMPLES} timed reads of random existing objects (warm cache), best of ${PASSES} passes by median; medians and p99 in microseconds`,
  results,
  flatness,
  sink: sink > 0,
}, null, 2) + '\n');
console.log(`wrote ${out}`);
