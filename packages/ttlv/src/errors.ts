/**
 * The one error type of the TTLV codec. Decoding is a pure function of bytes and throws
 * nothing but TtlvError, so callers (framer, server connection, message model) can map
 * every codec failure to KMIP Result Reason "Invalid Message" in one place
 * (src/kmip/errors.ts `fromTtlvError`).
 */

/**
 * Stable machine-readable codes. Never rename one: logs, metrics and the KMIP error
 * catalog key on them.
 */
export type TtlvErrorCode =
  /** The input ends inside an item header, value or padding. */
  | 'TRUNCATED'
  /** The tag's high byte is neither 0x42 (KMIP) nor 0x54 (extension), KMIP 1.4 §9.1.1.1. */
  | 'BAD_TAG'
  /** Unknown Item Type byte, KMIP 1.4 §9.1.1.2 / KMIP 2.1 §10.1.2. */
  | 'BAD_TYPE'
  /** A length that the item type does not allow (KMIP 1.4 §9.1.1.3 Table 287), or children that do not exactly fill their structure. */
  | 'BAD_LENGTH'
  /** A padding byte is not zero. */
  | 'BAD_PADDING'
  /** A Boolean value other than 0 or 1, KMIP 1.4 §9.1.1.4. */
  | 'BAD_BOOLEAN'
  /** Text String bytes are not valid UTF-8, KMIP 1.4 §9.1.1.4. */
  | 'BAD_UTF8'
  /** Limit `maxDepth`. */
  | 'TOO_DEEP'
  /** Limit `maxItems`. */
  | 'TOO_MANY_ITEMS'
  /** Limit `maxMessageBytes`. */
  | 'MESSAGE_TOO_LARGE'
  /** Limit `maxTextBytes`. */
  | 'TEXT_TOO_LONG'
  /** Limit `maxByteStringBytes`. */
  | 'BYTES_TOO_LONG'
  /** Limit `maxBigIntegerBytes`. */
  | 'BIG_INTEGER_TOO_LONG'
  /** Bytes left over after the one top-level item. */
  | 'TRAILING_BYTES'
  /** The framer requires a top-level Structure (every KMIP message is one, KMIP 1.4 §7.1). */
  | 'NOT_A_STRUCTURE'
  /** encodeTtlv was given a tree that cannot be encoded (wrong value type, out of range, ...). */
  | 'ENCODE';

/** Every code, for tests and docs that must stay in sync with the union above. */
export const TTLV_ERROR_CODES: readonly TtlvErrorCode[] = [
  'TRUNCATED',
  'BAD_TAG',
  'BAD_TYPE',
  'BAD_LENGTH',
  'BAD_PADDING',
  'BAD_BOOLEAN',
  'BAD_UTF8',
  'TOO_DEEP',
  'TOO_MANY_ITEMS',
  'MESSAGE_TOO_LARGE',
  'TEXT_TOO_LONG',
  'BYTES_TOO_LONG',
  'BIG_INTEGER_TOO_LONG',
  'TRAILING_BYTES',
  'NOT_A_STRUCTURE',
  'ENCODE',
];

/**
 * `offset` is the byte offset of the fault:
 * - for header-level faults (tag, type, length, truncation, limits) the first byte of the
 *   offending item's header;
 * - BAD_PADDING: the first non-zero padding byte;
 * - BAD_BOOLEAN, BAD_UTF8: the first byte of the item's value;
 * - TRAILING_BYTES: the first byte after the top-level item;
 * - in the framer: the offset in the whole stream (bytes pushed since construction);
 * - ENCODE: -1 (there are no bytes yet).
 */
export class TtlvError extends Error {
  readonly code: TtlvErrorCode;
  readonly offset: number;

  constructor(code: TtlvErrorCode, offset: number, message: string) {
    super(`${message} (${code} at byte ${offset})`);
    this.name = 'TtlvError';
    this.code = code;
    this.offset = offset;
  }
}
