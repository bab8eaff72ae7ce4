/**
 * Interop: OUR client against PyKMIP's OWN server (python3-pykmip 0.10, an independent
 * implementation), over mutual TLS with certificates from src/pki/dev-pki.ts.
 *
 * For each protocol version PyKMIP serves (1.0-1.4 and 2.0; it has no 2.1) a fresh client
 * connection runs the symmetric-key lifecycle: Create AES-256 → Get → Locate (by Name) →
 * Activate → Encrypt/Decrypt → Modify Attribute (Name) → Revoke → Destroy, checking the
 * State attribute after each transition; plus a batch with an ID Placeholder and Query.
 * PyKMIP deviations found on the way are listed in docs/client.md ("Interoperability").
 *
 * If python3-pykmip is missing the test FAILS with the package to install (no silent skip).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { KmipClient, nameAttribute, op } from '../../src/client/client.js';
import type { KmipVersionString } from '../../src/client/client.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import { findAttribute, makeAttribute } from '../../src/kmip/attributes.js';
import { createPayloads } from '../../src/kmip/payloads/create.js';
import { getPayloads } from '../../src/kmip/payloads/get.js';
import { keyBlockBytes } from '../../src/kmip/payloads/objects.js';
import type { SymmetricKeyObject } from '../../src/kmip/payloads/objects.js';
import {
  BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation, PaddingMethod, QueryFunction,
  ResultReason, RevocationReasonCode, State,
} from '../../src/kmip/registry.generated.js';
import { startPyKmipServer } from '../helpers/pykmip.js';
import type { PyKmipServer } from '../helpers/pykmip.js';

const VERSIONS: readonly KmipVersionString[] = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0'];

let server: PyKmipServer;

before(async () => { server = await startPyKmipServer(); });
after(async () => { await server.stop(); });

function connect(protocolVersion: KmipVersionString | 'negotiate'): Promise<KmipClient> {
  return KmipClient.connect({
    host: server.host,
    port: server.port,
    ca: server.ca,
    cert: server.cert,
    key: server.key,
    protocolVersion,
    timeouts: { connect: 10_000, request: 15_000 },
  });
}

/** On failure, show PyKMIP's own view of what went wrong. */
async function withServerLog<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const log = await server.log();
    const tail = log.split('\n').filter((l) => /ERROR|WARNING|Traceback|Error|raise/.test(l)).slice(-30).join('\n');
    (e as Error).message += `\n--- pykmip-server log (errors) ---\n${tail}`;
    throw e;
  }
}

async function encryptDecryptRoundTrip(client: KmipClient, uid: string, version: string): Promise<void> {
  const params = {
    cryptographicAlgorithm: CryptographicAlgorithm.AES,
    blockCipherMode: BlockCipherMode.CBC,
    paddingMethod: PaddingMethod.PKCS5,
  };
  const plaintext = Buffer.from(`interop ${version}`);
  const enc = await client.encrypt({ uniqueIdentifier: uid, cryptographicParameters: { ...params, randomIV: true }, data: plaintext });
  assert.ok(enc.data !== undefined && enc.ivCounterNonce?.length === 16);
  assert.notDeepEqual(Buffer.from(enc.data), plaintext);
  const dec = await client.decrypt({ uniqueIdentifier: uid, cryptographicParameters: params, data: enc.data, ivCounterNonce: enc.ivCounterNonce });
  assert.deepEqual(Buffer.from(dec.data ?? []), plaintext);
}

