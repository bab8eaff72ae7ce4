/**
 * The attributes a new object starts with (Create, Register): the client's template plus what
 * the server sets implicitly at creation — the "When implicitly set: Create, ..., Register" rows
 * of the attribute rules tables (KMIP 1.4 §3, 2.1 §4).
 */
import { X509Certificate } from 'node:crypto';
import type { KmipAttribute } from '../../kmip/attributes.js';
import { KmipError } from '../../kmip/errors.js';
import {
  CryptographicAlgorithm, DRBGAlgorithm, ObjectType, ProtectionStorageMask, RNGAlgorithm, State, Tag,
} from '../../kmip/registry.js';
import { struct } from '../../kmip/payloads/fields.js';
import type { ManagedObject } from '../../kmip/payloads/objects.js';
import { bytes, enumeration, int, text } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem, TtlvItem } from '@openkcm/ttlv';
import type { OpContext } from '../services.js';
import { computeDigest, sha256 } from './digest.js';
import { advanceByDates } from './lifecycle.js';
import {
  attrOf, boolAttr, enumAttr, intAttr, setAttr, setBool, setDate, setEnum, setInt, setInterval,
} from './record.js';
import type { ManagedObjectRecord } from './store.js';

/**
 * The server's random number generator, for the Random Number Generator attribute (KMIP 1.4
 * §3.44) and Query RNGs: key material comes from crypto.randomBytes, i.e. OpenSSL 3's default
 * DRBG, a NIST SP 800-90A CTR_DRBG over AES-256 seeded from the operating system.
 */
export function rngParameters(tag: number = Tag.RandomNumberGenerator): StructureItem {
  return struct(tag, [
    enumeration(Tag.RNGAlgorithm, RNGAlgorithm.DRBG),
    enumeration(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
    int(Tag.CryptographicLength, 256),
    enumeration(Tag.DRBGAlgorithm, DRBGAlgorithm.CTR),
  ]);
}

function child(s: StructureItem, tag: number): TtlvItem | undefined {
  return s.value.find((c) => c.tag === tag);
}

/** Algorithm and length as the object itself states them (its Key Block), if it does. */
function keyBlockFacts(o: ManagedObject): { algorithm?: number; length?: number; format?: number } {
  if ('keyBlock' in o) {
    const kb = o.keyBlock;
    const facts: { algorithm?: number; length?: number; format?: number } = { format: kb.keyFormatType };
    if (kb.cryptographicAlgorithm !== undefined) facts.algorithm = kb.cryptographicAlgorithm;
    if (kb.cryptographicLength !== undefined) facts.length = kb.cryptographicLength;
    return facts;
  }
  if (!('raw' in o)) return {};
  const kb = child(o.raw, Tag.KeyBlock);
  if (kb?.type !== ItemType.Structure) return {};
  const alg = child(kb, Tag.CryptographicAlgorithm);
  const len = child(kb, Tag.CryptographicLength);
  const fmt = child(kb, Tag.KeyFormatType);
  const facts: { algorithm?: number; length?: number; format?: number } = {};
  if (alg?.type === ItemType.Enumeration) facts.algorithm = alg.value;
  if (len?.type === ItemType.Integer) facts.length = len.value;
  if (fmt?.type === ItemType.Enumeration) facts.format = fmt.value;
  return facts;
}

/** A key registered without its Key Value (the material is held elsewhere, Key Value Location). */
function keyValueAbsent(o: ManagedObject): boolean {
  if ('keyBlock' in o) return o.keyBlock.keyValue === undefined;
  if (!('raw' in o)) return false;
  const kb = child(o.raw, Tag.KeyBlock);
  return kb?.type === ItemType.Structure && child(kb, Tag.KeyValue) === undefined;
}

/** RFC 4514-style "KEY=value" lines of Node's X509Certificate.subject / .issuer. */
function dnFields(dn: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of dn.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const k = line.slice(0, eq);
    const list = m.get(k) ?? [];
    list.push(line.slice(eq + 1));
    m.set(k, list);
  }
  return m;
}

