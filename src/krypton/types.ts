/**
 * Krypton's contracts: the stored form of a tenant's key hierarchy and the store that keeps it
 * (ARCHITECTURE §1 "krypton", §2 "The key hierarchy and its envelope").
 *
 *   L1  customer root key, outside (keystore plugin)        → we keep only its ShadowReference
 *   L2  tenant key, AES-256, versioned                       → stored only as L1.wrap(L2)   (no escrow)
 *   L3  service key, AES-256, versioned, per (tenant, svc)   → stored as L2.seal(L3) envelope (src/vault/envelope.ts)
 *   L4  objects in the vault                                 → sealed under L3 (the vault's KekProvider)
 *
 * Everything in a {@link TenantHierarchy} is public or ciphertext: a breach of the store yields nothing
 * without L1. Plaintext L2/L3 exist only in native key slots (src/native SecureKey) of an active node.
 */
import type { ShadowReference } from '../keystore/types.js';
import { CodedError } from '../common/coded-error.js';

/** Lifecycle of a tenant's hierarchy. `revoked` is the kill-switch; `destroyed` is terminal (offboarded). */
export type TenantKeyState = 'active' | 'revoked' | 'destroyed';

/** One version of the tenant key L2, as stored: wrapped by L1 through the keystore plugin. */
export interface StoredL2 {
  /** 1, 2, ... ; a rotation adds the next version. */
  readonly version: number;
  /** `KeystorePlugin.wrap(L2, { tenant, purpose: 'l2:v<version>' })`. */
  readonly wrapped: Uint8Array;
  readonly createdAt: Date;
}

/** One version of a service key L3, as stored: an envelope sealed under an L2 version. */
export interface StoredL3 {
  readonly service: string;
  readonly version: number;
  /** The L2 version whose key sealed `sealed` (changes when a rotated L2 re-wraps this L3). */
  readonly l2Version: number;
  /** Envelope (src/vault/envelope.ts format) of the L3 key bytes, sealed by L2 natively (sealKey), AAD bound
   *  to (tenant, `l3:<service>`, version). */
  readonly sealed: Uint8Array;
  readonly createdAt: Date;
  /**
   * AES-GCM invocations of this L3 version reserved so far (the high-water mark of the blocks krypton granted, each
   * written before it was handed out: src/krypton/seal-reservations.ts). At least every seal done under the key, in
   * every process and across restarts (NIST SP 800-38D §8.3). Absent means 0 (and records written before it).
   */
  readonly reserved?: number;
}

/** Everything persisted about one tenant's hierarchy. */
export interface TenantHierarchy {
  readonly tenant: string;
  /** L1: `{plugin, keyRef, keyVersion}` and nothing else (ARCHITECTURE §2 "Shadow reference"). */
  readonly shadow: ShadowReference;
  readonly state: TenantKeyState;
  /** Why and when the state last changed (e.g. `admin`, `l1-revoked-at-source`). */
  readonly stateReason: string;
  readonly stateChangedAt: Date;
  readonly currentL2: number;
  readonly l2: readonly StoredL2[];
  /** Current L3 version per service. */
  readonly currentL3: Readonly<Record<string, number>>;
  /** Every L3 version still readable (dropped versions are removed: crypto-shredding depth 2). */
  readonly l3: readonly StoredL3[];
  /** Optimistic-concurrency counter: 1 at creation, +1 per committed write. */
  readonly revision: number;
}

/** Stable error codes of a HierarchyStore. */
export type HierarchyStoreErrorCode = 'EXISTS' | 'NOT_FOUND' | 'CONFLICT' | 'INVALID' | 'CLOSED';

export class HierarchyStoreError extends CodedError<HierarchyStoreErrorCode> {
  override readonly name = 'HierarchyStoreError';
}

/**
 * Where krypton keeps the wrapped hierarchy. Implementations: LMDB (embedded, src/krypton/lmdb-store.ts) and
 * Postgres (one `tenant_<id>` schema per tenant, src/krypton/pg-store.ts). Both pass one conformance suite
 * (test/unit/hierarchy-store-conformance.ts).
 *
 * Rules:
 * - `create` and `update` resolve only after a durable commit (nothing acknowledged is lost).
 * - `create` fails with EXISTS when the tenant has a record.
 * - `update` is compare-and-swap on `revision`: it stores `next` (whose revision must be current + 1) only if
 *   the stored revision still equals `next.revision - 1`, else CONFLICT; NOT_FOUND when absent.
 * - `get` returns a fresh copy (mutating it changes nothing stored).
 * - `delete` removes every blob of the tenant (crypto-shredding depth 3 needs L2 gone); true if it existed.
 */
export interface HierarchyStore {
  create(record: TenantHierarchy): Promise<void>;
  get(tenant: string): Promise<TenantHierarchy | undefined>;
  update(next: TenantHierarchy): Promise<void>;
  delete(tenant: string): Promise<boolean>;
  /** Tenant names, ascending. */
  list(): Promise<string[]>;
  close(): Promise<void>;
}
