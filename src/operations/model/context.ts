/**
 * What every handler does the same way: resolve the Unique Identifier (ID Placeholder), load
 * the object of the caller's tenant, write it back durably with an undo step, and pick the
 * Result Reason a version-specific error table names.
 */
import { KmipError } from '../../kmip/errors.js';
import type { KmipErrorCode } from '../../kmip/errors.js';
import type { OpContext } from '../services.js';
import type { SessionState } from '../types.js';
import { advanceByDates } from './lifecycle.js';
import { checkAttributeLimits } from './attribute-limits.js';
import { attributeValuesEqual } from '../../kmip/attributes.js';
import type { KmipAttribute } from '../../kmip/attributes.js';
import { nameValueOf } from './name-value.js';
import { nameKey, objectKey } from './locks.js';
import { cloneRecord, StoreConflictError, unversioned } from './store.js';
import type { ContentWanted, ManagedObjectRecord } from './store.js';

/**
 * The Unique Identifier the request names, else the ID Placeholder (KMIP 1.4 §4 preamble:
 * "If omitted, then the ID Placeholder value is used by the server as the Unique Identifier").
 * Neither → Missing Data: the request lacks the information the operation needs.
 */
export function resolveUid(ctx: OpContext, uid: string | undefined): string {
  const resolved = uid ?? ctx.session.idPlaceholder;
  if (resolved === undefined) {
    throw new KmipError('MISSING_DATA', 'no Unique Identifier in the request and no ID Placeholder in the batch', { field: 'Unique Identifier' });
  }
  return resolved;
}

/** Operations that return a Unique Identifier copy it into the ID Placeholder. */
export function setIdPlaceholder(ctx: OpContext, uid: string): void {
  ctx.session.idPlaceholder = uid;
}

export function clearIdPlaceholder(ctx: OpContext): void {
  ctx.session.idPlaceholder = undefined;
}

/** The processor calls this at the start of each request message (the placeholder is per batch). */
export function resetIdPlaceholder(session: SessionState): void {
  session.idPlaceholder = undefined;
}

/**
 * The object `uid` of the caller's tenant, with date-driven transitions applied for ctx.now.
 * Another tenant's object and a never-issued UID give the same Item Not Found (issue 2 §7):
 * the lookup is keyed by tenant, so there is nothing else it could say.
 */
export interface LoadOptions {
  /** Archive / Recover work on archived objects; everything else answers Object Archived. */
  readonly allowArchived?: boolean;
  /** Unseal the object's content too: decoded (`true`), or its stored TTLV bytes (`'stored'`, Get). */
  readonly withObject?: ContentWanted;
}

export interface MutateOptions extends LoadOptions {
  /** Name Values the change claims: held so no concurrent request claims them too. */
  readonly names?: readonly string[];
}

/**
 * Synchronous when the store and the object-level authorization answer at once (issue 14: no await on synchronous
 * work); a Promise when either had to wait. Errors are thrown in the first case; `await loadObject(...)` covers both.
 */
export function loadObject(ctx: OpContext, uid: string, opts: LoadOptions = {}): ManagedObjectRecord | Promise<ManagedObjectRecord> {
  const rec = ctx.services.store.read(ctx.principal.tenant, uid, { withObject: opts.withObject ?? false });
  return rec instanceof Promise ? rec.then((r) => checkLoaded(ctx, uid, r, opts)) : checkLoaded(ctx, uid, rec, opts);
}

function checkLoaded(ctx: OpContext, uid: string, rec: ManagedObjectRecord | undefined, opts: LoadOptions): ManagedObjectRecord | Promise<ManagedObjectRecord> {
  if (rec === undefined) throw new KmipError('ITEM_NOT_FOUND', `no object with Unique Identifier '${uid}'`, { field: 'Unique Identifier' });
  advanceByDates(rec, ctx.now);
  // Object-level authorization (issue 5) sees the state in force now, and refuses before any
  // other check can tell the caller something about the object.
  const authorized = ctx.services.authorizeObject?.(ctx, rec);
  if (authorized instanceof Promise) return authorized.then(() => notArchived(uid, rec, opts));
  return notArchived(uid, rec, opts);
}

function notArchived(uid: string, rec: ManagedObjectRecord, opts: LoadOptions): ManagedObjectRecord {
  // KMIP 1.4 §11.11-11.22: "Object is archived" → Object Archived; it must be recovered first.
  if (opts.allowArchived !== true && isArchived(rec)) throw new KmipError('OBJECT_ARCHIVED', `object '${uid}' is archived; Recover it first`);
  return rec;
}

