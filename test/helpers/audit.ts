// Small helpers of the audit-trail suites (test/integration/audit-fairness*.test.ts).
import { after, before } from 'node:test';
import { Writable } from 'node:stream';
import { AuditTrail } from '../../src/cmk/audit/index.js';
import type { AuditHmac } from '../../src/cmk/audit/index.js';
import { migratePublic } from '../../src/cmk/migrations.js';
import { openTestDatabase } from './governance-db.js';
import type { Engine, TestDatabase } from './governance-db.js';

let counter = 0;
/** A tenant id no other test of this process (or another test process) uses. */
export function auditTestId(prefix: string): string {
  counter += 1;
  return `${prefix}_${String(process.pid % 10000)}_${String(counter)}`;
}

/** A Writable that keeps what the CLI wrote. */
export class TextOut extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

/** The suite's database (migrated `public`) and an AuditTrail over it, opened before and closed after the suite. */
export function auditTrailSuite(engine: Engine, hmac: AuditHmac): { readonly t: TestDatabase; readonly trail: AuditTrail } {
  let t: TestDatabase | undefined;
  let trail: AuditTrail | undefined;
  before(async () => {
    t = await openTestDatabase(engine);
    await migratePublic(t.db);
    trail = new AuditTrail(t.db, hmac);
  });
  after(async () => { await t?.close(); });
  const opened = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the suite database is not open yet');
    return v;
  };
  return { get t() { return opened(t); }, get trail() { return opened(trail); } };
}
