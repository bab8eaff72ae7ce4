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
import { startTestServer } from '../helpers/server.js';
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
    const srv = await startTestServer({ tenants: ['alice', 'bob'] });
    try {
      for (const version of ['1.4', '2.1'] as const) {
        const c = await srv.connect('alice', { protocolVersion: version });
        try {
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
        } finally {
          await c.close();
        }
      }
      const b = await srv.connect('bob');
      try {
        const uid = await b.createSymmetricKey(AES);
        assert.deepEqual(envelopeOf(srv, 'bob', uid), { id: 'l3:bob:kmip', v: 1 }, 'each tenant has its own L3');
      } finally {
        await b.close();
      }
    } finally {
      await srv.stop();
    }
  });

  test('rotate L3: a Get re-wraps lazily, the background job re-wraps the rest with progress; then the old version can go', async () => {
    const srv = await startTestServer({ tenants: ['alice'] });
    try {
      const h = hierarchyOf(srv);
      const c = await srv.connect('alice');
      try {
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
      } finally {
        await c.close();
      }
    } finally {
      await srv.stop();
    }
  });

  test('crypto-shredding depth 2: objects under a dropped L3 version answer Key Value Not Present (1.4 and 2.1), the server keeps serving', async () => {
    const srv = await startTestServer({ tenants: ['alice'] });
    try {
      const h = hierarchyOf(srv);
      const c = await srv.connect('alice', { protocolVersion: '2.1' });
      const c14 = await srv.connect('alice', { protocolVersion: '1.4' });
      try {
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
      } finally {
        await c.close();
        await c14.close();
      }
    } finally {
      await srv.stop();
    }
  });

  test('kill-switch: revoke → Permission Denied for that tenant only (cached DEKs too); restore → served again', async () => {
    const srv = await startTestServer({ tenants: ['alice', 'bob'] });
    try {
      const h = hierarchyOf(srv);
      const a = await srv.connect('alice');
      const b = await srv.connect('bob');
      try {
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
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await srv.stop();
    }
  });

  test('migration: a vault written under the development KEK opens under the hierarchy, the job moves it, the old key file can go', async () => {
    const first = await startTestServer({ tenants: ['alice', 'bob'], vault: { kek: 'dev' }, keepDataDir: true });
    const dataDir = first.dataDir;
    const known = randomBytes(32);
    const objects: { tenant: string; uid: string }[] = [];
    try {
      for (const tenant of ['alice', 'bob']) {
        const c = await first.connect(tenant);
        try {
          for (let i = 0; i < 3; i++) objects.push({ tenant, uid: await c.createSymmetricKey(AES) });
          const reg = await c.register({ objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES)],
            object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(known) } });
          objects.push({ tenant, uid: reg.uniqueIdentifier });
        } finally {
          await c.close();
        }
      }
      await first.stop();
      assert.ok(existsSync(path.join(dataDir, 'kek.key')));

      const second = await startTestServer({ dataDir });
      const h = hierarchyOf(second);
      const keys = new Map<string, Uint8Array>();
      try {
        await h.migration;
        for (const { tenant, uid } of objects) {
          assert.match(envelopeOf(second, tenant, uid).id, new RegExp(`^l3:${tenant}:kmip$`), 'moved to L3');
          const c = await second.connect(tenant);
          try {
            keys.set(uid, await rawKey(c, uid));
          } finally {
            await c.close();
          }
        }
        for (const t of ['alice', 'bob']) assert.deepEqual([...h.vault.envelopeKeyIds(t).keys()], [`l3:${t}:kmip`]);
      } finally {
        await second.stop();
      }
      await rm(path.join(dataDir, 'kek.key'));

      const third = await startTestServer({ dataDir });
      try {
        for (const { tenant, uid } of objects) {
          const c = await third.connect(tenant);
          try {
            const k = await rawKey(c, uid);
            assert.deepEqual(k, keys.get(uid));
          } finally {
            await c.close();
          }
        }
        const registered = objects.filter((_, i) => i % 4 === 3);
        const c = await third.connect('alice');
        try {
          assert.deepEqual(await rawKey(c, registered[0]?.uid ?? ''), new Uint8Array(known));
        } finally {
          await c.close();
        }
      } finally {
        await third.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('sealed node: KMIP answers SERVER_SEALED (Query still works) until unsealed through the operator socket', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'openkcm-sealed-'));
    try {
      const shares = await MasterKey.initShamir(dataDir, { shares: 3, threshold: 2 });
      const srv = await startTestServer({ dataDir, tenants: ['alice'] });
      try {
        const c = await srv.connect('alice', { protocolVersion: '2.1' });
        try {
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
        } finally {
          await c.close();
        }
      } finally {
        await srv.stop();
      }
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
      const srv = await startTestServer({ dataDir, tenants: ['alice'] });
      const socket = path.join(dataDir, OPERATOR_SOCKET_FILE);
      try {
        for (const share of shares.slice(0, 2)) assert.equal((await operatorPost(socket, '/v1/sys/unseal', { share })).status, 200);
        const h = hierarchyOf(srv);
        const c = await srv.connect('alice');
        try {
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
        } finally {
          await c.close();
        }
      } finally {
        await srv.stop();
      }
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

