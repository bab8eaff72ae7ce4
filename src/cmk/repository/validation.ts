/**
 * What the governance repository accepts (./index.ts): the named limits, each for the abuse it stops, and the
 * checks every aggregate runs on its arguments before any SQL. A refusal is GovernanceError INVALID_ARGUMENT.
 */
import { parsePluginRef } from '../../keystore/connections.js';
import type { ShadowReference } from '../../keystore/types.js';
import { GovernanceError } from '../errors.js';

// ---- limits (each named for the abuse it stops) ----------------------------------------------------------

/** Display name length: bounds catalog rows and admin API responses. */
export const TENANT_DISPLAY_NAME_MAX = 200;
/** Principal names (admin identities) stored in rows and the audit trail; longer ones are refused. */
export const PRINCIPAL_MAX = 256;
/** Policy ids and shadow reference names: printable, short, usable in URLs. */
export const OBJECT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** One policy text: a policy set far beyond any hand-written one means abuse (memory of the Cedar engine). */
export const POLICY_MAX_BYTES = 64 * 1024;
/** Policies per tenant: bounds the set the authorizer must preparse on every change. */
export const MAX_POLICIES_PER_TENANT = 256;
/** Shadow references per tenant: L1 keys are few; a flood would be an attempt to fill the database. */
export const MAX_SHADOW_REFS_PER_TENANT = 64;
/** Pending approvals per tenant: stops request spam from burying real requests. */
export const MAX_PENDING_APPROVALS_PER_TENANT = 100;
/** Distinct approvers an action may require at most (besides the requester). */
export const MAX_REQUIRED_APPROVERS = 10;
/** Default window in which an approval must gather its approvers. */
export const DEFAULT_APPROVAL_TTL_MS = 24 * 60 * 60 * 1000;
/** Longest approval window accepted: a forgotten request must not stay executable for months. */
export const MAX_APPROVAL_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Key reference and version lengths (an ARN is < 2 KiB; a version is a short id). */
export const KEY_REF_MAX = 2048;
export const KEY_VERSION_MAX = 256;
/** Parameters of an approval request: a few short strings. */
export const MAX_APPROVAL_PARAMS = 16;
export const APPROVAL_PARAM_MAX = 1024;

/** Shadow reference formats per keystore kind (contracts "Keystore plugins"). */
const KEY_REF_FORMATS: Readonly<Record<string, RegExp>> = {
  'pkcs11': /^token=[^;=\0]{1,32};object=[^;=\0]{1,128}$/,
  'aws-kms': /^arn:aws[a-z-]{0,16}:kms:[a-z0-9-]{1,32}:\d{12}:key\/[A-Za-z0-9-]{1,128}$/,
  'azure-keyvault': /^https:\/\/[A-Za-z0-9.-]{1,253}(:\d{1,5})?\/keys\/[A-Za-z0-9-]{1,127}(\/[A-Za-z0-9]{1,64})?$/,
  'local': /^local:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
};

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// eslint-disable-next-line no-control-regex
export const CONTROL = /[\u0000-\u001f\u007f]/;

export function invalid(message: string): GovernanceError {
  return new GovernanceError('INVALID_ARGUMENT', message);
}

export function checkPrincipal(p: unknown, what = 'principal'): string {
  if (typeof p !== 'string' || p.length === 0 || p.length > PRINCIPAL_MAX || CONTROL.test(p)) {
    throw invalid(`${what} must be 1..${PRINCIPAL_MAX} characters without control characters`);
  }
  return p;
}

export function checkObjectName(n: unknown, what: string): string {
  if (typeof n !== 'string' || !OBJECT_NAME_PATTERN.test(n)) throw invalid(`${what} must match ${OBJECT_NAME_PATTERN.source}`);
  return n;
}

export function checkReason(r: unknown): string {
  if (typeof r !== 'string' || r.length > PRINCIPAL_MAX || CONTROL.test(r)) {
    throw invalid(`reason must be at most ${PRINCIPAL_MAX} characters without control characters`);
  }
  return r;
}

/** Validates a shadow reference: known plugin kind, key reference in that kind's format, printable version. */
export function checkShadowReference(shadow: unknown): ShadowReference {
  if (typeof shadow !== 'object' || shadow === null) throw invalid('shadow reference must be an object');
  const keys = Object.keys(shadow);
  for (const k of keys) {
    if (k !== 'plugin' && k !== 'keyRef' && k !== 'keyVersion') throw invalid(`shadow reference has an unknown field ${JSON.stringify(k)}`);
  }
  const { plugin, keyRef, keyVersion } = shadow as Record<string, unknown>;
  // `<kind>@<connection>` names a keystore connection (src/keystore/connections.ts); the key format is the kind's.
  const kind = typeof plugin === 'string' ? parsePluginRef(plugin)?.kind : undefined;
  if (typeof plugin !== 'string' || kind === undefined || !Object.hasOwn(KEY_REF_FORMATS, kind)) {
    throw invalid(`shadow.plugin must be one of ${Object.keys(KEY_REF_FORMATS).join(', ')}, or <kind>@<connection>`);
  }
  const format = KEY_REF_FORMATS[kind];
  if (typeof keyRef !== 'string' || keyRef.length > KEY_REF_MAX || format === undefined || !format.test(keyRef)) {
    throw invalid(`shadow.keyRef is not a valid ${plugin} key reference`);
  }
  if (typeof keyVersion !== 'string' || keyVersion.length > KEY_VERSION_MAX || !/^[\x21-\x7e]*$/.test(keyVersion)) {
    throw invalid(`shadow.keyVersion must be at most ${KEY_VERSION_MAX} printable ASCII characters`);
  }
  return { plugin, keyRef, keyVersion };
}

/** An integer 1..max (approvers required, approval windows), else INVALID_ARGUMENT naming `what`. */
export function checkCount(v: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw invalid(`${what} must be an integer 1..${max}`);
  return v;
}
