/**
 * The registry, Query, Discover Versions, RNG Retrieve / Seed, Check, Interop and Log, and a
 * table of error situations with the Result Reason the spec names for each, per version.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { payloadCodec } from '../../src/kmip/payloads/index.js';
import {
  enumValueExistsIn, InteropFunction, ObjectType, Operation, QueryFunction, ResultReason, ResultStatus, RevocationReasonCode, Tag,
} from '../../src/kmip/registry.js';
import type { KmipVersion } from '../../src/kmip/registry.js';
import type { CodedOperation } from '../../src/kmip/payloads/index.js';
import { allHandlers, createUndoJournal, handlerExistsIn, supportedOperations } from '../../src/operations/registry.js';
import { ItemType } from '@openkcm/ttlv';
import { Fixture, rejectsWith } from './operations-fixture.js';

const VERSIONS: readonly KmipVersion[] = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1'];

describe('registry', () => {
  test('one handler per operation, each with a payload codec, each an Operation of every version it claims', () => {
    const ops = allHandlers().map((h) => h.operation);
    assert.equal(new Set(ops).size, ops.length);
    for (const h of allHandlers()) {
      assert.ok(payloadCodec(h.operation) !== undefined, `no codec for ${String(h.operation)}`);
      for (const v of VERSIONS) {
        if (handlerExistsIn(h, v)) assert.ok(enumValueExistsIn('Operation', h.operation, v));
      }
    }
    assert.deepEqual(supportedOperations('1.0').includes(Operation.DiscoverVersions), false, 'Discover Versions is 1.1+');
    assert.deepEqual(supportedOperations('1.4').includes(Operation.Interop), false, 'Interop is 2.x');
  });

  test('docs/operations.md support matrix matches the registry', async () => {
    const { readFile } = await import('node:fs/promises');
    const path = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const doc = await readFile(path.join(root, 'docs', 'operations.md'), 'utf8');
    const table = doc.slice(doc.indexOf('<!-- operation-matrix:begin -->'), doc.indexOf('<!-- operation-matrix:end -->'));
    const { enumValueName } = await import('../../src/kmip/registry.js');
    const rows = new Map(table.split('\n').filter((l) => /^\| [A-Za-z]+ \|/.test(l) && !l.startsWith('| Operation'))
      .map((l) => { const cells = l.split('|').map((c) => c.trim()); return [cells[1] ?? '', cells.slice(2, 9)]; }));
    assert.equal(rows.size, allHandlers().length);
    for (const h of allHandlers()) {
      const name = enumValueName('Operation', h.operation) ?? '';
      assert.deepEqual(rows.get(name), VERSIONS.map((v) => (handlerExistsIn(h, v) ? 'yes' : '—')), name);
    }
  });

  test('the undo journal runs its steps newest first', async () => {
    const j = createUndoJournal();
    const order: number[] = [];
    j.record(() => { order.push(1); return Promise.resolve(); });
    j.record(() => { order.push(2); return Promise.resolve(); });
    await j.rollback();
    assert.deepEqual(order, [2, 1]);
    assert.equal(j.size, 0);
  });
});

describe('Query and Discover Versions', () => {
  test('Query lists what exists in the client version (Template in 1.x only, Interop/Log in 2.x only)', async () => {
    const f = new Fixture();
    const all = [QueryFunction.QueryOperations, QueryFunction.QueryObjects, QueryFunction.QueryServerInformation];
    const q14 = await f.call(Operation.Query, { queryFunctions: all }, { version: '1.4' });
    const q21 = await f.call(Operation.Query, { queryFunctions: all }, { version: '2.1' });
    assert.ok(q14.objectTypes?.includes(ObjectType.Template));
    assert.ok(!(q21.objectTypes ?? []).includes(ObjectType.Template));
    assert.ok(!(q14.operations ?? []).includes(Operation.Log));
    assert.ok((q21.operations ?? []).includes(Operation.Log));
    assert.equal(q14.vendorIdentification, 'OpenKCM');
    assert.ok(q14.serverInformation !== undefined && q21.serverInformation !== undefined);
    assert.equal(q14.serverInformation.value.length, 0, '1.x Server Information has no standard fields');
    const rngs = await f.call(Operation.Query, { queryFunctions: [QueryFunction.QueryRNGs] }, { version: '1.4' });
    assert.equal(rngs.rngParameters?.length, 1);
  });

  test('Discover Versions: all ours without a client list, else the common ones in our order', async () => {
    const f = new Fixture();
    const all = await f.call(Operation.DiscoverVersions, { protocolVersions: [] });
    assert.deepEqual(all.protocolVersions[0], { major: 2, minor: 1 });
    assert.equal(all.protocolVersions.length, 7);
    const some = await f.call(Operation.DiscoverVersions, { protocolVersions: [{ major: 1, minor: 2 }, { major: 3, minor: 0 }, { major: 2, minor: 0 }] });
    assert.deepEqual(some.protocolVersions, [{ major: 2, minor: 0 }, { major: 1, minor: 2 }]);
  });
});

describe('RNG', () => {
  test('RNG Retrieve returns the requested length; zero is Invalid Field, above the limit Permission Denied', async () => {
    const f = new Fixture({ maxRngRetrieveBytes: 64 });
    assert.equal((await f.call(Operation.RNGRetrieve, { dataLength: 64 })).data.length, 64);
    await rejectsWith(f.call(Operation.RNGRetrieve, { dataLength: 0 }), 'INVALID_FIELD');
    await rejectsWith(f.call(Operation.RNGRetrieve, { dataLength: 65 }), 'PERMISSION_DENIED');
  });

  test('RNG Seed accepts no seed (Data Length 0), or is refused with policy "deny"', async () => {
    assert.equal((await new Fixture().call(Operation.RNGSeed, { data: new Uint8Array(32) })).dataLength, 0);
    await rejectsWith(new Fixture({ rngSeedPolicy: 'deny' }).call(Operation.RNGSeed, { data: new Uint8Array(32) }), 'PERMISSION_DENIED');
  });
});

describe('Check, Interop, Log', () => {
  test('Check: mask and state (Pre-Active keys may not encrypt), lease time', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ mask: 4 | 8 });
    await rejectsWith(f.call(Operation.Check, { uniqueIdentifier: uid, cryptographicUsageMask: 4 }), 'WRONG_KEY_LIFECYCLE_STATE');
    await f.call(Operation.Activate, { uniqueIdentifier: uid });
    assert.deepEqual(await f.call(Operation.Check, { uniqueIdentifier: uid, cryptographicUsageMask: 4 }), { uniqueIdentifier: uid });
    await rejectsWith(f.call(Operation.Check, { uniqueIdentifier: uid, cryptographicUsageMask: 16 }), 'INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK');
    await rejectsWith(f.call(Operation.Check, { uniqueIdentifier: uid, leaseTime: 7200 }), 'PERMISSION_DENIED');
    await f.call(Operation.Revoke, { uniqueIdentifier: uid, revocationReason: { code: RevocationReasonCode.KeyCompromise } });
    assert.ok(await f.call(Operation.Check, { uniqueIdentifier: uid, cryptographicUsageMask: 8 }), 'a compromised key may still decrypt');
    await rejectsWith(f.call(Operation.Check, { uniqueIdentifier: uid, cryptographicUsageMask: 4 }), 'WRONG_KEY_LIFECYCLE_STATE');
  });

  test('Interop succeeds with an empty payload; Log reaches the log sink with the tenant', async () => {
    const entries: string[] = [];
    const f = new Fixture({ onLog: (e) => { entries.push(`${e.tenant}:${e.message}`); } });
    assert.deepEqual(await f.call(Operation.Interop, { interopFunction: InteropFunction.Begin, interopIdentifier: 'BL-M-1-21' }), {});
    assert.deepEqual(await f.call(Operation.Log, { logMessage: 'hello' }), {});
    assert.deepEqual(entries, ['alice:hello']);
  });
});

/**
 * Situation → Result Reason, as KMIP 1.4 §11 (1.x) and the KMIP 2.1 §6.1.x error lists / OASIS
 * 2.1 test cases (2.x) name it. Each row runs through the real processor in both versions.
 */
