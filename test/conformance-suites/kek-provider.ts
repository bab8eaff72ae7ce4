/**
 * One conformance suite for every KekProvider (src/vault/kek.ts: the contract in the interface's comment), the way
 * HashiCorp Vault walks every seal through one lifecycle test. Each implementation's test file calls
 * {@link kekProviderConformance} with a factory; the suite checks, through the envelope (src/vault/envelope.ts) and
 * the raw primitive:
 * - the identity contract (id, currentVersion, hasVersion);
 * - seal/open round trips, and concurrent ones;
 * - refusals from the error catalog: another key is WRONG_KEY, a changed byte or AAD is TAMPERED, a bad nonce is
 *   KekError INVALID_ARGUMENT, an unknown version is WRONG_KEY, and errors reject rather than throw;
 * - openSync, when offered: the same plaintext, errors thrown synchronously;
 * - wipe after use: the plaintext returned is a fresh buffer the caller owns (wiping it changes nothing else),
 *   and the caller may wipe its input right after seal;
 * - the seal counter: exactly the limit of seals succeed, the next is EnvelopeError KEY_EXHAUSTED, opens go on.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { open, parseEnvelope, seal } from '../../src/vault/envelope.js';
import type { EnvelopeAad } from '../../src/vault/envelope.js';
import { EnvelopeError, KekError } from '../../src/vault/errors.js';
import { GCM_NONCE_BYTES, MAX_KEK_ID_BYTES } from '../../src/vault/kek.js';
import type { KekProvider } from '../../src/vault/kek.js';
import { gcmSealLimit, setGcmSealLimit } from '../../src/vault/seal-counter.js';
import { isEnvelopeError, isKekError } from '../helpers/envelope-errors.js';

export interface KekUnderTest {
  readonly kek: KekProvider;
  /** Releases what the provider holds (slots, files). */
  readonly dispose?: () => void | Promise<void>;
}

export interface KekProviderFactory {
  /** A provider with a FRESH key (its seal count at 0). */
  make(): KekUnderTest | Promise<KekUnderTest>;
}

const AAD: EnvelopeAad = { tenant: 'acme', uid: 'conformance-1', version: 1 };
const SIZES = [0, 1, 32, 4096] as const;
const CONCURRENT_SEALS = 64;

async function withKek(factory: KekProviderFactory, body: (kek: KekProvider) => Promise<void>): Promise<void> {
  const { kek, dispose } = await factory.make();
  try {
    await body(kek);
  } finally {
    await dispose?.();
  }
}

function plaintext(n: number, seed = 7): Buffer {
  return Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
}

/** Every error a provider raises is in the vault's catalog. */
function inCatalog(e: unknown): boolean {
  assert.ok(e instanceof EnvelopeError || e instanceof KekError, `not a catalog error: ${String(e)}`);
  return true;
}

