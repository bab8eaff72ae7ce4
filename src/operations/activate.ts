/**
 * Activate (KMIP 1.4 §4.19, KMIP 2.1 §6.1.1): Pre-Active → Active, Activation Date = the time
 * the request was received (state transition T4, 2.1 §4.57).
 */
import { KmipError } from '../kmip/errors.js';
import { ObjectType, Operation } from '../kmip/registry.js';
import type { ActivateRequest, ActivateResponse } from '../kmip/payloads/activate.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { mutateObject, resolveUid } from './model/context.js';
import { activate } from './model/lifecycle.js';

export const activateOperation: OperationHandler<ActivateRequest, ActivateResponse, OperationServices> = {
  operation: Operation.Activate,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: ActivateRequest): Promise<ActivateResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    await mutateObject(ctx, uid, (rec) => {
      // 1.4 §11.20: "a template or other object that is not able to be activated".
      if (rec.objectType === ObjectType.Template) throw new KmipError('INVALID_OBJECT_TYPE', 'a Template has no lifecycle');
      activate(rec, ctx.now);
    });
    return { uniqueIdentifier: uid };
  },
};
