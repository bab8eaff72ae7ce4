/**
 * The storage engine under BaseVault (src/vault/base-vault.ts): ordered binary keys with versions and an atomic
 * conditional batch. `Vault` (LMDB) and `MemoryVault` implement it.
 */
/** The databases of a vault: the records and one database per secondary index. */
export type VaultDb = 'objects' | 'byName' | 'byGroup' | 'byType' | 'byState';
export const INDEX_DBS = ['byName', 'byGroup', 'byType', 'byState'] as const satisfies readonly VaultDb[];

export interface EngineEntry {
  readonly value: Buffer;
  readonly version: number;
}

export type EngineOp =
  | { readonly db: VaultDb; readonly key: Buffer; readonly value: Buffer; readonly version?: number }
  | { readonly db: VaultDb; readonly key: Buffer; readonly remove: true };

/** A precondition on an `objects` key: at exactly `version`, or absent when version is undefined. */
export interface EngineCondition {
  readonly key: Buffer;
  readonly version: number | undefined;
}

/**
 * Storage engine contract:
 * - keys are byte strings ordered by unsigned byte comparison; `objects` entries carry a version;
 * - `commit` applies all `ops` in one atomic, durable transaction if and only if every
 *   condition holds at commit time, and resolves true; otherwise applies nothing and resolves false;
 * - reads see every commit whose promise has resolved.
 */
export interface VaultEngine {
  /** The `objects` entry; its `value` may be a view that the next engine call overwrites: decode it at once. */
  read(key: Buffer): EngineEntry | undefined;
  has(db: VaultDb, key: Buffer): boolean;
  /** Keys in [start, end), ascending. Returned buffers may be reused after the next step. */
  keys(db: VaultDb, start: Buffer, end: Buffer | undefined): Iterable<Buffer>;
  /** `objects` entries in [start, end), ascending. */
  entries(start: Buffer, end: Buffer | undefined): Iterable<{ key: Buffer; value: Buffer; version: number }>;
  count(db: VaultDb, start?: Buffer, end?: Buffer): number;
  commit(conditions: readonly EngineCondition[], ops: readonly EngineOp[]): Promise<boolean>;
  close(): Promise<void>;
}
