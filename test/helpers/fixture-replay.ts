/**
 * Our own fixtures in the OASIS test-case shape (XML files that `openkcm conformance` reads), replayed in-process by
 * the conformance replayer. Several suites build such files for behaviour the published editions cover without
 * our copying them (the files stay in ../shared and on OASIS's site); this is the one place that writes them out and
 * replays them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatResult, replayVector } from '../../src/conformance/replay.js';
import type { MessageTransport } from '../../src/conformance/transport.js';
import { loadVector } from '../../src/conformance/vectors.js';
import { createServices } from '../../src/operations/services.js';
import type { Principal } from '../../src/operations/types.js';
import { inProcessTransport } from '../integration/operations-harness.js';

/** Writes `files` (path relative to the directory → file text) into a fresh temporary directory; returns it. */
export async function writeFixtures(prefix: string, files: Readonly<Record<string, string>>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
  }
  return dir;
}

/** Replays one fixture file of `dir` against a fresh in-process server (its own services) as `principal`. */
export async function replayFixture(dir: string, rel: string, principal: Principal,
  wrap: (t: MessageTransport) => MessageTransport = (t) => t): Promise<Awaited<ReturnType<typeof replayVector>>> {
  return replayVector(await loadVector(dir, rel), wrap(inProcessTransport(createServices(), principal)));
}

/** A suite with one test per file, each of which must pass; the temporary directory is removed afterwards. */
export function describeFixtureReplay(title: string, prefix: string, files: Readonly<Record<string, string>>, principal: Principal): void {
  describe(title, () => {
    let dir = '';
    before(async () => { dir = await writeFixtures(prefix, files); });
    after(async () => { await rm(dir, { recursive: true, force: true }); });
    for (const rel of Object.keys(files)) {
      test(rel, async () => {
        const r = await replayFixture(dir, rel, principal);
        assert.equal(r.status, 'pass', formatResult(r));
      });
    }
  });
}
