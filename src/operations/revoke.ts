/**
 * Revoke (KMIP 1.4 §4.20, KMIP 2.1 §6.1.44): Key / CA Compromise → Compromised (or Destroyed
 * Compromised) with Compromise Date and Compromise Occurrence Date; any other reason deactivates
 * an Active object. The Revocation Reason is kept as an attribute.
 */
import { KmipError } from '../kmip/errors.js';
import { enumValueExistsIn, ObjectType, Operation } from '../kmip/registry.js';
import type { RevokeRequest, RevokeResponse } from '../kmip/payloads/revoke.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { mutateObject, resolveUid } from './model/context.js';
import { isCompromiseReason, revoke } from './model/lifecycle.js';

export const revokeOperation: OperationHandler<RevokeRequest, RevokeResponse, OperationServices> = {
  operation: Operation.Revoke,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: RevokeRequest): Promise<RevokeResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const code = req.revocationReason.code;
    // 1.4 §11.21: "Revocation Reason is not recognized" → Invalid Field.
    if (code < 0x80000000 && !enumValueExistsIn('RevocationReasonCode', code, ctx.version)) {
      throw new KmipError('INVALID_FIELD', 'unknown Revocation Reason Code', { field: 'Revocation Reason Code' });
    }
    // 2.1 §6.1.44: Compromise Occurrence Date "SHALL NOT be specified for other Revocation Reason enumerations".
    if (req.compromiseOccurrenceDate !== undefined && !isCompromiseReason(code)) {
      throw new KmipError('INVALID_FIELD', 'Compromise Occurrence Date is only for Key / CA Compromise', { field: 'Compromise Occurrence Date' });
    }
    const reason = req.revocationReason.message === undefined ? { code } : { code, message: req.revocationReason.message };
    await mutateObject(ctx, uid, (rec) => {
      if (rec.objectType === ObjectType.Template) throw new KmipError('INVALID_OBJECT_TYPE', 'a Template has no lifecycle');
      revoke(rec, reason, req.compromiseOccurrenceDate, ctx.now);
    });
    // Issue 3 §5: a revoked key's slot is wiped now, not at the next use or LRU eviction.
    ctx.services.keyCache.evict(ctx.principal.tenant, uid);
    return { uniqueIdentifier: uid };
  },
};
