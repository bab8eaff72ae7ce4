#!/usr/bin/env node
// Generates src/kmip/registry.generated.ts from the OASIS KMIP specification texts
// (kmip-spec-v1.4-os.txt and kmip-spec-v2.1-os.txt): the Tag table, every enumeration table,
// the bit masks, the item type of each tag, and the 1.x Attribute Names.
//
// Usage:
//   node scripts/gen-registry.mjs                 write src/kmip/registry.generated.ts
//   node scripts/gen-registry.mjs --check         exit 1 if the committed file differs (drift)
//   node scripts/gen-registry.mjs --spec-dir DIR  read the spec texts from DIR
//                                                 (also env OPENKCM_SPEC_DIR; default ../shared/kmip/spec)
//
// Plain Node ESM, no dependencies, no build step, so it can run before anything is compiled.
// Why generate rather than type the tables by hand: the two specs hold ~360 tags and ~930
// enumeration values in 66 enumerations; a parser over the published text is checkable
// (--check) and reviewable, hand-typed tables are neither.
//
// Extra flag: --report lists the tags left without an item type and the evidence found.

import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUT = path.join(repoRoot, 'src', 'kmip', 'registry.generated.ts');
const SPEC_14 = 'kmip-spec-v1.4-os.txt';
const SPEC_21 = 'kmip-spec-v2.1-os.txt';

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

const VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'];
const vIndex = (v) => {
  const i = VERSIONS.indexOf(v);
  if (i < 0) throw new Error(`unknown KMIP version ${v}`);
  return i;
};

// The two texts only tell us "in 1.4" and "in 2.1". The finer split (which 1.x minor release
// added a tag or value; whether a 2.x item arrived in 2.0 or 2.1) is not in them, so it comes
// from the boundary tables below.
//
// Source: PyKMIP, kmip/core/enums.py (OpenKMIP/PyKMIP, commit 82656a7f7539d95830c9337e7e5398105dd1d243),
// which annotates each enumeration class and each group of tags/values with "# KMIP 1.0",
// "# KMIP 1.1", ... "# KMIP 2.0". PyKMIP stops at KMIP 2.0, so anything in the 2.1 text beyond
// its last 2.0 entry is dated 2.1. Where PyKMIP is silent we say so next to the entry.
//
// Tags: KMIP assigned codes in order, so each release's additions form one contiguous range
// (PyKMIP Tags class):
//   1.0: 0x420001..0x4200A1   1.1: 0x4200A2..0x4200B7   1.2: 0x4200B8..0x4200D3
//   1.3: 0x4200D4..0x4200F7   1.4: 0x4200F8..0x420124   2.0: 0x420125..0x420165
//   2.1: 0x420166..           (PyKMIP's 2.0 list ends at 0x420165 Public Protection Storage Masks)
const TAG_SINCE_RANGES = [
  // [first code, version]
  [0x420001, '1.0'],
  [0x4200a2, '1.1'],
  [0x4200b8, '1.2'],
  [0x4200d4, '1.3'],
  [0x4200f8, '1.4'],
  [0x420125, '2.0'],
  [0x420166, '2.1'],
];

// Enumerations: the release that introduced each one (PyKMIP class comments). An enumeration
// that is only in the 2.1 text and not listed here is dated 2.0 if PyKMIP has it, else 2.1.
const ENUM_SINCE = {
  'Credential Type': '1.0',
  'Key Compression Type': '1.0',
  'Key Format Type': '1.0',
  'Wrapping Method': '1.0',
  'Recommended Curve': '1.0',
  'Certificate Type': '1.0',
  'Digital Signature Algorithm': '1.1',
  'Split Key Method': '1.0',
  'Secret Data Type': '1.0',
  'Opaque Data Type': '1.0',
  'Name Type': '1.0',
  'Object Type': '1.0',
  'Cryptographic Algorithm': '1.0',
  'Block Cipher Mode': '1.0',
  'Padding Method': '1.0',
  'Hashing Algorithm': '1.0',
  'Key Role Type': '1.0',
  'State': '1.0',
  'Revocation Reason Code': '1.0',
  'Link Type': '1.0',
  'Derivation Method': '1.0',
  'Certificate Request Type': '1.0',
  'Validity Indicator': '1.0',
  'Query Function': '1.0',
  'Cancellation Result': '1.0',
  'Put Function': '1.0',
  'Operation': '1.0',
  'Result Status': '1.0',
  'Result Reason': '1.0',
  'Batch Error Continuation Option': '1.0',
  'Usage Limits Unit': '1.0',
  'Cryptographic Usage Mask': '1.0',
  'Storage Status Mask': '1.0',
  'Encoding Option': '1.1',
  'Object Group Member': '1.1',
  'Alternative Name Type': '1.2',
  'Key Value Location Type': '1.2',
  'Attestation Type': '1.2',
  'RNG Algorithm': '1.3',
  'DRBG Algorithm': '1.3',
  'FIPS186 Variation': '1.3',
  'Validation Authority Type': '1.3',
  'Validation Type': '1.3',
  'Profile Name': '1.3',
  'Unwrap Mode': '1.3',
  'Destroy Action': '1.3',
  'Shredding Algorithm': '1.3',
  'RNG Mode': '1.3',
  'Client Registration Method': '1.3',
  // PyKMIP gives no class comment; its tag Key Wrap Type (0x4200F8) is in the 1.4 block.
  'Key Wrap Type': '1.4',
  'Mask Generator': '1.4',
  'Adjustment Type': '2.0',
  'Asynchronous Indicator': '2.0',
  'Data': '2.0',
  // PyKMIP gives no class comment; its tag Endpoint Role (0x420151) is in the 2.0 block.
  'Endpoint Role': '2.0',
  'Interop Function': '2.0',
  'Item Type': '2.0',
  'NIST Key Type': '2.0',
  'PKCS#11 Function': '2.0',
  'PKCS#11 Return Code': '2.0',
  'Protection Level': '2.0',
  'Protection Storage Mask': '2.0',
  'Ticket Type': '2.0',
  'Unique Identifier': '2.0',
  // Not in PyKMIP's 2.0 enums at all: dated 2.1 (conservative — the 2.1 text is the first
  // one we can show them in).
  'Processing Stage': '2.1',
  'Rotate Name Type': '2.1',
};

