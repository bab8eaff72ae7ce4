#!/usr/bin/env node
/**
 * `npm start`: a working KMIP server with no set-up. Initialises ./.openkcm (development PKI,
 * tenant "default", commented config) when it has no CA yet, then runs `openkcm serve` on it
 * with the embedded defaults (127.0.0.1:5696). Extra arguments go to `serve`, e.g.
 * `npm start -- --kmip-listen 0.0.0.0:5696`. OPENKCM_DATA_DIR overrides the directory.
 * See docs/cli.md.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const commands = path.join(root, 'dist', 'src', 'cli', 'commands');
if (!existsSync(path.join(commands, 'serve.js'))) {
  process.stderr.write('openkcm: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
const dataDir = path.resolve(process.env.OPENKCM_DATA_DIR ?? '.openkcm');
const init = await import(pathToFileURL(path.join(commands, 'init.js')).href);
if (!(await init.hasPki(dataDir))) {
  const code = await init.run(['--data-dir', dataDir]);
  if (code !== 0) process.exit(code);
}
const serve = await import(pathToFileURL(path.join(commands, 'serve.js')).href);
process.exitCode = await serve.run(['--data-dir', dataDir, ...process.argv.slice(2)]);
