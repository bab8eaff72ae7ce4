/**
 * The operations' ObjectStore over the vault (src/vault: LMDB `Vault` or `MemoryVault`).
 *
 * Mapping:
 *  - Unique Identifier, Object Type and State are the vault record's own fields (the vault
 *    indexes them and refuses them as attributes); every other attribute is stored as is.
 *    Objects without a lifecycle (1.x Templates) are stored with state 0.
 *  - The object's content — Key Block, Opaque Data, raw certificate — is the record's
 *    material: its TTLV encoding (KMIP 2.1 form), sealed by the vault's envelope. It is
 *    unsealed only when a handler asks for it (Get); the plaintext buffers are wiped here.
 *  - Locate candidates come from the vault's indexes (Name, Object Group, Object Type);
 *    State is not used as an index because date-driven transitions (model/lifecycle.ts) make
 *    the effective state a function of the clock, not only of the stored field.
 *  - The vault's optimistic versions back `ManagedObjectRecord.version`; its CONFLICT
 *    becomes StoreConflictError so mutateObject retries.
 *  - Reads are memoised for one event-loop turn (see {@link MAX_READ_MEMO_ENTRIES}): a batch of
 *    ten Encrypts on one key decodes the vault record once, not ten times (issue 7 profile:
 *    decodeRecordValue was 14% of an Encrypt batch's CPU).
 */
import { ItemType } from '../../ttlv/types.js';
import { decodeTtlv } from '../../ttlv/decode.js';
import { encodeTtlv } from '../../ttlv/encode.js';
import { KmipError } from '../../kmip/errors.js';
import { KMIP_2_1 } from '../../kmip/message.js';
import { State, Tag } from '../../kmip/registry.js';
import { struct } from '../../kmip/payloads/fields.js';
import { decodeManagedObject, encodeManagedObject } from '../../kmip/payloads/objects.js';
import type { ManagedObject } from '../../kmip/payloads/objects.js';
import { enumeration, text } from '../../ttlv/build.js';
import { EnvelopeError, VaultError } from '../../vault/errors.js';
import type { ObjectStore as VaultStore, VaultRecord } from '../../vault/store.js';
import { StoreConflictError } from './store.js';
import type { LocateHint, ManagedObjectRecord, ObjectStore } from './store.js';

/** Attributes the vault keeps as record fields. */
const RECORD_FIELDS = new Set(['Unique Identifier', 'Object Type', 'State']);

/** Marks "no lifecycle" (Templates) in the vault's uint32 state field; not a KMIP State value. */
const NO_STATE = 0;

/** The KMIP State values, to tell a stored state from NO_STATE and junk (built once, not per read). */
const KMIP_STATES: ReadonlySet<number> = new Set(Object.values(State));

/**
 * Most records one event-loop turn's read memo holds. The memo lives from a read until the next
 * turn of the loop (setImmediate), so it only has to cover one burst of work — typically one
 * request message's batch items — and the bound stops a message naming thousands of UIDs from
 * holding all of their decoded records at once (memory exhaustion). Past it, reads simply go to
 * the vault.
 *
 * Why a per-turn memo and not a cache validated by record version: the vault's API cannot
 * tell a record's version without decoding the record (src/vault is another owner's), and
 * decoding is the cost being saved. Within one turn the memo is as fresh as the vault itself:
 * lmdb-js serves reads from one read transaction that it renews only on a later timer tick or
 * after a commit, and every commit made through this store (create, update, remove) drops the
 * affected entries before and after it. The one write the memo cannot see is the vault's own
 * lazy re-wrap of an envelope (same attributes, same plaintext, version + 1): a read in the same
 * turn may still get the previous version, whose envelope opens as before, and an update based
 * on it meets CONFLICT, which drops the entry so mutateObject's retry reads the vault again.
 * Plaintext material is never memoised: `VaultRecord` holds only the sealed envelope.
 */
export const MAX_READ_MEMO_ENTRIES = 256;

function memoKey(tenant: string, uid: string): string {
  // A NUL cannot occur in a tenant name, so (tenant, uid) pairs cannot collide (key-cache.ts).
  return `${tenant}\u0000${uid}`;
}

function sealable(o: ManagedObject): Buffer {
  return encodeTtlv(encodeManagedObject(o, KMIP_2_1));
}

