/**
 * Key wrapping on Get (issue 20): KMIP 1.4 §2.1.5-2.1.6 / §4.11 / §11.12, KMIP 2.1 §3.3 / §7.18 / §6.1.19.
 *
 * What is offered: Wrapping Method Encrypt with a symmetric AES key of the tenant, in NIST Key Wrap (RFC 3394,
 * SP 800-38F KW) or AES Key Wrap with Padding (RFC 5649, KWP), Encoding Option No Encoding (the Key Material bytes
 * are wrapped) or TTLV Encoding (the TTLV of the whole Key Value structure is wrapped; the default, KMIP 2.1 Table
 * 370). MAC/sign methods and asymmetric wrapping keys answer Feature Not Supported.
 *
 * The wrapping key never enters the JS heap: it is opened into a native slot through the DEK cache, as Encrypt does
 * (model/crypto.ts withSymmetricKey), and the addon's KW / KWP (the vault's own key wrap, native/ops.cc) wrap under
 * it, so no native change was needed. Node's 'id-aes256-wrap' would need the wrapping key's bytes in JS, which
 * Encrypt does not do. The plaintext the wrap reads (the object's key bytes or their TTLV) is wiped after.
 */
import { encodeTtlv, ItemType } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import { KmipError } from '../../kmip/errors.js';
import type { KmipErrorCode } from '../../kmip/errors.js';
import type { ProtocolVersion } from '../../kmip/message.js';
import { decodeKeyWrappingSpecification, encodeKeyWrappingData } from '../../kmip/payloads/key-wrapping.js';
import type { KeyWrappingData, KeyWrappingSpecification } from '../../kmip/payloads/key-wrapping.js';
import { cryptographicParametersCodec, encodeKeyBlock } from '../../kmip/payloads/objects.js';
import type { CryptographicParameters, KeyBlock, ManagedObject } from '../../kmip/payloads/objects.js';
import {
  BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, EncodingOption, ObjectType, Tag, WrappingMethod,
} from '../../kmip/registry.js';
import { keyWrap, nativeLimits } from '../../native/index.js';
import type { SecureKey } from '../../native/index.js';
import type { OpContext } from '../services.js';
import { withSymmetricKey } from './crypto.js';
import { loadObject } from './context.js';
import { isDestroyedState } from './lifecycle.js';
import { attrsOf, enumAttr, stateOf } from './record.js';
import type { ManagedObjectRecord } from './store.js';
import { requireUsage } from './usage.js';

export type KeyWrapMode = 'KW' | 'KWP';

// ---- RFC 3394 / RFC 5649 in the addon ---------------------------------------------------------------------------

/**
 * NIST AES Key Wrap (RFC 3394 §2.2.1, SP 800-38F KW) or AES Key Wrap with Padding (RFC 5649 §4.1, KWP) of
 * `plaintext` under the slot `key`, by the addon (native/ops.cc, KAT in test/unit/native-kat.test.ts). KW takes 16
 * bytes or more, a multiple of 8; KWP any length from 1 byte; both at most nativeLimits.MAX_WRAP_INPUT_BYTES.
 * `plaintext` is not changed (the caller wipes it).
 */
export function aesKeyWrap(key: SecureKey, plaintext: Uint8Array, mode: KeyWrapMode): Uint8Array {
  if (plaintext.length > nativeLimits.MAX_WRAP_INPUT_BYTES) {
    throw new KmipError('SERVER_LIMIT_EXCEEDED', `key wrapping takes at most ${String(nativeLimits.MAX_WRAP_INPUT_BYTES)} bytes (the value has ${String(plaintext.length)})`);
  }
  if (mode === 'KW' && (plaintext.length < 16 || plaintext.length % 8 !== 0)) {
    throw new KmipError('BAD_CRYPTOGRAPHIC_PARAMETERS', `NIST Key Wrap needs 16 bytes or more, a multiple of 8 (the value has ${String(plaintext.length)}); AES Key Wrap Padding takes any length`, { field: 'Block Cipher Mode' });
  }
  if (plaintext.length === 0) throw new KmipError('KEY_VALUE_NOT_PRESENT', 'the object has an empty value');
  return keyWrap(key, plaintext, mode === 'KW' ? 'rfc3394' : 'rfc5649');
}

// ---- the Key Wrapping Specification of a Get ----------------------------------------------------------------------

/** What a Get needs to wrap, resolved and checked before the object's value is unsealed ("policy before crypto"). */
export interface ResolvedWrapping {
  readonly spec: KeyWrappingSpecification;
  readonly wrappingKeyUid: string;
  readonly wrappingKey: ManagedObjectRecord;
  readonly mode: KeyWrapMode;
  /** The parameters named in the answer's Encryption Key Information (the request's, else the key's). */
  readonly parameters: CryptographicParameters;
  readonly encoding: number;
}

const ASYMMETRIC_TYPES: ReadonlySet<number> = new Set([ObjectType.PublicKey, ObjectType.PrivateKey, ObjectType.PGPKey]);

