#!/usr/bin/env node
// Runs `node --test` over exactly the compiled *.test.js files under dist/test (Node 20's runner has no
// glob support, and handing it a directory would also execute helper modules under test/helpers).
// Extra arguments are passed through (e.g. a subset: `npm test -- unit`).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'dist/test';
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (filters.length === 0 || filters.some((f) => p.includes(f)))) files.push(p);
  }
})(root);
if (files.length === 0) {
  console.error(`no test files under ${root}${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
  process.exit(1);
}
// Unless the caller chose reporters, the usual one (spec on a terminal, TAP when piped, as node picks) plus a list
// of the failed tests printed last, so the tail of a CI log names them.
const reporters = passthrough.some((a) => a.startsWith('--test-reporter'))
  ? []
  : [
      `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
      '--test-reporter-destination=stdout',
      `--test-reporter=${new URL('./test-failures-reporter.mjs', import.meta.url).href}`,
      '--test-reporter-destination=stdout',
    ];
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...reporters, ...passthrough, ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
