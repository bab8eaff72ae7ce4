/**
 * Files under 700 lines (STYLE.md, issue 19): every hand-written file git tracks under src/, packages/, test/,
 * scripts/ and perf/ stays at or below MAX_FILE_LINES. Data (JSON, Markdown, PEM, spec vectors) does not count;
 * the registry generated from the KMIP specification texts (src/kmip/registry.generated.ts) is not hand-written.
 * A file that grows past the limit fails here: split it by concern, do not raise the limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const MAX_FILE_LINES = 700;
const FOLDERS = ['src', 'packages', 'test', 'scripts', 'perf'];
/** What is written by hand: source in the languages of the repository. */
const CODE = /\.(?:ts|mts|cts|js|mjs|cjs|py|sh|cc|cpp|h|hpp|c)$/;
const GENERATED = new Set(['src/kmip/registry.generated.ts']);
/**
 * Over the limit before this test existed and not yet split (a ratchet: the file may shrink, never grow). Remove an
 * entry when its file is split; the test fails if an entry is left behind.
 */
const NOT_YET_SPLIT: ReadonlyMap<string, number> = new Map();

function trackedCode(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', ...FOLDERS], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((f) => CODE.test(f) && !GENERATED.has(f) && !f.includes('/dist/') && !f.includes('node_modules/'));
}

function lineCount(file: string): number {
  const text = readFileSync(path.join(root, file), 'utf8');
  return text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

test(`every hand-written file under ${FOLDERS.join(', ')} has at most ${String(MAX_FILE_LINES)} lines`, () => {
  const files = trackedCode();
  assert.ok(files.length > 100, `expected the repository's source files, found ${String(files.length)}`);
  const over = files.map((f) => ({ f, n: lineCount(f) }))
    .filter(({ f, n }) => n > (NOT_YET_SPLIT.get(f) ?? MAX_FILE_LINES))
    .map(({ f, n }) => `${f}: ${String(n)} lines`);
  assert.deepEqual(over, [], `split these files by concern (limit ${String(MAX_FILE_LINES)} lines)`);
});

test('the not-yet-split list names only files that exist and are still over the limit', () => {
  const files = new Set(trackedCode());
  for (const [f] of NOT_YET_SPLIT) {
    assert.ok(files.has(f), `${f} is listed but not tracked`);
    assert.ok(lineCount(f) > MAX_FILE_LINES, `${f} is now within the limit: remove it from NOT_YET_SPLIT`);
  }
});