describe('PyKMIP 0.10 server interop', () => {
  test('version negotiation picks PyKMIP\'s highest version, 2.0', async () => {
    const client = await connect('negotiate');
    try {
      assert.deepEqual(client.protocolVersion, { major: 2, minor: 0 });
      assert.ok(client.serverVersions?.some((v) => v.major === 1 && v.minor === 0));
    } finally {
      await client.close();
    }
  });

  for (const version of VERSIONS) {
    test(`KMIP ${version}: create AES-256, get, locate, activate, encrypt, modify, revoke, destroy`, () => withServerLog(async () => {
      const client = await connect(version);
      try {
        const name = `openkcm-interop-${version}-${randomUUID()}`;
        // Create (1.4 §4.1): AES-256 symmetric key, Encrypt|Decrypt, with a Name.
        const uid = await client.createSymmetricKey({
          algorithm: CryptographicAlgorithm.AES,
          length: 256,
          usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt,
          name,
        });
        assert.ok(uid.length > 0);

        // Get (1.4 §4.11): the key material is 32 bytes.
        const got = await client.get(uid);
        assert.equal(got.objectType, ObjectType.SymmetricKey);
        assert.equal(got.uniqueIdentifier, uid);
        const keyBlock = (got.object as SymmetricKeyObject).keyBlock;
        assert.equal(keyBlock.cryptographicAlgorithm, CryptographicAlgorithm.AES);
        assert.equal(keyBlock.cryptographicLength, 256);
        assert.equal(keyBlockBytes(keyBlock)?.length, 32);

        // Locate (1.4 §4.9) by Name: exactly our key.
        const located = await client.locate({ attributes: [nameAttribute(name)] });
        assert.deepEqual(located.uniqueIdentifiers, [uid]);

        // Pre-Active after Create (1.4 §3.22 State).
        const stateBefore = await client.getAttributes(uid, ['State']);
        assert.equal(findAttribute(stateBefore.attributes, 'State')?.value.value, State.PreActive);

        // Activate (1.4 §4.19) → Active.
        assert.equal(await client.activate(uid), uid);
        const stateActive = await client.getAttributes(uid, ['State']);
        assert.equal(findAttribute(stateActive.attributes, 'State')?.value.value, State.Active);

        // Encrypt/Decrypt (1.4 §4.29-4.30, new in KMIP 1.2) round trip with the server-made
        // key: AES-CBC, PKCS#5 padding, server-chosen random IV returned to us. Before 1.2
        // the server must refuse the operation.
        if (version === '1.0' || version === '1.1') {
          await assert.rejects(client.encrypt({ uniqueIdentifier: uid, data: Buffer.from('x') }), (e: unknown) =>
            e instanceof KmipResultError && e.resultReason === ResultReason.OperationNotSupported);
        } else {
          await encryptDecryptRoundTrip(client, uid, version);
        }

        // Modify Attribute (1.4 §4.15 / 2.1 §6.1.33) on the Name: 1.x addresses the instance
        // by Attribute Index, 2.x by its current value.
        const renamed = `${name}-renamed`;
        if (version === '2.0') await client.modifyAttribute(uid, nameAttribute(renamed), nameAttribute(name));
        else await client.modifyAttribute(uid, { ...nameAttribute(renamed), index: 0 });
        assert.deepEqual((await client.locate({ attributes: [nameAttribute(renamed)] })).uniqueIdentifiers, [uid]);

        // An Active key cannot be destroyed (1.4 §4.21): the server must refuse.
        await assert.rejects(client.destroy(uid), (e: unknown) =>
          e instanceof KmipResultError && e.operation === Operation.Destroy);

        // Revoke (1.4 §4.20) with reason Cessation Of Operation → Deactivated.
        assert.equal(await client.revoke(uid, RevocationReasonCode.CessationOfOperation), uid);
        const stateRevoked = await client.getAttributes(uid, ['State']);
        assert.equal(findAttribute(stateRevoked.attributes, 'State')?.value.value, State.Deactivated);

        // Destroy (1.4 §4.21), then the object is gone.
        assert.equal(await client.destroy(uid), uid);
        await assert.rejects(client.get(uid), (e: unknown) =>
          e instanceof KmipResultError && e.resultReason === ResultReason.ItemNotFound && e.operation === Operation.Get);
      } finally {
        await client.close();
      }
    }));
  }

  test('KMIP 1.2 batch: Create, Get of it by ID Placeholder, Get of a missing object (Continue)', () => withServerLog(async () => {
    const client = await connect('1.2');
    try {
      const [created, fetched, missing] = await client.batch([
        op(createPayloads, {
          objectType: ObjectType.SymmetricKey,
          attributes: [
            makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES),
            makeAttribute('Cryptographic Length', 128),
            makeAttribute('Cryptographic Usage Mask', CryptographicUsageMask.Encrypt),
          ],
        }),
        // No Unique Identifier: the server uses the ID Placeholder set by Create (1.4 §3.1).
        op(getPayloads, {}),
        op(getPayloads, { uniqueIdentifier: 'no-such-object' }),
      ], { errorContinuation: 'continue' });
      assert.equal(created.status, 'fulfilled');
      assert.equal(fetched.status, 'fulfilled');
      assert.equal(fetched.value.uniqueIdentifier, created.value.uniqueIdentifier);
      assert.equal(missing.status, 'rejected');
      assert.ok(missing.reason instanceof KmipResultError);
      assert.equal(missing.reason.resultReason, ResultReason.ItemNotFound);
      assert.equal(missing.reason.operation, Operation.Get);
    } finally {
      await client.close();
    }
  }));

  test('KMIP 1.4: Query reports the operations PyKMIP serves', () => withServerLog(async () => {
    const client = await connect('1.4');
    try {
      const q = await client.query([QueryFunction.QueryOperations, QueryFunction.QueryServerInformation]);
      for (const o of [Operation.Create, Operation.Get, Operation.Locate, Operation.Activate, Operation.Revoke, Operation.Destroy]) {
        assert.ok(q.operations?.includes(o), `operation 0x${o.toString(16)} missing from Query`);
      }
      assert.match(q.vendorIdentification ?? '', /PyKMIP/);
    } finally {
      await client.close();
    }
  }));
});
