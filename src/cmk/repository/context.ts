/**
 * What every aggregate of the governance repository works with (./index.ts builds it once): the database, the
 * audit trail its actions append to in their own transaction, the clock, and the closed check.
 */
import type { AuditTrail } from '../audit/index.js';
import type { Db } from '../db.js';

export interface RepoContext {
  readonly db: Db;
  readonly audit: AuditTrail;
  readonly now: () => Date;
  /** Throws GovernanceError CLOSED once the repository is closed. */
  check(): void;
}
