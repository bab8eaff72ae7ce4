// The two database engines every governance suite runs over (ARCHITECTURE §6 "the same SQL"): the real
// PostgreSQL (a throwaway database per test file, dropped afterwards) and PGlite (in memory).
import { randomBytes, createHmac } from 'node:crypto';
import pg from 'pg';
import { openDb } from '../../src/cmk/db.js';
import type { Db } from '../../src/cmk/db.js';

/** Maintenance connection of the test PostgreSQL (trust auth); OPENKCM_TEST_PG_URL overrides. */
export const PG_ADMIN_URL = process.env.OPENKCM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type Engine = 'postgres' | 'pglite';
export const ENGINES: readonly Engine[] = ['postgres', 'pglite'];

export interface TestDatabase {
  readonly engine: Engine;
  readonly db: Db;
  /** postgres:// URL of the throwaway database (postgres engine only). */
  readonly url: string | undefined;
  /** Opens another, independent Db on the same database (postgres: new pool; pglite: not possible). */
  openAnother(): Promise<Db>;
  close(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** CREATE DATABASE openkcm_t_<random>; returns its URL and a drop function. */
export async function createThrowawayDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `openkcm_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(PG_ADMIN_URL, name),
    async drop(): Promise<void> {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export async function openTestDatabase(engine: Engine): Promise<TestDatabase> {
  if (engine === 'pglite') {
    const db = await openDb({});
    return {
      engine, db, url: undefined,
      openAnother: () => Promise.reject(new Error('PGlite has one connection')),
      close: () => db.close(),
    };
  }
  const tdb = await createThrowawayDatabase();
  const extra: Db[] = [];
  const db = await openDb({ url: tdb.url });
  return {
    engine, db, url: tdb.url,
    async openAnother(): Promise<Db> {
      const d = await openDb({ url: tdb.url });
      extra.push(d);
      return d;
    },
    async close(): Promise<void> {
      // Drop the database even when a close fails (DROP ... WITH (FORCE) ends stray connections).
      try {
        for (const d of extra) await d.close().catch(() => undefined);
        await db.close();
      } finally {
        await tdb.drop();
      }
    },
  };
}

/** The audit HMAC the tests use: HMAC-SHA-256 under a random key (the appliance derives it from the MasterKey). */
export function testAuditHmac(key: Buffer = randomBytes(32)): (data: Uint8Array) => Uint8Array {
  return (data) => new Uint8Array(createHmac('sha256', key).update(data).digest());
}

/** Schemas of the database (excluding the system ones), sorted. */
export async function userSchemas(db: Db): Promise<string[]> {
  const r = await db.query<{ nspname: string }>(
    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY nspname",
  );
  return r.rows.map((x) => x.nspname);
}
