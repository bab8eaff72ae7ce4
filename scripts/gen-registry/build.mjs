// Part of scripts/gen-registry.mjs (split by concern for issue 19, files under 700 lines).
// The model: tags, enumerations, masks, item types and attribute names from both texts.
import { ENUM_VALUE_ERRATA_21, SUPPLEMENTARY_ENUMS } from './errata.mjs';
import { collectTypes } from './item-types.mjs';
import { isReservedName, loadSpec, parseEnums, parseTagTable, SPEC_14, SPEC_21 } from './spec-text.mjs';
import { ENUM_VALUE_SINCE, VERSIONS, vIndex, xmlName } from './versions.mjs';

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

export function build(specDir) {
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

export function versionsSpan(since, in14, in21) {
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

export function enumValueSince(enumName, value, enumSince) {
  for (const [first, last, v] of ENUM_VALUE_SINCE[enumName] ?? []) {
    if (value >= first && value <= last) return v;
  }
  return enumSince;
}

// Sorting by code point, not localeCompare: the output must not depend on the machine's locale.
