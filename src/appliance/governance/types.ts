/** What the governance plane offers the rest of the appliance (./plane.ts starts it), and its names. */
import type { BindL1 } from '../../cmk/api/ports.js';
import type { AuditBacklog, AuditBatch } from '../../cmk/audit/index.js';
import type { PolicyEngine } from '../../cmk/authz/engine.js';
import type { KmipAuthorizer } from '../../cmk/authz/kmip.js';
import type { Db } from '../../cmk/db.js';
import type { Governance, TenantState } from '../../cmk/repository/index.js';
import { EMPTY_TRUST } from '../../common/x509.js';
import type { TrustSnapshot } from '../../common/x509.js';
import type { Logger } from '../../common/log.js';
import type { LoadedConfig, ListenAddress } from '../../config/index.js';
import type { KeystorePlugin, ShadowReference } from '../../keystore/types.js';
import type { Krypton } from '../../krypton/krypton.js';
import type { MasterKey } from '../../krypton/master-key.js';
import type { PkiRegistry } from '../../pki/registry.js';
import type { KmipGate } from '../../server/gates.js';
import type { KmipAuditEvent } from '../../server/processor.js';
import type { RewrapJobs } from '../../server/rewrap-jobs.js';

/** NOTIFY channel of policy changes: payload = JSON {tenant}; every node re-loads that tenant's policies. */
export const POLICY_CHANNEL = 'openkcm_policy';
/** Governance principal of tenants registered on first use (audit trail). */
export const AUTO_REGISTER_PRINCIPAL = 'system:kmip-first-use';
/** Purpose of the MasterKey-derived audit HMAC key (src/krypton/master-key.ts deriveKey). */
export const AUDIT_HMAC_PURPOSE = 'audit-hmac';

export interface GovernancePlaneOptions {
  readonly loaded: LoadedConfig;
  readonly logger: Logger;
  readonly krypton: Krypton;
  readonly masterKey: MasterKey;
  /** KMIP tenants this node serves (e.g. vault.tenants()); registered at start like the config's identity tenants. */
  readonly tenantsOf?: () => Iterable<string>;
  /** Opens a keystore plugin for the admin API's L1 validation (health() only). Without it: 501 on validate. */
  readonly keystoreFor?: (shadow: ShadowReference) => Promise<KeystorePlugin>;
  /** Binds a registered L1 to the tenant's keys (src/appliance/hierarchy.ts Hierarchy.bindL1). */
  readonly bindL1?: BindL1;
  /** The node's background re-wrap jobs (src/server/rewrap-jobs.ts): their routes on the admin API. */
  readonly rewrap?: RewrapJobs;
  /**
   * Whether this process answers KMIP clients itself (default true). The primary of `serve --workers N` does not: its
   * Cedar engine then computes no client decisions ahead of use, since every KMIP decision is made in a worker,
   * which warms its own engine (docs/performance.md "Open-loop tail": on a loaded machine the primary's warm-up was
   * still running when load began, half of its CPU, taken from the cores the workers serve on).
   */
  readonly servesKmip?: boolean;
}

