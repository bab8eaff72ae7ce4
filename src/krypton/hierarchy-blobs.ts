/**
 * Krypton's blob crypto (ARCHITECTURE §2): L2 wrapped by L1 through a KeystorePlugin, L3 sealed slot to slot under
 * L2 in the vault's envelope format (src/vault/envelope.ts, the one writer of the format). Pure functions of slots,
 * plugins and stored records: no tenant state (src/krypton/tenant-slots.ts) and no lifecycle (src/krypton/krypton.ts).
 *
 * What enters the JS heap: L2 plaintext only in transit to and from the L1 plugin (wiped when the call returns);
 * L3 plaintext never (sealKey/openKey run in the addon).
 */
import { timingSafeEqual } from 'node:crypto';
import type { KeystorePlugin, ShadowReference } from '../keystore/types.js';
import { SecureKey } from '../native/index.js';
import { describeError } from '../common/log.js';
import { openKeyEnvelope, parseEnvelope, sealKeyEnvelope } from '../vault/envelope.js';
import type { EnvelopeHeader } from '../vault/envelope.js';
import { EnvelopeError } from '../vault/errors.js';
import { AES_256_KEY_BYTES } from '../vault/kek.js';
import { SealCounter } from '../vault/seal-counter.js';
import { KryptonError } from './errors.js';
import type { StoredL2, StoredL3, TenantHierarchy } from './types.js';

export const l2KeyId = (tenant: string): string => `l2:${tenant}`;
export const l2Purpose = (version: number): string => `l2:v${String(version)}`;
const l3Uid = (service: string): string => `l3:${service}`;

/**
 * Seal counters of the L2 slots this process holds, by slot (src/vault/seal-counter.ts). A count starts at 0 when
 * the slot is made (generated, or unwrapped at activation) and is not persisted: every L2 seal is an L3 blob
 * written by an administrative command (onboard: one per service; rotateL3: one; rotateL2: one per stored L3 under
 * the NEW version), each a durable compare-and-swap write of the record, so one L2 version sees at most
 * MAX_SERVICES_PER_TENANT x MAX_L3_VERSIONS seals per rotateL2 plus one per rotateL3 — 2^32 of them would be 2^32
 * durable admin writes. The counter still refuses there.
 */
const l2Counters = new WeakMap<SecureKey, SealCounter>();

function l2Counter(tenant: string, l2: SecureKey, l2Version: number): SealCounter {
  let c = l2Counters.get(l2);
  if (c === undefined) {
    c = new SealCounter(`'${l2KeyId(tenant)}' v${String(l2Version)}`);
    l2Counters.set(l2, c);
  }
  return c;
}

/** Prunes L2 versions no L3 refers to (the current one always stays): rotation step "old L2 dropped". */
export function pruneL2(l2: readonly StoredL2[], l3: readonly StoredL3[], current: number): StoredL2[] {
  return l2.filter((e) => e.version === current || l3.some((x) => x.l2Version === e.version));
}

/**
 * Seals the L3 key in `l3` under the L2 slot `l2`, slot to slot (the L3 bytes never enter JS), in the vault's
 * envelope format v1: key id `l2:<tenant>`, key version = L2 version, fresh 96-bit nonce, AAD = header ‖
 * identity(tenant, `l3:<service>`, L3 version). A blob copied into another tenant's record, another service or
 * another version does not open.
 */
export function sealL3(tenant: string, l2: SecureKey, l2Version: number, l3: SecureKey, service: string, version: number): Uint8Array {
  const blob = sealKeyEnvelope(l2, l2KeyId(tenant), l2Version, l3, { tenant, uid: l3Uid(service), version }, l2Counter(tenant, l2, l2Version));
  return new Uint8Array(blob);
}

/** Opens a stored L3 into a new slot. KryptonError TAMPERED if it does not authenticate for this identity. */
export function openL3(tenant: string, l2Slots: ReadonlyMap<number, SecureKey>, e: StoredL3): SecureKey {
  const tampered = (why: string, cause?: unknown): KryptonError =>
    new KryptonError('TAMPERED', `tenant '${tenant}' L3 ${e.service} v${String(e.version)}: ${why}`, { tenant, cause });
  let header: EnvelopeHeader;
  try {
    header = parseEnvelope(e.sealed);
  } catch (cause) {
    throw tampered('the stored blob is not an envelope', cause);
  }
  if (header.keyId !== l2KeyId(tenant) || header.keyVersion !== e.l2Version) {
    throw tampered(`sealed under '${header.keyId}' v${String(header.keyVersion)}, not this tenant's L2 v${String(e.l2Version)} (moved from another record?)`);
  }
  const l2 = l2Slots.get(e.l2Version);
  if (l2 === undefined) throw tampered(`L2 v${String(e.l2Version)} is not in the record`);
  let key: SecureKey;
  try {
    key = openKeyEnvelope(l2, e.sealed, header, { tenant, uid: l3Uid(e.service), version: e.version });
  } catch (cause) {
    if (cause instanceof EnvelopeError && cause.code === 'TAMPERED') throw tampered('authentication failed (tampered, or bound to another tenant/service/version)', cause);
    throw cause;
  }
  if (key.length !== AES_256_KEY_BYTES) {
    key.destroy();
    throw tampered(`holds a ${String(key.length)}-byte key, not AES-256`);
  }
  return key;
}