/** KMIP 2.1 §4.6 Certificate Attributes ↔ X.500 attribute keys as Node prints them. */
const DN_KEYS: readonly (readonly [suffix: string, key: string])[] = [
  ['CN', 'CN'], ['O', 'O'], ['OU', 'OU'], ['Email', 'emailAddress'], ['C', 'C'], ['ST', 'ST'], ['L', 'L'],
  ['UID', 'UID'], ['Serial Number', 'serialNumber'], ['Title', 'title'], ['DC', 'DC'], ['DN Qualifier', 'dnQualifier'],
];

const CERT_TAG_PREFIX: Readonly<Record<string, string>> = { Subject: 'CertificateSubject', Issuer: 'CertificateIssuer' };

/**
 * Certificate Type, Certificate Length (the DER length, KMIP 1.4 §3.9) and the Certificate
 * Attributes (2.1 §4.6) from an X.509 certificate; a value that does not parse as X.509 is
 * Invalid Field ("Incorrect attribute value(s)": the object contradicts its type).
 */
function certificateAttributes(rec: ManagedObjectRecord, raw: StructureItem): void {
  const type = child(raw, Tag.CertificateType);
  const value = child(raw, Tag.CertificateValue);
  if (type?.type === ItemType.Enumeration) {
    const stated = enumAttr(rec, 'Certificate Type');
    if (stated !== undefined && stated !== type.value) {
      throw new KmipError('INVALID_FIELD', 'the Certificate Type attribute contradicts the certificate', { field: 'Certificate Type' });
    }
    setEnum(rec, 'Certificate Type', Tag.CertificateType, type.value);
  }
  if (value?.type !== ItemType.ByteString) return;
  setInt(rec, 'Certificate Length', Tag.CertificateLength, value.value.length);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(value.value);
  } catch (e) {
    throw new KmipError('INVALID_FIELD', 'Certificate Value is not a DER X.509 certificate', { field: 'Certificate Value', cause: e });
  }
  for (const [side, dn] of [['Subject', cert.subject], ['Issuer', cert.issuer]] as const) {
    const fields = dnFields(dn);
    for (const [suffix, key] of DN_KEYS) {
      const tagName = `${CERT_TAG_PREFIX[side] ?? ''}${suffix.replace(/ /g, '')}`;
      const tag = (Tag as Record<string, number>)[tagName];
      if (tag === undefined) continue;
      for (const v of fields.get(key) ?? []) rec.attributes.push({ name: `Certificate ${side} ${suffix}`, value: text(tag, v) });
    }
  }
}

export interface NewObjectInput {
  readonly uid: string;
  readonly objectType: number;
  readonly object: ManagedObject | undefined;
  /** The client's attributes, already checked (checkInitialAttributes). */
  readonly clientAttributes: readonly KmipAttribute[];
  /** True for Create (server-generated material), false for Register. */
  readonly generated: boolean;
}

