/**
 * Interop: PyKMIP's CLIENT (python3-pykmip 0.10, an implementation nobody on this project wrote)
 * against OUR server, over mutual TLS 1.2 (and once over TLS 1.3), at KMIP 1.0, 1.1, 1.2, 1.3,
 * 1.4 and 2.0, through both of PyKMIP's client layers:
 *   - proxy:     kmip.pie.client.ProxyKmipClient (the high-level "pie" API);
 *   - kmipproxy: kmip.services.kmip_client.KMIPProxy (the lower layer, core TTLV objects).
 *
 * The scenario lives in test/interop/pykmip_client_driver.py and the package beside it, pykmip_driver/ (run with
 * /usr/bin/python3, the only interpreter that can import Debian's PyKMIP). It prints one JSON line per step; every step
 * becomes a subtest here, named `<step>`, under `KMIP <version> <layer>`, so a failure names
 * the version, the layer and the operation, with the server's Result Reason and message.
 *
 * Steps: Discover Versions, Create AES-256, Get, Register (Symmetric Key + Secret Data) and Get
 * (bytes compared), Get Attributes (named and all), Get Attribute List, Locate (by Name, by
 * Object Group, no match), Activate, Add/Modify/Delete Attribute (Object Group), Modify
 * Attribute (Name), Revoke (Cessation of Operation → Deactivated; Key Compromise →
 * Compromised), Destroy (both), Get of a destroyed key, Delete Attribute (Name).
 *
 * If python3-pykmip is missing the test FAILS with the package to install (no silent skip).
 * Known PyKMIP 0.10 quirks are in docs/interop.md.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertPyKmipInstalled, spawnDriver } from '../helpers/pykmip.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0'] as const;
type Version = (typeof VERSIONS)[number];
const LAYERS = ['proxy', 'kmipproxy'] as const;
type Layer = (typeof LAYERS)[number];

/** The driver's steps, in order (pykmip_driver/scenario.py TABLE). A dropped step fails here. */
const STEPS = [
  'open', 'discover_versions', 'create', 'get_created', 'register_symmetric', 'get_registered_symmetric',
  'register_secret', 'get_registered_secret', 'get_attributes', 'get_attributes_all', 'get_attribute_list',
  'locate_by_name', 'locate_unknown_name', 'activate', 'add_attribute', 'locate_by_group', 'modify_attribute',
  'delete_attribute', 'modify_name', 'locate_by_new_name', 'revoke_active', 'revoke_compromised',
  'destroy_deactivated', 'get_destroyed', 'destroy_compromised', 'delete_name_secret', 'destroy_secret',
] as const;
type Step = (typeof STEPS)[number];

/** One driver run must not hang the suite: PyKMIP blocks on a read until its socket timeout. */
const DRIVER_TIMEOUT_MS = 60_000;
/** PyKMIP's per-read socket timeout (seconds): a missing response fails its step, not the run. */
const PYKMIP_SOCKET_TIMEOUT_S = 10;
/** The machine has 2 cores; two Python clients at a time keep the whole file well under 90 s. */
const PARALLEL_RUNS = 2;
/** The tenant whose client certificate (EKU clientAuth, CN = tenant) PyKMIP presents. */
const TENANT = 'pykmip-interop';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'test', 'interop'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}
// tsc does not copy .py files into dist/, so the driver is run from the source tree.
const DRIVER = path.join(repoRoot(), 'test', 'interop', 'pykmip_client_driver.py');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface StepRecord {
  readonly step: string;
  readonly ok: boolean;
  readonly raw: Record<string, Json>;
}
interface DriverRun {
  readonly code: number | null;
  readonly steps: ReadonlyMap<string, StepRecord>;
  readonly summary: Record<string, Json> | undefined;
  readonly stderr: string;
  readonly stdout: string;
}

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseDriverOutput(stdout: string): { steps: Map<string, StepRecord>; summary: Record<string, Json> | undefined } {
  const steps = new Map<string, StepRecord>();
  let summary: Record<string, Json> | undefined;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const parsed: unknown = JSON.parse(line);
    if (!isObject(parsed) || typeof parsed.step !== 'string') continue;
    if (parsed.step === 'summary') { summary = parsed; continue; }
    steps.set(parsed.step, { step: parsed.step, ok: parsed.ok === true, raw: parsed });
  }
  return { steps, summary };
}

/**
 * One driver run. `ssl` is the name of the Python ssl constant PyKMIP hands to ssl.wrap_socket:
 * PROTOCOL_TLSv1_2 pins TLS 1.2 (PyKMIP's TLS12 suite, what KMIP deployments use), PROTOCOL_TLS
 * lets OpenSSL negotiate TLS 1.3.
 */
