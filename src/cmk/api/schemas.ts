/**
 * JSON schemas of the admin API (docs/governance.md "Admin API"). Every route validates params, query and
 * body against these before a handler runs; every object is closed (`additionalProperties: false`, and the
 * validator is configured to REJECT extra properties rather than strip them), every string has a pattern or
 * an explicit maxLength. The same schemas generate the OpenAPI document (GET /openapi.json).
 */
import { TENANT_ID_PATTERN } from '../db.js';
import { APPROVABLE_ACTIONS } from './ports.js';
import { CONNECTION_KINDS, CONNECTION_NAME_PATTERN } from '../../keystore/connections.js';

/**
 * Largest request body. The biggest legitimate body is a policy (MAX_POLICY_TEXT_BYTES plus JSON quoting);
 * the limit stops memory exhaustion by a client streaming a huge JSON document to an authenticated route.
 */
export const ADMIN_BODY_LIMIT_BYTES = 64 * 1024;
/** Longest policy text (Cedar source). Bounds the parse work the policy engine does per request. */
export const MAX_POLICY_TEXT_BYTES = 32 * 1024;
/** Longest free-text reason stored in the audit trail; stops the trail from being used as a bulk store. */
export const MAX_REASON_LENGTH = 256;
/** Longest keystore keyRef (ARNs are ≤ 2048; Key Vault URLs and PKCS#11 labels far less). */
export const MAX_KEY_REF_LENGTH = 2048;
export const MAX_KEY_VERSION_LENGTH = 256;
/** Longest tenant description. */
export const MAX_DESCRIPTION_LENGTH = 256;
/** Page size caps: a single request must not pull the whole audit trail or tenant table into memory. */
export const MAX_AUDIT_PAGE = 1000;
export const DEFAULT_AUDIT_PAGE = 100;
export const MAX_TENANT_PAGE = 1000;

/** Strings stored or logged must not carry control characters (log injection, terminal escapes in the CLI). */
const PRINTABLE = '^[^\\u0000-\\u001f\\u007f]*$';
const PRINTABLE_NONEMPTY = '^[^\\u0000-\\u001f\\u007f]+$';

