/**
 * Create (KMIP 1.4 §4.1, KMIP 2.1 §6.1.8): the server generates a Symmetric Key — AES-128/192/256,
 * Triple DES or an HMAC key — from its CSPRNG and stores it with the client's attributes; at 2.x also Secret Data
 * (create-secret-data.ts).
 */
import { KmipError } from '../kmip/errors.js';
import { CryptographicAlgorithm, CryptographicUsageMask, ObjectType, Operation, Tag } from '../kmip/registry.js';
import type { CreateRequest, CreateResponse } from '../kmip/payloads/create.js';
import { symmetricKeyBlock } from '../kmip/payloads/objects.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { checkInitialAttributes, checkNameUnique } from './model/client-attributes.js';
import { insertObject, setIdPlaceholder } from './model/context.js';
import { newObjectRecord } from './model/new-object.js';
import { boolAttr, enumAttr, intAttr, setInt } from './model/record.js';
import { expandTemplates } from './model/templates.js';
import { createMakes, createSecretData } from './create-secret-data.js';
import { isKmip2 } from '../kmip/message.js';

const A = CryptographicAlgorithm;

/** AES key sizes (FIPS 197). */
const AES_LENGTHS = new Set([128, 192, 256]);

/**
 * Triple DES (NIST SP 800-67): Cryptographic Length counts key bits without parity — 168 for
 * three-key, 112 for two-key — stored as 24 / 16 bytes with odd parity (the Symmetric Key
 * Foundry profile creates 168-bit keys, vectors SKFF-M-4/-8/-12).
 */
const DES3_BYTES: ReadonlyMap<number, number> = new Map([[168, 24], [112, 16]]);

/** Sets each byte's low bit so the byte has odd parity (FIPS 46-3 §2). */
export function oddParity(key: Uint8Array): Uint8Array {
  return key.map((b) => {
    let ones = 0;
    for (let v = b >> 1; v !== 0; v >>= 1) ones += v & 1;
    return (b & 0xfe) | (ones % 2 === 0 ? 1 : 0);
  });
}

/**
 * HMAC keys: any whole number of bytes from 112 bits (NIST SP 800-107 §5.3.4 minimum security
 * strength) up to 4096 bits. The upper bound stops a client from making the server generate
 * and store arbitrarily large "keys" (storage exhaustion).
 */
const HMAC_ALGORITHMS = new Set<number>([A.HMAC_SHA1, A.HMAC_SHA224, A.HMAC_SHA256, A.HMAC_SHA384, A.HMAC_SHA512,
  A.HMAC_SHA3_224, A.HMAC_SHA3_256, A.HMAC_SHA3_384, A.HMAC_SHA3_512]);
const HMAC_MIN_BITS = 112;
const HMAC_MAX_BITS = 4096;

/** Usage given to a key created without a Cryptographic Usage Mask (2.1 §4.20 "SHALL always have a value"). */
function defaultUsage(algorithm: number): number {
  const U = CryptographicUsageMask;
  return algorithm === A.AES || algorithm === A.DES3 ? U.Encrypt | U.Decrypt | U.WrapKey | U.UnwrapKey : U.MACGenerate | U.MACVerify;
}

/** The key's Cryptographic Length and the number of material bytes it takes. */
export function keySize(algorithm: number, length: number | undefined): { bits: number; bytes: number } {
  if (algorithm === A.DES3) {
    const bytes = DES3_BYTES.get(length ?? 168);
    if (bytes === undefined) throw new KmipError('INVALID_ATTRIBUTE_VALUE', `Triple DES keys are 112 or 168 bits, not ${String(length)}`, { field: 'Cryptographic Length' });
    return { bits: length ?? 168, bytes };
  }
  const bits = keyLengthBits(algorithm, length);
  return { bits, bytes: bits / 8 };
}

