/**
 * The operations' view of storage: what a handler needs from the vault, and nothing more
 * (STYLE.md "the core interface is documented like a spec").
 *
 * Every call is scoped by tenant (issue 2 §7, ARCHITECTURE.md §4): a handler only ever passes
 * `ctx.principal.tenant`, so another tenant's object is exactly as absent as a UID that was
 * never issued — Item Not Found, also in Locate.
 *
 * Durability contract: `create`, `update` and `remove` resolve only after the store's durable
 * commit, because mutating KMIP operations answer only after it (issue 2 §6).
 *
 * The LMDB vault (src/vault) implements this through an adapter in services.ts; the
 * {@link MemoryObjectStore} below is the reference implementation the unit tests run against.
 */
import type { KmipAttribute } from '../../kmip/attributes.js';
import { KMIP_2_1 } from '../../kmip/message.js';
import { decodeManagedObject, encodeManagedObject } from '../../kmip/payloads/objects.js';
import type { ManagedObject } from '../../kmip/payloads/objects.js';
import { Tag } from '../../kmip/registry.js';
import { decodeTtlv } from '@openkcm/ttlv';
import { encodeTtlv } from '@openkcm/ttlv';
import { ItemType } from '@openkcm/ttlv';

/** One managed object as the operations see it. */
export interface ManagedObjectRecord {
  readonly uid: string;
  readonly objectType: number;
  /**
   * Every attribute of the object, server-managed ones included (Unique Identifier, Object
   * Type, State, the dates, Digest...), in the internal model of src/kmip/attributes.ts. The
   * order is the order of first appearance; instances of a multi-valued attribute keep their
   * order, which is their 1.x Attribute Index.
   */
  attributes: KmipAttribute[];
  /**
   * Whether the store holds the object's content (Key Block, Opaque Data, raw certificate...).
   * False once the object is destroyed: KMIP 2.1 §6.1.15 "the key material ... SHALL be
   * destroyed or rendered inaccessible. The meta-data ... SHALL be retained".
   */
  hasObject: boolean;
  /**
   * The content, when it was asked for (`get(..., { withObject: true })`) and exists. Reading
   * it means unsealing key material, so only the operations that need it ask (Get, Destroy
   * under Undo); attribute operations and Locate never bring plaintext into memory.
   */
  object: ManagedObject | undefined;
  /**
   * The content as the store keeps it — its TTLV encoding (the KMIP 2.1 form of the object structure) — when it was
   * asked for with `withObject: 'stored'` (Get: a plain Get answers with these bytes as they are, issue 14). The
   * plaintext of a key: whoever asks for it owns it.
   */
  stored?: Uint8Array;
  /**
   * The store's version of the record when it was read (absent on new records). `update`
   * refuses a record whose version is no longer current ({@link StoreConflictError}), so two
   * concurrent read-modify-writes of one object cannot lose an update.
   */
  readonly version?: number;
}

/** `update` of a record that changed since it was read (optimistic concurrency). */
export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
}

/** Index hints for Locate. The store returns a SUPERSET of the matches; handlers re-check all. */
export interface LocateHint {
  readonly objectType?: number;
  /** Name Value of a Name attribute. */
  readonly name?: string;
  /** Object Group value. */
  readonly group?: string;
  readonly state?: number;
}

/**
 * What of the content a read returns: nothing (attributes only), the decoded object (`true`), or the stored TTLV
 * bytes (`'stored'`, see ManagedObjectRecord.stored).
 */
export type ContentWanted = boolean | 'stored';

export interface ReadOptions {
  readonly withObject?: ContentWanted;
}

export interface ObjectStore {
  /** The object, or undefined when this tenant has no object with this UID. */
  get(tenant: string, uid: string, opts?: ReadOptions): Promise<ManagedObjectRecord | undefined>;
  /**
   * {@link get} answering synchronously when nothing below it has to wait (a cached record, a key at hand): the
   * request path's form (issue 14, no await on synchronous work). A Promise only when it had to wait; errors are
   * thrown, or rejected when it waited.
   */
  read(tenant: string, uid: string, opts?: ReadOptions): ManagedObjectRecord | undefined | Promise<ManagedObjectRecord | undefined>;
  /**
   * The content of a record this store returned from {@link read} or {@link get} without it: sets `object` (want
   * `true`) or `stored` (want `'stored'`) on `rec` and returns it, opened from exactly the version `rec` was read
   * at, without looking the record up again. Lets Get decide on the attributes first — authorization, Sensitive,
   * Extractable — and unseal only what it will serve (issue 14: one read per item; "policy before any crypto").
   * @throws StoreConflictError when that version is no longer available to this store
   */
  content(tenant: string, rec: ManagedObjectRecord, want: true | 'stored'): ManagedObjectRecord | Promise<ManagedObjectRecord>;
  /** Stores a new object; durable when the promise resolves. */
  create(tenant: string, record: ManagedObjectRecord): Promise<ManagedObjectRecord>;
  /**
   * Replaces an existing object (attributes and content); durable when the promise resolves.
   * Rejects with StoreConflictError when `record.version` is set and is not the stored version
   * (without a version — Undo restoring a snapshot — it overwrites).
   */
  update(tenant: string, record: ManagedObjectRecord): Promise<void>;
  /** Removes an object entirely. Only Undo of a Create/Register uses it (Destroy keeps metadata). */
  remove(tenant: string, uid: string): Promise<void>;
  /** Candidate UIDs for Locate, most recently created first (KMIP 2.1 §6.1.28 answer order). */
  findUids(tenant: string, hint: LocateHint): Promise<string[]>;
}

