/**
 * DevKekProvider (src/vault/kek.ts): the development key file — created atomically with mode
 * 0600, refused when its mode, type, owner or size is wrong.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { open, seal } from '../../src/vault/envelope.js';
import { KekError } from '../../src/vault/errors.js';
import { DevKekProvider, NodeCryptoKekProvider } from '../../src/vault/kek.js';
import { kekProviderConformance } from '../conformance-suites/kek-provider.js';

function isKekError(code: string, message?: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof KekError, `expected KekError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  };
}

describe('DevKekProvider', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(tmpdir(), 'openkcm-kek-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('creates a 32-byte key file with mode 0600 and no temp file left behind', () => {
    const file = path.join(dir, 'create.key');
    const kek = DevKekProvider.open(file);
    const st = statSync(file);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.size, 32);
    assert.match(kek.id, /^dev-[0-9a-f]{16}$/);
    assert.equal(kek.currentVersion, 1);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('create.key')), ['create.key']);
  });

  test('reopening loads the same key: envelopes sealed before open after', async () => {
    const file = path.join(dir, 'reopen.key');
    const a = DevKekProvider.open(file);
    const aad = { tenant: 't', uid: 'u', version: 1 };
    const env = await seal(a, Buffer.from('secret'), aad);
    const b = DevKekProvider.open(file);
    assert.equal(b.id, a.id);
    assert.deepEqual(await open(b, env, aad), Buffer.from('secret'));
  });

  test('processes creating the key file at the same moment all end up with one key (O_EXCL + link publish)', async () => {
    const file = path.join(dir, 'race.key');
    const kekModule = new URL('../../src/vault/kek.js', import.meta.url).href;
    const script = `import { DevKekProvider } from ${JSON.stringify(kekModule)}; process.stdout.write(DevKekProvider.open(${JSON.stringify(file)}).id);`;
    const ids = await Promise.all(Array.from({ length: 4 }, () => new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout) => {
        if (err === null) resolve(stdout);
        else reject(new Error(err.message));
      });
    })));
    assert.equal(new Set(ids).size, 1, ids.join(' '));
    assert.equal(DevKekProvider.open(file).id, ids[0]);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('race.key')), ['race.key']);
  });

  test('opening an existing key file never overwrites it', () => {
    const file = path.join(dir, 'keep.key');
    writeFileSync(file, Buffer.alloc(32, 9), { mode: 0o600 });
    DevKekProvider.open(file);
    assert.deepEqual(readFileSync(file), Buffer.alloc(32, 9));
  });

  test('refuses a key file readable by group or others, naming the fix', () => {
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o606]) {
      const file = path.join(dir, `loose-${mode.toString(8)}.key`);
      writeFileSync(file, Buffer.alloc(32, 1), { mode: 0o600 });
      chmodSync(file, mode);
      assert.throws(() => DevKekProvider.open(file), isKekError('INSECURE_KEY_FILE', new RegExp(`mode 0${mode.toString(8)}.*0600.*chmod 600`)));
    }
  });

  test('accepts 0400 (stricter than 0600)', () => {
    const file = path.join(dir, 'readonly.key');
    writeFileSync(file, Buffer.alloc(32, 2), { mode: 0o600 });
    chmodSync(file, 0o400);
    assert.ok(DevKekProvider.open(file).id.startsWith('dev-'));
  });

  test('refuses a file of the wrong size, a directory and a symlink', () => {
    const short = path.join(dir, 'short.key');
    writeFileSync(short, Buffer.alloc(31), { mode: 0o600 });
    assert.throws(() => DevKekProvider.open(short), isKekError('INVALID_KEY_FILE', /31 bytes/));
    const long = path.join(dir, 'long.key');
    writeFileSync(long, Buffer.alloc(33), { mode: 0o600 });
    assert.throws(() => DevKekProvider.open(long), isKekError('INVALID_KEY_FILE'));
    assert.throws(() => DevKekProvider.open(dir), isKekError('INVALID_KEY_FILE', /not a regular file/));
    const target = path.join(dir, 'target.key');
    writeFileSync(target, Buffer.alloc(32), { mode: 0o600 });
    const link = path.join(dir, 'link.key');
    symlinkSync(target, link);
    assert.throws(() => DevKekProvider.open(link), isKekError('INSECURE_KEY_FILE', /symbolic link/));
  });

  test('different key files give different ids', () => {
    assert.notEqual(DevKekProvider.open(path.join(dir, 'one.key')).id, DevKekProvider.open(path.join(dir, 'two.key')).id);
  });
});

kekProviderConformance('NodeCryptoKekProvider', { make: () => ({ kek: NodeCryptoKekProvider.random('node-crypto-conformance') }) });

kekProviderConformance('DevKekProvider', {
  make: () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-kek-conformance-'));
    return { kek: DevKekProvider.open(path.join(dir, 'kek.key')), dispose: () => { rmSync(dir, { recursive: true, force: true }); } };
  },
});