// Values added after their enumeration: [first value, last value, version], inclusive ranges,
// from PyKMIP's per-value "# KMIP x.y" comments. Values not covered take the enumeration's
// version (ENUM_SINCE), and a value missing from the 1.4 text can never be older than 2.0.
const ENUM_VALUE_SINCE = {
  'Block Cipher Mode': [[0x12, 0x12, '1.4']],
  'Credential Type': [[0x2, 0x2, '1.1'], [0x3, 0x3, '1.2'], [0x4, 0x6, '2.0']],
  'Cryptographic Algorithm': [[0x1a, 0x1a, '1.2'], [0x1b, 0x1b, '1.3'], [0x1c, 0x28, '1.4'], [0x29, 0x38, '2.0'], [0x39, 0xff, '2.1']],
  'Cryptographic Usage Mask': [[0x100000, 0x800000, '2.0'], [0x1000000, 0xfffffff, '2.1']],
  'Derivation Method': [[0x8, 0x8, '1.4'], [0x9, 0xa, '2.0'], [0xb, 0xff, '2.1']],
  'Digital Signature Algorithm': [[0x11, 0x13, '1.4'], [0x14, 0xff, '2.0']],
  'Hashing Algorithm': [[0xc, 0xd, '1.2'], [0xe, 0x11, '1.4'], [0x12, 0xff, '2.0']],
  // 0x17 PKCS#10: not in PyKMIP; it serves the Certificate Request object that KMIP 2.0
  // introduced (Object Type 0x0A, "# KMIP 2.0" in PyKMIP), so 2.0.
  'Key Format Type': [[0x14, 0x15, '1.3'], [0x16, 0x16, '1.4'], [0x17, 0x17, '2.0'], [0x18, 0xff, '2.1']],
  'Key Role Type': [[0x16, 0x18, '1.4'], [0x19, 0xff, '2.0']],
  'Link Type': [[0x108, 0x10b, '1.2'], [0x10c, 0x10d, '1.4'], [0x10e, 0x10e, '2.0'], [0x10f, 0xfff, '2.1']],
  'Object Type': [[0x9, 0x9, '1.2'], [0xa, 0xa, '2.0'], [0xb, 0xff, '2.1']],
  'Operation': [[0x1d, 0x1e, '1.1'], [0x1f, 0x29, '1.2'], [0x2a, 0x2b, '1.4'], [0x2c, 0x35, '2.0'], [0x36, 0xff, '2.1']],
  'Profile Name': [[0x79, 0x9c, '1.4'], [0x104, 0x12c, '2.0'], [0x12d, 0xfff, '2.1']],
  'Query Function': [[0x5, 0x6, '1.1'], [0x7, 0x7, '1.2'], [0x8, 0xc, '1.3'], [0xd, 0xe, '2.0'], [0xf, 0xff, '2.1']],
  'Recommended Curve': [[0x10, 0x44, '1.2'], [0x45, 0x46, '2.0'], [0x47, 0xff, '2.1']],
  // PyKMIP puts all 1.x Result Reasons under "KMIP 1.0"; the finer split follows the features
  // they report: Encoding Option Error with Encoding Option (1.1), Key Value Not Present and
  // the Attestation reasons with Key Value Location/Attestation (1.2), Sensitive / Not
  // Extractable / Object Already Exists with the 1.4 attributes Sensitive, Extractable and
  // Replace Existing (also the annotation in ovh/kmip-go enums.go). General Failure 0x100 is 1.0.
  'Result Reason': [[0x12, 0x12, '1.1'], [0x13, 0x15, '1.2'], [0x16, 0x18, '1.4'], [0x19, 0x47, '2.0'], [0x48, 0xff, '2.1']],
  'Split Key Method': [[0x4, 0x4, '1.2']],
  'Storage Status Mask': [[0x4, 0x4, '2.0']],
  'Unique Identifier': [[0x12, 0xff, '2.1']],
};

/** since-version of a tag code (see TAG_SINCE_RANGES). */
function tagSince(code) {
  let since = '1.0';
  for (const [first, v] of TAG_SINCE_RANGES) if (code >= first) since = v;
  return since;
}

// ---------------------------------------------------------------------------------------------
// Names: the KMIP XML/JSON normalisation (KMIP Profiles v1.4 §5.4.1.1 / v2.1 §5.4.1.1
// "Normalizing Names"), which turns a spec name into the CamelCase used by the XML test cases:
//   1. replace round brackets '(' and ')' with spaces;
//   2. a non-word character (not letter, digit or '_') followed by a letter and then a lower-case
//      letter is replaced by a space ("On-line" -> "On line", "ChaCha20-Poly1305");
//   3. every remaining non-word, non-space character becomes '_' ("SHA-256" -> "SHA_256",
//      "X.509" -> "X_509", "PKCS#1" -> "PKCS_1", "HMAC-SHA256" -> "HMAC_SHA256");
//   4. if the first word starts with digits, move them to the end of that word ("3DES" -> "DES3");
//   5. capitalise the first letter of each word (the rest keeps its case) and join the words.
// ---------------------------------------------------------------------------------------------

