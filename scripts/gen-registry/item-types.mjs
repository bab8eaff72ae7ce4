// Part of scripts/gen-registry.mjs (split by concern for issue 19, files under 700 lines).
// The item type of each tag, from every table with an "Encoding" column.

// ---------------------------------------------------------------------------------------------
// Item types: every table with an "Encoding" column (object structures, attribute tables,
// request/response payloads) states "Item/Object │ Encoding". A tag gets a type only if every
// mention agrees; "Varies", "Structure or ..." and disagreement (also across versions) give null.
// ---------------------------------------------------------------------------------------------

export const TYPE_WORDS = [
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

export const ALTERNATIVE_TYPE = new RegExp(
  `^\\s*(?:,|\\bor\\b|/)\\s*(?:or\\s+)?(?:${TYPE_WORDS.map(([w]) => w.replace('-', '[- ]?')).join('|')})`,
  'i',
);

export function encodingToType(enc) {
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
export function collectTypes(spec, tagsByName, attributeSection) {
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
