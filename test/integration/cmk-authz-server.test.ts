/**
 * Cedar authorization on a real KMIP server (issue 5 deliverable 2): mutual TLS, the real
 * operation registry, the LMDB vault, and the two hooks of src/cmk/authz/kmip.ts wired the way
 * the composition root wires them (ProcessorDeps.authorize + OperationServices.authorizeObject).
 * A denied operation answers Result Reason Permission Denied in the client's version, the
 * connection stays usable, a batch with Continue runs past the denied item, another tenant
 * still gets Item Not Found (no existence leak), and a tenant policy changed at run time
 * applies to the next request.
 *
 * The server is built here rather than with startTestServer because startKmipApp does not
 * take an `authorize` hook yet (the lead wires it into src/appliance/kmip-app.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KmipClient, op } from '../../src/client/client.js';
import { initDataDir } from '../../src/cli/commands/init.js';
import { KmipResultError } from '../../src/kmip/errors.js';
import { destroyPayloads } from '../../src/kmip/payloads/destroy.js';
import { getAttributesPayloads } from '../../src/kmip/payloads/get-attributes.js';
import { CryptographicAlgorithm, CryptographicUsageMask, ResultReason, RevocationReasonCode } from '../../src/kmip/registry.js';
import { initNative } from '../../src/native/index.js';
import { VaultObjectStore } from '../../src/operations/model/vault-store.js';
import { getHandler } from '../../src/operations/registry.js';
import { createServices } from '../../src/operations/services.js';
import type { OperationServices } from '../../src/operations/services.js';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/index.js';
import type { ConfigFile } from '../../src/config/index.js';
import { KmipServer } from '../../src/server/listener.js';
import { silentLogger } from '../../src/common/log.js';
import { NativeKekProvider } from '../../src/vault/kek.js';
import { Vault } from '../../src/vault/vault.js';
import { PolicyEngine, kmipAuthorizer, parseIdentityRoles, rolesFromConfig } from '../../src/cmk/authz/index.js';
import type { KmipDenyEvent } from '../../src/cmk/authz/index.js';

/** Client certificates (CN = identity) and the tenant each maps to. */
const IDENTITIES = { 'acme-admin': 'acme', 'acme-reader': 'acme', 'acme-app': 'acme', bolt: 'bolt' } as const;
type Identity = keyof typeof IDENTITIES;
/** The proposed identity.roles section; "bolt" is unmapped and gets the default roles (admin). */
const ROLES = parseIdentityRoles({ roles: { 'acme-admin': ['admin'], 'acme-reader': ['reader'], 'acme-app': ['crypto-user'] } });

async function failure(p: Promise<unknown>): Promise<KmipResultError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof KmipResultError, `expected a KMIP failure, got ${String(e)}`);
    return e;
  }
  assert.fail('the operation succeeded');
}

