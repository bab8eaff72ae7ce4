/**
 * Tenant isolation (issue 2 §7) over the real server and mutual TLS: tenant bob gets exactly
 * what a never-issued UID gets — Item Not Found (1.x) / Object Not Found (2.x), with the same
 * message — for everything of tenant alice, Locate never returns alice's objects, alice's Name
 * does not block bob's, and nothing bob tries changes alice's object.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import {
  CryptographicAlgorithm, CryptographicUsageMask, NameType, ResultReason, RevocationReasonCode, State, Tag,
} from '../../src/kmip/registry.js';
import { enumeration, text } from '@openkcm/ttlv';
import { archivePayloads } from '../../src/kmip/payloads/archive.js';
import { checkPayloads } from '../../src/kmip/payloads/check.js';
import type { KmipClient } from '../../src/client/client.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const nameOf = (v: string): ReturnType<typeof makeAttribute> => makeAttribute('Name', [text(Tag.NameValue, v), enumeration(Tag.NameType, NameType.UninterpretedTextString)]);

/** Every per-object operation a client can aim at a UID. */
function attempts(c: KmipClient, uid: string, version: '1.4' | '2.1'): [string, () => Promise<unknown>][] {
  const v2: [string, () => Promise<unknown>][] = version === '2.1' ? [['Set Attribute', () => c.setAttribute(uid, makeAttribute('Description', 'bob'))]] : [];
  return [
    ...v2,
    ['Get', () => c.get(uid)],
    ['Get Attributes', () => c.getAttributes(uid)],
    ['Get Attribute List', () => c.getAttributeList(uid)],
    ['Add Attribute', () => c.addAttribute(uid, makeAttribute('x-bob', 'was here'))],
    ['Modify Attribute', () => c.modifyAttribute(uid, makeAttribute('x-note', 'changed'))],
    ['Delete Attribute', () => c.deleteAttribute(uid, 'x-note')],
    ['Activate', () => c.activate(uid)],
    ['Revoke', () => c.revoke(uid, RevocationReasonCode.KeyCompromise)],
    ['Destroy', () => c.destroy(uid)],
    ['Check', () => c.call(checkPayloads, { uniqueIdentifier: uid })],
    ['Archive', () => c.call(archivePayloads, { uniqueIdentifier: uid })],
  ];
}

async function failure(p: () => Promise<unknown>): Promise<{ reason: number | undefined; message: string }> {
  try {
    await p();
  } catch (e) {
    assert.ok(e instanceof KmipResultError, `expected a KMIP failure, got ${String(e)}`);
    return { reason: e.resultReason, message: e.resultMessage ?? '' };
  }
  assert.fail('the operation succeeded');
}

for (const version of ['1.4', '2.1'] as const) {
  describe(`tenant isolation over mTLS, KMIP ${version}`, () => {
    let srv: TestServer;
    let alice: KmipClient;
    let bob: KmipClient;
    let uid: string;
    const NAME = `alice-only-${version}`;

    before(async () => {
      srv = await startTestServer({ tenants: ['alice', 'bob'] });
      alice = await srv.connect('alice', { protocolVersion: version });
      bob = await srv.connect('bob', { protocolVersion: version });
      uid = await alice.createSymmetricKey({
        algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt,
        name: NAME, attributes: [makeAttribute('Object Group', 'shared-group'), makeAttribute('x-note', 'alice')],
      });
    });
    after(async () => {
      await alice.close();
      await bob.close();
      await srv.stop();
    });

    test('every operation on alice\'s UID fails for bob exactly as on a UID that never existed', async () => {
      const notFound = version === '2.1' ? ResultReason.ObjectNotFound : ResultReason.ItemNotFound;
      const ghost = '00000000-0000-4000-8000-000000000000';
      const hers = attempts(bob, uid, version);
      const none = attempts(bob, ghost, version);
      for (const [i, [op, run]] of hers.entries()) {
        const a = await failure(run);
        const b = await failure((none[i] as [string, () => Promise<unknown>])[1]);
        assert.equal(a.reason, notFound, `${op}: Result Reason`);
        assert.equal(a.reason, b.reason, `${op}: same reason as an absent object`);
        assert.equal(a.message.replaceAll(uid, '<uid>'), b.message.replaceAll(ghost, '<uid>'), `${op}: same message as an absent object`);
      }
    });

    test('Locate never returns alice\'s objects to bob, whatever the criteria', async () => {
      assert.deepEqual((await bob.locate({ attributes: [nameOf(NAME)] })).uniqueIdentifiers, []);
      assert.deepEqual((await bob.locate({ attributes: [makeAttribute('Object Group', 'shared-group')] })).uniqueIdentifiers, []);
      assert.deepEqual((await bob.locate({ attributes: [makeAttribute('Unique Identifier', uid)] })).uniqueIdentifiers, []);
      assert.ok(!(await bob.locate({})).uniqueIdentifiers.includes(uid));
      assert.deepEqual((await alice.locate({ attributes: [nameOf(NAME)] })).uniqueIdentifiers, [uid]);
    });

    test('alice\'s Name does not exist for bob: he may use it, and she still finds only hers', async () => {
      const bobs = await bob.createSymmetricKey({ algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt, name: NAME });
      assert.notEqual(bobs, uid);
      assert.deepEqual((await alice.locate({ attributes: [nameOf(NAME)] })).uniqueIdentifiers, [uid]);
      assert.deepEqual((await bob.locate({ attributes: [nameOf(NAME)] })).uniqueIdentifiers, [bobs]);
    });

    test('nothing bob tried changed alice\'s object', async () => {
      const attrs = (await alice.getAttributes(uid, ['State', 'x-note', 'x-bob'])).attributes;
      assert.deepEqual(attrs.map((a) => [a.name, a.value.value]), [['State', State.PreActive], ['x-note', 'alice']]);
      assert.equal((await alice.get(uid)).uniqueIdentifier, uid);
    });
  });
}