export function kekProviderConformance(name: string, factory: KekProviderFactory): void {
  describe(`KekProvider conformance: ${name}`, () => {
    test('identity: a non-empty id of at most 255 bytes, a uint32 current version it holds, no version 0', async () => {
      await withKek(factory, async (kek) => {
        const idBytes = Buffer.byteLength(kek.id, 'utf8');
        assert.ok(idBytes >= 1 && idBytes <= MAX_KEK_ID_BYTES);
        assert.ok(Number.isInteger(kek.currentVersion) && kek.currentVersion >= 1 && kek.currentVersion <= 0xffffffff);
        assert.equal(kek.hasVersion(kek.currentVersion), true);
        assert.equal(kek.hasVersion(0), false);
        assert.equal(kek.hasVersion(kek.currentVersion + 1000), false);
        await Promise.resolve();
      });
    });

    test('round trip through the envelope for 0, 1, 32 and 4096 bytes; the header names the provider', async () => {
      await withKek(factory, async (kek) => {
        for (const n of SIZES) {
          const env = await seal(kek, plaintext(n), AAD);
          const h = parseEnvelope(env);
          assert.equal(h.keyId, kek.id);
          assert.equal(h.keyVersion, kek.currentVersion);
          assert.deepEqual(await open(kek, env, AAD), plaintext(n));
        }
      });
    });

    test('another key is WRONG_KEY; a changed byte of nonce, ciphertext or tag, or another AAD, is TAMPERED', async () => {
      await withKek(factory, async (kek) => {
        await withKek(factory, async (other) => {
          const env = await seal(kek, plaintext(32), AAD);
          if (other.id !== kek.id) await assert.rejects(open(other, env, AAD), isEnvelopeError('WRONG_KEY'));
          else await assert.rejects(open(other, env, AAD), isEnvelopeError('TAMPERED'));
          const h = parseEnvelope(env);
          for (const at of [h.headerLength - 1, h.headerLength, env.length - 1]) {
            const bad = Buffer.from(env);
            bad[at] = (bad[at] ?? 0) ^ 0x01;
            await assert.rejects(open(kek, bad, AAD), isEnvelopeError('TAMPERED'));
          }
          await assert.rejects(open(kek, env, { ...AAD, uid: 'conformance-2' }), isEnvelopeError('TAMPERED'));
          await assert.rejects(open(kek, env, { ...AAD, version: 2 }), isEnvelopeError('TAMPERED'));
        });
      });
    });

    test('catalog errors, rejected not thrown: unknown version WRONG_KEY, bad nonce INVALID_ARGUMENT, short input MALFORMED', async () => {
      await withKek(factory, async (kek) => {
        const missing = kek.currentVersion + 1000;
        const nonce = Buffer.alloc(GCM_NONCE_BYTES);
        let p = kek.open(missing, nonce, Buffer.alloc(32), Buffer.alloc(0));
        await assert.rejects(p, isEnvelopeError('WRONG_KEY'));
        p = kek.seal(missing, nonce, Buffer.alloc(32), Buffer.alloc(0));
        await assert.rejects(p, isEnvelopeError('WRONG_KEY'));
        p = kek.seal(kek.currentVersion, Buffer.alloc(8), Buffer.alloc(32), Buffer.alloc(0));
        await assert.rejects(p, isKekError('INVALID_ARGUMENT'));
        p = kek.open(kek.currentVersion, nonce, Buffer.alloc(4), Buffer.alloc(0));
        await assert.rejects(p, (e: unknown) => inCatalog(e) && (e as EnvelopeError).code === 'MALFORMED');
      });
    });

    test('openSync, when offered: the same plaintext as open, and its errors thrown synchronously', async () => {
      await withKek(factory, async (kek) => {
        if (kek.openSync === undefined) return;
        const nonce = Buffer.alloc(GCM_NONCE_BYTES, 3);
        const aad = Buffer.from('conformance aad');
        const sealed = await kek.seal(kek.currentVersion, nonce, plaintext(48), aad);
        assert.deepEqual(kek.openSync(kek.currentVersion, nonce, sealed, aad), plaintext(48));
        assert.deepEqual(await kek.open(kek.currentVersion, nonce, sealed, aad), plaintext(48));
        const bad = Buffer.from(sealed);
        bad[0] = (bad[0] ?? 0) ^ 1;
        assert.throws(() => kek.openSync?.(kek.currentVersion, nonce, bad, aad), isEnvelopeError('TAMPERED'));
        assert.throws(() => kek.openSync?.(kek.currentVersion + 1000, nonce, sealed, aad), isEnvelopeError('WRONG_KEY'));
      });
    });

    test('wipe after use: the caller may wipe its input after seal and its output after open; nothing else changes', async () => {
      await withKek(factory, async (kek) => {
        const input = plaintext(64);
        const env = await seal(kek, input, AAD);
        input.fill(0);
        const first = await open(kek, env, AAD);
        assert.deepEqual(first, plaintext(64));
        first.fill(0);
        const second = await open(kek, env, AAD);
        assert.deepEqual(second, plaintext(64), 'a wiped output must not be shared with a later open');
        second.fill(0);
      });
    });

    test(`${String(CONCURRENT_SEALS)} concurrent seals and opens: distinct nonces, every plaintext back`, async () => {
      await withKek(factory, async (kek) => {
        const envs = await Promise.all(Array.from({ length: CONCURRENT_SEALS }, (_, i) => seal(kek, plaintext(40, i), { ...AAD, uid: `c-${String(i)}` })));
        assert.equal(new Set(envs.map((e) => parseEnvelope(e).nonce.toString('hex'))).size, CONCURRENT_SEALS);
        const back = await Promise.all(envs.map((e, i) => open(kek, e, { ...AAD, uid: `c-${String(i)}` })));
        back.forEach((b, i) => { assert.deepEqual(b, plaintext(40, i)); });
      });
    });

    test('seal counter: at the limit every seal succeeds, one past it is KEY_EXHAUSTED, opening goes on (NIST SP 800-38D §8.3)', async () => {
      const saved = gcmSealLimit();
      const LIMIT = 5;
      setGcmSealLimit(LIMIT);
      try {
        await withKek(factory, async (kek) => {
          const envs: Buffer[] = [];
          for (let i = 0; i < LIMIT; i++) envs.push(await seal(kek, plaintext(16, i), AAD));
          await assert.rejects(seal(kek, plaintext(16), AAD), isEnvelopeError('KEY_EXHAUSTED'));
          await assert.rejects(seal(kek, plaintext(16), AAD), isEnvelopeError('KEY_EXHAUSTED'));
          for (const [i, e] of envs.entries()) assert.deepEqual(await open(kek, e, AAD), plaintext(16, i));
        });
      } finally {
        setGcmSealLimit(saved);
      }
    });
  });
}
