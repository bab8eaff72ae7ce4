/**
 * Argument validation for the native wrappers (issue 3 §4): every constraint the C++ side relies on
 * is checked here first, with a message that names the argument and the constraint, and a violation
 * is a NativeArgumentError (a TypeError), never a crash or an opaque status.
 */
import { NativeArgumentError } from './errors.js';

const EMPTY = new Uint8Array(0);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  return typeof v;
}

/** v must be a Uint8Array (a Buffer is one) whose length is within [min, max]. */
export function bytes(name: string, v: unknown, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new NativeArgumentError(`${name} must be a Uint8Array, got ${describe(v)}`);
  if (v.length < min || v.length > max) {
    const range = min === max ? `exactly ${min}` : max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min}..${max}`;
    throw new NativeArgumentError(`${name} must be ${range} bytes long, got ${v.length}`);
  }
  return v;
}

/** Optional bytes: undefined becomes an empty array. */
export function optionalBytes(name: string, v: unknown, max: number): Uint8Array {
  return v === undefined ? EMPTY : bytes(name, v, 0, max);
}

/** v must be one of the listed lengths. */
export function bytesOfLength(name: string, v: unknown, lengths: readonly number[], why: string): Uint8Array {
  const b = bytes(name, v, 0, Number.MAX_SAFE_INTEGER);
  if (!lengths.includes(b.length)) {
    throw new NativeArgumentError(`${name} must be ${lengths.join(', ')} bytes long (${why}), got ${b.length}`);
  }
  return b;
}

/** An integer within [min, max]. */
export function integer(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new NativeArgumentError(`${name} must be an integer, got ${describe(v)}`);
  if (v < min || v > max) throw new NativeArgumentError(`${name} must be within ${min}..${max}, got ${v}`);
  return v;
}

/** One of the listed values. */
export function oneOf<T extends string | number>(name: string, v: unknown, allowed: readonly T[], why = ''): T {
  if (!allowed.includes(v as T)) {
    throw new NativeArgumentError(`${name} must be one of ${allowed.join(', ')}${why === '' ? '' : ` (${why})`}, got ${String(v)}`);
  }
  return v as T;
}

/** An array (possibly empty) of at most max items. */
export function batch<T>(name: string, v: readonly T[], max: number): readonly T[] {
  const value: unknown = v; // typed callers can still pass anything at run time
  if (!Array.isArray(value)) throw new NativeArgumentError(`${name} must be an array, got ${describe(v)}`);
  if (v.length > max) throw new NativeArgumentError(`${name} must hold at most ${max} items (MAX_BATCH_ITEMS), got ${v.length}`);
  return v;
}

export { EMPTY };