/** Slots opened from a record, not yet installed. */
export interface Unsealed {
  readonly l2: Map<number, SecureKey>;
  readonly l3: Map<string, Map<number, SecureKey>>;
}

export function destroyUnsealed(u: Unsealed): void {
  for (const k of u.l2.values()) k.destroy();
  for (const m of u.l3.values()) for (const k of m.values()) k.destroy();
}

/** L1.unwrap of one stored L2 version into a slot; the plaintext the plugin returned is wiped. */
export async function unwrapL2(plugin: KeystorePlugin, tenant: string, e: StoredL2): Promise<SecureKey> {
  const bytes = await plugin.unwrap(e.wrapped, { tenant, purpose: l2Purpose(e.version) });
  try {
    if (bytes.length !== AES_256_KEY_BYTES) throw new KryptonError('TAMPERED', `L1 returned a ${String(bytes.length)}-byte L2 v${String(e.version)}`, { tenant });
    return SecureKey.import(bytes); // import zero-fills `bytes`
  } finally {
    bytes.fill(0);
  }
}

/** L1.unwrap every L2 version into slots, then open every L3 slot-to-slot. Nothing is installed. */
export async function unsealRecord(plugin: KeystorePlugin, rec: TenantHierarchy): Promise<Unsealed> {
  const out: Unsealed = { l2: new Map(), l3: new Map() };
  try {
    for (const e of rec.l2) out.l2.set(e.version, await unwrapL2(plugin, rec.tenant, e));
    for (const e of rec.l3) {
      let m = out.l3.get(e.service);
      if (m === undefined) {
        m = new Map();
        out.l3.set(e.service, m);
      }
      m.set(e.version, openL3(rec.tenant, out.l2, e));
    }
    return out;
  } catch (err) {
    destroyUnsealed(out);
    throw err;
  }
}

/**
 * A new L2 version: generated in a slot, exported ONLY into the buffer given to plugin.wrap and wiped when the call
 * returns; then unwrapped back and imported, so the slot we keep is exactly what L1 will return on activation.
 */
export async function newL2(plugin: KeystorePlugin, tenant: string, version: number): Promise<{ key: SecureKey; wrapped: Uint8Array }> {
  const context = { tenant, purpose: l2Purpose(version) };
  const generated = SecureKey.generate(AES_256_KEY_BYTES);
  let wrapped: Uint8Array;
  const bytes = generated.export();
  try {
    wrapped = await plugin.wrap(bytes, context);
  } finally {
    bytes.fill(0);
    generated.destroy();
  }
  const back = await plugin.unwrap(wrapped, context);
  try {
    if (back.length !== AES_256_KEY_BYTES) throw new KryptonError('TAMPERED', `L1 returned a ${String(back.length)}-byte L2`, { tenant });
    return { key: SecureKey.import(back), wrapped };
  } finally {
    back.fill(0);
  }
}

/**
 * L1 replacement's crypto (Krypton.replaceL1): every stored L2 version of `rec` unwrapped through `oldPlugin`,
 * wrapped under `newPlugin`, unwrapped back and compared in constant time. Returns the new wrapped blobs by
 * version; plaintext L2 exists only in the plugin call buffers, wiped when each call returns.
 * @throws KryptonError L1_UNHEALTHY (either L1 failed) | TAMPERED (a wrong length or a different L2 came back)
 */
export async function rewrapL2s(rec: TenantHierarchy, oldPlugin: KeystorePlugin, newPlugin: KeystorePlugin, next: ShadowReference): Promise<Map<number, Uint8Array>> {
  const tenant = rec.tenant;
  const rewrapped = new Map<number, Uint8Array>();
  for (const e of rec.l2) {
    const context = { tenant, purpose: l2Purpose(e.version) };
    const bytes = await oldPlugin.unwrap(e.wrapped, context).catch((err: unknown) => {
      throw new KryptonError('L1_UNHEALTHY', `the current L1 of '${tenant}' (${rec.shadow.plugin} ${rec.shadow.keyRef}) did not unwrap L2 v${String(e.version)} (${describeError(err).errMessage}): the old key must still work to move to a new one`, { tenant, cause: err });
    });
    try {
      if (bytes.length !== AES_256_KEY_BYTES) throw new KryptonError('TAMPERED', `L1 returned a ${String(bytes.length)}-byte L2 v${String(e.version)}`, { tenant });
      const wrapped = await newPlugin.wrap(bytes, context).catch((err: unknown) => {
        throw new KryptonError('L1_UNHEALTHY', `the new L1 (${next.plugin} ${next.keyRef}) did not wrap: ${describeError(err).errMessage}`, { tenant, cause: err });
      });
      const back = await newPlugin.unwrap(wrapped, context).catch((err: unknown) => {
        throw new KryptonError('L1_UNHEALTHY', `the new L1 (${next.plugin} ${next.keyRef}) did not unwrap what it wrapped: ${describeError(err).errMessage}`, { tenant, cause: err });
      });
      try {
        if (back.length !== bytes.length || !timingSafeEqual(back, bytes)) {
          throw new KryptonError('TAMPERED', `the new L1 (${next.plugin} ${next.keyRef}) returned a different L2 v${String(e.version)}`, { tenant });
        }
      } finally {
        back.fill(0);
      }
      rewrapped.set(e.version, wrapped);
    } finally {
      bytes.fill(0);
    }
  }
  return rewrapped;
}
