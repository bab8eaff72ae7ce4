/**
 * The config file's format: JSON with comments ("JSONC"): `//` line comments, `/* *\/` block comments and trailing
 * commas are allowed; everything else is plain JSON. Chosen because it needs no dependency, every editor highlights
 * it, and the file can explain itself. Errors name a line and column (issue 17).
 */
import { ConfigError } from '../common/config-error.js';

/** 1-based line and column of a character offset in `text` (issue 17: errors name a line and column). */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split('\n').length;
  return { line, column: before.length - before.lastIndexOf('\n') };
}

/**
 * Blanks JSONC comments and trailing commas with spaces, leaving string contents untouched, then
 * JSON.parse. A tiny state machine instead of a regex, so `"//"` inside a string survives. Every
 * removed character becomes a space (newlines stay), so a JSON.parse position is a position in the
 * file and a syntax error is reported as `line L, column C`.
 */
export function parseJsonc(text: string): unknown {
  let out = '';
  let i = 0;
  const n = text.length;
  const blank = (s: string): string => s.replace(/[^\n]/g, ' ');
  while (i < n) {
    const c = text.charAt(i);
    const next = text.charAt(i + 1);
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && next === '/') {
      const start = i;
      while (i < n && text[i] !== '\n') i++;
      out += blank(text.slice(start, i));
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) {
        const at = lineColumn(text, i);
        throw new ConfigError(`unterminated /* comment starting at line ${String(at.line)}, column ${String(at.column)}`);
      }
      out += blank(text.slice(i, end + 2));
      i = end + 2;
    } else {
      out += c;
      i++;
    }
  }
  // Second pass, also string-aware: blank a comma whose next non-space character closes an
  // object or array (trailing commas).
  let cleaned = '';
  for (let j = 0; j < out.length; j++) {
    const c = out.charAt(j);
    if (c === '"') {
      let k = j + 1;
      while (k < out.length && out[k] !== '"') k += out[k] === '\\' ? 2 : 1;
      cleaned += out.slice(j, k + 1);
      j = k;
    } else if (c === ',') {
      let k = j + 1;
      while (k < out.length && /\s/.test(out[k] ?? '')) k++;
      cleaned += out[k] !== '}' && out[k] !== ']' ? c : ' ';
    } else {
      cleaned += c;
    }
  }
  try {
    return JSON.parse(cleaned) as unknown;
  } catch (e) {
    // Node 20's V8 does not always say where ("Unexpected token 't', ... is not valid JSON"), so find the first
    // offending character with a small scanner over the same text; positions in `cleaned` are positions in the file.
    const { offset, what } = jsonSyntaxError(cleaned);
    const at = lineColumn(text, offset);
    const lineText = text.split('\n')[at.line - 1] ?? '';
    throw new ConfigError(`line ${String(at.line)}, column ${String(at.column)}: ${what} (not valid JSON with comments)\n  ${lineText.slice(0, 200)}\n  ${' '.repeat(Math.max(0, at.column - 1))}^`, { cause: e });
  }
}

/**
 * Where plain JSON text first goes wrong (RFC 8259 grammar), for error messages only: JSON.parse has already
 * refused the text. Depth is bounded by the config file's size (a few KiB), and the scan is iterative over arrays
 * and objects' members, recursive only per nesting level.
 */
export function jsonSyntaxError(t: string): { offset: number; what: string } {
  let i = 0;
  class Stop extends Error { constructor(readonly offset: number, readonly what: string) { super(what); } }
  const ws = (): void => { while (i < t.length && ' \t\n\r'.includes(t.charAt(i))) i++; };
  const bad = (expected: string): never => {
    if (i >= t.length) throw new Stop(t.length, `unexpected end of the file (expected ${expected})`);
    throw new Stop(i, `unexpected ${JSON.stringify(t.charAt(i))} (expected ${expected})`);
  };
  const str = (): void => {
    if (t[i] !== '"') bad('a string');
    i++;
    while (i < t.length && t[i] !== '"') {
      if (t.charCodeAt(i) < 0x20) bad('a closing quote');
      if (t[i] === '\\') {
        i++;
        if (t[i] === 'u') { if (!/^[0-9a-fA-F]{4}$/.test(t.slice(i + 1, i + 5))) bad('4 hex digits after \\u'); i += 5; continue; }
        if (!'"\\/bfnrt'.includes(t.charAt(i)) || i >= t.length) bad('an escape character');
      }
      i++;
    }
    if (i >= t.length) bad('a closing quote');
    i++;
  };
  const value = (): void => {
    ws();
    const c = t.charAt(i);
    if (c === '{') {
      i++; ws();
      if (t[i] === '}') { i++; return; }
      for (;;) {
        ws(); str(); ws();
        if (t[i] !== ':') bad('":"');
        i++; value(); ws();
        if (t[i] === ',') { i++; continue; }
        if (t[i] === '}') { i++; return; }
        bad('"," or "}"');
      }
    } else if (c === '[') {
      i++; ws();
      if (t[i] === ']') { i++; return; }
      for (;;) {
        value(); ws();
        if (t[i] === ',') { i++; continue; }
        if (t[i] === ']') { i++; return; }
        bad('"," or "]"');
      }
    } else if (c === '"') {
      str();
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(t.slice(i));
      if (m === null) { i++; bad('a digit'); }
      i += m?.[0].length ?? 0;
    } else {
      for (const lit of ['true', 'false', 'null']) {
        if (t.startsWith(lit, i)) { i += lit.length; return; }
      }
      // Point at the first character that does not continue a literal (e.g. the end of "tru").
      for (const lit of ['true', 'false', 'null']) {
        if (lit.startsWith(t.charAt(i))) { let k = 0; while (t[i + k] === lit[k]) k++; i += k; bad(`"${lit}"`); }
      }
      bad('a value');
    }
  };
  try {
    value(); ws();
    if (i < t.length) bad('the end of the file');
    return { offset: t.length, what: 'not valid JSON' };
  } catch (e) {
    if (e instanceof Stop) return { offset: e.offset, what: e.what };
    throw e;
  }
}
