/**
 * Derive Key (KMIP 1.4 §4.6, KMIP 2.1 §6.1.11): a new Symmetric Key or Secret Data computed from objects the server
 * already holds, stored like a Create (same attribute checks, the same vault path sealed under L3, a durable commit
 * before the answer, audited by the processor like every mutating operation), and linked both ways: Derived Key Link
 * on each base object, Derivation Base Object Link on the new one (1.4 §4.6 last paragraph, Link Types 0x104/0x105).
 *
 * Inputs, as 1.4 Tables 180-183 / 2.1 Table 205 and §7.12 give them:
 *  - the base object(s): the first Unique Identifier is the derivation key (or the PBKDF2 password); a second one,
 *    when it is Secret Data, supplies the Derivation Data implicitly ("If both are provided, then an error SHALL be
 *    returned": Invalid Message, 1.4 Table 333). Each must carry the Derive Key usage bit, be Active (model/usage.ts),
 *    belong to the caller's tenant and pass the object-level authorization (loadObject, as Get does). The ID
 *    Placeholder never stands in for them (Table 180).
 *  - the Cryptographic Length (and, for a key, the Cryptographic Algorithm) of the new object, REQUIRED;
 *  - the method and its parameters: model/derivation.ts says what each method computes and why.
 *
 * Not enforced: "The server SHALL verify that the specified mode matches one of the instances of Cryptographic
 * Parameters set for the corresponding key" (1.4 §4.6). The published TC-DERIVEKEY-1/2 cases register their base key
 * without a Cryptographic Parameters attribute and expect success, so the request's parameters are taken as given.
 *
 * A derived object inherits protection: Sensitive if any base is, not Extractable if any base is not (as PKCS #11
 * v2.40 §4.4 C_DeriveKey does), so derivation cannot launder a key that may only leave the server wrapped.
 *
 * Limits (kmip.limits, docs/configuration.md): the PBKDF2 work, Iteration Count x output blocks, is at most
 * `maxDeriveIterationCount` (for a key no longer than the hash, the Iteration Count itself), the new object at most
 * `maxDeriveLengthBits`; past either, Invalid Field (1.4 Table 333 "Invalid Derivation Parameters" /
 * "Incorrect attribute value(s)"). Every copy of base key bytes and every intermediate output is wiped; the derived
 * bytes themselves pass to the store, as Create's do.
 */
import type { KmipAttribute } from '../kmip/attributes.js';
import { KmipError } from '../kmip/errors.js';
import {
  BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, DerivationMethod, HashingAlgorithm, KeyFormatType, LinkType, ObjectType,
  Operation, PaddingMethod, SecretDataType, Tag,
} from '../kmip/registry.js';
import type { DeriveKeyRequest, DeriveKeyResponse, DerivationParameters } from '../kmip/payloads/derive-key.js';
import { struct } from '../kmip/payloads/fields.js';
import { keyBlockBytes, symmetricKeyBlock } from '../kmip/payloads/objects.js';
import type { ManagedObject } from '../kmip/payloads/objects.js';
import { enumeration, text } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import { keySize, oddParity } from './create.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { checkInitialAttributes, checkNameUnique } from './model/client-attributes.js';
import { insertObject, loadObject, mutateObject, setIdPlaceholder, versioned } from './model/context.js';
import {
  deriveCounterMode, deriveEncrypt, deriveHash, deriveHkdf, deriveHmac, derivePbkdf2, digestOf,
} from './model/derivation.js';
import { requireNotDestroyed, touch } from './model/lifecycle.js';
import { newObjectRecord } from './model/new-object.js';
import { addAttr, boolAttr, enumAttr, intAttr, setBool } from './model/record.js';
import type { ManagedObjectRecord } from './model/store.js';
import { expandTemplates } from './model/templates.js';
import { requireUsage } from './model/usage.js';

const M = DerivationMethod;
const A = CryptographicAlgorithm;

