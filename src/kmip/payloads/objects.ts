/**
 * Managed Objects as payloads carry them (Register request, Get response):
 * Key Block (KMIP 1.4 §2.1.3 / 2.1 §2.1.3-2.1.4), Symmetric Key, Secret Data and Opaque
 * Object typed; the other object types (Certificate, Public/Private Key, Split Key,
 * Template, PGP Key, Certificate Request) are kept as raw structures for now.
 * Also Cryptographic Parameters (1.4 §3.6 / 2.1 §4.14), shared by Encrypt/Decrypt.
 */
import { ItemType } from '@openkcm/ttlv';
import type { EncodedStructure } from '@openkcm/ttlv';
import type { StructureItem, TtlvItem } from '@openkcm/ttlv';
import { bytes, enumeration, int } from '@openkcm/ttlv';
import { readAttributeList, writeAttributeList } from '../attributes.js';
import type { KmipAttribute } from '../attributes.js';
import { KmipError } from '../errors.js';
import { KMIP_2_1 } from '../message.js';
import type { ProtocolVersion } from '../message.js';
import { KeyFormatType, ObjectType, Tag } from '../registry.generated.js';
import { structCodec } from './codec.js';
import type { CustomField, StructCodec } from './codec.js';
import { optEnum, optInt, optItem, optStruct, reqBytes, reqEnum, reqStruct, struct, tagName } from './fields.js';

// ---- Key Block ---------------------------------------------------------------------------------

/** A plaintext Key Value (Structure): Key Material plus optional attributes. */
export interface PlainKeyValue {
  readonly kind: 'plain';
  /** Byte String for Raw/Opaque/PKCS#1/PKCS#8/... formats; Structure for Transparent formats. */
  keyMaterial: Uint8Array | StructureItem;
  /** 1.x Attribute* / 2.x Attributes inside the Key Value. */
  attributes?: KmipAttribute[];
}

/** A wrapped Key Value: the Byte String produced by the wrapping (1.4 §2.1.3). */
export interface WrappedKeyValue {
  readonly kind: 'wrapped';
  bytes: Uint8Array;
}

export interface KeyBlock {
  keyFormatType: number;
  keyCompressionType?: number;
  /** Absent for a metadata-only object (2.1 §2.1.3 "Key Value: No"). */
  keyValue?: PlainKeyValue | WrappedKeyValue;
  cryptographicAlgorithm?: number;
  cryptographicLength?: number;
  /** Kept raw; the wrapping engine interprets it. */
  keyWrappingData?: StructureItem;
}

function encodeKeyValue(kv: PlainKeyValue | WrappedKeyValue, v: ProtocolVersion): TtlvItem {
  if (kv.kind === 'wrapped') return bytes(Tag.KeyValue, kv.bytes);
  const material = kv.keyMaterial instanceof Uint8Array ? bytes(Tag.KeyMaterial, kv.keyMaterial) : Object.assign({}, kv.keyMaterial, { tag: Tag.KeyMaterial });
  return struct(Tag.KeyValue, [material, kv.attributes === undefined ? undefined : writeAttributeList(kv.attributes, v)]);
}

function decodeKeyValue(item: TtlvItem, v: ProtocolVersion): PlainKeyValue | WrappedKeyValue {
  if (item.type === ItemType.ByteString) return { kind: 'wrapped', bytes: item.value };
  if (item.type !== ItemType.Structure) {
    throw new KmipError('INVALID_DATA_TYPE', 'Key Value must be a Byte String (wrapped) or a Structure', { field: 'Key Value' });
  }
  const material = optItem(item, Tag.KeyMaterial);
  if (material === undefined) throw new KmipError('MISSING_DATA', 'Key Material is required in Key Value', { field: 'Key Material' });
  if (material.type !== ItemType.ByteString && material.type !== ItemType.Structure) {
    throw new KmipError('INVALID_DATA_TYPE', 'Key Material must be a Byte String or a Structure', { field: 'Key Material' });
  }
  const kv: PlainKeyValue = { kind: 'plain', keyMaterial: material.type === ItemType.ByteString ? material.value : material };
  const attributes = readAttributeList(item, v);
  if (attributes.length > 0) kv.attributes = attributes;
  return kv;
}

