/**
 * Idle memory (issue 14 "Memory": the default appliance idles at <= 300 MiB): a process loads only the packages it
 * uses. A KMIP worker never opens the governance database (the primary owns it), never serves the admin API, and
 * serves KMIP over HTTPS only when it is configured; each package below costs every worker megabytes of heap and
 * code it would keep for its whole life (docs/performance.md "Idle memory"). The database helpers the audit modules
 * take from src/cmk/db.ts must not drag node-postgres in either: the embedded default never uses it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dist = (p: string): string => fileURLToPath(new URL(`../../src/${p}`, import.meta.url));

/**
 * The packages (directory names under node_modules) whose files a fresh node process loaded while importing
 * `modules`: ES modules through a module load hook, CommonJS ones (required from CommonJS) from require's cache.
 */
function packagesLoadedBy(modules: readonly string[]): Set<string> {
  const script = `
    import { register, createRequire } from 'node:module';
    import { MessageChannel } from 'node:worker_threads';
    const { port1, port2 } = new MessageChannel();
    const urls = [];
    port1.on('message', (u) => { urls.push(u); });
    const hook = 'let port; export function initialize(d) { port = d.port; } ' +
      'export async function load(url, ctx, next) { port.postMessage(url); return next(url, ctx); }';
    register('data:text/javascript,' + encodeURIComponent(hook), { data: { port: port2 }, transferList: [port2] });
    for (const m of ${JSON.stringify(modules)}) await import(m);
    await new Promise((r) => setTimeout(r, 200)); // the hook thread's last messages
    const cjs = Object.keys(createRequire(import.meta.url).cache);
    port1.close();
    process.stdout.write(JSON.stringify([...urls, ...cjs]));
  `;
  const files = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
  const out = new Set<string>();
  for (const f of files) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f);
    if (m !== null) out.add(m[1]!);
  }
  return out;
}

describe('lazy loading (idle memory)', () => {
  test('a KMIP worker loads no database driver, no PGlite, no web framework and no cloud SDK', () => {
    // What src/appliance/worker-main.ts imports (it cannot be imported itself outside a cluster worker).
    const loaded = packagesLoadedBy(['appliance/worker.js', 'config/load.js', 'common/log.js', 'appliance/idle-memory.js'].map(dist));
    assert.ok(loaded.has('lmdb') && loaded.has('@peculiar/x509'), `the hook sees what a worker does use: ${[...loaded].join(', ')}`);
    for (const pkg of ['pg', 'fastify', '@electric-sql/pglite', '@aws-sdk/client-kms', '@azure/keyvault-keys', 'pkcs11js', 'prom-client']) {
      assert.ok(!loaded.has(pkg), `a worker must not load ${pkg}; loaded: ${[...loaded].join(', ')}`);
    }
  });

  test('the governance database module loads node-postgres only to open a PostgreSQL database', () => {
    const loaded = packagesLoadedBy([dist('cmk/db.js')]);
    assert.ok(!loaded.has('pg'), `loaded: ${[...loaded].join(', ')}`);
  });
});
