/**
 * Adjust Attribute (KMIP 2.x only): KMIP 2.1 §6.1.3. Request: Unique Identifier?,
 * Attribute Reference, Adjustment Type, Adjustment Value?; response: Unique Identifier.
 */
import type { TtlvItem } from '@openkcm/ttlv';
import { Operation, Tag } from '../registry.generated.js';
import { definePayloads, uid } from './codec.js';
import type { CustomField } from './codec.js';
import { attributeNameField } from './attribute-fields.js';
import { optItem } from './fields.js';

export interface AdjustAttributeRequest {
  uniqueIdentifier?: string;
  attributeName: string;
  adjustmentType: number;
  /** Its type follows the adjusted attribute (Integer, Long Integer, Interval, Date-Time...). */
  adjustmentValue?: TtlvItem;
}

export interface AdjustAttributeResponse {
  uniqueIdentifier: string;
}

const adjustmentValue: CustomField<AdjustAttributeRequest> = {
  name: 'Adjustment Value',
  encode(obj) {
    const v = obj.adjustmentValue;
    return v === undefined ? undefined : Object.assign({}, v, { tag: Tag.AdjustmentValue });
  },
  decode(s, _v, out) {
    const item = optItem(s, Tag.AdjustmentValue);
    if (item !== undefined) out.adjustmentValue = item;
  },
};

export const adjustAttributePayloads = definePayloads<AdjustAttributeRequest, AdjustAttributeResponse>(Operation.AdjustAttribute, 'Adjust Attribute', [
  uid('uniqueIdentifier'),
  attributeNameField<'attributeName', AdjustAttributeRequest>('attributeName', { required: true, always2x: true }),
  { key: 'adjustmentType', tag: Tag.AdjustmentType, kind: 'enum', required: true },
  adjustmentValue,
], [
  uid('uniqueIdentifier', true),
]);
