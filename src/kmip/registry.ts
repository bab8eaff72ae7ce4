/**
 * The KMIP tag and enumeration registry: O(1) lookups over the tables generated from the
 * specification texts (src/kmip/registry.generated.ts, made by scripts/gen-registry.mjs).
 *
 * Sources: tags KMIP 1.4 §9.1.3.1 / KMIP 2.1 §11.56; enumerations KMIP 1.4 §9.1.3.2 /
 * KMIP 2.1 §11; bit masks KMIP 1.4 §9.1.3.3 / KMIP 2.1 §12. Names are looked up either by the
 * spec spelling ("Activation Date") or by the XML/JSON spelling ("ActivationDate") of the
 * KMIP Profiles "Normalizing Names" rule, because both reach us: 1.x Attribute Names travel as
 * spec text, element names in the XML encoding as CamelCase.
 *
 * Lookups are exact (no case folding, no fuzzy matching): a misspelt name in a message is an
 * error to report, not something to guess at.
 *
 * Why Maps built once at module load: the codec and the message model call these on every
 * item of every message (XML/JSON encode, enum validation), so each lookup must be O(1).
 */

import type { ItemType } from '@openkcm/ttlv';
import { ATTRIBUTE_NAME_ROWS, ENUM_ROWS, KMIP_VERSIONS, TAG_ROWS } from './registry.generated.js';
import type { KmipVersion } from './registry.generated.js';

// Re-export the generated consts (Tag, ObjectType, Operation, ...) so callers need one import.
export * from './registry.generated.js';

export interface TagDef {
  /** Spec spelling, e.g. 'Activation Date'. */
  readonly name: string;
  /** XML/JSON spelling, e.g. 'ActivationDate'. */
  readonly xmlName: string;
  readonly code: number;
  /** Item type; null when the spec allows several (Attribute Value, Key Material, ...) or changed it between versions. */
  readonly type: ItemType | null;
  /** xmlName of the enumeration an Enumeration-typed tag takes its values from ('Tag' for tag references). */
  readonly enumName?: string;
  /** xmlName of the bit mask an Integer-typed tag is made of (e.g. 'CryptographicUsageMask'). */
  readonly maskName?: string;
  /** KMIP versions that define this tag. */
  readonly versions: readonly KmipVersion[];
}

export interface EnumEntry {
  readonly name: string;
  readonly xmlName: string;
  readonly value: number;
  readonly versions: readonly KmipVersion[];
}

export interface EnumDef {
  readonly name: string;
  readonly xmlName: string;
  readonly isMask: boolean;
  readonly entries: readonly EnumEntry[];
}

export interface AttributeDef {
  readonly tag: TagDef;
  readonly type: ItemType | null;
  readonly enumName?: string;
  readonly maskName?: string;
}

/** Name used by enumForTag() for tags whose values are tag names (KMIP 2.1 §11.56 Tag Enumeration). */
export const TAG_ENUMERATION_NAME = 'Tag';

function span(since: KmipVersion, until: KmipVersion): readonly KmipVersion[] {
  const from = KMIP_VERSIONS.indexOf(since);
  const to = KMIP_VERSIONS.indexOf(until);
  return Object.freeze(KMIP_VERSIONS.slice(from, to + 1));
}

// ---------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------

const tagsByCode = new Map<number, TagDef>();
const tagsByName = new Map<string, TagDef>();

for (const [code, name, xmlName, type, since, until, enumName, maskName, aliases] of TAG_ROWS) {
  const def: TagDef = Object.freeze({
    name,
    xmlName,
    code,
    type: type as ItemType | null,
    ...(enumName !== null ? { enumName } : {}),
    ...(maskName !== null ? { maskName } : {}),
    versions: span(since, until),
  });
  tagsByCode.set(code, def);
  for (const n of [name, xmlName, ...aliases]) {
    tagsByName.set(n, def);
  }
}

