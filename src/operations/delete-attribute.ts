/**
 * Delete Attribute (KMIP 1.4 §4.16, KMIP 2.1 §6.1.13): removes one instance — 1.x by Attribute
 * Index (0 when omitted), 2.x the one equal to Current Attribute — or, in 2.x with only an
 * Attribute Reference, every instance. REQUIRED and server-managed attributes are never
 * deleted (Permission Denied / Attribute Read Only).
 */
import { attributeValuesEqual } from '../kmip/attributes.js';
import { KmipError } from '../kmip/errors.js';
import { isKmip2 } from '../kmip/message.js';
import { Operation } from '../kmip/registry.js';
import type { DeleteAttributeRequest, DeleteAttributeResponse } from '../kmip/payloads/delete-attribute.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { afterChange, readOnly } from './model/attribute-change.js';
import { ruleFor } from './model/attribute-rules.js';
import { mutateObject, resolveUid } from './model/context.js';
import { withIndex } from './model/visible.js';

export const deleteAttributeOperation: OperationHandler<DeleteAttributeRequest, DeleteAttributeResponse, OperationServices> = {
  operation: Operation.DeleteAttribute,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: DeleteAttributeRequest): Promise<DeleteAttributeResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const name = req.currentAttribute?.name ?? req.attributeName;
    if (name === undefined) throw new KmipError('MISSING_DATA', 'name the attribute to delete', { field: 'Attribute Name' });
    const { deleted, n } = await mutateObject(ctx, uid, (rec) => {
      if (!ruleFor(name).delete) throw readOnly(name);
      const positions = rec.attributes.map((a, i) => (a.name === name ? i : -1)).filter((i) => i >= 0);
      if (positions.length === 0) throw new KmipError('ATTRIBUTE_NOT_FOUND', `the object has no '${name}' attribute`, { field: name });
      let remove: number[];
      let nth = 0;
      if (isKmip2(ctx.protocolVersion)) {
        const current = req.currentAttribute;
        if (current === undefined) {
          remove = positions;
        } else {
          nth = positions.findIndex((p) => { const a = rec.attributes[p]; return a !== undefined && attributeValuesEqual(a.value, current.value); });
          remove = nth < 0 ? [] : [positions[nth] ?? -1];
        }
      } else {
        nth = req.attributeIndex ?? 0;
        remove = positions[nth] === undefined ? [] : [positions[nth] ?? -1];
      }
      const first = rec.attributes[remove[0] ?? -1];
      if (first === undefined) throw new KmipError('ATTRIBUTE_INSTANCE_NOT_FOUND', `no matching instance of '${name}'`, { field: name });
      rec.attributes = rec.attributes.filter((_, i) => !remove.includes(i));
      afterChange(rec, name, ctx.now);
      return { deleted: first, n: nth };
    });
    if (isKmip2(ctx.protocolVersion)) return { uniqueIdentifier: uid };
    return { uniqueIdentifier: uid, attribute: withIndex(deleted, n, ctx.version) };
  },
};
