/**
 * How each of krypton's lifecycle commands changes a tenant's stored record (src/krypton/types.ts): pure functions
 * from the record read to the record to write, run inside the compare-and-swap of HierarchyRecords.mutate (so they
 * may run again on a conflict). They throw to refuse the write. Sealing an L3 under an L2 happens here because the
 * sealed blob is part of the record.
 */
import type { ShadowReference } from '../keystore/types.js';
import type { SecureKey } from '../native/index.js';
import { keyExhausted } from '../vault/seal-counter.js';
import type { SealBlock } from '../vault/seal-counter.js';
import { KryptonError } from './errors.js';
import { pruneL2, sealL3 } from './hierarchy-blobs.js';
import { MAX_L3_VERSIONS } from './record.js';
import { l3KeyId } from './tenant-keyring.js';
import { revokedError } from './tenant-slots.js';
import type { TenantEntry } from './tenant-slots.js';
import type { StoredL2, StoredL3, TenantHierarchy } from './types.js';

/** onboard: L2 v1 (wrapped by L1) and L3 v1 of each service in `l3`, sealed under the L2 slot `l2`. */
export function newHierarchy(tenant: string, shadow: ShadowReference, l2: SecureKey, wrapped: Uint8Array, l3: ReadonlyMap<string, SecureKey>, now: Date): TenantHierarchy {
  const services = [...l3.keys()];
  return {
    tenant,
    shadow: { plugin: shadow.plugin, keyRef: shadow.keyRef, keyVersion: shadow.keyVersion },
    state: 'active',
    stateReason: 'onboarded',
    stateChangedAt: now,
    currentL2: 1,
    l2: [{ version: 1, wrapped, createdAt: now }],
    currentL3: Object.fromEntries(services.map((s) => [s, 1])),
    l3: [...l3].map(([service, k]): StoredL3 => ({ service, version: 1, l2Version: 1, sealed: sealL3(tenant, l2, 1, k, service, 1), createdAt: now })),
    revision: 1,
  };
}

/** rotateL2: L2 `version` added (wrapped by L1), every L3 re-sealed under it from this node's slots, unreferenced L2 versions pruned. */
export function withRotatedL2(rec: TenantHierarchy, entry: TenantEntry, version: number, l2: SecureKey, wrapped: Uint8Array, now: Date): TenantHierarchy {
  const tenant = rec.tenant;
  if (rec.state !== 'active') throw revokedError(tenant, 'is revoked (kill-switch)');
  if (rec.currentL2 + 1 !== version) throw new KryptonError('CONFLICT', `tenant '${tenant}' L2 was rotated concurrently`, { tenant });
  const l3 = rec.l3.map((e): StoredL3 => {
    const slot = entry.keyrings.get(e.service)?.slot(e.version);
    if (slot === undefined) throw new KryptonError('CONFLICT', `tenant '${tenant}' L3 ${e.service} v${String(e.version)} is not active on this node`, { tenant });
    return { ...e, l2Version: version, sealed: sealL3(tenant, l2, version, slot, e.service, e.version) };
  });
  const l2s = [...rec.l2, { version, wrapped, createdAt: now }];
  return { ...rec, currentL2: version, l2: pruneL2(l2s, l3, version), l3, revision: rec.revision + 1 };
}

/** rotateL3: L3 current+1 of `service`, sealed under the current L2 slot of `entry`, made current. */
export function withRotatedL3(rec: TenantHierarchy, entry: TenantEntry, service: string, l3: SecureKey, now: Date): { rec: TenantHierarchy; version: number } {
  const tenant = rec.tenant;
  if (rec.state !== 'active') throw revokedError(tenant, 'is revoked (kill-switch)');
  const current = rec.currentL3[service];
  if (current === undefined) throw new KryptonError('UNKNOWN_SERVICE', `tenant '${tenant}' has no service '${service}'`, { tenant });
  if (rec.l3.filter((e) => e.service === service).length >= MAX_L3_VERSIONS) {
    throw new KryptonError('LIMIT', `service '${service}' of tenant '${tenant}' already holds ${String(MAX_L3_VERSIONS)} L3 versions (MAX_L3_VERSIONS); drop old versions first`, { tenant });
  }
  const l2 = entry.l2.get(rec.currentL2);
  if (l2 === undefined) throw new KryptonError('CONFLICT', `tenant '${tenant}' L2 v${String(rec.currentL2)} is not active on this node`, { tenant });
  const version = current + 1;
  const stored: StoredL3 = { service, version, l2Version: rec.currentL2, sealed: sealL3(tenant, l2, rec.currentL2, l3, service, version), createdAt: now };
  return { rec: { ...rec, currentL3: { ...rec.currentL3, [service]: version }, l3: [...rec.l3, stored], revision: rec.revision + 1 }, version };
}

