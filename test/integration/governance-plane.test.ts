/**
 * The governance plane inside the KMIP server (src/appliance/governance/plane.ts; issue 5 wiring), over BOTH database engines:
 * the embedded PGlite default (`<dataDir>/governance-db`) and the real PostgreSQL (a throwaway database).
 *
 * The server is composed here the way src/appliance/kmip-app.ts composes it (key hierarchy on the data directory, LMDB
 * vault sealed under each tenant's L3, gates, Cedar, audit hook) with real mutual-TLS KMIP clients and the real
 * HTTPS admin API authenticated by the development admin certificate (src/pki/admin-cert.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { runAudit } from '../../src/cli/commands/audit.js';
import { initDataDir } from '../../src/cli/commands/init.js';
import { KmipClient } from '../../src/client/client.js';
import type { Db } from '../../src/cmk/db.js';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { symmetricKeyBlock } from '../../src/kmip/payloads/objects.js';
import { BlockCipherMode, CryptographicAlgorithm, CryptographicUsageMask, ObjectType } from '../../src/kmip/registry.js';
import { MasterKey } from '../../src/krypton/master-key.js';
import { TenantKeyring } from '../../src/krypton/tenant-keyring.js';
import { initNative } from '../../src/native/index.js';
import { VaultObjectStore } from '../../src/operations/model/vault-store.js';
import { getHandler } from '../../src/operations/registry.js';
import { createServices } from '../../src/operations/services.js';
import type { OperationServices } from '../../src/operations/services.js';
import type { OperationHandler } from '../../src/operations/types.js';
import { writeDevAdminCert } from '../../src/pki/admin-cert.js';
import { issueClientCert, loadCa } from '../../src/pki/dev-pki.js';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/index.js';
import { composeGates, sealedGate, tenantStateGate } from '../../src/server/gates.js';
import { AUTO_REGISTER_PRINCIPAL, POLICY_CHANNEL, startGovernancePlane } from '../../src/appliance/governance/plane.js';
import type { GovernancePlane } from '../../src/appliance/governance/plane.js';
import { Hierarchy } from '../../src/appliance/hierarchy.js';
import { keystoresSettings } from '../../src/config/index.js';
import { KmipServer } from '../../src/server/listener.js';
import { silentLogger } from '../../src/common/log.js';
import type { ProcessorDeps } from '../../src/server/processor.js';
import { Vault } from '../../src/vault/vault.js';
import { adminClient, readDevAdminPem } from '../helpers/admin-client.js';
import { createThrowawayDatabase } from '../helpers/governance-db.js';
import { withClient } from '../helpers/server.js';
import { codeOf } from '../helpers/kmip-outcome.js';
import { until } from '../helpers/wait.js';

/** A wait that has not seen its condition after this long is a failure, not a slow result. */
const GIVE_UP_MS = 10_000;
const TENANTS = ['alpha', 'beta'] as const;
const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };
const FORBID_CREATE = '@id("no-create") forbid (principal, action == OpenKCM::Action::"Create", resource);';

interface Pem { cert: string; key: string }