/** The stored form of an object (ManagedObjectRecord.stored): its KMIP 2.1 TTLV encoding, as the vault keeps it. */
export function storedForm(o: ManagedObject): Buffer {
  return encodeTtlv(encodeManagedObject(o, KMIP_2_1));
}

/** An object from its stored form (the inverse of {@link storedForm}). */
export function fromStoredForm(bytes: Uint8Array, objectType: number): ManagedObject {
  const item = decodeTtlv(bytes);
  if (item.type !== ItemType.Structure) throw new Error('stored object is not a structure');
  // decodeTtlv copies byte strings, so the caller may wipe `bytes` afterwards. The object is read as the payload
  // that carries it (decodeManagedObject finds it by its tag there).
  return decodeManagedObject({ tag: Tag.ResponsePayload, type: ItemType.Structure, value: [item] }, objectType, KMIP_2_1);
}

/** Deep-enough copy so a caller mutating its record never changes the stored one. */
export function cloneRecord<T extends ManagedObjectRecord>(r: T): T {
  return Object.assign({}, r, { attributes: r.attributes.map((a) => ({ ...a })) });
}

/** The record without its version, for writes that must not be version-checked (Undo). */
export function unversioned(r: ManagedObjectRecord): ManagedObjectRecord {
  return { uid: r.uid, objectType: r.objectType, attributes: r.attributes, hasObject: r.hasObject, object: r.object };
}

interface MemoryEntry { readonly record: ManagedObjectRecord; readonly seq: number }

/**
 * In-memory ObjectStore: the reference semantics for tests (and a development server without
 * a data directory). "Durable" here means "visible to the next call".
 */
export class MemoryObjectStore implements ObjectStore {
  readonly #tenants = new Map<string, Map<string, MemoryEntry>>();
  /** Creation order, for "most recently created first". */
  #seq = 0;

  #tenant(tenant: string): Map<string, MemoryEntry> {
    let t = this.#tenants.get(tenant);
    if (t === undefined) {
      t = new Map();
      this.#tenants.set(tenant, t);
    }
    return t;
  }

  get(tenant: string, uid: string, opts: ReadOptions = {}): Promise<ManagedObjectRecord | undefined> {
    try {
      return Promise.resolve(this.read(tenant, uid, opts));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  read(tenant: string, uid: string, opts: ReadOptions = {}): ManagedObjectRecord | undefined {
    const e = this.#tenants.get(tenant)?.get(uid);
    if (e === undefined) return undefined;
    const r = cloneRecord(e.record);
    if (opts.withObject === 'stored' && r.object !== undefined) r.stored = storedForm(r.object);
    if (opts.withObject !== true) r.object = undefined;
    return r;
  }

  content(tenant: string, rec: ManagedObjectRecord, want: true | 'stored'): ManagedObjectRecord {
    const cur = this.#tenants.get(tenant)?.get(rec.uid)?.record;
    if (cur === undefined || cur.version !== rec.version) throw new StoreConflictError(`object ${rec.uid} changed since it was read`);
    const object = cur.object === undefined ? undefined : cloneRecord(cur).object;
    if (object !== undefined) {
      if (want === 'stored') rec.stored = storedForm(object);
      else rec.object = object;
    }
    return rec;
  }

  create(tenant: string, record: ManagedObjectRecord): Promise<ManagedObjectRecord> {
    const t = this.#tenant(tenant);
    if (t.has(record.uid)) return Promise.reject(new Error(`object ${record.uid} already exists`));
    const stored: ManagedObjectRecord = Object.assign(cloneRecord(unversioned(record)), { version: 1 });
    t.set(record.uid, { record: stored, seq: ++this.#seq });
    return Promise.resolve(cloneRecord(stored));
  }

  update(tenant: string, record: ManagedObjectRecord): Promise<void> {
    const t = this.#tenant(tenant);
    const old = t.get(record.uid);
    if (old === undefined) return Promise.reject(new Error(`object ${record.uid} does not exist`));
    const current = old.record.version ?? 1;
    if (record.version !== undefined && record.version !== current) {
      return Promise.reject(new StoreConflictError(`object ${record.uid} changed since it was read`));
    }
    // A record read without its object keeps the stored one (unless it was destroyed).
    const object = record.hasObject ? record.object ?? old.record.object : undefined;
    t.set(record.uid, { record: Object.assign(cloneRecord(unversioned(record)), { object, version: current + 1 }), seq: old.seq });
    return Promise.resolve();
  }

  remove(tenant: string, uid: string): Promise<void> {
    this.#tenants.get(tenant)?.delete(uid);
    return Promise.resolve();
  }

  findUids(tenant: string, hint: LocateHint): Promise<string[]> {
    const t = this.#tenants.get(tenant);
    if (t === undefined) return Promise.resolve([]);
    // Only the Object Type hint is applied; the rest of the scan is a valid superset, as the
    // handler applies every criterion.
    const all = [...t.values()].filter((e) => hint.objectType === undefined || e.record.objectType === hint.objectType);
    return Promise.resolve(all.sort((a, b) => b.seq - a.seq).map((e) => e.record.uid));
  }
}
