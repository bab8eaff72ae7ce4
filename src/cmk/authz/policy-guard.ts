/**
 * A lexical guard in front of the Cedar engine for every tenant policy text (admin API, database refresh, tools):
 * PolicyEngine runs it before Cedar parses anything.
 *
 * Why: the Cedar parser/validator in @cedar-policy/cedar-wasm recurses on expression depth. Measured on this
 * build (issue 5 testing): ~150 nested parentheses, lists or records, or ~1000 chained member accesses, overflow
 * the wasm shadow stack and trap with "memory access out of bounds", after which the module's memory is corrupt
 * and EVERY later authorization in the process fails (a one-request denial of service of the whole node); long
 * operator or method-call chains (~256) overflow the native stack. The guard refuses such text before Cedar sees
 * it, with limits far below the measured failure points and far above hand-written policies.
 *
 * It works on tokens with string literals and comments removed; it does not parse Cedar.
 */

/** Deepest bracket nesting — ( [ { — in a policy (Cedar traps at ~150). */
export const MAX_POLICY_NESTING_DEPTH = 16;
/** Most operators and member accesses in one policy statement (Cedar's stack overflows at ~256 chained calls). */
export const MAX_POLICY_OPERATORS_PER_STATEMENT = 128;

const OPERATOR = /==|!=|<=|>=|&&|\|\||[<>+\-*!.]|\b(?:in|has|like|is|if)\b/g;

/** Removes string literals ("..." with backslash escapes) and // comments, keeping statement separators. */
function stripLiterals(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      out += '""';
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Why `text` exceeds the nesting or operator budget, or undefined when it is within it. */
export function policyComplexityProblem(text: string): string | undefined {
  const code = stripLiterals(text);
  let depth = 0;
  let maxDepth = 0;
  for (const c of code) {
    if (c === '(' || c === '[' || c === '{') {
      depth++;
      if (depth > maxDepth) maxDepth = depth;
    } else if (c === ')' || c === ']' || c === '}') {
      depth = Math.max(0, depth - 1);
    }
  }
  if (maxDepth > MAX_POLICY_NESTING_DEPTH) {
    return `policy nests brackets ${String(maxDepth)} deep; at most ${String(MAX_POLICY_NESTING_DEPTH)} are accepted`;
  }
  // `::` separates namespace path segments, not an operator.
  for (const statement of code.replaceAll('::', ' ').split(';')) {
    const n = statement.match(OPERATOR)?.length ?? 0;
    if (n > MAX_POLICY_OPERATORS_PER_STATEMENT) {
      return `a policy statement has ${String(n)} operators; at most ${String(MAX_POLICY_OPERATORS_PER_STATEMENT)} are accepted`;
    }
  }
  return undefined;
}
