/**
 * Custom payload fields for the attribute-carrying parts of payloads, in both generations
 * (the mapping itself lives in src/kmip/attributes.ts).
 */
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem } from '@openkcm/ttlv';
import { text } from '@openkcm/ttlv';
import {
  readAttribute1x, readAttributeList, readAttributeNames, readAttributeReference, readRequestAttributes,
  readWrappedAttribute, writeAttribute1x, writeAttributeList, writeAttributeNames, writeAttributeReference,
  writeRequestAttributes, writeWrappedAttribute,
} from '../attributes.js';
import type { KmipAttribute } from '../attributes.js';
import { KmipError } from '../errors.js';
import { isKmip2 } from '../message.js';
import { Tag } from '../registry.generated.js';
import type { CustomField } from './codec.js';
import { optItem, tagName } from './fields.js';

type Keyed<K extends string, V> = { [P in K]?: V };

/**
 * Create/Register-style attributes: 1.x Template-Attribute (with optional Template Names,
 * KMIP 1.4 §2.1.8) / 2.x Attributes (2.1 §2.1.1). Written even when empty in requests,
 * because both tables mark them REQUIRED; `optional` leaves them out when empty (1.x
 * responses, which return only the attributes the server set implicitly).
 */
export function requestAttributesField<T extends { attributes?: KmipAttribute[]; templateNames?: StructureItem[] }>(
  opts: { tag1x?: number; tag2x?: number; only?: 1 | 2; optional?: boolean } = {},
): CustomField<T> {
  const tag1x = opts.tag1x ?? Tag.TemplateAttribute;
  const tag2x = opts.tag2x ?? Tag.Attributes;
  return {
    name: 'Attributes',
    ...(opts.only === undefined ? {} : { only: opts.only }),
    encode(obj, v) {
      const attributes = obj.attributes ?? [];
      const templateNames = obj.templateNames ?? [];
      if (opts.optional === true && attributes.length === 0 && templateNames.length === 0) return undefined;
      return writeRequestAttributes({ templateNames, attributes }, v, tag1x, tag2x);
    },
    decode(s, v, out) {
      const present = optItem(s, isKmip2(v) ? tag2x : tag1x) !== undefined;
      if (!present && opts.optional === true) return;
      const c = readRequestAttributes(s, v, tag1x, tag2x);
      out.attributes = c.attributes;
      if (c.templateNames.length > 0) out.templateNames = c.templateNames;
    },
  };
}

/** A flat attribute list: 1.x Attribute* / 2.x Attributes (Locate, Get Attributes response). */
export function attributeListField<K extends string, T extends Keyed<K, KmipAttribute[]>>(key: K): CustomField<T> {
  return {
    name: 'Attributes',
    encode(obj, v) {
      const attrs = obj[key] ?? [];
      return isKmip2(v) || attrs.length > 0 ? writeAttributeList(attrs, v) : undefined;
    },
    decode(s, v, out) {
      (out as Keyed<K, KmipAttribute[]>)[key] = readAttributeList(s, v);
    },
  };
}

/** One attribute: 1.x `Attribute` / 2.x `New Attribute` (or `tag2x`). */
export function singleAttributeField<K extends string, T extends Keyed<K, KmipAttribute>>(
  key: K, opts: { required?: boolean; tag2x?: number; only?: 1 | 2; always2x?: boolean } = {},
): CustomField<T> {
  const tag2x = opts.tag2x ?? Tag.NewAttribute;
  const use2x = (major: number): boolean => opts.always2x === true || major >= 2;
  return {
    name: tagName(tag2x),
    ...(opts.only === undefined ? {} : { only: opts.only }),
    encode(obj, v) {
      const attr = obj[key];
      if (attr === undefined) {
        if (opts.required === true) throw new KmipError('MISSING_DATA', `${use2x(v.major) ? tagName(tag2x) : 'Attribute'} is required`, { field: use2x(v.major) ? tagName(tag2x) : 'Attribute' });
        return undefined;
      }
      return use2x(v.major) ? writeWrappedAttribute(tag2x, attr) : writeAttribute1x(attr);
    },
    decode(s, v, out) {
      const tag = use2x(v.major) ? tag2x : Tag.Attribute;
      const item = optItem(s, tag);
      if (item === undefined) {
        if (opts.required === true) throw new KmipError('MISSING_DATA', `${tagName(tag)} is required in ${tagName(s.tag)}`, { field: tagName(tag) });
        return;
      }
      (out as Keyed<K, KmipAttribute>)[key] = use2x(v.major) ? readWrappedAttribute(item) : readAttribute1x(item);
    },
  };
}

/** Attribute names: 1.x `Attribute Name`* / 2.x `Attribute Reference`*. */
export function attributeNamesField<K extends string, T extends Keyed<K, string[]>>(key: K): CustomField<T> {
  return {
    name: 'Attribute Names',
    encode(obj, v) {
      return writeAttributeNames(obj[key] ?? [], v);
    },
    decode(s, v, out) {
      (out as Keyed<K, string[]>)[key] = readAttributeNames(s, v);
    },
  };
}

/** One attribute name: 1.x `Attribute Name` / 2.x `Attribute Reference` (or always 2.x). */
export function attributeNameField<K extends string, T extends Keyed<K, string>>(key: K, opts: { required?: boolean; always2x?: boolean } = {}): CustomField<T> {
  const use2x = (major: number): boolean => opts.always2x === true || major >= 2;
  return {
    name: 'Attribute Reference',
    encode(obj, v) {
      const name = obj[key];
      if (name === undefined) {
        if (opts.required === true) throw new KmipError('MISSING_DATA', 'Attribute Name is required', { field: 'Attribute Name' });
        return undefined;
      }
      return use2x(v.major) ? writeAttributeReference(name) : text(Tag.AttributeName, name);
    },
    decode(s, v, out) {
      const tag = use2x(v.major) ? Tag.AttributeReference : Tag.AttributeName;
      const item = optItem(s, tag);
      if (item === undefined) {
        if (opts.required === true) throw new KmipError('MISSING_DATA', `${tagName(tag)} is required in ${tagName(s.tag)}`, { field: tagName(tag) });
        return;
      }
      if (use2x(v.major)) {
        (out as Keyed<K, string>)[key] = readAttributeReference(item);
      } else {
        if (item.type !== ItemType.TextString) throw new KmipError('INVALID_DATA_TYPE', 'Attribute Name must be a Text String', { field: 'Attribute Name' });
        (out as Keyed<K, string>)[key] = item.value;
      }
    },
  };
}

