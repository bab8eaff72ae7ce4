/**
 * Get Attribute List (KMIP 1.4 §4.13, KMIP 2.1 §6.1.21): the names of the object's attributes
 * that exist in the request's version, each once.
 */
import { Operation } from '../kmip/registry.js';
import type { GetAttributeListRequest, GetAttributeListResponse } from '../kmip/payloads/get-attribute-list.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { loadObject, resolveUid } from './model/context.js';
import { visibleAttributes } from './model/visible.js';

export const getAttributeListOperation: OperationHandler<GetAttributeListRequest, GetAttributeListResponse, OperationServices> = {
  operation: Operation.GetAttributeList,
  since: '1.0',
  mutating: false,
  async handle(ctx: OpContext, req: GetAttributeListRequest): Promise<GetAttributeListResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const rec = await loadObject(ctx, uid);
    const names = [...new Set(visibleAttributes(rec, ctx.version).map((a) => a.name))];
    return { uniqueIdentifier: uid, attributeNames: names };
  },
};
