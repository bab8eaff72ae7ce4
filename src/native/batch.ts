/**
 * Batch forms (issue 3 §3, "Speed"): N items cross into C++ once. Inputs are packed into one buffer
 * plus an offsets array; outputs come back as views into one result buffer. Every batch uses 96-bit
 * nonces and 128-bit tags (the vault envelope's shape); other shapes use the single-item calls.
 *
 * Results are per item, in order: the value, or the NativeError of that item (a tag mismatch in item 7
 * does not fail items 0..6 — KMIP Batch Error Continuation needs exactly this). Argument errors
 * (sizes, types) still throw for the whole batch before anything runs. A destroyed key is a per-item
 * STALE_KEY error.
 */
import { NativeArgumentError, statusError } from './errors.js';
import type { NativeError } from './errors.js';
import { aesKeyHandle, unwrapInput, wrapInput, wrapMode, wrappedLength } from './aead.js';
import type { KeyWrapMode } from './aead.js';
import { GCM_NONCE_BYTES, MAX_AAD_BYTES, MAX_BATCH_ITEMS, MAX_DATA_BYTES, MAX_KEY_BYTES, MAX_WRAP_INPUT_BYTES } from './limits.js';
import { adoptHandle, binding, handleOf, SecureKey } from './secure-key.js';
import { batch, bytes, EMPTY } from './validate.js';

const TAG = 16;

/** The item's value, or the error of that item alone. */
export type BatchResult<T> = T | NativeError | NativeArgumentError;

export interface GcmSealItem {
  readonly key: SecureKey;
  /** 96-bit nonce, unique per key. */
  readonly iv: Uint8Array;
  readonly plaintext: Uint8Array;
  readonly aad?: Uint8Array;
}
export interface GcmOpenItem {
  readonly key: SecureKey;
  readonly iv: Uint8Array;
  /** ciphertext || 16-byte tag */
  readonly sealed: Uint8Array;
  readonly aad?: Uint8Array;
}
export interface KeyWrapItem {
  readonly kek: SecureKey;
  readonly data: Uint8Array;
}
export interface KeyUnwrapItem {
  readonly kek: SecureKey;
  readonly wrapped: Uint8Array;
}
export interface WrapKeyItem {
  readonly kek: SecureKey;
  readonly target: SecureKey;
}
export interface SealKeyItem {
  readonly kek: SecureKey;
  readonly target: SecureKey;
  readonly iv: Uint8Array;
  readonly aad?: Uint8Array;
}
export interface OpenKeyItem {
  readonly kek: SecureKey;
  readonly iv: Uint8Array;
  readonly sealed: Uint8Array;
  readonly aad?: Uint8Array;
}

// Hot loops build no strings: an item's name is formatted only when it fails validation.

// Batches usually repeat one key (one KEK for 64 DEKs): each batch validates a distinct key once.
// The cache is per call, so no key stays reachable from module state after the batch.
class KeyCache {
  #key: unknown = undefined;
  #aes = false;
  #handle = 0;

