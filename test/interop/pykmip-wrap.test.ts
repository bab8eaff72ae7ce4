/**
 * Key wrapping on Get (issue 20) requested by PyKMIP's real client (python3-pykmip 0.10, ProxyKmipClient.get with
 * key_wrapping_specification) at 1.0 to 2.0 (test/interop/pykmip_wrap_driver.py). PyKMIP registers a key of known
 * bytes and asks for it wrapped under a KEK our client made in the same tenant (Wrap Key, Cryptographic Parameters
 * NIST Key Wrap, No Encoding).
 *
 * What PyKMIP 0.10 does with the answer: it cannot read it. Its KeyBlock.read always reads the Key Value as a
 * Structure, while KMIP 1.4 §2.1.3 / 2.1 Table 12 make a wrapped Key Value a Byte String, as the 2.0 test-case note
 * TC-SENSITIVE-1-20 expects (PyKMIP's own server puts the wrapped bytes in Key Value / Key Material instead). So the
 * test pins that known quirk (a decode error on the Byte String, ReadValueError "expected 1, received 8"), shows that
 * the server read PyKMIP's Key Wrapping Specification (an unknown KEK gets the catalog's wrapping-key reason), and
 * checks with our client that the key PyKMIP registered is answered as RFC 3394 §4.6 wraps it. If PyKMIP learns to
 * read the Byte String, the quirk assertion fails and says so.
 *
 * If python3-pykmip is missing the test FAILS with the package to install (no silent skip).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { enumeration } from '@openkcm/ttlv';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import { BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, EncodingOption, ObjectType, Tag, WrappingMethod } from '../../src/kmip/registry.js';
import { assertPyKmipInstalled, driverStep as step, runStepDriver } from '../helpers/pykmip.js';
import { interopScript } from '../helpers/repo.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0'] as const;
const RUN_TIMEOUT_MS = 60_000;
const TENANT = 'pywrap';
const DRIVER = interopScript('pykmip_wrap_driver.py');
// RFC 3394 §4.6.
const KEK = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const KEY = '00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f';
const WRAPPED = '28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21';


describe('PyKMIP client: Get with a Key Wrapping Specification', () => {
  let srv: TestServer;
  let kek: string;
  before(async () => {
    assertPyKmipInstalled();
    srv = await startTestServer({ tenants: [TENANT] });
    const c = await srv.connect(TENANT, { protocolVersion: '2.1' });
    try {
      const r = await c.register({
        objectType: ObjectType.SymmetricKey,
        attributes: [
          makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES),
          makeAttribute('Cryptographic Usage Mask', CryptographicUsageMask.WrapKey | CryptographicUsageMask.UnwrapKey),
          makeAttribute('Cryptographic Parameters', [enumeration(Tag.BlockCipherMode, BlockCipherMode.NISTKeyWrap)]),
        ],
        object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(Buffer.from(KEK, 'hex'), { cryptographicAlgorithm: CryptographicAlgorithm.AES }) },
      });
      kek = r.uniqueIdentifier;
      await c.activate(kek);
    } finally {
      await c.close();
    }
  });
  after(async () => { await srv.stop(); });

  for (const version of VERSIONS) {
    test(`KMIP ${version}: PyKMIP asks for the key wrapped; the server answers the spec's Byte String, which PyKMIP 0.10 cannot read`, async () => {
      const steps = await runStepDriver(DRIVER, srv, TENANT, version, ['--kek', kek, '--key-hex', KEY], RUN_TIMEOUT_MS);
      assert.equal(step(steps, 'register').ok, true, step(steps, 'register').error);
      const got = step(steps, 'get_wrapped');
      assert.equal(got.ok, false, 'PyKMIP decodes a Byte String Key Value now: assert the wrapped bytes and update docs/operations.md');
      assert.match(got.error ?? '', /ReadValueError: Tried to read Base\.type: expected 1, received 8/);
      // The same request from our client answers the RFC 3394 §4.6 bytes for the key PyKMIP registered.
      const uid = step(steps, 'register').uid as string | undefined;
      assert.ok(uid !== undefined);
      const c = await srv.connect(TENANT, { protocolVersion: version === '2.0' ? '2.0' : '1.4' });
      try {
        const r = await c.getWrapped(uid, { wrappingMethod: WrappingMethod.Encrypt, encryptionKeyInformation: { uniqueIdentifier: kek, cryptographicParameters: { blockCipherMode: BlockCipherMode.NISTKeyWrap } }, encodingOption: EncodingOption.NoEncoding });
        assert.ok('keyBlock' in r.object && r.object.keyBlock.keyValue?.kind === 'wrapped');
        assert.equal(Buffer.from(r.object.keyBlock.keyValue.bytes).toString('hex'), WRAPPED);
      } finally {
        await c.close();
      }
      const bad = step(steps, 'get_wrapped_unknown_kek');
      assert.equal(bad.ok, false);
      assert.match(bad.error ?? '', /ITEM_NOT_FOUND|WRAPPING_OBJECT_NOT_FOUND/);
    });
  }
});
