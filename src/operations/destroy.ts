/**
 * Destroy (KMIP 1.4 §4.21, KMIP 2.1 §6.1.15): the key material is shredded (the vault drops the
 * sealed blob), the metadata is kept with State Destroyed / Destroyed Compromised and a Destroy
 * Date. Active objects must be revoked first (Wrong Key Lifecycle State; 1.x Permission Denied).
 */
import { Operation } from '../kmip/registry.js';
import type { DestroyRequest, DestroyResponse } from '../kmip/payloads/destroy.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { mutateObject, resolveUid } from './model/context.js';
import { destroy } from './model/lifecycle.js';

export const destroyOperation: OperationHandler<DestroyRequest, DestroyResponse, OperationServices> = {
  operation: Operation.Destroy,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: DestroyRequest): Promise<DestroyResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    await mutateObject(ctx, uid, (rec) => {
      destroy(rec, ctx.now);
      rec.hasObject = false;
      rec.object = undefined;
      // Undo must be able to put the material back, so only then is it read first.
    }, { withObject: ctx.undo !== undefined });
    // Issue 3 §5: the destroyed key's cached slot is zeroised with it.
    ctx.services.keyCache.evict(ctx.principal.tenant, uid);
    return { uniqueIdentifier: uid };
  },
};
