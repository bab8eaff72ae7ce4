/**
 * Adjust Attribute (KMIP 2.x, KMIP 2.1 §6.1.3): increments, decrements or negates a numeric,
 * interval, date or boolean attribute. An absent attribute counts as 0 (false for Boolean) when
 * its type is known; a result that leaves its type's range is Numeric Range.
 */
import { KmipError } from '../kmip/errors.js';
import { AdjustmentType, Operation, tagByCode } from '../kmip/registry.js';
import { attributeTag } from '../kmip/attributes.js';
import type { AdjustAttributeRequest, AdjustAttributeResponse } from '../kmip/payloads/adjust-attribute.js';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import type { OperationServices, OpContext } from './services.js';
import type { OperationHandler } from './types.js';
import { afterChange, checkNewValue, checkStateAllows, readOnly } from './model/attribute-change.js';
import { ruleFor } from './model/attribute-rules.js';
import { mutateObject, resolveUid } from './model/context.js';
import { attrsOf, setAttr } from './model/record.js';

/** Inclusive ranges of the TTLV numeric types (KMIP 1.4 §9.1.1.4). */
const RANGES: Partial<Record<ItemType, readonly [bigint, bigint]>> = {
  [ItemType.Integer]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ItemType.Interval]: [0n, 2n ** 32n - 1n],
  [ItemType.LongInteger]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ItemType.DateTime]: [-(2n ** 63n), 2n ** 63n - 1n],
};

function numeric(item: TtlvItem): bigint | undefined {
  switch (item.type) {
    case ItemType.Integer: case ItemType.Interval: return BigInt(item.value);
    case ItemType.LongInteger: case ItemType.BigInteger: case ItemType.DateTime: return item.value;
    default: return undefined;
  }
}

function zeroOf(tag: number, type: ItemType): TtlvItem | undefined {
  switch (type) {
    case ItemType.Integer: case ItemType.Interval: return { tag, type, value: 0 };
    case ItemType.LongInteger: case ItemType.BigInteger: case ItemType.DateTime: return { tag, type, value: 0n };
    case ItemType.Boolean: return { tag, type, value: false };
    default: return undefined;
  }
}

function adjust(current: TtlvItem, type: number, by: TtlvItem | undefined): TtlvItem {
  if (current.type === ItemType.Boolean) {
    if (type !== AdjustmentType.Negate) throw new KmipError('INVALID_FIELD', 'a Boolean can only be negated', { field: 'Adjustment Type' });
    return Object.assign({}, current, { value: !current.value });
  }
  const value = numeric(current);
  if (value === undefined) throw new KmipError('INVALID_DATA_TYPE', 'the attribute is not numeric', { field: 'Attribute Reference' });
  let delta = 1n;
  if (by !== undefined) {
    const d = numeric(by);
    if (d === undefined) throw new KmipError('INVALID_DATA_TYPE', 'Adjustment Value must be numeric', { field: 'Adjustment Value' });
    delta = d;
  }
  let next: bigint;
  switch (type) {
    case AdjustmentType.Increment: next = value + delta; break;
    case AdjustmentType.Decrement: next = value - delta; break;
    case AdjustmentType.Negate: next = -value; break;
    default: throw new KmipError('INVALID_FIELD', 'unknown Adjustment Type', { field: 'Adjustment Type' });
  }
  const range = RANGES[current.type];
  if (range !== undefined && (next < range[0] || next > range[1])) {
    throw new KmipError('NUMERIC_RANGE', 'the adjusted value is out of range for its type', { field: 'Adjustment Value' });
  }
  if (current.type === ItemType.Integer || current.type === ItemType.Interval) return Object.assign({}, current, { value: Number(next) });
  return Object.assign({}, current, { value: next });
}

export const adjustAttributeOperation: OperationHandler<AdjustAttributeRequest, AdjustAttributeResponse, OperationServices> = {
  operation: Operation.AdjustAttribute,
  since: '2.0',
  mutating: true,
  async handle(ctx: OpContext, req: AdjustAttributeRequest): Promise<AdjustAttributeResponse> {
    const uid = resolveUid(ctx, req.uniqueIdentifier);
    const name = req.attributeName;
    await mutateObject(ctx, uid, async (rec) => {
      const rule = ruleFor(name);
      const instances = attrsOf(rec, name);
      if (instances.length > 1) throw new KmipError('MULTI_VALUED_ATTRIBUTE', `'${name}' has several instances`, { field: name });
      const existing = instances[0];
      if (existing === undefined ? !rule.add : rule.modify === 'never') throw readOnly(name);
      checkStateAllows(rec, name);
      let current = existing?.value;
      if (current === undefined) {
        const tag = attributeTag(name);
        const type = tag === undefined ? null : tagByCode(tag)?.type ?? null;
        current = tag === undefined || type === null ? undefined : zeroOf(tag, type);
        if (current === undefined) throw new KmipError('ATTRIBUTE_NOT_FOUND', `the object has no '${name}' attribute`, { field: name });
      }
      const next = adjust(current, req.adjustmentType, req.adjustmentValue);
      await checkNewValue(ctx, rec, { name, value: next }, 'modify');
      setAttr(rec, name, next);
      afterChange(rec, name, ctx.now);
    });
    return { uniqueIdentifier: uid };
  },
};
