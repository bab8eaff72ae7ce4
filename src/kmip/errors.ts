/**
 * The one KMIP error catalog (STYLE.md "one error module"): every error the server or
 * client raises carries a stable string code, and each code maps to the KMIP Result
 * Reason that goes on the wire — in ONE place, so both transports and every operation
 * agree.
 *
 * Why two reasons per code: KMIP 2.0 added many precise reasons (KMIP 2.1 §11.46,
 * Table 479: 0x19–0x4C) and retired two 1.x ones (0x0B Illegal Operation and 0x0E Index
 * Out of Bounds are "(Reserved)" in 2.1). A 1.x client must never see a 2.x-only value,
 * and a 2.x client should get the precise one. The 1.x column follows the KMIP 1.4 §11
 * "Error Handling" tables and, where those are silent, the OASIS 1.4 profile test
 * vectors that exercise the same situation as a 2.1 vector (e.g. SKLC-M-2-14 answers
 * Permission Denied where SKLC-M-2-21 answers Wrong Key Lifecycle State).
 *
 * docs/errors.md carries the same table; test/unit/kmip-errors.test.ts keeps the two in
 * sync.
 */
import { ResultReason, ResultStatus } from './registry.generated.js';
import { TtlvError } from '@openkcm/ttlv';
import { NativeArgumentError, NativeError } from '../native/errors.js';
import type { NativeErrorCode } from '../native/errors.js';

export interface KmipErrorCatalogEntry {
  /** Result Reason sent in KMIP 1.x responses (KMIP 1.4 §9.1.3.2.29, Table 317). */
  readonly reason1x: number;
  /** Result Reason sent in KMIP 2.x responses (KMIP 2.1 §11.46, Table 479). */
  readonly reason2x: number;
  /** One line, safe to send to a client as the Result Message. */
  readonly description: string;
  /** The spec section or OASIS vector that justifies the mapping. */
  readonly ref: string;
}

const R = ResultReason;

/**
 * Catalog order matters for {@link codeForResultReason}: for a given wire reason, the
 * FIRST code that maps to it is the one the client reports, so generic codes come
 * before the specific ones that share their 1.x reason.
 */
