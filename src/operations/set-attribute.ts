/**
 * Set Attribute (KMIP 2.x, KMIP 2.1 §6.1.51): gives a single-valued attribute its value,
 * adding it when absent and replacing it when present. An attribute with several instances is
 * Multi Valued Attribute (use Modify Attribute with a Current Attribute instead).
 */
import { KmipError } from '../kmip/errors.js';
import { Operation } from '../kmip/registry.js';
import type { SetAttributeRequest, SetAttributeResponse } from '../kmip/payloads/set-attribute.js';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { afterChange, checkNewValue, checkStateAllows, readOnly } from './model/attribute-change.js';
import { ruleFor } from './model/attribute-rules.js';
import { claimedNames, mutateObject, resolveUid } from './model/context.js';
import { attrsOf, setAttr } from './model/record.js';

export const setAttributeOperation: OperationHandler<SetAttributeRequest, SetAttributeResponse, OperationServices> = {
  operation: Operation.SetAttribute,
  since: '2.0',
  mutating: true,
  async handle(ctx: OpContext, req: SetAttributeRequest): Promise<SetAttributeResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const { name } = req.attribute;
    await mutateObject(ctx, uid, async (rec) => {
      const rule = ruleFor(name);
      const count = attrsOf(rec, name).length;
      if (count > 1) throw new KmipError('MULTI_VALUED_ATTRIBUTE', `'${name}' has several instances`, { field: name });
      if (count === 0 ? !rule.add : rule.modify === 'never') throw readOnly(name);
      checkStateAllows(rec, name);
      await checkNewValue(ctx, rec, req.attribute, count === 0 ? 'add' : 'modify');
      setAttr(rec, name, req.attribute.value);
      afterChange(rec, name, ctx.now);
    }, { names: claimedNames(req.attribute) });
    return { uniqueIdentifier: uid };
  },
};
