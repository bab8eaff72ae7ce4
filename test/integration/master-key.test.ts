/**
 * The MasterKey lifecycle (issue 4 deliverable 6; HashiCorp Vault's "one suite walks the whole lifecycle"):
 * Shamir K-of-N init/unseal, bad shares, check value, dev → shamir conversion, auto-unseal through PKCS#11 on
 * SoftHSM2, node secrets, derived keys, the operator socket and the `openkcm operator` CLI, and a scan proving
 * nothing on disk rebuilds the key.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { combine } from 'shamir-secret-sharing';
import { initNative, mac, SecureKey } from '../../src/native/index.js';
import { KmipError } from '../../src/kmip/errors.js';
import {
  decodeShare, DEV_KEY_FILE, encodeShare, MasterKey, MasterKeyError, MAX_NODE_SECRET_BYTES, MAX_SHARE_TEXT_CHARS, SEAL_FILE,
  type MasterKeyErrorCode,
} from '../../src/krypton/master-key.js';
import { OPERATOR_BODY_LIMIT_BYTES, OPERATOR_SOCKET_FILE, startOperatorApi } from '../../src/krypton/operator-api.js';
import { Pkcs11Keystore } from '../../src/keystore/pkcs11.js';
import { generateL1Key, initToken, setL1KeyEnabled, setupSoftHsm, USER_PIN, type SoftHsm } from '../helpers/softhsm.js';
import { runCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { run as runOperator } from '../../src/cli/commands/operator.js';

initNative({ allowUnlocked: true });

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'openkcm-mk-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function rejectsCode(p: Promise<unknown>, code: MasterKeyErrorCode, text?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MasterKeyError, `expected MasterKeyError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (text !== undefined) assert.match(e.message, text);
    return true;
  });
}

function isSealed(e: unknown): boolean {
  return e instanceof KmipError && e.code === 'SERVER_SEALED';
}

/** Test-only debug path to the key: combine the printed shares ourselves. */
async function keyFromShares(shares: readonly string[]): Promise<Buffer> {
  const parts = shares.map(decodeShare);
  if (parts.length === 1) return Buffer.from((parts[0] ?? new Uint8Array(33)).subarray(0, 32));
  return Buffer.from(await combine(parts));
}

/** Every file under `dir`, recursively. */
function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...allFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function assertKeyNowhereOnDisk(dir: string, key: Buffer): void {
  const needles = [key, Buffer.from(key.toString('hex')), Buffer.from(key.toString('base64')), Buffer.from(key.toString('base64').slice(0, 40))];
  const files = allFiles(dir);
  assert.ok(files.length > 0);
  for (const f of files) {
    const bytes = readFileSync(f);
    for (const n of needles) assert.ok(!bytes.includes(n), `${path.relative(dir, f)} contains the master key`);
  }
}

