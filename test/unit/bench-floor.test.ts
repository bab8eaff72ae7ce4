/**
 * The TLS floor server of `openkcm bench compare` (src/bench/floor-server.ts): mutual TLS, and
 * exactly one canned response per TTLV request frame, however the frames are split or joined.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { writeDevPki } from '../../src/pki/dev-pki.js';
import { startFloorServer } from '../../src/bench/floor-server.js';
import type { FloorServer } from '../../src/bench/floor-server.js';

/** A TTLV structure header (tag 0x420078 Request Message, type 0x01) with `n` bytes of body. */
function frame(n: number, fill: number): Buffer {
  const b = Buffer.alloc(8 + n, fill);
  b.writeUIntBE(0x420078, 0, 3);
  b.writeUInt8(0x01, 3);
  b.writeUInt32BE(n, 4);
  return b;
}

let dir: string;
let floor: FloorServer;
let ca: string;
let cert: string;
let key: string;
const RESPONSE = frame(16, 0xab);

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'openkcm-floor-test-'));
  const pki = await writeDevPki(dir, ['floor-client']);
  const c = pki.clients['floor-client'];
  assert.ok(c !== undefined);
  [ca, cert, key] = await Promise.all([readFile(pki.caCert, 'utf8'), readFile(c.cert, 'utf8'), readFile(c.key, 'utf8')]);
  floor = await startFloorServer({ cert: await readFile(pki.serverCert, 'utf8'), key: await readFile(pki.serverKey, 'utf8'), ca, response: RESPONSE });
});
after(async () => {
  await floor.close();
  await rm(dir, { recursive: true, force: true });
});

function connect(withCert: boolean): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: floor.host, port: floor.port, ca, ...(withCert ? { cert, key } : {}), checkServerIdentity: () => undefined });
    s.once('secureConnect', () => { resolve(s); });
    s.once('error', reject);
  });
}

function readBytes(s: tls.TLSSocket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => { reject(new Error(`only ${String(got)} of ${String(n)} bytes`)); }, 5000);
    s.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) { clearTimeout(timer); resolve(Buffer.concat(parts)); }
    });
  });
}

describe('floor server', () => {
  test('answers each frame once: two frames in one write, then one frame split at every third byte', async () => {
    const s = await connect(true);
    try {
      const reply = readBytes(s, RESPONSE.length * 3);
      s.write(Buffer.concat([frame(40, 1), frame(0, 2)]));
      const third = frame(96, 3); // TTLV lengths are multiples of 8 (KMIP 1.4 §9.1.1.3)
      for (let i = 0; i < third.length; i += 3) s.write(third.subarray(i, i + 3));
      const got = await reply;
      assert.equal(got.length, RESPONSE.length * 3);
      assert.deepEqual(got, Buffer.concat([RESPONSE, RESPONSE, RESPONSE]));
    } finally {
      s.destroy();
    }
  });
  test('a client without a certificate gets no response', async () => {
    let s: tls.TLSSocket;
    try {
      s = await connect(false);
    } catch {
      return; // TLS 1.2: the handshake itself fails
    }
    // TLS 1.3: the client may finish first; the server's alert then closes the connection.
    const closed = new Promise<string>((resolve) => {
      s.on('data', () => { resolve('data'); });
      s.on('error', () => { resolve('closed'); });
      s.on('close', () => { resolve('closed'); });
    });
    s.write(frame(0, 0));
    assert.equal(await closed, 'closed');
    s.destroy();
  });
});
