/**
 * Ping (KMIP 2.1 §6.1.36): "used to determine if a server is alive and responding". Empty request, empty response.
 * The operation is new in 2.1 (the Operation enumeration has no Ping before it), so `since: '2.1'`: a 1.x or 2.0
 * request is answered Operation Not Supported by the processor, and Query lists Ping only at 2.1 (both from the
 * registry, src/operations/registry.ts).
 *
 * Authorisation is that of Query and Discover Versions: Cedar's `KmipSession` group (src/cmk/authz/schema.ts),
 * checked at operation level against the client's Tenant; Ping names no object, so there is no object-level check.
 *
 * "The server MAY treat the Ping operation as a non-logged operation" (§6.1.36). OpenKCM takes the MAY for its
 * operational log: a Ping writes nothing there (unlike Log, §6.1.29), so a monitor pinging every few seconds does
 * not fill it. It does not take it for the tenant's audit trail: the trail records every answered batch item, and a
 * per-operation exception would be a hole in a record that is deny-by-default (src/server/audit-gate.ts). Ping is
 * one of the operations served while a tenant's audit queue is full (AUDIT_UNGATED_OPERATIONS), so its records are
 * among those dropped and counted first under a flood, and a Ping never waits on the audit trail.
 */
import { Operation } from '../kmip/registry.js';
import type { PingRequest, PingResponse } from '../kmip/payloads/ping.js';
import type { OperationServices } from './services.js';
import type { OperationHandler } from './types.js';

/** The one answer: nothing to compute, and a synchronous handler costs the processor no await (issue 14). */
const PONG: PingResponse = Object.freeze({});

export const pingOperation: OperationHandler<PingRequest, PingResponse, OperationServices> = {
  operation: Operation.Ping,
  since: '2.1',
  mutating: false,
  handle(): PingResponse {
    return PONG;
  },
};