function keyLengthBits(algorithm: number, length: number | undefined): number {
  if (algorithm === A.AES) {
    if (length === undefined) throw new KmipError('MISSING_DATA', 'Cryptographic Length is required to create an AES key', { field: 'Cryptographic Length' });
    if (!AES_LENGTHS.has(length)) throw new KmipError('INVALID_ATTRIBUTE_VALUE', `AES keys are 128, 192 or 256 bits, not ${String(length)}`, { field: 'Cryptographic Length' });
    return length;
  }
  const bits = length ?? 256;
  if (bits % 8 !== 0 || bits < HMAC_MIN_BITS || bits > HMAC_MAX_BITS) {
    throw new KmipError('INVALID_ATTRIBUTE_VALUE', `HMAC keys are a whole number of bytes between ${String(HMAC_MIN_BITS)} and ${String(HMAC_MAX_BITS)} bits`, { field: 'Cryptographic Length' });
  }
  return bits;
}

/**
 * Quantum Safe (KMIP 2.1 §4.45: the object "is required to be Quantum Safe"): Grover's search halves a symmetric
 * key's strength, so only keys of 256 bits and more keep 128-bit security against a quantum adversary (AES-256, as
 * NSA CNSA 2.0 requires; HMAC keys of 256 bits and more). Triple DES never qualifies.
 */
function quantumSafe(algorithm: number, bits: number): boolean {
  if (algorithm === A.DES3) return false;
  return bits >= 256;
}

export const createOperation: OperationHandler<CreateRequest, CreateResponse, OperationServices> = {
  operation: Operation.Create,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: CreateRequest): Promise<CreateResponse> {
    if (!createMakes(req.objectType, ctx.protocolVersion)) {
      const what = isKmip2(ctx.protocolVersion) ? 'Symmetric Keys and Secret Data' : 'Symmetric Keys';
      throw new KmipError('INVALID_OBJECT_TYPE', `Create makes ${what}; register other objects`, { field: 'Object Type' });
    }
    if (req.objectType === ObjectType.SecretData) return createSecretData(ctx, req);
    const attributes = await expandTemplates(ctx, req.attributes, req.templateNames ?? []);
    checkInitialAttributes(ctx, attributes, false);
    const probe = { attributes };
    const algorithm = enumAttr(probe, 'Cryptographic Algorithm');
    if (algorithm === undefined) throw new KmipError('MISSING_DATA', 'Cryptographic Algorithm is required to create a key', { field: 'Cryptographic Algorithm' });
    if (algorithm !== A.AES && algorithm !== A.DES3 && !HMAC_ALGORITHMS.has(algorithm)) {
      throw new KmipError('INVALID_ATTRIBUTE_VALUE', 'Create supports AES, Triple DES and HMAC keys', { field: 'Cryptographic Algorithm' });
    }
    const { bits, bytes } = keySize(algorithm, intAttr(probe, 'Cryptographic Length'));
    if (boolAttr(probe, 'Quantum Safe') === true && !quantumSafe(algorithm, bits)) {
      // Test case QS-M-2-21 answers General Failure (Result Message "NOT_SAFE") for an AES-128 key asked to be safe.
      throw new KmipError('GENERAL_FAILURE', `NOT_SAFE: a ${String(bits)}-bit key of this algorithm is not quantum safe; use AES-256`, { field: 'Quantum Safe' });
    }
    if (intAttr(probe, 'Cryptographic Usage Mask') === undefined) {
      setInt(probe, 'Cryptographic Usage Mask', Tag.CryptographicUsageMask, defaultUsage(algorithm));
    }

    const uid = ctx.services.newUid();
    const random = ctx.services.randomBytes(bytes);
    const material = algorithm === A.DES3 ? oddParity(random) : random;
    const record = newObjectRecord(ctx, {
      uid,
      objectType: ObjectType.SymmetricKey,
      object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(material, { cryptographicAlgorithm: algorithm, cryptographicLength: bits }) },
      clientAttributes: probe.attributes,
      generated: true,
    });
    await insertObject(ctx, record, async () => {
      for (const n of probe.attributes.filter((a) => a.name === 'Name')) await checkNameUnique(ctx, n.value, { op: 'create' });
    });
    setIdPlaceholder(ctx, uid);
    // 1.x responses MAY list the implicitly set attributes; none are sent (the OASIS test cases
    // expect none, and the client can ask with Get Attributes).
    return { objectType: ObjectType.SymmetricKey, uniqueIdentifier: uid };
  },
};
