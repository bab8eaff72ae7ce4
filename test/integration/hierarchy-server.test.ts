/**
 * The key hierarchy through the real server and KmipClient (issue 4 §4-§5; ARCHITECTURE §2, §5): L4 sealed under
 * the tenant's L3, Re-key at 1.4 and 2.1, L3 rotation with lazy re-wrap and the background job, migration of a
 * vault written under the development KEK, the kill-switch (revoke / restore), crypto-shredding depth 2 (a dropped
 * L3 version), and a sealed node answering SERVER_SEALED until unsealed through the operator socket.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { KmipClient } from '../../src/client/client.js';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import type { KmipErrorCode } from '../../src/kmip/errors.js';
import { reKeyPayloads } from '../../src/kmip/payloads/rekey.js';
import { symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import {
  BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, LinkType, ObjectType, ResultReason,
} from '../../src/kmip/registry.js';
import { MasterKey } from '../../src/krypton/master-key.js';
import { nativeInfo } from '../../src/native/index.js';
import { OPERATOR_SOCKET_FILE } from '../../src/krypton/operator-api.js';
import type { AppHierarchy } from '../../src/appliance/kmip-app.js';
import { parseEnvelope } from '../../src/vault/envelope.js';
import { ItemType } from '@openkcm/ttlv';
import { startTestServer, withClient, withTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { rawKey } from '../helpers/kmip-raw-key.js';

const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };
const GCM = { blockCipherMode: BlockCipherMode.GCM, tagLength: 16 };

function hierarchyOf(srv: TestServer): AppHierarchy {
  const h = srv.app?.hierarchy;
  assert.ok(h !== undefined, 'the test server runs the key hierarchy');
  return h;
}

/** (key id, key version) of the envelope of `uid`. */
function envelopeOf(srv: TestServer, tenant: string, uid: string): { id: string; v: number } {
  const rec = hierarchyOf(srv).vault.get(tenant, uid);
  assert.ok(rec?.sealedMaterial !== undefined, `object ${uid} has material`);
  const h = parseEnvelope(rec.sealedMaterial);
  return { id: h.keyId, v: h.keyVersion };
}

async function fails(p: Promise<unknown>, code: KmipErrorCode, reason?: number): Promise<KmipResultError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof KmipResultError, `expected a KMIP error, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${String(e.resultMessage)}`);
    if (reason !== undefined) assert.equal(e.resultReason, reason);
    return e;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

async function encryptOnce(c: KmipClient, uid: string): Promise<void> {
  const r = await c.encrypt({ uniqueIdentifier: uid, cryptographicParameters: GCM, data: Buffer.from('hello'), ivCounterNonce: randomBytes(12) });
  assert.ok(r.data !== undefined && r.data.length === 5);
}

async function activeKey(c: KmipClient): Promise<string> {
  const uid = await c.createSymmetricKey(AES);
  await c.activate(uid);
  return uid;
}

