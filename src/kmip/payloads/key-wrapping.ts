/**
 * Key Wrapping Specification (KMIP 1.4 §2.1.6, KMIP 2.1 §7.18) and Key Wrapping Data (KMIP 1.4 §2.1.5, KMIP 2.1
 * §3.3), typed. The Get payload keeps the specification as a raw structure (payloads/get.ts) and the Key Block keeps
 * the wrapping data raw (payloads/objects.ts), so every client of those payloads stays as it was; the wrapping engine
 * (src/operations/model/key-wrap.ts) reads and writes them through these codecs, and a client builds the request's
 * structure with {@link encodeKeyWrappingSpecification}.
 */
import type { StructureItem } from '@openkcm/ttlv';
import type { ProtocolVersion } from '../message.js';
import { Tag } from '../registry.generated.js';
import { nested, structCodec } from './codec.js';
import type { StructCodec } from './codec.js';
import { cryptographicParametersCodec } from './objects.js';
import type { CryptographicParameters } from './objects.js';

/** Encryption Key Information / MAC/Signature Key Information (KMIP 1.4 §2.1.5 Table 10, 2.1 §3.3 Table 16). */
export interface KeyInformation {
  uniqueIdentifier: string;
  cryptographicParameters?: CryptographicParameters;
}

function keyInformationCodec(tag: number): StructCodec<KeyInformation> {
  return structCodec<KeyInformation>(tag, [
    { key: 'uniqueIdentifier', tag: Tag.UniqueIdentifier, kind: 'text', required: true },
    nested<KeyInformation, 'cryptographicParameters'>('cryptographicParameters', cryptographicParametersCodec),
  ]);
}

const encryptionKeyInformation = keyInformationCodec(Tag.EncryptionKeyInformation);
const macSignatureKeyInformation = keyInformationCodec(Tag.MACSignatureKeyInformation);

/** KMIP 1.4 §2.1.6 Table 12, KMIP 2.1 §7.18 Table 370. */
export interface KeyWrappingSpecification {
  wrappingMethod: number;
  encryptionKeyInformation?: KeyInformation;
  macSignatureKeyInformation?: KeyInformation;
  /** The attributes to wrap with the key material (TTLV Encoding only). */
  attributeNames?: string[];
  /** Absent: TTLV Encoding (KMIP 2.1 Table 370 "If Encoding Option is not present, ... TTLV encoded"). */
  encodingOption?: number;
}

/** KMIP 1.4 §2.1.5 Table 9, KMIP 2.1 §3.3 Table 15. */
export interface KeyWrappingData {
  wrappingMethod: number;
  encryptionKeyInformation?: KeyInformation;
  macSignatureKeyInformation?: KeyInformation;
  macSignature?: Uint8Array;
  ivCounterNonce?: Uint8Array;
  encodingOption?: number;
}

const specificationCodec = structCodec<KeyWrappingSpecification>(Tag.KeyWrappingSpecification, [
  { key: 'wrappingMethod', tag: Tag.WrappingMethod, kind: 'enum', required: true },
  nested<KeyWrappingSpecification, 'encryptionKeyInformation'>('encryptionKeyInformation', encryptionKeyInformation),
  nested<KeyWrappingSpecification, 'macSignatureKeyInformation'>('macSignatureKeyInformation', macSignatureKeyInformation),
  { key: 'attributeNames', tag: Tag.AttributeName, kind: 'text', multi: 'nonEmpty' },
  { key: 'encodingOption', tag: Tag.EncodingOption, kind: 'enum' },
]);

const dataCodec = structCodec<KeyWrappingData>(Tag.KeyWrappingData, [
  { key: 'wrappingMethod', tag: Tag.WrappingMethod, kind: 'enum', required: true },
  nested<KeyWrappingData, 'encryptionKeyInformation'>('encryptionKeyInformation', encryptionKeyInformation),
  nested<KeyWrappingData, 'macSignatureKeyInformation'>('macSignatureKeyInformation', macSignatureKeyInformation),
  { key: 'macSignature', tag: Tag.MACSignature, kind: 'bytes' },
  { key: 'ivCounterNonce', tag: Tag.IVCounterNonce, kind: 'bytes' },
  { key: 'encodingOption', tag: Tag.EncodingOption, kind: 'enum' },
]);

export function decodeKeyWrappingSpecification(s: StructureItem, v: ProtocolVersion): KeyWrappingSpecification {
  return specificationCodec.decode(s, v);
}

/** The request structure a client puts in Get's Key Wrapping Specification field. */
export function encodeKeyWrappingSpecification(spec: KeyWrappingSpecification, v: ProtocolVersion): StructureItem {
  return specificationCodec.encode(spec, v);
}

export function decodeKeyWrappingData(s: StructureItem, v: ProtocolVersion): KeyWrappingData {
  return dataCodec.decode(s, v);
}

export function encodeKeyWrappingData(d: KeyWrappingData, v: ProtocolVersion): StructureItem {
  return dataCodec.encode(d, v);
}
