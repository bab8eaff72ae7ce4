/**
 * In-memory ObjectStore for tests and small tools. Same record logic, key layout and record
 * encoding as the LMDB vault (src/vault/base-vault.ts), so it behaves identically — including
 * sealing material — minus durability. Not for production: nothing survives the process.
 */
import { BaseVault } from './base-vault.js';
import type { BaseVaultOptions, EngineCondition, EngineEntry, EngineOp, VaultDb, VaultEngine } from './base-vault.js';
import type { KekProvider, KekResolver } from './kek.js';
import { NodeCryptoKekProvider } from './kek.js';

/**
 * One ordered table: keys are kept as latin1 strings, whose UTF-16 code units are the key bytes,
 * so JS string order is unsigned byte order (the order LMDB uses).
 */
class SortedTable {
  readonly #sorted: string[] = [];
  readonly #map = new Map<string, EngineEntry>();

  get size(): number {
    return this.#map.size;
  }

  #lowerBound(k: string): number {
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#sorted[mid] ?? '') < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get(k: string): EngineEntry | undefined {
    return this.#map.get(k);
  }

  set(k: string, e: EngineEntry): void {
    if (!this.#map.has(k)) this.#sorted.splice(this.#lowerBound(k), 0, k);
    this.#map.set(k, e);
  }

  delete(k: string): void {
    if (!this.#map.delete(k)) return;
    this.#sorted.splice(this.#lowerBound(k), 1);
  }

  /** Snapshot of the keys in [start, end): later writes do not disturb an iteration in progress. */
  range(start: string, end: string | undefined): string[] {
    const from = this.#lowerBound(start);
    const to = end === undefined ? this.#sorted.length : this.#lowerBound(end);
    return this.#sorted.slice(from, to);
  }
}

const key = (b: Buffer): string => b.toString('latin1');

class MemoryEngine implements VaultEngine {
  readonly #tables = new Map<VaultDb, SortedTable>();

  #table(db: VaultDb): SortedTable {
    let t = this.#tables.get(db);
    if (t === undefined) {
      t = new SortedTable();
      this.#tables.set(db, t);
    }
    return t;
  }

  read(k: Buffer): EngineEntry | undefined {
    const e = this.#table('objects').get(key(k));
    // Copy out, like a read from disk: callers can never alias the stored bytes.
    return e === undefined ? undefined : { value: Buffer.from(e.value), version: e.version };
  }

  has(db: VaultDb, k: Buffer): boolean {
    return this.#table(db).get(key(k)) !== undefined;
  }

  *keys(db: VaultDb, start: Buffer, end: Buffer | undefined): Iterable<Buffer> {
    for (const k of this.#table(db).range(key(start), end === undefined ? undefined : key(end))) yield Buffer.from(k, 'latin1');
  }

  *entries(start: Buffer, end: Buffer | undefined): Iterable<{ key: Buffer; value: Buffer; version: number }> {
    const t = this.#table('objects');
    for (const k of t.range(key(start), end === undefined ? undefined : key(end))) {
      const e = t.get(k);
      if (e !== undefined) yield { key: Buffer.from(k, 'latin1'), value: Buffer.from(e.value), version: e.version };
    }
  }

  count(db: VaultDb, start?: Buffer, end?: Buffer): number {
    const t = this.#table(db);
    if (start === undefined) return t.size;
    return t.range(key(start), end === undefined ? undefined : key(end)).length;
  }

  commit(conditions: readonly EngineCondition[], ops: readonly EngineOp[]): Promise<boolean> {
    const objects = this.#table('objects');
    for (const c of conditions) {
      if (objects.get(key(c.key))?.version !== c.version) return Promise.resolve(false);
    }
    for (const op of ops) {
      const t = this.#table(op.db);
      if ('remove' in op) t.delete(key(op.key));
      else t.set(key(op.key), { value: Buffer.from(op.value), version: op.version ?? 0 });
    }
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    this.#tables.clear();
    return Promise.resolve();
  }
}

export class MemoryVault extends BaseVault {
  /** `kek` (a provider or a per-tenant resolver) defaults to a fresh random in-memory key (id 'memory'). */
  constructor(kek: KekProvider | KekResolver = NodeCryptoKekProvider.random('memory'), options: BaseVaultOptions = {}) {
    super(new MemoryEngine(), kek, options);
  }
}
