/**
 * Issue 15 Deliver 6 (src/appliance/data-dir.ts): a group- or world-writable data directory is refused with a message
 * saying how to fix it; otherwise the directory becomes 0700, everything under it owner-only, and the umask 077.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DATA_DIR_UMASK, DataDirPermissionError, secureDataDir } from '../../src/appliance/data-dir.js';

let root: string;
let umaskBefore: number;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'openkcm-datadir-'));
  // process.umask() without an argument is deprecated (it writes the mask twice): set one, keep the old.
  umaskBefore = process.umask(0o022);
});

afterEach(() => {
  process.umask(umaskBefore);
  rmSync(root, { recursive: true, force: true });
});

const mode = (p: string): number => statSync(p).mode & 0o777;

describe('secureDataDir', () => {
  for (const [m, who] of [[0o777, 'group- and world'], [0o775, 'group'], [0o770, 'group'], [0o702, 'world'], [0o1777, 'group- and world']] as const) {
    test(`refuses a data directory of mode ${m.toString(8)} (${who}-writable) and says to chmod 700 it`, () => {
      const dir = path.join(root, 'data');
      mkdirSync(dir);
      chmodSync(dir, m);
      const file = path.join(dir, 'openkcm.conf');
      writeFileSync(file, '{}', { mode: 0o644 });
      chmodSync(file, 0o644);
      assert.throws(() => secureDataDir(dir), (e: unknown) => {
        assert.ok(e instanceof DataDirPermissionError);
        assert.match(e.message, new RegExp(`${who}-writable`));
        assert.ok(e.message.includes(`chmod 700 ${dir}`), e.message);
        return true;
      });
      assert.equal(mode(dir), m & 0o777, 'a refused directory is left as it was, for the operator to inspect');
      assert.equal(mode(file), 0o644);
    });
  }

  test('makes the directory 0700 and every file and directory under it owner-only; symbolic links are not followed', () => {
    const dir = path.join(root, 'data');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const db = path.join(dir, 'governance-db', 'base', '1');
    mkdirSync(db, { recursive: true });
    for (const d of [path.join(dir, 'governance-db'), path.join(dir, 'governance-db', 'base'), db]) chmodSync(d, 0o755);
    const files = [path.join(dir, 'openkcm.conf'), path.join(dir, 'governance-db', 'postgresql.auto.conf'), path.join(db, '1259'), path.join(db, 'PG_VERSION')];
    for (const f of files) {
      writeFileSync(f, 'x');
      chmodSync(f, 0o666);
    }
    const outside = path.join(root, 'outside.txt');
    writeFileSync(outside, 'not ours');
    chmodSync(outside, 0o644);
    symlinkSync(outside, path.join(dir, 'link'));
    const report = secureDataDir(dir);
    assert.equal(report?.modeBefore, '0755');
    assert.equal(report.tightened, 1 + 3 + files.length);
    assert.equal(mode(dir), 0o700);
    for (const d of [path.join(dir, 'governance-db'), path.join(dir, 'governance-db', 'base'), db]) assert.equal(mode(d), 0o700, d);
    for (const f of files) assert.equal(mode(f), 0o600, f);
    assert.equal(mode(outside), 0o644, 'the target of a symbolic link is not the data directory\'s');
    const now = process.umask(DATA_DIR_UMASK);
    assert.equal(now, DATA_DIR_UMASK);
    // A private directory is accepted as it is, and nothing is changed twice.
    assert.equal(secureDataDir(dir)?.tightened, 0);
  });

  test('after it, files the process creates (PGlite creates them 0666) are owner-only', () => {
    const dir = path.join(root, 'data');
    mkdirSync(dir, { mode: 0o700 });
    secureDataDir(dir);
    const f = path.join(dir, 'new-file');
    writeFileSync(f, 'x', { mode: 0o666 });
    mkdirSync(path.join(dir, 'new-dir'), { mode: 0o777 });
    assert.equal(mode(f), 0o600);
    assert.equal(mode(path.join(dir, 'new-dir')), 0o700);
  });

  test('a data directory that does not exist is left to serve\'s "run openkcm init"; a file is refused', () => {
    assert.equal(secureDataDir(path.join(root, 'absent')), undefined);
    const file = path.join(root, 'file');
    writeFileSync(file, '');
    assert.throws(() => secureDataDir(file), DataDirPermissionError);
  });
});