/** The request's fields that are set all equal the instance's (KMIP 1.4 §2.1.6 "match one of the instances"). */
function matches(requested: CryptographicParameters, instance: CryptographicParameters): boolean {
  return Object.entries(requested).every(([k, v]) => {
    const w = (instance as Record<string, unknown>)[k];
    if (v instanceof Uint8Array) return w instanceof Uint8Array && Buffer.from(v).equals(Buffer.from(w));
    return w === v;
  });
}

function remap(e: unknown, map: Partial<Record<KmipErrorCode, KmipErrorCode>>): never {
  if (e instanceof KmipError) {
    const to = map[e.code];
    if (to !== undefined) throw new KmipError(to, e.message, { cause: e, ...(e.field === undefined ? {} : { field: e.field }) });
  }
  throw e;
}

/** Checks the specification's shape (no object is read): the refusals that need nothing from the server. */
export function parseWrappingSpecification(raw: StructureItem, v: ProtocolVersion): KeyWrappingSpecification {
  const spec = decodeKeyWrappingSpecification(raw, v);
  if (spec.wrappingMethod !== WrappingMethod.Encrypt) {
    throw new KmipError('FEATURE_NOT_SUPPORTED', 'only the Wrapping Method Encrypt is supported (MAC/sign methods are not)', { field: 'Wrapping Method' });
  }
  if (spec.macSignatureKeyInformation !== undefined) {
    throw new KmipError('FEATURE_NOT_SUPPORTED', 'MAC/Signature Key Information is not supported with the Wrapping Method Encrypt', { field: 'MAC/Signature Key Information' });
  }
  if (spec.encryptionKeyInformation === undefined) {
    throw new KmipError('MISSING_DATA', 'the Wrapping Method Encrypt needs Encryption Key Information', { field: 'Encryption Key Information' });
  }
  const encoding = spec.encodingOption ?? EncodingOption.TTLVEncoding;
  if (encoding !== EncodingOption.NoEncoding && encoding !== EncodingOption.TTLVEncoding) {
    throw new KmipError('ENCODING_OPTION_ERROR', 'unknown Encoding Option', { field: 'Encoding Option' });
  }
  if (spec.attributeNames !== undefined) {
    // KMIP 1.4 §11.12: "Encoding Option not permitted when Key Wrapping Specification contains attribute names".
    if (encoding === EncodingOption.NoEncoding) {
      throw new KmipError('ENCODING_OPTION_ERROR', 'No Encoding cannot carry the attributes named in the Key Wrapping Specification', { field: 'Encoding Option' });
    }
    throw new KmipError('FEATURE_NOT_SUPPORTED', 'wrapping attributes with the key material (Attribute Name) is not supported', { field: 'Attribute Name' });
  }
  return spec;
}

/**
 * Finds and checks the wrapping key (KMIP 2.1 §6.1.19.1, 1.4 §11.12): the tenant's object, read through the same
 * object-level authorization as the Get itself (loadObject); not found / archived / destroyed answer the Wrapping
 * Object reasons; it must be an AES Symmetric Key whose usage mask has Wrap Key (KMIP 2.1 §12.1 "Applies to Get
 * operation when wrapping is required") in a state that allows it (Active); and its Cryptographic Parameters must
 * match the request's, or give them (KMIP 1.4 §2.1.6).
 */
export async function resolveWrapping(ctx: OpContext, spec: KeyWrappingSpecification): Promise<ResolvedWrapping> {
  const info = spec.encryptionKeyInformation;
  if (info === undefined) throw new KmipError('MISSING_DATA', 'Encryption Key Information is required', { field: 'Encryption Key Information' });
  const uid = info.uniqueIdentifier;
  let rec: ManagedObjectRecord;
  try {
    rec = await loadObject(ctx, uid);
  } catch (e) {
    remap(e, { ITEM_NOT_FOUND: 'WRAPPING_OBJECT_NOT_FOUND', OBJECT_ARCHIVED: 'WRAPPING_OBJECT_ARCHIVED' });
  }
  if (isDestroyedState(stateOf(rec))) throw new KmipError('WRAPPING_OBJECT_DESTROYED', `the wrapping key '${uid}' is destroyed`, { field: 'Unique Identifier' });
  if (ASYMMETRIC_TYPES.has(rec.objectType)) {
    throw new KmipError('FEATURE_NOT_SUPPORTED', 'wrapping with an asymmetric key is not supported (a symmetric AES key is)', { field: 'Encryption Key Information' });
  }
  if (rec.objectType !== ObjectType.SymmetricKey) {
    throw new KmipError('INVALID_OBJECT_TYPE', 'the wrapping object is not a key', { field: 'Encryption Key Information' });
  }
  requireUsage(rec, CryptographicUsageMask.WrapKey, ctx.now);
  const instances = attrsOf(rec, 'Cryptographic Parameters').flatMap((a) => (a.value.type === ItemType.Structure ? [cryptographicParametersCodec.decode(a.value, ctx.protocolVersion)] : []));
  const requested = info.cryptographicParameters;
  const found = requested === undefined ? instances[0] : instances.find((i) => matches(requested, i));
  if (found === undefined) {
    throw new KmipError('WRAPPING_PARAMETERS_MISMATCH', requested === undefined
      ? 'the wrapping key has no Cryptographic Parameters attribute to wrap with'
      : 'the Cryptographic Parameters of the Encryption Key Information match none of the wrapping key\'s', { field: 'Cryptographic Parameters' });
  }
  const parameters = requested ?? found;
  const algorithm = found.cryptographicAlgorithm ?? enumAttr(rec, 'Cryptographic Algorithm');
  if (algorithm !== CryptographicAlgorithm.AES) {
    throw new KmipError('UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS', 'key wrapping needs an AES wrapping key', { field: 'Cryptographic Algorithm' });
  }
  let mode: KeyWrapMode;
  if (found.blockCipherMode === BlockCipherMode.NISTKeyWrap) mode = 'KW';
  else if (found.blockCipherMode === BlockCipherMode.AESKeyWrapPadding) mode = 'KWP';
  else throw new KmipError('UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS', 'key wrapping supports the Block Cipher Modes NIST Key Wrap and AES Key Wrap Padding', { field: 'Block Cipher Mode' });
  return { spec, wrappingKeyUid: uid, wrappingKey: rec, mode, parameters, encoding: spec.encodingOption ?? EncodingOption.TTLVEncoding };
}

