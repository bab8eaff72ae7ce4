/**
 * Locate (KMIP 1.4 §4.9, KMIP 2.1 §6.1.28): the UIDs of the caller's tenant's objects matching
 * every given attribute, newest first, after Offset Items, at most Maximum Items (and at most
 * the server's own limit). Only the caller's tenant is searched, so another tenant's objects
 * are invisible, not merely filtered (issue 2 §7).
 *
 * Storage Status Mask: on-line objects by default; archived ones only with Archival Storage;
 * destroyed ones only with Destroyed Storage (2.x; 1.x has no such bit, so a 1.x client never
 * locates a destroyed object, as SKFF-M-5-14 expects).
 */
import { KmipError } from '../kmip/errors.js';
import { isKmip2 } from '../kmip/message.js';
import { ObjectGroupMember, Operation, StorageStatusMask, tagExistsIn, Tag } from '../kmip/registry.js';
import type { LocateRequest, LocateResponse } from '../kmip/payloads/locate.js';
import type { KmipAttribute } from '../kmip/attributes.js';
import { ItemType } from '../ttlv/types.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { clearIdPlaceholder, isArchived, setIdPlaceholder } from './model/context.js';
import { checkValue, nameValueOf } from './model/client-attributes.js';
import { advanceByDates, isDestroyedState } from './model/lifecycle.js';
import { recordMatches } from './model/locate-match.js';
import { boolAttr, stateOf } from './model/record.js';
import type { LocateHint, ManagedObjectRecord } from './model/store.js';

function single(criteria: readonly KmipAttribute[], name: string): KmipAttribute | undefined {
  const all = criteria.filter((c) => c.name === name);
  return all.length === 1 ? all[0] : undefined;
}

/** The most selective index the store offers for these criteria. */
function hintFor(criteria: readonly KmipAttribute[]): LocateHint {
  const hint: { objectType?: number; name?: string; group?: string; state?: number } = {};
  const name = single(criteria, 'Name');
  const nameValue = name === undefined ? undefined : nameValueOf(name.value);
  if (nameValue !== undefined) hint.name = nameValue;
  const group = single(criteria, 'Object Group')?.value;
  if (group?.type === ItemType.TextString) hint.group = group.value;
  const type = single(criteria, 'Object Type')?.value;
  if (type?.type === ItemType.Enumeration) hint.objectType = type.value;
  const state = single(criteria, 'State')?.value;
  if (state?.type === ItemType.Enumeration) hint.state = state.value;
  return hint;
}

function inStorage(rec: ManagedObjectRecord, mask: number): boolean {
  if (isArchived(rec)) return (mask & StorageStatusMask.ArchivalStorage) !== 0;
  if (isDestroyedState(stateOf(rec))) return (mask & StorageStatusMask.DestroyedStorage) !== 0;
  return (mask & StorageStatusMask.OnLineStorage) !== 0;
}

export const locateOperation: OperationHandler<LocateRequest, LocateResponse, OperationServices> = {
  operation: Operation.Locate,
  since: '1.0',
  mutating: false,
  async handle(ctx: OpContext, req: LocateRequest): Promise<LocateResponse> {
    const limit = ctx.services.config.maxLocateItems;
    if (req.maximumItems !== undefined && req.maximumItems < 0) throw new KmipError('INVALID_FIELD', 'Maximum Items is negative', { field: 'Maximum Items' });
    if (req.offsetItems !== undefined && req.offsetItems < 0) throw new KmipError('INVALID_FIELD', 'Offset Items is negative', { field: 'Offset Items' });
    for (const c of req.attributes) checkValue(ctx, c.name, c.value);
    const mask = req.storageStatusMask ?? StorageStatusMask.OnLineStorage;
    const max = Math.min(req.maximumItems ?? limit, limit);
    const offset = req.offsetItems ?? 0;

    const tenant = ctx.principal.tenant;
    const store = ctx.services.store;
    const matched: string[] = [];
    for (const uid of await store.findUids(tenant, hintFor(req.attributes))) {
      const rec = await store.get(tenant, uid);
      if (rec === undefined) continue;
      advanceByDates(rec, ctx.now);
      if (!inStorage(rec, mask) || !recordMatches(rec, req.attributes)) continue;
      // Group Member Fresh (1.4 §4.9): only objects never served to a client.
      if (req.objectGroupMember === ObjectGroupMember.GroupMemberFresh && boolAttr(rec, 'Fresh') !== true) continue;
      matched.push(uid);
      // Group Member Default: the server's default member of the group is its newest object.
      if (req.objectGroupMember === ObjectGroupMember.GroupMemberDefault) break;
    }
    const page = matched.slice(offset, offset + max);
    // ID Placeholder (1.4 §4.9): set by a single result, emptied otherwise.
    if (page.length === 1 && page[0] !== undefined) setIdPlaceholder(ctx, page[0]);
    else clearIdPlaceholder(ctx);
    const resp: LocateResponse = { uniqueIdentifiers: page };
    // Located Items (1.3+) is sent when the client pages (Maximum / Offset Items): it is what
    // a pager needs, and the OASIS test cases, which never page, do not expect it.
    const paging = req.maximumItems !== undefined || req.offsetItems !== undefined;
    if (paging && (isKmip2(ctx.protocolVersion) || tagExistsIn(Tag.LocatedItems, ctx.version))) resp.locatedItems = matched.length;
    return resp;
  },
};
