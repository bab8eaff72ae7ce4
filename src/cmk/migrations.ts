/**
 * Versioned schema migrations (ARCHITECTURE §6 "Migrations run per schema and are versioned").
 *
 * Two families: `public` holds the small catalog (tenants, the global audit chain); each `tenant_<id>` schema
 * holds one tenant's shadow references, policies, approvals, audit chain and wrapped L2/L3 blobs.
 *
 * Each schema has its own `schema_migrations(version, name, applied_at)`. Applying is idempotent and safe under
 * concurrency: every step takes a transaction-scoped advisory lock keyed by the schema name, so two processes
 * starting at once apply each migration exactly once (the second one waits, then sees it applied). Each migration
 * runs in its own transaction ({@link migrateSchema}), or all inside the caller's transaction when a schema must
 * appear atomically with other rows (tenant onboarding, {@link migrateTenantInTx}).
 *
 * Rules for adding a migration: append a new version; never edit a shipped one (a database that ran it would
 * silently differ from a fresh one).
 */
import type { Db, DbTx } from './db.js';
import { quoteIdent, tenantSchema } from './db.js';
import { GovernanceError } from './errors.js';

export interface Migration {
  /** 1, 2, 3, ... in order, no gaps. */
  readonly version: number;
  readonly name: string;
  /** DDL; `s` is the already-quoted schema name. */
  sql(s: string): string;
}

/** Audit chain tables, the same in `public` (global admin actions) and in each tenant schema (src/cmk/audit/). */
function auditTables(s: string): string {
  return `
    CREATE TABLE ${s}.audit (
      seq       bigint PRIMARY KEY CHECK (seq >= 1),
      at        timestamptz NOT NULL,
      principal text NOT NULL,
      tenant    text NOT NULL,
      operation text NOT NULL,
      object    text NOT NULL,
      result    text NOT NULL,
      prev_hash bytea NOT NULL,
      hash      bytea NOT NULL,
      hmac      bytea NOT NULL
    );
    -- One row: the chain head. Appenders lock it (SELECT ... FOR UPDATE) so appends to one chain are serialised;
    -- its HMAC covers (seq, hash) so cutting records off the end is detected too.
    CREATE TABLE ${s}.audit_head (
      id   boolean PRIMARY KEY DEFAULT true CHECK (id),
      seq  bigint NOT NULL,
      hash bytea NOT NULL,
      hmac bytea
    );
    INSERT INTO ${s}.audit_head (id, seq, hash, hmac) VALUES (true, 0, decode(repeat('00', 32), 'hex'), NULL);`;
}

export const PUBLIC_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'catalog: tenants and the global audit chain',
    sql: (s) => `
      CREATE TABLE ${s}.tenants (
        id               text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_]{0,39}$'),
        name             text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        state            text NOT NULL CHECK (state IN ('active', 'suspended', 'revoked', 'terminated')),
        state_reason     text NOT NULL DEFAULT '',
        created_at       timestamptz NOT NULL,
        created_by       text NOT NULL,
        state_changed_at timestamptz NOT NULL,
        schema_name      text NOT NULL UNIQUE
      );
      ${auditTables(s)}`,
  },
];

export const TENANT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tenant: shadow references, policies, approvals, audit, hierarchy',
    sql: (s) => `
      CREATE TABLE ${s}.shadow_refs (
        name        text PRIMARY KEY,
        plugin      text NOT NULL,
        key_ref     text NOT NULL,
        key_version text NOT NULL,
        created_at  timestamptz NOT NULL,
        created_by  text NOT NULL
      );
      CREATE TABLE ${s}.policies (
        id         text PRIMARY KEY,
        body       text NOT NULL,
        updated_at timestamptz NOT NULL,
        updated_by text NOT NULL
      );
      CREATE TABLE ${s}.approvals (
        id           text PRIMARY KEY,
        action       text NOT NULL,
        params       jsonb NOT NULL,
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL,
        expires_at   timestamptz NOT NULL,
        required     integer NOT NULL CHECK (required >= 1),
        state        text NOT NULL CHECK (state IN ('pending', 'approved', 'executing', 'executed', 'failed', 'expired')),
        decided_at   timestamptz,
        outcome      text
      );
      CREATE TABLE ${s}.approval_votes (
        approval_id text NOT NULL REFERENCES ${s}.approvals (id) ON DELETE CASCADE,
        approver    text NOT NULL,
        approved_at timestamptz NOT NULL,
        PRIMARY KEY (approval_id, approver)
      );
      ${auditTables(s)}
      -- Krypton's wrapped hierarchy (src/krypton/pg-store.ts): ciphertext and public facts only. \`record\` is the
      -- encoded TenantHierarchy (src/krypton/record.ts, the same bytes the LMDB store keeps: wrapped L2 and sealed
      -- L3 blobs); \`revision\` is its compare-and-swap counter; \`state\` is a copy for operators' queries.
      CREATE TABLE ${s}.hierarchy (
        tenant     text PRIMARY KEY,
        revision   bigint NOT NULL CHECK (revision >= 1),
        state      text NOT NULL,
        record     bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );`,
  },
];

