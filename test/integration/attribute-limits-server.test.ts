/**
 * Issue 15 Deliver 2 against a running server (mTLS, the LMDB vault, the config file's kmip.limits): the review's
 * attack — a key with 15 Object Groups of 60,000 characters, then Add Attribute calls, each of which grew the server
 * by ~1 MiB until its heap died — is refused, in KMIP 2.1 and 1.4, and the limits come from openkcm.conf.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KmipResultError } from '../../src/kmip/errors.js';
import { makeAttribute } from '../../src/kmip/attributes.js';
import type { KmipAttribute } from '../../src/kmip/attributes.js';
import { CryptographicAlgorithm, CryptographicUsageMask, ObjectType, ResultReason } from '../../src/kmip/registry.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

const group = (v: string): KmipAttribute => makeAttribute('Object Group', v);
const keyAttributes = (extra: KmipAttribute[]): KmipAttribute[] => [
  makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), makeAttribute('Cryptographic Length', 256),
  makeAttribute('Cryptographic Usage Mask', CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt), ...extra,
];

async function refusedWith(p: Promise<unknown>, reason: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KmipResultError, String(e));
    assert.equal(e.resultReason, reason, e.resultMessage);
    return true;
  });
}

let srv: TestServer;

before(async () => {
  // Defaults for the bytes (128 KiB); a small value count, to show it comes from the config file.
  srv = await startTestServer({ tenants: ['alice'], limits: { maxAttributeValues: 4 } });
});

after(async () => {
  await srv.stop();
});

describe('attribute limits on a running server', () => {
  test('15 Object Groups of 60,000 characters are refused at Create; Add Attribute cannot grow a key past 128 KiB', async () => {
    for (const version of ['2.1', '1.4'] as const) {
      const client = await srv.connect('alice', { protocolVersion: version });
      try {
        const huge = Array.from({ length: 15 }, (_, i) => group(String(i).padEnd(60_000, 'x')));
        // 1.x has no Server Limit Exceeded: General Failure with the message.
        const bytesReason = version === '2.1' ? ResultReason.ServerLimitExceeded : ResultReason.GeneralFailure;
        await refusedWith(client.create({ objectType: ObjectType.SymmetricKey, attributes: keyAttributes(huge.slice(0, 4)) }), bytesReason);
        // What the limit lets in (two of them), then the Add Attribute storm of the review: every call refused.
        const { uniqueIdentifier: uid } = await client.create({ objectType: ObjectType.SymmetricKey, attributes: keyAttributes(huge.slice(0, 2)) });
        for (let i = 2; i < 15; i++) await refusedWith(client.addAttribute(uid, huge[i] ?? group('')), bytesReason);
        const got = await client.getAttributes(uid, ['Object Group']);
        assert.equal(got.attributes.length, 2, `${version}: the key kept its two groups and nothing more`);
        // maxAttributeValues 4 from openkcm.conf: two more small groups fit, the fifth is refused.
        const { uniqueIdentifier: small } = await client.create({ objectType: ObjectType.SymmetricKey, attributes: keyAttributes([group('a'), group('b'), group('c')]) });
        await client.addAttribute(small, group('d'));
        await refusedWith(client.addAttribute(small, group('e')), version === '2.1' ? ResultReason.ServerLimitExceeded : ResultReason.IndexOutOfBounds);
      } finally {
        await client.close();
      }
    }
  });
});
