/**
 * The contract between the transport-independent request processor (src/server/processor.ts) and the
 * operation handlers (one file per KMIP operation under src/operations, STYLE.md rule 4).
 *
 * The processor decodes the message, authorises, resolves ID placeholders and calls
 * `handler.handle(ctx, request)` with the TYPED request from src/kmip/payloads; the handler returns the
 * typed response or throws a KmipError from the one catalog (src/kmip/errors.ts). Handlers never see
 * bytes, sockets or TLS.
 */
import type { ProtocolVersion } from '../kmip/message.js';
import type { KmipVersion } from '../kmip/registry.js';

/** Who is asking: the identity from the client certificate and the tenant it maps to (ARCHITECTURE §4). */
export interface Principal {
  /** CN or SAN URI of the client certificate. */
  readonly identity: string;
  readonly tenant: string;
}

/**
 * Per-connection state.
 *
 * ID Placeholder (KMIP 1.4 §4 and KMIP 2.1 §6.1 preamble): "a temporary variable ... only valid
 * and preserved during the execution of a batch of operations. Once the batch of operations has
 * been completed, the ID Placeholder value SHALL be discarded". So the processor clears it at
 * the start of every request message (`resetIdPlaceholder`, src/operations/registry.ts), and the
 * handlers maintain it inside the batch (src/operations/model/context.ts):
 *  - Create, Register, Locate (exactly one result), Recover — and later Create Key Pair, Derive
 *    Key, Re-key, Certify... — set it to the Unique Identifier they return;
 *  - Locate with zero or several results, and a failed Check, empty it;
 *  - an operation without a Unique Identifier uses it, and fails with Missing Data when empty.
 * Every OASIS test case of this issue that omits Unique Identifier does so inside one batch.
 */
export interface SessionState {
  idPlaceholder: string | undefined;
  /** Free for handlers that keep streaming state (Correlation Value), keyed by their own names. */
  readonly scratch: Map<string, unknown>;
}

export interface RequestContext<Services = unknown> {
  /** The protocol version of the request; the response is written in the same version. */
  readonly protocolVersion: ProtocolVersion;
  readonly version: KmipVersion;
  readonly principal: Principal;
  readonly session: SessionState;
  /** Everything a handler may use: vault, clock, rng, configuration. Defined by the server. */
  readonly services: Services;
  /** The request's arrival time (one clock read per request message). */
  readonly now: Date;
  /**
   * Operation enumeration value of the batch item being handled (set by the processor per item),
   * for checks below the handler that depend on it (object-level authorization, issue 5).
   */
  readonly operation?: number | undefined;
  /**
   * Present when the batch asks for Batch Error Continuation Option Undo (KMIP 1.4 §6.13,
   * 2.1 §9.7): every mutating handler records how to revert its effect, and the processor runs
   * `rollback()` on the journal if a later item of the batch fails.
   */
  readonly undo?: UndoJournal;
}

/** Compensating actions of a batch, run newest first on rollback. */
export interface UndoJournal {
  record(step: () => Promise<void>): void;
}

export interface OperationHandler<Req = unknown, Resp = unknown, Services = unknown> {
  /** Operation enumeration value (registry.generated.ts `Operation`). */
  readonly operation: number;
  /** First KMIP version that defines the operation. */
  readonly since: KmipVersion;
  /** Last version that defines it, when it was removed. */
  readonly until?: KmipVersion;
  /** True when the operation changes state: it answers only after a durable commit. */
  readonly mutating: boolean;
  /**
   * Answers synchronously when nothing below it waits (a Get of a cached record, an Encrypt under a cached key), or
   * with a Promise when it must wait (a durable commit, a first unseal): the processor awaits only the latter
   * (issue 14: no await on synchronous work).
   */
  handle(ctx: RequestContext<Services>, request: Req): Resp | Promise<Resp>;
}
