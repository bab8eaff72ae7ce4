/**
 * The record logic shared by every ObjectStore implementation, over a minimal storage engine:
 * validation, UID assignment, sealing, index derivation, optimistic updates and index-intersecting
 * lookups are written once; an engine only stores ordered binary keys with versions and applies
 * a conditional batch atomically. `Vault` (LMDB) and `MemoryVault` differ only in their engine.
 */
import type { KmipAttribute } from '../kmip/attributes.js';
import { Tag } from '../kmip/registry.generated.js';
import { ItemType } from '@openkcm/ttlv';
import { decodeRecordValue, encodeRecordValue } from './codec.js';
import type { RecordValue } from './codec.js';
import type { Logger } from '../common/log.js';
import { open as openEnvelope, openParsed, parseEnvelope, seal as sealEnvelope } from './envelope.js';
import type { EnvelopeHeader } from './envelope.js';
import { VaultError } from './errors.js';
import { toKekResolver } from './kek.js';
import type { KekProvider, KekResolver } from './kek.js';
import { enumIndexPrefix, objectKey, prefixEnd, tenantPrefix, textIndexPrefix, uidBytes } from './keys.js';
import {
  MAX_LAZY_REWRAPS_IN_FLIGHT, MAX_MATERIAL_BYTES, MAX_PUT_MANY_OBJECTS, MAX_REWRAP_BATCH_RECORDS, MAX_UPDATE_ATTEMPTS,
} from './limits.js';
import type {
  NewVaultObject, ObjectStore, VaultChanges, VaultFilter, VaultMutator, VaultPage, VaultRecord, VersionCondition,
} from './store.js';
import { newUid } from './uid.js';
import { DECODED_RECORD_CACHE_BYTES, DecodedRecordCache } from './decoded-cache.js';
import { INDEX_DBS } from './engine.js';
import type { EngineCondition, EngineOp, VaultDb, VaultEngine } from './engine.js';

export {
  DECODED_RECORD_CACHE_BYTES, DECODED_RECORD_CACHE_BYTES_MAX, DECODED_RECORD_CACHE_ENTRIES, DECODED_RECORD_CACHE_MAX_RECORD_BYTES,
} from './decoded-cache.js';
export { INDEX_DBS } from './engine.js';
export type { EngineCondition, EngineEntry, EngineOp, VaultDb, VaultEngine } from './engine.js';

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

/** Progress of {@link BaseVault.rewrapTenant}, reported after every batch and returned at the end. */
export interface RewrapProgress {
  /** Records of the tenant examined so far. */
  readonly done: number;
  /** Records of the tenant when the job started (records created meanwhile are sealed current anyway). */
  readonly total: number;
  /** Envelopes re-sealed under the tenant's current KEK version. */
  readonly rewrapped: number;
  /** Envelopes that could not be re-sealed (e.g. their KEK version was dropped: crypto-shredded); logged. */
  readonly failed: number;
}

export interface RewrapOptions {
  readonly onProgress?: (p: RewrapProgress) => void;
  /** Records per batch, 1..MAX_REWRAP_BATCH_RECORDS (default the maximum). */
  readonly batchSize?: number;
  /** Stops the job between batches (server shutdown); the progress so far is returned. */
  readonly signal?: AbortSignal;
}

/** Options shared by every vault implementation. */
export interface BaseVaultOptions {
  /** Receives lazy re-wrap failures (warn) and skips (debug). Default: silent. */
  readonly logger?: Logger;
  /**
   * Stored bytes the decoded-record cache may hold ({@link DECODED_RECORD_CACHE_BYTES} by default; config file
   * `vault.decodedCacheBytes`). 0 turns the cache off. Outside 0..{@link DECODED_RECORD_CACHE_BYTES_MAX}: INVALID_RECORD.
   */
  readonly decodedCacheBytes?: number;
}

/** True when `h` is sealed under the provider's current key version: nothing to re-wrap. */
function isCurrent(kek: KekProvider, h: EnvelopeHeader): boolean {
  return h.keyId === kek.id && h.keyVersion === kek.currentVersion;
}

type RewrapOutcome = 'rewrapped' | 'current' | 'none' | 'failed';

/** Problems found by checkIntegrity(), one line each. */
export interface IntegrityReport {
  readonly records: number;
  readonly indexEntries: number;
  readonly problems: string[];
}

