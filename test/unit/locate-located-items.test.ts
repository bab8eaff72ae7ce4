/**
 * Locate's Located Items with Offset Items / Maximum Items (KMIP 2.1 §6.1.28: "Located Items ... the total number of
 * objects found"; the server "MAY elect to omit this value ... if it is unable or unwilling to determine the total
 * count"). TC-OFFSET-1-21 locates a few objects with Offset Items and Maximum Items and expects the total: a paging
 * Locate counts every match while the tenant's candidates number at most `maxLocateItems`, and stops at the page
 * (omitting the total) past that bound, so a small page over a huge tenant stays cheap (issue 15).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeAttribute } from '../../src/kmip/attributes.js';
import { Operation, ResultStatus, Tag } from '../../src/kmip/registry.js';
import type { KmipVersion } from '../../src/kmip/registry.js';
import { Fixture } from './operations-fixture.js';

/** The tenant holds `others` keys of 128 bits, then three of 256 bits (the newest, so they come first). */
async function tenant(maxLocateItems: number | undefined, others: number): Promise<{ f: Fixture; matches: string[] }> {
  const f = new Fixture(maxLocateItems === undefined ? {} : { maxLocateItems });
  for (let i = 0; i < others; i++) { await f.createKey({ length: 128 }); f.advance(1); }
  const matches: string[] = [];
  for (let i = 0; i < 3; i++) { matches.unshift(await f.createKey({ length: 256 })); f.advance(1); }
  return { f, matches };
}

// Cryptographic Length has no index: every object of the tenant is a candidate, as for TC-OFFSET's date window.
const LONG_KEYS = [makeAttribute('Cryptographic Length', 256)];

describe('Locate: Located Items with Offset Items', () => {
  test('TC-OFFSET style: the page is found before the scan ends, and the total is still given', async () => {
    const { f, matches } = await tenant(undefined, 4);
    for (const version of ['1.4', '2.1'] as KmipVersion[]) {
      const r = await f.call(Operation.Locate, { offsetItems: 1, maximumItems: 1, attributes: LONG_KEYS }, { version });
      assert.deepEqual(r.uniqueIdentifiers, [matches[1]], version);
      assert.equal(r.locatedItems, 3, version);
    }
    // Offset Items alone, and an offset past the end: the total all the same.
    const rest = await f.call(Operation.Locate, { offsetItems: 2, attributes: LONG_KEYS });
    assert.deepEqual(rest.uniqueIdentifiers, [matches[2]]);
    assert.equal(rest.locatedItems, 3);
    const none = await f.call(Operation.Locate, { offsetItems: 5, maximumItems: 2, attributes: LONG_KEYS });
    assert.deepEqual(none.uniqueIdentifiers, []);
    assert.equal(none.locatedItems, 3);
  });

  test('on the wire (2.1): Located Items is in the response payload', async () => {
    const { f } = await tenant(undefined, 2);
    const [item] = await f.wire([{ op: Operation.Locate, req: { offsetItems: 1, maximumItems: 1, attributes: LONG_KEYS } }]);
    assert.equal(item?.resultStatus, ResultStatus.Success, item?.resultMessage);
    const located = item.payload?.value.find((c) => c.tag === Tag.LocatedItems);
    assert.equal(located?.value, 3);
  });

  test('at maxLocateItems candidates the total is counted; one past it the scan stops at the page without it', async () => {
    const atLimit = await tenant(5, 2);
    const r = await atLimit.f.call(Operation.Locate, { offsetItems: 1, maximumItems: 1, attributes: LONG_KEYS });
    assert.deepEqual(r.uniqueIdentifiers, [atLimit.matches[1]]);
    assert.equal(r.locatedItems, 3);

    const past = await tenant(5, 3);
    let reads = 0;
    const read = past.f.store.read.bind(past.f.store);
    past.f.store.read = (t, u, o) => { reads++; return read(t, u, o); };
    const p = await past.f.call(Operation.Locate, { offsetItems: 1, maximumItems: 1, attributes: LONG_KEYS });
    assert.deepEqual(p.uniqueIdentifiers, [past.matches[1]], 'the page itself is the same');
    assert.equal(p.locatedItems, undefined, 'the scan stopped early: no total (2.1 §6.1.28 MAY omit)');
    assert.equal(reads, 2, 'only offset + maximum records were read');
    // Maximum Items 0 asks only for the count: counted whatever the number of candidates.
    const count = await past.f.call(Operation.Locate, { maximumItems: 0, attributes: LONG_KEYS });
    assert.equal(count.locatedItems, 3);
  });

  test('without Offset / Maximum Items nothing is paged and Located Items is not sent', async () => {
    const { f, matches } = await tenant(undefined, 2);
    const r = await f.call(Operation.Locate, { attributes: LONG_KEYS });
    assert.deepEqual(r.uniqueIdentifiers, matches);
    assert.equal(r.locatedItems, undefined);
  });
});
