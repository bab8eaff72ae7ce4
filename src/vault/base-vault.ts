/**
 * The record logic shared by every ObjectStore implementation, over a minimal storage engine:
 * validation, UID assignment, sealing, index derivation, optimistic updates and index-intersecting
 * lookups are written once; an engine only stores ordered binary keys with versions and applies
 * a conditional batch atomically. `Vault` (LMDB) and `MemoryVault` differ only in their engine.
 */
import type { KmipAttribute } from '../kmip/attributes.js';
import { Tag } from '../kmip/registry.generated.js';
import { ItemType } from '../ttlv/types.js';
import { decodeRecordValue, encodeRecordValue } from './codec.js';
import type { RecordValue } from './codec.js';
import { open as openEnvelope, seal as sealEnvelope } from './envelope.js';
import { VaultError } from './errors.js';
import type { KekProvider } from './kek.js';
import { enumIndexPrefix, objectKey, prefixEnd, tenantPrefix, textIndexPrefix, uidBytes } from './keys.js';
import { MAX_MATERIAL_BYTES, MAX_PUT_MANY_OBJECTS, MAX_UPDATE_ATTEMPTS } from './limits.js';
import type {
  NewVaultObject, ObjectStore, VaultChanges, VaultFilter, VaultMutator, VaultPage, VaultRecord, VersionCondition,
} from './store.js';
import { newUid } from './uid.js';

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

/**
 * Attributes that are record fields. Refused in `attributes` so that there is one source of
 * truth: a State attribute disagreeing with the indexed state would make Locate lie.
 */
const RESERVED_ATTRIBUTES: ReadonlySet<string> = new Set(['Unique Identifier', 'Object Type', 'State']);
const UINT32_MAX = 0xffffffff;
const EMPTY = Buffer.alloc(0);

function isUint32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= UINT32_MAX;
}

/** Name Values (KMIP 1.4 §3.2) and Object Groups (§3.33) of an attribute list, deduplicated. */
export function indexTerms(attributes: readonly KmipAttribute[]): { names: string[]; groups: string[] } {
  const names = new Set<string>();
  const groups = new Set<string>();
  for (const a of attributes) {
    const v = a.value;
    if (v.tag === Tag.Name && v.type === ItemType.Structure) {
      for (const c of v.value) if (c.tag === Tag.NameValue && c.type === ItemType.TextString) names.add(c.value);
    } else if (v.tag === Tag.ObjectGroup && v.type === ItemType.TextString) {
      groups.add(v.value);
    }
  }
  return { names: [...names], groups: [...groups] };
}

interface IndexKey {
  readonly db: VaultDb;
  readonly key: Buffer;
}

/** Every index entry a record implies. A consistent store holds exactly these for each record. */
export function indexKeysOf(tenant: string, uid: string, objectType: number, state: number, attributes: readonly KmipAttribute[]): IndexKey[] {
  const u = uidBytes(uid);
  const { names, groups } = indexTerms(attributes);
  const out: IndexKey[] = [];
  for (const n of names) out.push({ db: 'byName', key: Buffer.concat([textIndexPrefix(tenant, n), u]) });
  for (const g of groups) out.push({ db: 'byGroup', key: Buffer.concat([textIndexPrefix(tenant, g), u]) });
  out.push({ db: 'byType', key: Buffer.concat([enumIndexPrefix(tenant, objectType), u]) });
  out.push({ db: 'byState', key: Buffer.concat([enumIndexPrefix(tenant, state), u]) });
  return out;
}

function indexId(k: IndexKey): string {
  return `${k.db}:${k.key.toString('latin1')}`;
}

function checkAttributes(attributes: readonly KmipAttribute[]): void {
  if (!Array.isArray(attributes)) throw new VaultError('INVALID_RECORD', 'attributes must be an array');
  for (const a of attributes as readonly KmipAttribute[]) {
    if (RESERVED_ATTRIBUTES.has(a.name)) {
      throw new VaultError('INVALID_RECORD', `'${a.name}' is a record field (uid/objectType/state), not an attribute to store`);
    }
  }
}

function checkMaterial(material: Uint8Array): void {
  if (!(material instanceof Uint8Array)) throw new VaultError('INVALID_RECORD', 'material must be a Uint8Array');
  if (material.length > MAX_MATERIAL_BYTES) {
    throw new VaultError('LIMIT_EXCEEDED', `material of ${material.length} bytes exceeds the limit of ${MAX_MATERIAL_BYTES}`);
  }
}

