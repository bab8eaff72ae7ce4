/**
 * Is the conformance replayer trustworthy? It must PASS a server that answers with the test
 * cases' own responses, and it must FAIL, naming exactly the place, when one expected value is
 * altered or the server answers with another Result Reason.
 *
 * The scripted server (src/conformance/scripted-server.ts) speaks mutual TLS with a throwaway
 * PKI. Altered test cases are generated from ../shared/kmip/vectors into a temp dir at test
 * time; nothing from the OASIS files is committed.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa, issueClientCert, issueServerCert } from '../../src/pki/index.js';
import { run } from '../../src/cli/commands/conformance.js';
import { formatResult, formatSummary, runConformance } from '../../src/conformance/replay.js';
import type { FileResult, LiveOptions } from '../../src/conformance/replay.js';
import type { Difference } from '../../src/conformance/compare.js';
import { startScriptedServer } from '../../src/conformance/scripted-server.js';
import type { ScriptedServer } from '../../src/conformance/scripted-server.js';
import { connectTls } from '../../src/conformance/transport.js';
import { defaultVectorsDir, listVectorFiles, loadVector } from '../../src/conformance/vectors.js';
import type { Vector } from '../../src/conformance/vectors.js';
import { parseXml, serializeXml } from '../../src/kmip/encodings/xml.js';
import type { XmlElement } from '../../src/kmip/encodings/xml.js';

// dist/test/conformance/x.test.js → repository root.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const VECTORS = defaultVectorsDir(repoRoot);

interface Pki { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string }
let pki: Pki;
let tmp: string;

before(async () => {
  const ca = await createCa('conformance-test-ca');
  const server = await issueServerCert(ca, { ips: ['127.0.0.1'] });
  const client = await issueClientCert(ca, 'conformance-replayer');
  pki = { ca: ca.certPem, serverCert: server.certPem, serverKey: server.keyPem, clientCert: client.certPem, clientKey: client.keyPem };
  tmp = await mkdtemp(path.join(tmpdir(), 'openkcm-conformance-'));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function liveAgainst(server: ScriptedServer): LiveOptions {
  return {
    connect: () => connectTls({ host: '127.0.0.1', port: server.port, ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }, 5000),
    timeoutMs: 5000,
  };
}

async function serve(vector: Vector, mutateResponse?: (i: number, r: XmlElement) => XmlElement): Promise<ScriptedServer> {
  return startScriptedServer({
    vector, cert: pki.serverCert, key: pki.serverKey, ca: pki.ca,
    ...(mutateResponse !== undefined ? { mutateResponse } : {}),
  });
}

/** Write `root` as `relPath` under a fresh directory and replay that directory. */
async function replayCopy(relPath: string, root: XmlElement, server: ScriptedServer): Promise<FileResult> {
  const dir = await mkdtemp(path.join(tmp, 'copy-'));
  await mkdir(path.dirname(path.join(dir, relPath)), { recursive: true });
  await writeFile(path.join(dir, relPath), serializeXml(root));
  const summary = await runConformance({ vectorsDir: dir, live: liveAgainst(server) });
  assert.equal(summary.results.length, 1);
  return summary.results[0]!;
}

function differenceOf(r: FileResult): Difference {
  if (r.status !== 'fail') assert.fail(`expected a FAIL, got ${formatResult(r)}`);
  return r.difference;
}

function child(el: XmlElement, name: string): XmlElement {
  const c = el.children.find((x) => x.name === name);
  assert.ok(c, `<${el.name}> has a <${name}>`);
  return c;
}

function clone(el: XmlElement): XmlElement {
  return { name: el.name, attrs: { ...el.attrs }, children: el.children.map(clone) };
}

async function originalRoot(relPath: string): Promise<XmlElement> {
  return parseXml(await readFile(path.join(VECTORS, relPath), 'utf8'));
}