describe('MasterKey: Shamir K of N', () => {
  for (const [n, k] of [[1, 1], [2, 2], [3, 2], [5, 3]] as const) {
    test(`${String(k)} of ${String(n)} unseals, ${String(k - 1)} does not, any subset works`, async () => {
      const dir = tempDir();
      const shares = await MasterKey.initShamir(dir, { shares: n, threshold: k });
      assert.equal(shares.length, n);
      assert.equal(new Set(shares).size, n);
      for (const s of shares) assert.match(s, /^okcm1-[0-9a-f]{8}-[0-9a-f]{66}$/);
      const seal = JSON.parse(readFileSync(path.join(dir, SEAL_FILE), 'utf8')) as Record<string, unknown>;
      assert.equal(seal['type'], 'shamir');
      assert.equal(seal['shares'], n);
      assert.equal(seal['threshold'], k);
      assert.equal(statSync(path.join(dir, SEAL_FILE)).mode & 0o777, 0o600);

      const mk = await MasterKey.open(dir, { allowDev: false });
      assert.deepEqual(mk.status(), { initialized: true, sealed: true, type: 'shamir', threshold: k, shares: n, progress: 0 });
      assert.throws(() => mk.deriveKey('x'), isSealed);
      const events: string[] = [];
      mk.on('unsealed', () => events.push('unsealed'));
      mk.on('sealed', () => events.push('sealed'));
      for (let i = 0; i < k - 1; i++) {
        const s = await mk.submitShare(shares[i] ?? '');
        assert.equal(s.sealed, true);
        assert.equal(s.progress, i + 1);
      }
      assert.equal(mk.sealed, true, `${String(k - 1)} shares must not unseal`);
      const done = await mk.submitShare(shares[k - 1] ?? '');
      assert.equal(done.sealed, false);
      assert.deepEqual(events, ['unsealed']);
      await mk.secrets.put('probe', Buffer.from('hello'));
      mk.seal();
      assert.deepEqual(events, ['unsealed', 'sealed']);
      assert.equal(mk.status().progress, 0);
      // Another subset (the last K shares, reversed) reconstructs the same key: the secret still opens.
      for (const s of shares.slice(n - k).reverse()) await mk.submitShare(s);
      assert.equal(mk.sealed, false);
      assert.equal((await mk.secrets.get('probe')).toString(), 'hello');
      assertKeyNowhereOnDisk(dir, await keyFromShares(shares.slice(0, k)));
      mk.seal();
    });
  }

  test('(N, K) validation: 1 <= K <= N <= 255, K >= 2 unless N = 1', async () => {
    for (const [n, k] of [[0, 0], [3, 1], [2, 3], [256, 2], [2, 0], [2.5, 2]] as const) {
      await rejectsCode(MasterKey.initShamir(tempDir(), { shares: n, threshold: k }), 'INVALID_ARGUMENT');
    }
    const at = await MasterKey.initShamir(tempDir(), { shares: 255, threshold: 255 });
    assert.equal(at.length, 255);
  });
});

describe('MasterKey: bad shares', () => {
  let dir: string;
  let shares: string[];
  let mk: MasterKey;
  before(async () => {
    dir = tempDir();
    shares = await MasterKey.initShamir(dir, { shares: 5, threshold: 3 });
    mk = await MasterKey.open(dir, {});
  });
  after(() => { mk.seal(); });

  test('malformed, garbled (checksum), duplicate and over-long shares are refused without losing progress', async () => {
    const first = shares[0] ?? '';
    assert.equal((await mk.submitShare(first)).progress, 1);
    await rejectsCode(mk.submitShare(first), 'DUPLICATE_SHARE');
    await rejectsCode(mk.submitShare(`  ${first.toUpperCase()}\n`), 'DUPLICATE_SHARE'); // normalised, same share
    await rejectsCode(mk.submitShare('not a share'), 'INVALID_SHARE', /malformed/);
    await rejectsCode(mk.submitShare(''), 'INVALID_SHARE');
    await rejectsCode(mk.submitShare(first.slice(0, -2)), 'INVALID_SHARE', /malformed/);
    // One hex digit changed: the checksum catches the typo before any combining.
    const typo = first.slice(0, -1) + (first.endsWith('0') ? '1' : '0');
    await rejectsCode(mk.submitShare(typo), 'INVALID_SHARE', /checksum/);
    await rejectsCode(mk.submitShare('x'.repeat(MAX_SHARE_TEXT_CHARS)), 'INVALID_SHARE', /malformed/);
    await rejectsCode(mk.submitShare('x'.repeat(MAX_SHARE_TEXT_CHARS + 1)), 'INVALID_SHARE', /at most/);
    // x coordinate 0 is never a share (it IS the secret's position).
    const zero = decodeShare(shares[1] ?? '');
    zero[32] = 0;
    await rejectsCode(mk.submitShare(encodeShare(zero)), 'INVALID_SHARE', /index 0/);
    assert.equal(mk.status().progress, 1);
    assert.equal(mk.sealed, true);
  });

  test('a damaged share with a valid checksum fails the check value: clear error, progress reset, then unseal works', async () => {
    mk.seal();
    const damaged = decodeShare(shares[2] ?? '');
    damaged[5] = (damaged[5] ?? 0) ^ 0xff;
    await mk.submitShare(shares[0] ?? '');
    await mk.submitShare(shares[1] ?? '');
    await rejectsCode(mk.submitShare(encodeShare(damaged)), 'WRONG_SHARES', /shares do not reconstruct the master key/);
    assert.equal(mk.status().progress, 0);
    assert.equal(mk.sealed, true);
    for (const s of shares.slice(2)) await mk.submitShare(s);
    assert.equal(mk.sealed, false);
  });

  test('shares of another initialisation do not unseal', async () => {
    mk.seal();
    const other = await MasterKey.initShamir(tempDir(), { shares: 3, threshold: 3 });
    await mk.submitShare(other[0] ?? '');
    await mk.submitShare(other[1] ?? '');
    await rejectsCode(mk.submitShare(other[2] ?? ''), 'WRONG_SHARES');
    assert.equal(mk.sealed, true);
  });

  test('init refuses an initialised node; --force makes a new key and old secrets become unreadable', async () => {
    for (const s of shares.slice(0, 3)) await mk.submitShare(s);
    await mk.secrets.put('old', Buffer.from('sealed under key 1'));
    await rejectsCode(MasterKey.initShamir(dir, { shares: 2, threshold: 2 }), 'ALREADY_INITIALIZED', /--force/);
    const fresh = await MasterKey.initShamir(dir, { shares: 2, threshold: 2, force: true });
    const mk2 = await MasterKey.open(dir, {});
    await rejectsCode(mk2.submitShare(shares[0] ?? '').then(() => mk2.submitShare(shares[1] ?? '')), 'WRONG_SHARES');
    for (const s of fresh) await mk2.submitShare(s);
    assert.equal(mk2.sealed, false);
    await rejectsCode(mk2.secrets.get('old'), 'CORRUPT', /another node|does not open/);
    mk2.seal();
    // Restore the suite's node for the hooks.
    shares = await MasterKey.initShamir(dir, { shares: 5, threshold: 3, force: true });
    mk.seal();
    mk = await MasterKey.open(dir, {});
  });
});

