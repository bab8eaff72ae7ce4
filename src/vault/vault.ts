/**
 * The durable vault of KMIP managed objects: one LMDB environment in a data directory
 * (ARCHITECTURE §1 gateway state, §7 src/vault). Record logic lives in base-vault.ts; this file
 * is the LMDB engine and its settings.
 *
 * Durability settings (docs/vault.md "Durability"), each explicit so a default change in
 * lmdb-js cannot silently weaken them:
 * - overlappingSync: false. lmdb-js enables it by default on Linux; then a write's promise
 *   resolves when the commit is *visible*, and the fsync happens afterwards. KMIP Create/Register/
 *   Destroy must not be acknowledged before they are on disk, so we turn it off: the commit
 *   (pwrite pages, fdatasync, meta page through an O_DSYNC descriptor) finishes before lmdb-js
 *   resolves the promise. Verified with strace: one fdatasync per commit.
 * - noSync: false, noMetaSync: false: the fsyncs above actually happen.
 * - useWritemap: false: a stray write through a writable map could corrupt the file; the
 *   default malloc'ed-page path keeps the map read-only (LMDB docs, MDB_WRITEMAP).
 * - noMemInit: false: free space in pages is zeroed, so no stale heap bytes reach the file.
 * - compression: false: envelopes are random bytes (nothing to gain); avoids a length side channel.
 * - eventTurnBatching (default true), commitDelay 0: every write issued in one event-loop turn
 *   goes into one transaction and one fsync — group commit, which is what makes durable writes cheap
 *   under load (perf/vault.bench.ts).
 * Atomicity: a record and all of its index entries are written inside one lmdb-js conditional
 * block (`ifNoExists` / `ifVersion`), which lmdb-js executes in one write transaction on its write
 * thread, checking the condition at commit time: a crash leaves all of it or none of it.
 * (lmdb-js async `transaction(callback)` is not used: its callback needs a thread-safe N-API call
 * that hangs in our environment, and conditional blocks give optimistic concurrency without
 * holding the write lock while JS runs.)
 */
import { ensureOwnerOnlyDir } from '../common/secure-fs.js';
import { getLastVersion, open as openLmdb } from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import { BaseVault } from './base-vault.js';
import type { BaseVaultOptions, EngineCondition, EngineEntry, EngineOp, VaultDb, VaultEngine } from './base-vault.js';
import { VaultError } from './errors.js';
import type { KekProvider, KekResolver } from './kek.js';

/** On-disk layout version of the whole vault (databases and key layouts), kept in `meta`. */
export const VAULT_FORMAT = 1;
const FORMAT_KEY = Buffer.from('format', 'latin1');
/**
 * Initial map size. LMDB maps the file lazily and lmdb-js grows the map when a commit needs
 * more, so this is address space, not disk or RAM. 1 GiB avoids early remaps for typical vaults.
 */
export const DEFAULT_MAP_SIZE = 1024 * 1024 * 1024;
/**
 * The durability settings of the file comment, for every LMDB environment that must not acknowledge a write before
 * it is on disk (the vault, and krypton's hierarchy store: src/krypton/lmdb-store.ts).
 */
export const DURABLE_LMDB_OPTIONS = {
  overlappingSync: false,
  noSync: false,
  noMetaSync: false,
  useWritemap: false,
  noMemInit: false,
  compression: false,
  cache: false,
  eventTurnBatching: true,
  commitDelay: 0,
  keyEncoding: 'binary',
  encoding: 'binary',
} as const;

/** objects + 4 indexes + meta, plus headroom for a future index. */
const MAX_DBS = 8;

export interface VaultOptions extends BaseVaultOptions {
  /** Data directory (created with mode 0700 if absent); holds data.mdb and lock.mdb. */
  readonly path: string;
  /**
   * Seals and opens material (src/vault/kek.ts): one provider for every tenant, or a resolver
   * choosing per tenant (the key hierarchy: each tenant's L3, plus legacy keys while migrating).
   */
  readonly kek: KekProvider | KekResolver;
  /** Initial LMDB map size in bytes (default {@link DEFAULT_MAP_SIZE}). */
  readonly mapSize?: number;
}

type BinDb = Database<Buffer, Buffer>;

class LmdbEngine implements VaultEngine {
  readonly root: RootDatabase<Buffer, Buffer>;
  readonly #dbs: Record<VaultDb, BinDb>;

