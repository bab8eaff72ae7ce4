/**
 * Krypton's access to the stored hierarchy records (src/krypton/types.ts HierarchyStore): read-modify-write with a
 * compare-and-swap on the record's revision, retried on conflict so that several nodes can share one store, and
 * the one mapping of store and L1 failures to krypton's error catalog (src/krypton/errors.ts).
 */
import { KmipError } from '../kmip/errors.js';
import { KeystoreError } from '../keystore/types.js';
import type { ShadowReference } from '../keystore/types.js';
import type { Logger } from '../common/log.js';
import { KryptonError } from './errors.js';
import { serviceNameProblem, tenantNameProblem } from './record.js';
import type { TenantEntry } from './tenant-slots.js';
import { HierarchyStoreError } from './types.js';
import type { HierarchyStore, TenantHierarchy, TenantKeyState } from './types.js';

/** Compare-and-swap retries when another writer (another node) changed the record; beyond it: CONFLICT. */
export const MAX_CAS_RETRIES = 8;
/**
 * Backoff after L1 was unreachable or refused our credentials: the first retry is allowed after
 * L1_RETRY_BACKOFF_MS, doubling per consecutive failure up to L1_RETRY_BACKOFF_MAX_MS. Until then activations
 * fail fast with TENANT_UNAVAILABLE. Stops a storm of client requests for a dark tenant from hammering the
 * customer's HSM/KMS (and our own event loop) while it is down.
 */
export const L1_RETRY_BACKOFF_MS = 250;
export const L1_RETRY_BACKOFF_MAX_MS = 5_000;

/** The stored lineage as Krypton.lineage shows it: public data only (the L1 reference, states, versions; no blob). */
export interface Lineage {
  shadow: ShadowReference;
  state: TenantKeyState;
  currentL2: number;
  l2Versions: number[];
  services: { service: string; current: number; versions: number[] }[];
}

/** @throws KryptonError INVALID unless `tenant` is a well-formed tenant name. */
export function checkTenant(tenant: string): void {
  const p = tenantNameProblem(tenant);
  if (p !== undefined) throw new KryptonError('INVALID', p);
}

/** @throws KryptonError INVALID unless `service` is a well-formed service name. */
export function checkService(tenant: string, service: string): void {
  const p = serviceNameProblem(service);
  if (p !== undefined) throw new KryptonError('INVALID', p, { tenant });
}

/** A HierarchyStoreError in krypton's catalog; anything else unchanged. */
export function storeError(tenant: string, err: unknown): unknown {
  if (!(err instanceof HierarchyStoreError)) return err;
  switch (err.code) {
    case 'EXISTS': return new KryptonError('EXISTS', `tenant '${tenant}' already has a key hierarchy`, { tenant, cause: err });
    case 'NOT_FOUND': return new KryptonError('UNKNOWN_TENANT', `tenant '${tenant}' has no key hierarchy`, { tenant, cause: err });
    case 'CONFLICT': return new KryptonError('CONFLICT', `tenant '${tenant}' kept changing under us (${String(MAX_CAS_RETRIES)} retries)`, { tenant, cause: err });
    case 'INVALID': return new KryptonError('INVALID', err.message, { tenant, cause: err });
    case 'CLOSED': return new KryptonError('CLOSED', err.message, { tenant, cause: err });
  }
}

/**
 * An L1 failure during an activation or a rotation: UNREACHABLE / ACCESS_DENIED / SECRET_MISSING become KMIP
 * TENANT_UNAVAILABLE and start (or lengthen) the entry's backoff; a refused blob becomes TAMPERED; others unchanged.
 */
export function keystoreFailure(entry: TenantEntry, err: unknown, now: number, log: Logger): unknown {
  if (!(err instanceof KeystoreError)) return err;
  const tenant = entry.tenant;
  if (err.code === 'UNREACHABLE' || err.code === 'ACCESS_DENIED' || err.code === 'SECRET_MISSING') {
    entry.failures += 1;
    const wait = Math.min(L1_RETRY_BACKOFF_MAX_MS, L1_RETRY_BACKOFF_MS * 2 ** Math.min(entry.failures - 1, 16));
    entry.retryAt = now + wait;
    // A missing node secret names itself (its name is not secret) so the operator knows what to store.
    const why = err.code === 'SECRET_MISSING' ? `${err.message} (SECRET_MISSING)` : `L1 ${err.plugin} is unavailable (${err.code})`;
    const failure = new KmipError('TENANT_UNAVAILABLE', `tenant '${tenant}': ${why}; retry after ${String(wait)} ms`, { cause: err });
    entry.lastFailure = failure;
    log.warn('krypton L1 unavailable', { tenant, code: err.code, retryInMs: wait });
    return failure;
  }
  if (err.code === 'INVALID_CIPHERTEXT' || err.code === 'INVALID_ARGUMENT') {
    return new KryptonError('TAMPERED', `tenant '${tenant}': L1 refused the stored L2 (${err.code}): tampered, moved from another tenant, or L1 is not the original key`, { tenant, cause: err });
  }
  return err;
}

export class HierarchyRecords {
  readonly store: HierarchyStore;

  constructor(store: HierarchyStore) {
    this.store = store;
  }

  /** The record, or undefined; store errors mapped ({@link storeError}). */
  read(tenant: string): Promise<TenantHierarchy | undefined> {
    return this.store.get(tenant).catch((err: unknown) => {
      throw storeError(tenant, err);
    });
  }

  /** The record. @throws KryptonError UNKNOWN_TENANT */
  async mustGet(tenant: string): Promise<TenantHierarchy> {
    const rec = await this.store.get(tenant);
    if (rec === undefined) throw new KryptonError('UNKNOWN_TENANT', `tenant '${tenant}' has no key hierarchy`, { tenant });
    return rec;
  }

  /** Read-modify-write with compare-and-swap on `revision`; `build` returning undefined means "nothing to write". */
  async mutate(tenant: string, build: (rec: TenantHierarchy) => TenantHierarchy | undefined): Promise<{ before: TenantHierarchy; after: TenantHierarchy | undefined }> {
    for (let attempt = 0; ; attempt += 1) {
      const rec = await this.mustGet(tenant);
      const next = build(rec);
      if (next === undefined) return { before: rec, after: undefined };
      try {
        await this.store.update(next);
        return { before: rec, after: next };
      } catch (err) {
        if (err instanceof HierarchyStoreError && err.code === 'CONFLICT' && attempt < MAX_CAS_RETRIES) continue;
        throw storeError(tenant, err);
      }
    }
  }

  /** The tenant's stored lineage, or undefined without a record. */
  async lineage(tenant: string): Promise<Lineage | undefined> {
    const rec = await this.read(tenant);
    if (rec === undefined) return undefined;
    return {
      shadow: { ...rec.shadow }, state: rec.state, currentL2: rec.currentL2, l2Versions: rec.l2.map((e) => e.version).sort((a, b) => a - b),
      services: Object.entries(rec.currentL3).map(([service, current]) => ({
        service, current, versions: rec.l3.filter((e) => e.service === service).map((e) => e.version).sort((a, b) => a - b),
      })),
    };
  }
}
