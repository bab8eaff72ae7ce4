/**
 * Issue 16 item 4, "connections can be added without a restart": a running node (`openkcm serve`, governance on the
 * real PostgreSQL) is told to re-read openkcm.conf with `openkcm operator reload-keystores` (operator socket). A
 * connection added to the file becomes usable at once — a tenant's L1 is registered on it and the tenant is
 * served over KMIP — while changing a connection in use is refused (RESTART_REQUIRED, nothing applied). Every
 * reload, done or refused, is in the global audit chain. The connection reaches the local AWS KMS endpoint
 * (test/helpers/aws-kms-endpoint.ts) with a static access key stored as a node secret.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { initDataDir } from '../../src/cli/commands/init.js';
import { CONFIG_FILE_NAME } from '../../src/config/index.js';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { AwsKmsTestEndpoint } from '../helpers/aws-kms-endpoint.js';
import { startGovernedNode } from '../helpers/governed-node.js';
import { runCli } from '../helpers/cli.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import type { TestServer } from '../helpers/server.js';

const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };

describe('keystore connections added to a running node (operator reload-keystores)', () => {
  let endpoint: AwsKmsTestEndpoint;
  let tdb: Awaited<ReturnType<typeof createThrowawayDatabase>>;
  let dataDir: string;
  let srv: TestServer | undefined;
  let adminEnv: Record<string, string>;
  let keyArn: string;
  let connection: Record<string, unknown>;
  const confPath = (): string => path.join(dataDir, CONFIG_FILE_NAME);
  /** The config file as the test helper wrote it: one comment line, then JSON. */
  const readConf = (): Record<string, Record<string, unknown>> => JSON.parse(readFileSync(confPath(), 'utf8').replace(/^\/\/.*\n/u, '')) as Record<string, Record<string, unknown>>;
  const writeConnections = (connections: Record<string, unknown>): void => {
    const conf = readConf();
    conf['keystores'] = { ...conf['keystores'], connections };
    writeFileSync(confPath(), `// edited by test/integration/keystore-reload.test.ts\n${JSON.stringify(conf, null, 2)}\n`);
  };
  const reload = (): ReturnType<typeof runCli> => runCli(['operator', 'reload-keystores', '--data-dir', dataDir]);

  before(async () => {
    endpoint = await AwsKmsTestEndpoint.start();
    const admin = endpoint.addUser('key-admin');
    const node = endpoint.addUser('openkcm-node');
    const kms = new KMSClient({ region: endpoint.region, endpoint: endpoint.url, credentials: admin, requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: endpoint.caPem }) }) });
    keyArn = (await kms.send(new CreateKeyCommand({ Description: 'late L1' }))).KeyMetadata?.Arn ?? '';
    kms.destroy();
    tdb = await createThrowawayDatabase();
    dataDir = mkdtempSync(path.join(tmpdir(), 'openkcm-reload-'));
    const caFile = path.join(dataDir, 'kms-ca.pem');
    writeFileSync(caFile, endpoint.caPem);
    connection = { kind: 'aws-kms', region: endpoint.region, endpoint: endpoint.url, caFile, credentialsSecret: 'late-aws', requestTimeoutMs: 10_000, maxAttempts: 1 };
    await initDataDir({ dataDir, tenants: ['acme'], force: true });
    const started = await startGovernedNode(dataDir, tdb.url, {});
    srv = started.server;
    adminEnv = started.adminEnv;
    const r = await runCli(['operator', 'secret', 'put', 'late-aws', '--data-dir', dataDir], { stdin: JSON.stringify({ accessKeyId: node.accessKeyId, secretAccessKey: node.secretAccessKey }) });
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await srv?.stop().catch(() => undefined);
    await tdb.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    await endpoint.close();
  });

  test('a connection added to openkcm.conf is usable after reload-keystores: register-l1 on it, KMIP served', async () => {
    const register = (): ReturnType<typeof runCli> => runCli(['tenant', 'register-l1', 'acme', '--plugin', 'aws-kms@late', '--key-ref', keyArn, '--json'], { env: adminEnv });
    let r = await runCli(['tenant', 'create', 'acme'], { env: adminEnv });
    assert.equal(r.code, 0, r.stderr);
    r = await register();
    assert.equal(r.code, 1, 'the node does not know the connection yet');
    assert.match(r.stderr, /'late'/u);
    writeConnections({ late: connection });
    r = await register();
    assert.equal(r.code, 1, 'editing the file alone changes nothing');
    r = await reload();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /added keystore connection\(s\): late/u);
    r = await register();
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { shadow: { plugin: string } }).shadow.plugin, 'aws-kms@late');
    if (srv === undefined) throw new Error('no server');
    const k = await srv.connect('acme');
    try {
      const uid = await k.createSymmetricKey(AES);
      assert.ok('keyBlock' in (await k.get(uid)).object);
    } finally {
      await k.close();
    }
    assert.ok(endpoint.calls.some((c) => c.op === 'Encrypt' && c.status === 200), 'the L2 was wrapped through the new connection');
    r = await reload();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no new keystore connection/u);
  });

  test('changing or removing a connection needs a restart: refused, nothing applied, the tenant still served', async () => {
    writeConnections({ late: { ...connection, requestTimeoutMs: 20_000 } });
    let r = await reload();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /RESTART_REQUIRED: keystores\.connections 'late' was changed or removed/u);
    writeConnections({});
    r = await reload();
    assert.match(r.stderr, /RESTART_REQUIRED/u);
    writeConnections({ bad: { kind: 'no-such-kind' }, late: connection });
    r = await reload();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /INVALID_CONFIG: .*kind must be one of/u);
    if (srv === undefined) throw new Error('no server');
    const k = await srv.connect('acme');
    try {
      await k.createSymmetricKey(AES);
    } finally {
      await k.close();
    }
    await srv.stop();
    srv = undefined;
    const dump = execFileSync('pg_dump', ['--data-only', tdb.url], { maxBuffer: 64 * 1024 * 1024 }).toString('utf8');
    assert.match(dump, /keystores\.reload/u, 'reloads are in the audit chain');
    // Each reload answered after its record was durable, so the chain holds them in the order they were made
    // (COPY rows of public.audit: seq, at, principal, tenant, operation, object, result, ...).
    const reloads = dump.split('\n').map((l) => l.split('\t')).filter((f) => f[4] === 'keystores.reload')
      .sort((a, b) => Number(a[0]) - Number(b[0])).map((f) => f[6]);
    assert.deepEqual(reloads, ['ok', 'ok', 'restart-required', 'restart-required', 'invalid-config']);
  });
});
