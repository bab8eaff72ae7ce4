/**
 * Every v1.4 and v2.1 OASIS test case of BL, SKLC, SKFF, OMOS, TL, SASED and CS-RNG, replayed
 * in-process against the real processor and handlers (the server's path minus TLS;
 * test/integration/conformance-server.test.ts runs them over mTLS), over each object store:
 * the reference MemoryObjectStore, the vault's MemoryVault and the LMDB Vault (sealed
 * material). One services instance serves a whole run, like one server: SASED-M-3 finds what
 * SASED-M-2 registered.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatResult, replayVector } from '../../src/conformance/replay.js';
import { loadVector } from '../../src/conformance/vectors.js';
import { createServices } from '../../src/operations/services.js';
import type { OperationServices } from '../../src/operations/services.js';
import { MemoryVault, NodeCryptoKekProvider, Vault } from '../../src/vault/index.js';
import { DENY_SEED_FILES, inProcessTransport, PROFILE_FILE_COUNT, profileFiles, profileOf, RULES, SPEC_EXCEPTIONS, vectorsDir } from './operations-harness.js';

const PRINCIPAL = { identity: 'conformance', tenant: 'default' };

async function replayAll(services: OperationServices): Promise<{ failures: string[]; perProfile: string }> {
  const dir = vectorsDir();
  const files = await profileFiles(dir);
  assert.equal(files.length, PROFILE_FILE_COUNT, 'expected the v1.4/v2.1 BL, SKLC, SKFF, OMOS, TL, SASED, CS-RNG and CS-BC-M files');
  const failures: string[] = [];
  const tally = new Map<string, { pass: number; total: number }>();
  for (const relPath of files) {
    const r = await replayVector(await loadVector(dir, relPath), inProcessTransport(services, PRINCIPAL), { rules: RULES });
    const p = tally.get(profileOf(relPath)) ?? { pass: 0, total: 0 };
    p.total++;
    if (r.status === 'pass') p.pass++;
    tally.set(profileOf(relPath), p);
    if (SPEC_EXCEPTIONS.has(relPath)) {
      assert.notEqual(r.status, 'pass', `${relPath} is listed as a spec exception but passed: remove it from the list`);
      continue;
    }
    if (r.status !== 'pass') failures.push(formatResult(r));
  }
  return { failures, perProfile: [...tally].map(([k, v]) => `${k} ${String(v.pass)}/${String(v.total)}`).join(', ') };
}

describe('OASIS test cases of the issue-2 and issue-3 profiles, in-process', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => { for (const c of cleanups) await c(); });

  test('over the reference MemoryObjectStore', async () => {
    const { failures } = await replayAll(createServices());
    assert.deepEqual(failures, []);
  });

  test('over the vault\'s MemoryVault', async () => {
    const { failures } = await replayAll(createServices({ vault: new MemoryVault() }));
    assert.deepEqual(failures, []);
  });

  test('over the LMDB Vault (sealed material, durable commits)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'openkcm-ops-vectors-'));
    const vault = await Vault.open({ path: dir, kek: NodeCryptoKekProvider.random('test') });
    cleanups.push(async () => { await vault.close(); await rm(dir, { recursive: true, force: true }); });
    const { failures, perProfile } = await replayAll(createServices({ vault }));
    if (process.env.OPENKCM_VERBOSE !== undefined) console.log(perProfile);
    assert.deepEqual(failures, []);
  });

  test('CS-RNG-O-4 (Permission Denied) passes with rngSeedPolicy "deny"', async () => {
    const denying = createServices({ config: { rngSeedPolicy: 'deny' } });
    for (const relPath of DENY_SEED_FILES) {
      const r = await replayVector(await loadVector(vectorsDir(), relPath), inProcessTransport(denying, PRINCIPAL), { rules: RULES });
      assert.equal(r.status, 'pass', formatResult(r));
    }
  });
});