export function encodeKeyBlock(kb: KeyBlock, v: ProtocolVersion): StructureItem {
  return struct(Tag.KeyBlock, [
    enumeration(Tag.KeyFormatType, kb.keyFormatType),
    kb.keyCompressionType === undefined ? undefined : enumeration(Tag.KeyCompressionType, kb.keyCompressionType),
    kb.keyValue === undefined ? undefined : encodeKeyValue(kb.keyValue, v),
    kb.cryptographicAlgorithm === undefined ? undefined : enumeration(Tag.CryptographicAlgorithm, kb.cryptographicAlgorithm),
    kb.cryptographicLength === undefined ? undefined : int(Tag.CryptographicLength, kb.cryptographicLength),
    kb.keyWrappingData,
  ]);
}

export function decodeKeyBlock(s: StructureItem, v: ProtocolVersion): KeyBlock {
  const kb: KeyBlock = { keyFormatType: reqEnum(s, Tag.KeyFormatType) };
  const kct = optEnum(s, Tag.KeyCompressionType);
  if (kct !== undefined) kb.keyCompressionType = kct;
  const kv = optItem(s, Tag.KeyValue);
  if (kv !== undefined) kb.keyValue = decodeKeyValue(kv, v);
  const alg = optEnum(s, Tag.CryptographicAlgorithm);
  if (alg !== undefined) kb.cryptographicAlgorithm = alg;
  const len = optInt(s, Tag.CryptographicLength);
  if (len !== undefined) kb.cryptographicLength = len;
  const kwd = optStruct(s, Tag.KeyWrappingData);
  if (kwd !== undefined) kb.keyWrappingData = kwd;
  return kb;
}

/**
 * A symmetric Key Block in Raw (1.4 §9.1.3.2.3 Key Format Type Raw) or Transparent
 * Symmetric Key format (1.4 §2.1.7.1: Key Material is a Structure holding `Key`).
 */
export function symmetricKeyBlock(key: Uint8Array, opts: { format?: 'raw' | 'transparent'; cryptographicAlgorithm?: number; cryptographicLength?: number } = {}): KeyBlock {
  const transparent = opts.format === 'transparent';
  const kb: KeyBlock = {
    keyFormatType: transparent ? KeyFormatType.TransparentSymmetricKey : KeyFormatType.Raw,
    keyValue: { kind: 'plain', keyMaterial: transparent ? struct(Tag.KeyMaterial, [bytes(Tag.Key, key)]) : key },
    cryptographicLength: opts.cryptographicLength ?? key.length * 8,
  };
  if (opts.cryptographicAlgorithm !== undefined) kb.cryptographicAlgorithm = opts.cryptographicAlgorithm;
  return kb;
}

/** The key bytes of a plaintext Raw / Opaque / Transparent Symmetric Key block, else undefined. */
export function keyBlockBytes(kb: KeyBlock): Uint8Array | undefined {
  if (kb.keyValue?.kind !== 'plain') return undefined;
  const m = kb.keyValue.keyMaterial;
  if (m instanceof Uint8Array) return m;
  if (kb.keyFormatType === KeyFormatType.TransparentSymmetricKey) return reqBytes(m, Tag.Key);
  return undefined;
}

// ---- Managed Objects ---------------------------------------------------------------------------