describe('MasterKey: development key file and conversion to Shamir', () => {
  test('dev: created on first open (0600), auto-unsealed; operator init keeps the key and shreds master.key', async () => {
    const dir = tempDir();
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (m: string) => { warnings.push(m); } };
    const dev = await MasterKey.open(dir, {}, { logger });
    assert.deepEqual(dev.status(), { initialized: true, sealed: false, type: 'dev' });
    assert.ok(warnings.some((w) => w.includes('DEVELOPMENT ONLY')));
    const keyFile = path.join(dir, DEV_KEY_FILE);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(statSync(keyFile).size, 32);
    const devKey = readFileSync(keyFile);
    await dev.secrets.put('hsm-pin', Buffer.from('12345678'));
    const derived = dev.deriveKey('audit-hmac');
    const tagBefore = Buffer.from(mac(derived, 'HMAC-SHA256', Buffer.from('x')));
    derived.destroy();
    dev.seal();

    // Reopen: same key from the file.
    const again = await MasterKey.open(dir, {});
    assert.equal((await again.secrets.get('hsm-pin')).toString(), '12345678');
    again.seal();

    // seal.allowDev false refuses a dev node outright (production must not run on a key file).
    await rejectsCode(MasterKey.open(dir, { allowDev: false }), 'INVALID_CONFIG');

    const shares = await MasterKey.initShamir(dir, { shares: 3, threshold: 2 });
    assert.equal(existsSync(keyFile), false, 'master.key must be deleted');
    assert.deepEqual(await keyFromShares(shares.slice(1)), devKey, 'the EXISTING key is split');
    const mk = await MasterKey.open(dir, { allowDev: false });
    assert.equal(mk.sealed, true);
    await assert.rejects(mk.secrets.get('hsm-pin'), isSealed);
    for (const s of shares.slice(0, 2)) await mk.submitShare(s);
    assert.equal((await mk.secrets.get('hsm-pin')).toString(), '12345678');
    const d2 = mk.deriveKey('audit-hmac');
    assert.deepEqual(Buffer.from(mac(d2, 'HMAC-SHA256', Buffer.from('x'))), tagBefore, 'derived keys survive the conversion');
    d2.destroy();
    assertKeyNowhereOnDisk(dir, devKey);
    mk.seal();
  });

  test('without seal.json and allowDev false: uninitialised and sealed; an init while running is picked up', async () => {
    const dir = tempDir();
    const mk = await MasterKey.open(dir, { allowDev: false });
    assert.deepEqual(mk.status(), { initialized: false, sealed: true, type: 'shamir' });
    await rejectsCode(mk.submitShare(encodeShare(new Uint8Array(33).fill(1))), 'NOT_INITIALIZED');
    assert.equal(existsSync(path.join(dir, DEV_KEY_FILE)), false);
    const shares = await MasterKey.initShamir(dir, { shares: 1, threshold: 1 });
    assert.equal(mk.status().initialized, true);
    await mk.submitShare(shares[0] ?? '');
    assert.equal(mk.sealed, false);
    mk.seal();
  });

  test('invalid seal settings and a corrupt seal.json are clear errors', async () => {
    await rejectsCode(MasterKey.open(tempDir(), { allowdev: true }), 'INVALID_CONFIG', /allowdev/);
    await rejectsCode(MasterKey.open(tempDir(), { allowDev: 'yes' }), 'INVALID_CONFIG');
    const dir = tempDir();
    writeFileSync(path.join(dir, SEAL_FILE), '{"version":1,"type":"shamir"}');
    await rejectsCode(MasterKey.open(dir, {}), 'CORRUPT');
    writeFileSync(path.join(dir, SEAL_FILE), 'x'.repeat(20_000));
    await rejectsCode(MasterKey.open(dir, {}), 'CORRUPT', /at most/);
  });

  test('a master.key swapped for another key fails the check value', async () => {
    const dir = tempDir();
    (await MasterKey.open(dir, {})).seal();
    writeFileSync(path.join(dir, DEV_KEY_FILE), Buffer.alloc(32, 7), { mode: 0o600 });
    await rejectsCode(MasterKey.open(dir, {}), 'CORRUPT', /check value/);
  });
});

