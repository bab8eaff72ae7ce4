/**
 * Durability of the whole server (issue "KMIP server" §6): `openkcm serve` runs as a child
 * process while several connections stream Creates and Registers at it; the test SIGKILLs it
 * at a random point, restarts it on the same data directory, and checks that
 *  - every UID that was acknowledged is retrievable, with the same material digest where the
 *    test knew the material (Register) or had read it before the kill (Create then Get);
 *  - nothing half-written is visible: every object Locate returns has its material and a
 *    Digest attribute equal to SHA-256 of that material, and the vault's indexes agree with
 *    its records (Vault.checkIntegrity).
 * Ten rounds, each killing at a random moment between 150 and 700 ms into the stream.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import type { KmipClient } from '../../src/client/index.js';
import { keyBlockBytes, symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import type { ManagedObject } from '../../src/kmip/payloads/objects.js';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { CryptographicAlgorithm, CryptographicUsageMask, ObjectType } from '../../src/kmip/registry.generated.js';
import { Vault } from '../../src/vault/vault.js';
import { DevKekProvider } from '../../src/vault/kek.js';
import { ItemType } from '@openkcm/ttlv';
import { findChild } from '@openkcm/ttlv';
import { Tag } from '../../src/kmip/registry.generated.js';

const ROUNDS = 10;
const CONNECTIONS = 4;
const ENCRYPT_DECRYPT = CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt;

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function materialOf(obj: ManagedObject): Uint8Array {
  if (!('keyBlock' in obj)) throw new Error('not a key object');
  const m = keyBlockBytes(obj.keyBlock);
  if (m === undefined) throw new Error('no plain key material');
  return m;
}

/** One writer: alternates Register (known material) and Create (+ Get to learn the material). */
async function stream(client: KmipClient, acked: Map<string, string | undefined>, stop: { now: boolean }): Promise<void> {
  for (let i = 0; !stop.now; i++) {
    try {
      if (i % 2 === 0) {
        const key = randomBytes(32);
        const digest = sha256(key);
        const r = await client.register({
          objectType: ObjectType.SymmetricKey,
          attributes: [
            makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES),
            makeAttribute('Cryptographic Length', 256),
            makeAttribute('Cryptographic Usage Mask', ENCRYPT_DECRYPT),
          ],
          object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(key, { cryptographicAlgorithm: CryptographicAlgorithm.AES }) },
        });
        acked.set(r.uniqueIdentifier, digest);
      } else {
        const uid = await client.createSymmetricKey({ algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: ENCRYPT_DECRYPT });
        acked.set(uid, undefined);
        const got = await client.get(uid);
        acked.set(uid, sha256(materialOf(got.object)));
      }
    } catch {
      // The kill: the connection drops and in-flight requests fail; they were never acknowledged.
      return;
    }
  }
}

/** The Digest attribute's value bytes (KMIP 1.4 §3.17: Hashing Algorithm + Digest Value). */
async function digestAttribute(client: KmipClient, uid: string): Promise<string | undefined> {
  const r = await client.getAttributes(uid, ['Digest']);
  const a = r.attributes.find((x) => x.name === 'Digest');
  if (a === undefined || a.value.type !== ItemType.Structure) return undefined;
  const v = findChild(a.value, Tag.DigestValue);
  return v?.type === ItemType.ByteString ? Buffer.from(v.value).toString('hex') : undefined;
}

describe('durability: SIGKILL during a stream of Creates and Registers', () => {
  let dataDir: string | undefined;
  after(async () => { if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true }); });

  test(`${String(ROUNDS)} random kills lose nothing acknowledged and show nothing half-written`, async () => {
    const acked = new Map<string, string | undefined>();
    let srv: TestServer = await startTestServer({ mode: 'child', keepDataDir: true });
    dataDir = srv.dataDir;
    for (let round = 0; round < ROUNDS; round++) {
      const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => srv.connect()));
      const stop = { now: false };
      const writers = clients.map((c) => stream(c, acked, stop));
      await new Promise((r) => setTimeout(r, randomInt(150, 700)));
      await srv.kill();
      stop.now = true;
      await Promise.all(writers);
      for (const c of clients) c.abort();

      srv = await startTestServer({ mode: 'child', dataDir });
      const client = await srv.connect();
      try {
        for (const [uid, digest] of acked) {
          const got = await client.get(uid);
          const material = materialOf(got.object);
          assert.equal(material.length, 32, `round ${String(round)}: ${uid} has ${String(material.length)} bytes of material`);
          if (digest !== undefined) assert.equal(sha256(material), digest, `round ${String(round)}: ${uid} material changed across the kill`);
        }
        // Nothing half-written: every visible object is whole and its Digest matches.
        const all = await client.locate({ attributes: [] });
        for (const uid of all.uniqueIdentifiers) {
          const material = materialOf((await client.get(uid)).object);
          assert.equal(await digestAttribute(client, uid), sha256(material), `round ${String(round)}: ${uid} Digest disagrees with its material`);
        }
        assert.ok(all.uniqueIdentifiers.length >= acked.size, 'Locate lists every acknowledged object');
      } finally {
        await client.close();
      }
    }
    await srv.stop();
    assert.ok(acked.size > ROUNDS, `the stream acknowledged ${String(acked.size)} objects`);

    // The vault's secondary indexes agree with its records after ten crashes.
    const vault = await Vault.open({ path: path.join(dataDir, 'vault'), kek: DevKekProvider.open(path.join(dataDir, 'kek.key')) });
    try {
      assert.deepEqual(vault.checkIntegrity().problems, []);
    } finally {
      await vault.close();
    }
  });
});