/**
 * The derivation key plus at most one Secret Data object holding the Derivation Data: no method of this server uses
 * more. Bounds the objects one request loads and unseals.
 */
export const MAX_BASE_OBJECTS = 2;

/** Methods defined by the spec that this server does not offer: Feature Not Supported rather than Invalid Field. */
const NOT_OFFERED: ReadonlySet<number> = new Set([M.NIST800_108_F, M.NIST800_108_DPI, M.AsymmetricKey, M.AWSSignatureVersion4]);

/** Algorithms of a derived Symmetric Key: Create's (create.ts keySize sizes them). */
const KEY_ALGORITHMS: ReadonlySet<number> = new Set([A.AES, A.DES3, A.HMAC_SHA1, A.HMAC_SHA224, A.HMAC_SHA256, A.HMAC_SHA384,
  A.HMAC_SHA512, A.HMAC_SHA3_224, A.HMAC_SHA3_256, A.HMAC_SHA3_384, A.HMAC_SHA3_512]);

/** The hash of an HMAC key algorithm: "the attributes of the derivation key provide enough information about the PRF". */
const HMAC_HASH: ReadonlyMap<number, number> = new Map([
  [A.HMAC_SHA1, HashingAlgorithm.SHA_1], [A.HMAC_SHA224, HashingAlgorithm.SHA_224], [A.HMAC_SHA256, HashingAlgorithm.SHA_256],
  [A.HMAC_SHA384, HashingAlgorithm.SHA_384], [A.HMAC_SHA512, HashingAlgorithm.SHA_512], [A.HMAC_SHA3_224, HashingAlgorithm.SHA3_224],
  [A.HMAC_SHA3_256, HashingAlgorithm.SHA3_256], [A.HMAC_SHA3_384, HashingAlgorithm.SHA3_384], [A.HMAC_SHA3_512, HashingAlgorithm.SHA3_512],
]);

function invalidParameter(message: string, field: string): KmipError {
  return new KmipError('INVALID_FIELD', message, { field });
}

function checkMethod(ctx: OpContext, method: number): void {
  if (NOT_OFFERED.has(method)) throw new KmipError('FEATURE_NOT_SUPPORTED', 'this Derivation Method is not offered (PBKDF2, HASH, HMAC, ENCRYPT, NIST800-108-C and, at 2.x, HKDF are)', { field: 'Derivation Method' });
  const known = method === M.PBKDF2 || method === M.HASH || method === M.HMAC || method === M.ENCRYPT || method === M.NIST800_108_C
    || (method === M.HKDF && ctx.protocolVersion.major >= 2);
  if (!known) throw invalidParameter('invalid Derivation Method', 'Derivation Method');
}

/** The new object's size and algorithm, checked as Create checks them, within `maxDeriveLengthBits`. */
function sizeOf(ctx: OpContext, objectType: number, probe: { attributes: KmipAttribute[] }): { bits: number; bytes: number; algorithm?: number } {
  const bits = intAttr(probe, 'Cryptographic Length');
  if (bits === undefined) throw new KmipError('MISSING_DATA', 'Derive Key needs the Cryptographic Length of the new object', { field: 'Cryptographic Length' });
  const max = ctx.services.config.maxDeriveLengthBits;
  if (bits <= 0 || bits % 8 !== 0 || bits > max) {
    throw invalidParameter(`a derived object is a whole number of bytes, 8 to ${String(max)} bits (maxDeriveLengthBits)`, 'Cryptographic Length');
  }
  if (objectType === ObjectType.SecretData) return { bits, bytes: bits / 8 };
  const algorithm = enumAttr(probe, 'Cryptographic Algorithm');
  if (algorithm === undefined) throw new KmipError('MISSING_DATA', 'a derived key needs its Cryptographic Algorithm', { field: 'Cryptographic Algorithm' });
  if (!KEY_ALGORITHMS.has(algorithm)) throw invalidParameter('a derived key is AES, Triple DES or HMAC', 'Cryptographic Algorithm');
  return Object.assign(keySize(algorithm, bits), { algorithm });
}