interface Rig {
  readonly dataDir: string;
  readonly plane: GovernancePlane;
  readonly db: Db;
  readonly hierarchy: Hierarchy;
  readonly port: number;
  /** Unseal shares of a sealed rig. */
  readonly shares: readonly string[];
  connect(tenant: string): Promise<KmipClient>;
  connectWith(pem: Pem): Promise<KmipClient>;
  issue(cn: string): Promise<Pem>;
  admin(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

async function openRig(engine: 'pglite' | 'postgres', opts: { sealed?: boolean; servesKmip?: boolean } = {}): Promise<Rig> {
  initNative({ allowUnlocked: true });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'openkcm-govplane-'));
  const cleanups: (() => Promise<void>)[] = [() => rm(dataDir, { recursive: true, force: true })];
  const close = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    await initDataDir({ dataDir, tenants: [...TENANTS] });
    await writeDevAdminCert(path.join(dataDir, 'pki'));
    const governance: Record<string, unknown> = { l1HealthIntervalMs: 60_000 };
    if (engine === 'postgres') {
      const tdb = await createThrowawayDatabase();
      cleanups.push(() => tdb.drop());
      governance.databaseUrl = tdb.url;
    }
    await writeFile(path.join(dataDir, CONFIG_FILE_NAME), JSON.stringify({
      kmip: { listen: '127.0.0.1:0' },
      identity: { tenants: Object.fromEntries(TENANTS.map((t) => [t, t])), unmapped: 'same-name' }, // first-use registration of unmapped names (issue 15 item 8: not the default once a map exists)
      native: { allowUnlocked: true },
      governance,
    }));
    const loaded = await loadConfig(dataDir);
    // A Shamir-sealed node: the hierarchy opens sealed; the shares come back through `rig.shares`.
    const shares = opts.sealed === true ? await MasterKey.initShamir(dataDir, { shares: 2, threshold: 2 }) : [];
    const logger = silentLogger;
    const hierarchy = await Hierarchy.open({ dataDir, seal: loaded.seal, keystores: keystoresSettings(loaded.keystores), logger, operatorSocket: false });
    cleanups.push(() => hierarchy.close());
    const vault = await Vault.open({ path: path.join(dataDir, 'vault'), kek: hierarchy.resolver, logger });
    cleanups.push(() => vault.close());
    // What app.ts does with the plane: authorize after the sealed and tenant-state gates, authorizeObject into the
    // services, audit into the processor deps; closed after the listener and before the hierarchy.
    const plane = await startGovernancePlane({
      loaded, logger, krypton: hierarchy.krypton, masterKey: hierarchy.masterKey,
      tenantsOf: () => vault.tenants(), keystoreFor: hierarchy.keystores.keystoreFor,
      ...(opts.servesKmip === undefined ? {} : { servesKmip: opts.servesKmip }),
    });
    cleanups.push(() => plane.close());
    const services: OperationServices = createServices({
      store: new VaultObjectStore(vault),
      ...(plane.authorizeObject === undefined ? {} : { authorizeObject: plane.authorizeObject }),
    });
    cleanups.push(() => { services.keyCache.clear(); return Promise.resolve(); });
    const authorize = composeGates(
      sealedGate(() => hierarchy.masterKey.status().sealed),
      tenantStateGate((tenant) => hierarchy.isRevoked(tenant)),
      plane.authorize,
    );
    const deps: ProcessorDeps<OperationServices> = {
      getHandler: getHandler as (op: number) => OperationHandler<unknown, unknown, OperationServices> | undefined,
      services, logger,
      ...(authorize === undefined ? {} : { authorize }),
      ...(plane.audit === undefined ? {} : { audit: plane.audit }),
    };
    const server = new KmipServer<OperationServices>({ config: loaded.server, deps });
    const addr = await server.listen();
    cleanups.push(() => server.close());
    const db = plane.db;
    assert.ok(db !== undefined);
    assert.equal(db.kind, engine);
    const pki = path.join(dataDir, 'pki');
    const ca = await readFile(path.join(pki, 'ca.crt'), 'utf8');
    const adminPem = await readDevAdminPem(pki);
    const apiPort = (): number => {
      const a = plane.adminApiAddress();
      assert.ok(a !== undefined, 'the admin API listens');
      assert.notEqual(a.port, 5697, 'the KMIP listener is ephemeral, so is the admin API');
      return a.port;
    };
    const connectWith = (pem: Pem): Promise<KmipClient> => KmipClient.connect({ host: '127.0.0.1', port: addr.port, ca, cert: pem.cert, key: pem.key });
    return {
      dataDir, plane, db, hierarchy, port: addr.port, shares, close, connectWith,
      async connect(tenant) {
        const dir = path.join(pki, 'clients');
        return connectWith({ cert: await readFile(path.join(dir, `${tenant}.crt`), 'utf8'), key: await readFile(path.join(dir, `${tenant}.key`), 'utf8') });
      },
      async issue(cn) {
        const caPem = await loadCa(ca, await readFile(path.join(pki, 'ca.key'), 'utf8'));
        const c = await issueClientCert(caPem, cn);
        return { cert: c.certPem, key: c.keyPem };
      },
      admin: adminClient({ port: apiPort, ca, ...adminPem }),
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Every row of every table of every user schema, as text; bytea as hex. */
async function dumpDatabase(db: Db): Promise<{ text: string; tables: string[] }> {
  const t = await db.query<{ table_schema: string; table_name: string }>(
    `SELECT table_schema, table_name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_%'
      ORDER BY 1, 2`,
  );
  const parts: string[] = [];
  const tables: string[] = [];
  for (const { table_schema: s, table_name: n } of t.rows) {
    const ident = (x: string): string => `"${x.replaceAll('"', '""')}"`;
    const r = await db.query(`SELECT * FROM ${ident(s)}.${ident(n)}`);
    tables.push(`${s}.${n}`);
    for (const row of r.rows) {
      parts.push(`${s}.${n}: ${JSON.stringify(row, (_k, v: unknown) => {
        if (v instanceof Uint8Array) return `\\x${Buffer.from(v).toString('hex')}`;
        // JSON.stringify turns a Buffer into {type:'Buffer', data:[...]} before the replacer sees it.
        if (typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
          return `\\x${Buffer.from((v as { data: number[] }).data).toString('hex')}`;
        }
        return v;
      })}`);
    }
  }
  return { text: parts.join('\n'), tables };
}

/** The forms a key could be written in: hex (both cases) and base64/base64url at the three byte alignments. */
function forms(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  const out = [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('latin1')];
  for (const shift of [0, 1, 2]) {
    for (const enc of ['base64', 'base64url'] as const) {
      const s = b.subarray(shift).toString(enc).replace(/=+$/, '');
      out.push(s.slice(4, s.length - 4));
    }
  }
  return out;
}

for (const engine of ['pglite', 'postgres'] as const) {
  describe(`governance plane on ${engine}`, () => {
    let rig: Rig;
    before(async () => {
      const t0 = performance.now();
      rig = await openRig(engine);
      process.stdout.write(`# ${engine}: server with governance plane up in ${(performance.now() - t0).toFixed(0)} ms\n`);
    });
    after(async () => {
      await rig.close();
    });

    test('start-up tenants are registered; KMIP operations land in the tenant audit chain, flushed by the timer, chain verifies', async () => {
      const gov = rig.plane.governance;
      assert.ok(gov !== undefined);
      for (const t of TENANTS) {
        const row = await gov.getTenant(t);
        assert.equal(row?.state, 'active');
        assert.equal(row.createdBy, AUTO_REGISTER_PRINCIPAL);
      }
      await withClient(rig.connect('alpha'), async (c) => {
        const uid = await c.createSymmetricKey(AES);
        const t0 = performance.now();
        await c.get(uid);
        assert.equal(await codeOf(c.get('no-such-object')), 'ITEM_NOT_FOUND');
        // No explicit flush: the sink's own timer writes the records.
        const recs = await until('audit records of Create and Get', async () => {
          const all = await gov.audit.list('alpha');
          return all.some((r) => r.operation === 'kmip.Get' && r.object === 'no-such-object') ? all : undefined;
        }, GIVE_UP_MS, 20);
        process.stdout.write(`# ${engine}: KMIP Get → audit record readable after ${(performance.now() - t0).toFixed(0)} ms (flush interval 1000 ms)\n`);
        const create = recs.find((r) => r.operation === 'kmip.Create');
        assert.ok(create !== undefined);
        assert.deepEqual({ principal: create.principal, tenant: create.tenant, object: create.object, result: create.result },
          { principal: 'alpha', tenant: 'alpha', object: uid, result: 'ok' });
        assert.ok(recs.some((r) => r.operation === 'kmip.Get' && r.object === uid && r.result === 'ok'));
        assert.ok(recs.some((r) => r.operation === 'kmip.Get' && r.object === 'no-such-object' && r.result === 'ITEM_NOT_FOUND'));
        assert.deepEqual(await gov.audit.verify('alpha'), { ok: true, count: (await gov.audit.list('alpha')).length });
        // The admin API sees the same chain as intact.
        const v = await rig.admin('GET', '/v1/tenants/alpha/audit/verify');
        assert.equal(v.status, 200);
        assert.equal((v.body as { ok?: unknown }).ok, true);
      });
    });

    // PostgreSQL only: PGlite serves one process, so the CLI cannot open it while the node runs.
    if (engine === 'postgres') test('`openkcm audit verify --data-dir` checks the chain with the key derived from the node\'s MasterKey, and names a tampered record', async () => {
      const gov = rig.plane.governance;
      assert.ok(gov !== undefined);
      await withClient(rig.connect('alpha'), async (c) => {
        await c.createSymmetricKey(AES);
      });
      await rig.plane.flushAudit();
      const url = (JSON.parse(await readFile(path.join(rig.dataDir, CONFIG_FILE_NAME), 'utf8')) as { governance: { databaseUrl: string } }).governance.databaseUrl;
      const run = async (): Promise<{ code: number; out: string }> => {
        let out = '';
        const sink = new Writable({ write(chunk: Buffer, _enc, cb) { out += chunk.toString(); cb(); } });
        const code = await runAudit(['verify', '--tenant', 'alpha', '--database-url', url, '--data-dir', rig.dataDir], { stdout: sink, stderr: sink, env: {} });
        return { code, out };
      };
      const ok = await run();
      assert.equal(ok.code, 0, ok.out);
      assert.match(ok.out, /intact/);
      const first = await rig.db.query<{ seq: string }>('SELECT min(seq)::text AS seq FROM tenant_alpha.audit');
      const seq = first.rows[0]?.seq ?? '1';
      await rig.db.query("UPDATE tenant_alpha.audit SET result = 'tampered' WHERE seq = $1", [seq]);
      try {
        const bad = await run();
        assert.equal(bad.code, 1, bad.out);
        assert.match(bad.out, new RegExp(`BROKEN at record ${seq}\\b`));
      } finally {
        await rig.db.query("UPDATE tenant_alpha.audit SET result = 'ok' WHERE seq = $1", [seq]);
      }
    });

    test('a tenant first seen over KMIP is registered; a name governance cannot hold is refused', async () => {
      const gov = rig.plane.governance;
      assert.ok(gov !== undefined);
      assert.equal(await gov.getTenant('gamma'), undefined);
      await withClient(rig.connectWith(await rig.issue('gamma')), async (gamma) => {
        assert.equal(await codeOf(gamma.createSymmetricKey(AES)), 'success');
        assert.equal((await gov.getTenant('gamma'))?.state, 'active');
      });
      await withClient(rig.connectWith(await rig.issue('Bad-Name')), async (bad) => {
        assert.equal(await codeOf(bad.createSymmetricKey(AES)), 'PERMISSION_DENIED');
      });
    });

    test('a Cedar forbid stored through the admin API denies over KMIP for that tenant only, and deleting it lifts it', async () => {
      await withClient(rig.connect('alpha'), (a) => withClient(rig.connect('beta'), async (b) => {
        assert.equal(await codeOf(a.createSymmetricKey(AES)), 'success');
        const put = await rig.admin('PUT', '/v1/tenants/alpha/policies/no-create', { policy: FORBID_CREATE });
        assert.equal(put.status, 200, JSON.stringify(put.body));
        assert.equal(await codeOf(a.createSymmetricKey(AES)), 'PERMISSION_DENIED');
        assert.equal(await codeOf(b.createSymmetricKey(AES)), 'success', 'beta is not affected');
        // Other operations of alpha still run.
        const rng = await codeOf(a.get('still-not-there'));
        assert.equal(rng, 'ITEM_NOT_FOUND');
        const del = await rig.admin('DELETE', '/v1/tenants/alpha/policies/no-create');
        assert.equal(del.status, 204);
        assert.equal(await codeOf(a.createSymmetricKey(AES)), 'success');
        await rig.plane.flushAudit();
        const recs = await rig.plane.governance?.audit.list('alpha') ?? [];
        assert.ok(recs.some((r) => r.operation === 'kmip.Create' && r.result === 'PERMISSION_DENIED'), 'the denial is audited');
        assert.ok(recs.some((r) => r.operation === 'policy.put' && r.object === 'no-create'), 'the policy change is audited');
      }));
    });

    test('admin API revoke refuses the tenant over KMIP (bystander served); restore serves it again', async () => {
      await withClient(rig.connect('alpha'), (a) => withClient(rig.connect('beta'), async (b) => {
        const uid = await a.createSymmetricKey(AES);
        const buid = await b.createSymmetricKey(AES);
        const rv = await rig.admin('POST', '/v1/tenants/alpha/revoke', { reason: 'test' });
        assert.equal(rv.status, 200, JSON.stringify(rv.body));
        assert.equal((rv.body as { state?: unknown }).state, 'revoked');
        assert.equal(await codeOf(a.get(uid)), 'PERMISSION_DENIED');
        assert.equal(await codeOf(a.createSymmetricKey(AES)), 'PERMISSION_DENIED');
        assert.equal(await codeOf(b.get(buid)), 'success');
        assert.equal(rig.hierarchy.krypton.status('alpha').state, 'revoked');
        const rs = await rig.admin('POST', '/v1/tenants/alpha/restore', {});
        assert.equal(rs.status, 200, JSON.stringify(rs.body));
        assert.equal(await codeOf(a.get(uid)), 'success');
        await rig.plane.flushAudit();
        const recs = await rig.plane.governance?.audit.list('alpha') ?? [];
        assert.ok(recs.some((r) => r.operation === 'tenant.revoke'));
        assert.ok(recs.some((r) => r.operation === 'kmip.Get' && r.object === uid && r.result === 'TENANT_REVOKED'));
      }));
    });

    test('changes made by another node (repository + NOTIFY only, no admin API here) reach the gate and Cedar', async () => {
      const gov = rig.plane.governance;
      assert.ok(gov !== undefined);
      await withClient(rig.connect('beta'), async (b) => {
        const uid = await b.createSymmetricKey(AES);
        // Suspend: state change + NOTIFY openkcm_tenant; the revocation listener and the gate follow it.
        await gov.suspendTenant('beta', 'test:other-node', 'maintenance');
        assert.equal(await until('beta refused after suspend', async () => ((await codeOf(b.get(uid))) === 'PERMISSION_DENIED' ? true : undefined), GIVE_UP_MS, 20), true);
        await gov.resumeTenant('beta', 'test:other-node');
        assert.equal(await until('beta served after resume', async () => ((await codeOf(b.get(uid))) === 'success' ? true : undefined), GIVE_UP_MS, 20), true);
        // A policy stored by another node, announced on the policy channel.
        await gov.putPolicy('beta', 'no-create', FORBID_CREATE, 'test:other-node');
        await rig.db.notify(POLICY_CHANNEL, JSON.stringify({ tenant: 'beta' }));
        assert.equal(await until('Create denied after the policy NOTIFY', async () => ((await codeOf(b.createSymmetricKey(AES))) === 'PERMISSION_DENIED' ? true : undefined), GIVE_UP_MS, 20), true);
        await gov.deletePolicy('beta', 'no-create', 'test:other-node');
        await rig.db.notify(POLICY_CHANNEL, JSON.stringify({ tenant: 'beta' }));
        assert.equal(await until('Create allowed after the delete NOTIFY', async () => ((await codeOf(b.createSymmetricKey(AES))) === 'success' ? true : undefined), GIVE_UP_MS, 20), true);
      });
    });

    test('the database holds no plaintext L2, L3 or L4 key after Register + Create + Encrypt (every table of every schema)', async () => {
      const secrets: { what: string; key: Uint8Array }[] = [];
      const c = await rig.connect('beta');
      let uid: string;
      try {
        const known = randomBytes(32);
        secrets.push({ what: 'registered L4', key: known });
        const reg = await c.register({
          objectType: ObjectType.SymmetricKey,
          attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), makeAttribute('Cryptographic Usage Mask', CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt)],
          object: { objectType: ObjectType.SymmetricKey, keyBlock: symmetricKeyBlock(known) },
        });
        uid = reg.uniqueIdentifier;
        await c.activate(uid);
        await c.encrypt({ uniqueIdentifier: uid, cryptographicParameters: { blockCipherMode: BlockCipherMode.GCM, tagLength: 16 }, data: Buffer.from('hello'), ivCounterNonce: randomBytes(12) });
        const created = await c.createSymmetricKey(AES);
        const got = await c.get(created);
        assert.ok('keyBlock' in got.object);
        const kv = got.object.keyBlock.keyValue;
        assert.ok(kv?.kind === 'plain' && kv.keyMaterial instanceof Uint8Array);
        secrets.push({ what: 'created L4', key: kv.keyMaterial });
      } finally {
        await c.close();
      }
      // L3 from the tenant keyring's native slot, L2 unwrapped through the tenant's own L1 plugin (test-only paths).
      const k = rig.hierarchy.krypton;
      const ring = k.kek('beta');
      assert.ok(ring instanceof TenantKeyring);
      for (const v of ring.versions) {
        const slot = ring.slot(v);
        assert.ok(slot !== undefined);
        secrets.push({ what: `L3 v${String(v)}`, key: slot.export() });
      }
      const rec = await rig.hierarchy.store.get('beta');
      assert.ok(rec !== undefined);
      const plugin = await rig.hierarchy.keystores.keystoreFor(rec.shadow);
      for (const l2 of rec.l2) secrets.push({ what: `L2 v${String(l2.version)}`, key: await plugin.unwrap(l2.wrapped, { tenant: 'beta', purpose: `l2:v${String(l2.version)}` }) });

      await rig.plane.flushAudit();
      const dump = await dumpDatabase(rig.db);
      // Positive controls: the dump does contain the tenant catalog, the audit chain (bytea as hex) and the UID.
      assert.ok(dump.tables.includes('public.tenants') && dump.tables.includes('tenant_beta.audit'), dump.tables.join(','));
      const lastHash = (await rig.plane.governance?.audit.list('beta'))?.at(-1)?.hash;
      assert.ok(lastHash !== undefined && dump.text.includes(Buffer.from(lastHash).toString('hex')), 'bytea columns are in the dump as hex');
      assert.ok(dump.text.includes(uid), 'the registered object UID is in the audit trail');
      assert.ok(secrets.some((s) => s.what.startsWith('L2')) && secrets.some((s) => s.what.startsWith('L3')));
      let searches = 0;
      for (const s of secrets) {
        for (const needle of forms(s.key)) {
          assert.equal(dump.text.includes(needle), false, `${s.what} found in the governance database`);
          searches++;
        }
      }
      process.stdout.write(`# ${engine}: ${String(secrets.length)} keys, ${String(dump.tables.length)} tables, ${String(dump.text.length)} chars dumped, ${String(searches)} searches\n`);
      for (const s of secrets) s.key.fill(0);
    });
  });
}