export interface MigrationReport {
  readonly schema: string;
  /** Versions applied by this call (empty when already current). */
  readonly applied: readonly number[];
  /** The schema's version after the call. */
  readonly version: number;
}

/** Serialises migration of one schema across connections and processes (released at COMMIT/ROLLBACK). */
async function lockSchema(tx: DbTx, schema: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`openkcm:migrate:${schema}`]);
}

async function appliedVersions(tx: DbTx, s: string): Promise<Set<number>> {
  const r = await tx.query<{ version: number }>(`SELECT version FROM ${s}.schema_migrations`);
  return new Set(r.rows.map((row) => row.version));
}

/** Under the schema lock: creates the schema and its ledger if needed, applies pending migrations (at most one
 *  when `onlyOne`), returns the versions applied. */
async function applyPending(tx: DbTx, schema: string, migrations: readonly Migration[], onlyOne: boolean): Promise<number[]> {
  const s = quoteIdent(schema);
  await lockSchema(tx, schema);
  if (schema !== 'public') await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await tx.exec(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const done = await appliedVersions(tx, s);
  const known = Math.max(0, ...migrations.map((m) => m.version));
  const newest = Math.max(0, ...done);
  if (newest > known) {
    // A newer program migrated this database: running old code against it could corrupt it.
    throw new GovernanceError('INVALID_STATE', `schema ${schema} is at version ${newest}, newer than this program (${known})`);
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    await tx.exec(m.sql(s));
    await tx.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    applied.push(m.version);
    if (onlyOne) break;
  }
  return applied;
}

/** Brings `schema` up to date, each migration in its own transaction. */
export async function migrateSchema(db: Db, schema: string, migrations: readonly Migration[]): Promise<MigrationReport> {
  checkMigrations(migrations);
  const applied: number[] = [];
  for (;;) {
    const step = await db.transaction((tx) => applyPending(tx, schema, migrations, true));
    if (step.length === 0) break;
    applied.push(...step);
  }
  return { schema, applied, version: await schemaVersion(db, schema) };
}

/** Brings `schema` up to date inside the caller's transaction (all or nothing with the caller's other work). */
export async function migrateSchemaInTx(tx: DbTx, schema: string, migrations: readonly Migration[]): Promise<MigrationReport> {
  checkMigrations(migrations);
  const applied = await applyPending(tx, schema, migrations, false);
  return { schema, applied, version: await schemaVersion(tx, schema) };
}

export function migratePublic(db: Db): Promise<MigrationReport> {
  return migrateSchema(db, 'public', PUBLIC_MIGRATIONS);
}

export function migrateTenant(db: Db, tenant: string): Promise<MigrationReport> {
  return migrateSchema(db, tenantSchema(tenant), TENANT_MIGRATIONS);
}

export function migrateTenantInTx(tx: DbTx, tenant: string): Promise<MigrationReport> {
  return migrateSchemaInTx(tx, tenantSchema(tenant), TENANT_MIGRATIONS);
}

/** The highest applied version of `schema`; 0 when it has no ledger (or does not exist). */
export async function schemaVersion(q: DbTx, schema: string): Promise<number> {
  const s = quoteIdent(schema);
  const exists = await q.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`${s}.schema_migrations`]);
  if (exists.rows[0]?.t == null) return 0;
  const r = await q.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s}.schema_migrations`);
  return r.rows[0]?.v ?? 0;
}

function checkMigrations(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration versions must be 1..n in order; found ${m.version} at ${i}`);
  });
}