describe('replayer against a scripted server', () => {
  test('every test case PASSes when the server answers with its own expected responses', async () => {
    const files = await listVectorFiles(VECTORS);
    assert.equal(files.length, 168);
    const failures: string[] = [];
    for (const relPath of files) {
      const vector = await loadVector(VECTORS, relPath);
      const server = await serve(vector);
      try {
        const summary = await runConformance({ vectorsDir: VECTORS, filters: [relPath], live: liveAgainst(server) });
        for (const r of summary.results.filter((x) => x.relPath === relPath)) {
          if (r.status !== 'pass') failures.push(formatResult(r));
        }
        if (server.problems.length > 0) failures.push(`${relPath}: server saw ${server.problems.join('; ')}`);
      } finally {
        await server.close();
      }
    }
    assert.deepEqual(failures, []);
  });

  test('one altered expected value (inside an unordered attribute list) FAILs with exactly that path, expected and got', async () => {
    const relPath = 'v1.4/mandatory/SKLC-M-1-14.xml';
    const server = await serve(await loadVector(VECTORS, relPath));
    try {
      const root = clone(await originalRoot(relPath));
      // ResponseMessage[1] is the Get Attributes answer; its 6th Attribute is Cryptographic Length 256.
      const responses = root.children.filter((c) => c.name === 'ResponseMessage');
      const payload = child(child(responses[1]!, 'BatchItem'), 'ResponsePayload');
      const attrs = payload.children.filter((c) => c.name === 'Attribute');
      const length = attrs[5]!;
      assert.equal(child(length, 'AttributeName').attrs.value, 'Cryptographic Length');
      assert.equal(child(length, 'AttributeValue').attrs.value, '256');
      child(length, 'AttributeValue').attrs.value = '128';

      const r = await replayCopy(relPath, root, server);
      assert.equal(formatResult(r),
        `FAIL ${relPath}: ResponseMessage[1]/BatchItem[0]/ResponsePayload/Attribute[5]/AttributeValue expected 128 got 256`);
    } finally {
      await server.close();
    }
  });

  test('one altered expected value (in ordered content) FAILs with exactly that path, expected and got', async () => {
    const relPath = 'v2.1/mandatory/SKLC-M-1-21.xml';
    const server = await serve(await loadVector(VECTORS, relPath));
    try {
      const root = clone(await originalRoot(relPath));
      const responses = root.children.filter((c) => c.name === 'ResponseMessage');
      const objectType = child(child(child(responses[0]!, 'BatchItem'), 'ResponsePayload'), 'ObjectType');
      assert.equal(objectType.attrs.value, 'SymmetricKey');
      objectType.attrs.value = 'SecretData';

      const r = await replayCopy(relPath, root, server);
      assert.deepEqual(differenceOf(r), {
        path: 'ResponseMessage[0]/BatchItem[0]/ResponsePayload/ObjectType',
        expected: 'SecretData',
        got: 'SymmetricKey',
      });
    } finally {
      await server.close();
    }
  });

  test('a different Result Reason from the server FAILs naming ResultReason', async () => {
    const relPath = 'v1.4/mandatory/CS-BC-M-13-14.xml';
    const vector = await loadVector(VECTORS, relPath);
    const index = vector.exchanges.findIndex((ex) => ex.response.children.some((b) => b.name === 'BatchItem' && b.children.some((c) => c.name === 'ResultReason')));
    assert.ok(index >= 0);
    const expectedReason = child(child(vector.exchanges[index]!.response, 'BatchItem'), 'ResultReason').attrs.value;
    assert.equal(expectedReason, 'InvalidMessage');
    const server = await serve(vector, (i, response) => {
      if (i !== index) return response;
      const copy = clone(response);
      child(child(copy, 'BatchItem'), 'ResultReason').attrs.value = 'ItemNotFound';
      return copy;
    });
    try {
      const summary = await runConformance({ vectorsDir: VECTORS, filters: [relPath], live: liveAgainst(server) });
      assert.equal(summary.failed, 1);
      assert.equal(formatResult(summary.results[0]!),
        `FAIL ${relPath}: ResponseMessage[${index}]/BatchItem[0]/ResultReason expected InvalidMessage got ItemNotFound`);
    } finally {
      await server.close();
    }
  });

  test('a different Result Message text is a permitted variation', async () => {
    const relPath = 'v1.4/mandatory/CS-BC-M-13-14.xml';
    const vector = await loadVector(VECTORS, relPath);
    const server = await serve(vector, (_i, response) => {
      const copy = clone(response);
      for (const b of copy.children) {
        for (const c of b.children) if (c.name === 'ResultMessage') c.attrs.value = 'worded differently';
      }
      return copy;
    });
    try {
      const summary = await runConformance({ vectorsDir: VECTORS, filters: [relPath], live: liveAgainst(server) });
      assert.deepEqual(summary.results.map(formatResult), [`PASS ${relPath}`]);
    } finally {
      await server.close();
    }
  });

  test('a server that returns the same identifier for two placeholders FAILs', async () => {
    const relPath = 'v1.4/mandatory/AX-M-2-14.xml';
    const vector = await loadVector(VECTORS, relPath);
    // Answer $UNIQUE_IDENTIFIER_1 with the value the server bound to $UNIQUE_IDENTIFIER_0.
    const server = await serve(vector, (_i, response) => mapUid(response, '$UNIQUE_IDENTIFIER_1', '$UNIQUE_IDENTIFIER_0'));
    try {
      const summary = await runConformance({ vectorsDir: VECTORS, filters: [relPath], live: liveAgainst(server) });
      const r = summary.results[0]!;
      const d = differenceOf(r);
      assert.match(`${d.expected} / ${d.got}`, /^\$UNIQUE_IDENTIFIER_1 \(a new identifier\) \/ .* \(already \$UNIQUE_IDENTIFIER_0\)$/);
    } finally {
      await server.close();
    }
  });
});

