/**
 * PostgresHierarchyStore: krypton's wrapped key hierarchy in PostgreSQL (or PGlite), one row per tenant in the
 * `hierarchy` table of the tenant's schema (ARCHITECTURE §1 "krypton": wrapped L2/L3 blobs in Postgres, tenant
 * schema; §6 "Schema per tenant"). The contract is src/krypton/types.ts HierarchyStore; the conformance suite is
 * test/unit/hierarchy-store-conformance.ts (run over both engines by test/integration/hierarchy-store-pg.test.ts).
 *
 * - The row holds the encoded record (src/krypton/record.ts, the same bytes as the LMDB store, so both stores accept
 *   and refuse exactly the same records) and its revision; `update` is one `UPDATE ... WHERE revision = n - 1`,
 *   which Postgres serialises per row: of N writers from one base exactly one matches.
 * - Which schema: src/cmk/db.ts hierarchySchemaFor — `tenant_<id>` for a governed id (the schema governance
 *   onboarding created), a hashed `tenant__<hex>` for other krypton tenant names. `create` brings the schema up to
 *   date first (idempotent, advisory-locked migrations), so krypton works with or without the governance plane.
 * - Everything stored is public or ciphertext: this file lives in src/krypton, never touches key slots, and the
 *   governance plane may read it.
 */
import type { Db } from '../cmk/db.js';
import { hierarchySchemaFor, quoteIdent, sqlState, toBytes, toNumber, TENANT_SCHEMA_PREFIX } from '../cmk/db.js';
import { migrateSchemaInTx, TENANT_MIGRATIONS } from '../cmk/migrations.js';
import { decodeHierarchy, encodeHierarchy, tenantNameProblem } from './record.js';
import { HierarchyStoreError } from './types.js';
import type { HierarchyStore, TenantHierarchy } from './types.js';

/** Schemas read per `list()` query (one UNION ALL of this many SELECTs): bounds the statement's size. */
export const LIST_SCHEMAS_PER_QUERY = 100;

/** SQLSTATEs meaning "the tenant's schema/table is not there": the tenant has no record. */
function isMissingSchema(err: unknown): boolean {
  const code = sqlState(err);
  return code === '3F000' /* invalid_schema_name */ || code === '42P01' /* undefined_table */;
}

/** Byte order of UTF-8 = code point order, the order the LMDB store lists in (contract: ascending). */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface PostgresHierarchyStoreOptions {
  /** Close the Db when the store closes (default false: the Db is usually shared with the governance plane). */
  readonly closeDb?: boolean;
}

export class PostgresHierarchyStore implements HierarchyStore {
  #closed = false;

  private constructor(
    private readonly db: Db,
    private readonly opts: PostgresHierarchyStoreOptions,
  ) {}

  static open(db: Db, opts: PostgresHierarchyStoreOptions = {}): Promise<PostgresHierarchyStore> {
    return Promise.resolve(new PostgresHierarchyStore(db, opts));
  }

  #check(): void {
    if (this.#closed) throw new HierarchyStoreError('CLOSED', 'the hierarchy store is closed');
  }

