/**
 * The small declarative layer under every payload codec: a payload is a list of fields in
 * spec-table order (KMIP 1.4 §4, KMIP 2.1 §6.1 "Request/Response Payload" tables), each
 * primitive (tag + kind) or custom (attributes, managed objects, ...). One field list gives
 * both the encoder (field order = spec order) and the validating decoder (REQUIRED fields
 * → MISSING_DATA naming the field; wrong types → INVALID_DATA_TYPE; repeats → INVALID_MESSAGE).
 *
 * Version awareness: a field marked `only: 1` exists in KMIP 1.x payloads only, `only: 2`
 * in 2.x only; the other generation neither writes nor reads it.
 */
import { ItemType } from '@openkcm/ttlv';
import type { StructureItem, TtlvItem } from '@openkcm/ttlv';
import { bigInt, bool, bytes, dateTime, dateTimeExtended, enumeration, int, interval, long, text } from '@openkcm/ttlv';
import { KmipError } from '../errors.js';
import type { ProtocolVersion } from '../message.js';
import { Tag } from '../registry.generated.js';
import { childrenOf, optChild, payloadOrEmpty, tagName } from './fields.js';

export type FieldKind = 'text' | 'int' | 'long' | 'bigInt' | 'enum' | 'bool' | 'bytes' | 'dateTime' | 'dateTimeExtended' | 'interval' | 'struct';

const KIND_TYPE: Readonly<Record<FieldKind, ItemType>> = {
  text: ItemType.TextString,
  int: ItemType.Integer,
  long: ItemType.LongInteger,
  bigInt: ItemType.BigInteger,
  enum: ItemType.Enumeration,
  bool: ItemType.Boolean,
  bytes: ItemType.ByteString,
  dateTime: ItemType.DateTime,
  dateTimeExtended: ItemType.DateTimeExtended,
  interval: ItemType.Interval,
  struct: ItemType.Structure,
};

/** Builds one item of `kind`; the value's JS type is checked so a client bug fails loudly. */
function build(tag: number, kind: FieldKind, v: unknown): TtlvItem {
  const bad = (): never => {
    throw new KmipError('INVALID_FIELD', `${tagName(tag)}: ${typeof v} is not a valid ${kind} value`, { field: tagName(tag) });
  };
  switch (kind) {
    case 'text': return typeof v === 'string' ? text(tag, v) : bad();
    case 'int': return typeof v === 'number' ? int(tag, v) : bad();
    case 'enum': return typeof v === 'number' ? enumeration(tag, v) : bad();
    case 'interval': return typeof v === 'number' ? interval(tag, v) : bad();
    case 'long': return typeof v === 'bigint' ? long(tag, v) : bad();
    case 'bigInt': return typeof v === 'bigint' ? bigInt(tag, v) : bad();
    case 'bool': return typeof v === 'boolean' ? bool(tag, v) : bad();
    case 'bytes': return v instanceof Uint8Array ? bytes(tag, v) : bad();
    case 'dateTime': return typeof v === 'bigint' ? dateTime(tag, v) : bad();
    case 'dateTimeExtended': return typeof v === 'bigint' ? dateTimeExtended(tag, v) : bad();
    case 'struct': {
      if (typeof v === 'object' && v !== null && (v as TtlvItem).type === ItemType.Structure) {
        const s = v as StructureItem;
        return s.tag === tag ? s : Object.assign({}, s, { tag });
      }
      return bad();
    }
  }
}

interface FieldBase {
  /** Present only in this major version's payloads. */
  readonly only?: 1 | 2;
}

/** A primitive (or raw structure) field stored under `key`. */
export interface PrimitiveField<K extends string> extends FieldBase {
  readonly key: K;
  readonly tag: number;
  readonly kind: FieldKind;
  /** REQUIRED by the spec table: absent → MISSING_DATA (encode and decode). */
  readonly required?: boolean;
  /**
   * "MAY be repeated": the value is an array. 'always' decodes to [] when absent;
   * 'nonEmpty' leaves the key out when there are no items.
   */
  readonly multi?: 'always' | 'nonEmpty';
}

