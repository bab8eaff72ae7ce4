/**
 * Names, limits, validation and the compact encoding of a {@link TenantHierarchy} record, shared by every
 * HierarchyStore (LMDB here; the Postgres store may reuse encode/decode for its blob column) so that all
 * stores accept and refuse exactly the same records (STYLE.md rule 9: one conformance suite).
 */
import { MAX_CONTEXT_FIELD_BYTES, MAX_WRAPPED_BYTES } from '../keystore/types.js';
import type { ShadowReference } from '../keystore/types.js';
import { GCM_RANDOM_NONCE_INVOCATION_LIMIT } from '../vault/seal-counter.js';
import { HierarchyStoreError } from './types.js';
import type { StoredL2, StoredL3, TenantHierarchy, TenantKeyState } from './types.js';

/**
 * Tenant names are bound into the L1 wrap context (≤ 256 bytes, MAX_CONTEXT_FIELD_BYTES), the envelope AAD and
 * the L3 key id `l3:<tenant>:<service>` (≤ 255 bytes, MAX_KEK_ID_BYTES). 128 bytes leaves room for the rest and
 * stops a hostile name from blowing those encodings up.
 */
export const MAX_TENANT_BYTES = 128;
/** Service names: lower-case ASCII, 1..32 characters (they appear in key ids and AAD; no separators). */
export const MAX_SERVICE_BYTES = 32;
const SERVICE_PATTERN = /^[a-z0-9][a-z0-9._-]*$/u;
/**
 * Services per tenant. Every service costs at least one native key slot per active tenant; the slot arena is
 * shared by all tenants (768 small slots by default), so one tenant must not be able to exhaust it.
 */
export const MAX_SERVICES_PER_TENANT = 16;
/**
 * Readable L3 versions per service. Each stays in a native slot while the tenant is active and is opened on every
 * cold activation; a rotation loop must not exhaust the arena or make activation unbounded. Drop old versions
 * (after the vault re-wrapped what they protect) to rotate further.
 */
export const MAX_L3_VERSIONS = 32;
/** L2 versions in a record. Old L2 versions are pruned as soon as no L3 refers to them, so 2 is the steady max. */
export const MAX_L2_VERSIONS = 8;
/**
 * The largest encoded record a store accepts or decodes: a corrupted or hostile row must not make decode allocate
 * without bound. 16 services × 32 versions × ~400 bytes of JSON each ≈ 200 KiB, below this.
 */
export const MAX_RECORD_BYTES = 256 * 1024;
/** stateReason is free text from an admin: bounded like the other context fields. */
export const MAX_STATE_REASON_BYTES = MAX_CONTEXT_FIELD_BYTES;
/** Keys are AES-256: a sealed L3 is envelope header + 32 + tag; anything longer is not ours. */
export const MAX_SEALED_L3_BYTES = 512;

/**
 * Format of the encoded record; bump on any change of the layout below. The L3 entries' trailing `reserved` element
 * was added without a bump: it is optional (absent = 0), so every record written before it reads as it was. An
 * older openkcm reading a newer record ignores the element and drops it when it writes the record back: running an
 * older version restarts the L3 seal counts (docs/vault.md "Seal counters").
 */
export const HIERARCHY_RECORD_FORMAT = 1;

const STATES: readonly TenantKeyState[] = ['active', 'revoked', 'destroyed'];
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/u;

function invalid(message: string): HierarchyStoreError {
  return new HierarchyStoreError('INVALID', message);
}

/** A well-formed tenant name, or a message saying why not. */
export function tenantNameProblem(tenant: unknown): string | undefined {
  if (typeof tenant !== 'string') return 'tenant must be a string';
  const n = Buffer.byteLength(tenant, 'utf8');
  if (n === 0 || n > MAX_TENANT_BYTES) return `tenant must be 1..${String(MAX_TENANT_BYTES)} UTF-8 bytes, got ${String(n)}`;
  if (CONTROL.test(tenant)) return 'tenant must not contain control characters';
  if (Buffer.from(tenant, 'utf8').toString('utf8') !== tenant) return 'tenant must be well-formed UTF-8';
  return undefined;
}

