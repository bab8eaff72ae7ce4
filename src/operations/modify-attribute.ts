/**
 * Modify Attribute (KMIP 1.4 §4.15, KMIP 2.1 §6.1.34): changes one existing instance — in 1.x
 * the one at Attribute Index (0 when omitted), in 2.x the one equal to Current Attribute, or
 * the only instance when none is given.
 */
import { attributeValuesEqual } from '../kmip/attributes.js';
import { KmipError } from '../kmip/errors.js';
import { isKmip2 } from '../kmip/message.js';
import { Operation } from '../kmip/registry.js';
import type { ModifyAttributeRequest, ModifyAttributeResponse } from '../kmip/payloads/modify-attribute.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { afterChange, checkNewValue, checkStateAllows, readOnly } from './model/attribute-change.js';
import { ruleFor } from './model/attribute-rules.js';
import { claimedNames, mutateObject, resolveUid, versioned } from './model/context.js';
import { ownTagged } from './model/record.js';
import { withIndex } from './model/visible.js';

export const modifyAttributeOperation: OperationHandler<ModifyAttributeRequest, ModifyAttributeResponse, OperationServices> = {
  operation: Operation.ModifyAttribute,
  since: '1.0',
  mutating: true,
  async handle(ctx: OpContext, req: ModifyAttributeRequest): Promise<ModifyAttributeResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const attr = req.attribute;
    const name = attr.name;
    if (req.currentAttribute !== undefined && req.currentAttribute.name !== name) {
      throw new KmipError('INVALID_FIELD', 'Current Attribute and New Attribute name different attributes', { field: 'Current Attribute' });
    }
    const n = await mutateObject(ctx, uid, async (rec) => {
      if (ruleFor(name).modify === 'never') throw readOnly(name);
      checkStateAllows(rec, name);
      const positions = rec.attributes.map((a, i) => (a.name === name ? i : -1)).filter((i) => i >= 0);
      if (positions.length === 0) {
        // 1.4 §11.16: "A specified attribute does not exist (i.e., it needs to first be added)" → Invalid Field.
        throw versioned(ctx, 'INVALID_FIELD', 'ATTRIBUTE_NOT_FOUND', `the object has no '${name}' attribute; add it first`, name);
      }
      let nth: number;
      if (isKmip2(ctx.protocolVersion)) {
        const current = req.currentAttribute;
        if (current !== undefined) {
          nth = positions.findIndex((p) => { const a = rec.attributes[p]; return a !== undefined && attributeValuesEqual(a.value, current.value); });
        } else if (positions.length > 1) {
          throw new KmipError('INVALID_FIELD', `'${name}' has several instances; say which one with Current Attribute`, { field: 'Current Attribute' });
        } else {
          nth = 0;
        }
      } else {
        nth = attr.index ?? 0;
      }
      const at = positions[nth];
      if (nth < 0 || at === undefined) throw new KmipError('ATTRIBUTE_INSTANCE_NOT_FOUND', `no matching instance of '${name}'`, { field: name });
      await checkNewValue(ctx, rec, attr, 'modify');
      rec.attributes[at] = { name, value: ownTagged(name, attr.value) };
      afterChange(rec, name, ctx.now);
      return nth;
    }, { names: claimedNames(attr) });
    if (isKmip2(ctx.protocolVersion)) return { uniqueIdentifier: uid };
    return { uniqueIdentifier: uid, attribute: withIndex({ name, value: attr.value }, n, ctx.version) };
  },
};
