/**
 * Finding and loading the OASIS KMIP test-case files (../shared/kmip/vectors, never copied into
 * this repository: see ../shared/kmip/README.md).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseXml } from '../kmip/encodings/xml.js';
import type { XmlElement } from '../kmip/encodings/xml.js';

/** One request and the response the test case expects for it. */
export interface VectorExchange {
  readonly request: XmlElement;
  readonly response: XmlElement;
}

export interface Vector {
  /** Path relative to the directory the run was started on, with `/` separators. */
  readonly relPath: string;
  readonly exchanges: readonly VectorExchange[];
}

/** The vectors root next to the repository: `$OPENKCM_VECTORS`, else `<repo>/../shared/kmip/vectors`. */
export function defaultVectorsDir(repoRoot: string): string {
  const env = process.env.OPENKCM_VECTORS;
  return env !== undefined && env !== '' ? path.resolve(env) : path.resolve(repoRoot, '..', 'shared', 'kmip', 'vectors');
}

/** True when `dir` exists and is a directory. */
export async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Every `*.xml` under `dir` (recursively), as paths relative to `dir` with `/` separators,
 * sorted by code unit so that the order is the same on every machine and locale.
 */
export async function listVectorFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const e of entries) {
    if (!e.isFile() || !e.name.toLowerCase().endsWith('.xml')) continue;
    // `parentPath` is Node ≥ 20.12; `path` is the older spelling of the same field.
    const parentDir = (e as { parentPath?: string }).parentPath ?? (e as unknown as { path: string }).path;
    files.push(path.relative(dir, path.join(parentDir, e.name)).split(path.sep).join('/'));
  }
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export class VectorFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VectorFormatError';
  }
}

/**
 * Split a parsed `<KMIP>` document into request/response pairs. The format alternates
 * RequestMessage and ResponseMessage strictly; anything else is a malformed test case.
 *
 * Every published edition reads (issue 20): the KMIP 1.0-1.3 and 2.0 test cases and the OASIS test-case notes
 * (TC-*) add an `<?xml?>` declaration, comments, tab indentation, `<X ... />` with a space, and free text straight
 * inside `<KMIP>` — `# TIME n` lines (when the recording ran the request) and `#` remarks. The text is skipped by
 * the parser (loadVector passes `freeTextIn: ['KMIP']`); a message itself never carries text.
 */
export function vectorFromXml(relPath: string, root: XmlElement): Vector {
  if (root.name !== 'KMIP') throw new VectorFormatError(`root element is <${root.name}>, expected <KMIP>`);
  const exchanges: VectorExchange[] = [];
  const kids = root.children;
  for (let i = 0; i < kids.length; i += 2) {
    const request = kids[i];
    const response = kids[i + 1];
    if (request?.name !== 'RequestMessage') {
      throw new VectorFormatError(`element ${i + 1} of <KMIP> is <${request?.name ?? ''}>, expected <RequestMessage>`);
    }
    if (response?.name !== 'ResponseMessage') {
      throw new VectorFormatError(`element ${i + 2} of <KMIP> is <${response?.name ?? '(end)'}>, expected <ResponseMessage>`);
    }
    exchanges.push({ request, response });
  }
  if (exchanges.length === 0) throw new VectorFormatError('no RequestMessage in the file');
  return { relPath, exchanges };
}

export async function loadVector(dir: string, relPath: string): Promise<Vector> {
  const text = await readFile(path.join(dir, relPath), 'utf8');
  // Tolerant of the older editions' free text inside <KMIP> (`# TIME 0` lines, `#` remarks): see vectorFromXml.
  return vectorFromXml(relPath, parseXml(text, undefined, { freeTextIn: ['KMIP'] }));
}