  /** A live key's handle, or 0 (→ per-item STALE_KEY) for a destroyed one. */
  handle(field: string, i: number, key: unknown, aes: boolean): number {
    if (key === this.#key && aes === this.#aes) return this.#handle;
    const h = itemHandleOf(field, i, key, aes);
    this.#key = key;
    this.#aes = aes;
    this.#handle = h;
    return h;
  }
}

function itemHandleOf(field: string, i: number, key: unknown, aes: boolean): number {
  if (!(key instanceof SecureKey)) throw new NativeArgumentError(`items[${i}].${field} must be a SecureKey, got ${typeof key}`);
  if (key.destroyed) return 0;
  // A target key may have any length; a KEK must be an AES key.
  return aes ? aesKeyHandle(`items[${i}].${field}`, key) : handleOf(key);
}

function itemBytes(field: string, i: number, v: unknown, min: number, max: number): Uint8Array {
  if (v instanceof Uint8Array && v.length >= min && v.length <= max) return v;
  return bytes(`items[${i}].${field}`, v, min, max); // throws with the message
}

function checkTotal(name: string, total: number): void {
  if (total > MAX_DATA_BYTES) throw new NativeArgumentError(`${name}: the batch holds ${total} bytes, more than MAX_DATA_BYTES (${MAX_DATA_BYTES})`);
}

/** Concatenate parts; off receives n+1 offsets. The total is bounded (MAX_DATA_BYTES). */
function pack(name: string, parts: readonly Uint8Array[], off: Uint32Array): Uint8Array {
  let total = 0;
  for (let i = 0; i < parts.length; i++) {
    off[i] = total;
    total += (parts[i] as Uint8Array).length;
  }
  off[parts.length] = total;
  checkTotal(name, total);
  if (total === 0) return EMPTY;
  const buf = Buffer.allocUnsafe(total);
  for (let i = 0; i < parts.length; i++) buf.set(parts[i] as Uint8Array, off[i]);
  return buf;
}

/** The packed IVs and AAD of GCM items (validated), with aadOff filled. */
function packNoncesAndAad(name: string, items: readonly { readonly iv: Uint8Array; readonly aad?: Uint8Array }[], aadOff: Uint32Array): { ivs: Uint8Array; aad: Uint8Array } {
  const n = items.length;
  let aadTotal = 0;
  for (let i = 0; i < n; i++) {
    const it = items[i] as { iv: unknown; aad?: unknown };
    itemBytes('iv', i, it.iv, GCM_NONCE_BYTES, GCM_NONCE_BYTES);
    aadOff[i] = aadTotal;
    if (it.aad !== undefined) aadTotal += itemBytes('aad', i, it.aad, 0, MAX_AAD_BYTES).length;
  }
  aadOff[n] = aadTotal;
  checkTotal(name, aadTotal);
  const ivs = Buffer.allocUnsafe(n * GCM_NONCE_BYTES);
  const aad = aadTotal === 0 ? EMPTY : Buffer.allocUnsafe(aadTotal);
  for (let i = 0; i < n; i++) {
    const it = items[i] as { iv: Uint8Array; aad?: Uint8Array };
    ivs.set(it.iv, i * GCM_NONCE_BYTES);
    if (it.aad !== undefined && it.aad.length > 0) aad.set(it.aad, aadOff[i]);
  }
  return { ivs, aad };
}

/**
 * The GCM batches' first step: each item's key handle into `hs` and its `field` bytes (min..max) packed into one
 * buffer, `off` receiving the n+1 offsets. Validates every key and every field before anything is copied.
 */
function keysAndBytes<F extends 'plaintext' | 'sealed'>(name: string, items: readonly ({ readonly key: SecureKey } & Readonly<Record<F, Uint8Array>>)[], field: F, min: number, max: number, hs: Float64Array, off: Uint32Array): Uint8Array {
  const kc = new KeyCache();
  const n = items.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const it = items[i] as { readonly key: SecureKey } & Readonly<Record<F, Uint8Array>>;
    hs[i] = kc.handle('key', i, it.key, true);
    off[i] = total;
    total += itemBytes(field, i, it[field], min, max).length;
  }
  off[n] = total;
  checkTotal(name, total);
  const buf = total === 0 ? EMPTY : Buffer.allocUnsafe(total);
  for (let i = 0; i < n; i++) buf.set((items[i] as Readonly<Record<F, Uint8Array>>)[field], off[i]);
  return buf;
}

/**
 * Per-item results of a crossing whose item i's output is its input (`off[i]` to `off[i+1]`) plus `grow` bytes
 * (a tag added or removed), the outputs laid out in order in `outBuf`: the item's view, or the error its status names.
 */
function sizedResults(name: string, status: Int32Array, outBuf: ArrayBuffer, off: Uint32Array, grow: number): BatchResult<Uint8Array>[] {
  const results = new Array<BatchResult<Uint8Array>>(status.length);
  for (let i = 0; i < status.length; i++) {
    const st = status[i] as number;
    results[i] = st < 0 ? statusError(st, `${name}[${i}]`) : new Uint8Array(outBuf, (off[i] as number) + i * grow, (off[i + 1] as number) - (off[i] as number) + grow);
  }
  return results;
}

/** Per-item results of a crossing that writes item i at `outOff[i]` and returns its length as the status. */
function measuredResults(name: string, status: Int32Array, outBuf: ArrayBuffer, outOff: Uint32Array): BatchResult<Uint8Array>[] {
  const results = new Array<BatchResult<Uint8Array>>(status.length);
  for (let i = 0; i < status.length; i++) {
    const st = status[i] as number;
    results[i] = st < 0 ? statusError(st, `${name}[${i}]`) : new Uint8Array(outBuf, outOff[i], st);
  }
  return results;
}

/** AES-GCM seal of N items in one crossing. Each result is ciphertext || tag. */
export function gcmSealBatch(itemsIn: readonly GcmSealItem[]): BatchResult<Uint8Array>[] {
  const items = batch('items', itemsIn, MAX_BATCH_ITEMS);
  const n = items.length;
  const hs = new Float64Array(n);
  const ptOff = new Uint32Array(n + 1);
  const pt = keysAndBytes('gcmSealBatch', items, 'plaintext', 0, MAX_DATA_BYTES, hs, ptOff);
  const aadOff = new Uint32Array(n + 1);
  const { ivs, aad } = packNoncesAndAad('gcmSealBatch', items, aadOff);
  const outBuf = new ArrayBuffer(pt.length + n * TAG);
  const status = new Int32Array(n);
  binding().gcmSealBatch(hs, ivs, aad, aadOff, pt, ptOff, new Uint8Array(outBuf), status);
  return sizedResults('gcmSealBatch', status, outBuf, ptOff, TAG);
}