interface RunSpec {
  readonly version: Version;
  readonly layer: Layer;
  readonly ssl: 'PROTOCOL_TLSv1_2' | 'PROTOCOL_TLS';
  readonly expectTls: 'TLSv1.2' | 'TLSv1.3';
}

const RUNS: readonly RunSpec[] = [
  ...VERSIONS.flatMap((version) => LAYERS.map((layer): RunSpec => ({ version, layer, ssl: 'PROTOCOL_TLSv1_2', expectTls: 'TLSv1.2' }))),
  // The same scenario once over TLS 1.3 (the issue asks for TLS 1.2 and 1.3).
  { version: '1.4', layer: 'proxy', ssl: 'PROTOCOL_TLS', expectTls: 'TLSv1.3' },
];

function runName(r: RunSpec): string {
  return `KMIP ${r.version} ${r.layer} (${r.expectTls})`;
}

let runCounter = 0;

async function runDriver(server: TestServer, { version, layer, ssl }: RunSpec): Promise<DriverRun> {
  const { code, stdout, stderr } = await spawnDriver(DRIVER, server, TENANT, version, [
    '--layer', layer, '--ssl-version', ssl,
    '--timeout', String(PYKMIP_SOCKET_TIMEOUT_S),
    // Names must be unique per run: Locate by Name expects exactly this run's object.
    '--run-id', `${ssl}-${process.pid.toString(36)}-${(runCounter++).toString(36)}-${Date.now().toString(36)}`,
  ], DRIVER_TIMEOUT_MS);
  try {
    const { steps, summary } = parseDriverOutput(stdout);
    return { code, steps, summary, stderr, stdout };
  } catch (e) {
    throw new Error(`driver printed a line that is not JSON: ${(e as Error).message}\n${stdout}`, { cause: e });
  }
}

/** At most `limit` jobs in flight; the rest wait their turn in FIFO order. */
function limiter(limit: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    // A finishing job hands its slot straight to the next waiter, so `active` never overshoots.
    if (active >= limit) await new Promise<void>((resolve) => { waiting.push(resolve); });
    else active++;
    try {
      return await job();
    } finally {
      const next = waiting.shift();
      if (next === undefined) active--;
      else next();
    }
  };
}

function field(rec: StepRecord, name: string): Json | undefined {
  return rec.raw[name];
}

function describeFailure(run: DriverRun, rec: StepRecord | undefined, step: Step): string {
  if (rec === undefined) {
    return `step ${step} not reported by the driver (exit ${String(run.code)}).\nstdout:\n${run.stdout.slice(-4000)}\nstderr:\n${run.stderr.slice(-4000)}`;
  }
  const lines = [`step ${step} failed: ${JSON.stringify(rec.raw.error ?? rec.raw)}`];
  if (run.stderr.trim() !== '') lines.push(`driver stderr (tail):\n${run.stderr.slice(-2000)}`);
  return lines.join('\n');
}

