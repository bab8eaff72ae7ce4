/**
 * The seal configuration of a data directory (HashiCorp Vault's `core/seal-config` habit: kept APART from sealed
 * data): `<dataDir>/seal.json` says how to unseal (type, N, K, the auto-unseal shadow reference and wrapped key), a
 * check value, and the MasterKey's seal count — never anything that rebuilds the key on its own. The development
 * key file `<dataDir>/master.key` lives here too.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import type { ShadowReference } from '../keystore/types.js';
import { SecureKey } from '../native/index.js';
import { writeFileAtomic } from '../common/secure-fs.js';
import { isRecord } from '../common/guards.js';
import { MasterKeyError } from './errors.js';
import { MASTER_KEY_BYTES, shamirParamsProblem } from './shamir.js';

export const SEAL_FILE = 'seal.json';
export const DEV_KEY_FILE = 'master.key';
export const SEAL_FILE_VERSION = 1;
/**
 * Largest seal.json we read. It holds a few hundred bytes; the cap stops a replaced (or /dev/zero-linked) file
 * from making start-up read unbounded data.
 */
const MAX_SEAL_FILE_BYTES = 16 * 1024;
const FORBIDDEN_FILE_MODE = 0o077;

export type SealType = 'shamir' | 'auto' | 'dev';

export interface SealFile {
  version: number;
  type: SealType;
  createdAt: string;
  /** base64 envelope of CHECK_PLAINTEXT under the MasterKey. */
  checkValue: string;
  shares?: number;
  threshold?: number;
  autoUnseal?: { shadow: ShadowReference; wrappedKey: string };
  /**
   * AES-GCM seals done under the MasterKey so far (src/vault/seal-counter.ts, NIST SP 800-38D §8.3), written before
   * each seal proceeds. Absent in a file written before the counter existed: read as 0 (the few seals made before
   * — one per node secret or local key written — are not known).
   */
  seals?: number;
}

export function parseSealFile(text: string, file: string): SealFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new MasterKeyError('CORRUPT', `${file} is not valid JSON`, { cause });
  }
  const bad = (why: string): MasterKeyError => new MasterKeyError('CORRUPT', `${file}: ${why}`);
  if (!isRecord(raw)) throw bad('not an object');
  if (raw['version'] !== SEAL_FILE_VERSION) throw bad(`unsupported version ${JSON.stringify(raw['version'])}`);
  const type = raw['type'];
  if (type !== 'shamir' && type !== 'auto' && type !== 'dev') throw bad(`unknown type ${JSON.stringify(type)}`);
  const checkValue = raw['checkValue'];
  if (typeof checkValue !== 'string' || checkValue.length === 0) throw bad('checkValue missing');
  const createdAt = typeof raw['createdAt'] === 'string' ? raw['createdAt'] : '';
  const out: SealFile = { version: SEAL_FILE_VERSION, type, createdAt, checkValue };
  const seals = raw['seals'];
  if (seals !== undefined) {
    if (typeof seals !== 'number' || !Number.isSafeInteger(seals) || seals < 0) throw bad('seals must be a non-negative integer');
    out.seals = seals;
  }
  if (type === 'shamir') {
    const n = raw['shares'];
    const k = raw['threshold'];
    if (typeof n !== 'number' || typeof k !== 'number') throw bad('shares/threshold missing');
    const why = shamirParamsProblem(n, k);
    if (why !== undefined) throw bad(why);
    out.shares = n;
    out.threshold = k;
  }
  if (type === 'auto') {
    const a = raw['autoUnseal'];
    if (!isRecord(a) || !isRecord(a['shadow']) || typeof a['wrappedKey'] !== 'string') throw bad('autoUnseal {shadow, wrappedKey} missing');
    const s = a['shadow'];
    if (typeof s['plugin'] !== 'string' || typeof s['keyRef'] !== 'string' || typeof s['keyVersion'] !== 'string') throw bad('autoUnseal.shadow is malformed');
    out.autoUnseal = { shadow: { plugin: s['plugin'], keyRef: s['keyRef'], keyVersion: s['keyVersion'] }, wrappedKey: a['wrappedKey'] };
  }
  return out;
}

/** Reads a small regular file without following symlinks; undefined when absent. */
export function readSmallFile(file: string, max: number, requirePrivate: boolean): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new MasterKeyError('CORRUPT', `${file} is a symbolic link; refusing to follow it`, { cause: e });
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new MasterKeyError('CORRUPT', `${file} is not a regular file`);
    if (st.size > max) throw new MasterKeyError('CORRUPT', `${file} is ${String(st.size)} bytes; at most ${String(max)} expected`);
    if (requirePrivate && (st.mode & FORBIDDEN_FILE_MODE) !== 0) {
      throw new MasterKeyError('CORRUPT', `${file} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; it must be 0600 (run: chmod 600 ${file})`);
    }
    const out = Buffer.alloc(st.size);
    let off = 0;
    while (off < out.length) {
      const n = readSync(fd, out, off, out.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === out.length ? out : out.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

export function readSealFile(dataDir: string): SealFile | undefined {
  const file = path.join(dataDir, SEAL_FILE);
  const bytes = readSmallFile(file, MAX_SEAL_FILE_BYTES, false);
  return bytes === undefined ? undefined : parseSealFile(bytes.toString('utf8'), file);
}

export function writeSealFile(dataDir: string, seal: SealFile): void {
  writeFileAtomic(path.join(dataDir, SEAL_FILE), Buffer.from(JSON.stringify(seal, null, 2) + '\n', 'utf8'));
}

export function readDevKey(dataDir: string): SecureKey | undefined {
  const file = path.join(dataDir, DEV_KEY_FILE);
  const bytes = readSmallFile(file, MASTER_KEY_BYTES, true);
  if (bytes === undefined) return undefined;
  if (bytes.length !== MASTER_KEY_BYTES) {
    bytes.fill(0);
    throw new MasterKeyError('CORRUPT', `${file} is ${String(bytes.length)} bytes; expected exactly ${String(MASTER_KEY_BYTES)}`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined) {
    // Owned by someone else: a planted key file would make us seal secrets under an attacker's key.
    const fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      if (fstatSync(fd).uid !== uid) {
        bytes.fill(0);
        throw new MasterKeyError('CORRUPT', `${file} is not owned by this user (uid ${String(uid)})`);
      }
    } finally {
      closeSync(fd);
    }
  }
  return SecureKey.import(bytes); // wipes `bytes`
}

export function writeDevKey(dataDir: string, key: SecureKey): void {
  const bytes = key.export();
  try {
    writeFileAtomic(path.join(dataDir, DEV_KEY_FILE), bytes);
  } finally {
    bytes.fill(0);
  }
}

export function readSealFileLenient(dir: string, force: boolean): SealFile | undefined {
  try {
    return readSealFile(dir);
  } catch (e) {
    if (force && e instanceof MasterKeyError) return undefined;
    throw e;
  }
}