/** Archived objects carry an Archive Date (KMIP 1.4 §3.32); Recover removes it. */
export function isArchived(rec: Pick<ManagedObjectRecord, 'attributes'>): boolean {
  return rec.attributes.some((a) => a.name === 'Archive Date');
}

/**
 * Optimistic concurrency: how often a read-modify-write is retried when another request changed
 * the object in between. Bounded so that a hot object cannot keep a request looping forever
 * (livelock under contention); past it the client gets a retryable General Failure.
 */
export const MAX_UPDATE_ATTEMPTS = 5;

function sameRecord(a: ManagedObjectRecord, b: ManagedObjectRecord): boolean {
  return a.object === b.object && a.hasObject === b.hasObject && a.attributes.length === b.attributes.length
    && a.attributes.every((x, i) => {
      const y = b.attributes[i];
      return y !== undefined && x.name === y.name && attributeValuesEqual(x.value, y.value);
    });
}

/**
 * Read-modify-write of the object `uid` of the caller's tenant: loads it (as loadObject), lets
 * `change` check and modify it and compute the result, then writes it back durably — only if
 * something changed — and, with Undo, records how to restore it. When another request changed
 * the object meanwhile, the whole step runs again on the new version, so `change` must have no
 * effects other than on the record it is given.
 */
export async function mutateObject<R>(
  ctx: OpContext,
  uid: string,
  change: (rec: ManagedObjectRecord) => R | Promise<R>,
  opts: MutateOptions = {},
): Promise<R> {
  const tenant = ctx.principal.tenant;
  const keys = [objectKey(tenant, uid), ...(opts.names ?? []).map((n) => nameKey(tenant, n))];
  return ctx.services.locks.run(keys, () => mutateUnlocked(ctx, uid, change, opts));
}

async function mutateUnlocked<R>(ctx: OpContext, uid: string, change: (rec: ManagedObjectRecord) => R | Promise<R>, opts: LoadOptions): Promise<R> {
  const tenant = ctx.principal.tenant;
  const store = ctx.services.store;
  for (let attempt = 1; ; attempt++) {
    const rec = await loadObject(ctx, uid, opts);
    const before = cloneRecord(rec);
    const result = await change(rec);
    if (sameRecord(before, rec)) return result;
    checkAttributeLimits(ctx, rec.attributes, before.attributes);
    try {
      await store.update(tenant, rec);
    } catch (e) {
      if (!(e instanceof StoreConflictError)) throw e;
      if (attempt < MAX_UPDATE_ATTEMPTS) continue;
      throw new KmipError('GENERAL_FAILURE', 'the object is being changed concurrently; retry the request', { cause: e });
    }
    ctx.undo?.record(() => store.update(tenant, unversioned(before)));
    return result;
  }
}

/**
 * Stores a new object (durable on resolve); with Undo, records its removal. `beforeInsert`
 * (the Name uniqueness check) runs while the object's Names are held, so the check and the
 * insert are one step for every other request of this process.
 */
export async function insertObject(ctx: OpContext, rec: ManagedObjectRecord, beforeInsert: () => Promise<void> = () => Promise.resolve()): Promise<ManagedObjectRecord> {
  const tenant = ctx.principal.tenant;
  const store = ctx.services.store;
  const names = rec.attributes.filter((a) => a.name === 'Name').map((a) => nameValueOf(a.value)).filter((n): n is string => n !== undefined);
  return ctx.services.locks.run(names.map((n) => nameKey(tenant, n)), async () => {
    checkAttributeLimits(ctx, rec.attributes);
    await beforeInsert();
    const stored = await store.create(tenant, rec);
    ctx.undo?.record(() => store.remove(tenant, rec.uid));
    return stored;
  });
}

/** The Name Value an attribute change claims, for MutateOptions.names. */
export function claimedNames(attr: KmipAttribute): string[] {
  const v = attr.name === 'Name' ? nameValueOf(attr.value) : undefined;
  return v === undefined ? [] : [v];
}

/**
 * For situations whose Result Reason differs between the KMIP 1.4 §11 error tables and the
 * 2.1 error lists (e.g. Add Attribute of a duplicate Name: 1.4 §11.15 Illegal Operation, 2.1
 * Non-Unique Name Attribute).
 */
export function versioned(ctx: OpContext, code1x: KmipErrorCode, code2x: KmipErrorCode, message: string, field?: string): KmipError {
  return new KmipError(ctx.protocolVersion.major >= 2 ? code2x : code1x, message, field === undefined ? {} : { field });
}
