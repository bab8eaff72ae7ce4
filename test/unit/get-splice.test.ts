/**
 * Get answers with the stored TTLV bytes of the object as they are (src/operations/get.ts, issue 14 "one
 * representation per hop"). This differential test holds that shortcut to the path it replaced: for objects generated
 * over every kind the splice may see (Raw and Transparent Symmetric Keys, Secret Data, Opaque Objects, a raw
 * Certificate structure, wrapped Key Values with Key Wrapping Data, Key Values that carry attributes) registered and
 * fetched in every protocol version 1.0–2.1, the whole response message is byte-for-byte the one the decode-and-encode
 * path writes (`disableGetSplice(true)`). A Key Value's attribute list is the one part of an object whose encoding
 * depends on the version (1.x Attribute structures, 2.x one Attributes), so those cases cross versions too.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { testPki } from '../helpers/pki.js';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { decodeResponse, encodeRequest, requestMessage } from '../../src/kmip/message.js';
import type { ProtocolVersion, RequestBatchItem } from '../../src/kmip/message.js';
import { getPayloads } from '../../src/kmip/payloads/get.js';
import { registerPayloads } from '../../src/kmip/payloads/register.js';
import { symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import type { KeyBlock, ManagedObject } from '../../src/kmip/payloads/objects.js';
import { bytes, enumeration, structure as struct, text as textString } from '@openkcm/ttlv';
import { decodeTtlv } from '@openkcm/ttlv';
import { CryptographicAlgorithm, KeyFormatType, ObjectType, Operation, ResultStatus, Tag } from '../../src/kmip/registry.js';
import { disableGetSplice } from '../../src/operations/get.js';
import { getHandler } from '../../src/operations/registry.js';
import { createServices } from '../../src/operations/services.js';
import type { OperationServices } from '../../src/operations/services.js';
import type { OperationHandler } from '../../src/operations/types.js';
import { silentLogger } from '../../src/common/log.js';
import { newSession, processMessageBytes } from '../../src/server/processor.js';
import type { ProcessorDeps } from '../../src/server/processor.js';
import { MemoryVault } from '../../src/vault/index.js';

const VERSIONS: ProtocolVersion[] = [
  { major: 1, minor: 0 }, { major: 1, minor: 1 }, { major: 1, minor: 2 }, { major: 1, minor: 3 }, { major: 1, minor: 4 },
  { major: 2, minor: 0 }, { major: 2, minor: 1 },
];
const AT = new Date(1_700_000_000_000);
const principal = { identity: 'cn-diff', tenant: 'diff' };

function deps(): ProcessorDeps<OperationServices> {
  return {
    getHandler: (op) => getHandler(op) as OperationHandler<unknown, unknown, OperationServices> | undefined,
    services: createServices({ vault: new MemoryVault(), clock: () => AT }),
    logger: silentLogger,
    now: () => AT,
  };
}

async function send(d: ProcessorDeps<OperationServices>, pv: ProtocolVersion, item: RequestBatchItem): Promise<Buffer> {
  return processMessageBytes(encodeRequest(requestMessage({ protocolVersion: pv }, [item])), principal, newSession(), d);
}

async function register(d: ProcessorDeps<OperationServices>, pv: ProtocolVersion, object: ManagedObject): Promise<string> {
  const payload = registerPayloads.encodeRequest({ objectType: object.objectType, attributes: [], object }, pv);
  const r = decodeResponse(decodeTtlv(await send(d, pv, { operation: Operation.Register, payload })));
  const item = r.batchItems[0];
  assert.equal(item?.resultStatus, ResultStatus.Success, `Register failed: ${item?.resultMessage ?? ''}`);
  return registerPayloads.decodeResponse(item.payload, pv).uniqueIdentifier;
}

/** The Get response bytes with the splice on and off: the Fresh flag is not part of the object, so order is free. */
async function getBoth(d: ProcessorDeps<OperationServices>, pv: ProtocolVersion, uid: string): Promise<[Buffer, Buffer]> {
  const item = { operation: Operation.Get, payload: getPayloads.encodeRequest({ uniqueIdentifier: uid }, pv) };
  disableGetSplice(false);
  const spliced = await send(d, pv, item);
  disableGetSplice(true);
  try {
    return [spliced, await send(d, pv, item)];
  } finally {
    disableGetSplice(false);
  }
}

const keyBytes = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => new Uint8Array(b));
const keyValueAttributes = fc.option(fc.constantFrom(1, 2).map((n) => n === 1
  ? [makeAttribute('Cryptographic Usage Mask', 12)]
  : [makeAttribute('Cryptographic Usage Mask', 4), makeAttribute('Object Group', 'tape-pool-7')]), { nil: undefined });

