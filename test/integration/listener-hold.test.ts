/**
 * KmipServer.holdTenant (the audit trail's back-pressure, src/appliance/governance/audit-backpressure.ts): a held
 * tenant's connections start nothing more, open or opened while held, and answer once released; other tenants are
 * served throughout; a graceful stop closes a held connection at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CryptographicAlgorithm, CryptographicUsageMask } from '../../src/kmip/registry.js';
import { startTestServer } from '../helpers/server.js';

const AES = { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt };

function settled<T>(p: Promise<T>): { done: boolean } {
  const s = { done: false };
  p.then(() => { s.done = true; }, () => { s.done = true; });
  return s;
}

test('a held tenant waits (open and new connections) and is answered once released; another tenant is served meanwhile', async () => {
  const srv = await startTestServer({ tenants: ['ha', 'hb'] });
  try {
    const server = srv.server;
    assert.ok(server !== undefined);
    const a = await srv.connect('ha');
    const b = await srv.connect('hb');
    const aKey = await a.createSymmetricKey(AES);
    const bKey = await b.createSymmetricKey(AES);

    server.holdTenant('ha', true);
    const first = a.get(aKey);
    const firstState = settled(first);
    // No Discover Versions at connect: the held server would not answer it.
    const a2 = await srv.connect('ha', { protocolVersion: '2.1' });
    const second = a2.get(aKey);
    const secondState = settled(second);
    // hb is not held: served while ha waits.
    assert.equal((await b.get(bKey)).uniqueIdentifier, bKey);
    await sleep(150);
    assert.equal(firstState.done, false, 'the open connection of a held tenant is not answered');
    assert.equal(secondState.done, false, 'a connection opened while held starts held');

    server.holdTenant('ha', false);
    assert.equal((await first).uniqueIdentifier, aKey);
    assert.equal((await second).uniqueIdentifier, aKey);
    assert.equal((await a.get(aKey)).uniqueIdentifier, aKey, 'and is served normally after');
    server.holdTenant('hb', false); // releasing a tenant that is not held changes nothing
    assert.equal((await b.get(bKey)).uniqueIdentifier, bKey);

    // Held again, then the server stops: the request it had not read yet is not answered, and the connection closes
    // at once (cleanly, as for any request that arrives during a graceful stop), not at the client's timeout.
    server.holdTenant('ha', true);
    const last = a.get(aKey);
    const lastState = settled(last);
    await sleep(50);
    assert.equal(lastState.done, false);
    const t0 = Date.now();
    await srv.stop();
    await assert.rejects(last, /connection closed/);
    assert.ok(Date.now() - t0 < 5_000, `closed in ${String(Date.now() - t0)} ms`);
  } finally {
    await srv.stop();
  }
});
