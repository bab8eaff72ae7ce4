/**
 * Who holds the embedded governance database (PGlite in `<dataDir>/governance-db`) open (issue 16 item 5: "it reads a
 * stale embedded database while the node runs, with no warning").
 *
 * PGlite writes a `postmaster.pid` into its directory, but with a fixed fake pid (-42): it cannot tell a live holder
 * from a crash leftover. So the governance plane writes `<dataDir>/governance-db.pid` with its own pid while it holds
 * the database, and removes it on close. A reader (the `openkcm audit` command) checks that the pid is alive: a live
 * holder means the on-disk files are the running node's and may be mid-write, so the reader goes through the node
 * (its operator socket) or refuses; a dead pid is a crash leftover and is ignored.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const EMBEDDED_DB_PID_FILE = 'governance-db.pid';

/** Marks the embedded database of `dataDir` as held by this process; returns the release function. */
export function holdEmbeddedDb(dataDir: string): () => void {
  const file = path.join(dataDir, EMBEDDED_DB_PID_FILE);
  writeFileSync(file, `${String(process.pid)}\n`, { mode: 0o600 });
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // Already gone: nothing to release.
    }
  };
}

/** The pid of the live process holding the embedded database of `dataDir`, or undefined (none, or a dead one). */
export function embeddedDbHolder(dataDir: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(dataDir, EMBEDDED_DB_PID_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    // EPERM: the process exists but belongs to another user (the service account): it is alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
