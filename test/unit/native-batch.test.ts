/**
 * Batch forms of the native core (issue 3 §3): each batch gives exactly what N single calls give, a
 * failed item fails alone (KMIP Batch Error Continuation), and argument errors fail the whole batch.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  gcmOpen, gcmOpenBatch, gcmSeal, gcmSealBatch, initNative, keyUnwrapBatch, keyWrap, keyWrapBatch, NativeArgumentError, NativeError,
  nativeInfo, nativeLimits, openKey, openKeyBatch, SecureKey, sealKey, sealKeyBatch, unwrapKeyBatch, wrapKey, wrapKeyBatch,
} from '../../src/native/index.js';

initNative({ allowUnlocked: true });

const isErr = (code: string) => (r: unknown): boolean => r instanceof NativeError && r.code === code;

describe('AES-GCM batches', () => {
  test('seal batch equals single seals (mixed keys, AAD, lengths incl. empty); open batch inverts it', () => {
    const keys = [SecureKey.generate(32), SecureKey.generate(16), SecureKey.generate(24)];
    const items = Array.from({ length: 64 }, (_, i) => ({
      key: keys[i % 3]!,
      iv: randomBytes(12),
      plaintext: randomBytes(i % 5 === 0 ? 0 : i),
      ...(i % 2 === 0 ? { aad: randomBytes(i % 9) } : {}),
    }));
    const sealed = gcmSealBatch(items);
    assert.equal(sealed.length, 64);
    sealed.forEach((s, i) => {
      const it = items[i]!;
      assert.ok(s instanceof Uint8Array);
      assert.deepEqual(Buffer.from(s), Buffer.from(gcmSeal(it.key, it.iv, it.plaintext, it.aad)), `item ${i}`);
    });
    const opened = gcmOpenBatch(items.map((it, i) => ({ key: it.key, iv: it.iv, sealed: sealed[i] as Uint8Array, ...(it.aad === undefined ? {} : { aad: it.aad }) })));
    opened.forEach((p, i) => { assert.deepEqual(Buffer.from(p as Uint8Array), Buffer.from(items[i]!.plaintext), `item ${i}`); });
    for (const k of keys) k.destroy();
  });

  test('a tampered item and a destroyed key fail alone; the others open', () => {
    const k = SecureKey.generate(32);
    const gone = SecureKey.generate(32);
    const ivs = [randomBytes(12), randomBytes(12), randomBytes(12)];
    const pts = [Buffer.from('a'), Buffer.from('bb'), Buffer.from('ccc')];
    const sealed = pts.map((p, i) => Buffer.from(gcmSeal(k, ivs[i]!, p)));
    sealed[1]![0]! ^= 1;
    const goneSealed = gcmSeal(gone, ivs[0]!, pts[0]!);
    gone.destroy();
    const r = gcmOpenBatch([
      { key: k, iv: ivs[0]!, sealed: sealed[0]! },
      { key: k, iv: ivs[1]!, sealed: sealed[1]! },
      { key: gone, iv: ivs[0]!, sealed: goneSealed },
      { key: k, iv: ivs[2]!, sealed: sealed[2]! },
    ]);
    assert.deepEqual(Buffer.from(r[0] as Uint8Array), pts[0]);
    assert.ok(isErr('AUTHENTICATION_FAILED')(r[1]));
    assert.ok(isErr('STALE_KEY')(r[2]));
    assert.deepEqual(Buffer.from(r[3] as Uint8Array), pts[2]);
    k.destroy();
  });

  test('argument errors fail the whole batch before anything runs', () => {
    const k = SecureKey.generate(32);
    assert.throws(() => gcmSealBatch([{ key: k, iv: new Uint8Array(16), plaintext: new Uint8Array(1) }]), (e: unknown) => e instanceof NativeArgumentError && /items\[0\]\.iv must be exactly 12 bytes long, got 16/.test(e.message));
    assert.throws(() => gcmOpenBatch([{ key: k, iv: new Uint8Array(12), sealed: new Uint8Array(3) }]), (e: unknown) => e instanceof TypeError && /items\[0\]\.sealed/.test(e.message));
    const tooMany = Array.from({ length: nativeLimits.MAX_BATCH_ITEMS + 1 }, () => ({ key: k, iv: new Uint8Array(12), plaintext: new Uint8Array(0) }));
    assert.throws(() => gcmSealBatch(tooMany), (e: unknown) => e instanceof TypeError && /at most 4096 items \(MAX_BATCH_ITEMS\), got 4097/.test(e.message));
    assert.equal(gcmSealBatch(tooMany.slice(0, nativeLimits.MAX_BATCH_ITEMS)).length, nativeLimits.MAX_BATCH_ITEMS, 'exactly at the limit');
    assert.deepEqual(gcmSealBatch([]), []);
    k.destroy();
  });
});

describe('key wrap batches', () => {
  for (const mode of ['rfc3394', 'rfc5649'] as const) {
    test(`${mode}: wrap/unwrap batches equal single calls; a corrupt item fails alone`, () => {
      const kek = SecureKey.generate(32);
      const data = Array.from({ length: 64 }, (_, i) => randomBytes(mode === 'rfc3394' ? 16 + 8 * (i % 3) : 1 + i));
      const wrapped = keyWrapBatch(data.map((d) => ({ kek, data: d })), mode);
      wrapped.forEach((w, i) => { assert.deepEqual(Buffer.from(w as Uint8Array), Buffer.from(keyWrap(kek, data[i]!, mode))); });
      const corrupt = Buffer.from(wrapped[5] as Uint8Array);
      corrupt[0]! ^= 1;
      const items = wrapped.map((w, i) => ({ kek, wrapped: i === 5 ? corrupt : (w as Uint8Array) }));
      const back = keyUnwrapBatch(items, mode);
      back.forEach((b, i) => {
        if (i === 5) assert.ok(isErr('AUTHENTICATION_FAILED')(b));
        else assert.deepEqual(Buffer.from(b as Uint8Array), data[i]);
      });
      // Slot to slot: the same wrapped forms, and keys that export to the same bytes.
      const targets = data.slice(0, 8).map((d) => SecureKey.import(Buffer.from(d)));
      const w2 = wrapKeyBatch(targets.map((target) => ({ kek, target })), mode);
      w2.forEach((w, i) => { assert.deepEqual(Buffer.from(w as Uint8Array), Buffer.from(wrapped[i] as Uint8Array)); });
      const keys = unwrapKeyBatch(w2.map((w) => ({ kek, wrapped: w as Uint8Array })), mode);
      keys.forEach((k, i) => {
        assert.ok(k instanceof SecureKey);
        assert.deepEqual(Buffer.from(k.export()), data[i]);
        k.destroy();
      });
      for (const t of targets) t.destroy();
      kek.destroy();
    });
  }
});

describe('slot-to-slot GCM seal/open batches (the envelope form)', () => {
  test('seal batch equals sealKey; open batch gives keys with the same bytes; a wrong AAD fails alone', () => {
    const kek = SecureKey.generate(32);
    const targets = Array.from({ length: 16 }, () => SecureKey.generate(32));
    const ivs = targets.map(() => randomBytes(12));
    const aads = targets.map((_, i) => Buffer.from(`tenant=t;uid=${i};v=1`));
    const sealed = sealKeyBatch(targets.map((target, i) => ({ kek, target, iv: ivs[i]!, aad: aads[i]! })));
    sealed.forEach((s, i) => { assert.deepEqual(Buffer.from(s as Uint8Array), Buffer.from(sealKey(kek, targets[i]!, ivs[i]!, aads[i]))); });
    const before = nativeInfo().slotsInUse;
    const opened = openKeyBatch(sealed.map((s, i) => ({ kek, iv: ivs[i]!, sealed: s as Uint8Array, aad: i === 3 ? Buffer.from('moved') : aads[i]! })));
    assert.equal(nativeInfo().slotsInUse, before + 15, 'the failed item holds no slot');
    opened.forEach((k, i) => {
      if (i === 3) {
        assert.ok(isErr('AUTHENTICATION_FAILED')(k));
        return;
      }
      assert.ok(k instanceof SecureKey);
      assert.deepEqual(Buffer.from(k.export()), Buffer.from(targets[i]!.export()));
      // The opened key works as a key: what it seals, the original opens.
      const iv = randomBytes(12);
      assert.deepEqual(Buffer.from(gcmOpen(targets[i]!, iv, gcmSeal(k, iv, Buffer.from('x')))), Buffer.from('x'));
      k.destroy();
    });
    const single = openKey(kek, ivs[0]!, sealed[0] as Uint8Array, aads[0]);
    assert.deepEqual(single.export(), targets[0]!.export());
    single.destroy();
    assert.throws(() => wrapKey(kek, kek, 'rfc5649'), TypeError);
    for (const t of targets) t.destroy();
    kek.destroy();
  });
});
