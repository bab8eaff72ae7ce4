/**
 * Issue 15 Deliver 5, Locate: "A Locate that matches nothing, over one tenant's 5,000 keys, blocked another tenant for
 * 232 ms". Over the real LMDB vault: a Locate of tenant b scanning 5,000 records gives the event loop back while it
 * scans, so tenant a's Gets are answered during it; Maximum Items stops the scan early; an indexed criterion reads
 * only the records the index names. Timing bounds are relative (no wall-clock figure: the machine is shared); the
 * 100 ms figure is measured by perf/locate-fairness.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { CryptographicAlgorithm, ObjectType, Operation, State, Tag } from '../../src/kmip/registry.js';
import { getHandler } from '../../src/operations/registry.js';
import { createServices } from '../../src/operations/services.js';
import type { OperationServices } from '../../src/operations/services.js';
import { FIND_UIDS_PAGE, VaultObjectStore } from '../../src/operations/model/vault-store.js';
import type { ObjectStore } from '../../src/operations/model/store.js';
import type { OperationHandler } from '../../src/operations/types.js';
import { newSession } from '../../src/server/processor.js';
import { enumeration, text } from '@openkcm/ttlv';
import { NodeCryptoKekProvider } from '../../src/vault/kek.js';
import { Vault } from '../../src/vault/vault.js';
import type { NewVaultObject } from '../../src/vault/store.js';
import { newUid } from '../../src/vault/uid.js';

const B_KEYS = 5_000;

let dir: string;
let vault: Vault;
let reads = 0;
let services: OperationServices;
/** Over the same store, a Locate limit one below tenant b's candidates: a paging Locate stops at its page. */
let pagedServices: OperationServices;
let aKey: string;

function call(tenant: string, op: number, req: object, on: OperationServices = services): Promise<Record<string, unknown>> {
  const h = getHandler(op) as OperationHandler<object, Record<string, unknown>, OperationServices>;
  return Promise.resolve().then(() => h.handle({
    protocolVersion: { major: 2, minor: 1 }, version: '2.1', principal: { identity: `client-${tenant}`, tenant }, session: newSession(), services: on, now: new Date(),
  }, req));
}

const nextTurn = (): Promise<void> => new Promise((resolve) => { setImmediate(resolve); });

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'openkcm-locate-'));
  vault = await Vault.open({ path: dir, kek: NodeCryptoKekProvider.random('locate-test') });
  const real = new VaultObjectStore(vault);
  // Counts the records of tenant b that are read (Locate's reads); every call goes to the real store.
  const counting: ObjectStore = {
    get: (t, u, o) => { if (t === 'b') reads++; return real.get(t, u, o); },
    read: (t, u, o) => { if (t === 'b') reads++; return real.read(t, u, o); },
    content: (t, r, w) => real.content(t, r, w),
    create: (t, r) => real.create(t, r),
    update: (t, r) => real.update(t, r),
    remove: (t, u) => real.remove(t, u),
    findUids: (t, h) => real.findUids(t, h),
  };
  services = createServices({ store: counting });
  pagedServices = createServices({ store: counting, config: { maxLocateItems: B_KEYS - 1 } });
  // Tenant b: 5,000 AES keys as Create stores them (the attributes of a real one), each with its own Name.
  const made = await call('b', Operation.Create, {
    objectType: ObjectType.SymmetricKey,
    attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), makeAttribute('Cryptographic Length', 256), makeAttribute('Object Group', 'bulk')],
  });
  const template = vault.get('b', String(made.uniqueIdentifier));
  assert.ok(template !== undefined);
  const batch: NewVaultObject[] = [];
  for (let i = 1; i < B_KEYS; i++) {
    const name = makeAttribute('Name', [text(Tag.NameValue, `b-key-${String(i)}`), enumeration(Tag.NameType, 1)]);
    batch.push({ tenant: 'b', uid: newUid(), objectType: template.objectType, state: template.state, attributes: [...template.attributes, name] });
    if (batch.length === 256 || i === B_KEYS - 1) await vault.putMany(batch.splice(0));
  }
  assert.equal(vault.count('b'), B_KEYS);
  const a = await call('a', Operation.Create, {
    objectType: ObjectType.SymmetricKey, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES), makeAttribute('Cryptographic Length', 128)],
  });
  aKey = String(a.uniqueIdentifier);
});