/** Value checks on top of the driver's own (which already set ok=false on a mismatch). */
const CHECKS: Partial<Record<Step, (rec: StepRecord, version: Version, run: DriverRun, spec: RunSpec) => void>> = {
  open(rec, _v, _run, spec) {
    assert.equal(field(rec, 'tls_version'), spec.expectTls);
  },
  discover_versions(rec, version) {
    if (version === '1.0') {
      // Discover Versions exists from KMIP 1.1 (1.1 §4.26); the driver does not send it at 1.0.
      assert.equal(field(rec, 'sent'), false);
      return;
    }
    const versions = field(rec, 'versions');
    assert.ok(Array.isArray(versions) && versions.includes(version), `server versions ${JSON.stringify(versions)} lack ${version}`);
  },
  create(rec) {
    const uid = field(rec, 'uid');
    assert.ok(typeof uid === 'string' && uid.length > 0);
  },
  get_created(rec) {
    assert.equal(field(rec, 'object_type'), 'SYMMETRIC_KEY');
    assert.equal(field(rec, 'algorithm'), 'AES');
    assert.equal(field(rec, 'length'), 256);
    assert.equal(field(rec, 'value_bytes'), 32);
  },
  register_symmetric(rec, _v, run) {
    const uid = field(rec, 'uid');
    assert.ok(typeof uid === 'string' && uid.length > 0);
    assert.notEqual(uid, run.steps.get('create')?.raw.uid, 'Register must mint a new Unique Identifier');
  },
  get_registered_symmetric(rec) {
    assert.equal(field(rec, 'object_type'), 'SYMMETRIC_KEY');
    assert.equal(field(rec, 'matches'), true, 'Get must return the registered key bytes');
  },
  register_secret(rec, _v, run) {
    const uid = field(rec, 'uid');
    assert.ok(typeof uid === 'string' && uid.length > 0);
    assert.notEqual(uid, run.steps.get('register_symmetric')?.raw.uid);
  },
  get_registered_secret(rec) {
    assert.equal(field(rec, 'object_type'), 'SECRET_DATA');
    assert.equal(field(rec, 'matches'), true, 'Get must return the registered secret bytes');
  },
  get_attributes(rec) {
    const attrs = field(rec, 'attributes');
    assert.ok(isObject(attrs));
    assert.deepEqual(attrs.State, ['PRE_ACTIVE']);
    assert.deepEqual(attrs['Cryptographic Algorithm'], ['AES']);
    assert.deepEqual(attrs['Cryptographic Length'], [256]);
  },
  get_attribute_list(rec) {
    const names = field(rec, 'names');
    assert.ok(Array.isArray(names));
    for (const n of ['Unique Identifier', 'Object Type', 'Cryptographic Algorithm', 'Cryptographic Length', 'State', 'Name']) {
      assert.ok(names.includes(n), `Get Attribute List lacks ${n}: ${JSON.stringify(names)}`);
    }
  },
  locate_by_name(rec, _v, run) {
    assert.deepEqual(field(rec, 'uids'), [run.steps.get('create')?.raw.uid]);
  },
  locate_unknown_name(rec) {
    assert.deepEqual(field(rec, 'uids'), []);
  },
  activate(rec) {
    assert.equal(field(rec, 'state'), 'ACTIVE');
  },
  locate_by_group(rec, _v, run) {
    assert.deepEqual(field(rec, 'uids'), [run.steps.get('create')?.raw.uid]);
  },
  revoke_active(rec) {
    assert.equal(field(rec, 'state'), 'DEACTIVATED');
  },
  revoke_compromised(rec) {
    assert.equal(field(rec, 'state'), 'COMPROMISED');
  },
  get_destroyed(rec, version) {
    assert.equal(field(rec, 'status'), 'OPERATION_FAILED');
    const reason = field(rec, 'reason');
    if (version === '2.0') {
      // KMIP 2.0 names the case: Result Reason Object Destroyed (2.0 §11; OASIS BL-M-8-21).
      assert.equal(reason, 'OBJECT_DESTROYED');
    } else {
      // 1.x has no Object Destroyed. The KMIP 1.4 §11.12 Get error table has exactly two rows
      // for it: "Object exists ... but the server only has attributes for this object" →
      // Illegal Operation (a server that keeps the metadata), or "Object does not exist" →
      // Item Not Found (one that keeps nothing). Permission Denied is not among Get's errors.
      assert.ok(reason === 'ILLEGAL_OPERATION' || reason === 'ITEM_NOT_FOUND',
        `KMIP ${version} Get of a destroyed key answered ${JSON.stringify(reason)}; 1.4 §11.12 allows Illegal Operation or Item Not Found`);
    }
  },
};

let server: TestServer | undefined;

const runs = new Map<string, Promise<DriverRun>>();

before(async () => {
  assertPyKmipInstalled();
  const srv = await startTestServer({ tenants: [TENANT] });
  server = srv;
  const limit = limiter(PARALLEL_RUNS);
  for (const spec of RUNS) {
    const p = limit(() => runDriver(srv, spec));
    // Each test awaits its own run; keep an unobserved rejection from crashing the runner.
    p.catch(() => undefined);
    runs.set(runName(spec), p);
  }
});

after(async () => {
  await Promise.allSettled(runs.values());
  await server?.stop();
});

describe('PyKMIP 0.10 client → OpenKCM server', () => {
  for (const spec of RUNS) {
    test(runName(spec), async (t) => {
      const pending = runs.get(runName(spec));
      assert.ok(pending !== undefined, 'the server did not start (see the before hook)');
      const run = await pending;
      for (const step of STEPS) {
        await t.test(step, () => {
          const rec = run.steps.get(step);
          assert.ok(rec?.ok === true, describeFailure(run, rec, step));
          CHECKS[step]?.(rec, spec.version, run, spec);
        });
      }
      const unexpected = [...run.steps.keys()].filter((k) => !(STEPS as readonly string[]).includes(k));
      assert.deepEqual(unexpected, [], 'the driver reported steps this test does not know; add them to STEPS');
      assert.equal(run.summary?.ok, true, `driver summary: ${JSON.stringify(run.summary)}`);
      assert.equal(run.code, 0, `driver exit status ${String(run.code)}\n${run.stderr.slice(-2000)}`);
    });
  }
});
