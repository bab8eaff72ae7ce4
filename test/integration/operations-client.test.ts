/**
 * The key lifecycle through our client over mTLS in every protocol version the server speaks
 * (the OASIS test cases cover 1.4 and 2.1; older clients such as PyKMIP speak 1.0-1.3, 2.0):
 * Create, Register, Get, Get Attributes, Get Attribute List, Add / Modify / Delete Attribute,
 * Locate, Activate, Revoke, Destroy — and nothing in a response that the version lacks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import {
  CryptographicAlgorithm, CryptographicUsageMask, KeyFormatType, NameType, ObjectType, RevocationReasonCode, State, Tag,
} from '../../src/kmip/registry.js';
import type { KmipVersion } from '../../src/kmip/registry.js';
import { enumeration, text } from '@openkcm/ttlv';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const VERSIONS: readonly KmipVersion[] = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'];
const nameOf = (v: string): ReturnType<typeof makeAttribute> => makeAttribute('Name', [text(Tag.NameValue, v), enumeration(Tag.NameType, NameType.UninterpretedTextString)]);

describe('operations over mTLS in every protocol version', () => {
  let srv: TestServer;
  before(async () => { srv = await startTestServer(); });
  after(async () => { await srv.stop(); });

  for (const version of VERSIONS) {
    test(`KMIP ${version}: full lifecycle`, async () => {
      const c = await srv.connect(undefined, { protocolVersion: version });
      try {
        const name = `lifecycle-${version}`;
        const uid = await c.createSymmetricKey({ algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt, name });
        const reg = await c.register({ objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES)],
          object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(new Uint8Array(32).fill(7)) } });
        const got = await c.get(reg.uniqueIdentifier, { keyFormatType: KeyFormatType.TransparentSymmetricKey });
        assert.equal(got.objectType, ObjectType.SymmetricKey);
        assert.deepEqual((await c.locate({ attributes: [nameOf(name)] })).uniqueIdentifiers, [uid]);

        const names = await c.getAttributeList(uid);
        for (const n of ['Unique Identifier', 'Object Type', 'State', 'Cryptographic Algorithm', 'Name', 'Digest', 'Initial Date']) assert.ok(names.includes(n), `${n} in ${version}`);
        assert.ok(!names.includes('Short Unique Identifier') || version.startsWith('2.'), 'no 2.x attributes for 1.x');

        await c.addAttribute(uid, makeAttribute('x-owner', 'team-a'));
        await c.modifyAttribute(uid, makeAttribute('x-owner', 'team-b'));
        assert.equal((await c.getAttributes(uid, ['x-owner'])).attributes[0]?.value.value, 'team-b');
        await c.deleteAttribute(uid, 'x-owner');
        assert.deepEqual((await c.getAttributes(uid, ['x-owner'])).attributes, []);

        await c.activate(uid);
        assert.equal((await c.getAttributes(uid, ['State'])).attributes[0]?.value.value, State.Active);
        await c.revoke(uid, RevocationReasonCode.CessationOfOperation);
        await c.destroy(uid);
        assert.equal((await c.getAttributes(uid, ['State'])).attributes[0]?.value.value, State.Destroyed);
      } finally {
        await c.close();
      }
    });
  }
});