interface Base { readonly rec: ManagedObjectRecord; readonly material: Uint8Array }

/** Loads one base object under the gates of a use of its key, and copies its key bytes (the caller wipes them). */
async function loadBase(ctx: OpContext, uid: string): Promise<Base> {
  const rec = await loadObject(ctx, uid);
  if (rec.objectType !== ObjectType.SymmetricKey && rec.objectType !== ObjectType.SecretData) {
    throw invalidParameter('Derive Key derives from Symmetric Keys and Secret Data', 'Unique Identifier');
  }
  const mask = intAttr(rec, 'Cryptographic Usage Mask') ?? 0;
  if ((mask & CryptographicUsageMask.DeriveKey) === 0) {
    // 1.4 Table 333 "not able to be used to derive a new key": Invalid Field; 2.1 §6.1.14.1 names the mask.
    throw versioned(ctx, 'INVALID_FIELD', 'INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK', 'the object does not have the Derive Key usage bit', 'Unique Identifier');
  }
  requireUsage(rec, CryptographicUsageMask.DeriveKey, ctx.now);
  const full = await loadObject(ctx, uid, { withObject: true });
  const object = full.object;
  const bytes = object !== undefined && 'keyBlock' in object ? keyBlockBytes(object.keyBlock) : undefined;
  if (!full.hasObject || bytes === undefined) throw new KmipError('KEY_VALUE_NOT_PRESENT', 'the server holds no usable value for this object');
  return { rec: full, material: Uint8Array.from(bytes) };
}

/** The Derivation Data: explicit, or the second base object's bytes when it is Secret Data, never both. */
function derivationData(params: DerivationParameters, implicit: Base | undefined): Uint8Array | undefined {
  const explicit = params.derivationData ?? [];
  if (explicit.length > 1) throw invalidParameter('one Derivation Data is accepted', 'Derivation Data');
  if (implicit !== undefined && explicit.length > 0) {
    throw new KmipError('INVALID_MESSAGE', 'Derivation Data given both explicitly and as a Secret Data object', { field: 'Derivation Data' });
  }
  return implicit?.material ?? explicit[0];
}

function hashOf(params: DerivationParameters, fallback: number | undefined, method: string): number {
  const h = params.cryptographicParameters?.hashingAlgorithm ?? fallback;
  if (h === undefined) throw invalidParameter(`${method} needs a Hashing Algorithm in Cryptographic Parameters`, 'Hashing Algorithm');
  return h;
}

