/**
 * Zero knowledge at rest (issue 4 §5; ARCHITECTURE §2: "L2/L3 plaintext never enter the JS heap", L4 stored only
 * as L3.seal(material)): a scripted run with KNOWN keys and debug logging to a file, then every byte under the
 * data directory — the vault's and krypton's LMDB files, local L1 keys, node secrets, seal.json, the log — is
 * searched for the plaintext of every L2, L3 and L4 key, raw, as hex (both cases) and as base64 at every byte
 * alignment (so a key inside a longer base64 string is found too).
 *
 * How the known keys are obtained without a back door: L4 — Register of chosen bytes, and Get of created keys;
 * L2 — unwrapping the stored wrapped L2 through the tenant's own L1 plugin (what activation does); L3 — export
 * of the tenant keyring's native slot (TenantKeyring.slot, krypton's internal API, reached from the test only).
 * The development MasterKey file (master.key) holds the MasterKey in the clear by design and is not an L2-L4 key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { reKeyPayloads } from '../../src/kmip/payloads/rekey.js';
import { symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import { BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, ObjectType } from '../../src/kmip/registry.js';
import { TenantKeyring } from '../../src/krypton/tenant-keyring.js';
import { jsonLogger } from '../../src/common/log.js';
import { startTestServer } from '../helpers/server.js';
import { rawKey } from '../helpers/kmip-raw-key.js';
import { filesUnder } from '../helpers/leak-scan.js';

const TENANTS = ['alice', 'bob'] as const;

/** The forms a key could be written in: raw, hex, HEX, and base64/base64url at the three byte alignments. */
function forms(key: Uint8Array): Buffer[] {
  const b = Buffer.from(key);
  const out = [b, Buffer.from(b.toString('hex')), Buffer.from(b.toString('hex').toUpperCase())];
  for (const shift of [0, 1, 2]) {
    // The base64 of b[shift..] is what b contributes to any longer base64 string in which b starts at an offset
    // ≡ -shift (mod 3); its first and last 4 characters may mix with neighbouring bytes, so they are trimmed.
    for (const enc of ['base64', 'base64url'] as const) {
      const s = b.subarray(shift).toString(enc).replace(/=+$/, '');
      out.push(Buffer.from(s.slice(4, s.length - 4)));
    }
  }
  return out;
}

test('no L2, L3 or L4 plaintext anywhere under the data directory after a scripted run (debug logs included)', async () => {
  let logFile = '';
  const lines: string[] = [];
  const logger = jsonLogger('debug', (line) => {
    if (logFile === '') lines.push(line);
    else appendFileSync(logFile, line);
  });
  const srv = await startTestServer({ tenants: [...TENANTS], logger, keepDataDir: true });
  const dataDir = srv.dataDir;
  logFile = path.join(dataDir, 'logs', 'server.log');
  const { mkdirSync, writeFileSync, rmSync } = await import('node:fs');
  mkdirSync(path.dirname(logFile), { recursive: true });
  writeFileSync(logFile, lines.join(''));
  const secrets: { what: string; key: Uint8Array }[] = [];
  let envelopeSample: Buffer | undefined;
  try {
    const h = srv.app?.hierarchy;
    assert.ok(h !== undefined);
    for (const tenant of TENANTS) {
      const c = await srv.connect(tenant);
      try {
        const known = randomBytes(32);
        secrets.push({ what: `${tenant} registered L4`, key: known });
        const reg = await c.register({ objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), makeAttribute('Cryptographic Usage Mask', CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt)],
          object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(known) } });
        await c.activate(reg.uniqueIdentifier);
        await c.encrypt({ uniqueIdentifier: reg.uniqueIdentifier, cryptographicParameters: { blockCipherMode: BlockCipherMode.GCM, tagLength: 16 }, data: Buffer.from('x'), ivCounterNonce: randomBytes(12) });
        const created = await c.createSymmetricKey({ algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt });
        const rekeyed = (await c.call(reKeyPayloads, { uniqueIdentifier: created })).uniqueIdentifier;
        // L3 rotation and the re-wrap job: every envelope is sealed anew, the old L3 version stays readable.
        await h.hierarchy.krypton.rotateL3(tenant);
        for (const uid of [reg.uniqueIdentifier, created, rekeyed]) secrets.push({ what: `${tenant} L4 ${uid}`, key: await rawKey(c, uid) });
        await h.vault.rewrapIdle();
        await h.rewrapTenant(tenant);
        envelopeSample ??= h.vault.get(tenant, created)?.sealedMaterial;

        // L3: every version, from the keyring's native slots.
        const ring = h.hierarchy.krypton.kek(tenant);
        assert.ok(ring instanceof TenantKeyring);
        for (const v of ring.versions) {
          const slot = ring.slot(v);
          assert.ok(slot !== undefined);
          secrets.push({ what: `${tenant} L3 v${String(v)}`, key: slot.export() });
        }
        // L2: the stored wrapped L2 unwrapped through the tenant's own L1 plugin.
        const rec = await h.hierarchy.store.get(tenant);
        assert.ok(rec !== undefined);
        const plugin = await h.hierarchy.keystores.keystoreFor(rec.shadow);
        for (const l2 of rec.l2) {
          secrets.push({ what: `${tenant} L2 v${String(l2.version)}`, key: await plugin.unwrap(l2.wrapped, { tenant, purpose: `l2:v${String(l2.version)}` }) });
        }
      } finally {
        await c.close();
      }
    }
    await srv.stop();

    const kinds = new Set(secrets.map((s) => s.what.split(' ')[1]));
    assert.ok(kinds.has('L2') && kinds.has('L3') && secrets.filter((s) => s.what.includes('L3')).length === 4, 'L2, L3 (2 versions x 2 tenants) and L4 keys were captured');
    const files = filesUnder(dataDir);
    const names = files.map((f) => path.relative(dataDir, f));
    for (const expected of ['vault/data.mdb', 'krypton/data.mdb', 'seal.json', 'logs/server.log']) assert.ok(names.includes(expected), `${expected} was scanned`);
    assert.ok(names.some((n) => n.startsWith('local-l1/')), 'the local L1 keys were scanned');
    const contents = files.map((f) => ({ name: path.relative(dataDir, f), bytes: readFileSync(f) }));
    // Positive control: the scan does see what the vault stores (an envelope), so a plaintext would be seen too.
    assert.ok(envelopeSample !== undefined);
    assert.ok(contents.some((c) => c.bytes.includes(envelopeSample ?? Buffer.alloc(1))), 'the vault file holds the envelope bytes');
    assert.ok(readFileSync(logFile, 'utf8').includes('"level":"debug"'), 'debug logging was on');
    let checked = 0;
    for (const s of secrets) {
      for (const needle of forms(s.key)) {
        for (const c of contents) {
          assert.equal(c.bytes.includes(needle), false, `${s.what} found in ${c.name}`);
          checked++;
        }
      }
    }
    process.stdout.write(`# zero-knowledge: ${String(secrets.length)} keys x ${String(forms(Buffer.alloc(32)).length)} forms x ${String(contents.length)} files (${String(contents.reduce((n, c) => n + c.bytes.length, 0))} bytes), ${String(checked)} searches\n`);
    for (const s of secrets) s.key.fill(0);
    rmSync(dataDir, { recursive: true, force: true });
  } catch (e) {
    await srv.stop().catch(() => undefined);
    const { rmSync: rm } = await import('node:fs');
    rm(dataDir, { recursive: true, force: true });
    throw e;
  }
});
