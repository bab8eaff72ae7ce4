/**
 * NativeKekProvider (src/vault/kek.ts): the vault envelope sealed and opened through the native
 * addon (issue 3 §5), with the KEK in a locked slot. Same envelope, same errors, and the same
 * development key file as DevKekProvider, so either provider opens the other's envelopes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NativeError } from '../../src/native/index.js';
import { open, seal } from '../../src/vault/envelope.js';
import { DevKekProvider, NativeKekProvider } from '../../src/vault/kek.js';
import { kekProviderConformance } from '../conformance-suites/kek-provider.js';
import { isEnvelopeError } from '../helpers/envelope-errors.js';

const AAD = { tenant: 'acme', uid: 'u-1', version: 1 };
const secret = (): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => i);


describe('NativeKekProvider', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(tmpdir(), 'openkcm-native-kek-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('seals and opens an envelope; a changed byte or AAD is TAMPERED', async () => {
    const kek = NativeKekProvider.random('native-test');
    try {
      const env = await seal(kek, secret(), AAD);
      assert.deepEqual(new Uint8Array(await open(kek, env, AAD)), secret());
      const bad = Buffer.from(env);
      bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
      await assert.rejects(open(kek, bad, AAD), isEnvelopeError('TAMPERED'));
      await assert.rejects(open(kek, env, { ...AAD, uid: 'u-2' }), isEnvelopeError('TAMPERED'));
    } finally {
      kek.destroy();
    }
  });

  test('the development key file: same id as DevKekProvider, and each opens the other\'s envelopes', async () => {
    const file = path.join(dir, 'dev.key');
    const node = DevKekProvider.open(file);
    const native = NativeKekProvider.openDevKeyFile(file);
    try {
      assert.equal(native.id, node.id);
      assert.deepEqual(new Uint8Array(await open(native, await seal(node, secret(), AAD), AAD)), secret());
      assert.deepEqual(new Uint8Array(await open(node, await seal(native, secret(), AAD), AAD)), secret());
    } finally {
      native.destroy();
    }
  });

  test('an unknown version is WRONG_KEY; after destroy() every use fails (STALE_KEY)', async () => {
    const kek = NativeKekProvider.random('native-test', 2);
    assert.equal(kek.currentVersion, 2);
    assert.equal(kek.hasVersion(1), true);
    await assert.rejects(kek.seal(3, new Uint8Array(12), secret(), new Uint8Array(0)), isEnvelopeError('WRONG_KEY'));
    kek.destroy();
    await assert.rejects(seal(kek, secret(), AAD), (e: unknown) => e instanceof NativeError && e.code === 'STALE_KEY');
  });
});

kekProviderConformance('NativeKekProvider', {
  make: () => {
    const kek = NativeKekProvider.random('native-conformance');
    return { kek, dispose: () => { kek.destroy(); } };
  },
});