/** Builds the record of a new object, with every implicitly set attribute. */
export function newObjectRecord(ctx: OpContext, input: NewObjectInput): ManagedObjectRecord {
  const { now } = ctx;
  const rec: ManagedObjectRecord = {
    uid: input.uid, objectType: input.objectType, attributes: [], hasObject: input.object !== undefined, object: input.object,
  };
  setAttr(rec, 'Unique Identifier', text(Tag.UniqueIdentifier, input.uid));
  setEnum(rec, 'Object Type', Tag.ObjectType, input.objectType);
  // Copies without the 1.x Attribute Index (built without it rather than deleted: a delete turns an object slow).
  for (const a of input.clientAttributes) rec.attributes.push({ name: a.name, value: a.value });

  const facts = input.object === undefined ? {} : keyBlockFacts(input.object);
  for (const [name, tag, fact] of [
    ['Cryptographic Algorithm', Tag.CryptographicAlgorithm, facts.algorithm],
    ['Cryptographic Length', Tag.CryptographicLength, facts.length],
  ] as const) {
    if (fact === undefined) continue;
    const given = name === 'Cryptographic Algorithm' ? enumAttr(rec, name) : intAttr(rec, name);
    if (given !== undefined && given !== fact) {
      throw new KmipError('INVALID_FIELD', `the ${name} attribute (${String(given)}) contradicts the object's Key Block (${String(fact)})`, { field: name });
    }
    if (name === 'Cryptographic Algorithm') setEnum(rec, name, tag, fact);
    else setInt(rec, name, tag, fact);
  }
  // 2.x attribute: the format the key is stored in (KMIP 2.1 §4.32).
  if (facts.format !== undefined) setEnum(rec, 'Key Format Type', Tag.KeyFormatType, facts.format);
  if (input.object !== undefined && 'raw' in input.object && input.objectType === ObjectType.Certificate) {
    certificateAttributes(rec, input.object.raw);
  }

  // Key Value Present (1.4 §3.41, 2.1 §4.28): "SHALL be created by the server if the Key Value is
  // absent from the Key Block in a Register request" (TC-MDO-1-20 reads it back as False).
  if (!input.generated && input.objectType !== ObjectType.PublicKey && input.object !== undefined && keyValueAbsent(input.object)) {
    setBool(rec, 'Key Value Present', Tag.KeyValuePresent, false);
  }

  const digest = input.object === undefined ? undefined : computeDigest(input.object);
  if (digest !== undefined) rec.attributes.push({ name: 'Digest', value: digest });

  setDate(rec, 'Initial Date', Tag.InitialDate, now);
  setDate(rec, 'Last Change Date', Tag.LastChangeDate, now);
  setInterval(rec, 'Lease Time', Tag.LeaseTime, ctx.services.config.defaultLeaseTimeSeconds);
  if (input.objectType !== ObjectType.Template) setEnum(rec, 'State', Tag.State, State.PreActive);

  // Fresh (1.4 §3.34): "set to True when the object is created or registered" unless given.
  if (boolAttr(rec, 'Fresh') === undefined) setBool(rec, 'Fresh', Tag.Fresh, true);
  // Sensitive / Extractable default to False / True (1.4 §3.47, §3.49); Always Sensitive and
  // Never Extractable start as their initial value (§3.48, §3.50).
  const sensitive = boolAttr(rec, 'Sensitive') ?? false;
  const extractable = boolAttr(rec, 'Extractable') ?? true;
  setBool(rec, 'Sensitive', Tag.Sensitive, sensitive);
  setBool(rec, 'Always Sensitive', Tag.AlwaysSensitive, sensitive);
  setBool(rec, 'Extractable', Tag.Extractable, extractable);
  setBool(rec, 'Never Extractable', Tag.NeverExtractable, !extractable);

  if (input.generated) {
    setDate(rec, 'Original Creation Date', Tag.OriginalCreationDate, now);
    setAttr(rec, 'Random Number Generator', rngParameters());
  } else if (attrOf(rec, 'Original Creation Date') === undefined) {
    // 1.4 §3.43: when registered without one, the server sets it to the Initial Date.
    setDate(rec, 'Original Creation Date', Tag.OriginalCreationDate, now);
  }
  // KMIP 2.1 §4.56: "SHOULD be generated as a SHA-256 hash of the Unique Identifier".
  setAttr(rec, 'Short Unique Identifier', bytes(Tag.ShortUniqueIdentifier, sha256(input.uid)));
  // Key material is held in software (sealed in the vault), KMIP 2.1 §12.4.
  setInt(rec, 'Protection Storage Mask', Tag.ProtectionStorageMask, ProtectionStorageMask.Software);

  // State transition 1 (2.1 §4.57): an Activation Date already reached makes the object Active.
  advanceByDates(rec, now);
  return rec;
}
