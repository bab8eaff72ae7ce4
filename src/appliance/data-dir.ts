/**
 * The data directory's permissions (issue 15 Deliver 6). The directory holds the vault, the node's sealed secrets,
 * the PKI and the embedded governance database; a local user who can write into it can change tenant state,
 * policies and approvals (append to governance-db/postgresql.auto.conf, replace a certificate), and one who can read
 * it learns what it holds. Before this module PGlite created its files 0666 and directories 0755 (less the umask),
 * and only the vault, krypton and pki folders were tightened.
 *
 * What `serve` does before it opens anything:
 * 1. refuses a data directory that is group- or world-writable, saying how to fix it: by then another user may
 *    already have changed it, so tightening it silently would hide that (the operator must look, then chmod);
 * 2. sets the process umask to 077, so every file and directory the server, its worker threads (PGlite) and its
 *    worker processes (inherited) create from then on is owner-only;
 * 3. makes the directory 0700 and every file and directory under it owner-only (symbolic links are not followed:
 *    what they point to is not the data directory's to change).
 */
import { chmodSync, lstatSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../common/config-error.js';
import { modeString } from '../common/secure-fs.js';

/** The umask `serve` runs under: group and others get no bits on anything the server creates. */
export const DATA_DIR_UMASK = 0o077;

/** Mode of the data directory and every directory under it. */
export const DATA_DIR_MODE = 0o700;

/** Most entries tightened under the data directory; a tree past it is not a data directory `init` made (loops, mounts). */
export const MAX_DATA_DIR_ENTRIES = 1_000_000;

/** A data directory `serve` will not use. */
export class DataDirPermissionError extends ConfigError {}


function writableBy(mode: number): string {
  const group = (mode & 0o020) !== 0;
  const world = (mode & 0o002) !== 0;
  return group && world ? 'group- and world' : group ? 'group' : 'world';
}

/** What {@link secureDataDir} changed, for the start-up log. */
export interface DataDirReport {
  /** Files and directories whose mode was narrowed to owner-only. */
  readonly tightened: number;
  /** The data directory's mode before (octal text). */
  readonly modeBefore: string;
}

/**
 * Refuses a group- or world-writable data directory ({@link DataDirPermissionError}, whose message says how to fix
 * it); otherwise makes it and everything under it owner-only and sets the process umask to {@link DATA_DIR_UMASK}.
 * A directory that does not exist is left to the caller (serve says to run init). Synchronous: it runs once, at
 * start-up, before anything else opens the directory.
 */
export function secureDataDir(dataDir: string): DataDirReport | undefined {
  const dir = path.resolve(dataDir);
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') {
      process.umask(DATA_DIR_UMASK);
      return undefined;
    }
    throw e;
  }
  if (!st.isDirectory()) throw new DataDirPermissionError(`the data directory ${dir} is not a directory`);
  if ((st.mode & 0o022) !== 0) {
    throw new DataDirPermissionError(
      `the data directory ${dir} is ${writableBy(st.mode)}-writable (mode ${modeString(st.mode)}): another local user could `
      + `have changed its keys, policies or audit trail. Check its contents, then make it private to the service user: chmod 700 ${dir}`
      + ' (serve then makes every file under it owner-only).',
    );
  }
  // From here on nothing the server creates is readable by group or others.
  process.umask(DATA_DIR_UMASK);
  return { tightened: tightenDataDir(dir), modeBefore: modeString(st.mode) };
}

/**
 * Makes `dataDir` 0700 and every file and directory under it owner-only (symbolic links are not followed); returns
 * how many entries changed. `serve` runs it again once it is listening, because the umask does not reach every file:
 * PGlite lays out a new database's files 0666 whatever the umask (seen with PGlite 0.3 on a fresh governance-db),
 * and the directory being 0700 is then what keeps them from other users until this pass.
 */
export function tightenDataDir(dataDir: string): number {
  const dir = path.resolve(dataDir);
  let tightened = 0;
  let seen = 0;
  const tighten = (p: string, mode: number, want: number): void => {
    if ((mode & 0o777 & ~want) === 0) return;
    try {
      chmodSync(p, mode & want);
    } catch (e) {
      throw new DataDirPermissionError(`cannot make ${p} owner-only (mode ${modeString(mode)}): ${e instanceof Error ? e.message : String(e)}; fix it with chmod go-rwx ${p}`);
    }
    tightened++;
  };
  tighten(dir, statSync(dir).mode, DATA_DIR_MODE);
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      if (++seen > MAX_DATA_DIR_ENTRIES) throw new DataDirPermissionError(`the data directory ${dir} holds more than ${String(MAX_DATA_DIR_ENTRIES)} entries; is it the right directory?`);
      const p = path.join(d, name);
      let s;
      try {
        s = lstatSync(p);
      } catch (e) {
        if ((e as { code?: unknown }).code === 'ENOENT') continue; // removed meanwhile (a database's temporary file)
        throw e;
      }
      if (s.isSymbolicLink()) continue;
      if (s.isDirectory()) {
        tighten(p, s.mode, DATA_DIR_MODE);
        walk(p);
      } else {
        tighten(p, s.mode, 0o700);
      }
    }
  };
  walk(dir);
  return tightened;
}
