/**
 * The TTLV codec (KMIP 1.4 §9.1, KMIP 2.1 §10.1): one tree type, the binary decoder,
 * encoder and stream framer, their limits and their one error type. Pure: no sockets,
 * no files (lint rule in eslint.config.mjs).
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
// The KMIP XML (OASIS test-case format) and JSON encodings of the same tree.
export {
  KmipEncodingError,
  xmlToTtlv,
  xmlStringToTtlv,
  ttlvToXml,
  ttlvToXmlString,
  parseXml,
  serializeXml,
  XmlSyntaxError,
  VALUE_CONTEXT_RULES,
  type XmlElement,
  type TextEncodingOptions,
} from './xml.js';
export { ttlvToJson, ttlvToJsonString, jsonToTtlv, jsonStringToTtlv, type KmipJsonItem } from './json.js';