/** Runs the method; the result is a fresh buffer of exactly `bytes` the caller owns. */
async function compute(ctx: OpContext, req: DeriveKeyRequest, key: Base, implicit: Base | undefined, bytes: number): Promise<Uint8Array> {
  const p = req.derivationParameters;
  const data = derivationData(p, implicit);
  const keyAlgorithm = enumAttr(key.rec, 'Cryptographic Algorithm');
  switch (req.derivationMethod) {
    case M.HASH: {
      if (data !== undefined && implicit === undefined && key.rec.objectType === ObjectType.SymmetricKey) {
        // "a hash over the derivation key OR the derivation data": both would leave the input undefined.
        throw invalidParameter('HASH hashes the derivation key or the Derivation Data, not both', 'Derivation Data');
      }
      return deriveHash(digestOf(hashOf(p, undefined, 'HASH')), data ?? key.material, bytes);
    }
    case M.HMAC: {
      if (data === undefined) throw invalidParameter('HMAC needs Derivation Data', 'Derivation Data');
      const fromKey = keyAlgorithm === undefined ? undefined : HMAC_HASH.get(keyAlgorithm);
      return deriveHmac(digestOf(hashOf(p, fromKey, 'HMAC')), key.material, data, bytes);
    }
    case M.NIST800_108_C: {
      if (data === undefined) throw invalidParameter('NIST800-108-C needs Derivation Data (Label || 0x00 || Context)', 'Derivation Data');
      const fromKey = keyAlgorithm === undefined ? undefined : HMAC_HASH.get(keyAlgorithm);
      return deriveCounterMode(digestOf(hashOf(p, fromKey, 'NIST800-108-C')), key.material, data, bytes);
    }
    case M.PBKDF2: {
      if (p.salt === undefined) throw invalidParameter('PBKDF2 needs a Salt', 'Salt');
      const c = p.iterationCount;
      const max = ctx.services.config.maxDeriveIterationCount;
      if (c === undefined) throw invalidParameter('PBKDF2 needs an Iteration Count', 'Iteration Count');
      // RFC 8018 §5.2: HMAC-SHA-1 unless another PRF is named (TC-DERIVEKEY-3/4 rely on it).
      const d = digestOf(hashOf(p, HashingAlgorithm.SHA_1, 'PBKDF2'));
      // PBKDF2 runs all c iterations once per output block (§5.2 step 3), so the bound is on c x blocks: one block
      // (any key up to the hash size) may use the whole Iteration Count; a longer output divides it.
      const blocks = Math.ceil(bytes / d.bytes);
      if (c < 1 || c * blocks > max) {
        throw invalidParameter(`the Iteration Count times the ${String(blocks)} output block(s) must be 1 to ${String(max)} (maxDeriveIterationCount)`, 'Iteration Count');
      }
      return derivePbkdf2(d, key.material, p.salt, c, bytes);
    }
    case M.HKDF:
      return deriveHkdf(digestOf(hashOf(p, HashingAlgorithm.SHA_256, 'HKDF')), key.material, p.salt ?? new Uint8Array(0), data ?? new Uint8Array(0), bytes);
    default: {
      // ENCRYPT (checkMethod let nothing else through).
      if (data === undefined) throw invalidParameter('ENCRYPT needs Derivation Data', 'Derivation Data');
      const cp = p.cryptographicParameters ?? {};
      if ((cp.cryptographicAlgorithm ?? keyAlgorithm) !== A.AES || key.rec.objectType !== ObjectType.SymmetricKey) {
        throw invalidParameter('ENCRYPT derivation uses an AES key', 'Cryptographic Algorithm');
      }
      const mode = cp.blockCipherMode ?? BlockCipherMode.ECB;
      if (mode !== BlockCipherMode.ECB && mode !== BlockCipherMode.CBC) throw invalidParameter('ENCRYPT derivation offers ECB and CBC', 'Block Cipher Mode');
      const pad = cp.paddingMethod ?? PaddingMethod.None;
      if (pad !== PaddingMethod.None && pad !== PaddingMethod.PKCS5) throw invalidParameter('ENCRYPT derivation pads with PKCS5 or not at all', 'Padding Method');
      const iv = p.initializationVector;
      return deriveEncrypt(key.material, data, { cbc: mode === BlockCipherMode.CBC, pad: pad === PaddingMethod.PKCS5, ...(iv === undefined ? {} : { iv }) }, bytes);
    }
  }
}

function link(type: number, uid: string): StructureItem {
  return struct(Tag.Link, [enumeration(Tag.LinkType, type), text(Tag.LinkedObjectIdentifier, uid)]);
}

/** Sensitive if any base is, not Extractable if any base is not (the client may only tighten these). */
function inheritProtection(attributes: KmipAttribute[], bases: readonly Base[]): void {
  const probe = { attributes };
  if (bases.some((b) => boolAttr(b.rec, 'Sensitive') === true)) setBool(probe, 'Sensitive', Tag.Sensitive, true);
  if (bases.some((b) => boolAttr(b.rec, 'Extractable') === false)) setBool(probe, 'Extractable', Tag.Extractable, false);
}

