/**
 * The operations' ObjectStore over the vault (src/vault: LMDB `Vault` or `MemoryVault`).
 *
 * Mapping:
 *  - Unique Identifier, Object Type and State are the vault record's own fields (the vault
 *    indexes them and refuses them as attributes); every other attribute is stored as is.
 *    Objects without a lifecycle (1.x Templates) are stored with state 0.
 *  - The object's content — Key Block, Opaque Data, raw certificate — is the record's
 *    material: its TTLV encoding (KMIP 2.1 form), sealed by the vault's envelope. It is
 *    unsealed only when a handler asks for it (Get); the plaintext buffers are wiped here,
 *    except the stored form handed to a Get that answers with it (ManagedObjectRecord.stored).
 *  - Locate candidates come from the vault's indexes (Name, Object Group, Object Type);
 *    State is not used as an index because date-driven transitions (model/lifecycle.ts) make
 *    the effective state a function of the clock, not only of the stored field.
 *  - The vault's optimistic versions back `ManagedObjectRecord.version`; its CONFLICT
 *    becomes StoreConflictError so mutateObject retries.
 *  - One read, one mapping (issue 14): a read takes the vault's own decoded record without a copy
 *    (`peek`: the vault reuses it while the stored bytes are unchanged) and maps it to the operations'
 *    record once. The full attribute list (the record fields as attributes plus the stored ones) is
 *    built once per decoded vault record and each read gets a fresh array of the same attribute
 *    objects, which handlers replace but never change in place.
 */
import type { KmipAttribute } from '../../kmip/attributes.js';
import { ItemType } from '@openkcm/ttlv';
import { KmipError } from '../../kmip/errors.js';
import { State, Tag } from '../../kmip/registry.js';
import type { ManagedObject } from '../../kmip/payloads/objects.js';
import { enumeration, text } from '@openkcm/ttlv';
import { EnvelopeError, VaultError } from '../../vault/errors.js';
import type { ObjectStore as VaultStore, VaultRecord } from '../../vault/store.js';
import { fromStoredForm, StoreConflictError, storedForm } from './store.js';
import type { ContentWanted, LocateHint, ManagedObjectRecord, ObjectStore, ReadOptions } from './store.js';

/** UIDs listed per vault call when Locate lists its candidates (a few milliseconds of index walking). */
export const FIND_UIDS_PAGE = 4096;

/** Listing time after which the candidates' listing gives the event loop back (as Locate's scan, src/operations/locate.ts). */
const FIND_UIDS_SLICE_MS = 4;

/** Attributes the vault keeps as record fields. */
const RECORD_FIELDS = new Set(['Unique Identifier', 'Object Type', 'State']);

/** Marks "no lifecycle" (Templates) in the vault's uint32 state field; not a KMIP State value. */
const NO_STATE = 0;

/** The KMIP State values, to tell a stored state from NO_STATE and junk (built once, not per read). */
const KMIP_STATES: ReadonlySet<number> = new Set(Object.values(State));

function sealable(o: ManagedObject): Buffer {
  return storedForm(o);
}

/**
 * Vault failures that a client caused or can act on, as KMIP errors (docs/vault.md "Errors");
 * CORRUPT / CLOSED / other envelope failures (TAMPERED) stay internal (General Failure, logged by the processor).
 */