export const TENANT_ID = { type: 'string', pattern: TENANT_ID_PATTERN.source, maxLength: 40, description: 'Governed tenant id (lowercase, digits, _; ≤ 40)' } as const;
/** Policy names: a file-name-like token. */
export const POLICY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const POLICY_NAME = { type: 'string', pattern: POLICY_NAME_PATTERN.source, maxLength: 64 } as const;
/** Approval ids are `<tenant>:<uuid>` (src/cmk/repository/approvals.ts parseApprovalId). */
export const APPROVAL_ID = { type: 'string', pattern: `^${TENANT_ID_PATTERN.source.slice(1, -1)}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, maxLength: 80 } as const;
const REASON = { type: 'string', pattern: PRINTABLE, maxLength: MAX_REASON_LENGTH } as const;
/** `<kind>` or `<kind>@<connection>` (a named keystore connection, src/keystore/connections.ts). */
export const KEYSTORE_PLUGIN_PATTERN = new RegExp(`^(?:local|(?:${CONNECTION_KINDS.join('|')})(?:@${CONNECTION_NAME_PATTERN.source.slice(1, -1)})?)$`, 'u');

export const tenantParams = {
  type: 'object', additionalProperties: false, required: ['id'],
  properties: { id: TENANT_ID },
} as const;

export const policyParams = {
  type: 'object', additionalProperties: false, required: ['id', 'name'],
  properties: { id: TENANT_ID, name: POLICY_NAME },
} as const;

export const approvalParams = {
  type: 'object', additionalProperties: false, required: ['id'],
  properties: { id: APPROVAL_ID },
} as const;

export const createTenantBody = {
  type: 'object', additionalProperties: false, required: ['id'],
  properties: {
    id: TENANT_ID,
    description: { type: 'string', pattern: PRINTABLE, maxLength: MAX_DESCRIPTION_LENGTH },
  },
} as const;

/** Optional `{reason}` body of state changes. */
export const reasonBody = {
  type: 'object', additionalProperties: false,
  properties: { reason: REASON },
} as const;

export const shadowBody = {
  type: 'object', additionalProperties: false, required: ['plugin', 'keyRef', 'keyVersion'],
  properties: {
    plugin: { type: 'string', pattern: KEYSTORE_PLUGIN_PATTERN.source, maxLength: 80, description: '<kind> or <kind>@<connection>' },
    keyRef: { type: 'string', pattern: PRINTABLE_NONEMPTY, maxLength: MAX_KEY_REF_LENGTH },
    keyVersion: { type: 'string', pattern: PRINTABLE, maxLength: MAX_KEY_VERSION_LENGTH },
  },
} as const;

export const policyBody = {
  type: 'object', additionalProperties: false, required: ['policy'],
  properties: {
    // maxLength counts characters; the byte bound is the body limit. Cedar source is printable text plus
    // newlines and tabs, so only those control characters are allowed.
    policy: { type: 'string', minLength: 1, maxLength: MAX_POLICY_TEXT_BYTES, pattern: '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$' },
  },
} as const;

export const listTenantsQuery = {
  type: 'object', additionalProperties: false,
  properties: {
    state: { type: 'string', enum: ['active', 'suspended', 'revoked', 'terminated'] },
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$', description: `1..${MAX_TENANT_PAGE}` },
  },
} as const;

export const auditQuery = {
  type: 'object', additionalProperties: false,
  properties: {
    from: { type: 'string', pattern: '^[0-9]{1,15}$', description: 'First sequence number to return (default 1)' },
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$', description: `1..${MAX_AUDIT_PAGE} (default ${DEFAULT_AUDIT_PAGE})` },
  },
} as const;

export const approvalsQuery = {
  type: 'object', additionalProperties: false,
  properties: { tenant: TENANT_ID },
} as const;

// ---- responses (also the OpenAPI document's response models) ----------------------------------------

const errorResponse = {
  type: 'object', additionalProperties: false, required: ['error'],
  properties: {
    error: {
      type: 'object', additionalProperties: false, required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
      },
    },
  },
} as const;

const shadowModel = {
  type: 'object', additionalProperties: false, required: ['plugin', 'keyRef', 'keyVersion'],
  properties: { plugin: { type: 'string' }, keyRef: { type: 'string' }, keyVersion: { type: 'string' } },
} as const;

export const tenantModel = {
  type: 'object', additionalProperties: false, required: ['id', 'state', 'createdAt'],
  properties: {
    id: { type: 'string' },
    state: { type: 'string' },
    description: { type: 'string' },
    stateReason: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    stateChangedAt: { type: 'string', format: 'date-time' },
    shadow: shadowModel,
  },
} as const;

export const approvalModel = {
  type: 'object', additionalProperties: false, required: ['id', 'tenant', 'action', 'requestedBy', 'approvers', 'required', 'needed', 'status', 'expiresAt'],
  properties: {
    id: { type: 'string' },
    tenant: { type: 'string' },
    action: { type: 'string', enum: [...APPROVABLE_ACTIONS] },
    reason: { type: 'string' },
    params: { type: 'object', additionalProperties: { type: 'string' } },
    requestedBy: { type: 'string' },
    approvers: { type: 'array', items: { type: 'string' } },
    required: { type: 'integer' },
    needed: { type: 'integer' },
    status: { type: 'string', enum: ['pending', 'approved', 'executing', 'executed', 'expired', 'failed'] },
    expiresAt: { type: 'string', format: 'date-time' },
  },
} as const;

/** 202 answer of an action under four-eyes. */
export const pendingApprovalResponse = {
  type: 'object', additionalProperties: false, required: ['approvalId', 'needed', 'approval'],
  properties: { approvalId: { type: 'string' }, needed: { type: 'integer' }, approval: approvalModel },
} as const;

export const policyModel = {
  type: 'object', additionalProperties: false, required: ['tenant', 'name', 'policy'],
  properties: { tenant: { type: 'string' }, name: { type: 'string' }, policy: { type: 'string' }, updatedAt: { type: 'string', format: 'date-time' } },
} as const;

export const healthModel = {
  type: 'object', additionalProperties: false, required: ['ok', 'plugin', 'keyRef', 'checkedAt'],
  properties: {
    ok: { type: 'boolean' }, plugin: { type: 'string' }, keyRef: { type: 'string' }, checkedAt: { type: 'string', format: 'date-time' },
    code: { type: 'string' }, message: { type: 'string' },
  },
} as const;

export const auditRecordModel = {
  type: 'object', additionalProperties: true,
  description: 'One audit record (fields as stored by src/cmk/audit/: seq, at, actor, action, details, prevHash, hmac)',
} as const;

export const auditPageModel = {
  type: 'object', additionalProperties: false, required: ['records'],
  properties: { records: { type: 'array', items: auditRecordModel }, next: { type: 'integer' } },
} as const;

export const auditVerifyModel = {
  type: 'object', additionalProperties: true, required: ['ok'],
  properties: {
    ok: { type: 'boolean' }, count: { type: 'integer' }, firstBroken: { type: 'integer' }, reason: { type: 'string' },
    gaps: {
      type: 'object', additionalProperties: false, required: ['records', 'dropped', 'refused', 'firstSeq', 'lastSeq', 'from', 'to'],
      description: 'Gap records of an intact chain: records dropped and operations refused while the audit queue was full',
      properties: {
        records: { type: 'integer' }, dropped: { type: 'integer' }, refused: { type: 'integer' }, firstSeq: { type: 'integer' },
        lastSeq: { type: 'integer' }, from: { type: 'string' }, to: { type: 'string' },
      },
    },
  },
} as const;

/** The error responses every authenticated route may give, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<string, typeof errorResponse> {
  const out: Record<string, typeof errorResponse> = {};
  for (const s of [400, 401, 403, 413, 500, ...statuses]) out[String(s)] = errorResponse;
  return out;
}
