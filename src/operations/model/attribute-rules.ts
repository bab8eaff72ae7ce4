/**
 * Attribute rules: who may set, change and delete each attribute, and whether it may have
 * several instances. Transcribed from the "Attribute Rules" tables of KMIP 1.4 §3 and
 * KMIP 2.1 §4 (rows "Initially set by", "Modifiable by client", "Deletable by client",
 * "Multiple instances permitted"); where the two versions agree (they do for every row used
 * here) one entry serves both.
 *
 * The columns become four client permissions:
 *  - `initial`: the client may supply it when the object is created or registered (the
 *    tables' "Initially set by: Client" or "Server or Client"; Cryptographic Algorithm and
 *    Length are "Server" but the server sets them FROM the client's template, so they are
 *    allowed here too);
 *  - `add`: Add Attribute may give it a value after creation (client-settable, not fixed at
 *    creation);
 *  - `modify`: "Modifiable by client", with the state restrictions of the Activation,
 *    Deactivation, Process Start and Protect Stop Date rows;
 *  - `delete`: "Deletable by client".
 * Anything a client may not touch is read-only for it: Attribute Read Only (2.x), Permission
 * Denied (1.x, KMIP 1.4 §11.15-11.17).
 */
import type { KmipAttribute } from '../../kmip/attributes.js';
import { attributeTag } from '../../kmip/attributes.js';
import { enumForTag, maskBitsDefinedIn, maskForTag, enumValueExistsIn, tagByCode, tagExistsIn, State } from '../../kmip/registry.js';
import type { KmipVersion } from '../../kmip/registry.js';
import { ItemType } from '@openkcm/ttlv';
import type { TtlvItem } from '@openkcm/ttlv';

/** When the client may modify the attribute. */
export type ModifyRule = 'never' | 'always' | 'preActive' | 'preActiveOrActive';

export interface AttributeRule {
  /** Client may supply it in Create / Register. */
  readonly initial: boolean;
  /** Client may add it with Add Attribute (2.x also Set Attribute when absent). */
  readonly add: boolean;
  readonly modify: ModifyRule;
  readonly delete: boolean;
  /** "Multiple instances permitted". */
  readonly multi: boolean;
  /**
   * First version in which it is an ATTRIBUTE (when that differs from its tag's first
   * version: Key Format Type is a field since 1.0 but an attribute only since 2.0).
   */
  readonly since?: KmipVersion;
  /** Last version in which it is an attribute (Operation Policy Name was removed in 2.0). */
  readonly until?: KmipVersion;
  /** A Date-Time attribute: two instances in Locate give a range (KMIP 2.1 §6.1.28). */
  readonly date?: boolean;
}

const SERVER: AttributeRule = { initial: false, add: false, modify: 'never', delete: false, multi: false };
const SERVER_MULTI: AttributeRule = Object.assign({}, SERVER, { multi: true });
/** Set from the client's template at creation, never changed by the client afterwards. */
const FIXED_AT_CREATION: AttributeRule = { initial: true, add: false, modify: 'never', delete: false, multi: false };
/** Fully client-managed single-valued attribute. */
const CLIENT: AttributeRule = { initial: true, add: true, modify: 'always', delete: true, multi: false };
const CLIENT_MULTI: AttributeRule = Object.assign({}, CLIENT, { multi: true });
const SERVER_DATE: AttributeRule = Object.assign({}, SERVER, { date: true });
/** Lifecycle dates a client may set (KMIP 1.4 §3.24-3.27, 2.1 §4.1, §4.19, §4.42, §4.43). */
function lifecycleDate(modify: ModifyRule): AttributeRule {
  return { initial: true, add: true, modify, delete: false, multi: false, date: true };
}