function clientFacing(e: unknown): unknown {
  // WRONG_KEY on open: the envelope's key version no longer exists here — the tenant's L3 version that sealed it
  // was dropped (crypto-shredding depth 2, docs/keystores.md). KMIP has no "shredded" reason; Key Value Not Present
  // ("a meta data only object", KMIP 2.1 §11.46; listed for Get/Encrypt/Decrypt/Re-key in 1.4 §11) is what the
  // object now is. Not Object Destroyed: its State is unchanged.
  if (e instanceof EnvelopeError && e.code === 'WRONG_KEY') {
    return new KmipError('KEY_VALUE_NOT_PRESENT', 'the key material of this object was crypto-shredded with its L3 version (the key version that sealed it no longer exists); only its attributes remain', { cause: e });
  }
  if (!(e instanceof VaultError)) return e;
  switch (e.code) {
    case 'CONFLICT': return new StoreConflictError(e.message, { cause: e });
    case 'NOT_FOUND': return new KmipError('ITEM_NOT_FOUND', 'the object no longer exists', { cause: e });
    case 'LIMIT_EXCEEDED': return new KmipError('SERVER_LIMIT_EXCEEDED', e.message, { cause: e });
    case 'INVALID_RECORD': return new KmipError('INVALID_ATTRIBUTE_VALUE', e.message, { cause: e });
    default: return e;
  }
}

/** The record with the content it was asked for (ReadOptions.withObject); decoded plaintext is wiped here. */
function withContent(rec: ManagedObjectRecord, plain: Buffer | undefined, want: ContentWanted): ManagedObjectRecord {
  if (plain === undefined) return rec;
  if (want === 'stored') {
    rec.stored = plain;
    return rec;
  }
  try {
    rec.object = fromStoredForm(plain, rec.objectType);
  } finally {
    plain.fill(0);
  }
  return rec;
}

function stateOfRecord(r: ManagedObjectRecord): number {
  const s = r.attributes.find((a) => a.name === 'State')?.value;
  return s?.type === ItemType.Enumeration ? s.value : NO_STATE;
}

function storedAttributes(r: ManagedObjectRecord): ManagedObjectRecord['attributes'] {
  return r.attributes.filter((a) => !RECORD_FIELDS.has(a.name));
}

export class VaultObjectStore implements ObjectStore {
  readonly #vault: VaultStore;
  /** The full attribute list of each decoded vault record (file comment), built on its first read. */
  readonly #attributes = new WeakMap<Readonly<VaultRecord>, readonly KmipAttribute[]>();
  /**
   * The record {@link read} returned last and the vault record it was mapped from, for {@link content} (no second
   * lookup: Get reads, then opens the same record in the same stretch). One slot rather than a WeakMap entry per
   * read: registering every read record in a WeakMap gave each one an identity hash and an ephemeron for the GC to
   * trace, on every Encrypt batch item too (issue 14). A record read earlier falls back to the vault's `peek`.
   */
  #lastRead: ManagedObjectRecord | undefined;
  #lastSource: Readonly<VaultRecord> | undefined;

  constructor(vault: VaultStore) {
    this.#vault = vault;
  }

