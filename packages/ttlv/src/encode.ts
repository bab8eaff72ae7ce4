/**
 * Binary TTLV encoder (KMIP 1.4 §9.1; KMIP 2.1 §10.1).
 *
 * Two passes and one allocation: `measure` validates the whole tree and computes every
 * size (remembering, in pre-order, the lengths that are costly to recompute: Structure
 * lengths, UTF-8 byte lengths, Big Integer widths), then `write` fills one Buffer of
 * exactly the right size. No concatenation, no intermediate buffers.
 *
 * The output Buffer comes from Buffer.allocUnsafe (Node's pool), which may hold stale
 * bytes of earlier allocations — possibly other tenants' data. So `write` sets every byte
 * explicitly, padding included; the decoder's zero-padding check makes every round-trip
 * test a check of that.
 */
import { TtlvError } from './errors.js';
import { TAG_PREFIX_EXTENSION, TAG_PREFIX_KMIP, TTLV_HEADER_BYTES } from './decode.js';
import { EncodedStructure } from './encoded.js';
import { ItemType, type TtlvItem } from './types.js';

/**
 * Deepest Structure nesting encode accepts. Far above any decode limit (so tests can build
 * trees our decoder must reject); it exists to turn a cyclic tree (a structure that
 * contains itself) into a TtlvError instead of a stack overflow.
 */
export const ENCODE_MAX_DEPTH = 1024;

/** Largest value an Item Length can carry: it is 32 bits, KMIP 1.4 §9.1.1.3. */
const MAX_ITEM_LENGTH = 0xffffffff;
/** ASCII strings up to this length are written char by char; longer ones by native code. */
const SHORT_TEXT_CHARS = 64;
/** Byte strings up to this length are copied in a JS loop (cheaper than a native set() call). */
const SHORT_BYTES = 64;
/** Strings containing a lone UTF-16 surrogate have no UTF-8 form (RFC 3629 §3). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

// Pre-order list of lengths computed by `measure` and consumed by `write`; module-level
// and reused (encoding is synchronous) so a typical message allocates nothing but its Buffer.
let lens: number[] = [];
let lensTop = 0;
/** Above this many entries the scratch list is dropped after use instead of kept. */
const LENS_KEEP = 4096;

function fail(message: string): never {
  throw new TtlvError('ENCODE', -1, message);
}

function padded8(len: number): number {
  return len + ((8 - (len & 7)) & 7);
}

function hex6(n: number): string {
  return `0x${n.toString(16).padStart(6, '0')}`;
}

function checkTag(tag: unknown): void {
  if (typeof tag !== 'number' || (tag >>> 0) !== tag || tag > 0xffffff) {
    fail(`tag must be a 24-bit unsigned integer, got ${String(tag)}`);
  }
  const prefix = tag >>> 16;
  if (prefix !== TAG_PREFIX_KMIP && prefix !== TAG_PREFIX_EXTENSION) {
    fail(`tag ${hex6(tag)} must start with 0x42 or 0x54 (KMIP 1.4 §9.1.1.1)`);
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function checkInt64(v: unknown, tag: number, what: string): void {
  // Comparisons, not BigInt.asIntN: they allocate nothing.
  if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) fail(`${what} ${hex6(tag)} must be a bigint in the signed 64-bit range`);
}

function checkUint32(v: unknown, tag: number, what: string): void {
  if (typeof v !== 'number' || (v >>> 0) !== v) fail(`${what} ${hex6(tag)} must be an integer in 0..2^32-1`);
}

/** UTF-8 byte length; ASCII strings are the common case and are counted without a native call. */
function utf8Length(s: string, tag: number): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    if (s.charCodeAt(i) >= 0x80) {
      if (LONE_SURROGATE.test(s)) fail(`Text String ${hex6(tag)} contains a lone surrogate, which has no UTF-8 form`);
      return Buffer.byteLength(s, 'utf8');
    }
  }
  return n;
}

/**
 * Minimal two's complement width in bytes, rounded up to a multiple of 8 (KMIP 1.4
 * §9.1.1.4: "padded with the minimal number of leading sign-extended bytes").
 */
function bigIntegerWidth(v: bigint): number {
  // Bits of magnitude for v >= 0, or of ~v = -v-1 for v < 0; plus one sign bit.
  const m = v < 0n ? -v - 1n : v;
  const bits = m === 0n ? 0 : m.toString(2).length;
  return padded8(Math.max(1, Math.ceil((bits + 1) / 8)));
}

/**
 * Validates `item` and returns its encoded size, header and padding included. The tree is
 * typed, but it may come from untyped code (JSON/XML conversion, a test), so every value
 * is checked as `unknown`.
 */