export const KMIP_ERROR_CATALOG = {
  // ---- generic reasons, identical in 1.x and 2.x --------------------------------------
  ITEM_NOT_FOUND: {
    reason1x: R.ItemNotFound, reason2x: R.ObjectNotFound,
    description: 'No managed object with the specified Unique Identifier exists',
    ref: 'KMIP 1.4 §11.11-11.17 (Item Not Found); KMIP 2.1 §6.1.x error tables and vector BL-M-4-21 (Object Not Found)',
  },
  RESPONSE_TOO_LARGE: {
    reason1x: R.ResponseTooLarge, reason2x: R.ResponseTooLarge,
    description: 'The response exceeds the Maximum Response Size of the request',
    ref: 'KMIP 1.4 §11.1; KMIP 2.1 §11.46',
  },
  AUTHENTICATION_NOT_SUCCESSFUL: {
    reason1x: R.AuthenticationNotSuccessful, reason2x: R.AuthenticationNotSuccessful,
    description: 'The authentication information could not be validated or was not found',
    ref: 'KMIP 1.4 §9.1.3.2.29; KMIP 2.1 §11.46',
  },
  INVALID_MESSAGE: {
    reason1x: R.InvalidMessage, reason2x: R.InvalidMessage,
    description: 'The request message was not syntactically understood',
    ref: 'KMIP 1.4 §11.1 (parse errors, duplicate fields); KMIP 2.1 §11.46',
  },
  OPERATION_NOT_SUPPORTED: {
    reason1x: R.OperationNotSupported, reason2x: R.OperationNotSupported,
    description: 'The operation is not supported by the server',
    ref: 'KMIP 1.4 §11.1; KMIP 2.1 §11.46',
  },
  MISSING_DATA: {
    reason1x: R.MissingData, reason2x: R.MissingData,
    description: 'The operation requires information that the request did not contain',
    ref: 'KMIP 1.4 §9.1.3.2.29; KMIP 2.1 §11.46',
  },
  INVALID_FIELD: {
    reason1x: R.InvalidField, reason2x: R.InvalidField,
    description: 'The request is syntactically valid but a field has an invalid value',
    ref: 'KMIP 1.4 §11.1-11.2; KMIP 2.1 §11.46',
  },
  FEATURE_NOT_SUPPORTED: {
    reason1x: R.FeatureNotSupported, reason2x: R.FeatureNotSupported,
    description: 'The operation is supported but a feature requested is not',
    ref: 'KMIP 1.4 §11.1; KMIP 2.1 §11.46',
  },
  OPERATION_CANCELED_BY_REQUESTER: {
    reason1x: R.OperationCanceledByRequester, reason2x: R.OperationCanceledByRequester,
    description: 'The asynchronous operation was canceled by a Cancel request',
    ref: 'KMIP 1.4 §9.1.3.2.29; KMIP 2.1 §11.46',
  },
  CRYPTOGRAPHIC_FAILURE: {
    reason1x: R.CryptographicFailure, reason2x: R.CryptographicFailure,
    description: 'The operation failed due to a cryptographic error',
    ref: 'KMIP 1.4 §11.2; KMIP 2.1 §11.46',
  },
  PERMISSION_DENIED: {
    reason1x: R.PermissionDenied, reason2x: R.PermissionDenied,
    description: 'The client is not allowed to perform the operation',
    ref: 'KMIP 1.4 §11.1; KMIP 2.1 §11.46',
  },
  OBJECT_ARCHIVED: {
    reason1x: R.ObjectArchived, reason2x: R.ObjectArchived,
    description: 'The object must be recovered from the archive first',
    ref: 'KMIP 1.4 §11.11-11.17; KMIP 2.1 §11.46',
  },
  APPLICATION_NAMESPACE_NOT_SUPPORTED: {
    reason1x: R.ApplicationNamespaceNotSupported, reason2x: R.ApplicationNamespaceNotSupported,
    description: 'The Application Namespace is not supported',
    ref: 'KMIP 1.4 §11.2; KMIP 2.1 §11.46',
  },
  KEY_FORMAT_TYPE_NOT_SUPPORTED: {
    reason1x: R.KeyFormatTypeNotSupported, reason2x: R.KeyFormatTypeNotSupported,
    description: 'The object cannot be provided in the requested Key Format Type',
    ref: 'KMIP 1.4 §11.12; KMIP 2.1 §11.46',
  },
  KEY_COMPRESSION_TYPE_NOT_SUPPORTED: {
    reason1x: R.KeyCompressionTypeNotSupported, reason2x: R.KeyCompressionTypeNotSupported,
    description: 'The object cannot be provided in the requested Key Compression Type',
    ref: 'KMIP 1.4 §11.12; KMIP 2.1 §11.46',
  },
  ENCODING_OPTION_ERROR: {
    reason1x: R.EncodingOptionError, reason2x: R.EncodingOptionError,
    description: 'The requested Encoding Option is not supported or not permitted',
    ref: 'KMIP 1.4 §11.12; KMIP 2.1 §11.46',
  },
  KEY_VALUE_NOT_PRESENT: {
    reason1x: R.KeyValueNotPresent, reason2x: R.KeyValueNotPresent,
    description: 'The key value is not present on the server (metadata-only object)',
    ref: 'KMIP 1.4 §9.1.3.2.29; KMIP 2.1 §11.46',
  },
  ATTESTATION_REQUIRED: {
    reason1x: R.AttestationRequired, reason2x: R.AttestationRequired,
    description: 'The operation requires attestation data that was not provided',
    ref: 'KMIP 1.4 §11.1; KMIP 2.1 §11.46',
  },
  ATTESTATION_FAILED: {
    reason1x: R.AttestationFailed, reason2x: R.AttestationFailed,
    description: 'The attestation data provided does not validate',
    ref: 'KMIP 1.4 §11.1; KMIP 2.1 §11.46',
  },
  SENSITIVE: {
    reason1x: R.Sensitive, reason2x: R.Sensitive,
    description: 'A Sensitive key may not be retrieved unwrapped',
    ref: 'KMIP 1.4 §11.12; KMIP 2.1 §11.46, vector BL-M-12-21',
  },
  NOT_EXTRACTABLE: {
    reason1x: R.NotExtractable, reason2x: R.NotExtractable,
    description: 'The object is not Extractable',
    ref: 'KMIP 1.4 §11.12; KMIP 2.1 §11.46',
  },
  OBJECT_ALREADY_EXISTS: {
    reason1x: R.ObjectAlreadyExists, reason2x: R.ObjectAlreadyExists,
    description: 'An object with the requested Unique Identifier already exists',
    ref: 'KMIP 1.4 §9.1.3.2.29; KMIP 2.1 §11.46',
  },
  GENERAL_FAILURE: {
    reason1x: R.GeneralFailure, reason2x: R.GeneralFailure,
    description: 'The request failed for a reason other than the defined reasons',
    ref: 'KMIP 1.4 §9.1.3.2.29; KMIP 2.1 §11.46',
  },

  // ---- 1.x-only reasons (reserved in 2.x) ----------------------------------------------
  ILLEGAL_OPERATION: {
    reason1x: R.IllegalOperation, reason2x: R.InvalidField,
    description: 'The operation is not permitted in this situation',
    ref: 'KMIP 1.4 §11.5, §11.19 (Illegal Operation); 0x0B is Reserved in KMIP 2.1 Table 479, so 2.x falls back to Invalid Field',
  },
  INDEX_OUT_OF_BOUNDS: {
    reason1x: R.IndexOutOfBounds, reason2x: R.ServerLimitExceeded,
    description: 'The server limit on instances of a multi-valued attribute has been reached',
    ref: 'KMIP 1.4 §11.2, §11.15 (Index Out of Bounds); 0x0E is Reserved in KMIP 2.1 Table 479; 2.1 §6.1.2 lists Server Limit Exceeded',
  },

  // ---- 2.x-precise reasons with their 1.x equivalents ----------------------------------
  CODEC_ERROR: {
    reason1x: R.InvalidMessage, reason2x: R.CodecError,
    description: 'The TTLV (or XML/JSON) encoding was badly formed',
    ref: 'KMIP 1.4 §11.1 "Message cannot be parsed" (Invalid Message); KMIP 2.1 §11.46 (Codec Error)',
  },
  PROTOCOL_VERSION_NOT_SUPPORTED: {
    reason1x: R.InvalidMessage, reason2x: R.UnsupportedProtocolVersion,
    description: 'The protocol version of the request is not supported',
    ref: 'KMIP 1.4 §11.1 "Protocol major version mismatch" (Invalid Message); KMIP 2.1 §11.46 (Unsupported Protocol Version)',
  },
  UNKNOWN_MESSAGE_EXTENSION: {
    reason1x: R.FeatureNotSupported, reason2x: R.UnknownMessageExtension,
    description: 'A critical Message Extension is not understood by the server',
    ref: 'KMIP 1.4 §11.1 Criticality Indicator (Feature Not Supported); KMIP 2.1 §11.46',
  },
  INVALID_DATA_TYPE: {
    reason1x: R.InvalidMessage, reason2x: R.InvalidDataType,
    description: 'A field has the wrong TTLV data type',
    ref: 'KMIP 1.4 §11.1 "Error parsing batch item or payload" (Invalid Message); KMIP 2.1 §11.46',
  },
  UNKNOWN_TAG: {
    reason1x: R.InvalidField, reason2x: R.UnknownTag,
    description: 'A tag is not known by the server',
    ref: 'KMIP 1.4 §11.1 "Same major & minor version, unknown field" (Invalid Field); KMIP 2.1 §11.46',
  },
  UNKNOWN_ENUMERATION: {
    reason1x: R.InvalidField, reason2x: R.UnknownEnumeration,
    description: 'An enumerated value is not known by the server',
    ref: 'KMIP 1.4 §11.2 "Object Type is not recognized" (Invalid Field); KMIP 2.1 §11.46',
  },
  NUMERIC_RANGE: {
    reason1x: R.InvalidField, reason2x: R.NumericRange,
    description: 'A number is too large or too small for its data type',
    ref: 'KMIP 2.1 §11.46; no 1.x equivalent, Invalid Field',
  },
  WRONG_KEY_LIFECYCLE_STATE: {
    reason1x: R.PermissionDenied, reason2x: R.WrongKeyLifecycleState,
    description: 'The object state does not allow this operation',
    ref: 'Vectors SKLC-M-2-14 / CS-BC-M-14-14 (Permission Denied) vs SKLC-M-2-21 / CS-BC-M-14-21 (Wrong Key Lifecycle State)',
  },
  OBJECT_DESTROYED: {
    reason1x: R.PermissionDenied, reason2x: R.ObjectDestroyed,
    description: 'The object exists but has been destroyed',
    ref: 'KMIP 2.1 §11.46, vector BL-M-8-21; 1.x: state-based refusal as in SKLC-M-2-14 (Permission Denied)',
  },
  OBJECT_MATERIAL_DESTROYED: {
    reason1x: R.IllegalOperation, reason2x: R.ObjectDestroyed,
    description: 'Get of a destroyed object: only its attributes remain',
    ref: 'KMIP 1.4 §11.12 "server only has attributes for this object" (Illegal Operation); KMIP 2.1 §11.46, vector BL-M-8-21',
  },
  USAGE_LIMIT_EXCEEDED: {
    reason1x: R.PermissionDenied, reason2x: R.UsageLimitExceeded,
    description: 'The usage limits of the object have been exceeded',
    ref: 'KMIP 1.4 §11.18 (Permission Denied); KMIP 2.1 §11.46',
  },
  INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK: {
    reason1x: R.PermissionDenied, reason2x: R.IncompatibleCryptographicUsageMask,
    description: 'The Cryptographic Usage Mask does not allow this operation',
    ref: 'KMIP 1.4 §11.11 "not allowed to use the object according to the specified attributes" (Permission Denied); vector BL-M-2-21',
  },
  ILLEGAL_OBJECT_TYPE: {
    reason1x: R.IllegalOperation, reason2x: R.IllegalObjectType,
    description: 'The operation cannot be performed on this object type',
    ref: 'KMIP 1.4 §11.11 "Check cannot be performed on this object" (Illegal Operation); KMIP 2.1 §11.46',
  },
  INVALID_OBJECT_TYPE: {
    reason1x: R.IllegalOperation, reason2x: R.InvalidObjectType,
    description: 'The specified object is not valid for the requested operation',
    ref: 'KMIP 1.4 §11.12 "Object exists and is not a key" (Illegal Operation); KMIP 2.1 §11.46',
  },
  ATTRIBUTE_NOT_FOUND: {
    reason1x: R.ItemNotFound, reason2x: R.AttributeNotFound,
    description: 'A referenced attribute was not found on the object',
    ref: 'KMIP 1.4 §11.17 (Item Not Found; 1.x Modify Attribute uses Invalid Field, §11.16); KMIP 2.1 §11.46',
  },
  ATTRIBUTE_INSTANCE_NOT_FOUND: {
    reason1x: R.ItemNotFound, reason2x: R.AttributeInstanceNotFound,
    description: 'The attribute exists but the referenced instance does not',
    ref: 'KMIP 1.4 §11.16-11.17 "No matching attribute instance" (Item Not Found); KMIP 2.1 §11.46',
  },
  ATTRIBUTE_READ_ONLY: {
    reason1x: R.PermissionDenied, reason2x: R.AttributeReadOnly,
    description: 'The attribute is read-only for the client',
    ref: 'KMIP 1.4 §11.15-11.17 (Permission Denied); vectors BL-M-7-21, BL-M-10-21 (Attribute Read Only)',
  },
  ATTRIBUTE_SINGLE_VALUED: {
    reason1x: R.IllegalOperation, reason2x: R.AttributeSingleValued,
    description: 'The attribute is single-valued and already has a value',
    ref: 'KMIP 1.4 §11.15 "The specified attribute already exists" (Illegal Operation); vector BL-M-5-21',
  },
  MULTI_VALUED_ATTRIBUTE: {
    reason1x: R.GeneralFailure, reason2x: R.MultiValuedAttribute,
    description: 'Set/Adjust Attribute on an attribute that has several instances',
    ref: 'KMIP 2.1 §6.1.3, §6.1.49; 2.x-only operations, so 1.x falls back to General Failure',
  },
  NON_UNIQUE_NAME_ATTRIBUTE: {
    reason1x: R.InvalidField, reason2x: R.NonUniqueNameAttribute,
    description: 'Another object already has this Name',
    ref: 'KMIP 1.4 §11.2, §11.4 (Invalid Field; §11.15 Add Attribute uses Illegal Operation); KMIP 2.1 §11.46',
  },
  INVALID_ATTRIBUTE: {
    reason1x: R.InvalidField, reason2x: R.InvalidAttribute,
    description: 'The attribute is not valid for this object or operation',
    ref: 'KMIP 1.4 §11.2 (Invalid Field); KMIP 2.1 §11.46',
  },
  INVALID_ATTRIBUTE_VALUE: {
    reason1x: R.InvalidField, reason2x: R.InvalidAttributeValue,
    description: 'The value supplied for an attribute is invalid',
    ref: 'KMIP 1.4 §11.2 "Incorrect attribute value(s) specified" (Invalid Field); KMIP 2.1 §11.46',
  },
  UNSUPPORTED_ATTRIBUTE: {
    reason1x: R.PermissionDenied, reason2x: R.UnsupportedAttribute,
    description: 'The attribute is valid in the specification but not supported here',
    ref: 'KMIP 1.4 §11.15 "attribute that is not supported for this object" (Permission Denied); KMIP 2.1 §11.46',
  },
  KEY_WRAP_TYPE_NOT_SUPPORTED: {
    reason1x: R.FeatureNotSupported, reason2x: R.KeyWrapTypeNotSupported,
    description: 'The Key Wrap Type is not supported by the server',
    ref: 'KMIP 1.4 §11.12 ("Not Supported"); KMIP 2.1 §11.46',
  },
  WRAPPING_OBJECT_NOT_FOUND: {
    reason1x: R.ItemNotFound, reason2x: R.WrappingObjectNotFound,
    description: 'The wrapping key does not exist',
    ref: 'KMIP 1.4 §11.12 "Wrapping key does not exist" (Item Not Found); KMIP 2.1 §11.46',
  },
  WRAPPING_OBJECT_ARCHIVED: {
    reason1x: R.ObjectArchived, reason2x: R.WrappingObjectArchived,
    description: 'The wrapping key is archived',
    ref: 'KMIP 1.4 §11.12 (Object Archived); KMIP 2.1 §11.46',
  },
  WRAPPING_OBJECT_DESTROYED: {
    reason1x: R.PermissionDenied, reason2x: R.WrappingObjectDestroyed,
    description: 'The wrapping key has been destroyed',
    ref: 'KMIP 1.4 §11.12 "not able to be used for wrapping" (Permission Denied); KMIP 2.1 §11.46',
  },
  BAD_CRYPTOGRAPHIC_PARAMETERS: {
    reason1x: R.InvalidField, reason2x: R.BadCryptographicParameters,
    description: 'The Cryptographic Parameters are invalid',
    ref: 'KMIP 1.4 §11.1 (Invalid Field); KMIP 2.1 §11.46',
  },
  WRAPPING_PARAMETERS_MISMATCH: {
    reason1x: R.ItemNotFound, reason2x: R.BadCryptographicParameters,
    description: 'The wrapping key has no Cryptographic Parameters matching those of the Key Wrapping Specification',
    ref: 'KMIP 1.4 §2.1.6, §11.12 "Cryptographic Parameters associated with the object do not exist or do not match" (Item Not Found); KMIP 2.1 §7.18, §6.1.19.1 (Bad Cryptographic Parameters)',
  },
  UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS: {
    reason1x: R.FeatureNotSupported, reason2x: R.UnsupportedCryptographicParameters,
    description: 'The Cryptographic Parameters are valid but not supported here',
    ref: 'KMIP 1.4 §9.1.3.2.29 (Feature Not Supported); KMIP 2.1 §11.46',
  },
  MISSING_INITIALIZATION_VECTOR: {
    reason1x: R.MissingData, reason2x: R.MissingInitializationVector,
    description: 'The IV is required for this cryptographic operation',
    ref: 'KMIP 1.4 §9.1.3.2.29 (Missing Data); KMIP 2.1 §11.46',
  },
  INVALID_CORRELATION_VALUE: {
    reason1x: R.InvalidField, reason2x: R.InvalidCorrelationValue,
    description: 'The streaming Correlation Value is unknown',
    ref: 'KMIP 1.4 §9.1.3.2.29 (Invalid Field); KMIP 2.1 §11.46',
  },
  INVALID_ASYNC_CORRELATION_VALUE: {
    reason1x: R.ItemNotFound, reason2x: R.InvalidAsynchronousCorrelationValue,
    description: 'No outstanding operation has this Asynchronous Correlation Value',
    ref: 'KMIP 1.4 §11.29 Poll (Item Not Found); KMIP 2.1 §11.46',
  },
  SERVER_LIMIT_EXCEEDED: {
    reason1x: R.GeneralFailure, reason2x: R.ServerLimitExceeded,
    description: 'A server limit (storage, object count, ...) has been exceeded',
    ref: 'KMIP 2.1 §11.46; no 1.x equivalent, General Failure',
  },
  INTERNAL_SERVER_ERROR: {
    reason1x: R.GeneralFailure, reason2x: R.InternalServerError,
    description: 'The server had an internal error',
    ref: 'KMIP 2.1 §11.46; no 1.x equivalent, General Failure',
  },

  // ---- OpenKCM conditions --------------------------------------------------------------
  TENANT_REVOKED: {
    reason1x: R.PermissionDenied, reason2x: R.PermissionDenied,
    description: "The tenant's key hierarchy is revoked or unavailable (kill-switch)",
    ref: 'ARCHITECTURE.md §5; the closest spec reason is Permission Denied (KMIP 1.4 §11.1)',
  },
  SERVER_SEALED: {
    reason1x: R.GeneralFailure, reason2x: R.GeneralFailure,
    description: 'The server is sealed: an operator must unseal it (openkcm operator unseal) before it serves keys',
    ref: 'ARCHITECTURE.md §2 MasterKey; no spec reason fits, General Failure (KMIP 1.4 §11.1) like an unavailable server',
  },
  TENANT_UNAVAILABLE: {
    reason1x: R.GeneralFailure, reason2x: R.GeneralFailure,
    description: "The tenant's root key (L1) cannot be reached right now; retry later",
    ref: 'ARCHITECTURE.md §2 recursive unsealing; a transient keystore failure, General Failure (KMIP 1.4 §11.1)',
  },
  AUDIT_BACKLOGGED: {
    reason1x: R.GeneralFailure, reason2x: R.ServerLimitExceeded,
    description: "The tenant's audit trail is backlogged: operations that must be audited are refused for now; retry later",
    ref: 'issue 15 item 4 (src/appliance/governance/audit-gate.ts): refused rather than served unaudited; KMIP 2.1 §11.46 Server Limit Exceeded; no 1.x equivalent, General Failure',
  },
  CONNECTION_CLOSED: {
    reason1x: R.GeneralFailure, reason2x: R.GeneralFailure,
    description: 'Client side only: the connection closed before a response arrived',
    ref: 'Never sent on the wire; General Failure if it ever must be',
  },
  TIMEOUT: {
    reason1x: R.GeneralFailure, reason2x: R.GeneralFailure,
    description: 'Client side only: no response within the configured timeout',
    ref: 'Never sent on the wire; General Failure if it ever must be',
  },
} as const satisfies Record<string, KmipErrorCatalogEntry>;

