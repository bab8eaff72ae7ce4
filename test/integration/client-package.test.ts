/**
 * The publishable KMIP client (issue 19 item 8): `npm pack` of @openkcm/ttlv and @openkcm/client, installed from
 * those tarballs into an empty project outside the repository with `--offline --ignore-scripts` (no network, no
 * install scripts, so nothing native can be built), then a script in that project creates a key on a running
 * OpenKCM server and gets it back. The server's own client, connected as the same tenant, sees the same key.
 *
 * This fails if the client package needs a native build or a server dependency (the install has no network and
 * installs exactly the two tarballs), if `npm pack` leaves out a module the client imports, or if the package's
 * exports do not resolve.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { keyBlockBytes } from '../../src/kmip/payloads/objects.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');

/** npm without what `npm test` exported for its own run (npm_config_*, npm_package_*, the lifecycle event). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

async function npm(args: readonly string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args], { cwd, env: npmEnv(), encoding: 'utf8', maxBuffer: 8 << 20 });
  return stdout;
}

async function pack(pkgDir: string, dest: string): Promise<string> {
  const out = JSON.parse(await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dest], path.join(root, pkgDir))) as { filename: string }[];
  const file = out[0]?.filename;
  assert.ok(file !== undefined, `npm pack of ${pkgDir} named no file`);
  return path.join(dest, file);
}

const PROBE = `
import { readFileSync } from 'node:fs';
import { connect, CryptographicAlgorithm, CryptographicUsageMask, keyBlockBytes } from '@openkcm/client';
const o = JSON.parse(readFileSync('options.json', 'utf8'));
const client = await connect(o);
const uid = await client.createSymmetricKey({ algorithm: CryptographicAlgorithm.AES, length: 256,
  usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt, name: 'from-the-npm-package' });
const { object } = await client.get(uid);
await client.close();
process.stdout.write(JSON.stringify({ uid, key: Buffer.from(keyBlockBytes(object.keyBlock)).toString('hex'),
  resolved: import.meta.resolve('@openkcm/client'), codec: import.meta.resolve('@openkcm/ttlv') }));
`;

let work: string;
let project: string;
let srv: TestServer;

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'openkcm-client-package-'));
  project = path.join(work, 'project');
  const tarballs = path.join(work, 'tarballs');
  await mkdir(project);
  await mkdir(tarballs);
  const [ttlv, client] = await Promise.all([pack('packages/ttlv', tarballs), pack('packages/client', tarballs)]);
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'probe', private: true, type: 'module' }));
  await npm(['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', ttlv, client], project);
  srv = await startTestServer();
});

after(async () => {
  await srv.stop();
  await rm(work, { recursive: true, force: true });
});

test('the installed project holds the client and the codec, and nothing else', async () => {
  assert.deepEqual((await readdir(path.join(project, 'node_modules'))).filter((n) => !n.startsWith('.')), ['@openkcm']);
  assert.deepEqual((await readdir(path.join(project, 'node_modules', '@openkcm'))).sort(), ['client', 'ttlv']);
  const lock = JSON.parse(await readFile(path.join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
  assert.deepEqual(Object.keys(lock.packages).filter((k) => k !== '').sort(), ['node_modules/@openkcm/client', 'node_modules/@openkcm/ttlv']);
  for (const [k, p] of Object.entries(lock.packages)) assert.notEqual(p.hasInstallScript, true, `${k} has an install script`);
});

test('a script in that project creates a key on a running server and gets it back', async () => {
  const o = srv.clientOptions();
  await writeFile(path.join(project, 'options.json'), JSON.stringify({ host: o.host, port: o.port, ca: o.ca, cert: o.cert, key: o.key }));
  await writeFile(path.join(project, 'probe.mjs'), PROBE);
  const { stdout } = await run(process.execPath, ['probe.mjs'], { cwd: project, encoding: 'utf8' });
  const r = JSON.parse(stdout) as { uid: string; key: string; resolved: string; codec: string };
  // The modules came from the installed project, not from this repository.
  for (const u of [r.resolved, r.codec]) assert.ok(fileURLToPath(u).startsWith(path.join(project, 'node_modules') + path.sep), u);
  assert.equal(r.key.length, 64);
  const client = await srv.connect();
  try {
    const { object } = await client.get(r.uid);
    assert.ok('keyBlock' in object);
    assert.equal(Buffer.from(keyBlockBytes(object.keyBlock) ?? new Uint8Array()).toString('hex'), r.key);
  } finally {
    await client.close();
  }
});