export interface SymmetricKeyObject { objectType: typeof ObjectType.SymmetricKey; keyBlock: KeyBlock }
export interface SecretDataObject { objectType: typeof ObjectType.SecretData; secretDataType: number; keyBlock: KeyBlock }
export interface OpaqueObjectValue { objectType: typeof ObjectType.OpaqueObject; opaqueDataType: number; opaqueDataValue: Uint8Array }
/** Certificate, Public/Private Key, Split Key, Template, PGP Key, Certificate Request: raw. */
export interface RawManagedObject { objectType: number; raw: StructureItem }

export type ManagedObject = SymmetricKeyObject | SecretDataObject | OpaqueObjectValue | RawManagedObject;

/** Object Type → the tag of its object structure (KMIP 1.4 §2.2, 2.1 §2.2). */
export const OBJECT_TAG_BY_TYPE: ReadonlyMap<number, number> = new Map<number, number>([
  [ObjectType.Certificate, Tag.Certificate],
  [ObjectType.SymmetricKey, Tag.SymmetricKey],
  [ObjectType.PublicKey, Tag.PublicKey],
  [ObjectType.PrivateKey, Tag.PrivateKey],
  [ObjectType.SplitKey, Tag.SplitKey],
  [ObjectType.Template, Tag.Template],
  [ObjectType.SecretData, Tag.SecretData],
  [ObjectType.OpaqueObject, Tag.OpaqueObject],
  [ObjectType.PGPKey, Tag.PGPKey],
  [ObjectType.CertificateRequest, Tag.CertificateRequest],
]);

function objectTag(objectType: number): number {
  const tag = OBJECT_TAG_BY_TYPE.get(objectType);
  if (tag === undefined) throw new KmipError('INVALID_FIELD', `unknown Object Type ${String(objectType)}`, { field: 'Object Type' });
  return tag;
}

export function encodeManagedObject(o: ManagedObject, v: ProtocolVersion): StructureItem {
  // An object answered from its stored bytes is encoded as those bytes (objectFromEncoding).
  if (o instanceof EncodedObject) return o.encoding;
  if ('raw' in o) return Object.assign({}, o.raw, { tag: objectTag(o.objectType) });
  switch (o.objectType) {
    case ObjectType.SymmetricKey:
      return struct(Tag.SymmetricKey, [encodeKeyBlock(o.keyBlock, v)]);
    case ObjectType.SecretData:
      return struct(Tag.SecretData, [enumeration(Tag.SecretDataType, o.secretDataType), encodeKeyBlock(o.keyBlock, v)]);
    case ObjectType.OpaqueObject:
      return struct(Tag.OpaqueObject, [enumeration(Tag.OpaqueDataType, o.opaqueDataType), bytes(Tag.OpaqueDataValue, o.opaqueDataValue)]);
  }
}

/**
 * Reads the object structure that matches `objectType` from a payload. A payload whose
 * object does not match its Object Type is Invalid Field (KMIP 1.4 §11.4 "Object Type does
 * not match type of cryptographic object provided").
 */
export function decodeManagedObject(payload: StructureItem, objectType: number, v: ProtocolVersion): ManagedObject {
  const tag = objectTag(objectType);
  const s = optStruct(payload, tag);
  if (s === undefined) {
    const other = [...OBJECT_TAG_BY_TYPE.values()].find((t) => optItem(payload, t) !== undefined);
    if (other !== undefined) throw new KmipError('INVALID_FIELD', `Object Type does not match the ${tagName(other)} object provided`, { field: 'Object Type' });
    throw new KmipError('MISSING_DATA', `${tagName(tag)} object is required`, { field: tagName(tag) });
  }
  switch (objectType) {
    case ObjectType.SymmetricKey:
      return { objectType, keyBlock: decodeKeyBlock(reqStruct(s, Tag.KeyBlock), v) };
    case ObjectType.SecretData:
      return { objectType, secretDataType: reqEnum(s, Tag.SecretDataType), keyBlock: decodeKeyBlock(reqStruct(s, Tag.KeyBlock), v) };
    case ObjectType.OpaqueObject:
      return { objectType, opaqueDataType: reqEnum(s, Tag.OpaqueDataType), opaqueDataValue: reqBytes(s, Tag.OpaqueDataValue) };
    default:
      return { objectType, raw: s };
  }
}