export function serviceNameProblem(service: unknown): string | undefined {
  if (typeof service !== 'string') return 'service must be a string';
  if (service.length === 0 || service.length > MAX_SERVICE_BYTES || !SERVICE_PATTERN.test(service)) {
    return `service must be 1..${String(MAX_SERVICE_BYTES)} characters of [a-z0-9._-] starting with a letter or digit`;
  }
  return undefined;
}

/** Same L1: plugin, key reference and version, byte for byte. */
export function sameShadow(a: ShadowReference, b: ShadowReference): boolean {
  return a.plugin === b.plugin && a.keyRef === b.keyRef && a.keyVersion === b.keyVersion;
}

/** Array.isArray without narrowing (a typed field narrowed to any[] loses its element type). */
function isList(v: unknown): boolean {
  return Array.isArray(v);
}

function isVersion(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 0xffffffff;
}

function isDate(d: unknown): d is Date {
  return d instanceof Date && !Number.isNaN(d.getTime());
}

/** Throws HierarchyStoreError INVALID unless `r` is a self-consistent record. */
export function validateHierarchy(r: TenantHierarchy): void {
  const tp = tenantNameProblem(r.tenant);
  if (tp !== undefined) throw invalid(tp);
  const s = r.shadow as unknown as Record<string, unknown> | undefined;
  if (typeof s !== 'object' || typeof s['plugin'] !== 'string' || s['plugin'] === '' || typeof s['keyRef'] !== 'string' || s['keyRef'] === '' || typeof s['keyVersion'] !== 'string') {
    throw invalid('shadow must be {plugin, keyRef, keyVersion} strings (plugin and keyRef non-empty)');
  }
  if (!STATES.includes(r.state)) throw invalid(`state must be one of ${STATES.join(', ')}`);
  if (typeof r.stateReason !== 'string' || Buffer.byteLength(r.stateReason, 'utf8') > MAX_STATE_REASON_BYTES) {
    throw invalid(`stateReason must be a string of at most ${String(MAX_STATE_REASON_BYTES)} UTF-8 bytes`);
  }
  if (!isDate(r.stateChangedAt)) throw invalid('stateChangedAt must be a valid Date');
  if (!isVersion(r.revision)) throw invalid('revision must be an integer >= 1');
  if (!isList(r.l2) || r.l2.length === 0 || r.l2.length > MAX_L2_VERSIONS) {
    throw invalid(`l2 must hold 1..${String(MAX_L2_VERSIONS)} versions`);
  }
  const l2 = new Set<number>();
  for (const e of r.l2) {
    if (!isVersion(e.version) || l2.has(e.version)) throw invalid('l2 versions must be distinct integers >= 1');
    if (!(e.wrapped instanceof Uint8Array) || e.wrapped.length === 0 || e.wrapped.length > MAX_WRAPPED_BYTES) {
      throw invalid(`l2 v${String(e.version)} wrapped blob must be 1..${String(MAX_WRAPPED_BYTES)} bytes`);
    }
    if (!isDate(e.createdAt)) throw invalid('l2 createdAt must be a valid Date');
    l2.add(e.version);
  }
  if (!l2.has(r.currentL2)) throw invalid(`currentL2 ${String(r.currentL2)} has no stored L2`);
  const services = Object.keys(r.currentL3);
  if (services.length === 0 || services.length > MAX_SERVICES_PER_TENANT) {
    throw invalid(`a tenant has 1..${String(MAX_SERVICES_PER_TENANT)} services`);
  }
  const perService = new Map<string, Set<number>>();
  for (const svc of services) {
    const sp = serviceNameProblem(svc);
    if (sp !== undefined) throw invalid(sp);
    if (!isVersion(r.currentL3[svc])) throw invalid(`currentL3.${svc} must be an integer >= 1`);
    perService.set(svc, new Set());
  }
  if (!isList(r.l3)) throw invalid('l3 must be an array');
  for (const e of r.l3) {
    const seen = perService.get(e.service);
    if (seen === undefined) throw invalid(`l3 entry for service '${e.service}' absent from currentL3`);
    if (!isVersion(e.version) || seen.has(e.version)) throw invalid(`l3 ${e.service} versions must be distinct integers >= 1`);
    if (!l2.has(e.l2Version)) throw invalid(`l3 ${e.service} v${String(e.version)} refers to missing l2 v${String(e.l2Version)}`);
    if (!(e.sealed instanceof Uint8Array) || e.sealed.length === 0 || e.sealed.length > MAX_SEALED_L3_BYTES) {
      throw invalid(`l3 sealed blob must be 1..${String(MAX_SEALED_L3_BYTES)} bytes`);
    }
    if (!isDate(e.createdAt)) throw invalid('l3 createdAt must be a valid Date');
    const reserved = e.reserved;
    if (reserved !== undefined && (!Number.isSafeInteger(reserved) || reserved < 0 || reserved > GCM_RANDOM_NONCE_INVOCATION_LIMIT)) {
      throw invalid(`l3 ${e.service} v${String(e.version)} reserved must be an integer in 0..2^32`);
    }
    seen.add(e.version);
    if (seen.size > MAX_L3_VERSIONS) throw invalid(`service ${e.service} holds more than ${String(MAX_L3_VERSIONS)} L3 versions`);
  }
  for (const [svc, seen] of perService) {
    if (!seen.has(r.currentL3[svc] ?? 0)) throw invalid(`current L3 version of ${svc} has no stored blob`);
  }
}

