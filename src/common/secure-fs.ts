/**
 * Secure file IO, one definition each (issue 19 "leaves down"): owner-only writes, atomic and durable replacement,
 * zero-then-unlink removal, and the mode checks that refuse a secret file other users can read. The node's seal
 * file, its development key files, the local keystore's sealed L1 keys and the CLI's private keys all go through
 * here, so a fix to one (O_NOFOLLOW, the directory fsync) reaches all of them. A leaf: node:fs only.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants as fsConstants, fchmodSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';

/** True when `file` exists (access(2) succeeds); false on any error (absent, or a directory we cannot search). */
export async function pathExists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** Mode bits a secret file or directory must not have: any access by group or others. */
export const NOT_OWNER_ONLY = 0o077;

/** Mode of a file only its owner may read and write. */
export const OWNER_ONLY_FILE_MODE = 0o600;

/** Mode of a directory only its owner may enter. */
export const OWNER_ONLY_DIR_MODE = 0o700;

/** The permission bits of `mode` as four octal digits ("0600"), for messages. */
export function modeString(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/** True when group and others have no access bits in `mode`. */
export function isOwnerOnly(mode: number): boolean {
  return (mode & NOT_OWNER_ONLY) === 0;
}

/** Makes the new directory entry itself durable (POSIX: fsync of the file does not cover its name). */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, fsConstants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Atomic, durable write: temp file (O_EXCL, O_NOFOLLOW, `mode`, 0600 by default) → write → fsync → rename over
 * `file` → fsync the directory. A crash leaves either the old file or the new one, never a torn one; a reader never
 * sees half a file. The mode is set on the descriptor too, so the process umask cannot widen or narrow it.
 */
export function writeFileAtomic(file: string, data: Uint8Array, mode: number = OWNER_ONLY_FILE_MODE): void {
  const tmp = `${file}.tmp-${String(process.pid)}-${randomBytes(6).toString('hex')}`;
  const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, mode);
  try {
    fchmodSync(fd, mode);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** Overwrites a file's bytes with zeros, fsyncs, then unlinks it (best effort on journaling/flash media: docs). */
export function shredFile(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    const size = fstatSync(fd).size;
    const zeros = Buffer.alloc(Math.max(size, 1));
    writeSync(fd, zeros, 0, size, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  unlinkSync(file);
  fsyncDir(path.dirname(file));
}

/** Creates `dir` (and its parents) owner-only, and narrows an existing one that group or others can reach. */
export function ensureOwnerOnlyDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: OWNER_ONLY_DIR_MODE });
  if (!isOwnerOnly(statSync(dir).mode)) chmodSync(dir, OWNER_ONLY_DIR_MODE);
}

/** How {@link readFileNoFollow} hands a caller the file's failures, so each keeps its own error type and messages. */
export interface SmallFileChecks {
  /** open(2) failed (ELOOP for a symbolic link: O_NOFOLLOW); return to report "no such file" (undefined), or throw. */
  readonly openFailed: (e: NodeJS.ErrnoException) => void;
  /** Inspects the open file before a byte is read; throws to refuse it (type, size bound, mode, owner). */
  readonly inspect: (st: Stats) => void;
}

/**
 * Reads a small file through one descriptor, never following a symbolic link (O_NOFOLLOW): open → fstat →
 * `inspect` → read all of it. Checking the descriptor rather than the path leaves no window for a swap between the
 * check and the read. `inspect` must bound st.size: the whole file is read into one buffer. The seal file, the
 * development key, seal secrets and the local keystore's key files are read through here.
 */
export function readFileNoFollow(file: string, checks: SmallFileChecks): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (e) {
    checks.openFailed(e as NodeJS.ErrnoException);
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    checks.inspect(st);
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