function newObject(objectType: number, material: Uint8Array, size: { bits: number; algorithm?: number }): ManagedObject {
  if (objectType === ObjectType.SecretData) {
    return { objectType: ObjectType.SecretData, secretDataType: SecretDataType.Seed, keyBlock: { keyFormatType: KeyFormatType.Opaque, keyValue: { kind: 'plain', keyMaterial: material } } };
  }
  const algorithm = size.algorithm ?? A.AES;
  return { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(material, { cryptographicAlgorithm: algorithm, cryptographicLength: size.bits }) };
}

export const deriveKeyOperation: OperationHandler<DeriveKeyRequest, DeriveKeyResponse, OperationServices> = {
  operation: Operation.DeriveKey,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: DeriveKeyRequest): Promise<DeriveKeyResponse> {
    if (req.objectType !== ObjectType.SymmetricKey && req.objectType !== ObjectType.SecretData) {
      throw versioned(ctx, 'INVALID_FIELD', 'INVALID_OBJECT_TYPE', 'Derive Key makes Symmetric Keys and Secret Data', 'Object Type');
    }
    if (req.uniqueIdentifiers.length > MAX_BASE_OBJECTS) {
      throw invalidParameter(`at most ${String(MAX_BASE_OBJECTS)} base objects: the derivation key and a Secret Data holding the Derivation Data`, 'Unique Identifier');
    }
    checkMethod(ctx, req.derivationMethod);
    const attributes = await expandTemplates(ctx, req.attributes, req.templateNames ?? []);
    checkInitialAttributes(ctx, attributes, false);
    const probe = { attributes };
    const size = sizeOf(ctx, req.objectType, probe);

    const bases: Base[] = [];
    let material: Uint8Array | undefined;
    // Once stored, the derived bytes belong to the store (the vault seals a copy and wipes that; the memory store keeps
    // them as its content), as Create's generated bytes do: they are wiped here only if they never got there.
    let stored = false;
    try {
      for (const uid of req.uniqueIdentifiers) bases.push(await loadBase(ctx, uid));
      const [key, implicit] = bases as [Base, Base | undefined];
      if (implicit !== undefined && implicit.rec.objectType !== ObjectType.SecretData) {
        throw invalidParameter('a second base object supplies the Derivation Data and must be Secret Data', 'Unique Identifier');
      }
      const derived = await compute(ctx, req, key, implicit, size.bytes);
      material = size.algorithm === A.DES3 ? oddParity(derived) : derived;
      if (material !== derived) derived.fill(0);

      inheritProtection(attributes, bases);
      const uid = ctx.services.newUid();
      const record = newObjectRecord(ctx, {
        uid, objectType: req.objectType, object: newObject(req.objectType, material, size), clientAttributes: attributes, generated: false,
      });
      for (const b of bases) addAttr(record, 'Link', link(LinkType.DerivationBaseObjectLink, b.rec.uid));
      await insertObject(ctx, record, async () => {
        for (const n of attributes.filter((a) => a.name === 'Name')) await checkNameUnique(ctx, n.value, { op: 'create' });
      });
      stored = true;
      try {
        for (const b of new Set(bases.map((x) => x.rec.uid))) {
          await mutateObject(ctx, b, (rec) => {
            requireNotDestroyed(rec, 'Derive Key');
            addAttr(rec, 'Link', link(LinkType.DerivedKeyLink, uid));
            touch(rec, ctx.now);
          });
        }
      } catch (e) {
        // A base changed under us (destroyed, or at its Link limit): no half-linked derived object.
        await ctx.services.store.remove(ctx.principal.tenant, uid);
        stored = false;
        throw e;
      }
      setIdPlaceholder(ctx, uid);
      return { uniqueIdentifier: uid };
    } finally {
      for (const b of bases) b.material.fill(0);
      if (!stored) material?.fill(0);
    }
  },
};