/** A deep copy sharing nothing mutable with `r` (stores hand out and keep copies). */
export function copyHierarchy(r: TenantHierarchy): TenantHierarchy {
  return {
    tenant: r.tenant,
    shadow: { plugin: r.shadow.plugin, keyRef: r.shadow.keyRef, keyVersion: r.shadow.keyVersion },
    state: r.state,
    stateReason: r.stateReason,
    stateChangedAt: new Date(r.stateChangedAt.getTime()),
    currentL2: r.currentL2,
    l2: r.l2.map((e): StoredL2 => ({ version: e.version, wrapped: Uint8Array.from(e.wrapped), createdAt: new Date(e.createdAt.getTime()) })),
    currentL3: { ...r.currentL3 },
    l3: r.l3.map((e): StoredL3 => ({
      service: e.service, version: e.version, l2Version: e.l2Version, sealed: Uint8Array.from(e.sealed), createdAt: new Date(e.createdAt.getTime()),
      ...(e.reserved === undefined ? {} : { reserved: e.reserved }),
    })),
    revision: r.revision,
  };
}

/*
 * Encoded form (format 1), UTF-8 JSON, blobs base64, dates epoch milliseconds:
 *   {"f":1,"t":tenant,"s":[plugin,keyRef,keyVersion],"st":state,"sr":reason,"sa":ms,
 *    "c2":currentL2,"l2":[[v,wrapped,ms],...],"c3":{svc:v},"l3":[[svc,v,l2v,sealed,ms(,reserved)],...],"r":revision}
 * where `reserved` is written only when above 0.
 * Everything in it is public or ciphertext (src/krypton/types.ts).
 */
