/**
 * Check (KMIP 1.4 §4.10, KMIP 2.1 §6.1.7): may the client use the object as it says it will?
 * The Cryptographic Usage Mask is checked against the object's mask and state
 * (model/usage.ts: Incompatible Cryptographic Usage Mask, vectors BL-M-2-21 / BL-M-3-21), the
 * Lease Time against the object's, the Usage Limits Count against what remains. On success the
 * response carries only the Unique Identifier; on failure the ID Placeholder is emptied
 * (1.4 §4.10) so batched operations after it cannot proceed.
 */
import { KmipError } from '../kmip/errors.js';
import { ObjectType, Operation, Tag } from '../kmip/registry.js';
import type { CheckRequest, CheckResponse } from '../kmip/payloads/check.js';
import { ItemType } from '@openkcm/ttlv';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { clearIdPlaceholder, loadObject, resolveUid } from './model/context.js';
import { intAttr, attrOf } from './model/record.js';
import { requireUsage } from './model/usage.js';
import type { ManagedObjectRecord } from './model/store.js';

function remainingUsage(rec: ManagedObjectRecord): bigint | undefined {
  const limits = attrOf(rec, 'Usage Limits')?.value;
  if (limits?.type !== ItemType.Structure) return undefined;
  const count = limits.value.find((c) => c.tag === Tag.UsageLimitsCount);
  return count?.type === ItemType.LongInteger ? count.value : undefined;
}

export const checkOperation: OperationHandler<CheckRequest, CheckResponse, OperationServices> = {
  operation: Operation.Check,
  since: '1.0',
  mutating: false,
  async handle(ctx: OpContext, req: CheckRequest): Promise<CheckResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    try {
      const rec = await loadObject(ctx, uid);
      if (rec.objectType === ObjectType.Template) throw new KmipError('ILLEGAL_OBJECT_TYPE', 'Check cannot be performed on a Template');
      if (req.cryptographicUsageMask !== undefined) requireUsage(rec, req.cryptographicUsageMask, ctx.now);
      if (req.leaseTime !== undefined) {
        const lease = intAttr(rec, 'Lease Time');
        if (lease !== undefined && req.leaseTime > lease) {
          throw new KmipError('PERMISSION_DENIED', `a lease of ${String(req.leaseTime)} s exceeds the object's Lease Time of ${String(lease)} s`, { field: 'Lease Time' });
        }
      }
      if (req.usageLimitsCount !== undefined) {
        const left = remainingUsage(rec);
        if (left !== undefined && req.usageLimitsCount > left) {
          throw new KmipError('USAGE_LIMIT_EXCEEDED', 'the object does not have that much usage left', { field: 'Usage Limits Count' });
        }
      }
    } catch (e) {
      clearIdPlaceholder(ctx);
      throw e;
    }
    return { uniqueIdentifier: uid };
  },
};
