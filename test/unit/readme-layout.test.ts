/**
 * The README's layout table matches the folders (issue 19 Acceptance): every folder under src/ and packages/ has a
 * row, and every folder a row names exists. A new folder without a row, or a row left behind by a move, fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The folder names in the first column of the "## Layout" table (a cell may name several: `native`, `src/native`). */
function layoutRows(): string[] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## Layout$/m)[1]?.split(/^## /m)[0] ?? '';
  const names: string[] = [];
  for (const line of section.split('\n')) {
    const first = /^\|([^|]+)\|/.exec(line)?.[1];
    if (first === undefined) continue;
    for (const m of first.matchAll(/`([^`]+)`/g)) if (m[1] !== undefined) names.push(m[1]);
  }
  return names;
}

function subfolders(dir: string): string[] {
  return readdirSync(path.join(root, dir)).filter((n) => statSync(path.join(root, dir, n)).isDirectory()).map((n) => `${dir}/${n}`);
}

test('every folder under src/ and packages/ has a row in the README layout table', () => {
  const rows = new Set(layoutRows());
  assert.ok(rows.size > 10, `found the table: ${[...rows].join(', ')}`);
  assert.deepEqual([...subfolders('src'), ...subfolders('packages')].filter((f) => !rows.has(f)), []);
});

test('every folder the README layout table names exists', () => {
  assert.deepEqual(layoutRows().filter((f) => !existsSync(path.join(root, f))), []);
});