  static #table(tenant: string): string {
    const problem = tenantNameProblem(tenant);
    if (problem !== undefined) throw new HierarchyStoreError('INVALID', problem);
    return `${quoteIdent(hierarchySchemaFor(tenant))}.hierarchy`;
  }

  async create(record: TenantHierarchy): Promise<void> {
    this.#check();
    if (record.revision !== 1) throw new HierarchyStoreError('INVALID', `a new record has revision 1, got ${String(record.revision)}`);
    const value = encodeHierarchy(record);
    const schema = hierarchySchemaFor(record.tenant);
    const table = PostgresHierarchyStore.#table(record.tenant);
    const inserted = await this.db.transaction(async (tx) => {
      await migrateSchemaInTx(tx, schema, TENANT_MIGRATIONS);
      const r = await tx.query(
        `INSERT INTO ${table} (tenant, revision, state, record) VALUES ($1, 1, $2, $3) ON CONFLICT (tenant) DO NOTHING RETURNING tenant`,
        [record.tenant, record.state, value],
      );
      return r.rows.length === 1;
    });
    if (!inserted) throw new HierarchyStoreError('EXISTS', `tenant '${record.tenant}' already has a hierarchy`);
  }

  async get(tenant: string): Promise<TenantHierarchy | undefined> {
    this.#check();
    const table = PostgresHierarchyStore.#table(tenant);
    let rows: { revision: unknown; record: unknown }[];
    try {
      rows = (await this.db.query<{ revision: unknown; record: unknown }>(
        `SELECT revision, record FROM ${table} WHERE tenant = $1`, [tenant],
      )).rows;
    } catch (e) {
      if (isMissingSchema(e)) return undefined;
      throw e;
    }
    const row = rows[0];
    if (row === undefined) return undefined;
    const record = decodeHierarchy(toBytes(row.record));
    // A row copied or moved by hand must not be served as another tenant's (or an older) hierarchy.
    if (record.tenant !== tenant || record.revision !== toNumber(row.revision)) {
      throw new HierarchyStoreError('INVALID', `stored record of '${tenant}' does not match its row (tenant or revision)`);
    }
    return record;
  }

  async update(next: TenantHierarchy): Promise<void> {
    this.#check();
    const value = encodeHierarchy(next);
    if (next.revision < 2) throw new HierarchyStoreError('INVALID', `an updated record has revision >= 2, got ${String(next.revision)}`);
    const table = PostgresHierarchyStore.#table(next.tenant);
    try {
      const r = await this.db.query(
        `UPDATE ${table} SET revision = $2, state = $3, record = $4, updated_at = now()
          WHERE tenant = $1 AND revision = $5 RETURNING tenant`,
        [next.tenant, next.revision, next.state, value, next.revision - 1],
      );
      if (r.rows.length === 1) return;
      const exists = await this.db.query(`SELECT 1 FROM ${table} WHERE tenant = $1`, [next.tenant]);
      if (exists.rows.length === 0) throw new HierarchyStoreError('NOT_FOUND', `tenant '${next.tenant}' has no hierarchy`);
    } catch (e) {
      if (isMissingSchema(e)) throw new HierarchyStoreError('NOT_FOUND', `tenant '${next.tenant}' has no hierarchy`);
      throw e;
    }
    throw new HierarchyStoreError('CONFLICT', `tenant '${next.tenant}' changed since revision ${String(next.revision - 1)}`);
  }

  async delete(tenant: string): Promise<boolean> {
    this.#check();
    const table = PostgresHierarchyStore.#table(tenant);
    try {
      const r = await this.db.query(`DELETE FROM ${table} WHERE tenant = $1 RETURNING tenant`, [tenant]);
      return r.rows.length === 1;
    } catch (e) {
      if (isMissingSchema(e)) return false;
      throw e;
    }
  }

  async list(): Promise<string[]> {
    this.#check();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#listOnce();
      } catch (e) {
        // A schema dropped (offboarding) between finding it and reading it: read the catalog again.
        if (!isMissingSchema(e) || attempt >= 2) throw e;
      }
    }
  }

  async #listOnce(): Promise<string[]> {
    const schemas = await this.db.query<{ nspname: string }>(
      `SELECT n.nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid
        WHERE c.relname = 'hierarchy' AND c.relkind = 'r' AND starts_with(n.nspname, $1)`,
      [TENANT_SCHEMA_PREFIX],
    );
    const names: string[] = [];
    const all = schemas.rows.map((r) => r.nspname);
    for (let i = 0; i < all.length; i += LIST_SCHEMAS_PER_QUERY) {
      const part = all.slice(i, i + LIST_SCHEMAS_PER_QUERY).map((s) => `SELECT tenant FROM ${quoteIdent(s)}.hierarchy`);
      const r = await this.db.query<{ tenant: string }>(part.join(' UNION ALL '));
      for (const row of r.rows) names.push(row.tenant);
    }
    return names.sort(byUtf8);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.opts.closeDb === true) await this.db.close();
  }
}
