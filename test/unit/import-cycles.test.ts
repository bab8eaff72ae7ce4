/**
 * No import cycles in src/ (issue 19 item 6). A cycle makes module initialisation order matter (a value read before
 * its module ran is undefined) and means two "layers" are one; type-only imports count too, because they tie the
 * two modules' designs together the same way. The check reads the sources' import and export-from lines (relative
 * specifiers only; packages cannot import us back) and finds strongly connected components (Tarjan).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SRC = path.join(REPO_ROOT, 'src');

/** `import … from './x.js'`, `import './x.js'`, `export … from './x.js'` (possibly spread over lines). */
const IMPORT_RE = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Module graph of src: file (relative to the repo) → the src files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const deps = new Set<string>();
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT_RE)) {
      const spec = m[1] ?? '';
      deps.add(path.relative(REPO_ROOT, path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'))));
    }
    graph.set(path.relative(REPO_ROOT, file), [...deps]);
  }
  return graph;
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan, iterative). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: { v: string; i: number }[] = [{ v: root, i: 0 }];
    index.set(root, next); low.set(root, next); next++; stack.push(root); onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame === undefined) break;
      const deps = (graph.get(frame.v) ?? []).filter((d) => graph.has(d));
      if (frame.i < deps.length) {
        const w = deps[frame.i++] ?? '';
        if (!index.has(w)) {
          index.set(w, next); low.set(w, next); next++; stack.push(w); onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.v, Math.min(low.get(frame.v) ?? 0, index.get(w) ?? 0));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.v, Math.min(low.get(parent.v) ?? 0, low.get(frame.v) ?? 0));
      if (low.get(frame.v) === index.get(frame.v)) {
        const component: string[] = [];
        for (;;) {
          const w = stack.pop();
          if (w === undefined) break;
          onStack.delete(w);
          component.push(w);
          if (w === frame.v) break;
        }
        if (component.length > 1 || (graph.get(frame.v) ?? []).includes(frame.v)) out.push(component.sort());
      }
    }
  }
  return out;
}

describe('import cycles', () => {
  it('the checker finds a cycle, a self-import and a longer loop, and passes a DAG', () => {
    assert.deepEqual(cycles(new Map([['a', ['b']], ['b', ['a']], ['c', ['a']]])), [['a', 'b']]);
    assert.deepEqual(cycles(new Map([['a', ['a']]])), [['a']]);
    assert.deepEqual(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', []]])), [['a', 'b', 'c']]);
    assert.deepEqual(cycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]])), []);
  });

  it('the graph sees src (imports, type imports, re-exports)', () => {
    const graph = importGraph();
    assert.ok(graph.size > 100, `only ${String(graph.size)} modules found under ${SRC}`);
    assert.ok(graph.get('src/server/listener.ts')?.includes('src/server/connection.ts'));
  });

  it('src has no import cycle', () => {
    assert.deepEqual(cycles(importGraph()).map((c) => c.join(' -> ')), []);
  });
});
