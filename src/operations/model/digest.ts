/**
 * The Digest attribute (KMIP 1.4 §3.17, KMIP 2.1 §4.21): "If the Key Material is a Byte
 * String, then the Digest Value SHALL be calculated on this Byte String. If the Key Material is
 * a structure, then the Digest Value SHALL be calculated on the TTLV-encoded Key Material
 * structure." Certificates hash the Certificate Value, opaque objects the Opaque Data Value.
 * The mandatory instance uses SHA-256 "and the default Key Value Format for this object type":
 * for a symmetric key that is Raw, so a key registered as Transparent Symmetric Key is hashed
 * over its raw key bytes and labelled Raw.
 */
import { hash } from 'node:crypto';
import { encodeTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem, TtlvItem } from '@openkcm/ttlv';
import { bytes, enumeration } from '@openkcm/ttlv';
import { HashingAlgorithm, KeyFormatType, ObjectType, Tag } from '../../kmip/registry.js';
import { struct } from '../../kmip/payloads/fields.js';
import { keyBlockBytes } from '../../kmip/payloads/objects.js';
import type { KeyBlock, ManagedObject } from '../../kmip/payloads/objects.js';

/** One-shot hash: no Hash object per call (issue 14, a Create computes two SHA-256s). */
export function sha256(data: Uint8Array | string): Uint8Array {
  const d = hash('sha256', data, 'buffer');
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function digestItem(value: Uint8Array, keyFormatType: number | undefined): StructureItem {
  return struct(Tag.Digest, [
    enumeration(Tag.HashingAlgorithm, HashingAlgorithm.SHA_256),
    bytes(Tag.DigestValue, sha256(value)),
    keyFormatType === undefined ? undefined : enumeration(Tag.KeyFormatType, keyFormatType),
  ]);
}

function child(s: StructureItem, tag: number): TtlvItem | undefined {
  return s.value.find((c) => c.tag === tag);
}

function digestOfKeyBlock(kb: KeyBlock, symmetric: boolean): StructureItem | undefined {
  if (kb.keyValue?.kind !== 'plain') return undefined; // wrapped: the server cannot see the material
  if (symmetric) {
    const raw = keyBlockBytes(kb);
    if (raw !== undefined) return digestItem(raw, KeyFormatType.Raw);
  }
  const m = kb.keyValue.keyMaterial;
  return digestItem(m instanceof Uint8Array ? m : new Uint8Array(encodeTtlv(Object.assign({}, m, { tag: Tag.KeyMaterial }))), kb.keyFormatType);
}

/** Key Material of a raw object structure (Public/Private/Split Key, PGP Key): Key Block → Key Value. */
function digestOfRawKeyObject(s: StructureItem): StructureItem | undefined {
  const kb = child(s, Tag.KeyBlock);
  if (kb?.type !== ItemType.Structure) return undefined;
  const kft = child(kb, Tag.KeyFormatType);
  const kv = child(kb, Tag.KeyValue);
  if (kv?.type !== ItemType.Structure) return undefined;
  const m = child(kv, Tag.KeyMaterial);
  if (m === undefined) return undefined;
  const format = kft?.type === ItemType.Enumeration ? kft.value : undefined;
  if (m.type === ItemType.ByteString) return digestItem(m.value, format);
  if (m.type === ItemType.Structure) return digestItem(new Uint8Array(encodeTtlv(m)), format);
  return undefined;
}

/** The SHA-256 Digest attribute value of an object, or undefined when it cannot be computed. */
export function computeDigest(o: ManagedObject): StructureItem | undefined {
  if ('raw' in o) {
    if (o.objectType === ObjectType.Certificate) {
      const cv = child(o.raw, Tag.CertificateValue);
      return cv?.type === ItemType.ByteString ? digestItem(cv.value, undefined) : undefined;
    }
    return digestOfRawKeyObject(o.raw);
  }
  switch (o.objectType) {
    case ObjectType.SymmetricKey: return digestOfKeyBlock(o.keyBlock, true);
    case ObjectType.SecretData: return digestOfKeyBlock(o.keyBlock, false);
    case ObjectType.OpaqueObject: return digestItem(o.opaqueDataValue, undefined);
  }
}
