/** Assertions on the vault's error catalog (src/vault/errors.ts), shared by the envelope and KEK provider tests. */
import assert from 'node:assert/strict';
import { EnvelopeError, KekError } from '../../src/vault/errors.js';

/** An `assert.rejects`/`assert.throws` validator: an EnvelopeError with `code`. */
export function isEnvelopeError(code: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof EnvelopeError, `expected EnvelopeError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  };
}

/** An `assert.rejects`/`assert.throws` validator: a KekError with `code`. */
export function isKekError(code: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof KekError, `expected KekError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  };
}
