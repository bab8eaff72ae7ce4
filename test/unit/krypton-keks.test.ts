/**
 * Krypton's KEK providers through the one KEK provider conformance suite (test/conformance-suites/kek-provider.ts):
 * a tenant's L3 keyring (src/krypton/tenant-keyring.ts) and the MasterKey's KEK (src/krypton/master-kek.ts). Then the
 * seal counters that outlive one provider object: the MasterKey's count persists in seal.json across a restart, and
 * an L2 slot refuses to seal L3 blobs past the limit (src/vault/seal-counter.ts, NIST SP 800-38D §8.3).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sealL3 } from '../../src/krypton/hierarchy-blobs.js';
import { MasterKek } from '../../src/krypton/master-kek.js';
import { MasterKey, SEAL_FILE } from '../../src/krypton/master-key.js';
import { TenantKeyring } from '../../src/krypton/tenant-keyring.js';
import { SecureKey } from '../../src/native/index.js';
import { gcmSealLimit, GCM_RANDOM_NONCE_INVOCATION_LIMIT, SealCounter, setGcmSealLimit } from '../../src/vault/seal-counter.js';
import { kekProviderConformance } from '../conformance-suites/kek-provider.js';
import { isEnvelopeError } from '../helpers/envelope-errors.js';

kekProviderConformance('TenantKeyring (L3)', {
  make: () => {
    const ring = new TenantKeyring('acme', 'kmip', () => new Error('blocked'));
    ring.install(1, SecureKey.generate(32));
    ring.setCurrent(1);
    return { kek: ring, dispose: () => { ring.zeroise(() => new Error('disposed')); } };
  },
});

kekProviderConformance('MasterKek (MasterKey)', {
  make: () => {
    const key = SecureKey.generate(32);
    return { kek: new MasterKek(key), dispose: () => { key.destroy(); } };
  },
});

/** Runs `body` with the process's seal limit at `limit`, restored afterwards. */
async function withSealLimit(limit: number, body: () => Promise<void>): Promise<void> {
  const saved = gcmSealLimit();
  setGcmSealLimit(limit);
  try {
    await body();
  } finally {
    setGcmSealLimit(saved);
  }
}

describe('seal counters', () => {
  test('the limit is 2^32 by default, settable in 1..2^32 only', () => {
    assert.equal(GCM_RANDOM_NONCE_INVOCATION_LIMIT, 2 ** 32);
    assert.equal(gcmSealLimit(), 2 ** 32);
    for (const bad of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) assert.throws(() => { setGcmSealLimit(bad); }, RangeError);
    setGcmSealLimit(1);
    setGcmSealLimit();
    assert.equal(gcmSealLimit(), 2 ** 32);
  });

  test('a counter at the limit refuses, counts nothing more, and names the key', async () => {
    await withSealLimit(3, () => {
      const c = new SealCounter("'k' v1", 1);
      c.take();
      c.take();
      assert.throws(() => { c.take(); }, (e: unknown) => isEnvelopeError('KEY_EXHAUSTED')(e) && /'k' v1/.test((e as Error).message));
      assert.equal(c.count, 3);
      return Promise.resolve();
    });
  });

  test('the MasterKey count persists in seal.json: exhausted before a restart is exhausted after it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-mk-seals-'));
    try {
      await withSealLimit(4, async () => {
        const mk = await MasterKey.open(dir);
        assert.equal(mk.sealCount, 1, 'the check value is the first seal');
        await mk.secrets.put('a', Buffer.from('1'));
        await mk.secrets.put('b', Buffer.from('2'));
        await mk.secrets.put('c', Buffer.from('3'));
        assert.equal((JSON.parse(readFileSync(path.join(dir, SEAL_FILE), 'utf8')) as { seals: number }).seals, 4);
        await assert.rejects(mk.secrets.put('d', Buffer.from('4')), isEnvelopeError('KEY_EXHAUSTED'));
        mk.seal();
        const again = await MasterKey.open(dir);
        assert.equal(again.sealCount, 4);
        await assert.rejects(again.secrets.put('d', Buffer.from('4')), isEnvelopeError('KEY_EXHAUSTED'));
        assert.deepEqual(await again.secrets.get('c'), Buffer.from('3'));
        again.seal();
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a seal.json written before the counter (no `seals`) opens, counts from 0, and keeps its secrets', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-mk-old-seal-'));
    try {
      const mk = await MasterKey.open(dir);
      await mk.secrets.put('before', Buffer.from('kept'));
      mk.seal();
      const file = path.join(dir, SEAL_FILE);
      const old = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      delete old['seals'];
      writeFileSync(file, JSON.stringify(old, null, 2) + '\n', { mode: 0o600 });
      const again = await MasterKey.open(dir);
      assert.equal(again.sealCount, 0);
      assert.deepEqual(await again.secrets.get('before'), Buffer.from('kept'));
      await again.secrets.put('after', Buffer.from('x'));
      assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { seals: number }).seals, 1);
      again.seal();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an L2 slot seals L3 blobs up to the limit, and refuses the next', async () => {
    await withSealLimit(2, () => {
      const l2 = SecureKey.generate(32);
      const l3 = SecureKey.generate(32);
      try {
        sealL3('acme', l2, 1, l3, 'kmip', 1);
        sealL3('acme', l2, 1, l3, 'kmip', 2);
        assert.throws(() => sealL3('acme', l2, 1, l3, 'kmip', 3), isEnvelopeError('KEY_EXHAUSTED'));
      } finally {
        l2.destroy();
        l3.destroy();
      }
      return Promise.resolve();
    });
  });
});
