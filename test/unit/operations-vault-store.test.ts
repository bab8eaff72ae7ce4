/**
 * The operations' ObjectStore over the vault (model/vault-store.ts): record fields vs
 * attributes, material sealed and unsealed only when asked for, Destroy dropping it, Undo of a
 * Destroy resealing it, UUIDv7 creation order, and vault errors as KMIP errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { CryptographicAlgorithm, Operation, State } from '../../src/kmip/registry.js';
import { createUndoJournal } from '../../src/operations/registry.js';
import { createServices } from '../../src/operations/services.js';
import { VaultObjectStore } from '../../src/operations/model/vault-store.js';
import { MemoryVault } from '../../src/vault/index.js';
import { getHandler } from '../../src/operations/registry.js';
import type { OperationHandler } from '../../src/operations/types.js';
import type { OperationServices } from '../../src/operations/services.js';
import { newSession } from '../../src/server/processor.js';

function setup(): { vault: MemoryVault; services: OperationServices; opened: () => number; call: (op: number, req: object, undo?: ReturnType<typeof createUndoJournal>) => Promise<unknown> } {
  const vault = new MemoryVault();
  let opened = 0;
  // The store unseals through openMaterialNow (the synchronous form of openMaterial, issue 14).
  const open = vault.openMaterialNow.bind(vault);
  vault.openMaterialNow = (r) => { opened++; return open(r); };
  const services = createServices({ vault });
  const session = newSession();
  const call = (op: number, req: object, undo?: ReturnType<typeof createUndoJournal>): Promise<unknown> => {
    const h = getHandler(op) as OperationHandler<object, unknown, OperationServices>;
    return Promise.resolve().then(() => h.handle({ protocolVersion: { major: 2, minor: 1 }, version: '2.1', principal: { identity: 'i', tenant: 't' }, session, services, now: new Date(), ...(undo === undefined ? {} : { undo }) }, req));
  };
  return { vault, services, opened: () => opened, call };
}

async function create(call: ReturnType<typeof setup>['call']): Promise<string> {
  const r = await call(Operation.Create, { objectType: 2, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), makeAttribute('Cryptographic Length', 256)] }) as { uniqueIdentifier: string };
  return r.uniqueIdentifier;
}

describe('VaultObjectStore', () => {
  test('UID, Object Type and State are record fields; the key is sealed; only Get unseals it', async () => {
    const { vault, opened, call } = setup();
    const uid = await create(call);
    const v = vault.get('t', uid);
    assert.ok(v !== undefined);
    assert.equal(v.state, State.PreActive);
    assert.ok(!v.attributes.some((a) => ['Unique Identifier', 'Object Type', 'State'].includes(a.name)));
    assert.ok(v.sealedMaterial !== undefined && v.materialVersion === 1);
    await call(Operation.GetAttributes, { uniqueIdentifier: uid, attributeNames: [] });
    await call(Operation.Activate, { uniqueIdentifier: uid });
    await call(Operation.Locate, { attributes: [] });
    assert.equal(opened(), 0, 'no plaintext for attribute operations or Locate');
    await call(Operation.Get, { uniqueIdentifier: uid });
    assert.equal(opened(), 1);
    assert.equal(vault.get('t', uid)?.state, State.Active);
  });

  test('Destroy drops the material; Undo of the Destroy seals it again', async () => {
    const { vault, call } = setup();
    const a = await create(call);
    await call(Operation.Destroy, { uniqueIdentifier: a });
    assert.equal(vault.get('t', a)?.sealedMaterial, undefined);
    const b = await create(call);
    const undo = createUndoJournal();
    await call(Operation.Destroy, { uniqueIdentifier: b }, undo);
    assert.equal(vault.get('t', b)?.sealedMaterial, undefined);
    await undo.rollback();
    const restored = vault.get('t', b);
    assert.equal(restored?.state, State.PreActive);
    assert.ok(restored.sealedMaterial !== undefined);
    const got = await call(Operation.Get, { uniqueIdentifier: b }) as { object: { keyBlock: { cryptographicLength: number } } };
    assert.equal(got.object.keyBlock.cryptographicLength, 256);
  });

  test('Locate answers newest first from the vault\'s uid (creation) order', async () => {
    const { call } = setup();
    const first = await create(call);
    const second = await create(call);
    const r = await call(Operation.Locate, { attributes: [] }) as { uniqueIdentifiers: string[] };
    assert.deepEqual(r.uniqueIdentifiers, [second, first]);
  });

  test('vault limits become Server Limit Exceeded', async () => {
    const { services, call } = setup();
    const uid = await create(call);
    const store = services.store;
    assert.ok(store instanceof VaultObjectStore);
    const rec = await store.get('t', uid);
    assert.ok(rec !== undefined);
    rec.attributes.push(...Array.from({ length: 1100 }, (_, i) => makeAttribute('x-flood', String(i))));
    await assert.rejects(store.update('t', rec), (e: unknown) => (e as { code?: string }).code === 'SERVER_LIMIT_EXCEEDED');
  });
});
