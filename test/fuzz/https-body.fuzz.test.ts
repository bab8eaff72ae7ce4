/**
 * Time-boxed fuzz of the KMIP-over-HTTPS listener's bodies (issue 20: bad input gets an HTTP status and a KMIP error
 * body, never a crash). Inputs: random bytes, mutations of a valid request in TTLV, and mutations of its KMIP JSON
 * and XML text, each sent with its Content-Type. Property: the answer is 200, 400 or 413, and its body is a KMIP
 * Response Message in the request's encoding; the listener keeps serving afterwards.
 *
 * A failure prints fast-check's seed and path; rerun with them to reproduce.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { answerAsXml, httpsRequest, requestXml, xmlToJson, xmlToTtlvBytes } from '../helpers/https-kmip.js';
import type { HttpsPeer } from '../helpers/https-kmip.js';

/** Per property; three properties. Each case is a real HTTPS request, so the budget buys a few dozen cases each. */
const TIME_BUDGET_MS = 4_000;

/** As test/fuzz/ttlv-decode.fuzz.test.ts: stop at the time limit, which is not a failure. */
const BUDGET = { numRuns: 10_000, interruptAfterTimeLimit: TIME_BUDGET_MS, markInterruptAsFailure: false };

const VALID = requestXml('2.1', 'Query', '<QueryFunction type="Enumeration" value="QueryOperations"/>');

function mutate(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.nat({ max: base.length }), fc.nat({ max: base.length }), fc.uint8Array({ maxLength: 16 }), fc.nat({ max: 255 }))
    .map(([at, cut, insert, flip]) => {
      const b = Buffer.from(base);
      if (b.length > 0) b[at % b.length] = (b[at % b.length] ?? 0) ^ flip;
      return Buffer.concat([b.subarray(0, at), Buffer.from(insert), b.subarray(Math.min(b.length, at + (cut % 8)))]);
    });
}

describe('KMIP over HTTPS: hostile bodies', () => {
  let srv: TestServer;
  let peer: HttpsPeer;
  before(async () => {
    srv = await startTestServer({ tenants: ['fuzz'], https: {} });
    const o = srv.clientOptions('fuzz');
    assert.ok(srv.httpsPort !== undefined);
    peer = { host: '127.0.0.1', port: srv.httpsPort, ca: srv.ca, cert: String(o.cert), key: String(o.key) };
  });
  after(async () => { await srv.stop(); });

  const property = (type: string, arb: fc.Arbitrary<Uint8Array>) => async (): Promise<void> => {
    await fc.assert(fc.asyncProperty(arb, async (body) => {
      const a = await httpsRequest(peer, body, type);
      assert.ok([200, 400, 413].includes(a.status), `status ${String(a.status)}`);
      assert.match(answerAsXml(a), /^<ResponseMessage>/);
    }), BUDGET);
    const ok = await httpsRequest(peer, xmlToTtlvBytes(VALID), 'application/octet-stream');
    assert.equal(ok.status, 200, 'still serving');
  };

  test('TTLV: random bytes and mutations of a valid request', property('application/octet-stream',
    fc.oneof(fc.uint8Array({ maxLength: 512 }), mutate(xmlToTtlvBytes(VALID)))));
  test('KMIP JSON: mutations of a valid request', property('application/json', mutate(Buffer.from(xmlToJson(VALID)))));
  test('KMIP XML: mutations of a valid request', property('text/xml', mutate(Buffer.from(VALID))));
});
