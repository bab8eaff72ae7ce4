/**
 * Interop: PyKMIP's CLIENT (python3-pykmip 0.10, ProxyKmipClient.derive_key) deriving keys on OUR server over mutual
 * TLS 1.2 at KMIP 1.0, 1.2, 1.4 and 2.0 (KMIP 1.4 §4.6, 2.1 §6.1.11). The small driver beside this file,
 * pykmip_derive_driver.py, registers a key and a password, derives with HASH, HMAC, PBKDF2 (default PRF and SHA-256)
 * and NIST800-108-C, Gets each result and prints the bytes; this test computes every expected value with node:crypto,
 * and also checks the PBKDF2 and SP 800-108 answers against PyKMIP's own server engine (pyca/cryptography), which the
 * driver reports alongside.
 *
 * If python3-pykmip is missing the test FAILS with the package to install (no silent skip).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertPyKmipInstalled, spawnDriver } from '../helpers/pykmip.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const TENANT = 'pykmip-derive';
const VERSIONS = ['1.0', '1.2', '1.4', '2.0'] as const;
/** One driver run must not hang the suite. */
const DRIVER_TIMEOUT_MS = 60_000;
// tsc does not copy .py files into dist/: dist/test/interop → test/interop in the source tree.
const DRIVER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'interop', 'pykmip_derive_driver.py');

const KEY = Buffer.from(Array.from({ length: 16 }, (_, i) => i));
const counterMode = (bytes: number): string => {
  const fixed = Buffer.from('label\u0000context');
  const blocks = [1, 2].map((i) => createHmac('sha256', KEY).update(Buffer.from([0, 0, 0, i])).update(fixed).digest());
  return Buffer.concat(blocks).subarray(0, bytes).toString('hex');
};
const EXPECTED: Readonly<Record<string, string>> = {
  hash_sha256: createHash('sha256').update(KEY).digest('hex').slice(0, 32),
  hmac_sha256: createHmac('sha256', KEY).update(Buffer.from([1, 2])).digest('hex').slice(0, 32),
  pbkdf2_default: pbkdf2Sync('password', 'salt', 4096, 16, 'sha1').toString('hex'),
  pbkdf2_sha256: pbkdf2Sync('password', 'salt', 4096, 32, 'sha256').toString('hex'),
  nist800_108_c: counterMode(32),
};

interface DriverOutput { ok: boolean; error?: string; derived?: Record<string, string>; pykmip_engine?: Record<string, string> }

async function runDriver(server: TestServer, version: string): Promise<{ out: DriverOutput | undefined; stdout: string; stderr: string }> {
  const { stdout, stderr } = await spawnDriver(DRIVER, server, TENANT, version, [], DRIVER_TIMEOUT_MS);
  // The driver prints one JSON object (its verdict and the derived bytes), not step lines.
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  return { out: line === undefined ? undefined : JSON.parse(line) as DriverOutput, stdout, stderr };
}

describe('PyKMIP ProxyKmipClient.derive_key against OpenKCM', () => {
  let server: TestServer | undefined;
  before(async () => {
    assertPyKmipInstalled();
    server = await startTestServer({ tenants: [TENANT] });
  });
  after(async () => { await server?.stop(); });

  for (const version of VERSIONS) {
    test(`KMIP ${version}`, async () => {
      assert.ok(server !== undefined);
      const { out, stdout, stderr } = await runDriver(server, version);
      assert.ok(out?.ok === true && out.derived !== undefined, `driver failed: ${out?.error ?? ''}\nstdout:\n${stdout}\nstderr:\n${stderr.slice(-2000)}`);
      assert.deepEqual(out.derived, EXPECTED);
      for (const [name, hex] of Object.entries(out.pykmip_engine ?? {})) assert.equal(hex, EXPECTED[name], `PyKMIP's engine, ${name}`);
      assert.equal(Object.keys(out.pykmip_engine ?? {}).length, 3);
    });
  }
});
