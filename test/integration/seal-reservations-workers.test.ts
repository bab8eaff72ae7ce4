/**
 * The L3 seal count over real worker processes (`openkcm serve --workers 2`, issue 19 "Seal counters refuse a key
 * past the NIST invocation limit"; src/krypton/seal-reservations.ts): Creates over connections spread across both
 * workers seal under leased copies of one tenant's L3, each worker only within blocks the primary reserved in the
 * hierarchy record first (`vault.sealReservationBlock` small, so that many blocks are granted). The primary logs
 * every block it grants (debug); the test checks them against the record the LMDB store holds after a stop, and that
 * a restart on the same data directory grants from the stored mark up. The in-process variant, with the limit
 * lowered, is test/integration/seal-reservations.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { HIERARCHY_STORE_DIR } from '../../src/appliance/hierarchy.js';
import type { KmipClient } from '../../src/client/client.js';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { LmdbHierarchyStore } from '../../src/krypton/lmdb-store.js';
import { startTestServer } from '../helpers/server.js';
import type { StartTestServerOptions } from '../helpers/server.js';

const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };
const BLOCK = 2;
const WORKERS = 2;

interface LoggedBlock { worker: number; start: number; end: number }

/** The blocks the primary granted, from its debug log (stderr JSON lines). */
function grantedBlocks(stderr: string): LoggedBlock[] {
  const out: LoggedBlock[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.includes('"L3 seal block reserved for a worker"')) continue;
    const j = JSON.parse(line) as { worker: number; tenant: string; l3Version: number; start: number; end: number };
    assert.equal(j.tenant, 'alpha');
    assert.equal(j.l3Version, 1);
    out.push({ worker: j.worker, start: j.start, end: j.end });
  }
  return out;
}

async function storedMark(dataDir: string): Promise<number> {
  const store = await LmdbHierarchyStore.open(path.join(dataDir, HIERARCHY_STORE_DIR));
  try {
    const rec = await store.get('alpha');
    const e = rec?.l3.find((x) => x.service === 'kmip' && x.version === 1);
    assert.ok(e !== undefined);
    return e.reserved ?? 0;
  } finally {
    await store.close();
  }
}

describe(`serve --workers ${String(WORKERS)}: one L3 seal count across worker processes and restarts`, () => {
  test('every worker seals within disjoint blocks the primary stored first; the stored mark covers every Create; a restart grants from it up', async () => {
    const opts: StartTestServerOptions = {
      mode: 'child', workers: WORKERS, tenants: ['alpha'], startTimeoutMs: 120_000, keepDataDir: true,
      vault: { sealReservationBlock: BLOCK }, args: ['--log-level', 'debug'],
    };
    const first = await startTestServer(opts);
    const dataDir = first.dataDir;
    try {
      // startTestServer returns once the first worker listens; the connections must reach both.
      for (const giveUp = Date.now() + 60_000; first.stderr().split('"KMIP worker listening"').length - 1 < WORKERS;) {
        assert.ok(Date.now() < giveUp, 'both workers listening');
        await new Promise((r) => setTimeout(r, 50));
      }
      const CREATES = 24;
      const clients: KmipClient[] = [];
      for (let i = 0; i < 2 * WORKERS; i++) clients.push(await first.connect('alpha'));
      await Promise.all(clients.map(async (c, i) => {
        for (let n = i; n < CREATES; n += clients.length) await c.createSymmetricKey(AES);
      }));
      for (const c of clients) await c.close();
      await first.stop();
      const blocks = grantedBlocks(first.stderr());
      assert.equal(new Set(blocks.map((b) => b.worker)).size, WORKERS, `blocks went to workers ${JSON.stringify(blocks)}`);
      const sorted = [...blocks].sort((a, b) => a.start - b.start);
      for (let i = 1; i < sorted.length; i++) {
        assert.ok(sorted[i]!.start >= sorted[i - 1]!.end, `blocks overlap: ${JSON.stringify(sorted[i - 1])} and ${JSON.stringify(sorted[i])}`);
      }
      const granted = blocks.reduce((n, b) => n + b.end - b.start, 0);
      assert.ok(granted >= CREATES, `${String(CREATES)} Creates sealed under ${String(granted)} granted invocations`);
      const mark = await storedMark(dataDir);
      assert.ok(mark >= CREATES, `stored mark ${String(mark)} < ${String(CREATES)} Creates`);
      assert.ok(mark >= (sorted.at(-1)?.end ?? 0), 'every block handed out is below the stored mark');

      const second = await startTestServer({ ...opts, dataDir });
      try {
        const c = await second.connect('alpha');
        await c.createSymmetricKey(AES);
        await c.close();
        await second.stop();
        const after = grantedBlocks(second.stderr());
        assert.ok(after.length >= 1);
        assert.equal(Math.min(...after.map((b) => b.start)), mark, 'the first grant after the restart starts at the stored mark');
        assert.ok(await storedMark(dataDir) > mark);
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
