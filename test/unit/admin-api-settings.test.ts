/**
 * The config file's `governance.adminApi` section (src/cmk/api/settings.ts): defaults, paths relative to the data
 * directory, and every malformed or unknown setting refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthConfigError } from '../../src/cmk/api/auth.js';
import { DEFAULT_ADMIN_LISTEN, MAX_APPROVAL_TTL_MS, parseAdminApiSettings } from '../../src/cmk/api/settings.js';
import { MAX_REQUIRED_APPROVALS } from '../../src/cmk/api/server.js';

const MTLS = { mtls: { identities: { ops: ['admin'] } } };
const TLS = { cert: 'pki/admin.crt', key: 'pki/admin.key', ca: 'pki/admin-ca.crt' };

test('a full section: listen, TLS paths under the data directory, auth, four-eyes', () => {
  const s = parseAdminApiSettings({ listen: '[::1]:9443', tls: TLS, auth: MTLS, fourEyes: { actions: ['revoke', 'revoke', 'terminate'], approvals: 2, ttlMs: 60_000 }, l1HealthIntervalMs: 5000 }, '/data');
  assert.deepEqual([s.host, s.port], ['::1', 9443]);
  assert.deepEqual(s.tls, { cert: '/data/pki/admin.crt', key: '/data/pki/admin.key', ca: '/data/pki/admin-ca.crt' });
  assert.deepEqual(s.fourEyes, { actions: ['revoke', 'terminate'], approvals: 2, ttlMs: 60_000 });
  assert.equal(s.l1HealthIntervalMs, 5000);
  const d = parseAdminApiSettings({ tls: TLS, auth: MTLS }, '/data');
  assert.equal(`${d.host}:${String(d.port)}`, DEFAULT_ADMIN_LISTEN);
  assert.equal(d.fourEyes, undefined);
});

test('limits at the edge and one past; unknown keys and unsafe combinations refused', () => {
  const base = { tls: TLS, auth: MTLS };
  assert.equal(parseAdminApiSettings({ ...base, fourEyes: { approvals: MAX_REQUIRED_APPROVALS, ttlMs: MAX_APPROVAL_TTL_MS } }, '/d').fourEyes?.approvals, MAX_REQUIRED_APPROVALS);
  const bad: unknown[] = [
    { ...base, fourEyes: { approvals: MAX_REQUIRED_APPROVALS + 1 } },
    { ...base, fourEyes: { approvals: 0 } },
    { ...base, fourEyes: { ttlMs: MAX_APPROVAL_TTL_MS + 1 } },
    { ...base, fourEyes: { actions: ['destroy-everything'] } },
    { ...base, listen: 'nowhere' },
    { ...base, listen: '127.0.0.1:65536' },
    { ...base, l1HealthIntervalMs: 999 },
    { ...base, port: 1 },
    { ...base, tls: { cert: 'a' } },
    { auth: MTLS },
    { tls: TLS, auth: {} },
    { tls: { cert: 'a', key: 'b' }, auth: MTLS },
    'not an object',
  ];
  for (const b of bad) assert.throws(() => parseAdminApiSettings(b, '/d'), AuthConfigError, JSON.stringify(b));
});
