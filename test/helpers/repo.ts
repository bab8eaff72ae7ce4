// Paths the tests read from the source tree and next to it, whether they run from test/ or from dist/test/: tsc
// does not copy data files (the PyKMIP drivers) into dist/, and the OASIS test-case files are never copied into
// the repository at all (../shared/kmip/README.md).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory above this file holding package.json and tsconfig.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'tsconfig.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`repository root not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The OASIS KMIP test cases: `$OPENKCM_VECTORS`, else ../shared/kmip/vectors next to the checkout. */
export const VECTORS_DIR = process.env.OPENKCM_VECTORS ?? path.resolve(repoRoot(), '..', 'shared', 'kmip', 'vectors');

/** A PyKMIP driver script of the interop suite (test/interop/<name>), run from the source tree. */
export function interopScript(name: string): string {
  return path.join(repoRoot(), 'test', 'interop', name);
}
