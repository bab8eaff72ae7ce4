/**
 * Key wrapping on Get (issue 20) through the real server over mutual TLS with our own client (getWrapped): a
 * Sensitive key is refused plain and fetched wrapped under another key the client holds on the server; the wrapped
 * bytes unwrap (node:crypto id-aes256-wrap, independent of the server) to the key that Encrypt uses; another tenant
 * cannot wrap under it (Wrapping Object Not Found, as for a key that does not exist). KMIP 2.1 and 1.4.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import { decodeKeyWrappingData } from '../../src/kmip/payloads/key-wrapping.js';
import type { KeyWrappingSpecification } from '../../src/kmip/payloads/key-wrapping.js';
import { keyBlockBytes } from '../../src/kmip/payloads/objects.js';
import type { ManagedObject } from '../../src/kmip/payloads/objects.js';
import {
  BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, EncodingOption, ResultReason, Tag, WrappingMethod,
} from '../../src/kmip/registry.js';
import { enumeration } from '@openkcm/ttlv';
import type { KmipClient } from '../../src/client/client.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const U = CryptographicUsageMask;

async function reason(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof KmipResultError, `expected a KMIP failure, got ${String(e)}`);
    return e.resultReason;
  }
  assert.fail('the operation succeeded');
}

function keyBytes(o: ManagedObject): Uint8Array {
  assert.ok('keyBlock' in o);
  const b = keyBlockBytes(o.keyBlock);
  assert.ok(b !== undefined);
  return b;
}

for (const version of ['2.1', '1.4'] as const) {
  describe(`key wrapping on Get over mTLS, KMIP ${version}`, () => {
    let srv: TestServer;
    let alice: KmipClient;
    let bob: KmipClient;
    let kek: string;
    let spec: KeyWrappingSpecification;

    before(async () => {
      srv = await startTestServer({ tenants: ['alice', 'bob'] });
      alice = await srv.connect('alice', { protocolVersion: version });
      bob = await srv.connect('bob', { protocolVersion: version });
      kek = await alice.createSymmetricKey({
        algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: U.WrapKey | U.UnwrapKey,
        attributes: [makeAttribute('Cryptographic Parameters', [enumeration(Tag.BlockCipherMode, BlockCipherMode.NISTKeyWrap)])],
      });
      await alice.activate(kek);
      spec = { wrappingMethod: WrappingMethod.Encrypt, encryptionKeyInformation: { uniqueIdentifier: kek }, encodingOption: EncodingOption.NoEncoding };
    });
    after(async () => {
      await alice.close();
      await bob.close();
      await srv.stop();
    });

    test('a Sensitive key is refused plain and fetched wrapped; the KEK unwraps it to the key Encrypt uses', async () => {
      const dek = await alice.createSymmetricKey({
        algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: U.Encrypt | U.Decrypt, attributes: [makeAttribute('Sensitive', true)],
      });
      assert.equal(await reason(alice.get(dek)), ResultReason.Sensitive);
      const got = await alice.getWrapped(dek, spec);
      assert.ok('keyBlock' in got.object);
      const kb = got.object.keyBlock;
      assert.ok(kb.keyValue?.kind === 'wrapped');
      assert.equal(kb.keyValue.bytes.length, 40);
      assert.ok(kb.keyWrappingData !== undefined);
      const kwd = decodeKeyWrappingData(kb.keyWrappingData, alice.protocolVersion);
      assert.equal(kwd.wrappingMethod, WrappingMethod.Encrypt);
      assert.equal(kwd.encryptionKeyInformation?.uniqueIdentifier, kek);
      assert.equal(kwd.encryptionKeyInformation.cryptographicParameters?.blockCipherMode, BlockCipherMode.NISTKeyWrap);
      assert.equal(kwd.encodingOption, EncodingOption.NoEncoding);
      const kekBytes = keyBytes((await alice.get(kek)).object);
      const d = createDecipheriv('id-aes256-wrap', kekBytes, Buffer.from('a6a6a6a6a6a6a6a6', 'hex'));
      const plain = Buffer.concat([d.update(kb.keyValue.bytes), d.final()]);
      await alice.activate(dek);
      const block = new Uint8Array(16).fill(0x5a);
      const enc = await alice.encrypt({ uniqueIdentifier: dek, cryptographicParameters: { blockCipherMode: BlockCipherMode.ECB }, data: block });
      assert.deepEqual(Buffer.from(enc.data ?? []), createCipheriv('aes-256-ecb', plain, null).setAutoPadding(false).update(block));
    });

    test('another tenant cannot wrap under the key: Wrapping Object Not Found (1.x Item Not Found)', async () => {
      const his = await bob.createSymmetricKey({ algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: U.Encrypt });
      const expected = version === '2.1' ? ResultReason.WrappingObjectNotFound : ResultReason.ItemNotFound;
      assert.equal(await reason(bob.getWrapped(his, spec)), expected);
      assert.equal(await reason(bob.getWrapped(his, { ...spec, encryptionKeyInformation: { uniqueIdentifier: '00000000-0000-4000-8000-000000000000' } })), expected);
    });
  });
}