/** dropL3Version: L3 `version` of `service` removed (never the current one), unreferenced L2 versions pruned. */
export function withoutL3Version(rec: TenantHierarchy, service: string, version: number): TenantHierarchy {
  const tenant = rec.tenant;
  const current = rec.currentL3[service];
  if (current === undefined) throw new KryptonError('UNKNOWN_SERVICE', `tenant '${tenant}' has no service '${service}'`, { tenant });
  if (version === current) throw new KryptonError('INVALID', `L3 v${String(version)} is the current version of '${service}'; rotate before dropping it`, { tenant });
  if (!rec.l3.some((e) => e.service === service && e.version === version)) {
    throw new KryptonError('UNKNOWN_VERSION', `tenant '${tenant}' service '${service}' has no L3 v${String(version)}`, { tenant });
  }
  const l3 = rec.l3.filter((e) => !(e.service === service && e.version === version));
  return { ...rec, l3, l2: pruneL2(rec.l2, l3, rec.currentL2), revision: rec.revision + 1 };
}

/** replaceL1: the shadow reference and every wrapped L2 replaced, only if nothing changed since `revision` was read. */
export function withReplacedL1(rec: TenantHierarchy, revision: number, next: ShadowReference, rewrapped: ReadonlyMap<number, Uint8Array>): TenantHierarchy {
  const tenant = rec.tenant;
  if (rec.state !== 'active') throw revokedError(tenant, 'was revoked during L1 replacement');
  if (rec.revision !== revision) throw new KryptonError('CONFLICT', `tenant '${tenant}' changed during L1 replacement; retry`, { tenant });
  const l2 = rec.l2.map((e): StoredL2 => {
    const w = rewrapped.get(e.version);
    if (w === undefined) throw new KryptonError('CONFLICT', `tenant '${tenant}' L2 v${String(e.version)} appeared during L1 replacement; retry`, { tenant });
    return { ...e, wrapped: w };
  });
  return { ...rec, shadow: { plugin: next.plugin, keyRef: next.keyRef, keyVersion: next.keyVersion }, l2, revision: rec.revision + 1 };
}

/**
 * A block of seals of L3 `version` of `service`: its reserved count raised by `block` (less at the limit), the
 * block being the numbers between the old and the new mark. Refused past `limit` (NIST SP 800-38D §8.3).
 * @throws EnvelopeError KEY_EXHAUSTED | KmipError TENANT_REVOKED | KryptonError UNKNOWN_VERSION
 */
export function withReservedSeals(rec: TenantHierarchy, service: string, version: number, block: number, limit: number): { rec: TenantHierarchy; block: SealBlock } {
  const tenant = rec.tenant;
  if (rec.state !== 'active') throw revokedError(tenant, `is ${rec.state} (${rec.stateReason})`);
  const i = rec.l3.findIndex((e) => e.service === service && e.version === version);
  const e = rec.l3[i];
  if (e === undefined) throw new KryptonError('UNKNOWN_VERSION', `tenant '${tenant}' service '${service}' has no L3 v${String(version)}`, { tenant });
  const start = e.reserved ?? 0;
  if (start >= limit) throw keyExhausted(`'${l3KeyId(tenant, service)}' v${String(version)}`, start, limit);
  const end = Math.min(start + block, limit);
  const l3 = rec.l3.map((x, j): StoredL3 => (j === i ? { ...x, reserved: end } : x));
  return { rec: { ...rec, l3, revision: rec.revision + 1 }, block: { start, end } };
}
