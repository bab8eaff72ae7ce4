/**
 * The object-store interface the KMIP server codes against, documented like a spec
 * (STYLE.md: "The core interface is documented like a spec"). Implementations:
 * - `Vault` (src/vault/vault.ts): durable, LMDB.
 * - `MemoryVault` (src/vault/memory-vault.ts): in-process, for tests and small tools.
 * Both pass test/unit/vault-conformance.test.ts.
 *
 * Rules every implementation keeps:
 * - Tenancy: every call names a tenant; a record of tenant A is invisible to tenant B
 *   (get → undefined, update → NOT_FOUND, delete → false, findUids/scan/count skip it).
 *   This is how the server answers Item Not Found without revealing that an object exists
 *   (ARCHITECTURE §4).
 * - Material is stored only sealed (src/vault/envelope.ts), bound to (tenant, uid, materialVersion).
 * - Durability: a write's promise resolves only after a durable commit of the whole record
 *   and all of its index entries (one transaction). A rejected or unresolved write may or may
 *   not have happened; a resolved one survives a crash.
 * - Versions: `version` is 1 after put and +1 per committed update; updates are optimistic
 *   (compare-and-swap on the version), never lost.
 * - Reads are synchronous (LMDB reads are memory-mapped and never block on a lock).
 */
import type { KmipAttribute } from '../kmip/attributes.js';

/** What put()/putMany() take. */
export interface NewVaultObject {
  readonly tenant: string;
  /** Omit to let the store assign a UUIDv7 (src/vault/uid.ts). */
  readonly uid?: string;
  /** KMIP Object Type enumeration value (KMIP 1.4 §3.3). Authoritative: not repeated in `attributes`. */
  readonly objectType: number;
  /** KMIP State enumeration value (KMIP 1.4 §3.22). Authoritative: not repeated in `attributes`. */
  readonly state: number;
  /**
   * All other attributes, internal model of src/kmip/attributes.ts. Must not contain
   * 'Unique Identifier', 'Object Type' or 'State' (those are the fields above; two copies
   * would drift). 'Name' and 'Object Group' values are indexed.
   */
  readonly attributes: readonly KmipAttribute[];
  /**
   * Plaintext material (e.g. Key Material bytes). Sealed before anything is stored; never
   * stored or kept in plaintext. The caller still owns the buffer and should wipe it.
   */
  readonly material?: Uint8Array;
}

/** A stored record, as get()/scan()/put()/update() return it. A fresh copy on every call. */
export interface VaultRecord {
  readonly tenant: string;
  readonly uid: string;
  readonly objectType: number;
  readonly state: number;
  readonly attributes: readonly KmipAttribute[];
  /** Record version: 1 at creation, +1 per committed update. Pass it as `expectedVersion`. */
  readonly version: number;
  /**
   * AAD version of the material envelope: 0 if the object never had material, 1 for the
   * first material, +1 each time update() replaces it. Kept after the material is destroyed.
   */
  readonly materialVersion: number;
  /** The sealed envelope (src/vault/envelope.ts), undefined when there is no material. */
  readonly sealedMaterial: Buffer | undefined;
}

/** What an update mutator returns: the fields to change (absent = unchanged). */
export interface VaultChanges {
  readonly state?: number;
  /** The complete new attribute list (replaces the old one). */
  readonly attributes?: readonly KmipAttribute[];
  /**
   * `null`: destroy the material (KMIP Destroy keeps the object's metadata, 1.4 §4.21).
   * A Uint8Array: replace the material (re-seal, materialVersion + 1); caller wipes it.
   */
  readonly material?: Uint8Array | null;
}

/**
 * Computes the change from the current record, or returns undefined for "no change".
 * May run more than once (optimistic retry after a concurrent update), so it must not have
 * side effects that cannot be repeated. Throwing aborts the update with that error.
 */
export type VaultMutator = (current: VaultRecord) => VaultChanges | undefined | Promise<VaultChanges | undefined>;

