/** Step 1 of the governance plane: the governance database, and who else may know it is open. */
import path from 'node:path';
import { dbOptionsFrom, openDb } from '../../cmk/db.js';
import type { Db } from '../../cmk/db.js';
import { holdEmbeddedDb } from '../../cmk/embedded-db-holder.js';
import { describeError } from '../../common/log.js';
import type { Logger } from '../../common/log.js';
import type { GovernanceSettings } from '../../config/index.js';
import type { Cleanups } from './cleanups.js';

/**
 * Opens the database: precedence (ARCHITECTURE §6 "PGlite serves when no DATABASE_URL is given") config URL,
 * $DATABASE_URL, PGlite in `<dataDir>/governance-db`. `onReconnected` runs when the LISTEN connection comes back
 * (the caller re-reads what it may have missed).
 */
export async function openGovernanceDb(settings: GovernanceSettings, dataDir: string, log: Logger, cleanups: Cleanups, onReconnected: () => void): Promise<Db> {
  const envUrl = process.env.DATABASE_URL;
  const url = settings.databaseUrl ?? (envUrl !== undefined && envUrl !== '' ? envUrl : undefined);
  const db = await openDb({
    ...dbOptionsFrom({ url, dataDir }),
    onListenEvent: (ev) => {
      if (ev.type === 'reconnected') {
        log.warn('governance database: LISTEN connection back; re-reading tenant states and policies');
        onReconnected();
      } else {
        log.warn('governance database: connection error', describeError(ev.error));
      }
    },
  });
  if (db.kind === 'pglite') {
    // Readers of the embedded database (`openkcm audit`) must know a live node holds it (src/cmk/embedded-db-holder.ts);
    // released after the database closed (cleanups run in reverse).
    cleanups.pushSync(holdEmbeddedDb(dataDir));
  }
  cleanups.push(() => db.close());
  log.info('governance database open', { kind: db.kind, ...(db.kind === 'pglite' ? { dir: path.join(dataDir, 'governance-db') } : {}) });
  return db;
}