  #attributesOf(v: Readonly<VaultRecord>): readonly KmipAttribute[] {
    let all = this.#attributes.get(v);
    if (all === undefined) {
      const list: KmipAttribute[] = [
        { name: 'Unique Identifier', value: text(Tag.UniqueIdentifier, v.uid) },
        { name: 'Object Type', value: enumeration(Tag.ObjectType, v.objectType) },
        ...v.attributes,
      ];
      if (v.state !== NO_STATE && KMIP_STATES.has(v.state)) list.push({ name: 'State', value: enumeration(Tag.State, v.state) });
      all = list;
      this.#attributes.set(v, all);
    }
    return all;
  }

  read(tenant: string, uid: string, opts: ReadOptions = {}): ManagedObjectRecord | undefined | Promise<ManagedObjectRecord | undefined> {
    const v = this.#vault.peek(tenant, uid);
    if (v === undefined) return undefined;
    const rec: ManagedObjectRecord = {
      uid: v.uid, objectType: v.objectType, attributes: this.#attributesOf(v).slice(),
      hasObject: v.sealedMaterial !== undefined, object: undefined, version: v.version,
    };
    const want = opts.withObject ?? false;
    if (want === false) {
      this.#lastRead = rec;
      this.#lastSource = v;
      return rec;
    }
    return this.#open(rec, v, want);
  }

  content(tenant: string, rec: ManagedObjectRecord, want: true | 'stored'): ManagedObjectRecord | Promise<ManagedObjectRecord> {
    const v = rec === this.#lastRead ? this.#lastSource : this.#vault.peek(tenant, rec.uid);
    if (v === undefined || v.version !== rec.version) throw new StoreConflictError(`object ${rec.uid} changed since it was read`);
    return this.#open(rec, v, want);
  }

  #open(rec: ManagedObjectRecord, v: Readonly<VaultRecord>, want: true | 'stored'): ManagedObjectRecord | Promise<ManagedObjectRecord> {
    if (v.sealedMaterial === undefined) return rec;
    let plain: Buffer | undefined | Promise<Buffer | undefined>;
    try {
      plain = this.#vault.openMaterialNow(v);
    } catch (e) {
      throw clientFacing(e);
    }
    if (plain instanceof Promise) {
      return plain.then((p) => withContent(rec, p, want), (e: unknown) => { throw clientFacing(e); });
    }
    return withContent(rec, plain, want);
  }

  get(tenant: string, uid: string, opts: ReadOptions = {}): Promise<ManagedObjectRecord | undefined> {
    try {
      return Promise.resolve(this.read(tenant, uid, opts));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  async create(tenant: string, record: ManagedObjectRecord): Promise<ManagedObjectRecord> {
    const material = record.object === undefined ? undefined : sealable(record.object);
    try {
      const v = await this.#vault.put({
        tenant, uid: record.uid, objectType: record.objectType, state: stateOfRecord(record),
        attributes: storedAttributes(record), ...(material === undefined ? {} : { material }),
      });
      return Object.assign({}, record, { version: v.version });
    } catch (e) {
      throw clientFacing(e);
    } finally {
      material?.fill(0);
    }
  }

  async update(tenant: string, record: ManagedObjectRecord): Promise<void> {
    let sealedNow: Buffer | undefined;
    try {
      await this.#vault.update(tenant, record.uid, (current) => {
        let material: Uint8Array | null | undefined;
        if (!record.hasObject && current.sealedMaterial !== undefined) material = null;
        // Undo of a Destroy: the snapshot still holds the content; seal it again.
        if (record.hasObject && current.sealedMaterial === undefined && record.object !== undefined) {
          sealedNow ??= sealable(record.object);
          material = sealedNow;
        }
        return { state: stateOfRecord(record), attributes: storedAttributes(record), ...(material === undefined ? {} : { material }) };
      }, record.version === undefined ? {} : { expectedVersion: record.version });
    } catch (e) {
      throw clientFacing(e);
    } finally {
      sealedNow?.fill(0);
    }
  }

  async remove(tenant: string, uid: string): Promise<void> {
    await this.#vault.delete(tenant, uid);
  }

  async findUids(tenant: string, hint: LocateHint): Promise<string[]> {
    const filter: { name?: string; objectGroup?: string; objectType?: number } = {};
    if (hint.name !== undefined) filter.name = hint.name;
    if (hint.group !== undefined) filter.objectGroup = hint.group;
    if (hint.objectType !== undefined) filter.objectType = hint.objectType;
    // A page of the index at a time, giving the event loop back between pages once a slice has passed: listing a
    // tenant of a million objects in one turn would hold every other tenant for a large part of a second (issue 15).
    const all: string[] = [];
    let sliceStart = performance.now();
    for (;;) {
      const last = all[all.length - 1];
      const page = this.#vault.findUids(tenant, filter, { limit: FIND_UIDS_PAGE, ...(last === undefined ? {} : { after: last }) });
      for (const u of page) all.push(u);
      if (page.length < FIND_UIDS_PAGE) break;
      if (performance.now() - sliceStart >= FIND_UIDS_SLICE_MS) {
        await new Promise<void>((resolve) => { setImmediate(resolve); });
        sliceStart = performance.now();
      }
    }
    // The vault answers in uid order, which is creation order for its UUIDv7 UIDs; Locate
    // wants the most recently created first (KMIP 2.1 §6.1.28).
    return all.reverse();
  }

}