/** A field with its own mapping (attributes, objects, nested typed structures). */
export interface CustomField<T> extends FieldBase {
  readonly name: string;
  encode(obj: T, v: ProtocolVersion): TtlvItem | readonly (TtlvItem | undefined)[] | undefined;
  decode(s: StructureItem, v: ProtocolVersion, out: Partial<T>): void;
}

export type FieldSpec<T> = PrimitiveField<keyof T & string> | CustomField<T>;

function isCustom<T>(f: FieldSpec<T>): f is CustomField<T> {
  return 'encode' in f;
}

/**
 * One field as the codec walks it, every field in the same shape. The field specs come in many shapes (primitive,
 * custom, with or without `only`/`required`/`multi`), so reading them per batch item made `'encode' in f` and
 * `f.only` megamorphic lookups on every field of every item (issue 14: KeyedHasIC_Megamorphic was ~5% of an Encrypt
 * batch's instructions under callgrind). They are read once here, when the codec is built.
 */
interface Plan<T> {
  /** The field's own mapping, or undefined for a primitive field. */
  readonly custom: CustomField<T> | undefined;
  readonly key: string;
  readonly tag: number;
  readonly kind: FieldKind;
  /** The primitive field's item type (unused for a custom field). */
  readonly type: ItemType;
  readonly required: boolean;
  readonly multi: 'always' | 'nonEmpty' | undefined;
  /** 0: every version; 1 or 2: that major version only. */
  readonly only: 0 | 1 | 2;
}

function planOf<T>(f: FieldSpec<T>): Plan<T> {
  const only = f.only ?? 0;
  if (isCustom(f)) return { custom: f, key: '', tag: 0, kind: 'struct', type: ItemType.Structure, required: false, multi: undefined, only };
  return { custom: undefined, key: f.key, tag: f.tag, kind: f.kind, type: KIND_TYPE[f.kind], required: f.required === true, multi: f.multi, only };
}

function applies(only: 0 | 1 | 2, v: ProtocolVersion): boolean {
  return only === 0 || (only === 2 ? v.major >= 2 : v.major < 2);
}

export interface StructCodec<T> {
  readonly tag: number;
  encode(value: T, v: ProtocolVersion): StructureItem;
  /** `undefined` (absent payload) decodes like an empty structure. */
  decode(item: StructureItem | undefined, v: ProtocolVersion): T;
}

/**
 * Builds the encoder/decoder of one structure from its field list. `T`'s keys are checked
 * against the field keys; the value types are checked at run time by `build` and the
 * decoders, and by the per-operation round-trip tests.
 */
export function structCodec<T extends object>(tag: number, fields: readonly FieldSpec<T>[]): StructCodec<T> {
  const plans: readonly Plan<T>[] = fields.map(planOf);
  return {
    tag,
    encode(value: T, v: ProtocolVersion): StructureItem {
      const items: TtlvItem[] = [];
      for (let i = 0; i < plans.length; i++) {
        const f = plans[i] as Plan<T>;
        if (!applies(f.only, v)) continue;
        if (f.custom !== undefined) {
          const out = f.custom.encode(value, v);
          if (out === undefined) continue;
          if (isItemList(out)) {
            for (const x of out) if (x !== undefined) items.push(x);
          } else {
            items.push(out);
          }
          continue;
        }
        const raw = (value as Record<string, unknown>)[f.key];
        if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) {
          if (f.required) throw new KmipError('MISSING_DATA', `${tagName(f.tag)} is required in ${tagName(tag)}`, { field: tagName(f.tag) });
          continue;
        }
        if (f.multi !== undefined) {
          if (!Array.isArray(raw)) throw new KmipError('INVALID_FIELD', `${tagName(f.tag)} must be an array`, { field: tagName(f.tag) });
          for (const x of raw as unknown[]) items.push(build(f.tag, f.kind, x));
        } else {
          items.push(build(f.tag, f.kind, raw));
        }
      }
      // Already flat: the structure takes the array as it is (the same shape `struct` builds).
      return { tag, type: ItemType.Structure, value: items };
    },
    decode(item: StructureItem | undefined, v: ProtocolVersion): T {
      const s = payloadOrEmpty(item, tag);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < plans.length; i++) {
        const f = plans[i] as Plan<T>;
        if (!applies(f.only, v)) continue;
        if (f.custom !== undefined) {
          f.custom.decode(s, v, out as Partial<T>);
          continue;
        }
        if (f.multi !== undefined) {
          const values = childrenOf(s, f.tag, f.type).map((c) => c.value);
          if (values.length === 0 && f.required) throw new KmipError('MISSING_DATA', `${tagName(f.tag)} is required in ${tagName(tag)}`, { field: tagName(f.tag) });
          if (values.length > 0 || f.multi === 'always') out[f.key] = values;
          continue;
        }
        const child = optChild(s, f.tag, f.type);
        if (child === undefined) {
          if (f.required) throw new KmipError('MISSING_DATA', `${tagName(f.tag)} is required in ${tagName(tag)}`, { field: tagName(f.tag) });
          continue;
        }
        out[f.key] = f.kind === 'struct' ? child : child.value;
      }
      return out as T;
    },
  };
}