function mapUid(el: XmlElement, from: string, to: string): XmlElement {
  return {
    name: el.name,
    attrs: el.attrs.value === from ? { ...el.attrs, value: to } : { ...el.attrs },
    children: el.children.map((c) => mapUid(c, from, to)),
  };
}

describe('openkcm conformance (CLI)', () => {
  function capture(): { io: { out(t: string): void; err(t: string): void }; out: () => string; err: () => string } {
    let out = '';
    let err = '';
    return { io: { out: (t) => { out += t; }, err: (t) => { err += t; } }, out: () => out, err: () => err };
  }

  test('a missing vectors directory prints the plain message and exits 0', async () => {
    const missing = path.join(tmp, 'no-such-dir');
    const c = capture();
    const code = await run(['--vectors', missing, '--host', '127.0.0.1', '--port', '1'], c.io);
    assert.equal(code, 0);
    assert.equal(c.out(), `vectors directory not found: ${missing} (nothing to replay)\n`);
    assert.equal(c.err(), '');
  });

  test('--parse-only over the whole vectors root reports 168 passed, 0 failed', async () => {
    const c = capture();
    const code = await run(['--vectors', VECTORS, '--parse-only'], c.io);
    const lines = c.out().trimEnd().split('\n');
    assert.equal(lines.length, 169);
    assert.ok(lines.slice(0, 168).every((l) => l.startsWith('PASS ')));
    assert.equal(lines[168], '168 passed, 0 failed');
    assert.equal(code, 0);
  });

  test('a folder below the root and --filter select files; paths are relative to --vectors', async () => {
    const c = capture();
    const code = await run(['--vectors', path.join(VECTORS, 'v2.1', 'optional'), '--parse-only', '--filter', 'RNG-O-1', 'SKLC'], c.io);
    assert.equal(code, 0);
    assert.equal(c.out(), 'PASS CS-RNG-O-1-21.xml\nPASS SKLC-O-1-21.xml\n2 passed, 0 failed\n');
  });

  test('the closing line: ", K skipped" only when K > 0; a failure exits non-zero', async () => {
    assert.equal(formatSummary({ passed: 3, failed: 0, skipped: 0 }), '3 passed, 0 failed');
    assert.equal(formatSummary({ passed: 1, failed: 2, skipped: 4 }), '1 passed, 2 failed, 4 skipped');
    const dir = await mkdtemp(path.join(tmp, 'broken-'));
    await writeFile(path.join(dir, 'a.xml'), '<KMIP><RequestMessage><NoSuchTag type="Integer" value="1"/></RequestMessage><ResponseMessage/></KMIP>');
    await writeFile(path.join(dir, 'b.xml'), '<KMIP><RequestMessage/></KMIP>');
    const c = capture();
    const code = await run(['--vectors', dir, '--parse-only'], c.io);
    const lines = c.out().trimEnd().split('\n');
    assert.equal(code, 1);
    assert.match(lines[0]!, /^FAIL a\.xml: RequestMessage\[0\] expected a message that encodes and decodes got KmipEncodingError: /);
    assert.match(lines[1]!, /^FAIL b\.xml: KMIP expected a well-formed test case got VectorFormatError: /);
    assert.equal(lines[2], '0 passed, 2 failed');
  });

  test('live mode without --host/--port is a usage error (exit 2)', async () => {
    const c = capture();
    assert.equal(await run(['--vectors', VECTORS], c.io), 2);
    assert.match(c.err(), /--host and --port/);
  });
});
