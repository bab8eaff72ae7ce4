/**
 * Checks on attributes a client supplies (Create, Register, Add/Modify/Set Attribute):
 * permission per the attribute rules, values valid in the request's version, single-valued
 * attributes given once, and Name uniqueness within the tenant.
 */
import type { KmipAttribute } from '../../kmip/attributes.js';
import { KmipError } from '../../kmip/errors.js';
import { CryptographicUsageMask, enumForTag, enumValueExistsIn, maskBitsDefinedIn, Tag } from '../../kmip/registry.js';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';
import type { OpContext } from '../services.js';
import { ruleFor } from './attribute-rules.js';
import { namePolicyOf } from './compat.js';
import { versioned } from './context.js';
import { isDestroyedState } from './lifecycle.js';
import { attrsOf, stateOf } from './record.js';
import { nameValueOf } from './name-value.js';

/** Every Cryptographic Usage Mask bit of the table (computed once, not per checked attribute). */
const KNOWN_USAGE_BITS: number = Object.values(CryptographicUsageMask).reduce((a, b) => a | b, 0);

/** Attributes only a Register may carry (they describe where the material came from). */
const REGISTER_ONLY = new Set(['Original Creation Date', 'Random Number Generator']);

/**
 * Every enumeration inside `item` must exist in the request's version and every mask bit must
 * be defined (KMIP 2.1 §11.46 Invalid Attribute Value; 1.4 §11.2 "Incorrect attribute value(s)
 * specified" → Invalid Field).
 */
export function checkValue(ctx: OpContext, name: string, item: TtlvItem): void {
  if (item.type === ItemType.Structure) {
    for (const c of item.value) checkValue(ctx, name, c);
    return;
  }
  if (item.type === ItemType.Enumeration) {
    const e = enumForTag(item.tag);
    if (e !== undefined && e.xmlName !== 'Tag' && item.value < 0x80000000 && !enumValueExistsIn(e.xmlName, item.value, ctx.version)) {
      throw new KmipError('INVALID_ATTRIBUTE_VALUE', `'${name}': ${e.name} value 0x${item.value.toString(16)} is not defined in KMIP ${ctx.version}`, { field: name });
    }
  }
  if (item.type === ItemType.Integer && item.tag === Tag.CryptographicUsageMask) {
    const known = KNOWN_USAGE_BITS;
    // Bits above the table are extensions (KMIP 2.1 §12.1: 0x?0000000 "Extensions"); bits
    // below it that this version does not define are an error.
    // Per edition (src/kmip/registry.ts EDITION_MASK_BITS: 2.0 still defines 0x400 Content Commitment).
    const defined = maskBitsDefinedIn('CryptographicUsageMask', ctx.version);
    if ((item.value & known & ~defined) !== 0 || item.value < 0) {
      throw new KmipError('INVALID_ATTRIBUTE_VALUE', `'${name}': mask bits 0x${(item.value & ~defined).toString(16)} are not defined in KMIP ${ctx.version}`, { field: name });
    }
  }
}

/**
 * Attributes of a Create / Register request: each must be one the client may set initially,
 * valid, and single-valued attributes may appear once.
 */
export function checkInitialAttributes(ctx: OpContext, attrs: readonly KmipAttribute[], register: boolean): void {
  const seen = new Set<string>();
  for (const a of attrs) {
    const rule = ruleFor(a.name);
    if (!rule.initial || (!register && REGISTER_ONLY.has(a.name))) {
      throw versioned(ctx, 'INVALID_FIELD', 'ATTRIBUTE_READ_ONLY', `'${a.name}' is set by the server and cannot be supplied by the client`, a.name);
    }
    if (!rule.multi) {
      if (seen.has(a.name)) {
        throw versioned(ctx, 'INVALID_FIELD', 'ATTRIBUTE_SINGLE_VALUED', `'${a.name}' is single-valued but given more than once`, a.name);
      }
      seen.add(a.name);
    }
    checkValue(ctx, a.name, a.value);
  }
}

export { nameValueOf } from './name-value.js';

/**
 * A Name must not be used by another live object of the tenant (KMIP 1.4 §3.2: "Name ... SHALL
 * be unique within a given key management domain"; §11.2, §11.4, §11.15-16). Destroyed objects
 * keep their metadata but no longer hold their names, so a name can be reused for the new key
 * that replaces a destroyed one. `selfUid` is the object being changed: Add Attribute of a Name
 * the object already has is a duplicate too (vector BL-M-8-21).
 */
export async function checkNameUnique(ctx: OpContext, value: TtlvItem, opts: { selfUid?: string; op: 'create' | 'add' | 'modify' } ): Promise<void> {
  const wanted = nameValueOf(value);
  if (wanted === undefined) return;
  // A tenant configured for shared names (PyKMIP's unnamed objects all say "Symmetric Key": model/compat.ts).
  if (namePolicyOf(ctx.services.config.compat, ctx.principal) === 'shared') return;
  const tenant = ctx.principal.tenant;
  const store = ctx.services.store;
  for (const uid of await store.findUids(tenant, { name: wanted })) {
    const rec = uid === opts.selfUid && opts.op === 'modify' ? undefined : await store.get(tenant, uid);
    if (rec === undefined || isDestroyedState(stateOf(rec))) continue;
    if (attrsOf(rec, 'Name').some((n) => nameValueOf(n.value) === wanted)) {
      // 1.4 §11.2/§11.4: Invalid Field on Create/Register; §11.15/§11.16: Illegal Operation on Add/Modify.
      const code1x = opts.op === 'create' ? 'INVALID_FIELD' : 'ILLEGAL_OPERATION';
      throw versioned(ctx, code1x, 'NON_UNIQUE_NAME_ATTRIBUTE', `the Name '${wanted}' is already in use`, 'Name');
    }
  }
}