function withAttributes(kb: KeyBlock, attrs: ReturnType<typeof makeAttribute>[] | undefined): KeyBlock {
  if (attrs === undefined || kb.keyValue?.kind !== 'plain') return kb;
  return { ...kb, keyValue: { ...kb.keyValue, attributes: attrs } };
}

const symmetric = fc.record({ key: keyBytes, transparent: fc.boolean(), attrs: keyValueAttributes, alg: fc.constantFrom(CryptographicAlgorithm.AES, CryptographicAlgorithm.HMAC_SHA256, undefined) })
  .map(({ key, transparent, attrs, alg }): ManagedObject => ({
    objectType: ObjectType.SymmetricKey,
    keyBlock: withAttributes(symmetricKeyBlock(key, { format: transparent ? 'transparent' : 'raw', ...(alg === undefined ? {} : { cryptographicAlgorithm: alg }) }), attrs),
  }));

const secretData = fc.record({ value: keyBytes, type: fc.constantFrom(1, 2), attrs: keyValueAttributes })
  .map(({ value, type, attrs }): ManagedObject => ({
    objectType: ObjectType.SecretData,
    secretDataType: type,
    keyBlock: withAttributes({ keyFormatType: KeyFormatType.Opaque, keyValue: { kind: 'plain', keyMaterial: value } }, attrs),
  }));

const opaque = fc.record({ value: fc.uint8Array({ minLength: 0, maxLength: 200 }), type: fc.integer({ min: 0x80000000, max: 0x80000010 }) })
  .map(({ value, type }): ManagedObject => ({ objectType: ObjectType.OpaqueObject, opaqueDataType: type, opaqueDataValue: new Uint8Array(value) }));

/** A wrapped Key Value (1.4 §2.1.3): bytes the server cannot read, and Key Wrapping Data it keeps as it came. */
const wrapped = fc.record({ value: fc.uint8Array({ minLength: 8, maxLength: 80 }), uid: fc.stringMatching(/^[a-z0-9-]{1,36}$/) })
  .map(({ value, uid }): ManagedObject => ({
    objectType: ObjectType.SymmetricKey,
    keyBlock: {
      keyFormatType: KeyFormatType.Raw,
      keyValue: { kind: 'wrapped', bytes: new Uint8Array(value) },
      cryptographicAlgorithm: CryptographicAlgorithm.AES,
      cryptographicLength: 256,
      keyWrappingData: struct(Tag.KeyWrappingData, [
        enumeration(Tag.WrappingMethod, 1),
        struct(Tag.EncryptionKeyInformation, [textString(Tag.UniqueIdentifier, uid)]),
      ]),
    },
  }));

/** Certificates are kept as their raw structure (objects.ts RawManagedObject); the server reads their DER. */
const pki = await testPki();
const certificates = [pki.ca.certPem, pki.server.certPem, pki.client.certPem, pki.foreignClient.certPem].map((pem) => new X509Certificate(pem).raw);
const certificate = fc.constantFrom(...certificates)
  .map((der): ManagedObject => ({
    objectType: ObjectType.Certificate,
    raw: struct(Tag.Certificate, [enumeration(Tag.CertificateType, 1), bytes(Tag.CertificateValue, new Uint8Array(der))]),
  }));

const anyObject = fc.oneof(symmetric, secretData, opaque, wrapped, certificate);

describe('Get: the stored bytes answered as they are equal the decode-and-encode path, byte for byte', () => {
  after(() => { disableGetSplice(false); });

  test('generated objects, registered in one version and fetched in every version 1.0–2.1', async () => {
    const d = deps();
    await fc.assert(fc.asyncProperty(anyObject, fc.constantFrom(...VERSIONS), async (object, registeredIn) => {
      const uid = await register(d, registeredIn, object);
      for (const pv of VERSIONS) {
        const [spliced, decoded] = await getBoth(d, pv, uid);
        assert.equal(decodeResponse(decodeTtlv(spliced)).batchItems[0]?.resultStatus, ResultStatus.Success);
        assert.ok(spliced.equals(decoded), `Get at ${pv.major}.${pv.minor} of a ${object.objectType} registered at ${registeredIn.major}.${registeredIn.minor} differs`);
      }
    }), { numRuns: 150 });
  });

  test('the property compares two different paths: with the splice on, Get asks the store for the stored bytes', async () => {
    // Without this, a splice that silently never ran would pass the property above as "equal to itself".
    const d = deps();
    const wanted: unknown[] = [];
    const store = d.services.store;
    const content = store.content.bind(store);
    store.content = ((tenant, r, want) => { wanted.push(want); return content(tenant, r, want); });
    const pv = VERSIONS[6]!;
    const uid = await register(d, pv, { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(new Uint8Array(32).fill(1)) });
    await getBoth(d, pv, uid); // the first Get clears Fresh under the object lock; the ones after are pure reads
    wanted.length = 0;
    await getBoth(d, pv, uid);
    assert.deepEqual(wanted, ['stored', true]);
  });
});
