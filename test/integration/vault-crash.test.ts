/**
 * Durability under SIGKILL (STYLE.md rule 7: "test crash behaviour in child processes").
 *
 * A child (test/helpers/vault-writer.ts) writes records, updates and deletes in a loop and
 * acknowledges each one on stdout only after its promise resolved. The parent kills it with
 * SIGKILL at a random moment, reopens the vault and checks:
 *  - every acknowledged put is present with the material digest it was acknowledged with
 *    (unless its delete was acknowledged later: then it is absent; or a delete was under way:
 *    then either is fine);
 *  - every acknowledged update is visible (record version ≥ the acknowledged one);
 *  - every record present was announced by the child (no phantom) and its material opens to the
 *    announced digest (no torn envelope);
 *  - checkIntegrity() finds every index entry matching its record and no orphans, i.e. no
 *    half-written record is visible.
 * The same data directory is reused for every round, so each round also tests recovery on top
 * of the previous crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DevKekProvider } from '../../src/vault/kek.js';
import { Vault } from '../../src/vault/vault.js';

const ROUNDS = 12;
const WRITER = fileURLToPath(new URL('../helpers/vault-writer.js', import.meta.url));
const TENANTS = ['crash-a', 'crash-b'];

interface Log {
  intents: Map<string, string>;
  acked: Map<string, string>;
  updated: Map<string, number>;
  /** Delete intents: a delete may have committed without its acknowledgement being printed. */
  deleting: Set<string>;
  deleted: Set<string>;
}

/** Runs the writer, kills it `delayMs` after it is ready, and returns the complete lines it printed. */
function runAndKill(dataDir: string, keyFile: string, delayMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dataDir, keyFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      if (timer === undefined && stdout.includes('READY\n')) {
        timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.stderr.on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`writer exited on its own (code ${String(code)}): ${stderr}`));
        return;
      }
      // A line cut by the kill has no trailing newline: drop it (it acknowledges nothing).
      const lines = stdout.split('\n');
      lines.pop();
      resolve(lines);
    });
  });
}

function absorb(log: Log, lines: readonly string[]): void {
  for (const line of lines) {
    const [kind, uid, arg] = line.split(' ');
    if (uid === undefined) continue;
    if (kind === 'I' && arg !== undefined) log.intents.set(uid, arg);
    else if (kind === 'P' && arg !== undefined) log.acked.set(uid, arg);
    else if (kind === 'U' && arg !== undefined) log.updated.set(uid, Math.max(log.updated.get(uid) ?? 0, Number(arg)));
    else if (kind === 'X') log.deleting.add(uid);
    else if (kind === 'D') log.deleted.add(uid);
  }
}

test(`vault survives ${ROUNDS} SIGKILLs at random points with every acknowledged write intact`, { timeout: 60_000 }, async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'openkcm-vault-crash-'));
  const dataDir = path.join(root, 'data');
  const keyFile = path.join(root, 'kek.key');
  const kek = DevKekProvider.open(keyFile);
  const log: Log = { intents: new Map(), acked: new Map(), updated: new Map(), deleting: new Set(), deleted: new Set() };
  let totalAcked = 0;
  /** Writes that committed but whose acknowledgement the kill cut off: proof kills land mid-flight. */
  let committedUnackedPuts = 0;
  let committedUnackedDeletes = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const lines = await runAndKill(dataDir, keyFile, 30 + randomInt(500));
      absorb(log, lines);
      totalAcked = log.acked.size;

      const vault = await Vault.open({ path: dataDir, kek });
      try {
        const present = new Map<string, { tenant: string; version: number }>();
        for (const tenant of TENANTS) {
          for (const r of vault.scan(tenant)) {
            present.set(r.uid, { tenant, version: r.version });
            const announced = log.intents.get(r.uid);
            assert.ok(announced !== undefined, `round ${round}: record ${r.uid} was never announced`);
            const material = await vault.openMaterial(r);
            assert.ok(material, `round ${round}: record ${r.uid} lost its material`);
            assert.equal(createHash('sha256').update(material).digest('hex'), announced, `round ${round}: ${r.uid} material digest`);
            material.fill(0);
          }
        }
        for (const [uid, digest] of log.acked) {
          if (log.deleted.has(uid)) {
            assert.ok(!present.has(uid), `round ${round}: acknowledged delete of ${uid} was lost`);
            continue;
          }
          // Absent is only allowed when a delete was under way (committed, killed before its ack).
          if (!present.has(uid) && round === ROUNDS - 1) committedUnackedDeletes++;
          assert.ok(present.has(uid) || log.deleting.has(uid), `round ${round}: acknowledged put of ${uid} (${digest.slice(0, 12)}) was lost`);
        }
        for (const [uid, version] of log.updated) {
          if (log.deleted.has(uid)) continue;
          const p = present.get(uid);
          if (p === undefined && log.deleting.has(uid)) continue;
          assert.ok(p && p.version >= version, `round ${round}: acknowledged update of ${uid} to version ${version} was lost (have ${String(p?.version)})`);
        }
        if (round === ROUNDS - 1) committedUnackedPuts = [...present.keys()].filter((u) => !log.acked.has(u)).length;
        const report = vault.checkIntegrity();
        assert.deepEqual(report.problems, [], `round ${round}: inconsistent index entries`);
        assert.equal(report.records, present.size);
      } finally {
        await vault.close();
      }
    }
    t.diagnostic(`${totalAcked} acknowledged puts, ${log.updated.size} updated, ${log.deleted.size} deleted; ` +
      `in the end ${committedUnackedPuts} puts and ${committedUnackedDeletes} deletes committed without an acknowledgement`);
    // The test must have exercised something: many acknowledged writes across the rounds.
    assert.ok(totalAcked >= ROUNDS * 5, `only ${totalAcked} acknowledged puts in ${ROUNDS} rounds`);
    assert.ok(log.updated.size > 0 && log.deleted.size > 0, 'updates and deletes were exercised');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
