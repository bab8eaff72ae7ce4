/**
 * The codec is pure (issue 19 item 3, ARCHITECTURE §4 and §7 "the codec imports no model"): loading the built
 * `openkcm/ttlv` entry, or the @openkcm/ttlv package it re-exports, loads no module of the KMIP model (src/kmip:
 * the 3,100-line registry, payloads, encodings) and nothing of the server.
 *
 * How: a child Node process registers a module resolve hook (node:module register, Node ≥ 20.6) that records the
 * URL of every module resolved, then imports the entry and reads the list back through a virtual module the hook
 * serves. No timing is involved: the list is complete when the import has settled. The lint rule in
 * eslint.config.mjs keeps the source that way; this test checks what actually loads, through the package links.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/unit → the repository root (the `openkcm` package, whose exports name `./ttlv`). */
const root = path.resolve(here, '..', '..', '..');
const ttlvDist = pathToFileURL(path.join(realpathSync(root), 'packages', 'ttlv', 'dist')).href + '/';

const HOOKS = `
const seen = new Set();
export async function resolve(specifier, context, next) {
  if (specifier === 'loaded-modules:') return { url: 'loaded-modules:', shortCircuit: true };
  const r = await next(specifier, context);
  seen.add(r.url);
  return r;
}
export async function load(url, context, next) {
  if (url === 'loaded-modules:') return { format: 'module', source: 'export default ' + JSON.stringify([...seen]), shortCircuit: true };
  return next(url, context);
}`;

/** The URLs of every module that importing `specifier` (from the repository root) resolves. */
function modulesLoadedBy(specifier: string): string[] {
  const script = `
import { register } from 'node:module';
register(${JSON.stringify('data:text/javascript,' + encodeURIComponent(HOOKS))});
await import(${JSON.stringify(specifier)});
const { default: loaded } = await import('loaded-modules:');
process.stdout.write(JSON.stringify(loaded));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  return (JSON.parse(out) as string[]).map((u) => u.startsWith('file:') ? pathToFileURL(realpathSync(fileURLToPath(u))).href : u);
}

function fileModules(urls: readonly string[]): string[] {
  return urls.filter((u) => u.startsWith('file:'));
}

for (const entry of ['openkcm/ttlv', '@openkcm/ttlv']) {
  test(`${entry} loads the codec's own modules and nothing of src/kmip or the server`, () => {
    const files = fileModules(modulesLoadedBy(entry));
    const codec = files.filter((u) => u.startsWith(ttlvDist));
    // The hook saw the codec itself (decode, encode, framer, ...): the list is real, not empty.
    for (const m of ['index.js', 'decode.js', 'encode.js', 'framer.js', 'types.js']) assert.ok(codec.includes(ttlvDist + m), `${m} loaded: ${files.join('\n')}`);
    assert.deepEqual(files.filter((u) => /\/kmip\//.test(u)), [], 'no module of the KMIP model');
    // Besides the codec, at most the one-line `openkcm/ttlv` re-export of the server package.
    const others = files.filter((u) => !u.startsWith(ttlvDist));
    assert.deepEqual(others.map((u) => path.relative(root, fileURLToPath(u))), entry === 'openkcm/ttlv' ? [path.join('dist', 'src', 'exports', 'ttlv.js')] : []);
  });
}

test('the detector sees the model when it does load (openkcm/client loads src/kmip)', () => {
  const files = fileModules(modulesLoadedBy('openkcm/client'));
  assert.ok(files.some((u) => /\/kmip\/registry\.generated\.js$/.test(u)), files.join('\n'));
});