/** The bytes that are wrapped (KMIP 2.1 §3.2): the Key Material Byte String, or the TTLV of the Key Value. */
function wrapInput(kb: KeyBlock, encoding: number, v: ProtocolVersion): Uint8Array {
  if (kb.keyValue?.kind !== 'plain') {
    throw new KmipError('FEATURE_NOT_SUPPORTED', 'the object is stored wrapped; wrapping it again is not supported', { field: 'Key Wrapping Specification' });
  }
  if (encoding === EncodingOption.NoEncoding) {
    const m = kb.keyValue.keyMaterial;
    if (!(m instanceof Uint8Array)) {
      // KMIP 1.4 §11.12 "Object exists but cannot be provided in the desired Encoding Option".
      throw new KmipError('ENCODING_OPTION_ERROR', 'No Encoding wraps a Byte String Key Material; this Key Format Type has a structure (use TTLV Encoding)', { field: 'Encoding Option' });
    }
    return Uint8Array.from(m);
  }
  const keyValue = encodeKeyBlock(kb, v).value.find((c) => c.tag === Tag.KeyValue);
  if (keyValue === undefined) throw new KmipError('KEY_VALUE_NOT_PRESENT', 'the server holds no value for this object');
  return encodeTtlv(keyValue);
}

/**
 * `object` with its Key Value wrapped under the resolved key and the Key Wrapping Data set (KMIP 2.1 §3.3): the
 * answer of a wrapped Get. The plaintext bytes that were wrapped are wiped here; `object`'s own key bytes are the
 * caller's to wipe.
 */
export async function wrapObject(ctx: OpContext, w: ResolvedWrapping, object: ManagedObject): Promise<ManagedObject> {
  // Symmetric Key and Secret Data are the typed objects with a Key Block (payloads/objects.ts); the rest are raw.
  if (!('keyBlock' in object)) {
    throw new KmipError('FEATURE_NOT_SUPPORTED', 'key wrapping on Get is offered for Symmetric Keys and Secret Data', { field: 'Key Wrapping Specification' });
  }
  const kb = object.keyBlock;
  const input = wrapInput(kb, w.encoding, ctx.protocolVersion);
  try {
    const wrapped = await withSymmetricKey(ctx, w.wrappingKeyUid, CryptographicUsageMask.WrapKey, (key) => aesKeyWrap(key, input, w.mode), w.wrappingKey);
    const data: KeyWrappingData = {
      wrappingMethod: WrappingMethod.Encrypt,
      encryptionKeyInformation: { uniqueIdentifier: w.wrappingKeyUid, cryptographicParameters: w.parameters },
      ...(w.spec.encodingOption === undefined ? {} : { encodingOption: w.spec.encodingOption }),
    };
    const out: KeyBlock = {
      keyFormatType: kb.keyFormatType,
      ...(kb.keyCompressionType === undefined ? {} : { keyCompressionType: kb.keyCompressionType }),
      keyValue: { kind: 'wrapped', bytes: wrapped },
      ...(kb.cryptographicAlgorithm === undefined ? {} : { cryptographicAlgorithm: kb.cryptographicAlgorithm }),
      ...(kb.cryptographicLength === undefined ? {} : { cryptographicLength: kb.cryptographicLength }),
      keyWrappingData: encodeKeyWrappingData(data, ctx.protocolVersion),
    };
    // Built field by field: `object` may be a class whose fields are getters (payloads/objects.ts EncodedObject).
    return object.objectType === ObjectType.SecretData
      ? { objectType: ObjectType.SecretData, secretDataType: object.secretDataType, keyBlock: out }
      : { objectType: ObjectType.SymmetricKey, keyBlock: out };
  } finally {
    input.fill(0);
  }
}
