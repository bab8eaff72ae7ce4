/**
 * The envelope (src/vault/envelope.ts, ARCHITECTURE §2) and its KEK primitive: round trip,
 * identity binding through the AAD, and the typed failures (wrong key, tampered, unknown version).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { encodeAadIdentity, envelopeOverhead, ENVELOPE_FORMAT_V1, open, parseEnvelope, seal } from '../../src/vault/envelope.js';
import type { EnvelopeAad } from '../../src/vault/envelope.js';
import { KekError } from '../../src/vault/errors.js';
import { NodeCryptoKekProvider } from '../../src/vault/kek.js';
import { isEnvelopeError } from '../helpers/envelope-errors.js';

const AAD: EnvelopeAad = { tenant: 'acme', uid: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', version: 1 };
const KEY = Buffer.alloc(32, 0x42);


describe('envelope layout', () => {
  test('header fields sit where docs/vault.md says', async () => {
    const kek = new NodeCryptoKekProvider('kek-a', new Map([[7, KEY]]), 7);
    const pt = Buffer.from('sixteen byte key');
    const env = await seal(kek, pt, AAD);
    assert.equal(env[0], ENVELOPE_FORMAT_V1);
    assert.equal(env[1], 5);
    assert.equal(env.toString('utf8', 2, 7), 'kek-a');
    assert.equal(env.readUInt32BE(7), 7);
    assert.equal(env.length, pt.length + envelopeOverhead(5));
    const h = parseEnvelope(env);
    assert.deepEqual({ v: h.formatVersion, id: h.keyId, kv: h.keyVersion, hl: h.headerLength, n: h.nonce.length }, { v: 1, id: 'kek-a', kv: 7, hl: 23, n: 12 });
    // The tag and ciphertext are plain AES-256-GCM with AAD = header ‖ identity: decrypt independently.
    const d = createDecipheriv('aes-256-gcm', KEY, h.nonce);
    d.setAAD(Buffer.concat([env.subarray(0, 23), encodeAadIdentity(AAD)]));
    d.setAuthTag(env.subarray(env.length - 16));
    assert.deepEqual(Buffer.concat([d.update(env.subarray(23, env.length - 16)), d.final()]), pt);
  });

  test('AAD identity encoding is length-prefixed and labelled', () => {
    const a = encodeAadIdentity({ tenant: 'ab', uid: 'c', version: 258 });
    assert.equal(a.toString('hex'), Buffer.from('openkcm/envelope/v1\0').toString('hex') + '0002' + '6162' + '0001' + '63' + '00000102');
    assert.notDeepEqual(encodeAadIdentity({ tenant: 'ab', uid: 'c', version: 1 }), encodeAadIdentity({ tenant: 'a', uid: 'bc', version: 1 }));
  });

  test('every seal uses a fresh nonce', async () => {
    const kek = NodeCryptoKekProvider.random('k');
    const nonces = new Set<string>();
    for (let i = 0; i < 200; i++) nonces.add(parseEnvelope(await seal(kek, KEY, AAD)).nonce.toString('hex'));
    assert.equal(nonces.size, 200);
  });
});

describe('envelope open', () => {
  test('round trip, including empty plaintext and 64 KiB', async () => {
    const kek = NodeCryptoKekProvider.random('k');
    for (const pt of [Buffer.alloc(0), KEY, Buffer.alloc(65536, 7)]) {
      assert.deepEqual(await open(kek, await seal(kek, pt, AAD), AAD), pt);
    }
  });

  test('a blob bound to another tenant, uid or version fails with TAMPERED', async () => {
    const kek = NodeCryptoKekProvider.random('k');
    const env = await seal(kek, KEY, AAD);
    for (const other of [{ ...AAD, tenant: 'acme2' }, { ...AAD, uid: AAD.uid.replace('5b', '5c') }, { ...AAD, version: 2 }]) {
      await assert.rejects(open(kek, env, other), isEnvelopeError('TAMPERED'));
    }
  });

  test('flipping any bit of nonce, ciphertext or tag fails with TAMPERED; of the key id with WRONG_KEY', async () => {
    const kek = NodeCryptoKekProvider.random('kid');
    const env = await seal(kek, KEY, AAD);
    const h = parseEnvelope(env);
    for (let i = 2; i < env.length; i++) {
      const t = Buffer.from(env);
      t[i] = (t[i] ?? 0) ^ 0x01;
      const expected = i < 2 + h.keyId.length + 4 ? 'WRONG_KEY' : 'TAMPERED';
      await assert.rejects(open(kek, t, AAD), isEnvelopeError(expected), `byte ${i}`);
    }
  });

  test('unknown format version', async () => {
    const kek = NodeCryptoKekProvider.random('k');
    const env = await seal(kek, KEY, AAD);
    env[0] = 0x02;
    await assert.rejects(open(kek, env, AAD), isEnvelopeError('UNKNOWN_VERSION'));
    assert.throws(() => parseEnvelope(Buffer.from([0x00])), isEnvelopeError('UNKNOWN_VERSION'));
  });

  test('truncated envelopes are MALFORMED', async () => {
    const kek = NodeCryptoKekProvider.random('k');
    const env = await seal(kek, Buffer.alloc(0), AAD);
    await assert.rejects(open(kek, Buffer.alloc(0), AAD), isEnvelopeError('MALFORMED'));
    await assert.rejects(open(kek, env.subarray(0, 1), AAD), isEnvelopeError('MALFORMED'));
    await assert.rejects(open(kek, env.subarray(0, env.length - 1), AAD), isEnvelopeError('MALFORMED'));
    const noId = Buffer.from(env);
    noId[1] = 0;
    await assert.rejects(open(kek, noId, AAD), isEnvelopeError('MALFORMED'));
  });

  test('another KEK (different id) is WRONG_KEY; same id but different key bytes is TAMPERED', async () => {
    const a = NodeCryptoKekProvider.random('kek-a');
    const env = await seal(a, KEY, AAD);
    await assert.rejects(open(NodeCryptoKekProvider.random('kek-b'), env, AAD), isEnvelopeError('WRONG_KEY'));
    await assert.rejects(open(NodeCryptoKekProvider.random('kek-a'), env, AAD), isEnvelopeError('TAMPERED'));
  });

  test('rotation: new seals use the current version, old versions still open, dropped ones are WRONG_KEY', async () => {
    const v1 = Buffer.alloc(32, 1);
    const v2 = Buffer.alloc(32, 2);
    const old = new NodeCryptoKekProvider('lineage', new Map([[1, v1]]), 1);
    const sealedV1 = await seal(old, KEY, AAD);
    const rotated = new NodeCryptoKekProvider('lineage', new Map([[1, v1], [2, v2]]), 2);
    const sealedV2 = await seal(rotated, KEY, AAD);
    assert.equal(parseEnvelope(sealedV2).keyVersion, 2);
    assert.deepEqual(await open(rotated, sealedV1, AAD), KEY);
    const dropped = new NodeCryptoKekProvider('lineage', new Map([[2, v2]]), 2);
    await assert.rejects(open(dropped, sealedV1, AAD), isEnvelopeError('WRONG_KEY'));
    assert.deepEqual(await open(dropped, sealedV2, AAD), KEY);
  });

  test('the provider refuses bad keys, versions and ids', () => {
    assert.throws(() => new NodeCryptoKekProvider('k', new Map([[1, Buffer.alloc(16)]]), 1), KekError);
    assert.throws(() => new NodeCryptoKekProvider('k', new Map([[1, KEY]]), 2), KekError);
    assert.throws(() => new NodeCryptoKekProvider('k', new Map([[0, KEY]]), 0), KekError);
    assert.throws(() => new NodeCryptoKekProvider('', new Map([[1, KEY]]), 1), KekError);
    assert.throws(() => new NodeCryptoKekProvider('x'.repeat(256), new Map([[1, KEY]]), 1), KekError);
  });

  test('provider errors reject the promise (never throw synchronously)', async () => {
    const kek = NodeCryptoKekProvider.random('k');
    const p = kek.open(9, Buffer.alloc(12), Buffer.alloc(32), Buffer.alloc(0));
    await assert.rejects(p, isEnvelopeError('WRONG_KEY'));
  });
});
