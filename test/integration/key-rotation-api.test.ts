/**
 * Issue 16 item 3 through the product's interfaces (the real `openkcm keys` CLI over the admin API with the admin
 * client certificate, KMIP clients): L3 rotation and crypto-shred of an old L3 version (depth 2), L2 rotation, and
 * the L1 replacement from the embedded `local` key to a SoftHSM2 key — refused for a key that does not pass its
 * health check, audited either way; after it, L2 is really wrapped by the HSM key: with that key disabled at the
 * HSM, a restarted node cannot serve the tenant. Four-eyes when configured: the replacement waits for approval.
 *
 * The HSM PIN is stored as a node secret through the library (the `openkcm operator secret` command is issue 16
 * item 1, another branch).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { adminCliEnv } from '../helpers/admin-client.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { codeOf } from '../helpers/kmip-outcome.js';
import { rawKey } from '../helpers/kmip-raw-key.js';
import { runCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { generateL1Key, initToken, setL1KeyEnabled, setupSoftHsm, USER_PIN } from '../helpers/softhsm.js';
import type { SoftHsm } from '../helpers/softhsm.js';

const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };
const TOKEN = 'okrot';
const KEY = 'alpha-l1';

function keysCli(srv: TestServer, args: readonly string[]): Promise<CliResult> {
  const port = srv.app?.governance?.adminApiAddress()?.port;
  assert.ok(port !== undefined, 'the admin API listens');
  return runCli(['keys', ...args], { env: adminCliEnv(port, path.join(srv.dataDir, 'pki')) });
}

async function material(srv: TestServer, uid: string): Promise<Uint8Array> {
  const c = await srv.connect('alpha');
  try {
    return await rawKey(c, uid);
  } finally {
    await c.close();
  }
}

describe('key rotation and L1 replacement through `openkcm keys` and the admin API', () => {
  let hsm: SoftHsm;
  let dataDir: string;
  let db: { url: string; drop(): Promise<void> };
  before(async () => {
    hsm = setupSoftHsm();
    initToken(hsm, TOKEN);
    generateL1Key(hsm, TOKEN, KEY);
    dataDir = mkdtempSync(path.join(tmpdir(), 'okrot-'));
    db = await createThrowawayDatabase();
  });
  after(async () => {
    hsm.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
    await db.drop();
  });

  test('rotate-l3, drop-l3 (crypto-shred), rotate-l2, replace-l1 (refused when unhealthy; then really under the HSM key), four-eyes', async () => {
    const keystores = { connections: { pkcs11: { modulePath: hsm.modulePath, pinSecret: 'hsm-pin' } } };
    const start = (governance: Record<string, unknown> = {}): Promise<TestServer> =>
      startTestServer({ dataDir, tenants: ['alpha'], keystores, governance: { databaseUrl: db.url, ...governance } });
    let srv = await start();
    let uid1: string;
    let uid2: string;
    let m2: Uint8Array;
    try {
      await srv.app?.hierarchy?.hierarchy.masterKey.secrets.put('hsm-pin', Buffer.from(USER_PIN));
      const c = await srv.connect('alpha');
      try {
        uid1 = await c.createSymmetricKey(AES);
      } finally {
        await c.close();
      }
      const show = await keysCli(srv, ['show', 'alpha', '--json']);
      assert.equal(show.code, 0, show.stderr);
      const lineage = JSON.parse(show.stdout) as { l1: { plugin: string }; currentL2: number; services: { service: string; current: number; versions: number[] }[] };
      assert.equal(lineage.l1.plugin, 'local');
      assert.deepEqual(lineage.services, [{ service: 'kmip', current: 1, versions: [1] }]);

      // L3 rotation: new keys under v2; dropping v1 shreds what only v1 sealed; the current version is refused.
      const r3 = await keysCli(srv, ['rotate-l3', 'alpha', '--reason', 'quarterly']);
      assert.equal(r3.code, 0, r3.stderr);
      assert.match(r3.stdout, /L3 of kmip rotated to version 2/);
      const c2 = await srv.connect('alpha');
      try {
        uid2 = await c2.createSymmetricKey(AES);
      } finally {
        await c2.close();
      }
      m2 = await material(srv, uid2);
      const dropCurrent = await keysCli(srv, ['drop-l3', 'alpha', '--version', '2']);
      assert.equal(dropCurrent.code, 1);
      assert.match(dropCurrent.stderr, /409 CONFLICT|400 INVALID_REQUEST/);
      const drop = await keysCli(srv, ['drop-l3', 'alpha', '--version', '1']);
      assert.equal(drop.code, 0, drop.stderr);
      assert.match(drop.stdout, /L3 version 1 of kmip dropped/);
      assert.notEqual(await codeOf(material(srv, uid1)), 'success', 'the DEK sealed under the dropped L3 version is gone');
      assert.deepEqual(await material(srv, uid2), m2);
      const dropAgain = await keysCli(srv, ['drop-l3', 'alpha', '--version', '1']);
      assert.equal(dropAgain.code, 1);
      assert.match(dropAgain.stderr, /404 NOT_FOUND/);

      // L2 rotation: the L3 lineage is re-sealed; keys still served.
      const r2 = await keysCli(srv, ['rotate-l2', 'alpha']);
      assert.equal(r2.code, 0, r2.stderr);
      assert.match(r2.stdout, /L2 rotated to version 2/);
      assert.deepEqual(await material(srv, uid2), m2);

      // L1 replacement to a key the HSM does not hold: refused with the catalog code, nothing changed, audited.
      const wrong = await keysCli(srv, ['replace-l1', 'alpha', '--plugin', 'pkcs11', '--key-ref', `token=${TOKEN};object=no-such-key`]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /424 L1_UNHEALTHY/);
      assert.equal((JSON.parse((await keysCli(srv, ['show', 'alpha', '--json'])).stdout) as { l1: { plugin: string } }).l1.plugin, 'local');

      const moved = await keysCli(srv, ['replace-l1', 'alpha', '--plugin', 'pkcs11', '--key-ref', `token=${TOKEN};object=${KEY}`, '--reason', 'customer HSM']);
      assert.equal(moved.code, 0, moved.stderr);
      assert.match(moved.stdout, /L1 replaced; L2 now wrapped by pkcs11 token=okrot;object=alpha-l1/);
      assert.equal((JSON.parse((await keysCli(srv, ['show', 'alpha', '--json'])).stdout) as { l1: { plugin: string } }).l1.plugin, 'pkcs11');
      assert.deepEqual(await material(srv, uid2), m2);
      const gov = srv.app?.governance?.governance;
      assert.ok(gov !== undefined);
      const shadow = await gov.getShadowRef('alpha', 'l1');
      assert.deepEqual(shadow?.shadow, { plugin: 'pkcs11', keyRef: `token=${TOKEN};object=${KEY}`, keyVersion: '' });
      await srv.app?.governance?.flushAudit();
      const ops = (await gov.audit.list('alpha', { limit: 1000 })).map((r) => `${r.operation}:${r.result}`);
      for (const op of ['keys.rotate-l3:ok', 'keys.drop-l3:ok', 'keys.rotate-l2:ok', 'l1.replace:failed', 'l1.replace:ok']) assert.ok(ops.includes(op), `${op} in ${ops.join(',')}`);
      assert.equal((await gov.audit.verify('alpha')).ok, true);
    } finally {
      await srv.stop();
    }

    // After a restart the tenant's L2 comes from the HSM key: served while it is enabled, dark while it is disabled.
    srv = await start();
    try {
      assert.deepEqual(await material(srv, uid2), m2);
    } finally {
      await srv.stop();
    }
    generateL1Key(hsm, TOKEN, 'alpha-l1-next');
    setL1KeyEnabled(hsm, TOKEN, KEY, false);
    try {
      srv = await start();
      try {
        assert.notEqual(await codeOf(material(srv, uid2)), 'success', 'L2 is wrapped by the disabled HSM key only');
        // The old key must prove it still unwraps: with it disabled, moving to a healthy new key is refused.
        const blind = await keysCli(srv, ['replace-l1', 'alpha', '--plugin', 'pkcs11', '--key-ref', `token=${TOKEN};object=alpha-l1-next`]);
        assert.equal(blind.code, 1, blind.stdout);
        assert.match(blind.stderr, /409 CONFLICT|424 L1_UNHEALTHY/);
        const still = JSON.parse((await keysCli(srv, ['show', 'alpha', '--json'])).stdout) as { l1: { keyRef: string } };
        assert.equal(still.l1.keyRef, `token=${TOKEN};object=${KEY}`);
      } finally {
        await srv.stop();
      }
    } finally {
      setL1KeyEnabled(hsm, TOKEN, KEY, true);
    }

    // Four-eyes: the replacement waits for an approval and changes nothing meanwhile.
    srv = await start({ fourEyes: { actions: ['replace-l1'], approvals: 1 } });
    try {
      const pending = await keysCli(srv, ['replace-l1', 'alpha', '--plugin', 'pkcs11', '--key-ref', `token=${TOKEN};object=alpha-l1-next`]);
      assert.equal(pending.code, 3, pending.stderr);
      assert.match(pending.stdout, /pending approval alpha:[0-9a-f-]+: 1 more approval/);
      const show = JSON.parse((await keysCli(srv, ['show', 'alpha', '--json'])).stdout) as { l1: { keyRef: string } };
      assert.equal(show.l1.keyRef, `token=${TOKEN};object=${KEY}`);
      const list = await srv.app?.governance?.governance?.listApprovals('alpha');
      const a = list?.find((x) => x.action === 'replace-l1' && x.state === 'pending');
      assert.equal(a?.params['keyRef'], `token=${TOKEN};object=alpha-l1-next`);
    } finally {
      await srv.stop();
    }
  });
});