/** Keyed by the spec name (the internal attribute name of src/kmip/attributes.ts). */
export const ATTRIBUTE_RULES: ReadonlyMap<string, AttributeRule> = new Map<string, AttributeRule>([
  ['Unique Identifier', SERVER],
  ['Name', CLIENT_MULTI],
  ['Object Type', SERVER],
  ['Cryptographic Algorithm', FIXED_AT_CREATION],
  ['Cryptographic Length', FIXED_AT_CREATION],
  ['Cryptographic Parameters', CLIENT_MULTI],
  ['Cryptographic Domain Parameters', FIXED_AT_CREATION],
  // Server-set from the certificate; a client may state it on Register if it agrees (vector BL-M-10-21).
  ['Certificate Type', FIXED_AT_CREATION],
  ['Certificate Length', SERVER],
  ['X.509 Certificate Identifier', SERVER],
  ['X.509 Certificate Subject', SERVER],
  ['X.509 Certificate Issuer', SERVER],
  // Deprecated 1.x forms, removed from the attribute list in 2.0.
  ['Certificate Identifier', Object.assign({}, SERVER, { until: '1.4' })],
  ['Certificate Subject', Object.assign({}, SERVER, { until: '1.4' })],
  ['Certificate Issuer', Object.assign({}, SERVER, { until: '1.4' })],
  ['Digital Signature Algorithm', SERVER_MULTI],
  ['Digest', SERVER_MULTI],
  ['Operation Policy Name', Object.assign({}, FIXED_AT_CREATION, { until: '1.4' })],
  ['Cryptographic Usage Mask', FIXED_AT_CREATION],
  ['Lease Time', SERVER],
  ['Usage Limits', { initial: true, add: false, modify: 'always', delete: false, multi: false }],
  ['State', SERVER],
  ['Initial Date', SERVER_DATE],
  ['Activation Date', lifecycleDate('preActive')],
  ['Process Start Date', lifecycleDate('preActiveOrActive')],
  ['Protect Stop Date', lifecycleDate('preActiveOrActive')],
  ['Deactivation Date', lifecycleDate('preActiveOrActive')],
  ['Destroy Date', SERVER_DATE],
  ['Compromise Occurrence Date', SERVER_DATE],
  ['Compromise Date', SERVER_DATE],
  ['Revocation Reason', SERVER],
  ['Archive Date', SERVER_DATE],
  ['Object Group', CLIENT_MULTI],
  ['Fresh', FIXED_AT_CREATION],
  ['Link', CLIENT_MULTI],
  ['Application Specific Information', CLIENT_MULTI],
  ['Contact Information', CLIENT],
  ['Last Change Date', SERVER_DATE],
  ['Alternative Name', CLIENT_MULTI],
  ['Key Value Present', SERVER],
  ['Key Value Location', CLIENT_MULTI],
  // "Client (when the object is registered) or Server (when generated)": allowed on Register only.
  ['Original Creation Date', Object.assign({}, FIXED_AT_CREATION, { date: true })],
  ['Random Number Generator', FIXED_AT_CREATION],
  ['PKCS#12 Friendly Name', CLIENT],
  ['Description', CLIENT],
  ['Comment', CLIENT],
  // Sensitive / Extractable: "Modifiable by client: Yes", "Deletable: No" (KMIP 1.4 §3.47-3.50).
  ['Sensitive', { initial: true, add: false, modify: 'always', delete: false, multi: false }],
  ['Always Sensitive', SERVER],
  ['Extractable', { initial: true, add: false, modify: 'always', delete: false, multi: false }],
  ['Never Extractable', SERVER],
  // 2.x-only attributes (KMIP 2.1 §4).
  ['Key Format Type', Object.assign({}, SERVER, { since: '2.0' })],
  ['Short Unique Identifier', SERVER],
  ['Protection Storage Mask', SERVER],
  ['NIST Key Type', CLIENT],
  ['Protection Level', CLIENT],
  ['Protection Period', CLIENT],
  ['Quantum Safe', CLIENT],
  ['Opaque Data Type', SERVER],
]);

/**
 * KMIP 2.1 §4.6 Certificate Attributes (Certificate Subject CN, ...): server-set from the
 * certificate, several instances allowed; attributes only since 2.0 (their tags appear in 1.4
 * inside other structures).
 */
const CERTIFICATE_FIELD = /^Certificate (Subject|Issuer) (CN|O|OU|Email|C|ST|L|UID|Serial Number|Title|DC|DN Qualifier)$/;
const CERTIFICATE_FIELD_RULE: AttributeRule = Object.assign({}, SERVER_MULTI, { since: '2.0' });

/**
 * Custom attributes (1.x 'x-'/'y-', KMIP 1.4 §3.39) and 2.x Vendor Attributes (2.1 §4.60):
 * 'x-' and other vendors are client-defined and fully client-managed; 'y-' is the server's
 * namespace ("y-": server-defined), read-only to clients.
 */