describe('governance plane on a sealed node (postgres)', () => {
  let rig: Rig;
  before(async () => {
    rig = await openRig('postgres', { sealed: true });
  });
  after(async () => {
    await rig.close();
  });

  test('admin API and start-up tenants wait for the unseal; audit records queued while sealed are written after it', async () => {
    const gov = rig.plane.governance;
    assert.ok(gov !== undefined);
    assert.equal(rig.plane.adminApiAddress(), undefined, 'no admin API while sealed');
    assert.equal(await gov.getTenant('alpha'), undefined, 'registration waits for the audit key');
    await withClient(rig.connect('alpha'), async (a) => {
      assert.equal(await codeOf(a.createSymmetricKey(AES)), 'GENERAL_FAILURE', 'SERVER_SEALED is General Failure on the wire');
      for (const share of rig.shares) await rig.hierarchy.masterKey.submitShare(share);
      await rig.plane.started;
      assert.ok(rig.plane.adminApiAddress() !== undefined);
      assert.equal((await gov.getTenant('alpha'))?.state, 'active');
      const uid = await a.createSymmetricKey(AES);
      await rig.plane.flushAudit();
      const recs = await gov.audit.list('alpha');
      // The refusal while sealed went to the public chain (alpha had no schema yet); the Create after the unseal here.
      assert.ok(recs.some((r) => r.operation === 'kmip.Create' && r.object === uid && r.result === 'ok'));
      const pub = await gov.audit.list(undefined);
      assert.ok(pub.some((r) => r.tenant === 'alpha' && r.operation === 'kmip.Create' && r.result === 'SERVER_SEALED'));
      assert.equal((await gov.audit.verify('alpha')).ok, true);
      assert.equal((await gov.audit.verify()).ok, true);
      const list = await rig.admin('GET', '/v1/tenants');
      assert.equal(list.status, 200);
    });
  });
});

test('a node that stays sealed closes its governance plane without waiting for an unseal', async () => {
  const rig = await openRig('postgres', { sealed: true });
  assert.equal(rig.plane.adminApiAddress(), undefined);
  await rig.close();
  // The wait for the unseal ended with the close: `started` settles, nothing was started.
  await rig.plane.started;
  assert.equal(rig.plane.adminApiAddress(), undefined);
});

test('a plane that serves no KMIP client itself (the primary of serve --workers N) warms no Cedar client decisions', async () => {
  // The workers decide every KMIP request with their own engines; the primary's warm-up was CPU taken from them.
  const serving = await openRig('postgres');
  try {
    await serving.plane.started;
    await until('the warm-up of a serving plane', () => ((serving.plane.engine?.stats().memoEntries ?? 0) > 0 ? true : undefined), GIVE_UP_MS);
  } finally {
    await serving.close();
  }
  const primary = await openRig('postgres', { servesKmip: false });
  try {
    await primary.plane.started;
    // The serving plane's warm-up showed within this time; give the other the same chance to (wrongly) start one.
    await new Promise((r) => { setTimeout(r, 500); });
    assert.equal(primary.plane.engine?.stats().memoEntries, 0);
  } finally {
    await primary.close();
  }
});