/** AES-GCM open of N items in one crossing. A failed item is AUTHENTICATION_FAILED; others still open. */
export function gcmOpenBatch(itemsIn: readonly GcmOpenItem[]): BatchResult<Uint8Array>[] {
  const items = batch('items', itemsIn, MAX_BATCH_ITEMS);
  const n = items.length;
  const hs = new Float64Array(n);
  const sOff = new Uint32Array(n + 1);
  const sealed = keysAndBytes('gcmOpenBatch', items, 'sealed', TAG, MAX_DATA_BYTES + TAG, hs, sOff);
  const aadOff = new Uint32Array(n + 1);
  const { ivs, aad } = packNoncesAndAad('gcmOpenBatch', items, aadOff);
  const outBuf = new ArrayBuffer(sealed.length - n * TAG);
  const status = new Int32Array(n);
  binding().gcmOpenBatch(hs, ivs, aad, aadOff, sealed, sOff, new Uint8Array(outBuf), status);
  return sizedResults('gcmOpenBatch', status, outBuf, sOff, -TAG);
}

function wrapBatchRun(name: string, wrap: boolean, kekList: readonly SecureKey[], inputs: readonly Uint8Array[], pad: boolean): BatchResult<Uint8Array>[] {
  const n = inputs.length;
  const hs = new Float64Array(n);
  const kc = new KeyCache();
  for (let i = 0; i < n; i++) hs[i] = kc.handle('kek', i, kekList[i], true);
  const inOff = new Uint32Array(n + 1);
  const input = pack(name, inputs, inOff);
  const outOff = new Uint32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    outOff[i] = total;
    const len = (inputs[i] as Uint8Array).length;
    total += wrap ? wrappedLength(pad, len) : len - 8;
  }
  outOff[n] = total;
  const outBuf = new ArrayBuffer(total);
  const status = new Int32Array(n);
  if (wrap) binding().keyWrapBatch(hs, pad, input, inOff, new Uint8Array(outBuf), outOff, status);
  else binding().keyUnwrapBatch(hs, pad, input, inOff, new Uint8Array(outBuf), outOff, status);
  return measuredResults(name, status, outBuf, outOff);
}

function wrapItem(i: number, data: unknown, pad: boolean): Uint8Array {
  if (data instanceof Uint8Array && data.length <= MAX_WRAP_INPUT_BYTES && (pad ? data.length >= 1 : data.length >= 16 && data.length % 8 === 0)) return data;
  return wrapInput(`items[${i}].data`, data, pad);
}

function unwrapItem(i: number, wrapped: unknown, pad: boolean, max: number): Uint8Array {
  if (wrapped instanceof Uint8Array && wrapped.length % 8 === 0 && wrapped.length >= (pad ? 16 : 24) && wrapped.length <= max) return wrapped;
  return bytes(`items[${i}].wrapped`, unwrapInput(`items[${i}].wrapped`, wrapped, pad), 0, max);
}

/** AES key wrap of N byte strings in one crossing. */
export function keyWrapBatch(itemsIn: readonly KeyWrapItem[], mode: KeyWrapMode): BatchResult<Uint8Array>[] {
  const items = batch('items', itemsIn, MAX_BATCH_ITEMS);
  const pad = wrapMode(mode);
  return wrapBatchRun('keyWrapBatch', true, items.map((it) => it.kek), items.map((it, i) => wrapItem(i, it.data, pad)), pad);
}

/** AES key unwrap of N wrapped keys in one crossing, into JS bytes. */
export function keyUnwrapBatch(itemsIn: readonly KeyUnwrapItem[], mode: KeyWrapMode): BatchResult<Uint8Array>[] {
  const items = batch('items', itemsIn, MAX_BATCH_ITEMS);
  const pad = wrapMode(mode);
  return wrapBatchRun('keyUnwrapBatch', false, items.map((it) => it.kek), items.map((it, i) => unwrapItem(i, it.wrapped, pad, MAX_WRAP_INPUT_BYTES + 16)), pad);
}

function targetHandle(i: number, target: unknown, pad: boolean): number {
  const h = itemHandleOf('target', i, target, false);
  const len = (target as SecureKey).length;
  if (h !== 0 && !pad && (len % 8 !== 0 || len < 16)) {
    throw new NativeArgumentError(`items[${i}].target must be a multiple of 8 bytes and at least 16 for RFC 3394 key wrap, got ${len}`);
  }
  return h;
}