/** Problems found by checkIntegrity(), one line each. */
export interface IntegrityReport {
  readonly records: number;
  readonly indexEntries: number;
  readonly problems: string[];
}

export class BaseVault implements ObjectStore {
  readonly kek: KekProvider;
  readonly #engine: VaultEngine;
  #closed = false;

  protected constructor(engine: VaultEngine, kek: KekProvider) {
    this.#engine = engine;
    this.kek = kek;
  }

  #alive(): VaultEngine {
    if (this.#closed) throw new VaultError('CLOSED', 'the vault is closed');
    return this.#engine;
  }

  // ---- writes -----------------------------------------------------------------------------

  async put(obj: NewVaultObject): Promise<VaultRecord> {
    const [r] = await this.putMany([obj]);
    if (r === undefined) throw new Error('putMany returned no record');
    return r;
  }

  async putMany(objs: readonly NewVaultObject[]): Promise<VaultRecord[]> {
    const engine = this.#alive();
    if (objs.length > MAX_PUT_MANY_OBJECTS) {
      throw new VaultError('LIMIT_EXCEEDED', `putMany of ${objs.length} records exceeds the limit of ${MAX_PUT_MANY_OBJECTS} per call`);
    }
    const seen = new Set<string>();
    const prepared = objs.map((o) => {
      if (!isUint32(o.objectType)) throw new VaultError('INVALID_RECORD', `objectType must be a uint32, got ${String(o.objectType)}`);
      if (!isUint32(o.state)) throw new VaultError('INVALID_RECORD', `state must be a uint32, got ${String(o.state)}`);
      checkAttributes(o.attributes);
      if (o.material !== undefined) checkMaterial(o.material);
      const uid = o.uid ?? newUid();
      const key = objectKey(o.tenant, uid);
      const id = key.toString('latin1');
      if (seen.has(id)) throw new VaultError('EXISTS', `uid ${uid} appears twice in one putMany batch`);
      seen.add(id);
      return { o, uid, key };
    });
    const records = await Promise.all(prepared.map(async ({ o, uid }): Promise<VaultRecord> => {
      const materialVersion = o.material === undefined ? 0 : 1;
      const sealedMaterial = o.material === undefined
        ? undefined
        : await sealEnvelope(this.kek, o.material, { tenant: o.tenant, uid, version: materialVersion });
      return {
        tenant: o.tenant, uid, objectType: o.objectType, state: o.state,
        attributes: o.attributes, version: 1, materialVersion, sealedMaterial,
      };
    }));
    const conditions: EngineCondition[] = [];
    const ops: EngineOp[] = [];
    for (const [i, r] of records.entries()) {
      const key = prepared[i]?.key ?? objectKey(r.tenant, r.uid);
      conditions.push({ key, version: undefined });
      ops.push({ db: 'objects', key, value: encodeRecordValue({ ...r, envelope: r.sealedMaterial }), version: 1 });
      for (const k of indexKeysOf(r.tenant, r.uid, r.objectType, r.state, r.attributes)) ops.push({ ...k, value: EMPTY });
    }
    if (!(await engine.commit(conditions, ops))) {
      const taken = prepared.find((p) => engine.read(p.key) !== undefined);
      throw new VaultError('EXISTS', `uid ${taken?.uid ?? '(one of the batch)'} already exists for this tenant`);
    }
    // Hand back copies so a caller mutating its input cannot change "the stored record" it holds.
    return records.map((r) => ({ ...r, attributes: [...r.attributes] }));
  }