const CUSTOM_CLIENT: AttributeRule = CLIENT_MULTI;
const CUSTOM_SERVER: AttributeRule = SERVER_MULTI;

/** Spec attributes not in the table (newer or rarely used): client-managed, single-valued. */
const OTHER_SPEC_ATTRIBUTE: AttributeRule = CLIENT;

export function isCustomAttribute(name: string): boolean {
  return attributeTag(name) === undefined;
}

export function ruleFor(name: string): AttributeRule {
  const rule = ATTRIBUTE_RULES.get(name);
  if (rule !== undefined) return rule;
  if (CERTIFICATE_FIELD.test(name)) return CERTIFICATE_FIELD_RULE;
  if (isCustomAttribute(name)) return name.startsWith('y-') ? CUSTOM_SERVER : CUSTOM_CLIENT;
  return OTHER_SPEC_ATTRIBUTE;
}

const VERSION_ORDER: readonly KmipVersion[] = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'];
function atLeast(v: KmipVersion, min: KmipVersion): boolean {
  return VERSION_ORDER.indexOf(v) >= VERSION_ORDER.indexOf(min);
}

/** Whether `name` is an attribute in KMIP `version` (a client of that version may see it). */
export function attributeExistsIn(name: string, version: KmipVersion): boolean {
  const rule = ruleFor(name);
  if (rule.since !== undefined && !atLeast(version, rule.since)) return false;
  if (rule.until !== undefined && atLeast(version, rule.until) && version !== rule.until) return false;
  const tag = attributeTag(name);
  if (tag === undefined) return true;
  return tagExistsIn(tag, version);
}

/**
 * The value as a client of `version` may receive it, or undefined when it cannot be expressed
 * in that version ("never put a field or enumeration value that does not exist in that
 * version into a response"): children whose tag the version lacks are dropped, mask bits the
 * version lacks are cleared, and an enumeration value the version lacks removes the attribute.
 */
export function valueForVersion(item: TtlvItem, version: KmipVersion, top = true): TtlvItem | undefined {
  if (!top && tagByCode(item.tag) !== undefined && !tagExistsIn(item.tag, version)) return undefined;
  switch (item.type) {
    case ItemType.Structure: {
      const children: TtlvItem[] = [];
      for (const c of item.value) {
        const v = valueForVersion(c, version, false);
        if (v === undefined) {
          // An enumeration child with a value foreign to the version: the structure cannot be
          // written faithfully, so it is withheld entirely.
          if (c.type === ItemType.Enumeration) return undefined;
          continue;
        }
        children.push(v);
      }
      return Object.assign({}, item, { value: children });
    }
    case ItemType.Enumeration: {
      const e = enumForTag(item.tag);
      if (e === undefined || e.xmlName === 'Tag') return item;
      // Extension values (0x8XXXXXXX) are the client's own business (KMIP 1.4 §9.1.1.5).
      if (item.value >= 0x80000000) return item;
      return enumValueExistsIn(e.xmlName, item.value, version) ? item : undefined;
    }
    case ItemType.Integer: {
      const m = maskForTag(item.tag);
      if (m === undefined) return item;
      // The bits this edition defines (src/kmip/registry.ts EDITION_MASK_BITS: 2.0 keeps 0x400 Content Commitment).
      const mask = item.value & maskBitsDefinedIn(m.xmlName, version);
      // Bits beyond the table (extensions, 0x00100000 and up) pass through unchanged.
      const known = m.entries.reduce((acc, e) => acc | e.value, 0);
      return Object.assign({}, item, { value: mask | (item.value & ~known) });
    }
    default:
      return item;
  }
}

/** The attribute as a client of `version` may receive it, or undefined to leave it out. */
export function attributeForVersion(attr: KmipAttribute, version: KmipVersion): KmipAttribute | undefined {
  if (!attributeExistsIn(attr.name, version)) return undefined;
  const value = valueForVersion(attr.value, version);
  return value === undefined ? undefined : Object.assign({}, attr, { value });
}

/** The states in which a client may modify an attribute under `rule`. */
export function modifiableInState(rule: ModifyRule, state: number | undefined): boolean {
  switch (rule) {
    case 'never': return false;
    case 'always': return true;
    case 'preActive': return state === undefined || state === State.PreActive;
    case 'preActiveOrActive': return state === undefined || state === State.PreActive || state === State.Active;
  }
}
