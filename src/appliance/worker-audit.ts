/**
 * A KMIP worker's audit records on their way to the primary, the owner of every audit chain (issue 14 Deliver 4 and
 * 6; src/appliance/governance/audit-gate.ts kmipAuditHook builds each record, the primary's AuditSink takes the
 * batches).
 *
 * Records are gathered per tenant and leave in one IPC message per {@link AUDIT_FORWARD_INTERVAL_MS}, not one per
 * event-loop turn. At low load a turn holds about one request, so a message per turn was about a message per
 * request: each one a structured-clone serialisation and a pipe write on the KMIP event loop, and a wake-up, a read
 * and a deserialisation in the primary, whose CPU the workers share on a small machine (docs/performance.md
 * "Open-loop tail"; the quiet-machine message rate was not measured). The primary writes the records to the chain once a second
 * (AUDIT_FLUSH_INTERVAL_MS) or per 2,048, so holding them a few milliseconds longer here changes neither when they
 * become durable nor the crash window by more than the interval.
 */
import type { AuditBatch, AuditEntry } from '../cmk/audit/index.js';
import type { AuditEntryTarget } from './governance/audit-gate.js';

/**
 * Longest time a record waits in the worker before it is sent to the primary. Small beside the primary's own flush
 * interval (1 s), large beside the time between two requests at KMIP rates, so a busy worker sends ~100 messages a
 * second whatever its request rate.
 */
export const AUDIT_FORWARD_INTERVAL_MS = 10;

/** Most records one IPC message carries; at this count the batch leaves at once, before its interval ends. */
export const AUDIT_ENTRIES_PER_MESSAGE = 4096;

export interface AuditForwarderOptions {
  /** Hands one message's batches to the primary (process.send in a worker). */
  readonly send: (batches: AuditBatch[]) => void;
  /** Default {@link AUDIT_FORWARD_INTERVAL_MS}. */
  readonly intervalMs?: number;
  /** Default {@link AUDIT_ENTRIES_PER_MESSAGE}. */
  readonly maxEntries?: number;
}

/** The audit records of the current interval, grouped per tenant, sent in one message when it ends. */
export class AuditForwarder implements AuditEntryTarget {
  #batches = new Map<string, AuditEntry[]>();
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #send: (batches: AuditBatch[]) => void;
  readonly #intervalMs: number;
  readonly #maxEntries: number;

  constructor(opts: AuditForwarderOptions) {
    this.#send = opts.send;
    this.#intervalMs = opts.intervalMs ?? AUDIT_FORWARD_INTERVAL_MS;
    this.#maxEntries = opts.maxEntries ?? AUDIT_ENTRIES_PER_MESSAGE;
  }

  /** Records waiting to be sent. */
  get pending(): number {
    return this.#count;
  }

  recordEntry(tenant: string, entry: AuditEntry): boolean {
    let list = this.#batches.get(tenant);
    if (list === undefined) {
      list = [];
      this.#batches.set(tenant, list);
    }
    list.push(entry);
    this.#count++;
    if (this.#count >= this.#maxEntries) this.flush();
    else if (this.#timer === undefined) {
      // One timer per interval, armed by its first record: an idle worker has none.
      this.#timer = setTimeout(this.flush, this.#intervalMs);
      this.#timer.unref();
    }
    return true;
  }

  /** Sends what waits now (the interval's end, a full message, or the worker closing). */
  readonly flush = (): void => {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#count === 0) return;
    const batches: AuditBatch[] = [];
    for (const [tenant, entries] of this.#batches) batches.push({ tenant, entries });
    this.#batches = new Map();
    this.#count = 0;
    this.#send(batches);
  };
}
