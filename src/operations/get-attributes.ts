/**
 * Get Attributes (KMIP 1.4 §4.12, KMIP 2.1 §6.1.20): the named attributes (all when none are
 * named) of one object. Names the object lacks are left out, as the OASIS test cases expect
 * (e.g. BL-M-2-21 asks for Name on an unnamed key). Works on destroyed objects: their metadata
 * is retained (2.1 §6.1.15).
 */
import { KmipError } from '../kmip/errors.js';
import { Operation } from '../kmip/registry.js';
import type { GetAttributesRequest, GetAttributesResponse } from '../kmip/payloads/get-attributes.js';
import type { KmipAttribute } from '../kmip/attributes.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { loadObject, resolveUid } from './model/context.js';
import { visibleAttributes } from './model/visible.js';
import { trimAllAttributes } from './model/compat.js';

export const getAttributesOperation: OperationHandler<GetAttributesRequest, GetAttributesResponse, OperationServices> = {
  operation: Operation.GetAttributes,
  since: '1.0',
  mutating: false,
  async handle(ctx: OpContext, req: GetAttributesRequest): Promise<GetAttributesResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    // KMIP 1.4 §11.13: "The same Attribute Name is present more than once" → Invalid Message.
    if (new Set(req.attributeNames).size !== req.attributeNames.length) {
      throw new KmipError('INVALID_MESSAGE', 'an attribute is named more than once', { field: 'Attribute Name' });
    }
    const rec = await loadObject(ctx, uid);
    let attributes: KmipAttribute[];
    // All attributes: trimmed to what the client's compatibility profile decodes (model/compat.ts; none by default).
    if (req.attributeNames.length === 0) attributes = trimAllAttributes(ctx.services.config.compat, ctx.principal, ctx.version, visibleAttributes(rec, ctx.version));
    else attributes = req.attributeNames.flatMap((name) => visibleAttributes(rec, ctx.version, name));
    return { uniqueIdentifier: uid, attributes };
  },
};
