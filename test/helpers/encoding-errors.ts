/** Assertions on the KMIP text encodings' errors (src/kmip/encodings), shared by the XML and JSON encoding tests. */
import assert from 'node:assert/strict';
import { KmipEncodingError } from '../../src/kmip/encodings/xml.js';

/** `fn` throws a KmipEncodingError at `path` (the element or member that is wrong) whose message matches. */
export function throwsEncoding(fn: () => unknown, path: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KmipEncodingError, `expected KmipEncodingError, got ${String(e)}`);
    assert.equal(e.path, path);
    assert.match(e.message, message);
    return true;
  });
}
