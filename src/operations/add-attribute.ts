/**
 * Add Attribute (KMIP 1.4 §4.14, KMIP 2.1 §6.1.2): adds a value (a new instance for a
 * multi-valued attribute). Errors per 1.4 §11.15 / 2.1 §6.1.2.1: read-only (Permission Denied /
 * Attribute Read Only), single-valued and present (Illegal Operation / Attribute Single Valued,
 * vector BL-M-5-21), duplicate Name (Illegal Operation / Non Unique Name Attribute, BL-M-8-21).
 */
import { KmipError } from '../kmip/errors.js';
import { isKmip2 } from '../kmip/message.js';
import { Operation } from '../kmip/registry.js';
import type { AddAttributeRequest, AddAttributeResponse } from '../kmip/payloads/add-attribute.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { afterChange, checkNewValue, checkStateAllows, readOnly } from './model/attribute-change.js';
import { ruleFor } from './model/attribute-rules.js';
import { claimedNames, mutateObject, resolveUid, versioned } from './model/context.js';
import { addAttr, attrsOf } from './model/record.js';
import { withIndex } from './model/visible.js';

export const addAttributeOperation: OperationHandler<AddAttributeRequest, AddAttributeResponse, OperationServices> = {
  operation: Operation.AddAttribute,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: AddAttributeRequest): Promise<AddAttributeResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const attr = req.attribute;
    // 1.4 §11.15: "New attribute contains Attribute Index" → Invalid Field.
    if (attr.index !== undefined) throw new KmipError('INVALID_FIELD', 'Add Attribute takes no Attribute Index', { field: 'Attribute Index' });
    const index = await mutateObject(ctx, uid, async (rec) => {
      const rule = ruleFor(attr.name);
      if (!rule.add) throw readOnly(attr.name);
      const existing = attrsOf(rec, attr.name).length;
      if (!rule.multi && existing > 0) {
        throw versioned(ctx, 'ILLEGAL_OPERATION', 'ATTRIBUTE_SINGLE_VALUED', `'${attr.name}' is single-valued and already set`, attr.name);
      }
      checkStateAllows(rec, attr.name);
      await checkNewValue(ctx, rec, attr, 'add');
      addAttr(rec, attr.name, attr.value);
      afterChange(rec, attr.name, ctx.now);
      return existing;
    }, { names: claimedNames(attr) });
    if (isKmip2(ctx.protocolVersion)) return { uniqueIdentifier: uid };
    return { uniqueIdentifier: uid, attribute: withIndex({ name: attr.name, value: attr.value }, index, ctx.version) };
  },
};