describe('Cedar authorization over mTLS', () => {
  let dataDir: string;
  let server: KmipServer<OperationServices>;
  let vault: Vault;
  let kek: NativeKekProvider;
  let engine: PolicyEngine;
  let ca: string;
  let port: number;
  const denies: KmipDenyEvent[] = [];
  const clients: KmipClient[] = [];

  const connect = async (who: Identity, protocolVersion: '1.4' | '2.1' = '2.1'): Promise<KmipClient> => {
    const dir = path.join(dataDir, 'pki', 'clients');
    const c = await KmipClient.connect({
      host: '127.0.0.1', port, ca,
      cert: await readFile(path.join(dir, `${who}.crt`), 'utf8'),
      key: await readFile(path.join(dir, `${who}.key`), 'utf8'),
      protocolVersion,
    });
    clients.push(c);
    return c;
  };
  const newKey = (c: KmipClient): Promise<string> => c.createSymmetricKey({
    algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt,
  });

  before(async () => {
    initNative({ allowUnlocked: true });
    dataDir = await mkdtemp(path.join(tmpdir(), 'openkcm-authz-'));
    await initDataDir({ dataDir, tenants: Object.keys(IDENTITIES), force: true });
    const file: ConfigFile = {
      kmip: { listen: '127.0.0.1:0' },
      // bolt is deliberately unmapped: with a map, only an explicit same-name lets it in (issue 15 item 8).
      identity: { tenants: { 'acme-admin': 'acme', 'acme-reader': 'acme', 'acme-app': 'acme' }, unmapped: 'same-name' },
      native: { allowUnlocked: true },
    };
    await writeFile(path.join(dataDir, CONFIG_FILE_NAME), JSON.stringify(file));
    const loaded = await loadConfig(dataDir);
    ca = await readFile(path.join(dataDir, 'pki', 'ca.crt'), 'utf8');
    kek = NativeKekProvider.openDevKeyFile(path.join(dataDir, 'kek.key'));
    vault = await Vault.open({ path: path.join(dataDir, 'vault'), kek });
    engine = new PolicyEngine();
    const authz = kmipAuthorizer(engine, { rolesOf: rolesFromConfig(ROLES), onDeny: (e) => { denies.push(e); } });
    const services = createServices({ store: new VaultObjectStore(vault), authorizeObject: authz.authorizeObject });
    server = new KmipServer<OperationServices>({
      config: loaded.server,
      deps: { getHandler, services, logger: silentLogger, authorize: authz.authorize },
    });
    port = (await server.listen()).port;
  });

  after(async () => {
    for (const c of clients) await c.close();
    await server.close();
    await vault.close();
    kek.destroy();
    engine.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('operation level: a reader cannot Destroy (Permission Denied), and its connection keeps working', async () => {
    const admin = await connect('acme-admin');
    const reader = await connect('acme-reader');
    const uid = await newKey(admin);
    const e = await failure(reader.destroy(uid));
    assert.equal(e.resultReason, ResultReason.PermissionDenied);
    assert.equal(e.code, 'PERMISSION_DENIED');
    assert.match(e.resultMessage ?? '', /'Destroy' is not permitted/);
    const attrs = await reader.getAttributes(uid);
    assert.ok(attrs.attributes.length > 0, 'the same connection answers the next request');
    assert.equal((await failure(reader.get(uid))).resultReason, ResultReason.PermissionDenied, 'no key material for a reader');
    assert.equal((await failure(newKey(reader))).resultReason, ResultReason.PermissionDenied);
    assert.ok(denies.some((d) => d.identity === 'acme-reader' && d.action === 'Destroy' && d.uid === undefined));
    // The object is untouched.
    assert.ok((await admin.get(uid)).uniqueIdentifier === uid);
  });

  test('object level: an application gets an Active key but not a Compromised one; the admin still can', async () => {
    const admin = await connect('acme-admin');
    const app = await connect('acme-app', '1.4');
    const uid = await newKey(admin);
    await admin.activate(uid);
    assert.equal((await app.get(uid)).uniqueIdentifier, uid);
    await admin.revoke(uid, RevocationReasonCode.KeyCompromise, new Date());
    const e = await failure(app.get(uid));
    assert.equal(e.resultReason, ResultReason.PermissionDenied, 'Permission Denied in a 1.4 response too');
    assert.match(e.resultMessage ?? '', new RegExp(`'Get' on object '${uid}'`));
    const ev = denies.find((d) => d.uid === uid);
    assert.deepEqual(ev?.decision.reasons, ['default.no-compromised-retrieval']);
    assert.equal((await app.discoverVersions()).length > 0, true, 'the connection stays usable');
    assert.equal((await admin.get(uid)).uniqueIdentifier, uid);
  });

  test('a batch with Continue: the denied item fails alone', async () => {
    const admin = await connect('acme-admin');
    const reader = await connect('acme-reader');
    const uid = await newKey(admin);
    const [a, b, c] = await reader.batch([
      op(getAttributesPayloads, { uniqueIdentifier: uid, attributeNames: [] }),
      op(destroyPayloads, { uniqueIdentifier: uid }),
      op(getAttributesPayloads, { uniqueIdentifier: uid, attributeNames: [] }),
    ], { errorContinuation: 'continue' });
    assert.equal(a.status, 'fulfilled');
    assert.ok(b.status === 'rejected', 'the Destroy item is refused');
    assert.ok(b.reason instanceof KmipResultError && b.reason.resultReason === ResultReason.PermissionDenied, String(b.reason));
    assert.equal(c.status, 'fulfilled');
  });

  test("another tenant's object stays Item Not Found (authorization does not reveal it exists)", async () => {
    const admin = await connect('acme-admin');
    const bolt = await connect('bolt');
    const uid = await newKey(admin);
    // Object Not Found in a 2.x response (Item Not Found in 1.x): the catalog code is the same.
    assert.equal((await failure(bolt.get(uid))).code, 'ITEM_NOT_FOUND');
    assert.equal((await failure(bolt.destroy(uid))).code, 'ITEM_NOT_FOUND');
    await newKey(bolt); // unmapped identity: default roles (admin of its own tenant)
  });

  test('a tenant policy installed at run time applies to the next request, on an open connection', async () => {
    const admin = await connect('acme-admin');
    const uid = await newKey(admin);
    engine.setTenantPolicies('acme', '@id("legal-hold") forbid (principal, action == OpenKCM::Action::"Destroy", resource);');
    try {
      assert.equal((await failure(admin.destroy(uid))).resultReason, ResultReason.PermissionDenied);
      assert.equal(denies.at(-1)?.decision.reasons[0], 'tenant.legal-hold');
    } finally {
      engine.removeTenant('acme');
    }
    assert.equal(await admin.destroy(uid), uid);
  });
});
