/**
 * Client compatibility switches (issue 20 Deliver 4), off unless configured: the defaults are spec-strict.
 *
 * 1. Name policy, per tenant: `unique` (default; KMIP 1.4 §3.2: a Name "SHALL be unique within a given key
 *    management domain") or `shared`. PyKMIP's client — and EDB TDE and the many scripts built on it — names every
 *    object it registers without a name "Symmetric Key" or "Secret Data" (kmip/pie/objects.py), so a server that
 *    enforces unique names refuses its second unnamed Register. `shared` lets a tenant's objects share a Name; Locate
 *    by that Name then returns all of them.
 *
 * 2. Client profiles, per client identity (certificate CN or SAN URI): an answer to Get Attributes with NO names
 *    ("all attributes") is trimmed to what the named client can decode at the negotiated protocol version. The
 *    version gating every client gets (no attribute a version does not define, src/operations/model/visible.ts) is
 *    not enough for PyKMIP 0.10: its attribute factory (kmip/core/factories/attribute_values.py) raises on standard
 *    attributes it never implemented — Original Creation Date at 1.2, Always Sensitive at 1.4, Key Format Type at
 *    2.0 — so its get_attributes() with no names crashes on any complete answer. Eviden/Cosmian KMS 5.26 added the
 *    same gating for Synology DSM, PyKMIP and Percona. An answer to named attributes is never trimmed: the client
 *    asked for exactly those.
 *
 * The tables are data: a new client with the same problem is one more entry in {@link CLIENT_PROFILES}. The config
 * file's `compat` section is parsed into {@link CompatSettings} by src/config/compat.ts.
 */
import type { KmipAttribute } from '../../kmip/attributes.js';
import type { KmipVersion } from '../../kmip/registry.generated.js';
import type { Principal } from '../types.js';

export type NamePolicy = 'unique' | 'shared';
export const NAME_POLICIES: readonly NamePolicy[] = ['unique', 'shared'];

/** What one client can decode in an all-attributes answer, per negotiated version. */
export interface ClientProfile {
  /** Why the profile exists (docs/clients.md repeats it). */
  readonly why: string;
  /** True when the client can decode attribute `name` in a response of `version`. */
  decodes(name: string, version: KmipVersion): boolean;
}

/**
 * The attributes PyKMIP 0.10's attribute value factory builds, by name (1.x) and by tag (2.0): every branch of
 * AttributeValueFactory.create_attribute_value / create_attribute_value_by_enum that returns a value rather than
 * raising. Certificate Type only has a 1.x branch; 1.x custom attributes ("x-…") decode as Custom Attribute.
 */
const PYKMIP_010_DECODES: ReadonlySet<string> = new Set([
  'Unique Identifier', 'Name', 'Object Type', 'Cryptographic Algorithm', 'Cryptographic Length', 'Cryptographic Parameters',
  'Certificate Length', 'Digest', 'Operation Policy Name', 'Cryptographic Usage Mask', 'Lease Time', 'State',
  'Initial Date', 'Activation Date', 'Process Start Date', 'Protect Stop Date', 'Deactivation Date', 'Destroy Date',
  'Compromise Occurrence Date', 'Compromise Date', 'Archive Date', 'Object Group', 'Fresh', 'Application Specific Information',
  'Contact Information', 'Last Change Date', 'Sensitive',
]);

export const CLIENT_PROFILES: Readonly<Record<string, ClientProfile>> = {
  pykmip: {
    why: 'PyKMIP 0.10 get_attributes() with no names raises on attributes its factory lacks (Original Creation Date at 1.2 and 1.3, Always Sensitive at 1.4, Key Format Type at 2.0)',
    decodes: (name, version) => PYKMIP_010_DECODES.has(name)
      || (version.startsWith('1.') && (name === 'Certificate Type' || name.startsWith('x-'))),
  },
};

export interface CompatSettings {
  /** The name policy of tenants not listed in `tenantNamePolicy`. */
  readonly namePolicy: NamePolicy;
  readonly tenantNamePolicy: ReadonlyMap<string, NamePolicy>;
  /** Client identity → a key of {@link CLIENT_PROFILES}. */
  readonly clientProfiles: ReadonlyMap<string, string>;
}

export const DEFAULT_COMPAT_SETTINGS: CompatSettings = Object.freeze({
  namePolicy: 'unique', tenantNamePolicy: new Map(), clientProfiles: new Map(),
});

/** The name policy of `principal`'s tenant. */
export function namePolicyOf(settings: CompatSettings | undefined, principal: Principal): NamePolicy {
  if (settings === undefined) return 'unique';
  return settings.tenantNamePolicy.get(principal.tenant) ?? settings.namePolicy;
}

/** An all-attributes answer trimmed to what `principal`'s client profile decodes (unchanged without a profile). */
export function trimAllAttributes(settings: CompatSettings | undefined, principal: Principal, version: KmipVersion, attributes: KmipAttribute[]): KmipAttribute[] {
  const name = settings?.clientProfiles.get(principal.identity);
  const profile = name === undefined ? undefined : CLIENT_PROFILES[name];
  if (profile === undefined) return attributes;
  return attributes.filter((a) => profile.decodes(a.name, version));
}
