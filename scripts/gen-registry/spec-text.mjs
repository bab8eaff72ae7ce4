// Part of scripts/gen-registry.mjs (split by concern for issue 19, files under 700 lines).
// Reading the specification texts: box-drawn tables, section headings, the Tag table and the enumeration tables.
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The two specification texts the registry is generated from. */
export const SPEC_14 = 'kmip-spec-v1.4-os.txt';
export const SPEC_21 = 'kmip-spec-v2.1-os.txt';

// ---------------------------------------------------------------------------------------------
// Table parsing. The texts render tables with box-drawing characters:
//   ┌───┬───┐ top, │a │b │ content, ├───┼───┤ row separator, └───┴───┘ bottom.
// A cell that wraps continues on the next content line in the same column.
// ---------------------------------------------------------------------------------------------

export function parseTables(lines, bodyStart) {
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

export function joinFragments(frags) {
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
export function parseHeadings(lines, bodyStart) {
  const out = [];
  for (let i = bodyStart; i < lines.length; i++) {
    const m = /^(\d+(?:\.\d+)*)\s+([A-Z][^│┌├└]*?)\s*$/.exec(lines[i]);
    if (m && m[2].length < 90) out.push({ line: i, num: m[1], title: m[2] });
  }
  return out;
}

export function sectionOf(headings, line) {
  let h = null;
  for (const x of headings) {
    if (x.line <= line) h = x; else break;
  }
  return h;
}

export function loadSpec(dir, file) {
  const text = readFileSync(path.join(dir, file), 'utf8');
  const lines = text.split(/\r?\n/);
  const bodyStart = lines.findIndex((l) => /^1\s+Introduction\s*$/.test(l));
  if (bodyStart < 0) throw new Error(`${file}: cannot find the start of the body ("1 Introduction")`);
  const headings = parseHeadings(lines, bodyStart);
  const tables = parseTables(lines, bodyStart);
  for (const t of tables) t.section = sectionOf(headings, t.line - 1);
  return { file, lines, headings, tables };
}

export const HEX = /^(?:0x)?([0-9A-Fa-f]{6,8})\b/;

export function isReservedName(n) {
  return /^\(?(Reserved|Unused)\)?$/i.test(n) || /^Extensions?$/i.test(n) || n === '';
}

// ---------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------

export function parseTagTable(spec, sectionPrefix) {
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

export function parseEnums(spec, isEnumSection, isMaskSection) {
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