function isItemList(x: TtlvItem | readonly (TtlvItem | undefined)[]): x is readonly (TtlvItem | undefined)[] {
  return Array.isArray(x);
}

/** Encode/decode of one operation's request and response payloads. */
export interface PayloadCodec<Req, Resp> {
  readonly operation: number;
  /** Spec name, e.g. 'Get Attributes'. */
  readonly name: string;
  encodeRequest(req: Req, v: ProtocolVersion): StructureItem;
  decodeRequest(payload: StructureItem | undefined, v: ProtocolVersion): Req;
  encodeResponse(resp: Resp, v: ProtocolVersion): StructureItem;
  decodeResponse(payload: StructureItem | undefined, v: ProtocolVersion): Resp;
}

export function definePayloads<Req extends object, Resp extends object>(
  operation: number,
  name: string,
  request: readonly FieldSpec<Req>[],
  response: readonly FieldSpec<Resp>[],
): PayloadCodec<Req, Resp> {
  const req = structCodec<Req>(Tag.RequestPayload, request);
  const resp = structCodec<Resp>(Tag.ResponsePayload, response);
  return {
    operation,
    name,
    encodeRequest: (r, v) => req.encode(r, v),
    decodeRequest: (p, v) => req.decode(p, v),
    encodeResponse: (r, v) => resp.encode(r, v),
    decodeResponse: (p, v) => resp.decode(p, v),
  };
}

// ---- common fields ---------------------------------------------------------------------------

/** Unique Identifier: optional in requests (ID Placeholder, KMIP 1.4 §3.1), REQUIRED in responses. */
export function uid<K extends string>(key: K, required = false): PrimitiveField<K> {
  return { key, tag: Tag.UniqueIdentifier, kind: 'text', required };
}

/** A typed nested structure as a custom field (e.g. Cryptographic Parameters). */
export function nested<T, K extends keyof T & string>(key: K, codec: StructCodec<NonNullable<T[K]>>, required = false, only?: 1 | 2): CustomField<T> {
  return {
    name: tagName(codec.tag),
    ...(only === undefined ? {} : { only }),
    encode(obj, v) {
      const value = obj[key];
      if (value === undefined || value === null) {
        if (required) throw new KmipError('MISSING_DATA', `${tagName(codec.tag)} is required`, { field: tagName(codec.tag) });
        return undefined;
      }
      return codec.encode(value, v);
    },
    decode(s, v, out) {
      const child = optChild(s, codec.tag, ItemType.Structure);
      if (child === undefined) {
        if (required) throw new KmipError('MISSING_DATA', `${tagName(codec.tag)} is required in ${tagName(s.tag)}`, { field: tagName(codec.tag) });
        return;
      }
      out[key] = codec.decode(child, v);
    },
  };
}

/** Request/response shape of the operations that only carry a Unique Identifier (Activate, Destroy, ...). */
export interface UidRequest { uniqueIdentifier?: string }
export interface UidResponse { uniqueIdentifier: string }

export function uidOnlyPayloads(operation: number, name: string): PayloadCodec<UidRequest, UidResponse> {
  return definePayloads<UidRequest, UidResponse>(operation, name, [uid('uniqueIdentifier')], [uid('uniqueIdentifier', true)]);
}
