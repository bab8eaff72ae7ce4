/**
 * Splits a TCP byte stream into whole top-level TTLV messages.
 *
 * KMIP over TLS has no framing of its own (KMIP 2.1 §10.4 leaves transport to the profiles): a
 * message's extent is given by its own 8-byte TTLV header (3-byte tag, 1-byte type,
 * 4-byte length, KMIP 1.4 §9.1.1). Every KMIP message is a Structure (KMIP 1.4 §7.1), so
 * the header is checked as soon as its 8 bytes are in, and an oversized announced length
 * is rejected right there, before a byte of the body is buffered.
 *
 * Copying: a message that arrives whole inside one chunk is returned as a zero-copy view
 * of that chunk. A message spread over several chunks is assembled into one buffer that
 * grows geometrically (doubling, capped at the announced size), so each byte is copied a
 * constant number of times however small the chunks are (no O(n^2) re-concatenation), and
 * an 8-byte header announcing 1 MiB does not make us allocate 1 MiB up front (a slowloris
 * peer with many connections would otherwise pin maxMessageBytes each).
 *
 * Chunks must not be mutated after being pushed: returned frames may be views of them
 * (Node's net/tls sockets hand out a fresh Buffer per read, so this holds for sockets).
 *
 * After a TtlvError the framer stays failed and rethrows it: the stream is desynchronised
 * and the connection must be closed.
 */
import { TtlvError } from './errors.js';
import { TAG_PREFIX_EXTENSION, TAG_PREFIX_KMIP, TTLV_HEADER_BYTES } from './decode.js';
import { DEFAULT_TTLV_LIMITS, resolveLimits, type TtlvLimits } from './limits.js';
import { ItemType } from './types.js';

/** First allocation for a message assembled from several chunks (grown by doubling). */
const INITIAL_ASSEMBLY_BYTES = 4096;

export class TtlvFramer {
  readonly #maxMessageBytes: number;
  /** Header bytes gathered so far when a header itself is split across chunks. */
  readonly #header = Buffer.alloc(TTLV_HEADER_BYTES);
  #headerFill = 0;
  /** Size of the message being assembled (header included), or -1 while reading a header. */
  #frameSize = -1;
  /** Assembly buffer for a message that spans chunks; may be smaller than #frameSize. */
  #frame: Buffer | null = null;
  #frameFill = 0;
  /** Stream offset of the first byte of the current message, for error offsets. */
  #messageStart = 0;
  #failure: TtlvError | null = null;

  constructor(limits?: Partial<TtlvLimits>) {
    this.#maxMessageBytes = (limits === undefined ? DEFAULT_TTLV_LIMITS : resolveLimits(limits)).maxMessageBytes;
  }

  /** Bytes held for a message not yet complete. */
  get buffered(): number {
    return this.#frameSize < 0 ? this.#headerFill : this.#frameFill;
  }

  /**
   * Feeds one chunk; returns the messages it completes (possibly none, possibly several),
   * each a Buffer holding exactly one top-level TTLV Structure, header included.
   * Throws TtlvError: BAD_TAG, NOT_A_STRUCTURE, BAD_LENGTH (not a multiple of 8) or
   * MESSAGE_TOO_LARGE, with `offset` the stream offset of the message's first byte.
   */
  push(chunk: Uint8Array): Buffer[] {
    if (this.#failure !== null) throw this.#failure;
    const out: Buffer[] = [];
    const n = chunk.length;
    let off = 0;
    try {
      while (off < n) {
        if (this.#frameSize < 0) {
          if (this.#headerFill === 0 && n - off >= TTLV_HEADER_BYTES) {
            // Common case: the header is contiguous in this chunk.
            const size = this.#checkHeader(chunk, off);
            if (n - off >= size) {
              out.push(Buffer.from(chunk.buffer, chunk.byteOffset + off, size));
              this.#messageStart += size;
              off += size;
              continue;
            }
            this.#startFrame(size);
          } else {
            const take = Math.min(TTLV_HEADER_BYTES - this.#headerFill, n - off);
            this.#header.set(chunk.subarray(off, off + take), this.#headerFill);
            this.#headerFill += take;
            off += take;
            if (this.#headerFill < TTLV_HEADER_BYTES) break;
            this.#startFrame(this.#checkHeader(this.#header, 0));
            this.#append(this.#header, 0, TTLV_HEADER_BYTES);
            this.#headerFill = 0;
          }
        }
        // May be 0 when a split header completed an empty Structure (an 8-byte message).
        const take = Math.min(this.#frameSize - this.#frameFill, n - off);
        if (take > 0) this.#append(chunk, off, take);
        off += take;
        if (this.#frameFill === this.#frameSize) {
          // The assembly buffer never grows past #frameSize, so it is now exactly full.
          if (this.#frame !== null) out.push(this.#frame);
          this.#messageStart += this.#frameSize;
          this.#frame = null;
          this.#frameFill = 0;
          this.#frameSize = -1;
        }
      }
    } catch (e) {
      if (e instanceof TtlvError) {
        this.#failure = e;
        this.#frame = null;
      }
      throw e;
    }
    return out;
  }

  /** Validates a top-level header at `at`; returns the message size, header included. */
  #checkHeader(bytes: Uint8Array, at: number): number {
    // Callers guarantee 8 bytes at `at`; `?? 0` only satisfies the type checker.
    const where = this.#messageStart;
    const prefix = bytes[at] ?? 0;
    if (prefix !== TAG_PREFIX_KMIP && prefix !== TAG_PREFIX_EXTENSION) {
      throw new TtlvError('BAD_TAG', where, `message tag must start with 0x42 or 0x54, got 0x${prefix.toString(16)}`);
    }
    const type = bytes[at + 3] ?? 0;
    if (type !== ItemType.Structure) {
      throw new TtlvError('NOT_A_STRUCTURE', where, `a KMIP message must be a Structure, got item type 0x${type.toString(16)}`);
    }
    const len = (((bytes[at + 4] ?? 0) << 24) | ((bytes[at + 5] ?? 0) << 16) | ((bytes[at + 6] ?? 0) << 8) | (bytes[at + 7] ?? 0)) >>> 0;
    const size = TTLV_HEADER_BYTES + len;
    if (size > this.#maxMessageBytes) {
      throw new TtlvError('MESSAGE_TOO_LARGE', where, `header announces ${size} bytes, more than ${this.#maxMessageBytes}`);
    }
    if ((len & 7) !== 0) throw new TtlvError('BAD_LENGTH', where, `structure length ${len} is not a multiple of 8`);
    return size;
  }

  #startFrame(size: number): void {
    this.#frameSize = size;
    this.#frameFill = 0;
    this.#frame = null;
  }

  #append(src: Uint8Array, from: number, count: number): void {
    const need = this.#frameFill + count;
    let frame = this.#frame;
    if (frame === null || frame.length < need) {
      const cap = Math.min(this.#frameSize, Math.max(need, INITIAL_ASSEMBLY_BYTES, frame === null ? 0 : frame.length * 2));
      const grown = Buffer.allocUnsafe(cap);
      if (frame !== null) frame.copy(grown, 0, 0, this.#frameFill);
      frame = grown;
      this.#frame = grown;
    }
    frame.set(src.subarray(from, from + count), this.#frameFill);
    this.#frameFill = need;
  }
}