export type KmipErrorCode = keyof typeof KMIP_ERROR_CATALOG;

export const KMIP_ERROR_CODES: readonly KmipErrorCode[] = Object.keys(KMIP_ERROR_CATALOG) as KmipErrorCode[];

export function isKmipErrorCode(s: string): s is KmipErrorCode {
  return Object.hasOwn(KMIP_ERROR_CATALOG, s);
}

/**
 * Result Reasons that one protocol version answers differently from its column of the catalog, keyed by
 * "major.minor" (issue 20: version-specific behaviour in one table, next to the catalog it amends).
 *
 * 2.0: a key used in a state that forbids the operation. KMIP 2.0 defines Wrong Key Lifecycle State (0x43) but its
 * published profile test cases (kmip-profiles v2.0, SKLC / CS-BC) still answer Permission Denied, as the 1.4 ones
 * do (SKLC-M-2-14); the 2.1 edition (SKLC-M-2-21, CS-BC-M-14-21) is the first to answer Wrong Key Lifecycle State.
 * A 2.0 client is answered as its edition's test cases expect, a 2.1 client with the precise reason.
 */
export const RESULT_REASON_BY_VERSION: Readonly<Record<string, Readonly<Partial<Record<KmipErrorCode, number>>>>> = {
  '2.0': {
    WRONG_KEY_LIFECYCLE_STATE: R.PermissionDenied,
  },
};

