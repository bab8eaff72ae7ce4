/**
 * The messages between the primary process (the owner of the key hierarchy, the governance database and every audit
 * chain) and its KMIP worker processes (`openkcm serve --workers N`, issue 14 Deliver 6). They travel over the
 * cluster IPC channel with Node's 'advanced' serialization (structured clone: Uint8Array and Date survive).
 *
 * Nothing secret travels in the clear: tenant L3 keys go wrapped under the worker's transport key
 * (./transport-key.ts); everything else is state the worker needs to refuse requests exactly as the single-process
 * server would — the seal, tenant states, policies, the audit backlog — and what the worker hands back: audit events,
 * lease and registration requests.
 */
import type { AuditBacklog } from '../cmk/audit/index.js';
import type { PackedAuditBatch } from './worker-audit.js';
import type { TrustSnapshot } from '../common/x509.js';

/** A tenant's L3 lineage (`l3:<tenant>:kmip`), each version wrapped for one worker. */
export interface Lease {
  readonly keyId: string;
  readonly current: number;
  readonly versions: readonly { readonly version: number; readonly wrapped: Uint8Array }[];
}

/** The governance states a worker needs (src/cmk/repository/tenants.ts TenantState). */
export type GovernanceState = 'active' | 'suspended' | 'revoked' | 'terminated';

/** What a worker must know at start. */
export interface Snapshot {
  readonly sealed: boolean;
  /** Tenants krypton holds revoked or offboarded on this node. */
  readonly dark: readonly string[];
  /** Governance plane on (Cedar, audit, registration) or off. */
  readonly governance: boolean;
  readonly states: readonly (readonly [string, GovernanceState])[];
  /** Tenants with their own Cedar policies (the rest are decided by the defaults). */
  readonly policies: readonly (readonly [string, string])[];
  /** Whose audit queue is full: their audited operations are refused until it drains. */
  readonly backlog: AuditBacklog;
  /** Whose audit queue is half full: their connections are held until it drains (absent: none). */
  readonly slow?: readonly string[];
  /** governance.audit.holdMaxMs (absent: governance off, nothing is held). */
  readonly holdMaxMs?: number;
  /** Issue 18: the run-time identity map and the revoked client certificates (src/server/trust.ts). */
  readonly trust: TrustSnapshot;
}

export type ToWorker =
  | { readonly t: 'welcome'; readonly primaryPublicKey: Uint8Array; readonly salt: Uint8Array; readonly snapshot: Snapshot }
  | { readonly t: 'res'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly t: 'res'; readonly id: number; readonly ok: false; readonly code: string; readonly message: string }
  | { readonly t: 'sealed'; readonly sealed: boolean }
  /** Krypton's view: dark = revoked or offboarded (the kill-switch), else active again. */
  | { readonly t: 'tenant'; readonly tenant: string; readonly dark: boolean }
  | { readonly t: 'state'; readonly tenant: string; readonly state: GovernanceState }
  /** `text` undefined: the defaults decide; `failed`: the primary could not load them, the tenant is denied. */
  | { readonly t: 'policies'; readonly tenant: string; readonly text: string | undefined; readonly failed?: boolean }
  /** The tenant's L3 lineage changed (rotation, a dropped version): lease it again. */
  | { readonly t: 'rekey'; readonly tenant: string }
  /** `slow`: tenants whose connections are held (AuditSink.slowTenants; absent: none). */
  | { readonly t: 'backlog'; readonly backlog: AuditBacklog; readonly slow?: readonly string[] }
  /** A revocation or an identity mapping changed: applied at once, open connections re-checked (issue 18). */
  | { readonly t: 'trust'; readonly trust: TrustSnapshot }
  | { readonly t: 'shutdown' };

export type ToPrimary =
  | { readonly t: 'hello'; readonly workerPublicKey: Uint8Array }
  /** `https`: the KMIP-over-HTTPS listener's address, when configured (issue 20). */
  | { readonly t: 'ready'; readonly host: string; readonly port: number; readonly https?: { readonly host: string; readonly port: number } }
  | { readonly t: 'req'; readonly id: number; readonly op: 'lease' | 'register'; readonly tenant: string }
  /** The next block of seals of L3 `version` of the tenant's lineage, reserved durably (answered with a SealBlock). */
  | { readonly t: 'req'; readonly id: number; readonly op: 'seals'; readonly tenant: string; readonly version: number }
  /** A worker's audit records of one forwarding interval, per tenant, packed (./worker-audit.ts PackedAuditBatch). */
  | { readonly t: 'audit'; readonly batches: readonly PackedAuditBatch[] }
  | { readonly t: 'fatal'; readonly message: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** A message from the other side, or undefined for anything that is not one (ignored, never trusted blindly). */
export function asToWorker(v: unknown): ToWorker | undefined {
  return isObject(v) && typeof v.t === 'string' ? v as unknown as ToWorker : undefined;
}

export function asToPrimary(v: unknown): ToPrimary | undefined {
  return isObject(v) && typeof v.t === 'string' ? v as unknown as ToPrimary : undefined;
}

/**
 * Error codes a request may fail with: the KMIP catalog's (they become KMIP errors in the worker), and
 * {@link KEY_EXHAUSTED_CODE} (an EnvelopeError in the worker, as in a single process).
 */
export interface IpcFailure {
  readonly code: string;
  readonly message: string;
}

/** A 'seals' request refused because the L3's count reached the limit: EnvelopeError KEY_EXHAUSTED on both sides. */
export const KEY_EXHAUSTED_CODE = 'KEY_EXHAUSTED';
