/**
 * `identity`: where a client's identity is read from in its certificate, and the bootstrap identity → tenant map
 * (ARCHITECTURE §4; src/server/identity.ts applies it). `roles` / `defaultRoles` (identity → Cedar role names) are
 * validated by src/cmk/authz parseIdentityRoles when the governance plane starts.
 */
import { ConfigError } from '../common/config-error.js';
import { isRecord } from '../common/guards.js';
import { TENANT_NAME_PATTERN } from '../common/tenant-name.js';
import { section } from './parse.js';

/** Where the client identity is read from in the client certificate. */
export type IdentitySource = 'cn' | 'uri' | 'uri-or-cn';

export interface IdentityConfig {
  /** 'cn' (default): subject CN; 'uri': the first SAN URI; 'uri-or-cn': SAN URI when present, else CN. */
  source: IdentitySource;
  /** Explicit identity → tenant map; consulted first. */
  tenants: Readonly<Record<string, string>>;
  /**
   * Identity not in the map: 'same-name' uses the identity as the tenant name; 'reject' closes the connection.
   * Unset (the default): 'reject' once any identity is mapped (here or at run time), 'same-name' while none is
   * (issue 15 item 8; src/server/identity.ts unmappedMode).
   */
  unmapped?: 'same-name' | 'reject';
}

export const DEFAULT_IDENTITY_CONFIG: Readonly<IdentityConfig> = Object.freeze({ source: 'cn', tenants: {} });

/** The `identity` section of the file as written (roles are passed through to the governance plane). */
export type IdentityFile = Partial<IdentityConfig> & { roles?: unknown; defaultRoles?: unknown };

/** Validates the `identity` section; throws ConfigError naming the bad setting. */
export function validateIdentitySection(raw: unknown): IdentityFile {
  const id = section('identity', raw, ['source', 'tenants', 'unmapped', 'roles', 'defaultRoles']);
  const identity: IdentityFile = {};
  if (id.roles !== undefined) identity.roles = id.roles;
  if (id.defaultRoles !== undefined) identity.defaultRoles = id.defaultRoles;
  if (id.source !== undefined) {
    if (id.source !== 'cn' && id.source !== 'uri' && id.source !== 'uri-or-cn') throw new ConfigError('identity.source must be "cn", "uri" or "uri-or-cn"');
    identity.source = id.source;
  }
  if (id.unmapped !== undefined) {
    if (id.unmapped !== 'same-name' && id.unmapped !== 'reject') throw new ConfigError('identity.unmapped must be "same-name" or "reject"');
    identity.unmapped = id.unmapped;
  }
  if (id.tenants !== undefined) {
    if (!isRecord(id.tenants)) throw new ConfigError('identity.tenants must be an object of identity → tenant');
    const tenants: Record<string, string> = {};
    for (const [who, tenant] of Object.entries(id.tenants)) {
      if (typeof tenant !== 'string' || !TENANT_NAME_PATTERN.test(tenant)) {
        throw new ConfigError(`identity.tenants[${JSON.stringify(who)}] must be a tenant name matching ${TENANT_NAME_PATTERN.source}`);
      }
      tenants[who] = tenant;
    }
    identity.tenants = tenants;
  }
  return identity;
}
