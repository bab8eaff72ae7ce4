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

// XML of the test-case shape, as the reader (src/conformance/vectors.ts) takes it; `$NOW` and `$UNIQUE_IDENTIFIER_n`
// are the replayer's placeholders for the server's time stamp and the n-th identifier it issued.
const header = (major: number, minor: number): string =>
  `<ProtocolVersion><ProtocolVersionMajor type="Integer" value="${String(major)}"/><ProtocolVersionMinor type="Integer" value="${String(minor)}"/></ProtocolVersion>`;
/** A request message of `items`; `extra` goes into its header after the protocol version. */
export const request = (major: number, minor: number, items: string[], extra = ''): string =>
  `# TIME 0\n<RequestMessage><RequestHeader>${header(major, minor)}${extra}<BatchCount type="Integer" value="${String(items.length)}"/></RequestHeader>${items.join('')}</RequestMessage>`;
export const response = (major: number, minor: number, items: string[]): string =>
  `<ResponseMessage><ResponseHeader>${header(major, minor)}<TimeStamp type="DateTime" value="$NOW"/><BatchCount type="Integer" value="${String(items.length)}"/></ResponseHeader>${items.join('')}</ResponseMessage>`;
export const item = (op: string, payload: string): string => `<BatchItem><Operation type="Enumeration" value="${op}"/><RequestPayload>${payload}</RequestPayload></BatchItem>`;
export const ok = (op: string, payload: string): string =>
  `<BatchItem><Operation type="Enumeration" value="${op}"/><ResultStatus type="Enumeration" value="Success"/><ResponsePayload>${payload}</ResponsePayload></BatchItem>`;
/** A failed batch item; with `message`, its Result Message too. */
export const failed = (op: string, reason: string, message?: string): string =>
  `<BatchItem><Operation type="Enumeration" value="${op}"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="${reason}"/>${message === undefined ? '' : `<ResultMessage type="TextString" value="${message}"/>`}</BatchItem>`;
export const uid = (n: number): string => `<UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_${String(n)}"/>`;

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
