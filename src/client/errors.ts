/**
 * Client-side transport errors.
 *
 * These are NOT KMIP Result Reasons: they describe what happened to the connection (it never
 * opened, it closed, a response did not arrive in time, the peer sent bytes we cannot frame).
 * A server that answers with a failed batch item raises `KmipResultError` from
 * src/kmip/errors.ts instead, which carries the server's Result Status/Reason/Message.
 */

export type KmipClientErrorCode =
  /** TCP connect + TLS handshake did not finish within `timeouts.connect`. */
  | 'CONNECT_TIMEOUT'
  /** TCP or TLS failed before the connection was established (refused, bad certificate, ...). */
  | 'CONNECT_FAILED'
  /** No response within `timeouts.request`; the connection is closed because the stream is out of sync. */
  | 'REQUEST_TIMEOUT'
  /** The connection closed (by either side, or after an earlier error) while the request was pending or before it was sent. */
  | 'CONNECTION_CLOSED'
  /** The peer sent something that is not a well-formed KMIP response (framing, TTLV, message structure). */
  | 'PROTOCOL_ERROR'
  /** More than `maxPendingRequests` requests in flight: the caller outran the server. */
  | 'TOO_MANY_PENDING'
  /** A request message would exceed `maxMessageBytes`. */
  | 'REQUEST_TOO_LARGE'
  /** A response does not match its request (batch count, Unique Batch Item ID, operation). */
  | 'RESPONSE_MISMATCH'
  /** Discover Versions found no protocol version supported by both sides. */
  | 'VERSION_NEGOTIATION_FAILED'
  /** A caller argument is invalid (names the constraint). */
  | 'INVALID_ARGUMENT';

export class KmipClientError extends Error {
  readonly code: KmipClientErrorCode;

  constructor(code: KmipClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KmipClientError';
    this.code = code;
  }
}