/**
 * Result Reason for `code` in the given protocol version: the version's entry in {@link RESULT_REASON_BY_VERSION},
 * else the catalog's 1.x column for major 1 and 2.x column for major 2. Without a minor, the column decides.
 */
export function resultReasonFor(code: KmipErrorCode, version: { readonly major: number; readonly minor?: number }): number {
  if (version.minor !== undefined) {
    const override = RESULT_REASON_BY_VERSION[`${String(version.major)}.${String(version.minor)}`]?.[code];
    if (override !== undefined) return override;
  }
  const entry: KmipErrorCatalogEntry = KMIP_ERROR_CATALOG[code];
  return version.major >= 2 ? entry.reason2x : entry.reason1x;
}

/**
 * Best-effort reverse mapping used by the client: the first catalog code whose reason
 * for `version` is `reason`. Extension reasons (0x8XXXXXXX) and unknown values map to
 * GENERAL_FAILURE; the raw reason stays available on {@link KmipResultError}.
 */
export function codeForResultReason(reason: number | undefined, version: { readonly major: number; readonly minor?: number }): KmipErrorCode {
  if (reason === undefined) return 'GENERAL_FAILURE';
  for (const code of KMIP_ERROR_CODES) {
    if (resultReasonFor(code, version) === reason) return code;
  }
  return 'GENERAL_FAILURE';
}

