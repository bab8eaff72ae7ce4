/**
 * Issue 20 (TC-*-21 notes) against a running server (mutual TLS, the LMDB vault, Cedar with the default roles): the
 * 2.1 Ping (KMIP 2.1 §6.1.36) answered at 2.1 and listed by Query there, refused as Operation Not Supported at 2.0
 * and 1.4 and not listed; and TC-OFFSET-1-21's Locate (Offset Items + Maximum Items over a few keys among others)
 * answered with Located Items.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import type { KmipAttribute } from '../../src/kmip/attributes.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import { pingPayloads } from '../../src/kmip/payloads/ping.js';
import { CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation, QueryFunction, ResultReason } from '../../src/kmip/registry.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ tenants: ['alice'] });
});

after(async () => {
  await srv.stop();
});

const key = (length: number): KmipAttribute[] => [
  makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), makeAttribute('Cryptographic Length', length),
  makeAttribute('Cryptographic Usage Mask', CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt),
];

describe('Ping on a running server', () => {
  test('2.1: answered, and listed by Query', async () => {
    const client = await srv.connect('alice', { protocolVersion: '2.1' });
    try {
      assert.deepEqual(await client.call(pingPayloads, {}), {});
      const q = await client.query([QueryFunction.QueryOperations]);
      assert.ok((q.operations ?? []).includes(Operation.Ping));
    } finally {
      await client.close();
    }
  });

  test('2.0 and 1.4: Operation Not Supported, and not listed by Query', async () => {
    for (const version of ['2.0', '1.4'] as const) {
      const client = await srv.connect('alice', { protocolVersion: version });
      try {
        await assert.rejects(client.call(pingPayloads, {}), (e: unknown) => {
          assert.ok(e instanceof KmipResultError, String(e));
          assert.equal(e.resultReason, ResultReason.OperationNotSupported, version);
          return true;
        });
        const q = await client.query([QueryFunction.QueryOperations]);
        assert.ok(!(q.operations ?? []).includes(Operation.Ping), version);
        // The connection is still usable after the refusal.
        assert.ok((q.operations ?? []).includes(Operation.Locate));
      } finally {
        await client.close();
      }
    }
  });
});

describe('Locate with Offset Items on a running server (TC-OFFSET-1-21)', () => {
  test('a page of a few keys among others carries Located Items', async () => {
    const client = await srv.connect('alice', { protocolVersion: '2.1' });
    try {
      for (let i = 0; i < 3; i++) await client.create({ objectType: ObjectType.SymmetricKey, attributes: key(128) });
      const created: string[] = [];
      for (let i = 0; i < 3; i++) created.push((await client.create({ objectType: ObjectType.SymmetricKey, attributes: key(192) })).uniqueIdentifier);
      const r = await client.locate({ offsetItems: 1, maximumItems: 1, attributes: [makeAttribute('Cryptographic Length', 192)] });
      assert.equal(r.uniqueIdentifiers.length, 1);
      assert.ok(created.includes(r.uniqueIdentifiers[0] ?? ''));
      assert.equal(r.locatedItems, 3);
    } finally {
      await client.close();
    }
  });
});