export class BaseVault implements ObjectStore {
  /** Which KEK seals and opens each tenant's material (src/vault/kek.ts KekResolver). */
  readonly resolver: KekResolver;
  readonly #engine: VaultEngine;
  readonly #logger: Logger | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The sealing KEK the resolver answered last for each tenant (see #afterOpen). */
  readonly #sealingSeen = new Map<string, KekProvider>();
  /** Lazy re-wraps running in the background, by `tenant\0uid` (one per record at a time). */
  readonly #lazy = new Map<string, Promise<void>>();
  #lazySkipped = 0;
  /** Decoded records by `tenant\0uid` (src/vault/decoded-cache.ts). */
  readonly #decoded: DecodedRecordCache;

  protected constructor(engine: VaultEngine, kek: KekProvider | KekResolver, options: BaseVaultOptions = {}) {
    this.#engine = engine;
    this.resolver = toKekResolver(kek);
    this.#logger = options.logger;
    this.#decoded = new DecodedRecordCache(options.decodedCacheBytes ?? DECODED_RECORD_CACHE_BYTES);
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
    // One sealing provider per tenant of the batch, asked once (the first ask may activate the tenant).
    const sealing = new Map<string, Promise<KekProvider>>();
    const sealerOf = (tenant: string): Promise<KekProvider> => {
      let p = sealing.get(tenant);
      if (p === undefined) {
        p = Promise.resolve(this.resolver.sealingKek(tenant));
        sealing.set(tenant, p);
      }
      return p;
    };
    const records = await Promise.all(prepared.map(async ({ o, uid }): Promise<VaultRecord> => {
      const materialVersion = o.material === undefined ? 0 : 1;
      const sealedMaterial = o.material === undefined
        ? undefined
        : await sealEnvelope(await sealerOf(o.tenant), o.material, { tenant: o.tenant, uid, version: materialVersion });
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
      ops.push({ db: 'objects', key, value: encodeRecordValue(Object.assign({}, r, { envelope: r.sealedMaterial })), version: 1 });
      for (const k of indexKeysOf(r.tenant, r.uid, r.objectType, r.state, r.attributes)) ops.push({ db: k.db, key: k.key, value: EMPTY });
    }
    if (!(await engine.commit(conditions, ops))) {
      const taken = prepared.find((p) => engine.read(p.key) !== undefined);
      throw new VaultError('EXISTS', `uid ${taken?.uid ?? '(one of the batch)'} already exists for this tenant`);
    }
    // Hand back copies so a caller mutating its input cannot change "the stored record" it holds.
    return records.map((r) => Object.assign({}, r, { attributes: [...r.attributes] }));
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
        { db: 'objects', key: cur.key, value: encodeRecordValue(Object.assign({}, next, { envelope: next.sealedMaterial })), version: next.version },
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
      sealedMaterial = await sealEnvelope(await this.resolver.sealingKek(cur.tenant), changes.material, { tenant: cur.tenant, uid: cur.uid, version: materialVersion });
    }
    return Object.assign({}, cur, { state, attributes, materialVersion, sealedMaterial, version: cur.version + 1 });
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
      for (const k of indexKeysOf(tenant, uid, r.objectType, r.state, r.attributes)) ops.push({ db: k.db, key: k.key, remove: true });
      if (await engine.commit([{ key: cur.key, version: r.version }], ops)) return true;
      if (expectedVersion !== undefined) throw new VaultError('CONFLICT', `object ${uid} changed concurrently`);
    }
    throw new VaultError('CONFLICT', `object ${uid} kept changing; gave up after ${MAX_UPDATE_ATTEMPTS} attempts`);
  }

  // ---- reads ------------------------------------------------------------------------------

  /**
   * The record of (tenant, uid) as the cache holds it: SHARED, never to be changed by the caller. Decodes (and
   * caches) it when the stored bytes or version differ from the cached entry.
   */
  /** Entries and stored bytes the decoded-record cache holds now (tests of the caps). */
  get decodedCacheStats(): { readonly entries: number; readonly bytes: number } {
    return this.#decoded.stats;
  }