export function xmlName(specName) {
  let s = specName.replace(/[()]/g, ' ');
  s = s.replace(/[^A-Za-z0-9_\s](?=[A-Za-z][a-z])/g, ' ');
  s = s.replace(/[^A-Za-z0-9_\s]/g, '_');
  const words = s.trim().split(/\s+/).filter((w) => w.length > 0);
  if (words.length > 0) {
    const m = /^(\d+)(.*)$/.exec(words[0]);
    if (m && m[2]) words[0] = m[2] + m[1];
  }
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

// ---------------------------------------------------------------------------------------------
// Table parsing. The texts render tables with box-drawing characters:
//   ┌───┬───┐ top, │a │b │ content, ├───┼───┤ row separator, └───┴───┘ bottom.
// A cell that wraps continues on the next content line in the same column.
// ---------------------------------------------------------------------------------------------

function parseTables(lines, bodyStart) {
  const tables = [];
  for (let i = bodyStart; i < lines.length; i++) {
    if (!lines[i].trimStart().startsWith('┌')) continue;
    const start = i;
    const rows = [];
    let cur = null; // array of fragment arrays per column
    const flush = () => {
      if (cur) rows.push(cur.map((frags) => joinFragments(frags)));
      cur = null;
    };
    i++;
    for (; i < lines.length; i++) {
      const t = lines[i].trimStart();
      if (t.startsWith('└')) { flush(); break; }
      if (t.startsWith('├')) { flush(); continue; }
      if (!t.startsWith('│')) { flush(); break; } // malformed: stop the table here
      const cells = t.split('│').slice(1, -1);
      if (!cur || cur.length !== cells.length) { flush(); cur = cells.map(() => []); }
      cells.forEach((c, k) => cur[k].push(c.trim()));
    }
    tables.push({ line: start + 1, rows });
  }
  return tables;
}

function joinFragments(frags) {
  let out = '';
  for (const f of frags) {
    if (!f) continue;
    if (!out) out = f;
    else if (/[-/]$/.test(out)) out += f; // a word wrapped at a hyphen or slash
    else out += ' ' + f;
  }
  return out.replace(/\s+/g, ' ').trim();
}

/** Body section headings "9.1.3.2.1 Credential Type Enumeration" with their line numbers. */
function parseHeadings(lines, bodyStart) {
  const out = [];
  for (let i = bodyStart; i < lines.length; i++) {
    const m = /^(\d+(?:\.\d+)*)\s+([A-Z][^│┌├└]*?)\s*$/.exec(lines[i]);
    if (m && m[2].length < 90) out.push({ line: i, num: m[1], title: m[2] });
  }
  return out;
}

function sectionOf(headings, line) {
  let h = null;
  for (const x of headings) {
    if (x.line <= line) h = x; else break;
  }
  return h;
}

function loadSpec(dir, file) {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const lines = text.split(/\r?\n/);
  const bodyStart = lines.findIndex((l) => /^1\s+Introduction\s*$/.test(l));
  if (bodyStart < 0) throw new Error(`${file}: cannot find the start of the body ("1 Introduction")`);
  const headings = parseHeadings(lines, bodyStart);
  const tables = parseTables(lines, bodyStart);
  for (const t of tables) t.section = sectionOf(headings, t.line - 1);
  return { file, lines, headings, tables };
}

const HEX = /^(?:0x)?([0-9A-Fa-f]{6,8})\b/;

function isReservedName(n) {
  return /^\(?(Reserved|Unused)\)?$/i.test(n) || /^Extensions?$/i.test(n) || n === '';
}

// ---------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------

function parseTagTable(spec, sectionPrefix) {
  const out = new Map(); // code -> {name, section}
  for (const t of spec.tables) {
    if (!t.section || t.section.num !== sectionPrefix) continue;
    for (const row of t.rows) {
      if (row.length !== 2) continue;
      const [name, value] = row;
      const m = HEX.exec(value);
      if (!m || /[-–]/.test(value.slice(m[0].length, m[0].length + 3))) continue; // ranges
      const code = parseInt(m[1], 16);
      if (code < 0x420000 || code > 0x42ffff) continue;
      if (out.has(code) && !isReservedName(out.get(code).name)) {
        throw new Error(`${spec.file}: tag 0x${code.toString(16)} listed twice`);
      }
      out.set(code, { name, section: t.section.num, note: value.slice(m[0].length).trim() });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------------------------

function parseEnums(spec, isEnumSection, isMaskSection) {
  const out = new Map(); // name -> {name, section, isMask, entries: Map(entryName -> value)}
  for (const t of spec.tables) {
    const sec = t.section;
    if (!sec) continue;
    const mask = isMaskSection(sec);
    if (!mask && !isEnumSection(sec)) continue;
    // A Name/Value table: header row ['Name','Value'] (first row may be the spanning title).
    const hdr = t.rows.findIndex((r) => r.length === 2 && r[0] === 'Name' && r[1] === 'Value');
    if (hdr < 0) continue;
    let name = sec.title.replace(/\s+Enumeration$/, '').trim();
    if (name === 'Tag') continue; // 2.1 §11.56 is the Tag table itself
    let def = out.get(name);
    if (!def) {
      def = { name, section: sec.num, isMask: mask, entries: new Map() };
      out.set(name, def);
    }
    for (const row of t.rows.slice(hdr + 1)) {
      if (row.length !== 2) continue;
      const [n, v] = row;
      const m = HEX.exec(v);
      if (!m || isReservedName(n)) continue;
      const value = parseInt(m[1], 16);
      if (def.entries.has(n) && def.entries.get(n) !== value) {
        throw new Error(`${spec.file} §${sec.num}: ${name}.${n} has two values`);
      }
      def.entries.set(n, value);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Item types: every table with an "Encoding" column (object structures, attribute tables,
// request/response payloads) states "Item/Object │ Encoding". A tag gets a type only if every
// mention agrees; "Varies", "Structure or ..." and disagreement (also across versions) give null.
// ---------------------------------------------------------------------------------------------

const TYPE_WORDS = [
  ['Date-Time Extended', 'DateTimeExtended'],
  ['Date Time Extended', 'DateTimeExtended'],
  ['Date-Time', 'DateTime'],
  ['Date Time', 'DateTime'],
  ['Long Integer', 'LongInteger'],
  ['Big Integer', 'BigInteger'],
  ['Text String', 'TextString'],
  ['TextString', 'TextString'],
  ['Byte String', 'ByteString'],
  ['ByteString', 'ByteString'],
  ['Structure', 'Structure'],
  ['Enumeration', 'Enumeration'],
  ['Integer', 'Integer'],
  ['Boolean', 'Boolean'],
  ['Interval', 'Interval'],
];

const ALTERNATIVE_TYPE = new RegExp(
  `^\\s*(?:,|\\bor\\b|/)\\s*(?:or\\s+)?(?:${TYPE_WORDS.map(([w]) => w.replace('-', '[- ]?')).join('|')})`,
  'i',
);

function encodingToType(enc) {
  const e = enc.trim();
  if (/^Varies/i.test(e)) return 'VARIES';
  for (const [w, t] of TYPE_WORDS) {
    if (e.toLowerCase().startsWith(w.toLowerCase())) {
      const rest = e.slice(w.length);
      // "Text String, Enumeration or Integer" (2.1 §4.x Unique Identifier), "Byte String or
      // Structure": several types. "Enumeration, see 9.1.3.2.1" is one.
      // ("Text String, MAY be repeated" is one type.)
      if (ALTERNATIVE_TYPE.test(rest)) return 'VARIES';
      return t;
    }
  }
  return null; // not an encoding we recognise: ignore the mention
}

// Where a table says the type:
//  - "Object/Item │ Encoding │ ..." tables (object structures, attributes: "Activation Date │ Date-Time").
//    An encoding that names a structure instead of a type ("RNG Parameters (see 2.1.18)") means
//    Structure. A one-row table in an attribute section (1.4 §3.x, 2.1 §4.x) describes that
//    section's attribute even where the row's name is a copy-paste slip (1.4 §3.47 "Comment"
//    lists "Description"; 1.4 §3.49 / 2.1 §4.3 "Always Sensitive" list "Sensitive").
//    2.1 §7.26-7.29 list the PKCS#11 items twice, first as "Structure" and then with their real
//    type; when a table's first (wrapper) row names the same tag as a later row, the wrapper row
//    is ignored.
//  - payload tables "Item │ REQUIRED │ Description" whose description opens with the type
//    ("An Integer object that indicates ...", "Enumeration indicating ...").
//  - KMIP 1.4 Appendix C "Tag Cross-Reference" (Table 368: "Object │ Defined │ Type │ Notes";
//    "*" means varies). That appendix is not normative and has slips (it calls MAC/Signature Key
//    Information a Text String), so it only counts for a tag no normative table types.
function collectTypes(spec, tagsByName, attributeSection) {
  const normative = new Map(); // code -> Set(type)
  const appendix = new Map();
  const note = (map, rawName, ty) => {
    if (!ty) return;
    const name = rawName.replace(/\s*\*+$/, '').replace(/\s*\(.*\)$/, '').trim();
    const code = tagsByName.get(name);
    if (code === undefined) return;
    if (!map.has(code)) map.set(code, new Set());
    map.get(code).add(ty);
  };
  const encodingOrStructure = (enc) => {
    const ty = encodingToType(enc);
    if (ty) return ty;
    const named = enc.replace(/\s*\(see[^)]*\)\s*$/i, '').replace(/,?\s*see\s+[\d.]+$/i, '').trim();
    return tagsByName.has(named) ? 'Structure' : null;
  };
  for (const t of spec.tables) {
    let hdrIdx = t.rows.findIndex((r) => r.length >= 2 && /^(Object|Item)$/.test(r[0]) && r[1] === 'Encoding');
    if (hdrIdx >= 0) {
      const data = t.rows.slice(hdrIdx + 1).filter((r) => r.length >= 2);
      if (data.length === 1 && t.section && attributeSection(t.section) && tagsByName.has(t.section.title)) {
        note(normative, t.section.title, encodingOrStructure(data[0][1]));
        continue;
      }
      data.forEach((row, k) => {
        if (k === 0 && data.slice(1).some((r) => r[0] === row[0])) return; // wrapper row
        note(normative, row[0], encodingOrStructure(row[1]));
      });
      continue;
    }
    hdrIdx = t.rows.findIndex((r) => r.length === 4 && r[0] === 'Object' && r[1] === 'Defined' && r[2] === 'Type');
    if (hdrIdx >= 0) {
      for (const row of t.rows.slice(hdrIdx + 1)) {
        if (row.length !== 4) continue;
        note(appendix, row[0], row[2] === '*' ? 'VARIES' : encodingToType(row[2]));
      }
      continue;
    }
    hdrIdx = t.rows.findIndex((r) => r.length === 3 && r[0] === 'Item' && r[1] === 'REQUIRED' && r[2] === 'Description');
    if (hdrIdx >= 0) {
      for (const row of t.rows.slice(hdrIdx + 1)) {
        if (row.length !== 3) continue;
        const m = /^(?:(?:A|An|The)\s+)?(.*)$/.exec(row[2]);
        const ty = encodingToType(m ? m[1] : row[2]);
        if (ty && ty !== 'VARIES') note(normative, row[0], ty);
      }
    }
  }
  for (const [code, set] of appendix) if (!normative.has(code)) normative.set(code, set);
  return normative;
}

// ---------------------------------------------------------------------------------------------
// Hand-maintained tables: the exceptions the spec texts cannot tell us.
// ---------------------------------------------------------------------------------------------

// Tag → enumeration where the names differ. Every other tag maps to the enumeration (or bit
// mask) of the same name, and only when its type is Enumeration (mask: Integer) or varies — so
// e.g. Activation Date never maps, and Data (Byte String in 1.4, Byte String / Enumeration /
// Integer in 2.1 §7.9) maps to the 2.1 Data enumeration.
const TAG_ENUM_OVERRIDES = {
  // KMIP 1.4 §2.1.5 (Cryptographic Parameters): the hash of MGF1 is a Hashing Algorithm.
  'Mask Generator Hashing Algorithm': 'Hashing Algorithm',
  // KMIP 2.1 §7.x Attribute Reference: a Structure or an Enumeration whose values are tags
  // (2.1 §11.56 Tag Enumeration), written in XML as the tag's name (value="State"). 'Tag' is
  // not an ENUM_ROWS entry: src/kmip/registry.ts builds it from the tag rows.
  'Attribute Reference': 'Tag',
  // KMIP 2.1 §4.x Link: Linked Object Identifier is a Text String, or (like Unique Identifier)
  // an Enumeration of 2.1 §11.58 Unique Identifier, or an Integer.
  'Linked Object Identifier': 'Unique Identifier',
};

// Enumerations not tabulated in the spec texts (2.1 §11.38 / §11.39 point at the PKCS#11 v3.0
// standard instead). Only the values we can state with certainty are listed:
//  - PKCS#11 Function: "the 1-based offset count of the function in the CK_FUNCTION_LIST_3_0
//    structure" (KMIP 2.1 §11.38); after its version field, CK_FUNCTION_LIST_3_0 starts with the
//    68 CK_FUNCTION_LIST (v2.40) functions in their published order, so C_Initialize = 1. The
//    v3.0 additions (69..) are omitted rather than guessed; they travel as hex.
//  - PKCS#11 Return Code: CK_RV values (KMIP 2.1 §11.39); only CKR_OK (0) is listed, spelled "OK"
//    as in the OASIS test case PKCS11-M-1-21; other codes travel as hex.
const PKCS11_FUNCTIONS = [
  'C_Initialize', 'C_Finalize', 'C_GetInfo', 'C_GetFunctionList', 'C_GetSlotList', 'C_GetSlotInfo',
  'C_GetTokenInfo', 'C_GetMechanismList', 'C_GetMechanismInfo', 'C_InitToken', 'C_InitPIN', 'C_SetPIN',
  'C_OpenSession', 'C_CloseSession', 'C_CloseAllSessions', 'C_GetSessionInfo', 'C_GetOperationState',
  'C_SetOperationState', 'C_Login', 'C_Logout', 'C_CreateObject', 'C_CopyObject', 'C_DestroyObject',
  'C_GetObjectSize', 'C_GetAttributeValue', 'C_SetAttributeValue', 'C_FindObjectsInit', 'C_FindObjects',
  'C_FindObjectsFinal', 'C_EncryptInit', 'C_Encrypt', 'C_EncryptUpdate', 'C_EncryptFinal', 'C_DecryptInit',
  'C_Decrypt', 'C_DecryptUpdate', 'C_DecryptFinal', 'C_DigestInit', 'C_Digest', 'C_DigestUpdate',
  'C_DigestKey', 'C_DigestFinal', 'C_SignInit', 'C_Sign', 'C_SignUpdate', 'C_SignFinal', 'C_SignRecoverInit',
  'C_SignRecover', 'C_VerifyInit', 'C_Verify', 'C_VerifyUpdate', 'C_VerifyFinal', 'C_VerifyRecoverInit',
  'C_VerifyRecover', 'C_DigestEncryptUpdate', 'C_DecryptDigestUpdate', 'C_SignEncryptUpdate',
  'C_DecryptVerifyUpdate', 'C_GenerateKey', 'C_GenerateKeyPair', 'C_WrapKey', 'C_UnwrapKey', 'C_DeriveKey',
  'C_SeedRandom', 'C_GenerateRandom', 'C_GetFunctionStatus', 'C_CancelFunction', 'C_WaitForSlotEvent',
];
const SUPPLEMENTARY_ENUMS = [
  {
    name: 'PKCS#11 Function',
    section: '11.38',
    // Spec names are the C function names; xmlName() keeps them ("C_Initialize").
    entries: PKCS11_FUNCTIONS.map((n, i) => [n, i + 1]),
  },
  { name: 'PKCS#11 Return Code', section: '11.39', entries: [['OK', 0]] },
];

// Typos in the 2.1 text's enumeration tables, corrected while parsing (value name as printed →
// intended name). KMIP 2.1 §11.30 prints the Mask Generator "MFG1"; it is MGF1, Mask Generation
// Function 1 of PKCS#1 (RFC 8017 B.2.1), as the 1.4 text (§9.1.3.2.49) and the OASIS test cases
// spell it.
const ENUM_VALUE_ERRATA_21 = {
  'Mask Generator': { MFG1: 'MGF1' },
};

// Enumerations whose exported const would clash with another export (the ttlv ItemType).
const ENUM_CONST_RENAMES = { 'Item Type': 'ItemTypeEnumeration' };

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

function build(specDir) {
  const s14 = loadSpec(specDir, SPEC_14);
  const s21 = loadSpec(specDir, SPEC_21);

  const tags14 = parseTagTable(s14, '9.1.3.1');
  const tags21 = parseTagTable(s21, '11.56');
  if (tags14.size < 250) throw new Error(`${SPEC_14}: only ${tags14.size} tags parsed`);
  if (tags21.size < 250) throw new Error(`${SPEC_21}: only ${tags21.size} tags parsed`);

  // Merge tags: 2.1 name wins; "(Reserved)" in 2.1 means removed after 1.x, name from 1.4.
  const tags = new Map(); // code -> {name, in14, in21, section}
  const allCodes = new Set([...tags14.keys(), ...tags21.keys()]);
  for (const code of allCodes) {
    const a = tags14.get(code);
    const b = tags21.get(code);
    const in14 = !!a && !isReservedName(a.name);
    const in21 = !!b && !isReservedName(b.name);
    if (!in14 && !in21) continue;
    const name = in21 ? b.name : a.name;
    const aliases = [];
    if (in14 && in21 && a.name !== b.name) aliases.push(a.name);
    tags.set(code, {
      code,
      name,
      aliases,
      in14,
      in21,
    });
  }
  const tagsByName = new Map();
  for (const t of tags.values()) {
    for (const n of [t.name, ...t.aliases]) {
      if (tagsByName.has(n) && tagsByName.get(n) !== t.code) {
        throw new Error(`tag name "${n}" used by 0x${tagsByName.get(n).toString(16)} and 0x${t.code.toString(16)}`);
      }
      tagsByName.set(n, t.code);
    }
  }

  // Enumerations.
  const enums14 = parseEnums(
    s14,
    (sec) => /^9\.1\.3\.2\.\d+$/.test(sec.num),
    (sec) => /^9\.1\.3\.3\.\d+$/.test(sec.num),
  );
  const enums21 = parseEnums(
    s21,
    (sec) => /^11\.\d+$/.test(sec.num),
    (sec) => /^12\.\d+$/.test(sec.num),
  );
  const enums = new Map();
  for (const name of new Set([...enums14.keys(), ...enums21.keys()])) {
    const a = enums14.get(name);
    const b = enums21.get(name);
    const entries = new Map(); // key name|value -> entry
    // One entry per (XML name, value): 1.4 and 2.1 sometimes differ only in case or spacing
    // ("Object archived" / "Object Archived"); the 2.1 spelling is kept as the spec name.
    const add = (n, v, ver) => {
      const key = `${xmlName(n)}\u0000${v}`;
      let e = entries.get(key);
      if (!e) { e = { name: n, value: v, in14: false, in21: false }; entries.set(key, e); }
      if (ver === 'in21') e.name = n;
      e[ver] = true;
    };
    if (a) for (const [n, v] of a.entries) add(n, v, 'in14');
    if (b) for (const [n, v] of b.entries) add(ENUM_VALUE_ERRATA_21[name]?.[n] ?? n, v, 'in21');
    enums.set(name, {
      name,
      isMask: (a ?? b).isMask,
      in14: !!a,
      in21: !!b,
      sections: [a ? `KMIP 1.4 §${a.section}` : null, b ? `KMIP 2.1 §${b.section}` : null].filter(Boolean),
      entries: [...entries.values()],
    });
  }
  for (const sup of SUPPLEMENTARY_ENUMS) {
    if (enums.has(sup.name) && enums.get(sup.name).entries.length > 0) continue;
    enums.set(sup.name, {
      name: sup.name,
      isMask: false,
      in14: false,
      in21: true,
      supplementary: true,
      sections: [`KMIP 2.1 §${sup.section} (values from PKCS#11, not tabulated in the KMIP text)`],
      entries: sup.entries.map(([n, v]) => ({ name: n, value: v, in14: false, in21: true })),
    });
  }

  // Types, per version text; a disagreement between 1.4 and 2.1 gives null.
  const types14 = collectTypes(s14, tagsByName, (sec) => /^3\.\d+$/.test(sec.num));
  const types21 = collectTypes(s21, tagsByName, (sec) => /^4\.\d+$/.test(sec.num));
  for (const t of tags.values()) {
    const set = new Set([...(types14.get(t.code) ?? []), ...(types21.get(t.code) ?? [])]);
    t.type = set.size === 1 && !set.has('VARIES') ? [...set][0] : null;
    if (set.size === 0) {
      // No table types this tag. A tag named like an enumeration (Key Wrap Type, Endpoint Role, ...)
      // or a bit mask carries that enumeration (Enumeration) or mask (Integer): that is how every
      // typed tag of that kind is defined in both texts.
      const e = enums.get(t.name);
      if (e) t.type = e.isMask ? 'Integer' : 'Enumeration';
    }
    t.typeEvidence = `1.4: ${[...(types14.get(t.code) ?? [])].join('/') || '-'}; 2.1: ${[...(types21.get(t.code) ?? [])].join('/') || '-'}`;
  }

  return { tags, tagsByName, enums, s14, s21 };
}

function versionsSpan(since, in14, in21) {
  // An item is present from `since` through the last version whose text lists it. Items removed
  // in 2.0 are in 1.4 but not 2.1; the texts cannot tell 2.0 vs 2.1 removal, and KMIP 2.0 is the
  // release that dropped the 1.x-only items, so "in 1.4, not in 2.1" means "until 1.4".
  const out = [];
  const from = vIndex(since);
  for (let i = from; i < VERSIONS.length; i++) {
    const v = VERSIONS[i];
    const major = v.startsWith('1.') ? 1 : 2;
    if (major === 1 && !in14) continue;
    if (major === 2 && !in21) continue;
    out.push(v);
  }
  return out;
}

function enumValueSince(enumName, value, enumSince) {
  for (const [first, last, v] of ENUM_VALUE_SINCE[enumName] ?? []) {
    if (value >= first && value <= last) return v;
  }
  return enumSince;
}

// Sorting by code point, not localeCompare: the output must not depend on the machine's locale.
const byCodePoint = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

function render(model) {
  const { tags, enums } = model;
  const out = [];
  const p = (s = '') => out.push(s);
  const hex = (n, w) => '0x' + n.toString(16).toUpperCase().padStart(w, '0');

  p('// GENERATED by scripts/gen-registry.mjs from kmip-spec-v1.4-os.txt and kmip-spec-v2.1-os.txt. DO NOT EDIT.');
  p('// Regenerate with `node scripts/gen-registry.mjs`; `--check` fails on drift.');
  p('//');
  p('// Sources: tags from KMIP 1.4 §9.1.3.1 (Table 288 "Tag Values") and KMIP 2.1 §11.56 ("Tag Enumeration");');
  p('// enumerations from KMIP 1.4 §9.1.3.2.x and KMIP 2.1 §11.x; bit masks from KMIP 1.4 §9.1.3.3.x and');
  p('// KMIP 2.1 §12.x; item types from the "Object/Item │ Encoding" tables and payload tables of both texts');
  p('// and KMIP 1.4 Appendix C (Tag Cross-Reference). Names are normalised to the XML spelling of the KMIP');
  p('// Profiles ("Normalizing Names"). Version spans finer than "in 1.4" / "in 2.1" come from the boundary');
  p('// tables in the generator (PyKMIP kmip/core/enums.py). See docs/registry.md.');
  p('');
  p("export type KmipVersion = '1.0' | '1.1' | '1.2' | '1.3' | '1.4' | '2.0' | '2.1';");
  p(`export const KMIP_VERSIONS: readonly KmipVersion[] = [${VERSIONS.map((v) => `'${v}'`).join(', ')}];`);
  p('');

  // --- Tag const
  const tagList = [...tags.values()].sort((a, b) => a.code - b.code);
  const xmlTag = new Map();
  for (const t of tagList) {
    const x = xmlName(t.name);
    if (xmlTag.has(x)) throw new Error(`two tags normalise to ${x}`);
    xmlTag.set(x, t.code);
    t.xmlName = x;
    t.aliasXml = t.aliases.map(xmlName).filter((a) => a !== x);
  }
  p('/** Every KMIP tag (KMIP 1.4 §9.1.3.1, KMIP 2.1 §11.56), by XML name. Includes 1.x tags that 2.x reserves. */');
  p('export const Tag = {');
  for (const t of tagList) p(`  ${t.xmlName}: ${hex(t.code, 6)},`);
  p('} as const;');
  p('export type TagName = keyof typeof Tag;');
  p('');

  // --- Enum consts
  const enumList = [...enums.values()].sort((a, b) => byCodePoint(xmlName(a.name), xmlName(b.name)));
  for (const e of enumList) {
    e.xmlName = xmlName(e.name);
    e.constName = ENUM_CONST_RENAMES[e.name] ?? e.xmlName;
    e.since = ENUM_SINCE[e.name];
    if (e.since === undefined) throw new Error(`enumeration "${e.name}" has no entry in ENUM_SINCE`);
    if (!e.in14 && vIndex(e.since) < vIndex('2.0')) throw new Error(`ENUM_SINCE["${e.name}"] is 1.x but the 1.4 text lacks it`);
    const byXml = new Map();
    for (const en of e.entries) {
      en.xmlName = xmlName(en.name);
      const prev = byXml.get(en.xmlName);
      if (prev !== undefined && prev !== en.value) {
        throw new Error(`${e.name}: "${en.xmlName}" means both ${prev} and ${en.value}`);
      }
      byXml.set(en.xmlName, en.value);
      en.since = enumValueSince(e.name, en.value, e.since);
      if (vIndex(en.since) < vIndex(e.since)) en.since = e.since;
      // A value missing from the 1.4 text cannot be 1.x; one present in it cannot be 2.x.
      if (!en.in14 && vIndex(en.since) < vIndex('2.0')) en.since = '2.0';
      if (en.in14 && vIndex(en.since) >= vIndex('2.0')) {
        throw new Error(`${e.name}.${en.name} (${en.value}) is in the 1.4 text but dated ${en.since}`);
      }
      en.versions = versionsSpan(en.since, en.in14, en.in21);
      if (en.versions.length === 0) throw new Error(`${e.name}.${en.name}: no versions`);
    }
    e.entries.sort((a, b) => a.value - b.value || byCodePoint(a.xmlName, b.xmlName));
  }
  const enumNames = new Set(enumList.map((e) => e.name));
  for (const e of enumList) {
    p(`/** ${e.name}${e.isMask ? ' (bit mask)' : ''}: ${e.sections.join(', ')}. */`);
    p(`export const ${e.constName} = {`);
    const emitted = new Set();
    for (const en of e.entries) {
      if (emitted.has(en.xmlName)) continue;
      emitted.add(en.xmlName);
      const key = /^[A-Za-z_$][\w$]*$/.test(en.xmlName) ? en.xmlName : `'${en.xmlName}'`;
      p(`  ${key}: ${hex(en.value, e.isMask ? 8 : 2)},`);
    }
    p('} as const;');
    p('');
  }

  // --- Tag rows
  for (const t of tagList) {
    t.since = tagSince(t.code);
    t.versions = versionsSpan(t.since, t.in14, t.in21);
    const enumCandidate = TAG_ENUM_OVERRIDES[t.name] ?? t.name;
    t.enumName = undefined;
    t.maskName = undefined;
    if (enumCandidate === 'Tag') t.enumName = 'Tag';
    else if (enumCandidate && enumNames.has(enumCandidate)) {
      const e = enums.get(enumCandidate);
      if (e.isMask) {
        if (t.type === null || t.type === 'Integer') t.maskName = e.xmlName;
      } else if (t.type === null || t.type === 'Enumeration') t.enumName = e.xmlName;
    }
  }
  p('/** Item type codes as in packages/ttlv/src/types.ts ItemType (KMIP 1.4 §9.1.1.2, 2.1 §9.1.1.2). */');
  const typeCode = {
    Structure: 'S', Integer: 'I', LongInteger: 'L', BigInteger: 'B', Enumeration: 'E', Boolean: 'O',
    TextString: 'T', ByteString: 'Y', DateTime: 'D', Interval: 'V', DateTimeExtended: 'X',
  };
  const typeValue = { S: 0x01, I: 0x02, L: 0x03, B: 0x04, E: 0x05, O: 0x06, T: 0x07, Y: 0x08, D: 0x09, V: 0x0a, X: 0x0b };
  const used = new Set(tagList.filter((t) => t.type).map((t) => typeCode[t.type]));
  p(`const ${Object.entries(typeValue).filter(([k]) => used.has(k)).map(([k, v]) => `${k} = 0x${v.toString(16).padStart(2, '0')}`).join(', ')};`);
  p('');
  p('/** One row per tag: [code, spec name, XML name, item type | null, first version, last version, enum xmlName | null, mask xmlName | null, alias spec names]. */');
  p('export type TagRow = readonly [code: number, name: string, xmlName: string, type: number | null, since: KmipVersion, until: KmipVersion, enumName: string | null, maskName: string | null, aliases: readonly string[]];');
  p('export const TAG_ROWS: readonly TagRow[] = [');
  for (const t of tagList) {
    const ty = t.type ? typeCode[t.type] : 'null';
    const first = t.versions[0];
    const last = t.versions[t.versions.length - 1];
    if (t.versions.length !== vIndex(last) - vIndex(first) + 1) throw new Error(`tag ${t.name}: non-contiguous versions`);
    p(`  [${hex(t.code, 6)}, ${JSON.stringify(t.name)}, ${JSON.stringify(t.xmlName)}, ${ty}, '${first}', '${last}', ${t.enumName ? JSON.stringify(t.enumName) : 'null'}, ${t.maskName ? JSON.stringify(t.maskName) : 'null'}, ${JSON.stringify(t.aliases)}],`);
  }
  p('];');
  p('');

  // --- Enum rows
  p('/** One entry per enumeration value: [spec name, XML name, value, first version, last version]. */');
  p('export type EnumEntryRow = readonly [name: string, xmlName: string, value: number, since: KmipVersion, until: KmipVersion];');
  p('export interface EnumRow { readonly name: string; readonly xmlName: string; readonly isMask: boolean; readonly entries: readonly EnumEntryRow[] }');
  p('export const ENUM_ROWS: readonly EnumRow[] = [');
  for (const e of enumList) {
    p(`  { name: ${JSON.stringify(e.name)}, xmlName: ${JSON.stringify(e.xmlName)}, isMask: ${e.isMask}, entries: [`);
    for (const en of e.entries) {
      const first = en.versions[0];
      const last = en.versions[en.versions.length - 1];
      p(`    [${JSON.stringify(en.name)}, ${JSON.stringify(en.xmlName)}, ${hex(en.value, e.isMask ? 8 : 2)}, '${first}', '${last}'],`);
    }
    p('  ] },');
  }
  p('];');
  p('');

  // --- Attribute names
  const attrs = collectAttributeNames(model);
  p('/** 1.x Attribute Names (KMIP 1.4 §3.x headings; 2.1 §4.x) → tag code. Custom "x-"/"y-" attributes are not listed. */');
  p('export const ATTRIBUTE_NAME_ROWS: readonly (readonly [name: string, tag: number])[] = [');
  for (const [n, code] of attrs) p(`  [${JSON.stringify(n)}, ${hex(code, 6)}],`);
  p('];');
  return out.join('\n') + '\n';
}

function collectAttributeNames(model) {
  const { s14, s21, tagsByName } = model;
  const out = new Map();
  const take = (spec, re) => {
    for (const h of spec.headings) {
      if (!re.test(h.num)) continue;
      const code = tagsByName.get(h.title);
      if (code !== undefined) out.set(h.title, code);
    }
  };
  take(s14, /^3\.\d+$/);
  take(s21, /^4\.\d+$/);
  return [...out.entries()].sort((a, b) => byCodePoint(a[0], b[0]));
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

function main(argv) {
  const check = argv.includes('--check');
  const i = argv.indexOf('--spec-dir');
  const specDir = i >= 0 && argv[i + 1]
    ? path.resolve(argv[i + 1])
    : process.env.OPENKCM_SPEC_DIR
      ? path.resolve(process.env.OPENKCM_SPEC_DIR)
      : path.resolve(repoRoot, '..', 'shared', 'kmip', 'spec');
  if (!existsSync(path.join(specDir, SPEC_14)) || !existsSync(path.join(specDir, SPEC_21))) {
    console.log(`gen-registry: spec texts not found in ${specDir} (need ${SPEC_14} and ${SPEC_21}); nothing to ${check ? 'check' : 'generate'}.`);
    return 0;
  }
  const model = build(specDir);
  const text = render(model);
  if (argv.includes('--report')) {
    // Which tags get no type, and why (the evidence found in each text).
    for (const t of [...model.tags.values()].sort((a, b) => a.code - b.code)) {
      if (t.type === null) console.log(`0x${t.code.toString(16)} ${t.name}: ${t.typeEvidence}`);
    }
  }
  if (check) {
    const committed = existsSync(OUTPUT) ? readFileSync(OUTPUT, 'utf8') : '';
    if (committed !== text) {
      console.error(`gen-registry: ${path.relative(repoRoot, OUTPUT)} is out of date with the spec texts or the generator.`);
      console.error('Run `node scripts/gen-registry.mjs` and commit the result.');
      return 1;
    }
    console.log(`gen-registry: ${path.relative(repoRoot, OUTPUT)} is up to date.`);
    return 0;
  }
  writeFileSync(OUTPUT, text);
  console.log(`gen-registry: wrote ${path.relative(repoRoot, OUTPUT)}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