export interface GovernancePlane {
  /** False when `governance.enabled` is false: every hook below is then undefined. */
  readonly enabled: boolean;
  /** ProcessorDeps.authorize gate: governance tenant state (kill-switch, first-use registration), then Cedar. */
  readonly authorize: KmipGate | undefined;
  /** OperationServices.authorizeObject (createServices): Cedar at object level. */
  readonly authorizeObject: KmipAuthorizer['authorizeObject'] | undefined;
  /** ProcessorDeps.audit: enqueues one record per KMIP batch item; never awaited. */
  readonly audit: ((event: KmipAuditEvent) => void) | undefined;
  /** The repository (tests, tools). */
  readonly governance: Governance | undefined;
  readonly db: Db | undefined;
  readonly engine: PolicyEngine | undefined;
  /** Where the admin API listens; undefined while it is off or not started yet (sealed node). */
  adminApiAddress(): ListenAddress | undefined;
  /** Resolves when the admin API and L1 checks run (after the unseal on a sealed node); at once without them. */
  readonly started: Promise<void>;
  /** Re-loads one tenant's policies on every node (after a change made without the admin API). */
  policiesChanged(tenant: string): Promise<void>;
  /** Writes the queued audit records now (tests, shutdown). */
  flushAudit(): Promise<void>;
  /** Governance state of every tenant this node knows (KMIP worker processes mirror it: src/appliance/worker.ts). */
  tenantStates(): [string, TenantState][];
  /** Every tenant's own Cedar policy text (tenants without one are decided by the defaults). */
  tenantPolicies(): [string, string][];
  /** Whose audit queue is full (their audited operations are refused until it drains). */
  auditBacklog(): AuditBacklog;
  /** Tenants whose connections are held while their audit queue drains (AuditSink.slowTenants). */
  auditSlow(): readonly string[];
  /** governance.audit.holdMaxMs: the longest a slow tenant's connections are held (0: never). */
  readonly auditHoldMaxMs: number;
  /** Audit records queued or being written, every tenant together (src/appliance/governance-priority.ts). */
  auditPending(): number;
  /** The smallest audit queue bound (a tenant's quota, or the node's): refusals start there. */
  readonly auditQuota: number;
  /** `governance.yieldNice`: the primary's nice value while it keeps up with the workers (0: never yields). */
  readonly yieldNice: number;
  /** Takes audit records a KMIP worker process forwarded (src/appliance), as if its own hook had produced them. */
  recordAudit(batches: readonly AuditBatch[]): void;
  /** Calls `listener` on every change a KMIP worker must mirror; returns the unsubscribe function. */
  onChange(listener: (change: GovernanceChange) => void): () => void;
  /** Registers (or re-reads) a tenant on first use; resolves with its state, null when it is not governed. */
  register(tenant: string): Promise<TenantState | null>;
  /** The L1 registered for the tenant through the admin API (issue 16 item 2); undefined when none or ungoverned. */
  registeredShadow(tenant: string): Promise<ShadowReference | undefined>;
  /** What every KMIP listener applies (issue 18): the run-time identity map and the revoked serials. */
  trust(): TrustSnapshot;
  /** The certificate registry (clients, admins, identities, CRL); undefined with the plane off. */
  readonly pki: PkiRegistry | undefined;
  /** Stops everything, flushes the audit trail, closes the database. Call BEFORE the hierarchy closes. */
  close(): Promise<void>;
}

/** A change KMIP worker processes mirror (the messages of src/appliance/ipc.ts). */
export type GovernanceChange =
  | { readonly t: 'state'; readonly tenant: string; readonly state: TenantState }
  /** `text` undefined: the defaults decide; `failed`: the policies could not be loaded, the tenant is denied. */
  | { readonly t: 'policies'; readonly tenant: string; readonly text: string | undefined; readonly failed?: boolean }
  /** `slow`: tenants whose connections are held (AuditSink.slowTenants; absent: none). */
  | { readonly t: 'backlog'; readonly backlog: AuditBacklog; readonly slow?: readonly string[] }
  /** Issue 18: a revocation or identity mapping changed (src/server/trust.ts ClientTrust.update). */
  | { readonly t: 'trust'; readonly trust: TrustSnapshot };

/** The plane of a node with `governance.enabled: false`: every hook undefined, every query empty. */
export const DISABLED_PLANE: GovernancePlane = Object.freeze({
  enabled: false, authorize: undefined, authorizeObject: undefined, audit: undefined, governance: undefined, db: undefined,
  engine: undefined, adminApiAddress: () => undefined, started: Promise.resolve(), policiesChanged: () => Promise.resolve(),
  flushAudit: () => Promise.resolve(), close: () => Promise.resolve(),
  tenantStates: () => [], tenantPolicies: () => [], auditBacklog: () => ({ node: false, tenants: [] }), auditSlow: () => [], auditHoldMaxMs: 0, auditPending: () => 0, auditQuota: 0, yieldNice: 0, recordAudit: () => undefined,
  onChange: () => () => undefined, register: () => Promise.resolve(null), registeredShadow: () => Promise.resolve(undefined),
  trust: () => EMPTY_TRUST, pki: undefined,
});