export interface KmipErrorOptions {
  cause?: unknown;
  /** The request field at fault (spec name, e.g. 'Unique Identifier'), for logs and tests. */
  field?: string;
}

/**
 * An error the server turns into a failed batch item (Result Status Operation Failed),
 * or the client raises locally. `resultReason` is the 2.x value; servers MUST send
 * `resultReasonFor(protocolVersion)` so 1.x clients get a 1.x reason.
 */
export class KmipError extends Error {
  override readonly name = 'KmipError';
  readonly code: KmipErrorCode;
  /** The KMIP 2.x Result Reason; see {@link KmipError.resultReasonFor}. */
  readonly resultReason: number;
  readonly field: string | undefined;

  constructor(code: KmipErrorCode, message?: string, options: KmipErrorOptions = {}) {
    super(message ?? KMIP_ERROR_CATALOG[code].description, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.resultReason = KMIP_ERROR_CATALOG[code].reason2x;
    this.field = options.field;
  }

  resultReasonFor(version: { readonly major: number; readonly minor?: number }): number {
    return resultReasonFor(this.code, version);
  }
}

/** KMIP 1.4 §11.1 / 2.1 §11.46: a decoding failure of the wire bytes. */
export function fromTtlvError(e: TtlvError): KmipError {
  return new KmipError('CODEC_ERROR', `TTLV ${e.code} at offset ${String(e.offset)}: ${e.message}`, { cause: e });
}

/**
 * The single place where any thrown value becomes a KmipError (Cosmian habit: errors
 * convert to Result Reasons in one place). Unknown errors become GENERAL_FAILURE with a
 * fixed message, so internals (paths, stack traces, key ids) never reach a client.
 */
export function toKmipError(e: unknown): KmipError {
  if (e instanceof KmipError) return e;
  if (e instanceof TtlvError) return fromTtlvError(e);
  if (e instanceof NativeArgumentError) return new KmipError('INVALID_FIELD', e.message, { cause: e });
  if (e instanceof NativeError) return fromNativeError(e);
  return new KmipError('GENERAL_FAILURE', undefined, { cause: e });
}

/**
 * Raised by the client when the server answers a batch item with a Result Status other
 * than Success (KMIP 1.4 §6.9-6.11; 2.1 §9.17-9.19).
 */
export class KmipResultError extends Error {
  override readonly name = 'KmipResultError';
  readonly resultStatus: number;
  readonly resultReason: number | undefined;
  readonly resultMessage: string | undefined;
  readonly operation: number | undefined;
  /** The catalog code matching resultReason (GENERAL_FAILURE when unknown). */
  readonly code: KmipErrorCode;