  constructor(root: RootDatabase<Buffer, Buffer>) {
    this.root = root;
    const sub = (name: string, useVersions = false): BinDb =>
      root.openDB<Buffer, Buffer>(name, { keyEncoding: 'binary', encoding: 'binary', useVersions });
    this.#dbs = {
      objects: sub('objects', true),
      byName: sub('idx-name'),
      byGroup: sub('idx-group'),
      byType: sub('idx-type'),
      byState: sub('idx-state'),
    };
  }

  read(key: Buffer): EngineEntry | undefined {
    // getBinaryFast returns a view of a shared buffer (no copy): valid until the next read,
    // which the engine contract allows; the version comes from the same native get.
    // The shared buffer only pretends to have `length`; subarray makes a true-length view.
    const shared = this.#dbs.objects.getBinaryFast(key);
    if (shared === undefined) return undefined;
    return { value: shared.subarray(0, shared.length), version: getLastVersion() };
  }

  has(db: VaultDb, key: Buffer): boolean {
    return this.#dbs[db].doesExist(key);
  }

  keys(db: VaultDb, start: Buffer, end: Buffer | undefined): Iterable<Buffer> {
    return this.#dbs[db].getKeys(end === undefined ? { start } : { start, end });
  }

  *entries(start: Buffer, end: Buffer | undefined): Iterable<{ key: Buffer; value: Buffer; version: number }> {
    const range = this.#dbs.objects.getRange(end === undefined ? { start, versions: true } : { start, end, versions: true });
    for (const e of range) yield { key: e.key, value: e.value, version: e.version ?? 0 };
  }

  count(db: VaultDb, start?: Buffer, end?: Buffer): number {
    if (start === undefined) return this.#dbs[db].getKeysCount();
    return this.#dbs[db].getKeysCount(end === undefined ? { start } : { start, end });
  }

  commit(conditions: readonly EngineCondition[], ops: readonly EngineOp[]): Promise<boolean> {
    const objects = this.#dbs.objects;
    const write = (): void => {
      for (const op of ops) {
        const db = this.#dbs[op.db];
        if ('remove' in op) void db.remove(op.key);
        else if (op.version !== undefined) void db.put(op.key, op.value, op.version);
        else void db.put(op.key, op.value);
      }
    };
    // Nested conditional blocks: the writes run only if every condition holds at commit time,
    // all inside the one write transaction of this event turn. lmdb-js resolves the nested
    // promises in an unspecified order, so success is "every condition resolved true".
    const results: Promise<boolean>[] = [];
    const nest = (i: number): void => {
      const c = conditions[i];
      if (c === undefined) {
        write();
        return;
      }
      results.push(c.version === undefined
        ? objects.ifNoExists(c.key, () => { nest(i + 1); })
        : objects.ifVersion(c.key, c.version, () => { nest(i + 1); }));
    };
    nest(0);
    if (results.length === 0) {
      // No condition: the writes above were queued into this event turn's transaction.
      return this.root.committed.then(() => true);
    }
    // One condition (every put, update and delete of one record): its own promise, nothing to gather.
    const [only] = results;
    if (results.length === 1 && only !== undefined) return only;
    return Promise.all(results).then((rs) => rs.every(Boolean));
  }

  close(): Promise<void> {
    return this.root.close();
  }
}

export class Vault extends BaseVault {
  readonly path: string;
  readonly #engine: LmdbEngine;

  private constructor(engine: LmdbEngine, kek: KekProvider | KekResolver, path: string, options: BaseVaultOptions) {
    super(engine, kek, options);
    this.#engine = engine;
    this.path = path;
  }

  /**
   * Opens (creating if needed) the vault in `options.path`.
   * @throws VaultError UNSUPPORTED_FORMAT if the directory holds another vault format
   */
  static async open(options: VaultOptions): Promise<Vault> {
    // The directory holds metadata in the clear (names, groups): keep it private even if it
    // pre-existed with a looser mode.
    ensureOwnerOnlyDir(options.path);
    const root = openLmdb<Buffer, Buffer>({
      path: options.path,
      maxDbs: MAX_DBS,
      mapSize: options.mapSize ?? DEFAULT_MAP_SIZE,
      ...DURABLE_LMDB_OPTIONS,
    });
    const engine = new LmdbEngine(root);
    try {
      const meta = root.openDB<Buffer, Buffer>('meta', { keyEncoding: 'binary', encoding: 'binary' });
      const stored = meta.getBinary(FORMAT_KEY);
      if (stored === undefined) {
        const v = Buffer.alloc(4);
        v.writeUInt32BE(VAULT_FORMAT);
        await meta.put(FORMAT_KEY, v);
      } else if (stored.length !== 4 || stored.readUInt32BE(0) !== VAULT_FORMAT) {
        throw new VaultError('UNSUPPORTED_FORMAT', `${options.path} holds vault format ${stored.length === 4 ? stored.readUInt32BE(0) : '?'}; this openkcm reads format ${VAULT_FORMAT}`);
      }
    } catch (e) {
      await root.close();
      throw e;
    }
    return new Vault(engine, options.kek, options.path, options.logger === undefined ? {} : { logger: options.logger });
  }

  /** LMDB environment statistics (page counts, entries), for metrics and the benchmark. */
  stats(): unknown {
    return this.#engine.root.getStats();
  }
}
