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
import { VaultError } from '../../vault/errors.js';
import type { ObjectStore as VaultStore, VaultRecord } from '../../vault/store.js';
import { StoreConflictError } from './store.js';
import type { LocateHint, ManagedObjectRecord, ObjectStore } from './store.js';

/** Attributes the vault keeps as record fields. */
const RECORD_FIELDS = new Set(['Unique Identifier', 'Object Type', 'State']);

/** Marks "no lifecycle" (Templates) in the vault's uint32 state field; not a KMIP State value. */
const NO_STATE = 0;

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
 * CORRUPT / CLOSED / envelope failures stay internal (General Failure, logged by the processor).
 */
function clientFacing(e: unknown): unknown {
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

  constructor(vault: VaultStore) {
    this.#vault = vault;
  }

  async #toRecord(v: VaultRecord, withObject: boolean): Promise<ManagedObjectRecord> {
    const attributes = [
      { name: 'Unique Identifier', value: text(Tag.UniqueIdentifier, v.uid) },
      { name: 'Object Type', value: enumeration(Tag.ObjectType, v.objectType) },
      ...v.attributes.map((a) => ({ ...a })),
    ];
    if (v.state !== NO_STATE && Object.values(State).includes(v.state as never)) {
      attributes.push({ name: 'State', value: enumeration(Tag.State, v.state) });
    }
    let object: ManagedObject | undefined;
    if (withObject && v.sealedMaterial !== undefined) {
      const plain = await this.#vault.openMaterial(v);
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
    const v = this.#vault.get(tenant, uid);
    return v === undefined ? undefined : this.#toRecord(v, opts.withObject === true);
  }

  async create(tenant: string, record: ManagedObjectRecord): Promise<ManagedObjectRecord> {
    const material = record.object === undefined ? undefined : sealable(record.object);
    try {
      const v = await this.#vault.put({
        tenant, uid: record.uid, objectType: record.objectType, state: stateOfRecord(record),
        attributes: storedAttributes(record), ...(material === undefined ? {} : { material }),
      });
      return { ...record, version: v.version };
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