function unsealed(bytes: Uint8Array, objectType: number): ManagedObject {
  const item = decodeTtlv(bytes);
  if (item.type !== ItemType.Structure) throw new Error('stored object is not a structure');
  // decodeTtlv copies byte strings, so the caller may wipe `bytes` afterwards.
  return decodeManagedObject(struct(Tag.ResponsePayload, [item]), objectType, KMIP_2_1);
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

function stateOfRecord(r: ManagedObjectRecord): number {
  const s = r.attributes.find((a) => a.name === 'State')?.value;
  return s?.type === ItemType.Enumeration ? s.value : NO_STATE;
}

function storedAttributes(r: ManagedObjectRecord): ManagedObjectRecord['attributes'] {
  return r.attributes.filter((a) => !RECORD_FIELDS.has(a.name));
}

export class VaultObjectStore implements ObjectStore {
  readonly #vault: VaultStore;
  /** This turn's reads: (tenant, uid) → the record as the vault returned it (see MAX_READ_MEMO_ENTRIES). */
  readonly #memo = new Map<string, VaultRecord | undefined>();
  #memoClearScheduled = false;

  constructor(vault: VaultStore) {
    this.#vault = vault;
  }

  /** vault.get, memoised until the next turn of the event loop. */
  #read(tenant: string, uid: string): VaultRecord | undefined {
    const k = memoKey(tenant, uid);
    if (this.#memo.has(k)) return this.#memo.get(k);
    const v = this.#vault.get(tenant, uid);
    if (this.#memo.size < MAX_READ_MEMO_ENTRIES) {
      this.#memo.set(k, v);
      if (!this.#memoClearScheduled) {
        this.#memoClearScheduled = true;
        setImmediate(() => {
          this.#memo.clear();
          this.#memoClearScheduled = false;
        });
      }
    }
    return v;
  }

  /** Drops the memoised read of (tenant, uid): called around every write of it. */
  #forget(tenant: string, uid: string): void {
    this.#memo.delete(memoKey(tenant, uid));
  }

  async #toRecord(v: VaultRecord, withObject: boolean): Promise<ManagedObjectRecord> {
    // Fresh attribute objects on every call (handlers change the list they are given); the
    // values are shared, as cloneRecord (store.ts) shares them: nothing changes a value in place.
    const attributes = [
      { name: 'Unique Identifier', value: text(Tag.UniqueIdentifier, v.uid) },
      { name: 'Object Type', value: enumeration(Tag.ObjectType, v.objectType) },
      ...v.attributes.map((a) => ({ ...a })),
    ];
    if (v.state !== NO_STATE && KMIP_STATES.has(v.state)) {
      attributes.push({ name: 'State', value: enumeration(Tag.State, v.state) });
    }
    let object: ManagedObject | undefined;
    if (withObject && v.sealedMaterial !== undefined) {
      const plain = await this.#vault.openMaterial(v).catch((e: unknown) => { throw clientFacing(e); });
      if (plain !== undefined) {
        try {
          object = unsealed(plain, v.objectType);
        } finally {
          plain.fill(0);
        }
      }
    }
    return { uid: v.uid, objectType: v.objectType, attributes, hasObject: v.sealedMaterial !== undefined, object, version: v.version };
  }

  async get(tenant: string, uid: string, opts: { readonly withObject?: boolean } = {}): Promise<ManagedObjectRecord | undefined> {
    const v = this.#read(tenant, uid);
    return v === undefined ? undefined : this.#toRecord(v, opts.withObject === true);
  }

  async create(tenant: string, record: ManagedObjectRecord): Promise<ManagedObjectRecord> {
    const material = record.object === undefined ? undefined : sealable(record.object);
    this.#forget(tenant, record.uid);
    try {
      const v = await this.#vault.put({
        tenant, uid: record.uid, objectType: record.objectType, state: stateOfRecord(record),
        attributes: storedAttributes(record), ...(material === undefined ? {} : { material }),
      });
      return { ...record, version: v.version };
    } catch (e) {
      throw clientFacing(e);
    } finally {
      this.#forget(tenant, record.uid);
      material?.fill(0);
    }
  }

  async update(tenant: string, record: ManagedObjectRecord): Promise<void> {
    let sealedNow: Buffer | undefined;
    this.#forget(tenant, record.uid);
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
      // Also after a CONFLICT: the retry must read the vault, not this turn's memo.
      this.#forget(tenant, record.uid);
      sealedNow?.fill(0);
    }
  }

  async remove(tenant: string, uid: string): Promise<void> {
    this.#forget(tenant, uid);
    try {
      await this.#vault.delete(tenant, uid);
    } finally {
      this.#forget(tenant, uid);
    }
  }

  findUids(tenant: string, hint: LocateHint): Promise<string[]> {
    const filter = {
      ...(hint.name === undefined ? {} : { name: hint.name }),
      ...(hint.group === undefined ? {} : { objectGroup: hint.group }),
      ...(hint.objectType === undefined ? {} : { objectType: hint.objectType }),
    };
    // The vault answers in uid order, which is creation order for its UUIDv7 UIDs; Locate
    // wants the most recently created first (KMIP 2.1 §6.1.28).
    return Promise.resolve(this.#vault.findUids(tenant, filter).reverse());
  }
}