/**
 * A managed object held as its TTLV encoding: a plain Get answers with the bytes the server stored the object as,
 * spliced into the response (issue 14, ARCHITECTURE §8) instead of decoded and encoded again. To everyone else it is
 * the ordinary model object of its type: its fields (keyBlock, opaqueDataValue, raw, ...) decode the bytes on first
 * read. The bytes are private, so a spread copy (`{ ...o, keyBlock }`) is a plain object with only what was copied
 * and is encoded from its fields, never from stale bytes.
 */
abstract class EncodedObject {
  readonly objectType: number;
  readonly #encoding: EncodedStructure;
  readonly #version: ProtocolVersion;
  #decoded: ManagedObject | undefined;

  constructor(objectType: number, encoding: EncodedStructure, v: ProtocolVersion) {
    if (encoding.tag !== objectTag(objectType)) throw new KmipError('INVALID_FIELD', 'Object Type does not match the object provided', { field: 'Object Type' });
    this.objectType = objectType;
    this.#encoding = encoding;
    this.#version = v;
  }

  get encoding(): EncodedStructure {
    return this.#encoding;
  }

  protected decoded(): ManagedObject {
    this.#decoded ??= decodeManagedObject({ tag: Tag.ResponsePayload, type: ItemType.Structure, value: [this.#encoding] }, this.objectType, this.#version);
    return this.#decoded;
  }
}

class EncodedKeyObject extends EncodedObject {
  get keyBlock(): KeyBlock {
    const d = this.decoded();
    if (!('keyBlock' in d)) throw new KmipError('INVALID_FIELD', 'the stored object has no Key Block');
    return d.keyBlock;
  }

  get secretDataType(): number {
    const d = this.decoded();
    return 'secretDataType' in d ? d.secretDataType : 0;
  }
}

class EncodedOpaqueObject extends EncodedObject {
  get opaqueDataType(): number {
    const d = this.decoded();
    return 'opaqueDataType' in d ? d.opaqueDataType : 0;
  }

  get opaqueDataValue(): Uint8Array {
    const d = this.decoded();
    return 'opaqueDataValue' in d ? d.opaqueDataValue : new Uint8Array(0);
  }
}

class EncodedRawObject extends EncodedObject {
  get raw(): StructureItem {
    const d = this.decoded();
    return 'raw' in d ? d.raw : this.encoding;
  }
}

/**
 * The object of type `objectType` whose object structure is `encoding` (written in protocol version `v`, by
 * default the KMIP 2.1 form the vault stores): see {@link EncodedObject}.
 */
export function objectFromEncoding(objectType: number, encoding: EncodedStructure, v: ProtocolVersion = KMIP_2_1): ManagedObject {
  switch (objectType) {
    case ObjectType.SymmetricKey:
    case ObjectType.SecretData:
      return new EncodedKeyObject(objectType, encoding, v) as unknown as SymmetricKeyObject | SecretDataObject;
    case ObjectType.OpaqueObject:
      return new EncodedOpaqueObject(objectType, encoding, v) as unknown as OpaqueObjectValue;
    default:
      return new EncodedRawObject(objectType, encoding, v);
  }
}

/** Custom field: the object of a payload whose `objectType` key says which one it is. */
export function managedObjectField<T extends { objectType: number; object: ManagedObject }>(): CustomField<T> {
  return {
    name: 'Object',
    encode(obj, v) {
      if (obj.object.objectType !== obj.objectType) {
        throw new KmipError('INVALID_FIELD', 'Object Type does not match the object provided', { field: 'Object Type' });
      }
      return encodeManagedObject(obj.object, v);
    },
    decode(s, v, out) {
      if (out.objectType === undefined) return; // the required Object Type field already threw
      out.object = decodeManagedObject(s, out.objectType, v);
    },
  };
}