describe('MasterKey: node secrets and derived keys', () => {
  let dir: string;
  let mk: MasterKey;
  before(async () => {
    dir = tempDir();
    mk = await MasterKey.open(dir, {});
  });
  after(() => { mk.seal(); });

  test('round trip, list, delete; files 0600 and not plaintext', async () => {
    await mk.secrets.put('b-secret', Buffer.from('value-b'));
    await mk.secrets.put('a-secret', Buffer.from('value-a'));
    await mk.secrets.put('a-secret', Buffer.from('value-a2'));
    assert.deepEqual(mk.secrets.list(), ['a-secret', 'b-secret']);
    assert.equal((await mk.secrets.get('a-secret')).toString(), 'value-a2');
    const file = path.join(dir, 'secrets', 'a-secret');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(!readFileSync(file).includes(Buffer.from('value-a2')));
    assert.equal(await mk.secrets.delete('b-secret'), true);
    assert.equal(await mk.secrets.delete('b-secret'), false);
    assert.deepEqual(mk.secrets.list(), ['a-secret']);
    await rejectsCode(mk.secrets.get('b-secret'), 'SECRET_NOT_FOUND');
  });

  test('put and delete settle after the change listener has (the audit record precedes the answer, in order)', async () => {
    const seen: string[] = [];
    const off = mk.secrets.onChange(async (c) => {
      // A slow auditor: a later change must not overtake this one's record.
      await new Promise((r) => setTimeout(r, c.bytes === 1 ? 30 : 5));
      seen.push(`${c.op} ${c.name} ${String(c.bytes)}`);
    });
    const failing = mk.secrets.onChange(() => Promise.reject(new Error('auditor down')));
    try {
      await mk.secrets.put('ordered', Buffer.from('x'));
      assert.deepEqual(seen, ['put ordered 1'], 'put resolved before its listener finished');
      assert.equal(await mk.secrets.delete('ordered'), true);
      assert.equal(await mk.secrets.delete('ordered'), false);
      assert.deepEqual(seen, ['put ordered 1', 'delete ordered 1', 'delete ordered 0']);
    } finally {
      off();
      failing();
    }
  });

  test('tampering and renaming are detected (the AAD binds the name)', async () => {
    await mk.secrets.put('pin', Buffer.from('1234'));
    const sdir = path.join(dir, 'secrets');
    copyFileSync(path.join(sdir, 'pin'), path.join(sdir, 'other'));
    await rejectsCode(mk.secrets.get('other'), 'CORRUPT');
    const blob = readFileSync(path.join(sdir, 'pin'));
    blob[blob.length - 20] = (blob[blob.length - 20] ?? 0) ^ 1;
    writeFileSync(path.join(sdir, 'pin'), blob, { mode: 0o600 });
    await rejectsCode(mk.secrets.get('pin'), 'CORRUPT');
  });

  test('names and sizes are validated at the limit and one past', async () => {
    for (const bad of ['', '.hidden', '../x', 'a/b', 'x'.repeat(129), 'a\0b']) {
      await rejectsCode(mk.secrets.put(bad, Buffer.from('v')), 'INVALID_ARGUMENT');
    }
    await mk.secrets.put('x'.repeat(128), Buffer.alloc(MAX_NODE_SECRET_BYTES, 1));
    assert.equal((await mk.secrets.get('x'.repeat(128))).length, MAX_NODE_SECRET_BYTES);
    await rejectsCode(mk.secrets.put('big', Buffer.alloc(MAX_NODE_SECRET_BYTES + 1)), 'INVALID_ARGUMENT');
  });

  test('deriveKey: per purpose, deterministic, SERVER_SEALED when sealed', () => {
    const a1 = mk.deriveKey('audit-hmac');
    const a2 = mk.deriveKey('audit-hmac');
    const b = mk.deriveKey('tls-at-rest');
    const m = (k: SecureKey): Buffer => Buffer.from(mac(k, 'HMAC-SHA256', Buffer.from('probe')));
    assert.equal(a1.length, 32);
    assert.deepEqual(m(a1), m(a2));
    assert.notDeepEqual(m(a1), m(b));
    for (const k of [a1, a2, b]) k.destroy();
    assert.throws(() => mk.deriveKey('bad purpose'), MasterKeyError);
    assert.throws(() => mk.deriveKey(''), MasterKeyError);
  });

  test('every operation throws SERVER_SEALED while sealed', async () => {
    mk.seal();
    await assert.rejects(mk.secrets.get('pin'), isSealed);
    await assert.rejects(mk.secrets.put('pin', Buffer.from('x')), isSealed);
    assert.throws(() => mk.secrets.list(), isSealed);
    assert.throws(() => mk.deriveKey('audit-hmac'), isSealed);
    await assert.rejects(mk.secrets.delete('pin'), isSealed);
    mk = await MasterKey.open(dir, {});
  });
});

