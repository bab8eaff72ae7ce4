/**
 * Rows in PostgreSQL's binary COPY format (PostgreSQL documentation, COPY, "File Formats: Binary Format"), for
 * {@link DbTx.copyBinary}: the 19-byte header (signature, flags, header extension length), then per row a 16-bit
 * field count and each field as a 32-bit length and its bytes in the type's binary (send/recv) form, then the 16-bit
 * trailer -1. All integers are big-endian (network order).
 *
 * Why binary and not COPY text (issue 14, docs/performance.md "Seventh session"): the embedded engine parses every
 * text field with the type's input function. For an audit row that meant a timestamptz parsed from ISO text and
 * three bytea decoded from hex, about half of PGlite's CPU per row; the binary forms are an int64 and the raw bytes.
 * The writer side gets cheaper too: no hex strings and no escaping per field.
 *
 * Only the types the audit rows need: int8, timestamptz, text and bytea. The caller writes the fields in the order
 * of the COPY column list.
 */

/** "PGCOPY\n\377\r\n\0", flags 0, no header extension. */
const HEADER = Uint8Array.of(0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0);
/** PostgreSQL's timestamp epoch, 2000-01-01T00:00:00Z, in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;
/** Integers whose product by 1,000 is still exact in a double (|µs| < 2^53). */
const EXACT_MS = Math.floor(Number.MAX_SAFE_INTEGER / 1_000);
const TWO_32 = 0x1_0000_0000;
/** First buffer; it doubles when a row does not fit. */
const INITIAL_BYTES = 64 * 1024;

/** One COPY's rows, written in place into a growing buffer. */
export class CopyBinaryWriter {
  #buf: Buffer;
  #at: number;
  #rows = 0;

  constructor(initialBytes = INITIAL_BYTES) {
    // Never a pooled slice: the finished buffer is transferred to the database thread whole.
    this.#buf = Buffer.allocUnsafeSlow(Math.max(initialBytes, HEADER.length + 2));
    this.#buf.set(HEADER, 0);
    this.#at = HEADER.length;
  }

  /** Rows begun so far. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Starts a row of `fields` fields. `maxBytes` bounds what its fields will take (lengths included); the buffer
   * grows now so that the field writes need no check. A text field of n UTF-16 units takes at most 3n bytes.
   */
  row(fields: number, maxBytes: number): void {
    this.#reserve(2 + maxBytes);
    this.#buf.writeInt16BE(fields, this.#at);
    this.#at += 2;
    this.#rows++;
  }

  /** int8 (bigint): a safe integer. */
  int8(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`not a safe integer for an int8 field: ${String(v)}`);
    this.#buf.writeInt32BE(8, this.#at);
    this.#int64(v);
  }

  /** timestamptz: Unix milliseconds (an integer, as a Date holds), stored as microseconds since 2000-01-01 UTC. */
  timestamptzMs(ms: number): void {
    if (!Number.isSafeInteger(ms)) throw new RangeError(`not an integral millisecond time: ${String(ms)}`);
    this.#buf.writeInt32BE(8, this.#at);
    const offset = ms - PG_EPOCH_MS;
    if (Math.abs(offset) <= EXACT_MS) {
      this.#int64(offset * 1_000);
      return;
    }
    // Beyond about ±285 years of 2000 the microseconds leave a double's exact range.
    this.#buf.writeBigInt64BE(BigInt(offset) * 1_000n, this.#at + 4);
    this.#at += 12;
  }

  /** text: its UTF-8 bytes. The caller has made it storable (no NUL, well-formed): ../audit/record.ts clip. */
  text(v: string): void {
    const n = this.#buf.write(v, this.#at + 4, 'utf8');
    this.#buf.writeInt32BE(n, this.#at);
    this.#at += 4 + n;
  }

  /** bytea: `length` bytes of `src` from `offset`. */
  bytea(src: Uint8Array, offset = 0, length = src.length - offset): void {
    this.#buf.writeInt32BE(length, this.#at);
    this.#buf.set(src.subarray(offset, offset + length), this.#at + 4);
    this.#at += 4 + length;
  }

  /** The finished COPY data (trailer included); the writer is spent. */
  finish(): Uint8Array {
    this.#reserve(2);
    this.#buf.writeInt16BE(-1, this.#at);
    this.#at += 2;
    return new Uint8Array(this.#buf.buffer, this.#buf.byteOffset, this.#at);
  }

  /** Writes a safe integer as int64 after its 4-byte length (already written at #at). */
  #int64(v: number): void {
    const hi = Math.floor(v / TWO_32);
    this.#buf.writeInt32BE(hi, this.#at + 4);
    this.#buf.writeUInt32BE(v - hi * TWO_32, this.#at + 8);
    this.#at += 12;
  }

  #reserve(bytes: number): void {
    const need = this.#at + bytes + 2; // + the trailer
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const grown = Buffer.allocUnsafeSlow(size);
    this.#buf.copy(grown, 0, 0, this.#at);
    this.#buf = grown;
  }
}
