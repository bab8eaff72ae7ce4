/**
 * Recover (KMIP 1.4 §4.23, KMIP 2.1 §6.1.42): brings an archived object back on-line. Recovering
 * an on-line object is a no-op success. Recover returns a Unique Identifier, so it sets the ID
 * Placeholder (1.4 §4 preamble lists it).
 */
import { Operation } from '../kmip/registry.js';
import type { RecoverRequest, RecoverResponse } from '../kmip/payloads/recover.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { isArchived, mutateObject, resolveUid, setIdPlaceholder } from './model/context.js';
import { touch } from './model/lifecycle.js';
import { removeAttrs } from './model/record.js';

export const recoverOperation: OperationHandler<RecoverRequest, RecoverResponse, OperationServices> = {
  operation: Operation.Recover,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: RecoverRequest): Promise<RecoverResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    await mutateObject(ctx, uid, (rec) => {
      if (!isArchived(rec)) return;
      removeAttrs(rec, 'Archive Date');
      touch(rec, ctx.now);
    }, { allowArchived: true });
    setIdPlaceholder(ctx, uid);
    return { uniqueIdentifier: uid };
  },
};