/** The tag with this 3-byte code, or undefined (extension tags 0x54xxxx are not in the registry). */
export function tagByCode(code: number): TagDef | undefined {
  return tagsByCode.get(code);
}

/** A tag by spec name ('Activation Date') or XML name ('ActivationDate'). */
export function tagByName(nameOrXmlName: string): TagDef | undefined {
  return tagsByName.get(nameOrXmlName);
}

/** Every tag, in code order. */
export function allTags(): readonly TagDef[] {
  return [...tagsByCode.values()];
}

// ---------------------------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------------------------

interface EnumIndex {
  readonly def: EnumDef;
  readonly byName: Map<string, EnumEntry>;
  /** value → entries (a value may have had different names in 1.x and 2.x). */
  readonly byValue: Map<number, EnumEntry[]>;
}

const enumsByName = new Map<string, EnumIndex>();

function indexEnum(def: EnumDef): void {
  const byName = new Map<string, EnumEntry>();
  const byValue = new Map<number, EnumEntry[]>();
  for (const e of def.entries) {
    byName.set(e.xmlName, e);
    if (!byName.has(e.name)) byName.set(e.name, e);
    const list = byValue.get(e.value);
    if (list) list.push(e);
    else byValue.set(e.value, [e]);
  }
  const idx: EnumIndex = { def, byName, byValue };
  enumsByName.set(def.name, idx);
  enumsByName.set(def.xmlName, idx);
}

for (const row of ENUM_ROWS) {
  const def: EnumDef = Object.freeze({
    name: row.name,
    xmlName: row.xmlName,
    isMask: row.isMask,
    entries: Object.freeze(
      row.entries.map(([name, xmlName, value, since, until]) =>
        Object.freeze({ name, xmlName, value, versions: span(since, until) }),
      ),
    ),
  });
  indexEnum(def);
}

// KMIP 2.1 §11.56: the Tag table is itself an enumeration (Attribute Reference names a tag by
// it, e.g. value="State"). Built from the tag rows rather than duplicated in the generated file.
indexEnum(
  Object.freeze({
    name: TAG_ENUMERATION_NAME,
    xmlName: TAG_ENUMERATION_NAME,
    isMask: false,
    entries: Object.freeze(
      [...tagsByCode.values()].map((t) =>
        Object.freeze({ name: t.name, xmlName: t.xmlName, value: t.code, versions: t.versions }),
      ),
    ),
  }),
);

/** Every enumeration and bit mask (plus the Tag enumeration), in generated order. */
export function allEnums(): readonly EnumDef[] {
  return [...new Set([...enumsByName.values()].map((i) => i.def))];
}

function lookupEnum(nameOrXmlName: string): EnumIndex | undefined {
  return enumsByName.get(nameOrXmlName);
}

/** An enumeration (or bit mask) by spec name ('Object Type') or XML name ('ObjectType'). */
export function enumByName(nameOrXmlName: string): EnumDef | undefined {
  return lookupEnum(nameOrXmlName)?.def;
}

/** The enumeration an Enumeration-typed tag takes its values from, if any. */
export function enumForTag(code: number): EnumDef | undefined {
  const t = tagsByCode.get(code);
  return t?.enumName !== undefined ? lookupEnum(t.enumName)?.def : undefined;
}

/** The bit mask an Integer-typed tag is made of, if any (e.g. Cryptographic Usage Mask). */
export function maskForTag(code: number): EnumDef | undefined {
  const t = tagsByCode.get(code);
  return t?.maskName !== undefined ? lookupEnum(t.maskName)?.def : undefined;
}

/** The numeric value of `valueName` (spec or XML spelling) in enumeration `enumName`. */
export function enumValue(enumName: string, valueName: string): number | undefined {
  const idx = lookupEnum(enumName);
  if (idx === undefined) return undefined;
  return idx.byName.get(valueName)?.value;
}