describe('key hierarchy through the server', () => {
  test('Create / Get / Encrypt under the tenant\'s L3; Re-key at 1.4 and 2.1', async () => {
    await withTestServer({ tenants: ['alice', 'bob'] }, async (srv) => {
      for (const version of ['1.4', '2.1'] as const) {
        await withClient(srv.connect('alice', { protocolVersion: version }), async (c) => {
          const uid = await activeKey(c);
          assert.deepEqual(envelopeOf(srv, 'alice', uid), { id: 'l3:alice:kmip', v: 1 });
          await encryptOnce(c, uid);
          const before = await rawKey(c, uid);
          const r = await c.call(reKeyPayloads, { uniqueIdentifier: uid });
          assert.notEqual(r.uniqueIdentifier, uid);
          assert.notDeepEqual(await rawKey(c, r.uniqueIdentifier), before);
          assert.deepEqual(envelopeOf(srv, 'alice', r.uniqueIdentifier), { id: 'l3:alice:kmip', v: 1 });
          const links = (await c.getAttributes(uid, ['Link'])).attributes;
          assert.equal(links.length, 1);
          const l = links[0]?.value;
          assert.ok(l?.type === ItemType.Structure);
          assert.deepEqual(l.value.map((x) => x.value), [LinkType.ReplacementObjectLink, r.uniqueIdentifier]);
          await encryptOnce(c, r.uniqueIdentifier);
        });
      }
      await withClient(srv.connect('bob'), async (b) => {
        const uid = await b.createSymmetricKey(AES);
        assert.deepEqual(envelopeOf(srv, 'bob', uid), { id: 'l3:bob:kmip', v: 1 }, 'each tenant has its own L3');
      });
    });
  });

  test('rotate L3: a Get re-wraps lazily, the background job re-wraps the rest with progress; then the old version can go', async () => {
    await withTestServer({ tenants: ['alice'] }, (srv) => withClient(srv.connect('alice'), async (c) => {
      const h = hierarchyOf(srv);
      const uids: string[] = [];
      for (let i = 0; i < 5; i++) uids.push(await c.createSymmetricKey(AES));
      const keys = await Promise.all(uids.map((u) => rawKey(c, u)));
      assert.equal(await h.hierarchy.krypton.rotateL3('alice'), 2);
      const first = uids[0] ?? assert.fail();
      assert.deepEqual(await rawKey(c, first), keys[0]);
      await h.vault.rewrapIdle();
      assert.deepEqual(envelopeOf(srv, 'alice', first), { id: 'l3:alice:kmip', v: 2 }, 'lazily re-wrapped after the Get');
      assert.deepEqual(envelopeOf(srv, 'alice', uids[1] ?? ''), { id: 'l3:alice:kmip', v: 1 }, 'untouched objects wait for the job');
      const seen: number[] = [];
      const result = await h.rewrapTenant('alice', { batchSize: 2, onProgress: (p) => seen.push(p.done) });
      assert.deepEqual(seen, [2, 4, 5]);
      assert.deepEqual(result, { done: 5, total: 5, rewrapped: 4, failed: 0 });
      for (const u of uids) assert.deepEqual(envelopeOf(srv, 'alice', u), { id: 'l3:alice:kmip', v: 2 });
      await h.hierarchy.krypton.dropL3Version('alice', 'kmip', 1);
      for (const [i, u] of uids.entries()) assert.deepEqual(await rawKey(c, u), keys[i]);
    }));
  });

  test('crypto-shredding depth 2: objects under a dropped L3 version answer Key Value Not Present (1.4 and 2.1), the server keeps serving', async () => {
    await withTestServer({ tenants: ['alice'] }, (srv) => withClient(srv.connect('alice', { protocolVersion: '2.1' }), (c) =>
      withClient(srv.connect('alice', { protocolVersion: '1.4' }), async (c14) => {
        const h = hierarchyOf(srv);
        const shredded = await c.createSymmetricKey(AES);
        await h.hierarchy.krypton.rotateL3('alice');
        const kept = await c.createSymmetricKey(AES);
        await h.hierarchy.krypton.dropL3Version('alice', 'kmip', 1);
        for (const client of [c, c14]) {
          const e = await fails(client.get(shredded), 'KEY_VALUE_NOT_PRESENT', ResultReason.KeyValueNotPresent);
          assert.match(e.resultMessage ?? '', /crypto-shredded with its L3 version/);
          assert.doesNotMatch(e.resultMessage ?? '', /l3:|WRONG_KEY|envelope/i, 'nothing internal leaks');
        }
        await c.activate(shredded); // metadata is still there: only the material is gone
        await fails(encryptOnce(c, shredded), 'KEY_VALUE_NOT_PRESENT', ResultReason.KeyValueNotPresent);
        assert.equal((await rawKey(c, kept)).length, 32);
        await activeKey(c);
      })));
  });

  test('kill-switch: revoke → Permission Denied for that tenant only (cached DEKs too); restore → served again', async () => {
    await withTestServer({ tenants: ['alice', 'bob'] }, (srv) => withClient(srv.connect('alice'), (a) =>
      withClient(srv.connect('bob'), async (b) => {
        const h = hierarchyOf(srv);
        const ka = await activeKey(a);
        const kb = await activeKey(b);
        await encryptOnce(a, ka); // the DEK is now cached in a native slot
        await h.hierarchy.krypton.revoke('alice', 'test');
        await fails(a.get(ka), 'PERMISSION_DENIED', ResultReason.PermissionDenied);
        await fails(encryptOnce(a, ka), 'PERMISSION_DENIED', ResultReason.PermissionDenied);
        await fails(a.createSymmetricKey(AES), 'PERMISSION_DENIED');
        await encryptOnce(b, kb);
        assert.equal((await rawKey(b, kb)).length, 32);
        await h.hierarchy.krypton.restore('alice');
        await encryptOnce(a, ka);
        assert.equal((await rawKey(a, ka)).length, 32);
      })));
  });

  test('migration: a vault written under the development KEK opens under the hierarchy, the job moves it, the old key file can go', async () => {
    const first = await startTestServer({ tenants: ['alice', 'bob'], vault: { kek: 'dev' }, keepDataDir: true });
    const dataDir = first.dataDir;
    const known = randomBytes(32);
    const objects: { tenant: string; uid: string }[] = [];
    try {
      for (const tenant of ['alice', 'bob']) {
        await withClient(first.connect(tenant), async (c) => {
          for (let i = 0; i < 3; i++) objects.push({ tenant, uid: await c.createSymmetricKey(AES) });
          const reg = await c.register({ objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES)],
            object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(known) } });
          objects.push({ tenant, uid: reg.uniqueIdentifier });
        });
      }
      await first.stop();
      assert.ok(existsSync(path.join(dataDir, 'kek.key')));

      const keys = new Map<string, Uint8Array>();
      await withTestServer({ dataDir }, async (second) => {
        const h = hierarchyOf(second);
        await h.migration;
        for (const { tenant, uid } of objects) {
          assert.match(envelopeOf(second, tenant, uid).id, new RegExp(`^l3:${tenant}:kmip$`), 'moved to L3');
          keys.set(uid, await withClient(second.connect(tenant), (c) => rawKey(c, uid)));
        }
        for (const t of ['alice', 'bob']) assert.deepEqual([...h.vault.envelopeKeyIds(t).keys()], [`l3:${t}:kmip`]);
      });
      await rm(path.join(dataDir, 'kek.key'));

      await withTestServer({ dataDir }, async (third) => {
        for (const { tenant, uid } of objects) {
          const k = await withClient(third.connect(tenant), (c) => rawKey(c, uid));
          assert.deepEqual(k, keys.get(uid));
        }
        const registered = objects.filter((_, i) => i % 4 === 3);
        const k = await withClient(third.connect('alice'), (c) => rawKey(c, registered[0]?.uid ?? ''));
        assert.deepEqual(k, new Uint8Array(known));
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('sealed node: KMIP answers SERVER_SEALED (Query still works) until unsealed through the operator socket', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'openkcm-sealed-'));
    try {
      const shares = await MasterKey.initShamir(dataDir, { shares: 3, threshold: 2 });
      await withTestServer({ dataDir, tenants: ['alice'] }, (srv) => withClient(srv.connect('alice', { protocolVersion: '2.1' }), async (c) => {
        const e = await fails(c.createSymmetricKey(AES), 'GENERAL_FAILURE', ResultReason.GeneralFailure);
        assert.match(e.resultMessage ?? '', /sealed/);
        await c.query([1]);
        const socket = path.join(dataDir, OPERATOR_SOCKET_FILE);
        for (const share of shares.slice(0, 2)) {
          const { status } = await operatorPost(socket, '/v1/sys/unseal', { share });
          assert.equal(status, 200);
        }
        const uid = await c.createSymmetricKey(AES);
        assert.deepEqual(envelopeOf(srv, 'alice', uid), { id: 'l3:alice:kmip', v: 1 });
      }));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('sealing a running node', () => {
  test('operator seal zeroises krypton\'s slots and the DEK cache without revoking; unseal → tenants re-activate on first use', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'openkcm-reseal-'));
    try {
      const shares = await MasterKey.initShamir(dataDir, { shares: 3, threshold: 2 });
      const socket = path.join(dataDir, OPERATOR_SOCKET_FILE);
      await withTestServer({ dataDir, tenants: ['alice'] }, async (srv) => {
        for (const share of shares.slice(0, 2)) assert.equal((await operatorPost(socket, '/v1/sys/unseal', { share })).status, 200);
        const h = hierarchyOf(srv);
        await withClient(srv.connect('alice'), async (c) => {
          const uid = await activeKey(c);
          await encryptOnce(c, uid); // the DEK is cached in a native slot
          const key = await rawKey(c, uid);
          assert.equal(h.hierarchy.krypton.isActive('alice'), true);
          const before = nativeInfo().slotsInUse;
          assert.equal((await operatorPost(socket, '/v1/sys/seal', {})).status, 200);
          const after = nativeInfo().slotsInUse;
          // The master key, alice's L2 and L3, and the cached DEK at least.
          console.log(`native slots in use: ${String(before)} before seal, ${String(after)} after`);
          assert.ok(before - after >= 4, `slots: ${String(before)} → ${String(after)}`);
          assert.equal(h.hierarchy.krypton.isActive('alice'), false);
          assert.equal(h.hierarchy.krypton.status('alice').state, 'active', 'not revoked: nothing persisted');
          assert.equal((await h.hierarchy.store.get('alice'))?.state, 'active');
          const e = await fails(c.get(uid), 'GENERAL_FAILURE', ResultReason.GeneralFailure);
          assert.match(e.resultMessage ?? '', /sealed/);
          await fails(encryptOnce(c, uid), 'GENERAL_FAILURE');
          for (const share of shares.slice(1, 3)) assert.equal((await operatorPost(socket, '/v1/sys/unseal', { share })).status, 200);
          assert.deepEqual(await rawKey(c, uid), key);
          assert.equal(h.hierarchy.krypton.isActive('alice'), true, 're-activated on first use');
          await encryptOnce(c, uid);
        });
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

function operatorPost(socketPath: string, urlPath: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ socketPath, path: urlPath, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => { text += s; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text }); });
    });
    req.on('error', reject);
    req.end(data);
  });
}

