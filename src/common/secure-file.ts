/**
 * Secure file IO shared by the layers that keep secrets on disk (the MasterKey's seal files and node secrets, the
 * local keystore's key files): atomic durable writes, shredding, directory fsync, private directories.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Makes a new directory entry durable (POSIX: fsync of a file does not cover its name). */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, fsConstants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Atomic, durable write: temp file (O_EXCL, 0600) → write → fsync → rename over `file` → fsync the directory.
 * A crash leaves either the old file or the new one, never a torn one.
 */
export function writeFileAtomic(file: string, data: Uint8Array): void {
  const tmp = `${file}.tmp-${String(process.pid)}-${randomBytes(6).toString('hex')}`;
  const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  try {
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

/** Creates `dir` (and parents) with mode 0700 when absent. */
export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}