/**
 * The XML name of `value` in enumeration `enumName`. When a value was renamed between 1.x and
 * 2.x (e.g. Cryptographic Usage Mask 0x40 "Export" in 1.4, reserved in 2.1), `version` picks the
 * name of that version; without it the newest name wins.
 */
export function enumValueName(enumName: string, value: number, version?: KmipVersion): string | undefined {
  const list = lookupEnum(enumName)?.byValue.get(value);
  if (list === undefined) return undefined;
  if (version !== undefined) return list.find((e) => e.versions.includes(version))?.xmlName;
  let best: EnumEntry | undefined;
  for (const e of list) {
    if (best === undefined || lastIndex(e.versions) > lastIndex(best.versions)) best = e;
  }
  return best?.xmlName;
}

function lastIndex(vs: readonly KmipVersion[]): number {
  const last = vs[vs.length - 1];
  return last === undefined ? -1 : KMIP_VERSIONS.indexOf(last);
}

// ---------------------------------------------------------------------------------------------
// Attributes (1.x Attribute Name → tag)
// ---------------------------------------------------------------------------------------------

const attributesByName = new Map<string, AttributeDef>();
for (const [name, code] of ATTRIBUTE_NAME_ROWS) {
  const tag = tagsByCode.get(code);
  if (tag === undefined) continue;
  const def: AttributeDef = Object.freeze({
    tag,
    type: tag.type,
    ...(tag.enumName !== undefined ? { enumName: tag.enumName } : {}),
    ...(tag.maskName !== undefined ? { maskName: tag.maskName } : {}),
  });
  for (const n of [name, tag.name, tag.xmlName]) {
    attributesByName.set(n, def);
  }
}

/**
 * A 1.x Attribute Name (KMIP 1.4 §2.1.1, e.g. 'Cryptographic Algorithm') → its tag and type.
 * Custom attributes ('x-…', 'y-…', KMIP 1.4 §3.39) are not standard attributes: undefined.
 */
export function attributeByName(attrName: string): AttributeDef | undefined {
  if (/^[xy]-/i.test(attrName)) return undefined;
  return attributesByName.get(attrName);
}

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

/** Whether KMIP `version` defines tag `code`. */
export function tagExistsIn(code: number, version: KmipVersion): boolean {
  return tagsByCode.get(code)?.versions.includes(version) ?? false;
}

/**
 * Mask bits an edition defines that the generated tables (read from the 1.4 and 2.1 texts) do not date to it: a bit
 * that 2.1 marks "(Reserved)" is dated 1.0-1.4 by the generator, though 2.0 still defined it. One row per bit, with
 * the edition that shows it (issue 20: version-specific behaviour table-driven).
 * - Cryptographic Usage Mask 0x400: "Content Commitment" in KMIP 2.0 (the 1.x "Content Commitment (Non
 *   Repudiation)" renamed; the KMIP 2.0 test cases write it "ContentCommitment"), "(Reserved)" in KMIP 2.1 §12.1.
 */
export const EDITION_MASK_BITS: readonly { readonly mask: string; readonly value: number; readonly versions: readonly KmipVersion[] }[] = [
  { mask: 'CryptographicUsageMask', value: 0x00000400, versions: ['2.0'] },
];

/** Every bit of mask `maskXmlName` (e.g. 'CryptographicUsageMask') that KMIP `version` defines. */
export function maskBitsDefinedIn(maskXmlName: string, version: KmipVersion): number {
  let bits = 0;
  for (const e of lookupEnum(maskXmlName)?.def.entries ?? []) if (e.versions.includes(version)) bits |= e.value;
  for (const row of EDITION_MASK_BITS) if (row.mask === maskXmlName && row.versions.includes(version)) bits |= row.value;
  return bits;
}

/** Whether KMIP `version` defines `value` in enumeration `enumName`. */
export function enumValueExistsIn(enumName: string, value: number, version: KmipVersion): boolean {
  const list = lookupEnum(enumName)?.byValue.get(value);
  return list?.some((e) => e.versions.includes(version)) ?? false;
}
