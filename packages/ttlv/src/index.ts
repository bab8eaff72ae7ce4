/**
 * The TTLV codec (KMIP 1.4 §9.1, KMIP 2.1 §10.1): one tree type, the binary decoder,
 * encoder and stream framer, their limits and their one error type. Pure: no sockets,
 * no files, nothing of the KMIP model (lint rules in eslint.config.mjs). The KMIP XML and JSON
 * encodings of the same tree need the registry's names, so they live in src/kmip/encodings.
 */
export * from './types.js';
export { TtlvError, TTLV_ERROR_CODES, type TtlvErrorCode } from './errors.js';
export { DEFAULT_TTLV_LIMITS, MAX_SUPPORTED_DEPTH, resolveLimits, type TtlvLimits } from './limits.js';
export { decodeTtlv, TTLV_HEADER_BYTES, TAG_PREFIX_KMIP, TAG_PREFIX_EXTENSION } from './decode.js';
export { encodeTtlv, encodeTtlvWithin, measureTtlv, ENCODE_MAX_DEPTH } from './encode.js';
export { EncodedStructure } from './encoded.js';
export { TtlvFramer } from './framer.js';
export {
  structure,
  int,
  long,
  bigInt,
  enumeration,
  bool,
  text,
  bytes,
  dateTime,
  interval,
  dateTimeExtended,
  findChild,
  findChildren,
  isStructure,
} from './build.js';
