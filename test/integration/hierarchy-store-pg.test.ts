// PostgresHierarchyStore (src/krypton/pg-store.ts) over the real PostgreSQL and over PGlite: the HierarchyStore
// conformance suite (STYLE.md rule 9), plus where the rows live (governed tenant schema vs hashed schema) and what
// a tampered row does.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hierarchySchemaFor, quoteIdent } from '../../src/cmk/db.js';
import { Governance } from '../../src/cmk/repository/index.js';
import { PostgresHierarchyStore } from '../../src/krypton/pg-store.js';
import { HierarchyStoreError } from '../../src/krypton/types.js';
import { runHierarchyStoreConformance, sampleHierarchy, uniqueTenant } from '../unit/hierarchy-store-conformance.js';
import { ENGINES, openTestDatabase, testAuditHmac, userSchemas } from '../helpers/governance-db.js';
import type { TestDatabase } from '../helpers/governance-db.js';

for (const engine of ENGINES) {
  describe(`PostgresHierarchyStore over ${engine}`, () => {
    let t: TestDatabase;
    before(async () => { t = await openTestDatabase(engine); });
    after(async () => { await t.close(); });

    runHierarchyStoreConformance(`postgres-store/${engine}`, () => PostgresHierarchyStore.open(t.db));

    test('a governed tenant keeps its hierarchy in its own schema; offboarding drops it with the schema', async () => {
      const gov = await Governance.open({ db: t.db, auditHmac: testAuditHmac() });
      const store = await PostgresHierarchyStore.open(t.db);
      try {
        const id = `hs_${String(process.pid)}_${engine}`;
        await gov.createTenant({ id }, 'admin');
        await store.create(sampleHierarchy(id));
        assert.equal(hierarchySchemaFor(id), `tenant_${id}`);
        const rows = await t.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM ${quoteIdent(`tenant_${id}`)}.hierarchy`);
        assert.equal(Number(rows.rows[0]?.n), 1);
        let shredded = '';
        await gov.terminateTenant(id, 'admin', async (tenant) => {
          shredded = tenant;
          assert.equal(await store.delete(tenant), true);
        });
        assert.equal(shredded, id);
        assert.equal(await store.get(id), undefined);
        assert.ok(!(await userSchemas(t.db)).includes(`tenant_${id}`));
        assert.ok(!(await store.list()).includes(id));
      } finally {
        await store.close();
        await gov.close();
      }
    });

    test('other tenant names live in a hashed schema that no governed id can name', async () => {
      const store = await PostgresHierarchyStore.open(t.db);
      try {
        const name = uniqueTenant('Mixed.Case');
        const schema = hierarchySchemaFor(name);
        assert.match(schema, /^tenant__[0-9a-f]{32}$/);
        await store.create(sampleHierarchy(name));
        assert.ok((await userSchemas(t.db)).includes(schema));
        assert.deepEqual((await store.get(name))?.tenant, name);
      } finally {
        await store.close();
      }
    });

    test('a row moved to another tenant (or rolled back to an older revision) is refused with INVALID', async () => {
      const store = await PostgresHierarchyStore.open(t.db);
      try {
        const a = sampleHierarchy(uniqueTenant());
        const b = sampleHierarchy(uniqueTenant());
        await store.create(a);
        await store.create(b);
        const ta = `${quoteIdent(hierarchySchemaFor(a.tenant))}.hierarchy`;
        const tb = `${quoteIdent(hierarchySchemaFor(b.tenant))}.hierarchy`;
        // Copy a's record bytes into b's row.
        const src = await t.db.query<{ record: Uint8Array }>(`SELECT record FROM ${ta} WHERE tenant = $1`, [a.tenant]);
        await t.db.query(`UPDATE ${tb} SET record = $2 WHERE tenant = $1`, [b.tenant, src.rows[0]?.record]);
        await assert.rejects(store.get(b.tenant), (e: unknown) => e instanceof HierarchyStoreError && e.code === 'INVALID');
        await store.update({ ...a, stateReason: 'x', revision: 2 });
        await t.db.query(`UPDATE ${ta} SET revision = 1 WHERE tenant = $1`, [a.tenant]);
        await assert.rejects(store.get(a.tenant), (e: unknown) => e instanceof HierarchyStoreError && e.code === 'INVALID');
      } finally {
        await store.close();
      }
    });
  });
}
