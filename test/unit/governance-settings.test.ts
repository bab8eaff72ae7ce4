/**
 * The config file's `governance` section (src/appliance/governance/plane.ts governanceSettings; docs/configuration.md):
 * defaults, every unknown key refused by name, and each numeric bound at the limit and one past it.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AUDIT_HOLD_MAX_MS, AUDIT_HOLD_MAX_MS_LIMIT, AUDIT_QUEUE_MAX, AUDIT_TENANT_QUEUE_MAX } from '../../src/cmk/audit/index.js';
import { DEFAULT_L1_HEALTH_INTERVAL_MS, MIN_L1_HEALTH_INTERVAL_MS } from '../../src/krypton/l1-health.js';
import { DEV_ADMIN_IDENTITY } from '../../src/pki/admin-cert.js';
import { ConfigError } from '../../src/common/config-error.js';
import type { LoadedConfig } from '../../src/config/index.js';
import { DEFAULT_ADMIN_API_HOST, DEFAULT_ADMIN_API_PORT, governanceSettings } from '../../src/config/index.js';
import { MAX_REQUIRED_APPROVALS } from '../../src/cmk/api/server.js';
import { DEFAULT_YIELD_NICE, MAX_YIELD_NICE } from '../../src/config/governance.js';

type Input = Pick<LoadedConfig, 'dataDir' | 'governance' | 'server'>;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'openkcm-govsettings-'));
  await writeFile(path.join(dir, 'admin-ca.pem'), 'ADMIN CA PEM');
  await mkdir(path.join(dir, 'pki'));
  await writeFile(path.join(dir, 'pki', 'admin-ca.crt'), 'DEFAULT ADMIN CA');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function input(governance: Record<string, unknown>, kmipPort = 5696): Input {
  const server = {
    listen: { host: '127.0.0.1', port: kmipPort },
    tls: { cert: 'SERVER CERT', key: 'SERVER KEY', ca: 'CLIENT CA', minVersion: 'TLSv1.2', ciphers: '' },
  } as unknown as LoadedConfig['server'];
  return { dataDir: dir, governance, server };
}

async function refused(governance: Record<string, unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(governanceSettings(input(governance)), (e: unknown) => e instanceof ConfigError && pattern.test(e.message));
}

describe('governance settings', () => {
  test('defaults: on, auto-registration, admin API on loopback:5697 with the KMIP server certificate, the ADMIN CA and the dev admin identity', async () => {
    const s = await governanceSettings(input({}));
    assert.equal(s.enabled, true);
    assert.equal(s.autoRegisterTenants, true);
    assert.equal(s.databaseUrl, undefined);
    assert.equal(s.l1HealthIntervalMs, DEFAULT_L1_HEALTH_INTERVAL_MS);
    assert.equal(s.auditQueueMax, AUDIT_QUEUE_MAX);
    assert.deepEqual(s.adminApi?.listen, { host: DEFAULT_ADMIN_API_HOST, port: DEFAULT_ADMIN_API_PORT });
    // Issue 15 item 8: the admin API trusts pki/admin-ca.crt, never the KMIP client CA.
    assert.deepEqual(s.adminApi.tls, { cert: 'SERVER CERT', key: 'SERVER KEY', ca: 'DEFAULT ADMIN CA' });
    assert.deepEqual(s.adminApi.auth, { mtls: { identitySource: 'uri', identities: { [DEV_ADMIN_IDENTITY]: ['admin'] } } });
  });

  test('an ephemeral KMIP port makes the default admin port ephemeral too; an explicit listen wins', async () => {
    assert.equal((await governanceSettings(input({}, 0))).adminApi?.listen.port, 0);
    assert.deepEqual((await governanceSettings(input({ adminApi: { listen: '0.0.0.0:9443' } }, 0))).adminApi?.listen, { host: '0.0.0.0', port: 9443 });
  });

  test('adminApi false turns the API off; tls files are read relative to the data directory', async () => {
    assert.equal((await governanceSettings(input({ adminApi: false }))).adminApi, undefined);
    const s = await governanceSettings(input({ adminApi: { tls: { clientCa: 'admin-ca.pem' } } }));
    assert.equal(s.adminApi?.tls.ca, 'ADMIN CA PEM');
    await refused({ adminApi: { tls: { clientCa: 'missing.pem' } } }, /governance\.adminApi\.tls\.clientCa/);
  });

  test('unknown keys are refused by name at every level', async () => {
    await refused({ enable: true }, /governance\.enable\b/);
    await refused({ adminApi: { port: 1 } }, /governance\.adminApi\.port/);
    await refused({ adminApi: { tls: { ca: 'x' } } }, /governance\.adminApi\.tls\.ca/);
    await refused({ audit: { size: 1 } }, /governance\.audit\.size/);
    await refused({ fourEyes: { quorum: 2 } }, /governance\.fourEyes\.quorum/);
    await refused({ adminApi: { auth: { ldap: {} } } }, /governance\.adminApi\.auth\.ldap/);
  });

  test('types and values', async () => {
    await refused({ enabled: 'yes' }, /governance\.enabled/);
    await refused({ databaseUrl: 'mysql://x' }, /governance\.databaseUrl/);
    assert.equal((await governanceSettings(input({ databaseUrl: 'postgresql://u@h/db' }))).databaseUrl, 'postgresql://u@h/db');
    await refused({ adminApi: { listen: 5697 } }, /governance\.adminApi\.listen/);
    await refused({ adminApi: { auth: {} } }, /mtls and\/or oidc/);
    await refused({ fourEyes: { actions: ['delete'] } }, /governance\.fourEyes\.actions/);
    const f = await governanceSettings(input({ fourEyes: { actions: ['revoke'], approvals: 2 } }));
    assert.deepEqual(f.fourEyes, { actions: ['revoke'], approvals: 2 });
  });

  // Carried over from the unused second parser of this section (src/cmk/api/settings.ts, removed in issue 19): the
  // cases that the real parser shares with it, now checked against the real one.
  test('fourEyes.approvals at the edge and one past; a listen address that is not host:port', async () => {
    assert.equal((await governanceSettings(input({ fourEyes: { approvals: MAX_REQUIRED_APPROVALS } }))).fourEyes?.approvals, MAX_REQUIRED_APPROVALS);
    await refused({ fourEyes: { approvals: MAX_REQUIRED_APPROVALS + 1 } }, /governance\.fourEyes\.approvals/);
    await refused({ fourEyes: { approvals: 0 } }, /governance\.fourEyes\.approvals/);
    await refused({ adminApi: { listen: 'nowhere' } }, /.+/);
    await refused({ adminApi: { listen: '127.0.0.1:65536' } }, /.+/);
    await refused({ adminApi: { port: 1 } }, /governance\.adminApi\.port/);
    await refused({ adminApi: 'not an object' }, /governance\.adminApi must be an object or false/);
  });

  test('l1HealthIntervalMs: the minimum is accepted, one below is refused', async () => {
    assert.equal((await governanceSettings(input({ l1HealthIntervalMs: MIN_L1_HEALTH_INTERVAL_MS }))).l1HealthIntervalMs, MIN_L1_HEALTH_INTERVAL_MS);
    await refused({ l1HealthIntervalMs: MIN_L1_HEALTH_INTERVAL_MS - 1 }, /l1HealthIntervalMs/);
  });

  test('audit.queueMax: 1 and AUDIT_QUEUE_MAX are accepted, 0 and AUDIT_QUEUE_MAX + 1 are refused', async () => {
    assert.equal((await governanceSettings(input({ audit: { queueMax: AUDIT_QUEUE_MAX } }))).auditQueueMax, AUDIT_QUEUE_MAX);
    assert.equal((await governanceSettings(input({ audit: { queueMax: 1 } }))).auditQueueMax, 1);
    await refused({ audit: { queueMax: AUDIT_QUEUE_MAX + 1 } }, /queueMax/);
    await refused({ audit: { queueMax: 0 } }, /queueMax/);
  });

  test('audit.holdMaxMs: default AUDIT_HOLD_MAX_MS; 0 (never hold) and the limit are accepted, -1, the limit + 1 and a fraction are refused', async () => {
    assert.equal((await governanceSettings(input({}))).auditHoldMaxMs, AUDIT_HOLD_MAX_MS);
    assert.equal((await governanceSettings(input({ audit: { holdMaxMs: 0 } }))).auditHoldMaxMs, 0);
    assert.equal((await governanceSettings(input({ audit: { holdMaxMs: AUDIT_HOLD_MAX_MS_LIMIT } }))).auditHoldMaxMs, AUDIT_HOLD_MAX_MS_LIMIT);
    await refused({ audit: { holdMaxMs: AUDIT_HOLD_MAX_MS_LIMIT + 1 } }, /holdMaxMs/);
    await refused({ audit: { holdMaxMs: -1 } }, /holdMaxMs/);
    await refused({ audit: { holdMaxMs: 2.5 } }, /holdMaxMs/);
    await refused({ audit: { holdMaxMs: '250' } }, /holdMaxMs/);
  });

  test('audit.tenantQueueMax (issue 15 item 4): default AUDIT_TENANT_QUEUE_MAX, never above queueMax; 1 and queueMax are accepted, 0 and queueMax + 1 are refused', async () => {
    assert.equal((await governanceSettings(input({}))).auditTenantQueueMax, AUDIT_TENANT_QUEUE_MAX);
    assert.equal((await governanceSettings(input({ audit: { queueMax: 500 } }))).auditTenantQueueMax, 500);
    assert.equal((await governanceSettings(input({ audit: { tenantQueueMax: AUDIT_QUEUE_MAX } }))).auditTenantQueueMax, AUDIT_QUEUE_MAX);
    assert.equal((await governanceSettings(input({ audit: { queueMax: 500, tenantQueueMax: 500 } }))).auditTenantQueueMax, 500);
    assert.equal((await governanceSettings(input({ audit: { tenantQueueMax: 1 } }))).auditTenantQueueMax, 1);
    await refused({ audit: { queueMax: 500, tenantQueueMax: 501 } }, /tenantQueueMax/);
    await refused({ audit: { tenantQueueMax: AUDIT_QUEUE_MAX + 1 } }, /tenantQueueMax/);
    await refused({ audit: { tenantQueueMax: 0 } }, /tenantQueueMax/);
    await refused({ audit: { tenantQueueMax: 1.5 } }, /tenantQueueMax/);
    await refused({ audit: { perTenant: 1 } }, /governance\.audit\.perTenant/);
  });

  test('yieldNice (the primary\'s nice value while it keeps up): default DEFAULT_YIELD_NICE; 0 and 19 are accepted, -1, 20 and 1.5 are refused', async () => {
    assert.equal((await governanceSettings(input({}))).yieldNice, DEFAULT_YIELD_NICE);
    assert.equal((await governanceSettings(input({ yieldNice: 0 }))).yieldNice, 0);
    assert.equal((await governanceSettings(input({ yieldNice: MAX_YIELD_NICE }))).yieldNice, 19);
    await refused({ yieldNice: -1 }, /yieldNice must be an integer 0\.\.19/);
    await refused({ yieldNice: 20 }, /yieldNice/);
    await refused({ yieldNice: 1.5 }, /yieldNice/);
    await refused({ yieldNice: '10' }, /yieldNice/);
  });
});
