/**
 * The admin API's error catalog stays in sync with its documentation (STYLE.md "an error catalog is kept in sync
 * with the docs and types by a test"): every code of src/cmk/api/errors.ts appears in docs/governance.md "Errors"
 * with its HTTP status, and the docs name no code the catalog lacks. Foreign errors map by code, never by text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_ERRORS, ApiError, isApiErrorCode, toApiError } from '../../src/cmk/api/errors.js';
import { GovernanceError } from '../../src/cmk/errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const doc = readFileSync(path.resolve(here, '..', '..', '..', 'docs', 'governance.md'), 'utf8');

test('every catalog code is documented with its status, and only those', () => {
  const section = doc.slice(doc.indexOf('### Errors'), doc.indexOf('### Metrics'));
  const documented = new Map<string, number>();
  for (const m of section.matchAll(/\| ([A-Z][A-Z0-9_]+) \| (\d{3}) /g)) documented.set(m[1] ?? '', Number(m[2]));
  const catalog = new Map(Object.entries(API_ERRORS).map(([code, e]) => [code, e.status]));
  assert.deepEqual([...documented.entries()].sort(), [...catalog.entries()].sort());
});

test('foreign errors map by code; unknown ones become INTERNAL without their message', () => {
  assert.equal(toApiError(new GovernanceError('TENANT_NOT_FOUND', 'tenant x does not exist')).code, 'NOT_FOUND');
  assert.equal(toApiError(new GovernanceError('APPROVER_NOT_ALLOWED', 'no')).status, 409);
  const internal = toApiError(new Error('SELECT secret FROM somewhere failed at /src/x.ts:12'));
  assert.deepEqual([internal.code, internal.message], ['INTERNAL', 'internal error']);
  const shred = toApiError(new GovernanceError('SHRED_FAILED', 'details'));
  assert.deepEqual([shred.code, shred.message], ['INTERNAL', 'internal error']);
  assert.ok(isApiErrorCode('CONFLICT') && !isApiErrorCode('toString'));
  const e = new ApiError('FORBIDDEN', 'nope');
  assert.equal(toApiError(e), e);
});
