/**
 * Issue 16 item 1 (node secrets) and item 5 (suspend / resume on the KMIP path), through the product's interfaces:
 * the `openkcm` CLI, the operator socket, the admin API over mutual TLS and KMIP, with a real child server.
 *
 * - offline (no server, a development master key): `secret put` from stdin and from a file, `list` (names and sizes,
 *   never values), `delete`; a value on the command line is refused without being echoed;
 * - a Shamir node with no server: refused, the master key needs its custodians;
 * - a running sealed node: `secret put` refused clearly; after the unseal it goes over the socket; the admin API's
 *   write-only routes store and delete for a platform admin, never return a value, and answer 503 once the node is
 *   sealed again; every change is in the global audit chain by name and size, never by value;
 * - suspend refuses the tenant's KMIP traffic (keys kept), resume serves it again; the other tenant is unaffected.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { initDataDir } from '../../src/cli/commands/init.js';
import { MAX_NODE_SECRET_BYTES } from '../../src/krypton/master-key.js';
import { OFFLINE_SECRET_JOURNAL } from '../../src/krypton/secret-journal.js';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { runCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { startTestServer, withClient } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { adminOf } from '../helpers/admin-client.js';
import type { AdminCall } from '../helpers/admin-client.js';
import { codeOf } from '../helpers/kmip-outcome.js';
import { until } from '../helpers/wait.js';

const GIVE_UP_MS = 60_000;
const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };

function cli(args: string[], stdin: string | Buffer = ''): Promise<CliResult> {
  return runCli(args, { stdin });
}

describe('node secrets offline: openkcm operator secret put | list | delete', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'openkcm-secrets-'));
    await initDataDir({ dataDir: dir, tenants: ['alpha'], force: true });
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  test('stdin (one trailing newline dropped) and --from-file (byte for byte); list shows sizes, never values', async () => {
    const pin = `pin-${randomBytes(6).toString('hex')}`;
    let r = await cli(['operator', 'secret', 'put', 'hsm-pin', '--data-dir', dir], `${pin}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stored node secret hsm-pin \(16 bytes, offline\)/);
    const file = path.join(dir, 'cred.json');
    const cred = Buffer.from('{"key":"x"}\n\n');
    await writeFile(file, cred);
    r = await cli(['operator', 'secret', 'put', 'aws-cred', '--from-file', file, '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['operator', 'secret', 'list', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`aws-cred\\s+${String(cred.length)}\\s+\\d{4}-`));
    assert.match(r.stdout, /hsm-pin\s+16\s+\d{4}-/);
    assert.ok(!r.stdout.includes(pin) && !r.stdout.includes('"key"'));
    // Sealed at rest: the value is not in the file.
    for (const f of await readdir(path.join(dir, 'secrets'))) assert.equal((await readFile(path.join(dir, 'secrets', f))).indexOf(pin), -1);
    r = await cli(['operator', 'secret', 'delete', 'aws-cred', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['operator', 'secret', 'delete', 'aws-cred', '--data-dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no node secret named aws-cred/);
  });

  test('the value is never taken from argv (and never echoed); names, sizes and empty values are checked', async () => {
    let r = await cli(['operator', 'secret', 'put', 'hsm-pin', 'TopSecretValue', '--data-dir', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /never taken from the command line/);
    assert.ok(!r.stderr.includes('TopSecretValue'));
    r = await cli(['operator', 'secret', 'put', '../escape', '--data-dir', dir], 'x');
    assert.equal(r.code, 2);
    r = await cli(['operator', 'secret', 'put', 'empty', '--data-dir', dir], '');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /empty/);
    // The size limit: MAX_NODE_SECRET_BYTES is accepted, one more is refused.
    const big = path.join(dir, 'big');
    await writeFile(big, Buffer.alloc(MAX_NODE_SECRET_BYTES, 0x61));
    r = await cli(['operator', 'secret', 'put', 'big', '--from-file', big, '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    await writeFile(big, Buffer.alloc(MAX_NODE_SECRET_BYTES + 1, 0x61));
    r = await cli(['operator', 'secret', 'put', 'big', '--from-file', big, '--data-dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /larger than 65536 bytes/);
  });

  test('offline changes are journaled (names and sizes only) and in the global audit chain after the next start', async () => {
    const journal = path.join(dir, 'secrets', OFFLINE_SECRET_JOURNAL);
    const text = await readFile(journal, 'utf8');
    assert.deepEqual(text.trim().split('\n').map((l) => { const e = JSON.parse(l) as { op: string; name: string; bytes: number; by: string }; return `${e.by}|${e.op}|${e.name}|${String(e.bytes)}`; }), [
      'offline-cli|put|hsm-pin|16', 'offline-cli|put|aws-cred|13', 'offline-cli|delete|aws-cred|1', 'offline-cli|delete|aws-cred|0',
      `offline-cli|put|big|${String(MAX_NODE_SECRET_BYTES)}`,
    ]);
    assert.ok(!text.includes('"key"') && !/pin-[0-9a-f]{12}/.test(text), 'no value in the journal');
    const tdb = await createThrowawayDatabase();
    const srv = await startTestServer({ mode: 'child', workers: 1, dataDir: dir, startTimeoutMs: 120_000, governance: { databaseUrl: tdb.url } });
    const c = new pg.Client({ connectionString: tdb.url });
    try {
      await c.connect();
      const rows = await until('the offline changes in the audit chain', async () => {
        const q = await c.query<{ principal: string; operation: string; object: string; result: string; tenant: string | null }>(
          "SELECT principal, operation, object, result, tenant FROM public.audit WHERE operation LIKE 'node-secret.%' ORDER BY seq");
        return q.rows.length >= 5 ? q.rows : undefined;
      }, GIVE_UP_MS);
      assert.deepEqual(rows.map((x) => `${x.principal}|${x.operation}|${x.object}|${x.result}`), [
        'offline-cli|node-secret.put|hsm-pin (16 bytes)|ok',
        'offline-cli|node-secret.put|aws-cred (13 bytes)|ok',
        'offline-cli|node-secret.delete|aws-cred|ok',
        'offline-cli|node-secret.delete|aws-cred|not-found',
        `offline-cli|node-secret.put|big (${String(MAX_NODE_SECRET_BYTES)} bytes)|ok`,
      ]);
      await assert.rejects(readFile(journal), { code: 'ENOENT' }, 'the journal is removed once recorded');
    } finally {
      await c.end();
      await srv.stop();
      await tdb.drop();
    }
  });
});

describe('node secrets on a running Shamir node: sealed refusal, operator socket, admin API, audit; suspend / resume', () => {
  let dir: string;
  let share: string;
  let tdb: Awaited<ReturnType<typeof createThrowawayDatabase>>;
  let srv: TestServer;
  let admin: AdminCall;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'openkcm-secrets-'));
    await initDataDir({ dataDir: dir, tenants: ['alpha', 'bravo'], force: true });
    const init = await cli(['operator', 'init', '--shares', '1', '--threshold', '1', '--data-dir', dir]);
    assert.equal(init.code, 0, init.stderr);
    share = /Unseal share 1: (okcm1-\S+)/.exec(init.stdout)?.[1] ?? '';
    tdb = await createThrowawayDatabase();
  });
  after(async () => {
    await srv.stop().catch(() => undefined);
    await tdb.drop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  test('no server and a Shamir master key: refused, the custodians are needed', async () => {
    const r = await cli(['operator', 'secret', 'list', '--data-dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /master key is sealed \(shamir\): start the server, unseal it/);
  });

  test('a sealed running node refuses; unsealed, the socket and the admin API store write-only, audited', async () => {
    srv = await startTestServer({ mode: 'child', workers: 1, dataDir: dir, startTimeoutMs: 120_000, governance: { databaseUrl: tdb.url } });
    let r = await cli(['operator', 'secret', 'put', 'hsm-pin', '--data-dir', dir], 'value-1\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the node is sealed: unseal it/);
    r = await cli(['operator', 'unseal', '--data-dir', dir, '-'], `${share}\n`);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['operator', 'secret', 'put', 'hsm-pin', '--data-dir', dir], 'value-1\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stored node secret hsm-pin \(7 bytes\)/);

    admin = await adminOf(srv, GIVE_UP_MS);
    let a = await admin('PUT', '/v1/node/secrets/aws-cred', Buffer.from('value-two'));
    assert.equal(a.status, 204, JSON.stringify(a.body));
    a = await admin('PUT', '/v1/node/secrets/aws-cred', { value: 'json is refused' });
    assert.equal(a.status, 415, JSON.stringify(a.body));
    a = await admin('GET', '/v1/node/secrets');
    assert.equal(a.status, 200);
    const list = (a.body as { secrets: { name: string; bytes: number }[] }).secrets;
    assert.deepEqual(list.map((e) => [e.name, e.bytes]), [['aws-cred', 9], ['hsm-pin', 7]]);
    assert.ok(!JSON.stringify(a.body).includes('value-'));
    a = await admin('GET', '/v1/node/secrets/aws-cred');
    assert.equal(a.status, 404, 'no route reads a value back');
    a = await admin('DELETE', '/v1/node/secrets/aws-cred');
    assert.equal(a.status, 204);
    a = await admin('DELETE', '/v1/node/secrets/aws-cred');
    assert.equal(a.status, 404);

    // Every change in the global chain: by name and size, never by value.
    const c = new pg.Client({ connectionString: tdb.url });
    await c.connect();
    try {
      const rows = await until('the audit records', async () => {
        const q = await c.query<{ principal: string; operation: string; object: string; result: string }>(
          "SELECT principal, operation, object, result FROM public.audit WHERE operation LIKE 'node-secret.%' ORDER BY seq");
        return q.rows.length >= 4 ? q.rows : undefined;
      }, GIVE_UP_MS);
      assert.deepEqual(rows.map((x) => `${x.principal}|${x.operation}|${x.object}|${x.result}`), [
        'operator-socket|node-secret.put|hsm-pin (7 bytes)|ok',
        'urn:openkcm:admin|node-secret.put|aws-cred (9 bytes)|ok',
        'urn:openkcm:admin|node-secret.delete|aws-cred|ok',
        'urn:openkcm:admin|node-secret.delete|aws-cred|not-found',
      ]);
      const all = await c.query<{ t: string }>('SELECT row_to_json(a)::text AS t FROM public.audit a');
      assert.ok(all.rows.every((x) => !x.t.includes('value-')));
    } finally {
      await c.end();
    }
  });

  test('suspend refuses the tenant (keys kept), resume serves it again; the other tenant is unaffected', async () => {
    await withClient(srv.connect('alpha'), (alpha) => withClient(srv.connect('bravo'), async (bravo) => {
      const uid = await alpha.createSymmetricKey(AES);
      const buid = await bravo.createSymmetricKey(AES);
      let a = await admin('POST', '/v1/tenants/alpha/suspend', { reason: 'maintenance' });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal((a.body as { state: string }).state, 'suspended');
      await until('alpha refused', async () => ((await codeOf(alpha.get(uid))) === 'PERMISSION_DENIED' ? true : undefined), GIVE_UP_MS);
      assert.equal(await codeOf(bravo.get(buid)), 'success');
      a = await admin('POST', '/v1/tenants/alpha/restore', {});
      assert.equal(a.status, 409, 'restore does not lift a suspension');
      a = await admin('POST', '/v1/tenants/alpha/resume', {});
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal((a.body as { state: string }).state, 'active');
      await until('alpha served again', async () => ((await codeOf(alpha.get(uid))) === 'success' ? true : undefined), GIVE_UP_MS);
      a = await admin('POST', '/v1/tenants/alpha/resume', {});
      assert.equal(a.status, 409, 'resume of an active tenant');
    }));
  });

  test('sealed again: the admin API refuses with 503 and a clear message', async () => {
    const r = await cli(['operator', 'seal', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    const a = await admin('PUT', '/v1/node/secrets/late', Buffer.from('x'));
    assert.equal(a.status, 503, JSON.stringify(a.body));
    assert.match((a.body as { error: { message: string } }).error.message, /sealed: unseal it/);
  });
});