  async update(tenant: string, uid: string, mutator: VaultMutator, options: VersionCondition = {}): Promise<VaultRecord> {
    const { expectedVersion } = options;
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const engine = this.#alive();
      const cur = this.#read(tenant, uid);
      if (cur === undefined) throw new VaultError('NOT_FOUND', `no object ${uid} for this tenant`);
      if (expectedVersion !== undefined && cur.record.version !== expectedVersion) {
        throw new VaultError('CONFLICT', `object ${uid} is at version ${cur.record.version}, not ${expectedVersion}`);
      }
      const changes: VaultChanges | undefined = await mutator(cur.record);
      if (changes === undefined) return cur.record;
      const next = await this.#apply(cur.record, changes);
      const ops: EngineOp[] = [
        { db: 'objects', key: cur.key, value: encodeRecordValue({ ...next, envelope: next.sealedMaterial }), version: next.version },
        ...indexDiff(cur.record, next),
      ];
      if (await engine.commit([{ key: cur.key, version: cur.record.version }], ops)) return next;
      if (expectedVersion !== undefined) {
        throw new VaultError('CONFLICT', `object ${uid} changed concurrently (expected version ${expectedVersion})`);
      }
    }
    throw new VaultError('CONFLICT', `object ${uid} kept changing; gave up after ${MAX_UPDATE_ATTEMPTS} attempts`);
  }

  async #apply(cur: VaultRecord, changes: VaultChanges): Promise<VaultRecord> {
    const state = changes.state ?? cur.state;
    if (!isUint32(state)) throw new VaultError('INVALID_RECORD', `state must be a uint32, got ${String(state)}`);
    const attributes = changes.attributes === undefined ? cur.attributes : [...changes.attributes];
    checkAttributes(attributes);
    let { materialVersion, sealedMaterial } = cur;
    if (changes.material === null) {
      sealedMaterial = undefined;
    } else if (changes.material !== undefined) {
      checkMaterial(changes.material);
      if (materialVersion >= UINT32_MAX) throw new VaultError('LIMIT_EXCEEDED', 'material version exhausted');
      materialVersion += 1;
      sealedMaterial = await sealEnvelope(this.kek, changes.material, { tenant: cur.tenant, uid: cur.uid, version: materialVersion });
    }
    return { ...cur, state, attributes, materialVersion, sealedMaterial, version: cur.version + 1 };
  }

  async delete(tenant: string, uid: string, options: VersionCondition = {}): Promise<boolean> {
    const { expectedVersion } = options;
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const engine = this.#alive();
      const cur = this.#read(tenant, uid);
      if (cur === undefined) return false;
      const r = cur.record;
      if (expectedVersion !== undefined && r.version !== expectedVersion) {
        throw new VaultError('CONFLICT', `object ${uid} is at version ${r.version}, not ${expectedVersion}`);
      }
      const ops: EngineOp[] = [{ db: 'objects', key: cur.key, remove: true }];
      for (const k of indexKeysOf(tenant, uid, r.objectType, r.state, r.attributes)) ops.push({ ...k, remove: true });
      if (await engine.commit([{ key: cur.key, version: r.version }], ops)) return true;
      if (expectedVersion !== undefined) throw new VaultError('CONFLICT', `object ${uid} changed concurrently`);
    }
    throw new VaultError('CONFLICT', `object ${uid} kept changing; gave up after ${MAX_UPDATE_ATTEMPTS} attempts`);
  }

  // ---- reads ------------------------------------------------------------------------------

  #read(tenant: string, uid: string): { key: Buffer; record: VaultRecord } | undefined {
    const engine = this.#alive();
    const prefix = tenantPrefix(tenant); // a bad tenant is a caller bug: throw
    let u: Buffer;
    try {
      u = uidBytes(uid);
    } catch {
      return undefined; // a malformed uid (from a client) simply names no object
    }
    const key = Buffer.concat([prefix, u]);
    const e = engine.read(key);
    if (e === undefined) return undefined;
    return { key, record: toRecord(tenant, uid, decodeRecordValue(e.value), e.version) };
  }

  get(tenant: string, uid: string): VaultRecord | undefined {
    return this.#read(tenant, uid)?.record;
  }

  findUids(tenant: string, filter: VaultFilter = {}, page: VaultPage = {}): string[] {
    const engine = this.#alive();
    const offset = page.offset ?? 0;
    const limit = page.limit ?? Number.POSITIVE_INFINITY;
    if (!(offset >= 0) || !(limit >= 0)) throw new VaultError('INVALID_RECORD', 'offset and limit must be non-negative');
    const criteria: { db: VaultDb; prefix: Buffer }[] = [];
    // Most selective first: the first criterion drives the scan, the rest are point probes.
    if (filter.name !== undefined) criteria.push({ db: 'byName', prefix: textIndexPrefix(tenant, filter.name) });
    if (filter.objectGroup !== undefined) criteria.push({ db: 'byGroup', prefix: textIndexPrefix(tenant, filter.objectGroup) });
    for (const [db, n] of [['byState', filter.state], ['byType', filter.objectType]] as const) {
      if (n === undefined) continue;
      if (!isUint32(n)) return []; // no record can hold a non-uint32 enumeration value
      criteria.push({ db, prefix: enumIndexPrefix(tenant, n) });
    }
    const [driver, ...probes] = criteria.length > 0 ? criteria : [{ db: 'objects' as const, prefix: tenantPrefix(tenant) }];
    if (driver === undefined) return [];
    const out: string[] = [];
    let skipped = 0;
    if (limit === 0) return out;
    for (const key of engine.keys(driver.db, driver.prefix, prefixEnd(driver.prefix))) {
      const u = key.subarray(driver.prefix.length);
      if (!probes.every((p) => engine.has(p.db, Buffer.concat([p.prefix, u])))) continue;
      if (skipped < offset) {
        skipped++;
        continue;
      }
      out.push(u.toString('utf8'));
      if (out.length >= limit) break;
    }
    return out;
  }

  *scan(tenant: string): IterableIterator<VaultRecord> {
    const prefix = tenantPrefix(tenant);
    for (const e of this.#alive().entries(prefix, prefixEnd(prefix))) {
      yield toRecord(tenant, e.key.toString('utf8', prefix.length), decodeRecordValue(e.value), e.version);
    }
  }

  count(tenant?: string): number {
    const engine = this.#alive();
    if (tenant === undefined) return engine.count('objects');
    const prefix = tenantPrefix(tenant);
    return engine.count('objects', prefix, prefixEnd(prefix));
  }

  async openMaterial(record: VaultRecord): Promise<Buffer | undefined> {
    if (record.sealedMaterial === undefined) return undefined;
    return openEnvelope(this.kek, record.sealedMaterial, { tenant: record.tenant, uid: record.uid, version: record.materialVersion });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#engine.close();
  }

  // ---- operations tooling -----------------------------------------------------------------

  /**
   * Full consistency check (O(records + index entries) time, O(index entries) memory): every
   * record decodes, every index entry a record implies exists, and no index entry exists that
   * no record implies. Used by the crash test; meant for an `openkcm vault check` command.
   */
  checkIntegrity(): IntegrityReport {
    const engine = this.#alive();
    const problems: string[] = [];
    const expected = new Set<string>();
    let records = 0;
    for (const e of engine.entries(Buffer.alloc(0), undefined)) {
      records++;
      const tLen = e.key[0] ?? 0;
      const tenant = e.key.toString('utf8', 1, 1 + tLen);
      const uid = e.key.toString('utf8', 1 + tLen);
      try {
        const v = decodeRecordValue(e.value);
        for (const k of indexKeysOf(tenant, uid, v.objectType, v.state, v.attributes)) {
          expected.add(indexId(k));
          if (!engine.has(k.db, k.key)) problems.push(`record ${tenant}/${uid}: missing ${k.db} entry`);
        }
      } catch (err) {
        problems.push(`record ${tenant}/${uid}: ${(err as Error).message}`);
      }
    }
    let indexEntries = 0;
    for (const db of INDEX_DBS) {
      for (const key of engine.keys(db, Buffer.alloc(0), undefined)) {
        indexEntries++;
        if (!expected.has(indexId({ db, key }))) problems.push(`${db} entry ${key.toString('hex')} has no matching record`);
      }
    }
    return { records, indexEntries, problems };
  }
}

function toRecord(tenant: string, uid: string, v: RecordValue, version: number): VaultRecord {
  return {
    tenant, uid, objectType: v.objectType, state: v.state, attributes: v.attributes,
    version, materialVersion: v.materialVersion, sealedMaterial: v.envelope,
  };
}

/** Index entries to remove and add when `prev` becomes `next` (unchanged entries are left alone). */
function indexDiff(prev: VaultRecord, next: VaultRecord): EngineOp[] {
  const before = indexKeysOf(prev.tenant, prev.uid, prev.objectType, prev.state, prev.attributes);
  const after = indexKeysOf(next.tenant, next.uid, next.objectType, next.state, next.attributes);
  const beforeIds = new Set(before.map(indexId));
  const afterIds = new Set(after.map(indexId));
  const ops: EngineOp[] = [];
  for (const k of before) if (!afterIds.has(indexId(k))) ops.push({ ...k, remove: true });
  for (const k of after) if (!beforeIds.has(indexId(k))) ops.push({ ...k, value: EMPTY });
  return ops;
}