describe('MasterKey: auto-unseal through PKCS#11 (SoftHSM2)', () => {
  const TOKEN = 'openkcm-mk';
  let hsm: SoftHsm;
  before(() => {
    hsm = setupSoftHsm();
    initToken(hsm, TOKEN);
  });
  after(() => { hsm.cleanup(); });

  test('init --auto-unseal converts a dev node; start unwraps; a disabled HSM key fails cleanly', async () => {
    generateL1Key(hsm, TOKEN, 'mk-wrap');
    const plugin = new Pkcs11Keystore({ modulePath: hsm.modulePath, tokenLabel: TOKEN, pin: USER_PIN, keyLabel: 'mk-wrap' });
    const shadow = { plugin: 'pkcs11', keyRef: `token=${TOKEN};object=mk-wrap`, keyVersion: '' };
    try {
      const dir = tempDir();
      const dev = await MasterKey.open(dir, {});
      await dev.secrets.put('cloud-credential', Buffer.from('s3cr3t'));
      dev.seal();
      const devKey = readFileSync(path.join(dir, DEV_KEY_FILE));
      await MasterKey.initAuto(dir, shadow, plugin);
      assert.equal(existsSync(path.join(dir, DEV_KEY_FILE)), false);
      const seal = JSON.parse(readFileSync(path.join(dir, SEAL_FILE), 'utf8')) as { type: string; autoUnseal: { shadow: unknown } };
      assert.equal(seal.type, 'auto');
      assert.deepEqual(seal.autoUnseal.shadow, shadow);
      assertKeyNowhereOnDisk(dir, devKey);

      const seen: unknown[] = [];
      const mk = await MasterKey.open(dir, { allowDev: false }, { keystoreFor: (s) => { seen.push(s); return Promise.resolve(plugin); } });
      assert.deepEqual(seen, [shadow]);
      assert.deepEqual(mk.status(), { initialized: true, sealed: false, type: 'auto' });
      assert.equal((await mk.secrets.get('cloud-credential')).toString(), 's3cr3t');
      await rejectsCode(mk.submitShare(encodeShare(new Uint8Array(33).fill(1))), 'NOT_SHAMIR');
      await rejectsCode(MasterKey.initAuto(dir, shadow, plugin), 'ALREADY_INITIALIZED');
      mk.seal();

      await rejectsCode(MasterKey.open(dir, {}), 'AUTO_UNSEAL_FAILED', /keystoreFor/);
      setL1KeyEnabled(hsm, TOKEN, 'mk-wrap', false);
      await rejectsCode(MasterKey.open(dir, {}, { keystoreFor: () => Promise.resolve(plugin) }), 'AUTO_UNSEAL_FAILED', /KEY_REVOKED_OR_DISABLED/);
      setL1KeyEnabled(hsm, TOKEN, 'mk-wrap', true);
      const back = await MasterKey.open(dir, {}, { keystoreFor: () => Promise.resolve(plugin) });
      assert.equal(back.sealed, false);
      back.seal();
    } finally {
      await plugin.close();
    }
  });
});