/** Index-backed criteria; all given ones must match (intersection). */
export interface VaultFilter {
  /** Matches any Name attribute instance whose Name Value equals this exactly. */
  readonly name?: string;
  /** Matches any Object Group attribute instance equal to this exactly. */
  readonly objectGroup?: string;
  readonly objectType?: number;
  readonly state?: number;
}

/** Paging of findUids (KMIP Locate Offset Items / Maximum Items, 2.1 §6.1.27). */
export interface VaultPage {
  readonly offset?: number;
  readonly limit?: number;
  /**
   * Start after this uid (exclusive), in uid order: a cursor, so that a caller can list a large tenant in pages
   * without the O(offset) skip of `offset` (issue 15: Locate lists its candidates a page per event-loop turn).
   */
  readonly after?: string;
}

export interface VersionCondition {
  /** Fail with CONFLICT unless the record is at exactly this version. */
  readonly expectedVersion?: number;
}

export interface ObjectStore {
  /**
   * Stores a new record. Resolves after a durable commit with the stored record (version 1).
   * @throws VaultError EXISTS (uid taken in this tenant) | INVALID_RECORD | LIMIT_EXCEEDED | CLOSED
   */
  put(obj: NewVaultObject): Promise<VaultRecord>;
  /**
   * Stores several records atomically (all or none) in one commit, e.g. the two halves of
   * Create Key Pair. Same errors as put(); EXISTS if any uid is taken (or repeated in the batch).
   */
  putMany(objs: readonly NewVaultObject[]): Promise<VaultRecord[]>;
  /** The record, or undefined if this tenant has no object with that uid (including malformed uids). */
  get(tenant: string, uid: string): VaultRecord | undefined;
  /**
   * Optimistic read-modify-write: reads, calls `mutator`, commits if the record is still at
   * the version read, else retries (up to MAX_UPDATE_ATTEMPTS). With `expectedVersion`, never
   * retries: a different version is a CONFLICT. Resolves after a durable commit.
   * @throws VaultError NOT_FOUND | CONFLICT | INVALID_RECORD | LIMIT_EXCEEDED | CLOSED, or what the mutator throws
   */
  update(tenant: string, uid: string, mutator: VaultMutator, options?: VersionCondition): Promise<VaultRecord>;
  /**
   * Removes the record and its index entries. Resolves true after a durable commit, false if
   * there was no such record. @throws VaultError CONFLICT (expectedVersion mismatch) | CLOSED
   */
  delete(tenant: string, uid: string, options?: VersionCondition): Promise<boolean>;
  /**
   * UIDs of this tenant's records matching every given criterion, in ascending uid byte order
   * (creation order for server-assigned UUIDv7 UIDs). With no criteria, all of the tenant's UIDs.
   */
  findUids(tenant: string, filter?: VaultFilter, page?: VaultPage): string[];
  /** Every record of this tenant, lazily, in uid order (for criteria the indexes do not cover). */
  scan(tenant: string): IterableIterator<VaultRecord>;
  /** Number of records of one tenant, or of the whole store when tenant is omitted. */
  count(tenant?: string): number;
  /**
   * The record like `get`, but without a copy: the store's own object, shared with later readers, which the caller
   * must not change (the request path reads a record once per batch item and only reads it: issue 14).
   */
  peek(tenant: string, uid: string): Readonly<VaultRecord> | undefined;
  /**
   * Opens the record's material. Returns a fresh plaintext buffer the caller must wipe
   * (`fill(0)`), or undefined when the record has no material.
   * @throws EnvelopeError WRONG_KEY | TAMPERED | UNKNOWN_VERSION | MALFORMED
   */
  openMaterial(record: Readonly<VaultRecord>): Promise<Buffer | undefined>;
  /**
   * {@link openMaterial} without a promise when the tenant's KEK is at hand (a native slot), a Promise only when it
   * must wait (the tenant's first use activates it): the request path's form (issue 14, no await on synchronous
   * work). Errors are thrown, or rejected when it waited.
   */
  openMaterialNow(record: Readonly<VaultRecord>): Buffer | undefined | Promise<Buffer | undefined>;
  /** Waits for pending commits, then releases the store. Further calls throw CLOSED. */
  close(): Promise<void>;
}