  constructor(init: {
    resultStatus: number;
    resultReason?: number | undefined;
    resultMessage?: string | undefined;
    operation?: number | undefined;
    /** Protocol version of the response, to interpret the reason; defaults to 2.x. */
    version?: { readonly major: number; readonly minor?: number };
  }) {
    const reasonText = init.resultReason === undefined ? 'no reason' : `reason 0x${init.resultReason.toString(16)}`;
    const statusText = init.resultStatus === ResultStatus.OperationPending ? 'pending'
      : init.resultStatus === ResultStatus.OperationUndone ? 'undone' : 'failed';
    super(`KMIP operation ${statusText} (${reasonText})${init.resultMessage === undefined ? '' : `: ${init.resultMessage}`}`);
    this.resultStatus = init.resultStatus;
    this.resultReason = init.resultReason;
    this.resultMessage = init.resultMessage;
    this.operation = init.operation;
    this.code = codeForResultReason(init.resultReason, init.version ?? { major: 2 });
  }
}

/**
 * The native crypto core's error codes (src/native/errors.ts) as KMIP codes — the one place they
 * are mapped (issue 3 §5). Only the client-caused ones carry their message to the client; the
 * rest (arena, mlock, OpenSSL internals) become General Failure with the catalog's text.
 */
export const NATIVE_ERROR_CODES: Readonly<Record<NativeErrorCode, KmipErrorCode>> = {
  // AEAD tag mismatch, RFC 3394/5649 integrity check (KMIP 2.1 vector CS-BC-M-GCM-1: Cryptographic Failure).
  AUTHENTICATION_FAILED: 'CRYPTOGRAPHIC_FAILURE',
  // Bad PKCS#5 padding at the end of a decryption.
  DECRYPT_FAILED: 'CRYPTOGRAPHIC_FAILURE',
  // The cached key was wiped (Revoke/Destroy/eviction) under a stream that used it.
  STALE_KEY: 'WRONG_KEY_LIFECYCLE_STATE',
  ARENA_FULL: 'SERVER_LIMIT_EXCEEDED',
  STREAMS_FULL: 'SERVER_LIMIT_EXCEEDED',
  UNSUPPORTED: 'UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS',
  UNAVAILABLE: 'GENERAL_FAILURE',
  NOT_INITIALIZED: 'GENERAL_FAILURE',
  ALREADY_INITIALIZED: 'GENERAL_FAILURE',
  CRYPTO_FAILURE: 'GENERAL_FAILURE',
  RANDOM_FAILURE: 'GENERAL_FAILURE',
  MLOCK_FAILED: 'GENERAL_FAILURE',
  MMAP_FAILED: 'GENERAL_FAILURE',
  WRONG_THREAD: 'GENERAL_FAILURE',
};

const NATIVE_CLIENT_VISIBLE: ReadonlySet<NativeErrorCode> = new Set(['AUTHENTICATION_FAILED', 'DECRYPT_FAILED', 'STALE_KEY', 'UNSUPPORTED']);

export function fromNativeError(e: NativeError): KmipError {
  const code = NATIVE_ERROR_CODES[e.code];
  return new KmipError(code, NATIVE_CLIENT_VISIBLE.has(e.code) ? e.message : undefined, { cause: e });
}
