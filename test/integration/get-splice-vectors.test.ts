/**
 * Get's splice of stored bytes (src/operations/get.ts, issue 14 §2-3) against every OASIS test case in
 * ../shared/kmip/vectors (read at test time): each file is replayed in-process over the TTLV path
 * (processMessageBytes, the transport's own), and every request message whose batch items are all Get is answered
 * twice against the same state, once through the splice and once through decode-and-encode; the two response
 * messages must be byte-identical, errors included. Other requests run once, so later steps see the state the test
 * case expects. test/unit/get-splice.test.ts covers generated objects across every version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replayVector } from '../../src/conformance/replay.js';
import type { MessageTransport } from '../../src/conformance/transport.js';
import { listVectorFiles, loadVector } from '../../src/conformance/vectors.js';
import { Operation, Tag } from '../../src/kmip/registry.js';
import { disableGetSplice } from '../../src/operations/get.js';
import { getHandler } from '../../src/operations/registry.js';
import { createServices } from '../../src/operations/services.js';
import type { OperationServices } from '../../src/operations/services.js';
import type { OperationHandler } from '../../src/operations/types.js';
import { silentLogger } from '../../src/common/log.js';
import { newSession, processMessageBytes } from '../../src/server/processor.js';
import type { ProcessorDeps } from '../../src/server/processor.js';
import { decodeTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import { MemoryVault } from '../../src/vault/index.js';
import { RULES, vectorsDir } from './operations-harness.js';

const PRINCIPAL = { identity: 'conformance', tenant: 'default' };

/** Whether every batch item of a request message is a Get (only those may be answered twice). */
function onlyGets(message: TtlvItem): boolean {
  if (message.type !== ItemType.Structure) return false;
  const items = message.value.filter((i) => i.tag === Tag.BatchItem);
  return items.length > 0 && items.every((b) => b.type === ItemType.Structure
    && b.value.some((f) => f.tag === Tag.Operation && f.type === ItemType.Enumeration && f.value === Operation.Get));
}

interface Tally { compared: number; differences: string[] }

function differentialTransport(relPath: string, tally: Tally): MessageTransport {
  const session = newSession();
  const deps: ProcessorDeps<OperationServices> = {
    getHandler: (op) => getHandler(op) as OperationHandler<unknown, unknown, OperationServices> | undefined,
    services: createServices({ vault: new MemoryVault() }),
    logger: silentLogger,
  };
  let n = 0;
  return {
    async exchange(request: Uint8Array): Promise<Uint8Array> {
      n++;
      const message = decodeTtlv(request);
      if (!onlyGets(message)) return processMessageBytes(message, PRINCIPAL, session, deps);
      disableGetSplice(true);
      let reference: Buffer;
      try {
        reference = await processMessageBytes(message, PRINCIPAL, session, deps);
      } finally {
        disableGetSplice(false);
      }
      const spliced = await processMessageBytes(decodeTtlv(request), PRINCIPAL, session, deps);
      tally.compared++;
      // The response header's Time Stamp may tick between the two calls: compare what follows the header.
      if (!bodyOf(spliced).equals(bodyOf(reference))) tally.differences.push(`${relPath} request ${String(n)}`);
      return spliced;
    },
    close(): void { /* nothing to release */ },
  };
}

/** The response message's bytes after its Response Header (the header holds the Time Stamp). */
function bodyOf(response: Buffer): Buffer {
  const message = decodeTtlv(response);
  if (message.type !== ItemType.Structure) return response;
  const header = message.value.find((i) => i.tag === Tag.ResponseHeader);
  if (header === undefined) return response;
  // TTLV item length: 8 header bytes + the value padded to 8 (KMIP 1.4 §9.1.1); the Response Header comes first.
  const headerLength = response.readUInt32BE(8 + 4);
  return response.subarray(8 + 8 + Math.ceil(headerLength / 8) * 8);
}

test('every OASIS test case: each all-Get request answers byte-identically through the splice and through decode-and-encode', async () => {
  const dir = vectorsDir();
  const tally: Tally = { compared: 0, differences: [] };
  const files = await listVectorFiles(dir);
  assert.ok(files.length > 100, `expected the OASIS v1.4 and v2.1 test cases under ${dir}`);
  for (const relPath of files) {
    // Pass or fail against the expected responses is the conformance suites' business; this one compares paths.
    await replayVector(await loadVector(dir, relPath), differentialTransport(relPath, tally), { rules: RULES });
  }
  assert.deepEqual(tally.differences, []);
  // 33 all-Get request messages in the v1.4 and v2.1 files (keys, secret data, opaque objects, destroyed objects).
  assert.ok(tally.compared >= 30, `only ${String(tally.compared)} all-Get requests were compared`);
});