// ---- operator socket and CLI ------------------------------------------------------------------------------------

/** Spawns the real CLI asynchronously (the operator API runs in THIS process's event loop). */
function cli(args: readonly string[], stdin?: string): Promise<CliResult> {
  return runCli(['operator', ...args], stdin === undefined ? {} : { stdin });
}

function raw(socketPath: string, method: string, route: string, body?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path: route, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => { text += s; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('operator API and `openkcm operator` CLI', () => {
  let dir: string;
  let shares: string[];
  let mk: MasterKey;
  let api: { close(): Promise<void>; socketPath: string };
  let socketPath: string;
  const logged: string[] = [];

  before(async () => {
    dir = tempDir();
    // Init through the CLI on a dev node: the printed shares are the ones that unseal.
    (await MasterKey.open(dir, {})).seal();
    const init = await cli(['init', '--shares', '5', '--threshold', '3', '--data-dir', dir]);
    assert.equal(init.code, 0, init.stderr);
    shares = [...init.stdout.matchAll(/Unseal share \d+: (okcm1-\S+)/g)].map((m) => m[1] ?? '');
    assert.equal(shares.length, 5);
    assert.match(init.stdout, /shown ONCE/);
    const logger = { debug: () => undefined, info: (m: string, f?: object) => { logged.push(m + JSON.stringify(f)); }, warn: (m: string, f?: object) => { logged.push(m + JSON.stringify(f)); }, error: () => undefined };
    mk = await MasterKey.open(dir, {}, { logger });
    socketPath = path.join(dir, OPERATOR_SOCKET_FILE);
    api = await startOperatorApi(mk, socketPath);
  });
  after(async () => {
    await api.close();
    mk.seal();
  });

  test('the socket is 0600; health is 503 sealed', async () => {
    assert.equal(statSync(socketPath).mode & 0o777, 0o600);
    const h = await raw(socketPath, 'GET', '/v1/sys/health');
    assert.equal(h.status, 503);
    assert.equal(h.json['status'], 'sealed');
  });

  test('status exit codes, one share per invocation, stdin, seal', async () => {
    let r = await cli(['status', '--data-dir', dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stdout, /sealed, progress 0\/3/);
    r = await cli(['unseal', '--data-dir', dir, shares[0] ?? '']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '1/3');
    r = await cli(['unseal', '--data-dir', dir, 'okcm1-garbled']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /malformed share/);
    r = await cli(['unseal', '--data-dir', dir, shares[1] ?? '']);
    assert.equal(r.stdout.trim(), '2/3');
    r = await cli(['unseal', '--data-dir', dir, '-'], `${shares[2] ?? ''}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'unsealed');
    assert.equal(mk.sealed, false);
    r = await cli(['status', '--data-dir', dir]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /unsealed \(shamir\)/);
    assert.equal((await raw(socketPath, 'GET', '/v1/sys/health')).status, 200);

    r = await cli(['seal', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mk.sealed, true);

    // stdin: reads until unsealed (the 5th line is never sent).
    r = await cli(['unseal', '--data-dir', dir], shares.join('\n') + '\n');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['1/3', '2/3', 'unsealed']);
    assert.equal((await raw(socketPath, 'POST', '/v1/sys/seal')).status, 200);
    // stdin: EOF while still sealed → exit 2.
    r = await cli(['unseal', '--data-dir', dir], `${shares[4] ?? ''}\n`);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /still sealed/);
    mk.seal();
    for (const line of logged) for (const s of shares) assert.ok(!line.includes(s.slice(15)), 'a share was logged');
  });

  test('no server → status exit 1; usage errors exit 2', async () => {
    const other = tempDir();
    let r = await cli(['status', '--data-dir', other]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no server is running/);
    // Usage errors stop before any I/O, so they run in-process (spawning each would only cost time).
    for (const args of [['init', '--shares', '3', '--threshold', '1'], ['init', '--shares', '2', '--threshold', '3'], ['init', '--shares', '256', '--threshold', '2'], ['init'], ['bogus'], [], ['status', '--shares', '2']]) {
      const write = process.stderr.write.bind(process.stderr);
      let err = '';
      process.stderr.write = ((chunk: string | Uint8Array): boolean => { err += String(chunk); return true; });
      let code: number;
      try {
        code = await runOperator([...args, '--data-dir', other]);
      } finally {
        process.stderr.write = write;
      }
      assert.equal(code, 2, args.join(' '));
      assert.match(err, /usage: openkcm operator/);
    }
    r = await cli(['init', '--shares', '2', '--data-dir', other]);
    assert.equal(r.code, 2, 'usage errors exit 2 from the real binary too');
    r = await cli(['init', '--shares', '2', '--threshold', '2', '--data-dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already initialised/);
  });

  test('body limit at the limit and one past; schema rejects non-string shares', async () => {
    const at = JSON.stringify({ share: 'x'.repeat(OPERATOR_BODY_LIMIT_BYTES - 12) });
    assert.equal(Buffer.byteLength(at), OPERATOR_BODY_LIMIT_BYTES);
    const r1 = await raw(socketPath, 'POST', '/v1/sys/unseal', at);
    assert.equal(r1.status, 400); // inside the body limit; refused by the share length schema
    const past = JSON.stringify({ share: 'x'.repeat(OPERATOR_BODY_LIMIT_BYTES - 11) });
    assert.equal((await raw(socketPath, 'POST', '/v1/sys/unseal', past)).status, 413);
    const num = await raw(socketPath, 'POST', '/v1/sys/unseal', '{"share":12}');
    assert.equal(num.status, 400);
    const extra = await raw(socketPath, 'POST', '/v1/sys/unseal', JSON.stringify({ share: shares[0], x: 1 }));
    assert.equal(extra.status, 400);
    assert.equal(mk.status().progress, 0);
    const ok = await raw(socketPath, 'POST', '/v1/sys/unseal', JSON.stringify({ share: shares[0] }));
    assert.equal(ok.status, 200);
    assert.equal(ok.json['progress'], 1);
    mk.seal();
  });

  test('a live socket is refused, a stale one replaced, a non-socket file refused; close removes it', async () => {
    await assert.rejects(startOperatorApi(mk, socketPath), /in use/);
    const d = tempDir();
    const stale = path.join(d, OPERATOR_SOCKET_FILE);
    // A stale socket: bound by a process that died without cleaning up.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => { resolve(); }));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    assert.ok(statSync(stale).isSocket());
    const mk2 = await MasterKey.open(d, {});
    const api2 = await startOperatorApi(mk2, stale);
    assert.equal((await raw(stale, 'GET', '/v1/sys/health')).status, 200);
    await api2.close();
    assert.equal(existsSync(stale), false);
    writeFileSync(stale, 'not a socket');
    await assert.rejects(startOperatorApi(mk2, stale), /not a socket/);
    mk2.seal();
  });
});