export function encodeHierarchy(r: TenantHierarchy): Buffer {
  validateHierarchy(r);
  const b64 = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
  const out = Buffer.from(JSON.stringify({
    f: HIERARCHY_RECORD_FORMAT,
    t: r.tenant,
    s: [r.shadow.plugin, r.shadow.keyRef, r.shadow.keyVersion],
    st: r.state,
    sr: r.stateReason,
    sa: r.stateChangedAt.getTime(),
    c2: r.currentL2,
    l2: r.l2.map((e) => [e.version, b64(e.wrapped), e.createdAt.getTime()]),
    c3: r.currentL3,
    l3: r.l3.map((e) => {
      const entry: (string | number)[] = [e.service, e.version, e.l2Version, b64(e.sealed), e.createdAt.getTime()];
      if (e.reserved !== undefined && e.reserved > 0) entry.push(e.reserved);
      return entry;
    }),
    r: r.revision,
  }), 'utf8');
  if (out.length > MAX_RECORD_BYTES) throw invalid(`encoded record is ${String(out.length)} bytes, above MAX_RECORD_BYTES ${String(MAX_RECORD_BYTES)}`);
  return out;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw invalid(`stored record: ${what} is not a string`);
  return v;
}
function num(v: unknown, what: string): number {
  if (typeof v !== 'number') throw invalid(`stored record: ${what} is not a number`);
  return v;
}
function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(`stored record: ${what} is not an array`);
  return v as unknown[];
}
function blob(v: unknown, what: string): Uint8Array {
  return new Uint8Array(Buffer.from(str(v, what), 'base64'));
}

/** Decodes and validates a stored record; HierarchyStoreError INVALID on anything unexpected. */
export function decodeHierarchy(bytes: Uint8Array): TenantHierarchy {
  if (bytes.length > MAX_RECORD_BYTES) throw invalid(`stored record is ${String(bytes.length)} bytes, above MAX_RECORD_BYTES`);
  let j: unknown;
  try {
    j = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (cause) {
    throw new HierarchyStoreError('INVALID', 'stored record is not JSON', { cause });
  }
  if (typeof j !== 'object' || j === null) throw invalid('stored record is not an object');
  const o = j as Record<string, unknown>;
  if (o['f'] !== HIERARCHY_RECORD_FORMAT) throw invalid(`stored record format ${String(o['f'])} is not ${String(HIERARCHY_RECORD_FORMAT)}`);
  const s = arr(o['s'], 'shadow');
  const c3 = o['c3'];
  if (typeof c3 !== 'object' || c3 === null || Array.isArray(c3)) throw invalid('stored record: currentL3 is not an object');
  const currentL3: Record<string, number> = {};
  for (const [k, v] of Object.entries(c3 as Record<string, unknown>)) currentL3[k] = num(v, `currentL3.${k}`);
  const record: TenantHierarchy = {
    tenant: str(o['t'], 'tenant'),
    shadow: { plugin: str(s[0], 'shadow.plugin'), keyRef: str(s[1], 'shadow.keyRef'), keyVersion: str(s[2], 'shadow.keyVersion') },
    state: str(o['st'], 'state') as TenantKeyState,
    stateReason: str(o['sr'], 'stateReason'),
    stateChangedAt: new Date(num(o['sa'], 'stateChangedAt')),
    currentL2: num(o['c2'], 'currentL2'),
    l2: arr(o['l2'], 'l2').map((x) => {
      const e = arr(x, 'l2 entry');
      return { version: num(e[0], 'l2.version'), wrapped: blob(e[1], 'l2.wrapped'), createdAt: new Date(num(e[2], 'l2.createdAt')) };
    }),
    currentL3,
    l3: arr(o['l3'], 'l3').map((x) => {
      const e = arr(x, 'l3 entry');
      return {
        service: str(e[0], 'l3.service'), version: num(e[1], 'l3.version'), l2Version: num(e[2], 'l3.l2Version'),
        sealed: blob(e[3], 'l3.sealed'), createdAt: new Date(num(e[4], 'l3.createdAt')),
        ...(e.length > 5 ? { reserved: num(e[5], 'l3.reserved') } : {}),
      };
    }),
    revision: num(o['r'], 'revision'),
  };
  validateHierarchy(record);
  return record;
}
