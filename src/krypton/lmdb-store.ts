/**
 * The embedded HierarchyStore: one LMDB environment holding one record per tenant (ARCHITECTURE §1: krypton's
 * state is wrapped L2/L3 blobs; Postgres in a cluster, LMDB on a single appliance).
 *
 * Durability is the vault's (src/vault/vault.ts, docs/vault.md "Durability"), each setting explicit so an lmdb-js
 * default cannot weaken it: overlappingSync false (a write's promise resolves only after fdatasync, so an
 * acknowledged rotation or revocation survives a crash), noSync/noMetaSync false, useWritemap false, noMemInit
 * false, compression false, group commit per event turn.
 *
 * Compare-and-swap: the record's `revision` is stored as the LMDB entry version, and `update` runs inside an
 * lmdb-js `ifVersion` conditional block, checked at commit time on the write thread (lmdb-js `transaction(cb)`
 * hangs in our environment, see vault.ts). `create` uses `ifNoExists`.
 */
import { ensureOwnerOnlyDir } from '../common/secure-fs.js';
import { getLastVersion, IF_EXISTS, open as openLmdb } from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import { DURABLE_LMDB_OPTIONS } from '../vault/vault.js';
import { decodeHierarchy, encodeHierarchy } from './record.js';
import { HierarchyStoreError } from './types.js';
import type { HierarchyStore, TenantHierarchy } from './types.js';

/** On-disk layout version of the store's databases, kept in `meta`. */
export const HIERARCHY_STORE_FORMAT = 1;
const FORMAT_KEY = Buffer.from('format', 'latin1');
/** Address space, not disk: LMDB maps lazily. Records are a few KiB each; 256 MiB holds ~10^5 tenants. */
export const DEFAULT_HIERARCHY_MAP_SIZE = 256 * 1024 * 1024;

type BinDb = Database<Buffer, Buffer>;

export class LmdbHierarchyStore implements HierarchyStore {
  readonly path: string;
  readonly #root: RootDatabase<Buffer, Buffer>;
  readonly #db: BinDb;
  #closed = false;

  private constructor(path: string, root: RootDatabase<Buffer, Buffer>, db: BinDb) {
    this.path = path;
    this.#root = root;
    this.#db = db;
  }

  /** Opens (creating with mode 0700 if absent) the store in directory `path`. */
  static async open(path: string, options: { mapSize?: number } = {}): Promise<LmdbHierarchyStore> {
    ensureOwnerOnlyDir(path);
    const root = openLmdb<Buffer, Buffer>({
      path,
      maxDbs: 4,
      mapSize: options.mapSize ?? DEFAULT_HIERARCHY_MAP_SIZE,
      ...DURABLE_LMDB_OPTIONS,
    });
    try {
      const meta = root.openDB<Buffer, Buffer>('meta', { keyEncoding: 'binary', encoding: 'binary' });
      const stored = meta.getBinary(FORMAT_KEY);
      if (stored === undefined) {
        const v = Buffer.alloc(4);
        v.writeUInt32BE(HIERARCHY_STORE_FORMAT);
        await meta.put(FORMAT_KEY, v);
      } else if (stored.length !== 4 || stored.readUInt32BE(0) !== HIERARCHY_STORE_FORMAT) {
        throw new HierarchyStoreError('INVALID', `${path} holds hierarchy store format ${stored.length === 4 ? String(stored.readUInt32BE(0)) : '?'}; this openkcm reads ${String(HIERARCHY_STORE_FORMAT)}`);
      }
      const db = root.openDB<Buffer, Buffer>('hierarchy', { keyEncoding: 'binary', encoding: 'binary', useVersions: true });
      return new LmdbHierarchyStore(path, root, db);
    } catch (e) {
      await root.close();
      throw e;
    }
  }

  #check(): void {
    if (this.#closed) throw new HierarchyStoreError('CLOSED', 'the hierarchy store is closed');
  }

  static #key(tenant: string): Buffer {
    return Buffer.from(tenant, 'utf8');
  }

  async create(record: TenantHierarchy): Promise<void> {
    this.#check();
    if (record.revision !== 1) throw new HierarchyStoreError('INVALID', `a new record has revision 1, got ${String(record.revision)}`);
    const value = encodeHierarchy(record);
    const key = LmdbHierarchyStore.#key(record.tenant);
    const db = this.#db;
    const ok = await db.ifNoExists(key, () => { void db.put(key, value, 1); });
    if (!ok) throw new HierarchyStoreError('EXISTS', `tenant '${record.tenant}' already has a hierarchy`);
  }

  get(tenant: string): Promise<TenantHierarchy | undefined> {
    try {
      this.#check();
      const raw = this.#db.getBinary(LmdbHierarchyStore.#key(tenant));
      if (raw === undefined) return Promise.resolve(undefined);
      const record = decodeHierarchy(raw);
      const version = getLastVersion();
      if (version !== record.revision) {
        throw new HierarchyStoreError('INVALID', `stored record of '${tenant}' has revision ${String(record.revision)} but entry version ${String(version)}`);
      }
      return Promise.resolve(record);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  async update(next: TenantHierarchy): Promise<void> {
    this.#check();
    const value = encodeHierarchy(next);
    if (next.revision < 2) throw new HierarchyStoreError('INVALID', `an updated record has revision >= 2, got ${String(next.revision)}`);
    const key = LmdbHierarchyStore.#key(next.tenant);
    const db = this.#db;
    const ok = await db.ifVersion(key, next.revision - 1, () => { void db.put(key, value, next.revision); });
    if (ok) return;
    if (!db.doesExist(key)) throw new HierarchyStoreError('NOT_FOUND', `tenant '${next.tenant}' has no hierarchy`);
    throw new HierarchyStoreError('CONFLICT', `tenant '${next.tenant}' changed since revision ${String(next.revision - 1)}`);
  }

  async delete(tenant: string): Promise<boolean> {
    this.#check();
    // lmdb-js resolves a plain remove() true even for an absent key; the IF_EXISTS condition tells them apart.
    const key = LmdbHierarchyStore.#key(tenant);
    const db = this.#db;
    return await db.ifVersion(key, IF_EXISTS, () => { void db.remove(key); });
  }

  list(): Promise<string[]> {
    try {
      this.#check();
      // LMDB keeps keys in byte order: UTF-8 byte order = code point order (Postgres: COLLATE "C").
      return Promise.resolve(Array.from(this.#db.getKeys(), (k) => k.toString('utf8')));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#root.close();
  }
}
