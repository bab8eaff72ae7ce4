/**
 * What only the LMDB vault (src/vault/vault.ts) must show, beyond the conformance suite:
 * plaintext never reaches the file, records and versions survive reopening, the on-disk format
 * is checked, and the integrity checker really detects broken index entries.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { open as openLmdb } from 'lmdb';
import { ObjectType, State, Tag } from '../../src/kmip/registry.generated.js';
import { enumeration, structure, text } from '@openkcm/ttlv';
import { VaultError } from '../../src/vault/errors.js';
import { DevKekProvider, NodeCryptoKekProvider } from '../../src/vault/kek.js';
import { enumIndexPrefix, objectKey } from '../../src/vault/keys.js';
import { Vault } from '../../src/vault/vault.js';

const nameAttr = (value: string) => ({
  name: 'Name',
  value: structure(Tag.Name, [text(Tag.NameValue, value), enumeration(Tag.NameType, 1)]),
});

/** Every byte of every file LMDB wrote in `dir`. */
function rawBytes(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).map((f) => readFileSync(path.join(dir, f))));
}

describe('Vault on LMDB', () => {
  let root: string;
  before(() => { root = mkdtempSync(path.join(tmpdir(), 'openkcm-vault-lmdb-')); });
  after(() => { rmSync(root, { recursive: true, force: true }); });

  test('a known key never appears in the raw LMDB file bytes; its metadata does', async () => {
    const dir = path.join(root, 'raw');
    const kek = DevKekProvider.open(path.join(root, 'raw.key'));
    const vault = await Vault.open({ path: dir, kek });
    // A recognisable 32-byte AES key, plus 16- and 8-byte windows of it to catch partial leaks.
    const key = Buffer.from('4b4e4f574e2d4145532d4b45592d2d2d4f50454e4b434d2d5641554c542d2121', 'hex');
    await vault.put({ tenant: 'acme', objectType: ObjectType.SymmetricKey, state: State.Active, attributes: [nameAttr('marker-name-7f3a')], material: key });
    for (let i = 0; i < 50; i++) {
      await vault.put({ tenant: 'acme', objectType: ObjectType.SymmetricKey, state: State.Active, attributes: [nameAttr(`filler-${i}`)], material: key });
    }
    await vault.update('acme', vault.findUids('acme', { name: 'marker-name-7f3a' })[0]!, () => ({ state: State.Deactivated }));
    await vault.close();
    const bytes = rawBytes(dir);
    assert.ok(bytes.includes(Buffer.from('marker-name-7f3a')), 'sanity: the test reads the file the vault wrote');
    assert.equal(bytes.indexOf(key), -1, 'full key in file');
    for (let off = 0; off + 8 <= key.length; off += 4) {
      assert.equal(bytes.indexOf(key.subarray(off, off + 8)), -1, `key bytes ${off}..${off + 8} in file`);
    }
  });

  test('records, versions, indexes and material survive close and reopen', async () => {
    const dir = path.join(root, 'reopen');
    const kek = DevKekProvider.open(path.join(root, 'reopen.key'));
    const material = Buffer.alloc(32, 0x5a);
    let v = await Vault.open({ path: dir, kek });
    const r = await v.put({ tenant: 't', objectType: ObjectType.SymmetricKey, state: State.PreActive, attributes: [nameAttr('persist')], material });
    await v.update('t', r.uid, () => ({ state: State.Active }));
    await v.close();
    v = await Vault.open({ path: dir, kek: DevKekProvider.open(path.join(root, 'reopen.key')) });
    const g = v.get('t', r.uid);
    assert.equal(g?.version, 2);
    assert.equal(g.state, State.Active);
    assert.deepEqual(v.findUids('t', { name: 'persist', state: State.Active }), [r.uid]);
    assert.deepEqual(await v.openMaterial(g), material);
    assert.deepEqual(v.checkIntegrity().problems, []);
    await v.close();
  });

  test('the data directory is private (0700), even if it existed with a looser mode', async () => {
    const dir = path.join(root, 'mode');
    const v = await Vault.open({ path: dir, kek: NodeCryptoKekProvider.random('k') });
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    await v.close();
  });

  test('a directory holding another vault format is refused', async () => {
    const dir = path.join(root, 'format');
    const v = await Vault.open({ path: dir, kek: NodeCryptoKekProvider.random('k') });
    await v.close();
    const env = openLmdb({ path: dir, maxDbs: 8 });
    const meta = env.openDB('meta', { keyEncoding: 'binary', encoding: 'binary' });
    await meta.put(Buffer.from('format'), Buffer.from([0, 0, 0, 2]));
    await env.close();
    await assert.rejects(Vault.open({ path: dir, kek: NodeCryptoKekProvider.random('k') }), (e: unknown) => e instanceof VaultError && e.code === 'UNSUPPORTED_FORMAT');
  });

  test('a record rewritten behind the vault at the same version reads as rewritten (the decoded-record cache compares bytes)', async () => {
    const dir = path.join(root, 'behind');
    const v = await Vault.open({ path: dir, kek: NodeCryptoKekProvider.random('k') });
    try {
      await v.put({ tenant: 't', uid: 'a', objectType: 2, state: 1, attributes: [nameAttr('first')] });
      await v.put({ tenant: 't', uid: 'c', objectType: 2, state: 1, attributes: [nameAttr('second')] });
      assert.deepEqual(v.get('t', 'a')?.attributes, [nameAttr('first')]); // decoded and cached
      // Another writer (another process, or a tool) puts c's value under a's key, keeping version 1.
      const env = openLmdb({ path: dir, maxDbs: 8 });
      const objects = env.openDB('objects', { keyEncoding: 'binary', encoding: 'binary', useVersions: true });
      const cValue = objects.getBinary(objectKey('t', 'c'));
      assert.ok(cValue !== undefined);
      await objects.put(objectKey('t', 'a'), Buffer.from(cValue), 1);
      await env.close();
      await new Promise((r) => setTimeout(r, 50)); // lmdb-js renews its read transaction on a later tick
      const g = v.get('t', 'a');
      assert.equal(g?.version, 1);
      assert.deepEqual(g.attributes, [nameAttr('second')]);
    } finally {
      await v.close();
    }
  });

  test('checkIntegrity detects a missing index entry, an orphan entry and a corrupt record', async () => {
    const dir = path.join(root, 'integrity');
    let v = await Vault.open({ path: dir, kek: NodeCryptoKekProvider.random('k') });
    const a = await v.put({ tenant: 't', objectType: 2, state: 1, attributes: [nameAttr('a')] });
    await v.put({ tenant: 't', uid: 'b', objectType: 2, state: 1, attributes: [] });
    assert.deepEqual(v.checkIntegrity().problems, []);
    await v.close();
    // Break it behind the vault's back, the way a non-atomic writer would.
    const env = openLmdb({ path: dir, maxDbs: 8 });
    const byState = env.openDB('idx-state', { keyEncoding: 'binary', encoding: 'binary' });
    const objects = env.openDB('objects', { keyEncoding: 'binary', encoding: 'binary', useVersions: true });
    await byState.remove(Buffer.concat([enumIndexPrefix('t', 1), Buffer.from(a.uid)]));
    await byState.put(Buffer.concat([enumIndexPrefix('t', 9), Buffer.from('ghost')]), Buffer.alloc(0));
    await objects.put(objectKey('t', 'b'), Buffer.from([1, 2, 3]), 1);
    await env.close();
    v = await Vault.open({ path: dir, kek: NodeCryptoKekProvider.random('k') });
    const report = v.checkIntegrity();
    // 3 injected faults; b's two index entries also count as orphans, since b no longer decodes.
    assert.equal(report.problems.length, 5, report.problems.join('\n'));
    assert.ok(report.problems.some((p) => p.includes(`t/${a.uid}: missing byState`)));
    assert.ok(report.problems.some((p) => p.includes('byState entry') && p.includes('no matching record')));
    assert.ok(report.problems.some((p) => p.includes('t/b:') && p.includes('does not decode')));
    assert.throws(() => v.get('t', 'b'), (e: unknown) => e instanceof VaultError && e.code === 'CORRUPT');
    await v.close();
  });
});
