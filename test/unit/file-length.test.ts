/**
 * Files under 700 lines (STYLE.md, issue 19): every hand-written file git tracks under src/, packages/, test/,
 * scripts/ and perf/ stays at or below MAX_FILE_LINES, whatever its language (the PyKMIP drivers under test/ are
 * Python). Data (JSON, Markdown, PEM, spec vectors) does not count; the registry generated from the KMIP
 * specification texts (src/kmip/registry.generated.ts) is not hand-written. There are no exceptions: a file that
 * grows past the limit fails here, so split it by concern, do not raise the limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const MAX_FILE_LINES = 700;
const FOLDERS = ['src', 'packages', 'test', 'scripts', 'perf'];
/** What is written by hand: source in the languages of the repository. */
const CODE = /\.(?:ts|mts|cts|js|mjs|cjs|py|sh|cc|cpp|h|hpp|c)$/;
const GENERATED = new Set(['src/kmip/registry.generated.ts']);

function trackedCode(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', ...FOLDERS], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((f) => CODE.test(f) && !GENERATED.has(f) && !f.includes('/dist/') && !f.includes('node_modules/'));
}

function lineCount(file: string, base: string): number {
  const text = readFileSync(path.join(base, file), 'utf8');
  return text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** The files of `files` (relative to `base`) past the limit, as `path: N lines`. */
function overLimit(files: readonly string[], base = root): string[] {
  return files.map((f) => ({ f, n: lineCount(f, base) }))
    .filter(({ n }) => n > MAX_FILE_LINES)
    .map(({ f, n }) => `${f}: ${String(n)} lines`);
}

test(`every hand-written file under ${FOLDERS.join(', ')} has at most ${String(MAX_FILE_LINES)} lines`, () => {
  const files = trackedCode();
  assert.ok(files.length > 100, `expected the repository's source files, found ${String(files.length)}`);
  assert.deepEqual(overLimit(files), [], `split these files by concern (limit ${String(MAX_FILE_LINES)} lines)`);
});

test('the check covers the Python under test/ and fails a file one line past the limit', () => {
  const files = trackedCode();
  assert.ok(files.includes('test/interop/pykmip_client_driver.py'), 'the PyKMIP client driver is not checked');
  assert.ok(files.some((f) => f.startsWith('test/interop/pykmip_driver/') && f.endsWith('.py')), 'its package is not checked');
  const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-file-length-'));
  try {
    const lines = (n: number): string => Array.from({ length: n }, (_, i) => `x = ${String(i)}\n`).join('');
    writeFileSync(path.join(dir, 'at.py'), lines(MAX_FILE_LINES));
    writeFileSync(path.join(dir, 'past.py'), lines(MAX_FILE_LINES + 1));
    // The last line counts without its newline too.
    writeFileSync(path.join(dir, 'past-unterminated.py'), lines(MAX_FILE_LINES + 1).slice(0, -1));
    assert.deepEqual(overLimit(['at.py', 'past.py', 'past-unterminated.py'], dir),
      [`past.py: ${String(MAX_FILE_LINES + 1)} lines`, `past-unterminated.py: ${String(MAX_FILE_LINES + 1)} lines`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
