// The audit chain step (issue 14 deliverable 4): a flush hashes and HMACs its records through the HMAC's batch form
// (`chain`, the native auditChain the appliance wires) instead of one SHA-256 object and one HMAC call per record.
// What it writes must be byte for byte the chain the format defines (src/cmk/audit/record.ts): every record verifies
// under the plain per-record HMAC, across chain-step batches and COPY/INSERT chunks, with non-ASCII, NUL and cut
// fields; and a step that answers the wrong size writes nothing.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AUDIT_CHAIN_ROWS, AUDIT_FIELD_MAX, AUDIT_ROWS_PER_COPY, AuditTrail } from '../../src/cmk/audit/index.js';
import type { AuditHmac } from '../../src/cmk/audit/index.js';
import { migratePublic, migrateTenant } from '../../src/cmk/migrations.js';
import { auditChain, initNative, mac, SecureKey } from '../../src/native/index.js';
import { ENGINES, openTestDatabase } from '../helpers/governance-db.js';
import type { TestDatabase } from '../helpers/governance-db.js';

initNative({ allowUnlocked: true });

let counter = 0;
const tenantId = (): string => `cs_${String(process.pid % 10000)}_${String(++counter)}`;

for (const engine of ENGINES) {
  describe(`audit chain step over ${engine}`, () => {
    let t: TestDatabase;
    let key: SecureKey;
    /** The per-record HMAC alone: what verify() uses. */
    let plain: AuditHmac;
    /** The same key with its native batch form, as src/appliance/governance/repository.ts wires it. */
    let batched: AuditHmac;
    before(async () => {
      t = await openTestDatabase(engine);
      await migratePublic(t.db);
      key = SecureKey.import(randomBytes(32));
      plain = (d) => mac(key, 'HMAC-SHA256', d);
      batched = Object.assign((d: Uint8Array) => mac(key, 'HMAC-SHA256', d), {
        chain: (c: Uint8Array, o: Uint32Array, p: Uint8Array) => auditChain(key, c, o, p),
      });
    });
    after(async () => {
      key.destroy();
      await t.close();
    });

    test('a flush through the native step writes the chain the format defines, across step batches and chunks', async () => {
      const tenant = tenantId();
      await migrateTenant(t.db, tenant);
      const writer = new AuditTrail(t.db, batched);
      const sink = writer.createSink();
      // More than one COPY chunk and many step batches, one record more than a whole number of both.
      const n = AUDIT_ROWS_PER_COPY + AUDIT_CHAIN_ROWS + 1;
      const odd = ['client-é€', 'nul\0byte', 'x'.repeat(AUDIT_FIELD_MAX + 10), 'tab\tand\nnewline', '\uD800lone'];
      for (let i = 0; i < n; i++) {
        assert.equal(sink.record({ principal: i % 97 === 3 ? (odd[i % odd.length] ?? '') : 'client-a', tenant, operation: 'kmip.Get', object: `uid-${String(i)}`, result: 'ok' }), true);
      }
      await sink.flush();
      await writer.appendSync({ principal: 'admin-ü', tenant, operation: 'tenant.admin', object: '', result: 'ok' });
      await sink.close();
      const v = await new AuditTrail(t.db, plain).verify(tenant);
      assert.deepEqual(v, { ok: true, count: n + 1 });
      // Record i is seq i + 1: the odd principals of i = 100 (non-ASCII) and i = 197 (cut) are stored as hashed.
      assert.deepEqual((await writer.list(tenant, { after: 99, limit: 3 })).map((r) => r.principal), ['client-a', 'client-é€', 'client-a']);
      assert.deepEqual((await writer.list(tenant, { after: 197, limit: 1 })).map((r) => r.principal), [`${'x'.repeat(AUDIT_FIELD_MAX - 1)}…`]);
    });

    test('a step answering the wrong number of bytes fails the append and writes nothing', async () => {
      const tenant = tenantId();
      await migrateTenant(t.db, tenant);
      const short: AuditHmac = Object.assign((d: Uint8Array) => mac(key, 'HMAC-SHA256', d), {
        chain: (c: Uint8Array, o: Uint32Array, p: Uint8Array) => auditChain(key, c, o, p).subarray(0, 64 * (o.length - 1) - 1),
      });
      await assert.rejects(new AuditTrail(t.db, short).appendSync({ principal: 'a', tenant, operation: 'tenant.admin', result: 'ok' }), /chain step returned 63 bytes for 1 records/);
      assert.deepEqual(await new AuditTrail(t.db, plain).verify(tenant), { ok: true, count: 0 });
    });
  });
}
