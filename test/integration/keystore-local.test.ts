// The `local` keystore plugin (issue 4 deliverable 6): L1 keys sealed under the node's MasterKey in
// <dataDir>/local-l1, run through the one keystore conformance suite, plus its own revoke/seal semantics.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initNative } from '../../src/native/index.js';
import { MasterKey } from '../../src/krypton/master-key.js';
import { createLocalKey, createLocalKeystoreFactory, deleteLocalKey, LOCAL_L1_DIR, setLocalKeyDisabled } from '../../src/keystore/local.js';
import { KeystoreError, type KeystoreErrorCode } from '../../src/keystore/types.js';
import { runKeystoreConformance } from '../unit/keystore-conformance.js';

initNative({ allowUnlocked: true });

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'openkcm-local-l1-'));
  dirs.push(d);
  return d;
}

const main = { dir: '', mk: undefined as MasterKey | undefined };
const keys: MasterKey[] = [];
let counter = 0;

async function rejectsWith(p: Promise<unknown>, code: KeystoreErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KeystoreError, String(e));
    assert.equal(e.code, code, e.message);
    return true;
  });
}

async function mainKey(): Promise<MasterKey> {
  if (main.mk === undefined) {
    main.dir = tempDir();
    main.mk = await MasterKey.open(main.dir, {});
    keys.push(main.mk);
  }
  return main.mk;
}

runKeystoreConformance({
  name: 'local (MasterKey-sealed L1)',
  kind: 'local',
  async open() {
    const mk = await mainKey();
    counter += 1;
    const name = `l1-${String(counter)}`;
    const shadow = await createLocalKey(mk, main.dir, name);
    return {
      plugin: await createLocalKeystoreFactory(mk, main.dir)(shadow),
      secrets: [],
      revokeAtSource: () => {
        deleteLocalKey(main.dir, name);
        return Promise.resolve();
      },
    };
  },
  async openWithBadCredentials() {
    // A key file sealed by ANOTHER node's MasterKey, copied in: this node's key cannot open it.
    const mk = await mainKey();
    const otherDir = tempDir();
    const other = await MasterKey.open(otherDir, {});
    keys.push(other);
    await createLocalKey(other, otherDir, 'stolen');
    copyFileSync(path.join(otherDir, LOCAL_L1_DIR, 'stolen'), path.join(main.dir, LOCAL_L1_DIR, 'stolen'));
    return createLocalKeystoreFactory(mk, main.dir)({ plugin: 'local', keyRef: 'local:stolen', keyVersion: '' });
  },
  async openUnreachable() {
    // The node is sealed: the source exists but cannot be used.
    const dir = tempDir();
    const mk = await MasterKey.open(dir, {});
    const shadow = await createLocalKey(mk, dir, 'sealed');
    mk.seal();
    return createLocalKeystoreFactory(mk, dir)(shadow);
  },
  teardown() {
    for (const k of keys) k.seal();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    return Promise.resolve();
  },
});

describe('local keystore specifics', () => {
  const own: string[] = [];
  after(() => {
    for (const d of own) rmSync(d, { recursive: true, force: true });
  });

  test('disable / enable at the source; key file 0600 and not the key; rename detected; reseal → UNREACHABLE', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'openkcm-local-l1-'));
    own.push(dir);
    const mk = await MasterKey.open(dir, {});
    const shadow = await createLocalKey(mk, dir, 'tenant-a');
    assert.deepEqual(shadow, { plugin: 'local', keyRef: 'local:tenant-a', keyVersion: '' });
    await rejectsWith(createLocalKey(mk, dir, 'tenant-a'), 'INVALID_ARGUMENT');
    await rejectsWith(createLocalKey(mk, dir, '../evil'), 'INVALID_ARGUMENT');
    const file = path.join(dir, LOCAL_L1_DIR, 'tenant-a');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const factory = createLocalKeystoreFactory(mk, dir);
    await rejectsWith(factory({ plugin: 'pkcs11', keyRef: 'local:tenant-a', keyVersion: '' }), 'INVALID_ARGUMENT');
    await rejectsWith(factory({ plugin: 'local', keyRef: 'tenant-a', keyVersion: '' }), 'INVALID_ARGUMENT');
    const plugin = await factory(shadow);
    const ctx = { tenant: 'a', purpose: 'l2:v1' };
    const l2 = randomBytes(32);
    const wrapped = await plugin.wrap(l2, ctx);

    setLocalKeyDisabled(dir, 'tenant-a', true);
    await rejectsWith(plugin.unwrap(wrapped, ctx), 'KEY_REVOKED_OR_DISABLED');
    const h = await plugin.health();
    assert.equal(h.ok, false);
    setLocalKeyDisabled(dir, 'tenant-a', false);
    assert.deepEqual(Buffer.from(await plugin.unwrap(wrapped, ctx)), l2);

    // The key file, copied under another name, does not open (its AAD binds the name).
    copyFileSync(file, path.join(dir, LOCAL_L1_DIR, 'tenant-b'));
    const renamed = await factory({ plugin: 'local', keyRef: 'local:tenant-b', keyVersion: '' });
    await rejectsWith(renamed.wrap(l2, ctx), 'ACCESS_DENIED');

    mk.seal();
    await rejectsWith(plugin.unwrap(wrapped, ctx), 'UNREACHABLE');
    // After a restart (dev key file) the same L1 unwraps the same blob.
    const mk2 = await MasterKey.open(dir, {});
    const again = await createLocalKeystoreFactory(mk2, dir)(shadow);
    assert.deepEqual(Buffer.from(await again.unwrap(wrapped, ctx)), l2);
    deleteLocalKey(dir, 'tenant-a');
    await rejectsWith(again.unwrap(wrapped, ctx), 'KEY_REVOKED_OR_DISABLED');
    mk2.seal();
  });
});