function measure(item: TtlvItem, depth: number): number {
  checkTag(item.tag);
  // Bytes already encoded (a stored object spliced into a Get answer, packages/ttlv/src/encoded.ts) are copied as they are;
  // checked before `value` is read, which would decode them.
  if (item instanceof EncodedStructure) return item.encoded.length;
  const tag = item.tag;
  const v: unknown = item.value;
  const type: unknown = item.type;
  switch (type) {
    case ItemType.Structure: {
      if (!Array.isArray(v)) fail(`Structure ${hex6(tag)} value must be an array`);
      if (depth >= ENCODE_MAX_DEPTH) fail(`structures nested deeper than ${ENCODE_MAX_DEPTH} (cyclic tree?)`);
      const slot = lensTop++;
      lens[slot] = 0;
      let total = 0;
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (typeof child !== 'object' || child === null) fail(`Structure ${hex6(tag)} child ${i} is not an item`);
        total += measure(child as TtlvItem, depth + 1);
      }
      if (total > MAX_ITEM_LENGTH) fail(`Structure ${hex6(tag)} of ${total} bytes exceeds the 32-bit length field`);
      lens[slot] = total;
      return TTLV_HEADER_BYTES + total;
    }
    case ItemType.Integer:
      if (typeof v !== 'number' || (v | 0) !== v) fail(`Integer ${hex6(tag)} must be an integer in the signed 32-bit range`);
      return 16;
    case ItemType.LongInteger:
      checkInt64(v, tag, 'Long Integer');
      return 16;
    case ItemType.BigInteger: {
      if (typeof v !== 'bigint') fail(`Big Integer ${hex6(tag)} must be a bigint`);
      const width = bigIntegerWidth(v);
      if (width > MAX_ITEM_LENGTH) fail(`Big Integer ${hex6(tag)} is too large`);
      lens[lensTop++] = width;
      return TTLV_HEADER_BYTES + width;
    }
    case ItemType.Enumeration:
      checkUint32(v, tag, 'Enumeration');
      return 16;
    case ItemType.Boolean:
      if (typeof v !== 'boolean') fail(`Boolean ${hex6(tag)} must be a boolean`);
      return 16;
    case ItemType.TextString: {
      if (typeof v !== 'string') fail(`Text String ${hex6(tag)} must be a string`);
      const len = utf8Length(v, tag);
      if (len > MAX_ITEM_LENGTH) fail(`Text String ${hex6(tag)} is too long`);
      lens[lensTop++] = len;
      return TTLV_HEADER_BYTES + padded8(len);
    }
    case ItemType.ByteString: {
      if (!(v instanceof Uint8Array)) fail(`Byte String ${hex6(tag)} must be a Uint8Array`);
      if (v.length > MAX_ITEM_LENGTH) fail(`Byte String ${hex6(tag)} is too long`);
      return TTLV_HEADER_BYTES + padded8(v.length);
    }
    case ItemType.DateTime:
      checkInt64(v, tag, 'Date-Time');
      return 16;
    case ItemType.Interval:
      checkUint32(v, tag, 'Interval');
      return 16;
    case ItemType.DateTimeExtended:
      checkInt64(v, tag, 'Date-Time Extended');
      return 16;
    default:
      return fail(`item ${hex6(tag)} has unknown type ${String(type)}`);
  }
}

function writeU32(out: Buffer, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = (v >>> 16) & 0xff;
  out[off + 2] = (v >>> 8) & 0xff;
  out[off + 3] = v & 0xff;
}

function writeHeader(out: Buffer, off: number, tag: number, type: number, len: number): void {
  out[off] = tag >>> 16;
  out[off + 1] = (tag >>> 8) & 0xff;
  out[off + 2] = tag & 0xff;
  out[off + 3] = type;
  writeU32(out, off + 4, len);
}

/** Signed 64-bit big-endian; values within ±2^53 (every real Date-Time) avoid BigInt arithmetic. */
function writeI64(out: Buffer, off: number, v: bigint): void {
  if (v >= -0x20000000000000n && v <= 0x20000000000000n) {
    const n = Number(v);
    const hi = Math.floor(n / 0x100000000);
    writeU32(out, off, hi >>> 0);
    writeU32(out, off + 4, (n - hi * 0x100000000) >>> 0);
  } else {
    out.writeBigInt64BE(v, off);
  }
}

function zero(out: Buffer, from: number, to: number): void {
  for (let i = from; i < to; i++) out[i] = 0;
}

