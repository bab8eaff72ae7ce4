/**
 * Step 2 of the governance plane: the repository over the database, with its audit trail. The audit HMAC key is
 * derived from the MasterKey (`deriveKey('audit-hmac')`) and held only while the node is unsealed; records written
 * while sealed stay queued (bounded) and are flushed at the unseal.
 */
import { Governance } from '../../cmk/repository/index.js';
import type { PolicyEngine } from '../../cmk/authz/engine.js';
import type { Db } from '../../cmk/db.js';
import { describeError } from '../../common/log.js';
import type { Logger } from '../../common/log.js';
import type { GovernanceSettings } from '../../config/index.js';
import { KmipError } from '../../kmip/errors.js';
import { isKryptonError } from '../../krypton/errors.js';
import type { Krypton } from '../../krypton/krypton.js';
import type { MasterKey } from '../../krypton/master-key.js';
import { auditChain, mac } from '../../native/index.js';
import type { SecureKey } from '../../native/index.js';
import type { Cleanups } from './cleanups.js';
import { AUDIT_HMAC_PURPOSE } from './types.js';
import { OFFLINE_SECRET_JOURNAL, replayOfflineChanges } from '../../krypton/secret-journal.js';

/** The audit HMAC key of an unsealed node; re-derived at each unseal, destroyed at each seal and at close. */
export class AuditKey {
  #key: SecureKey | undefined;
  /** The "records wait for the unseal" warning was logged in this sealed period. */
  sealedNoticeShown = false;
  readonly #masterKey: MasterKey;

  constructor(masterKey: MasterKey) {
    this.#masterKey = masterKey;
  }

  derive(): void {
    if (this.#key === undefined && !this.#masterKey.status().sealed) this.#key = this.#masterKey.deriveKey(AUDIT_HMAC_PURPOSE);
  }

  drop(): void {
    this.#key?.destroy();
    this.#key = undefined;
  }

  hmac(data: Uint8Array): Uint8Array {
    if (this.#key === undefined) throw new KmipError('SERVER_SEALED', 'the audit key needs an unsealed MasterKey');
    return mac(this.#key, 'HMAC-SHA256', data);
  }

  /** The audit chain step of n records in one native call (src/cmk/audit/record.ts AuditChainStep). */
  chain(canonical: Uint8Array, offsets: Uint32Array, prev: Uint8Array): Uint8Array {
    if (this.#key === undefined) throw new KmipError('SERVER_SEALED', 'the audit key needs an unsealed MasterKey');
    return auditChain(this.#key, canonical, offsets, prev);
  }
}

/** krypton calls for a tenant with no hierarchy on this node: nothing to do (it was never onboarded here). */
export async function ignoreUnknown(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!isKryptonError(e, 'UNKNOWN_TENANT')) throw e;
  }
}

export interface RepositoryStep {
  readonly db: Db;
  readonly settings: GovernanceSettings;
  readonly krypton: Krypton;
  readonly masterKey: MasterKey;
  readonly engine: PolicyEngine;
  readonly auditKey: AuditKey;
  readonly log: Logger;
  readonly cleanups: Cleanups;
  /** The audit backlog changed (KMIP worker processes mirror it: src/appliance). */
  readonly onBacklogChange: () => void;
}

/** Opens the repository and records every change of the node's secrets in the global audit chain. */
export async function openRepository(step: RepositoryStep): Promise<Governance> {
  const { db, settings, krypton, masterKey, engine, auditKey, log, cleanups } = step;
  const governance = await Governance.open({
    db,
    // The chain step rides on the HMAC callback: src/cmk never imports the addon (ARCHITECTURE §6).
    auditHmac: Object.assign((data: Uint8Array) => auditKey.hmac(data), { chain: (c: Uint8Array, o: Uint32Array, p: Uint8Array) => auditKey.chain(c, o, p) }),
    policyValidator: (body) => {
      const d = engine.validateTenantPolicies(body);
      if (d.length > 0) throw new Error(d.join('; '));
    },
    cryptoShred: (tenant) => ignoreUnknown(krypton.offboard(tenant)),
    auditSink: {
      queueMax: settings.auditQueueMax,
      tenantQueueMax: settings.auditTenantQueueMax,
      onBacklogChange: step.onBacklogChange,
      // Rate-limited by the sink: one line per tenant per AUDIT_DROP_REPORT_INTERVAL_MS, with counts.
      onDrop: (r) => {
        log.warn('audit queue full: records dropped and operations refused (a gap record follows in the chain)', {
          tenant: r.tenant, dropped: r.dropped, refused: r.refused, cause: r.cause, since: new Date(r.since).toISOString(),
        });
      },
      onError: (err) => {
        if (err instanceof KmipError && err.code === 'SERVER_SEALED') {
          // Records stay queued and are written after the unseal; say so once per sealed period.
          if (!auditKey.sealedNoticeShown) log.warn('audit records wait for the unseal (the audit HMAC key needs the MasterKey)');
          auditKey.sealedNoticeShown = true;
          return;
        }
        log.error('audit trail: write failed (records kept and retried)', describeError(err));
      },
    },
  });
  cleanups.push(() => governance.close());
  // Issue 16 item 1: every change of the node's secrets (operator socket, admin API) in the global chain: the
  // name, the size and who asked; never the value.
  cleanups.pushSync(masterKey.secrets.onChange((c) =>
    // Returned: the put/delete (and so the admin API's or socket's answer) waits for the durable record.
    governance.audit.appendSync({
      principal: c.by, operation: `node-secret.${c.op}`, object: c.op === 'put' ? `${c.name} (${String(c.bytes)} bytes)` : c.name,
      result: c.op === 'delete' && c.bytes === 0 ? 'not-found' : 'ok',
    }, { global: true }).then(() => undefined, (e: unknown) => { log.error('audit: a node secret change could not be recorded', { name: c.name, op: c.op, ...describeError(e) }); })));
  // Changes made with the node stopped (`operator secret … --data-dir`) were journaled by the CLI: into the chain.
  if (!masterKey.status().sealed) {
    const replayed = await replayOfflineChanges(masterKey.secrets.dir, async (e) => {
      await governance.audit.appendSync(e === undefined
        ? { principal: 'offline-cli', operation: 'node-secret.journal-unreadable', object: OFFLINE_SECRET_JOURNAL, result: 'unknown' }
        : { principal: e.by, operation: `node-secret.${e.op}`, object: e.op === 'put' ? `${e.name} (${String(e.bytes)} bytes)` : e.name,
          result: e.op === 'delete' && e.bytes === 0 ? 'not-found' : 'ok', time: e.at }, { global: true });
    }).catch((e: unknown) => { log.error('audit: offline node secret changes could not be recorded (kept for the next start)', describeError(e)); return 0; });
    if (replayed > 0) log.info('audit: node secret changes made offline recorded', { entries: replayed });
  }
  return governance;
}
