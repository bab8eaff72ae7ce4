/**
 * The KMIP XML (the OASIS test-case format, KMIP Profiles 2.1 §5.5.x) and JSON (§5.4.x) encodings of the TTLV tree.
 * They spell tags and enumerations by name, so they need the registry and live beside the model, not in the binary
 * codec (issue 19): `openkcm/ttlv` stays binary TTLV only.
 */
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
