/**
 * Node secret changes made while no server runs (issue 16: `openkcm operator secret put|delete --data-dir` on a
 * stopped node) reach the global audit chain too. The offline CLI has no governance database to write to (the
 * embedded one belongs to the server), so it appends each change, names and sizes only, never values, to
 * `<dataDir>/secrets/<OFFLINE_SECRET_JOURNAL>`; the next `serve` appends the entries to the global chain (as
 * `node-secret.put|delete` by `offline-cli`, at the time the change was made) and only then removes the journal.
 *
 * The journal is owner-only like the secrets beside it. Whoever can write the data directory can also delete it,
 * just as they could replace the secret files themselves: it records honest offline work, it is not a tamper seal.
 * A line that does not parse is still recorded (as `node-secret.journal-unreadable`) rather than dropped silently.
 */
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { NodeSecretChange, NodeSecrets } from './master-key.js';

/** File name under `<dataDir>/secrets`; its `.` keeps it out of the node secret names (NODE_SECRET_NAME_PATTERN). */
export const OFFLINE_SECRET_JOURNAL = '.offline-changes.jsonl';
/** A journal past this is not read whole into memory (a runaway script); its first entries are replayed. */
export const MAX_SECRET_JOURNAL_BYTES = 1024 * 1024;

export interface JournalEntry extends NodeSecretChange {
  readonly at: Date;
}

/** Appends every change `secrets` reports to the journal (the offline CLI); returns the unsubscribe. */
export function journalOfflineChanges(secrets: NodeSecrets): () => void {
  return secrets.onChange((c) => {
    const line = JSON.stringify({ op: c.op, name: c.name, by: c.by, bytes: c.bytes, at: new Date().toISOString() });
    appendFileSync(path.join(secrets.dir, OFFLINE_SECRET_JOURNAL), `${line}\n`, { mode: 0o600 });
  });
}

function entryOf(line: string): JournalEntry | undefined {
  try {
    const v = JSON.parse(line) as Record<string, unknown>;
    const at = new Date(typeof v['at'] === 'string' ? v['at'] : '');
    if ((v['op'] !== 'put' && v['op'] !== 'delete') || typeof v['name'] !== 'string' || typeof v['by'] !== 'string'
      || typeof v['bytes'] !== 'number' || Number.isNaN(at.getTime())) return undefined;
    return { op: v['op'], name: v['name'].slice(0, 128), by: v['by'].slice(0, 64), bytes: v['bytes'], at };
  } catch {
    return undefined;
  }
}

/**
 * Hands each journal entry to `record` (undefined for a line that does not parse), in order, then deletes the
 * journal. If `record` fails the journal stays, so the next start retries (an entry may then be recorded twice,
 * never lost). Returns the number of lines replayed.
 */
export async function replayOfflineChanges(secretsDir: string, record: (entry: JournalEntry | undefined) => Promise<void>): Promise<number> {
  const file = path.join(secretsDir, OFFLINE_SECRET_JOURNAL);
  let text: string;
  try {
    const data = readFileSync(file);
    text = data.subarray(0, MAX_SECRET_JOURNAL_BYTES).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (const line of lines) await record(entryOf(line));
  rmSync(file, { force: true });
  return lines.length;
}
