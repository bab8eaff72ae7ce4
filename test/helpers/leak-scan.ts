// Where a secret of the node (a PIN, a cloud credential, a client's key material) must never be found: the data
// directory, the server's logs and the governance database. Issue 16 item 8: "the secret values never appear".
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every regular file under `dir` (the operator socket and symlinks are skipped, not followed). */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

/** The places to search, named: the logs, each file of the data directory, and `database` (pg_dump --data-only). */
export function persistedPlaces(logs: string, dataDir: string, databaseUrl: string): { places: [string, Buffer][]; dump: Buffer } {
  const places: [string, Buffer][] = [['logs', Buffer.from(logs, 'utf8')]];
  for (const f of filesUnder(dataDir)) if (statSync(f).size < 256 * 1024 * 1024) places.push([f, readFileSync(f)]);
  const dump = execFileSync('pg_dump', ['--data-only', databaseUrl], { maxBuffer: 256 * 1024 * 1024 });
  places.push(['database', dump]);
  return { places, dump };
}

/** Asserts that no needle occurs in any place, naming the first one found and where. */
export function assertFoundNowhere(places: readonly (readonly [string, Buffer])[], needles: readonly (readonly [string, Buffer])[]): void {
  for (const [where, hay] of places) {
    for (const [what, needle] of needles) assert.equal(hay.indexOf(needle), -1, `${what} found in ${where}`);
  }
}