describe('every error carries the Result Reason the spec names', () => {
  interface Row {
    readonly situation: string;
    readonly setup: (f: Fixture) => Promise<{ op: CodedOperation; req: object }>;
    readonly r14: number;
    readonly r21: number;
  }
  const R = ResultReason;
  const rows: Row[] = [
    { situation: 'Get of an unknown UID (1.4 §11.12; BL-M-4-21)', setup: () => Promise.resolve({ op: Operation.Get, req: { uniqueIdentifier: 'nope' } }), r14: R.ItemNotFound, r21: R.ObjectNotFound },
    { situation: 'Get of a Sensitive key (1.4 §11.12; BL-M-12-21)', setup: async (f) => ({ op: Operation.Get, req: { uniqueIdentifier: await f.createKey({ extra: [makeAttribute('Sensitive', true)] }) } }), r14: R.Sensitive, r21: R.Sensitive },
    { situation: 'Get of a destroyed key (1.4 §11.12 only attributes remain; BL-M-8-21)', setup: async (f) => { const u = await f.createKey(); await f.call(Operation.Destroy, { uniqueIdentifier: u }); return { op: Operation.Get, req: { uniqueIdentifier: u } }; }, r14: R.IllegalOperation, r21: R.ObjectDestroyed },
    { situation: 'Activate of an Active key (1.4 §11.20)', setup: async (f) => { const u = await f.createKey(); await f.call(Operation.Activate, { uniqueIdentifier: u }); return { op: Operation.Activate, req: { uniqueIdentifier: u } }; }, r14: R.PermissionDenied, r21: R.WrongKeyLifecycleState },
    { situation: 'Revoke with an unknown reason (1.4 §11.21)', setup: async (f) => ({ op: Operation.Revoke, req: { uniqueIdentifier: await f.createKey(), revocationReason: { code: 0x7f } } }), r14: R.InvalidField, r21: R.InvalidField },
    { situation: 'Check with a usage the mask forbids (1.4 §11.11; BL-M-2-21)', setup: async (f) => { const u = await f.createKey({ mask: 4 }); await f.call(Operation.Activate, { uniqueIdentifier: u }); return { op: Operation.Check, req: { uniqueIdentifier: u, cryptographicUsageMask: 8 } }; }, r14: R.PermissionDenied, r21: R.IncompatibleCryptographicUsageMask },
    { situation: 'Delete Attribute of an absent attribute (1.4 §11.17)', setup: async (f) => ({ op: Operation.DeleteAttribute, req: { uniqueIdentifier: await f.createKey(), attributeName: 'x-none' } }), r14: R.ItemNotFound, r21: R.AttributeNotFound },
    { situation: 'an operation without UID and without ID Placeholder', setup: () => Promise.resolve({ op: Operation.Activate, req: {} }), r14: R.MissingData, r21: R.MissingData },
    { situation: 'Archive of an archived object (1.4 §11.23)', setup: async (f) => { const u = await f.createKey(); await f.call(Operation.Archive, { uniqueIdentifier: u }); return { op: Operation.Archive, req: { uniqueIdentifier: u } }; }, r14: R.ObjectArchived, r21: R.ObjectArchived },
    { situation: 'Get Attributes of an archived object (1.4 §11.13)', setup: async (f) => { const u = await f.createKey(); await f.call(Operation.Archive, { uniqueIdentifier: u }); return { op: Operation.GetAttributes, req: { uniqueIdentifier: u, attributeNames: [] } }; }, r14: R.ObjectArchived, r21: R.ObjectArchived },
    { situation: 'Create of a non-key object type (2.1 §6.1.8.1)', setup: () => Promise.resolve({ op: Operation.Create, req: { objectType: ObjectType.OpaqueObject, attributes: [] } }), r14: R.IllegalOperation, r21: R.InvalidObjectType },
  ];
  for (const row of rows) {
    test(row.situation, async () => {
      for (const [version, want] of [['1.4', row.r14], ['2.1', row.r21]] as const) {
        const f = new Fixture();
        const { op, req } = await row.setup(f);
        const [item] = await f.wire([{ op, req }], { version });
        assert.equal(item?.resultStatus, ResultStatus.OperationFailed, `${version}: expected a failure`);
        assert.equal(item.resultReason, want, `${version}: Result Reason`);
        assert.ok(item.resultMessage !== undefined && item.resultMessage.length > 0);
        assert.ok(enumValueExistsIn('ResultReason', item.resultReason ?? -1, version), `${version}: the reason exists in ${version}`);
      }
    });
  }

  test('1.x responses never carry 2.x-only values (mask bits, attributes)', async () => {
    const f = new Fixture();
    const uid = await f.createKey({ mask: 4 | 0x00100000 /* Authenticate, 2.x */ });
    const [item] = await f.wire([{ op: Operation.GetAttributes, req: { uniqueIdentifier: uid, attributeNames: [] } }], { version: '1.4' });
    const payload = item?.payload;
    assert.ok(payload !== undefined);
    const { tagExistsIn } = await import('../../src/kmip/registry.js');
    const walk = (i: { tag: number; type: number; value: unknown }): void => {
      assert.ok(tagExistsIn(i.tag, '1.4') || i.tag >= 0x540000, `tag 0x${i.tag.toString(16)} in a 1.4 response`);
      if (i.tag === Tag.AttributeValue && i.type === ItemType.Integer) assert.equal((i.value as number) & 0x00100000, 0);
      if (i.type === ItemType.Structure) for (const c of i.value as { tag: number; type: number; value: unknown }[]) walk(c);
    };
    walk(payload);
  });
});