/** Writes `item` (already validated by `measure`) at `off`; returns the offset after it. */
function write(item: TtlvItem, out: Buffer, off: number): number {
  const vs = off + TTLV_HEADER_BYTES;
  switch (item.type) {
    case ItemType.Structure: {
      if (item instanceof EncodedStructure) {
        out.set(item.encoded, off);
        return off + item.encoded.length;
      }
      const len = lens[lensTop++] ?? 0;
      writeHeader(out, off, item.tag, ItemType.Structure, len);
      let p = vs;
      const children = item.value;
      for (let i = 0; i < children.length; i++) {
        const child = children[i];
        if (child !== undefined) p = write(child, out, p);
      }
      return p;
    }
    case ItemType.Integer:
    case ItemType.Enumeration:
    case ItemType.Interval:
      // Four value bytes (an Integer's sign is kept by >>> 0), four zero padding bytes.
      writeHeader(out, off, item.tag, item.type, 4);
      writeU32(out, vs, item.value >>> 0);
      writeU32(out, vs + 4, 0);
      return vs + 8;
    case ItemType.LongInteger:
    case ItemType.DateTime:
    case ItemType.DateTimeExtended:
      writeHeader(out, off, item.tag, item.type, 8);
      writeI64(out, vs, item.value);
      return vs + 8;
    case ItemType.Boolean:
      writeHeader(out, off, item.tag, ItemType.Boolean, 8);
      writeU32(out, vs, 0);
      writeU32(out, vs + 4, item.value ? 1 : 0);
      return vs + 8;
    case ItemType.BigInteger: {
      const width = lens[lensTop++] ?? 0;
      writeHeader(out, off, item.tag, ItemType.BigInteger, width);
      const v = item.value;
      if (width === 8) {
        writeI64(out, vs, v);
      } else {
        // Two's complement in `width` bytes, then big-endian hex (KMIP 1.4 §9.1.1.4).
        const u = v < 0n ? (1n << BigInt(width * 8)) + v : v;
        out.write(u.toString(16).padStart(width * 2, '0'), vs, width, 'hex');
      }
      return vs + width;
    }
    case ItemType.TextString: {
      const len = lens[lensTop++] ?? 0;
      writeHeader(out, off, item.tag, ItemType.TextString, len);
      const s = item.value;
      if (len === s.length && len <= SHORT_TEXT_CHARS) {
        for (let i = 0; i < len; i++) out[vs + i] = s.charCodeAt(i);
      } else {
        out.write(s, vs, len, 'utf8');
      }
      const end = vs + padded8(len);
      zero(out, vs + len, end);
      return end;
    }
    case ItemType.ByteString: {
      const v = item.value;
      const len = v.length;
      writeHeader(out, off, item.tag, ItemType.ByteString, len);
      if (len <= SHORT_BYTES) {
        for (let i = 0; i < len; i++) out[vs + i] = v[i] ?? 0;
      } else {
        out.set(v, vs);
      }
      const end = vs + padded8(len);
      zero(out, vs + len, end);
      return end;
    }
  }
}

/**
 * The encoded size of `item` in bytes, header and padding included, after validating the whole tree exactly as
 * {@link encodeTtlv} does (same TtlvError). Lets a caller check a size limit (KMIP 1.4 §6.3 Maximum Response Size)
 * without encoding twice: see {@link encodeTtlvWithin}.
 */
export function measureTtlv(item: TtlvItem): number {
  const untrusted: unknown = item;
  if (typeof untrusted !== 'object' || untrusted === null) fail('item must be an object');
  lensTop = 0;
  try {
    return measure(item, 0);
  } finally {
    if (lens.length > LENS_KEEP) lens = [];
  }
}

/**
 * Encodes one item (normally a whole KMIP message Structure) into a new Buffer.
 * Throws TtlvError with code 'ENCODE' (offset -1) if the tree is invalid: bad tag, value of
 * the wrong JS type or out of range for its Item Type, a lone surrogate in text, or a
 * length that does not fit 32 bits.
 */
export function encodeTtlv(item: TtlvItem): Buffer {
  const out = encodeTtlvWithin(item, Number.POSITIVE_INFINITY);
  if (out === undefined) fail('internal: no size limit, yet nothing was encoded');
  return out;
}

/**
 * Encodes `item` when its encoding is at most `maxBytes` long; otherwise returns undefined having written nothing
 * (one validating pass, no buffer). The server answers an oversized response with Response Too Large (KMIP 1.4
 * §6.3) and so needs the size before it commits to the bytes, but must not pay for a second encode.
 */
export function encodeTtlvWithin(item: TtlvItem, maxBytes: number): Buffer | undefined {
  const untrusted: unknown = item;
  if (typeof untrusted !== 'object' || untrusted === null) fail('item must be an object');
  lensTop = 0;
  try {
    const total = measure(item, 0);
    if (total > maxBytes) return undefined;
    const out = Buffer.allocUnsafe(total);
    lensTop = 0;
    const end = write(item, out, 0);
    if (end !== total) fail(`internal size mismatch: measured ${total}, wrote ${end}`);
    return out;
  } finally {
    if (lens.length > LENS_KEEP) lens = [];
  }
}