/** Slot-to-slot key wrap of N keys in one crossing. */
export function wrapKeyBatch(itemsIn: readonly WrapKeyItem[], mode: KeyWrapMode): BatchResult<Uint8Array>[] {
  const items = batch('items', itemsIn, MAX_BATCH_ITEMS);
  const kc = new KeyCache();
  const pad = wrapMode(mode);
  const n = items.length;
  const keks = new Float64Array(n);
  const targets = new Float64Array(n);
  const outOff = new Uint32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const it = items[i] as WrapKeyItem;
    keks[i] = kc.handle('kek', i, it.kek, true);
    targets[i] = targetHandle(i, it.target, pad);
    if (it.kek === it.target) throw new NativeArgumentError(`items[${i}]: kek and target must be different keys`);
    outOff[i] = total;
    total += wrappedLength(pad, it.target.length);
  }
  outOff[n] = total;
  const outBuf = new ArrayBuffer(total);
  const status = new Int32Array(n);
  binding().slotWrapBatch(keks, targets, pad, new Uint8Array(outBuf), outOff, status);
  return measuredResults('wrapKeyBatch', status, outBuf, outOff);
}

function adoptAll(name: string, handles: Float64Array, status: Int32Array): BatchResult<SecureKey>[] {
  const results = new Array<BatchResult<SecureKey>>(handles.length);
  for (let i = 0; i < handles.length; i++) {
    const st = status[i] as number;
    results[i] = st < 0 ? statusError(st, `${name}[${i}]`) : adoptHandle(handles[i] as number);
  }
  return results;
}

/** Slot-to-slot key unwrap of N wrapped keys in one crossing; each result is a new SecureKey. */
export function unwrapKeyBatch(itemsIn: readonly KeyUnwrapItem[], mode: KeyWrapMode): BatchResult<SecureKey>[] {
  const items = batch('items', itemsIn, MAX_BATCH_ITEMS);
  const kc = new KeyCache();
  const pad = wrapMode(mode);
  const n = items.length;
  const keks = new Float64Array(n);
  const inputs: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const it = items[i] as KeyUnwrapItem;
    keks[i] = kc.handle('kek', i, it.kek, true);
    inputs.push(unwrapItem(i, it.wrapped, pad, MAX_KEY_BYTES + 8));
  }
  const inOff = new Uint32Array(n + 1);
  const input = pack('unwrapKeyBatch', inputs, inOff);
  const handles = new Float64Array(n);
  const status = new Int32Array(n);
  binding().slotUnwrapBatch(keks, pad, input, inOff, handles, status);
  return adoptAll('unwrapKeyBatch', handles, status);
}

/** Slot-to-slot AES-GCM seal of N keys in one crossing: each result is ciphertext || 16-byte tag. */
export function sealKeyBatch(itemsIn: readonly SealKeyItem[]): BatchResult<Uint8Array>[] {
  const items = batch('items', itemsIn, MAX_BATCH_ITEMS);
  const kc = new KeyCache();
  const n = items.length;
  const keks = new Float64Array(n);
  const targets = new Float64Array(n);
  const outOff = new Uint32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const it = items[i] as SealKeyItem;
    keks[i] = kc.handle('kek', i, it.kek, true);
    targets[i] = itemHandleOf('target', i, it.target, false);
    if (it.kek === it.target) throw new NativeArgumentError(`items[${i}]: kek and target must be different keys`);
    outOff[i] = total;
    total += it.target.length + TAG;
  }
  outOff[n] = total;
  const aadOff = new Uint32Array(n + 1);
  const { ivs, aad } = packNoncesAndAad('sealKeyBatch', items, aadOff);
  const outBuf = new ArrayBuffer(total);
  const status = new Int32Array(n);
  binding().slotSealBatch(keks, targets, ivs, aad, aadOff, new Uint8Array(outBuf), outOff, status);
  return sizedResults('sealKeyBatch', status, outBuf, outOff, 0);
}

/** Slot-to-slot AES-GCM open of N sealed keys in one crossing; each result is a new SecureKey. */
export function openKeyBatch(itemsIn: readonly OpenKeyItem[]): BatchResult<SecureKey>[] {
  const items = batch('items', itemsIn, MAX_BATCH_ITEMS);
  const kc = new KeyCache();
  const n = items.length;
  const keks = new Float64Array(n);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const it = items[i] as OpenKeyItem;
    keks[i] = kc.handle('kek', i, it.kek, true);
    parts.push(itemBytes('sealed', i, it.sealed, TAG + 1, MAX_KEY_BYTES + TAG));
  }
  const aadOff = new Uint32Array(n + 1);
  const { ivs, aad } = packNoncesAndAad('openKeyBatch', items, aadOff);
  const sOff = new Uint32Array(n + 1);
  const sealed = pack('openKeyBatch', parts, sOff);
  const handles = new Float64Array(n);
  const status = new Int32Array(n);
  binding().slotOpenBatch(keks, ivs, aad, aadOff, sealed, sOff, handles, status);
  return adoptAll('openKeyBatch', handles, status);
}
