/**
 * Auto-unseal through a real HSM (SoftHSM2) end to end (docs/keystores.md "Auto-unseal"): a development node is
 * converted by the real CLI (`openkcm operator init --auto-unseal`) using the `seal.auto` section of its config,
 * whose PIN comes from an owner-only file (never from node secrets: the master key seals those). The server then
 * starts unsealed with no shares and still reads what the dev key sealed; a disabled HSM key makes the start fail
 * with a clear AUTO_UNSEAL_FAILED naming KEY_REVOKED_OR_DISABLED. Plus the seal secret source's refusals.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { MAX_SEAL_SECRET_BYTES, sealSecretSource } from '../../src/krypton/auto-seal.js';
import { autoSealSettings } from '../../src/config/seal.js';
import { DEV_KEY_FILE, MasterKeyError, SEAL_FILE } from '../../src/krypton/master-key.js';
import { rawKey } from '../helpers/kmip-raw-key.js';
import { runCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { startTestServer } from '../helpers/server.js';
import { generateL1Key, initToken, setL1KeyEnabled, setupSoftHsm, USER_PIN } from '../helpers/softhsm.js';
import type { SoftHsm } from '../helpers/softhsm.js';

const TOKEN = 'openkcm-seal';
const KEY = 'mk-wrap';
const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };

function cli(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CliResult> {
  return runCli(args, { env });
}

describe('auto-unseal through SoftHSM2 via the CLI', () => {
  let hsm: SoftHsm;
  before(() => {
    hsm = setupSoftHsm();
    initToken(hsm, TOKEN);
    generateL1Key(hsm, TOKEN, KEY);
  });
  after(() => { hsm.cleanup(); });

  test('operator init --auto-unseal converts a dev node; serve starts unsealed without shares; a disabled HSM key fails the start clearly', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'openkcm-auto-'));
    const seal = {
      auto: {
        plugin: 'pkcs11', keyRef: `token=${TOKEN};object=${KEY}`,
        connection: { modulePath: hsm.modulePath, pinSecret: 'seal-pin' },
        secrets: { 'seal-pin': { file: 'seal.pin' } },
      },
    };
    try {
      // A development node with data sealed under its dev master key (the tenant's local L1 key).
      const dev = await startTestServer({ dataDir, tenants: ['alice'], seal });
      let uid: string;
      let material: Uint8Array;
      try {
        assert.equal(dev.app?.hierarchy?.hierarchy.masterKey.status().type, 'dev');
        const c = await dev.connect('alice');
        try {
          uid = await c.createSymmetricKey(AES);
          material = await rawKey(c, uid);
        } finally {
          await c.close();
        }
      } finally {
        await dev.stop();
      }

      // Without the PIN file the CLI refuses with a clear message and changes nothing.
      const noPin = await cli(['operator', 'init', '--auto-unseal', '--data-dir', dataDir]);
      assert.equal(noPin.code, 1, noPin.stderr);
      assert.match(noPin.stderr, /seal secret 'seal-pin'.*seal\.pin/);
      assert.equal((JSON.parse(readFileSync(path.join(dataDir, SEAL_FILE), 'utf8')) as { type: string }).type, 'dev');

      writeFileSync(path.join(dataDir, 'seal.pin'), `${USER_PIN}\n`, { mode: 0o600 });
      const r = await cli(['operator', 'init', '--auto-unseal', '--data-dir', dataDir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /auto-unseals through pkcs11 \(token=openkcm-seal;object=mk-wrap\)/);
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(USER_PIN));
      const sealFile = JSON.parse(readFileSync(path.join(dataDir, SEAL_FILE), 'utf8')) as { type: string; autoUnseal: { shadow: unknown } };
      assert.equal(sealFile.type, 'auto');
      assert.deepEqual(sealFile.autoUnseal.shadow, { plugin: 'pkcs11', keyRef: `token=${TOKEN};object=${KEY}`, keyVersion: '' });
      assert.equal(existsSync(path.join(dataDir, DEV_KEY_FILE)), false, 'the dev key file is shredded');
      const again = await cli(['operator', 'init', '--auto-unseal', '--data-dir', dataDir]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already initialised/);

      // serve: unsealed at start through the HSM, no shares; the dev-era object is still readable.
      const srv = await startTestServer({ dataDir, seal: { ...seal, allowDev: false } });
      try {
        assert.deepEqual(srv.app?.hierarchy?.hierarchy.masterKey.status(), { initialized: true, sealed: false, type: 'auto' });
        const c = await srv.connect('alice');
        try {
          assert.deepEqual(await rawKey(c, uid), material);
        } finally {
          await c.close();
        }
      } finally {
        await srv.stop();
      }

      // The wrapping key disabled at the HSM: the start fails, naming the cause.
      setL1KeyEnabled(hsm, TOKEN, KEY, false);
      try {
        await assert.rejects(startTestServer({ dataDir, seal }), (e: unknown) => {
          assert.ok(e instanceof MasterKeyError, String(e));
          assert.equal(e.code, 'AUTO_UNSEAL_FAILED');
          assert.match(e.message, /pkcs11 \(token=openkcm-seal;object=mk-wrap\) failed \[KEY_REVOKED_OR_DISABLED\]/);
          return true;
        });
        // The same through the real `openkcm serve`: exit 1, the reason on stderr.
        const serve = await cli(['serve', '--data-dir', dataDir, '--kmip-listen', '127.0.0.1:0']);
        assert.equal(serve.code, 1);
        assert.match(serve.stderr, /KEY_REVOKED_OR_DISABLED/);
      } finally {
        setL1KeyEnabled(hsm, TOKEN, KEY, true);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('without a seal.auto section, init --auto-unseal says what to add', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'openkcm-auto-'));
    try {
      const r = await cli(['operator', 'init', '--auto-unseal', '--data-dir', dataDir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no seal\.auto section/);
      const u = await cli(['operator', 'init', '--auto-unseal', '--shares', '3', '--threshold', '2', '--data-dir', dataDir]);
      assert.equal(u.code, 2);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('seal.auto settings and the seal secret source', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-sealsecret-'));
  after(() => { rmSync(dir, { recursive: true, force: true }); });
  const base = { plugin: 'pkcs11', keyRef: 'token=t;object=k' };

  test('validation: unknown keys, the local plugin and malformed secret specs are refused', () => {
    assert.equal(autoSealSettings({}), undefined);
    const bad = (auto: unknown, re: RegExp): void => {
      assert.throws(() => autoSealSettings({ auto }), (e: unknown) => e instanceof MasterKeyError && e.code === 'INVALID_CONFIG' && re.test(e.message));
    };
    bad({ ...base, pin: '1234' }, /unknown setting seal\.auto\.pin/);
    bad({ ...base, plugin: 'local' }, /local cannot wrap the master key/);
    bad({ ...base, keyRef: '' }, /keyRef/);
    bad({ ...base, secrets: { 'p': { env: 'A', file: 'b' } } }, /must be \{"env"/);
    bad({ ...base, secrets: { 'p': { env: 'NOT A NAME' } } }, /env must match/);
    bad({ ...base, secrets: { '../p': { env: 'A' } } }, /secret name/);
    assert.deepEqual(autoSealSettings({ auto: base })?.shadow, { ...base, keyVersion: '' });
  });

  test('env and owner-only file sources; group-readable file, unset variable, unmapped name and oversize are refused', async () => {
    const file = path.join(dir, 'pin');
    writeFileSync(file, 'from-file\r\n', { mode: 0o600 });
    const auto = autoSealSettings({ auto: { ...base, secrets: { a: { env: 'OPENKCM_TEST_SEAL_SECRET' }, b: { file: 'pin' }, big: { file: 'big' } } } });
    assert.ok(auto !== undefined);
    const src = sealSecretSource(auto, dir);
    process.env['OPENKCM_TEST_SEAL_SECRET'] = 'from-env';
    try {
      assert.equal((await src.get('a')).toString(), 'from-env');
    } finally {
      delete process.env['OPENKCM_TEST_SEAL_SECRET'];
    }
    await assert.rejects(src.get('a'), /OPENKCM_TEST_SEAL_SECRET is not set/);
    assert.equal((await src.get('b')).toString(), 'from-file');
    chmodSync(file, 0o640);
    await assert.rejects(src.get('b'), /mode 0640.*owner only/);
    await assert.rejects(src.get('hsm-pin'), /seal\.auto\.secrets does not say where it comes from.*cannot be node secrets/);
    // The limit and one past it.
    writeFileSync(path.join(dir, 'big'), Buffer.alloc(MAX_SEAL_SECRET_BYTES, 0x41), { mode: 0o600 });
    assert.equal((await src.get('big')).length, MAX_SEAL_SECRET_BYTES);
    writeFileSync(path.join(dir, 'big'), Buffer.alloc(MAX_SEAL_SECRET_BYTES + 1, 0x41), { mode: 0o600 });
    await assert.rejects(src.get('big'), /at most/);
  });
});