  #lookup(tenant: string, uid: string): { key: Buffer; record: VaultRecord } | undefined {
    const engine = this.#alive();
    // A NUL cannot occur in a tenant name (tenantPrefix checks it), so the pairs cannot collide.
    const ck = `${tenant}\u0000${uid}`;
    const hit = this.#decoded.get(ck);
    // An entry's key was built (tenant and uid checked) when it was cached: reuse it (issue 14, one key per read).
    const key = hit?.key ?? objectKeyOrUndefined(tenant, uid);
    if (key === undefined) return undefined;
    const e = engine.read(key);
    if (e === undefined) return undefined;
    if (hit !== undefined && hit.version === e.version && hit.bytes.equals(e.value)) return { key, record: hit.record };
    const record = toRecord(tenant, uid, decodeRecordValue(e.value), e.version);
    this.#decoded.remember(ck, hit, key, e.value, e.version, record);
    return { key, record };
  }

  /** {@link #lookup} with a copy the caller may change (the ObjectStore contract: returned records are copies). */
  #read(tenant: string, uid: string): { key: Buffer; record: VaultRecord } | undefined {
    const r = this.#lookup(tenant, uid);
    return r === undefined ? undefined : { key: r.key, record: Object.assign({}, r.record, { attributes: [...r.record.attributes] }) };
  }

  get(tenant: string, uid: string): VaultRecord | undefined {
    return this.#read(tenant, uid)?.record;
  }

  /**
   * The record without a copy: the vault's own, shared with later readers, so the caller must treat it as
   * read-only (issue 14: the request path maps a record once, and copying every attribute list per read was half of
   * that). {@link get} is the copying form.
   */
  peek(tenant: string, uid: string): Readonly<VaultRecord> | undefined {
    return this.#lookup(tenant, uid)?.record;
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
    let start = driver.prefix;
    if (page.after !== undefined) {
      let after: Buffer;
      try {
        after = uidBytes(page.after);
      } catch {
        throw new VaultError('INVALID_RECORD', 'page.after is not a valid uid');
      }
      // The first key past `prefix + after` in byte order is `prefix + after + 0x00`.
      start = Buffer.concat([driver.prefix, after, Buffer.from([0])]);
    }
    for (const key of engine.keys(driver.db, start, prefixEnd(driver.prefix))) {
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

  /**
   * The record's plaintext material (the caller's to wipe), or undefined when it has none. A stale envelope (not
   * under the tenant's current KEK version) is re-sealed in the background after it opened.
   */
  async openMaterial(record: Readonly<VaultRecord>): Promise<Buffer | undefined> {
    return this.openMaterialNow(record);
  }

  /**
   * {@link openMaterial}, synchronous while nothing has to wait (ObjectStore.openMaterialNow): the envelope header is
   * parsed once, the opening KEK resolved once, and a KEK in a native slot opens without a promise (issue 14).
   */
  openMaterialNow(record: Readonly<VaultRecord>): Buffer | undefined | Promise<Buffer | undefined> {
    const envelope = record.sealedMaterial;
    if (envelope === undefined) return undefined;
    const h = parseEnvelope(envelope);
    const opening = this.resolver.openingKek(record.tenant, h.keyId);
    return opening instanceof Promise
      ? opening.then((k) => this.#openUnder(record, envelope, h, k))
      : this.#openUnder(record, envelope, h, opening);
  }

  #openUnder(record: Readonly<VaultRecord>, envelope: Buffer, h: EnvelopeHeader, kek: KekProvider): Buffer | Promise<Buffer> {
    const plain = openParsed(kek, envelope, h, { tenant: record.tenant, uid: record.uid, version: record.materialVersion });
    if (plain instanceof Promise) {
      return plain.then((p) => {
        this.#afterOpen(record, h, kek);
        return p;
      });
    }
    this.#afterOpen(record, h, kek);
    return plain;
  }

  /**
   * After an envelope opened: is it sealed under the tenant's current KEK version? Known without asking the
   * resolver again when the KEK that opened it is the tenant's sealing KEK seen last (krypton hands out one live
   * keyring per tenant, so this is the common case: issue 14, the KEK resolved once per read); otherwise the
   * resolver is asked, as before, and a stale envelope is re-sealed in the background.
   */
  #afterOpen(record: Readonly<VaultRecord>, h: EnvelopeHeader, opened: KekProvider): void {
    if (this.#sealingSeen.get(record.tenant) === opened && isCurrent(opened, h)) return;
    this.#maybeRewrapLazily(record, h);
  }

  async #openWith(record: Pick<VaultRecord, 'tenant' | 'uid' | 'materialVersion'>, envelope: Buffer, h: EnvelopeHeader): Promise<Buffer> {
    const kek = await this.resolver.openingKek(record.tenant, h.keyId);
    return openEnvelope(kek, envelope, { tenant: record.tenant, uid: record.uid, version: record.materialVersion });
  }

  // ---- re-wrapping after a KEK rotation (ARCHITECTURE §2 "Rotation") ------------------------

  /**
   * Lazy re-wrap (issue 4 §5): an envelope opened for a reader but not sealed under the tenant's
   * current KEK version is re-sealed in the background — after the answer, never blocking it.
   * Best effort: the write is conditioned on the record version (a concurrent change wins and
   * this attempt is dropped), failures are logged, and the background job catches whatever is
   * skipped here.
   */
  #maybeRewrapLazily(record: Readonly<VaultRecord>, h: EnvelopeHeader): void {
    if (this.#closing !== undefined) return;
    const k = `${record.tenant}\u0000${record.uid}`;
    if (this.#lazy.has(k)) return;
    let sealing: KekProvider | Promise<KekProvider>;
    try {
      sealing = this.resolver.sealingKek(record.tenant);
    } catch (e) {
      this.#logger?.debug('lazy re-wrap skipped: no sealing KEK', { tenant: record.tenant, error: errorText(e) });
      return;
    }
    // The common case (a current envelope, a synchronous resolver) costs no promise at all.
    if (!(sealing instanceof Promise)) {
      this.#sealingSeen.set(record.tenant, sealing);
      if (isCurrent(sealing, h)) return;
    }
    if (this.#lazy.size >= MAX_LAZY_REWRAPS_IN_FLIGHT) {
      this.#lazySkipped++;
      if (sealing instanceof Promise) sealing.catch(() => undefined);
      return;
    }
    const run = (async (): Promise<void> => {
      const s = await sealing;
      this.#sealingSeen.set(record.tenant, s);
      if (isCurrent(s, h)) return;
      await this.#rewrapOne(record.tenant, record.uid, s);
    })().catch((e: unknown) => {
      this.#logger?.warn('lazy re-wrap failed; the background job will retry', { tenant: record.tenant, uid: record.uid, error: errorText(e) });
    }).finally(() => { this.#lazy.delete(k); });
    this.#lazy.set(k, run);
  }

  /** Lazy re-wraps running now, and how many were not started because {@link MAX_LAZY_REWRAPS_IN_FLIGHT} were. */
  get lazyRewraps(): { readonly inFlight: number; readonly skipped: number } {
    return { inFlight: this.#lazy.size, skipped: this.#lazySkipped };
  }

  /** Resolves when every lazy re-wrap started so far has finished (tests, shutdown). */
  async rewrapIdle(): Promise<void> {
    while (this.#lazy.size > 0) await Promise.allSettled([...this.#lazy.values()]);
  }

  /**
   * Re-seals one record under `sealing` if its envelope is stale: re-reads it, opens it, seals
   * the plaintext again with the same AAD (tenant, uid, material version — the material did
   * not change), and commits only if the record is still at the version read (+1, like any
   * update, so a cached DEK or an optimistic writer notices). A lost race re-reads and retries.
   */
  async #rewrapOne(tenant: string, uid: string, sealing: KekProvider): Promise<RewrapOutcome> {
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const cur = this.#read(tenant, uid);
      const env = cur?.record.sealedMaterial;
      if (cur === undefined || env === undefined) return 'none';
      const h = parseEnvelope(env);
      if (isCurrent(sealing, h)) return 'current';
      const r = cur.record;
      const plain = await this.#openWith(r, env, h);
      let next: Buffer;
      try {
        next = await sealEnvelope(sealing, plain, { tenant, uid, version: r.materialVersion });
      } finally {
        plain.fill(0);
      }
      const op: EngineOp = { db: 'objects', key: cur.key, value: encodeRecordValue(Object.assign({}, r, { envelope: next })), version: r.version + 1 };
      if (await this.#alive().commit([{ key: cur.key, version: r.version }], [op])) return 'rewrapped';
    }
    return 'failed';
  }

  /**
   * Background re-wrap job (issue 4 §5): walks every record of `tenant` in uid order, in batches
   * of at most MAX_REWRAP_BATCH_RECORDS, and re-seals each envelope not under the tenant's
   * current KEK version. The sealing provider is asked once per batch, so a rotation during the
   * job is picked up by the next batch. Records that cannot be opened (a dropped KEK version:
   * crypto-shredding depth 2) are counted as `failed`, logged and left alone. Safe to run
   * concurrently with clients and with the lazy path (every write is version-conditioned).
   */
  async rewrapTenant(tenant: string, options: RewrapOptions = {}): Promise<RewrapProgress> {
    const batchSize = options.batchSize ?? MAX_REWRAP_BATCH_RECORDS;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_REWRAP_BATCH_RECORDS) {
      throw new VaultError('LIMIT_EXCEEDED', `rewrap batchSize must be 1..${String(MAX_REWRAP_BATCH_RECORDS)}, got ${String(batchSize)}`);
    }
    const prefix = tenantPrefix(tenant);
    const end = prefixEnd(prefix);
    const total = this.count(tenant);
    let done = 0;
    let rewrapped = 0;
    let failed = 0;
    let start = prefix;
    for (;;) {
      if (options.signal?.aborted === true) break;
      // Take one batch of keys synchronously: no cursor is held across the awaits below.
      const uids: string[] = [];
      let last: Buffer | undefined;
      for (const key of this.#alive().keys('objects', start, end)) {
        uids.push(key.toString('utf8', prefix.length));
        last = Buffer.from(key);
        if (uids.length >= batchSize) break;
      }
      if (uids.length === 0 || last === undefined) break;
      const sealing = await this.resolver.sealingKek(tenant);
      const outcomes = await Promise.all(uids.map((uid) => this.#rewrapOne(tenant, uid, sealing).catch((e: unknown): RewrapOutcome => {
        this.#logger?.warn('re-wrap job: record could not be re-sealed', { tenant, uid, error: errorText(e) });
        return 'failed';
      })));
      done += uids.length;
      for (const o of outcomes) {
        if (o === 'rewrapped') rewrapped++;
        else if (o === 'failed') failed++;
      }
      options.onProgress?.({ done, total, rewrapped, failed });
      start = Buffer.concat([last, Buffer.from([0])]);
    }
    return { done, total, rewrapped, failed };
  }

  /**
   * How many of `tenant`'s envelopes name each KEK (`keyId` → count), from the headers alone
   * (no crypto): tells whether a legacy key is still needed (docs/vault.md "Migrating").
   */
  envelopeKeyIds(tenant: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.scan(tenant)) {
      if (r.sealedMaterial === undefined) continue;
      const id = parseEnvelope(r.sealedMaterial).keyId;
      out.set(id, (out.get(id) ?? 0) + 1);
    }
    return out;
  }

  /** Every tenant that has at least one record, ascending (one seek per tenant). */
  tenants(): string[] {
    const engine = this.#alive();
    const out: string[] = [];
    let start = Buffer.alloc(0);
    for (;;) {
      let first: Buffer | undefined;
      for (const key of engine.keys('objects', start, undefined)) {
        first = Buffer.from(key);
        break;
      }
      if (first === undefined) return out;
      const tenant = first.toString('utf8', 1, 1 + (first[0] ?? 0));
      out.push(tenant);
      start = Buffer.from(prefixEnd(tenantPrefix(tenant)));
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // No new lazy re-wraps; let running ones finish (at most MAX_LAZY_REWRAPS_IN_FLIGHT) before the engine goes.
      await this.rewrapIdle();
      this.#closed = true;
      this.#decoded.clear();
      await this.#engine.close();
    })();
    return this.#closing;
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

/** The object key of (tenant, uid); undefined for a malformed uid (from a client: it simply names no object). A bad
 *  tenant is a caller bug: it throws. */
function objectKeyOrUndefined(tenant: string, uid: string): Buffer | undefined {
  const prefix = tenantPrefix(tenant);
  let u: Buffer;
  try {
    u = uidBytes(uid);
  } catch {
    return undefined;
  }
  return Buffer.concat([prefix, u]);
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
  for (const k of before) if (!afterIds.has(indexId(k))) ops.push({ db: k.db, key: k.key, remove: true });
  for (const k of after) if (!beforeIds.has(indexId(k))) ops.push({ db: k.db, key: k.key, value: EMPTY });
  return ops;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