after(async () => {
  services.keyCache.clear();
  await vault.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Locate over a large tenant does not starve another tenant', () => {
  test('a Locate matching nothing over 5,000 keys answers tenant a\'s Gets while it scans', async () => {
    // Warm once (the first read of each record decodes it), so the measured run is the steady state.
    await call('b', Operation.Locate, { attributes: [makeAttribute('Cryptographic Length', 999)] });
    const run = { done: false };
    let gets = 0;
    let lastTick = performance.now();
    let longestGap = 0;
    const getter = (async () => {
      while (!run.done) {
        await nextTurn();
        const r = await call('a', Operation.Get, { uniqueIdentifier: aKey });
        assert.equal(r.uniqueIdentifier, aKey);
        const now = performance.now();
        longestGap = Math.max(longestGap, now - lastTick);
        lastTick = now;
        gets++;
      }
    })();
    await nextTurn();
    reads = 0;
    const t0 = performance.now();
    lastTick = t0;
    const r = await call('b', Operation.Locate, { attributes: [makeAttribute('Cryptographic Length', 999)] });
    const took = performance.now() - t0;
    run.done = true;
    await getter;
    assert.deepEqual(r.uniqueIdentifiers, []);
    assert.equal(reads, B_KEYS, 'every candidate was examined');
    console.log(`# Locate over ${String(B_KEYS)} keys: ${took.toFixed(1)} ms; tenant a's Gets during it: ${String(gets)}; longest wait between them ${longestGap.toFixed(1)} ms`);
    // Before issue 15 the scan ran in one turn: no Get of tenant a was answered until it ended.
    assert.ok(gets >= 5, `only ${String(gets)} Gets of tenant a were answered during a ${took.toFixed(0)} ms Locate`);
    assert.ok(longestGap < took / 2, `tenant a waited ${longestGap.toFixed(0)} ms at once during a ${took.toFixed(0)} ms Locate`);
  });

  test('Maximum Items stops the scan early: three matches of 5,000 read a handful of records, without Located Items', async () => {
    // Past maxLocateItems candidates (5,000 > 4,999) a paging Locate stops at its page.
    reads = 0;
    const r = await call('b', Operation.Locate, { maximumItems: 3, attributes: [makeAttribute('Cryptographic Algorithm', CryptographicAlgorithm.AES)] }, pagedServices);
    assert.equal((r.uniqueIdentifiers as string[]).length, 3);
    assert.ok(reads <= 3, `${String(reads)} records read for Maximum Items 3`);
    // 2.1 §6.1.28: Located Items MAY be omitted when the server does not determine the total.
    assert.equal(r.locatedItems, undefined);
    // Offset Items: the scan reads offset + maximum records, and the page is the next one in creation order.
    reads = 0;
    const all = await call('b', Operation.Locate, { maximumItems: 5, attributes: [] }, pagedServices);
    const page = await call('b', Operation.Locate, { maximumItems: 2, offsetItems: 3, attributes: [] }, pagedServices);
    assert.deepEqual(page.uniqueIdentifiers, (all.uniqueIdentifiers as string[]).slice(3, 5));
    assert.ok(reads <= 10, `${String(reads)} records read for two small pages`);
    // At maxLocateItems candidates (the default 10,000 >= 5,000) the pager gets the total (TC-OFFSET-1-21): the scan
    // examines every candidate, as a Locate without Maximum Items would.
    reads = 0;
    const counted = await call('b', Operation.Locate, { maximumItems: 2, offsetItems: 3, attributes: [] });
    assert.deepEqual(counted.uniqueIdentifiers, page.uniqueIdentifiers);
    assert.equal(counted.locatedItems, B_KEYS);
    assert.equal(reads, B_KEYS);
    // Maximum Items 0 asks only for the count: the whole scan, and Located Items. The candidates are listed in pages
    // of FIND_UIDS_PAGE (5,000 keys span two): none is lost or repeated at the boundary.
    const count = await call('b', Operation.Locate, { maximumItems: 0, attributes: [] });
    assert.equal(count.locatedItems, B_KEYS);
    assert.deepEqual(count.uniqueIdentifiers, []);
    const listed = await services.store.findUids('b', {});
    assert.ok(listed.length > FIND_UIDS_PAGE);
    assert.equal(new Set(listed).size, B_KEYS);
    assert.deepEqual(listed, [...vault.findUids('b')].reverse(), 'newest first, as one listing would give');
    // The vault's cursor: after a uid, in uid order.
    const asc = vault.findUids('b');
    assert.deepEqual(vault.findUids('b', {}, { after: asc[99] ?? '', limit: 5 }), asc.slice(100, 105));
    assert.deepEqual(vault.findUids('b', {}, { after: asc[asc.length - 1] ?? '' }), []);
  });

  test('an indexed criterion (Name, Object Group, Object Type) reads only what the index names', async () => {
    reads = 0;
    const byName = await call('b', Operation.Locate, { attributes: [makeAttribute('Name', [text(Tag.NameValue, 'b-key-4321'), enumeration(Tag.NameType, 1)])] });
    assert.equal((byName.uniqueIdentifiers as string[]).length, 1);
    assert.equal(reads, 1);
    reads = 0;
    const none = await call('b', Operation.Locate, { attributes: [makeAttribute('Object Group', 'no-such-group')] });
    assert.deepEqual(none.uniqueIdentifiers, []);
    assert.equal(reads, 0);
    reads = 0;
    const opaque = await call('b', Operation.Locate, { attributes: [makeAttribute('Object Type', ObjectType.OpaqueObject)] });
    assert.deepEqual(opaque.uniqueIdentifiers, []);
    assert.equal(reads, 0);
    // State is not an index criterion: a stored state can be behind the dates (advanceByDates), so it is re-checked.
    const active = await call('b', Operation.Locate, { maximumItems: 1, attributes: [makeAttribute('State', State.PreActive)] });
    assert.equal((active.uniqueIdentifiers as string[]).length, 1);
  });
});
