/**
 * The OpenKCM KMIP client (package export `openkcm/client`): KMIP 1.0-2.1 over mutually
 * authenticated TLS, with pipelining, batches and typed operations. See docs/client.md.
 */
import { KmipClient } from './client.js';
import type { KmipClientOptions } from './client.js';

export {
  KmipClient,
  op,
  nameAttribute,
  parseVersion,
  CLIENT_PROTOCOL_VERSIONS,
} from './client.js';
export type {
  KmipClientOptions,
  KmipVersionString,
  BatchErrorContinuation,
  BatchOptions,
  BatchItemInput,
  BatchOperation,
  BatchOutcome,
  BatchOutcomes,
  SymmetricKeySpec,
} from './client.js';
export {
  KmipConnection,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_CLIENT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_PENDING_REQUESTS,
} from './connection.js';
export type { ConnectionOptions, TlsMinVersion } from './connection.js';
export { KmipClientError } from './errors.js';
export type { KmipClientErrorCode } from './errors.js';

/** Connect a {@link KmipClient}: TLS handshake, then version negotiation unless a version is fixed. */
export function connect(opts: KmipClientOptions): Promise<KmipClient> {
  return KmipClient.connect(opts);
}

// What callers need to build requests and read results, re-exported so that
// `openkcm/client` is enough for typical use.
export { KmipResultError } from '../kmip/errors.js';
export { makeAttribute, findAttribute, findAttributes } from '../kmip/attributes.js';
export type { KmipAttribute } from '../kmip/attributes.js';
export type { ProtocolVersion, RequestMessage, ResponseMessage, ResponseBatchItem } from '../kmip/message.js';
export { keyBlockBytes, symmetricKeyBlock } from '../kmip/payloads/objects.js';
export type { ManagedObject, KeyBlock, CryptographicParameters } from '../kmip/payloads/objects.js';
export {
  ObjectType, Operation, CryptographicAlgorithm, CryptographicUsageMask, NameType, State,
  RevocationReasonCode, ResultStatus, ResultReason, QueryFunction, BlockCipherMode, PaddingMethod, KeyFormatType, Tag,
  WrappingMethod, EncodingOption,
} from '../kmip/registry.generated.js';
export { createPayloads } from '../kmip/payloads/create.js';
export type { CreateRequest, CreateResponse } from '../kmip/payloads/create.js';
export type { GetRequest, GetResponse } from '../kmip/payloads/get.js';
export { decodeKeyWrappingData, encodeKeyWrappingSpecification } from '../kmip/payloads/key-wrapping.js';
export type { KeyInformation, KeyWrappingData, KeyWrappingSpecification } from '../kmip/payloads/key-wrapping.js';
export type { LocateRequest, LocateResponse } from '../kmip/payloads/locate.js';
export type { RegisterRequest, RegisterResponse } from '../kmip/payloads/register.js';
export type { EncryptRequest, EncryptResponse } from '../kmip/payloads/encrypt.js';
export type { DecryptRequest, DecryptResponse } from '../kmip/payloads/decrypt.js';
export type { RevocationReason } from '../kmip/payloads/revoke.js';
export type { QueryResponse } from '../kmip/payloads/query.js';

// Payload codecs, for typed batches: `client.batch([op(getPayloads, { uniqueIdentifier })])`.
export { activatePayloads } from '../kmip/payloads/activate.js';
export { addAttributePayloads } from '../kmip/payloads/add-attribute.js';
export { decryptPayloads } from '../kmip/payloads/decrypt.js';
export { deleteAttributePayloads } from '../kmip/payloads/delete-attribute.js';
export { destroyPayloads } from '../kmip/payloads/destroy.js';
export { discoverVersionsPayloads } from '../kmip/payloads/discover-versions.js';
export { encryptPayloads } from '../kmip/payloads/encrypt.js';
export { getAttributeListPayloads } from '../kmip/payloads/get-attribute-list.js';
export { getAttributesPayloads } from '../kmip/payloads/get-attributes.js';
export { getPayloads } from '../kmip/payloads/get.js';
export { locatePayloads } from '../kmip/payloads/locate.js';
export { modifyAttributePayloads } from '../kmip/payloads/modify-attribute.js';
export { queryPayloads } from '../kmip/payloads/query.js';
export { registerPayloads } from '../kmip/payloads/register.js';
export { revokePayloads } from '../kmip/payloads/revoke.js';
export { rngRetrievePayloads } from '../kmip/payloads/rng-retrieve.js';
export { setAttributePayloads } from '../kmip/payloads/set-attribute.js';
export type { PayloadCodec } from '../kmip/payloads/codec.js';