// ---- Cryptographic Parameters (1.4 §3.6, 2.1 §4.14) --------------------------------------------

export interface CryptographicParameters {
  blockCipherMode?: number;
  paddingMethod?: number;
  hashingAlgorithm?: number;
  keyRoleType?: number;
  digitalSignatureAlgorithm?: number;
  cryptographicAlgorithm?: number;
  randomIV?: boolean;
  ivLength?: number;
  tagLength?: number;
  fixedFieldLength?: number;
  invocationFieldLength?: number;
  counterLength?: number;
  initialCounterValue?: number;
  saltLength?: number;
  maskGenerator?: number;
  maskGeneratorHashingAlgorithm?: number;
  pSource?: Uint8Array;
  trailerField?: number;
}

export const cryptographicParametersCodec: StructCodec<CryptographicParameters> = structCodec<CryptographicParameters>(Tag.CryptographicParameters, [
  { key: 'blockCipherMode', tag: Tag.BlockCipherMode, kind: 'enum' },
  { key: 'paddingMethod', tag: Tag.PaddingMethod, kind: 'enum' },
  { key: 'hashingAlgorithm', tag: Tag.HashingAlgorithm, kind: 'enum' },
  { key: 'keyRoleType', tag: Tag.KeyRoleType, kind: 'enum' },
  { key: 'digitalSignatureAlgorithm', tag: Tag.DigitalSignatureAlgorithm, kind: 'enum' },
  { key: 'cryptographicAlgorithm', tag: Tag.CryptographicAlgorithm, kind: 'enum' },
  { key: 'randomIV', tag: Tag.RandomIV, kind: 'bool' },
  { key: 'ivLength', tag: Tag.IVLength, kind: 'int' },
  { key: 'tagLength', tag: Tag.TagLength, kind: 'int' },
  { key: 'fixedFieldLength', tag: Tag.FixedFieldLength, kind: 'int' },
  { key: 'invocationFieldLength', tag: Tag.InvocationFieldLength, kind: 'int' },
  { key: 'counterLength', tag: Tag.CounterLength, kind: 'int' },
  { key: 'initialCounterValue', tag: Tag.InitialCounterValue, kind: 'int' },
  { key: 'saltLength', tag: Tag.SaltLength, kind: 'int' },
  { key: 'maskGenerator', tag: Tag.MaskGenerator, kind: 'enum' },
  { key: 'maskGeneratorHashingAlgorithm', tag: Tag.MaskGeneratorHashingAlgorithm, kind: 'enum' },
  { key: 'pSource', tag: Tag.PSource, kind: 'bytes' },
  { key: 'trailerField', tag: Tag.TrailerField, kind: 'int' },
]);

// ---- Protection Storage Masks (2.1 §4.x) ----------------------------------------------------------

/** 2.x only: `Protection Storage Masks { Protection Storage Mask* }` as a list of masks. */
export function protectionStorageMasksField<T extends { protectionStorageMasks?: number[] }>(): CustomField<T> {
  return {
    name: 'Protection Storage Masks',
    only: 2,
    encode(obj) {
      const masks = obj.protectionStorageMasks;
      if (masks === undefined) return undefined;
      return struct(Tag.ProtectionStorageMasks, [masks.map((m) => int(Tag.ProtectionStorageMask, m))]);
    },
    decode(s, _v, out) {
      const masks = optStruct(s, Tag.ProtectionStorageMasks);
      if (masks === undefined) return;
      out.protectionStorageMasks = masks.value.filter((c) => c.tag === Tag.ProtectionStorageMask).map((c) => {
        if (c.type !== ItemType.Integer) throw new KmipError('INVALID_DATA_TYPE', 'Protection Storage Mask must be an Integer', { field: 'Protection Storage Mask' });
        return c.value;
      });
    },
  };
}
