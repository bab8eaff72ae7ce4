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

/**
 * One tenant's records of one interval as they cross the IPC hop: each distinct field value once, and per record
 * four indexes into that table, its time and its keep flag in typed arrays. Structured clone copies typed arrays as
 * bytes; an array of record objects it walked field by field on both sides (about 1.2-1.6 µs a record measured
 * with v8.serialize/deserialize, against 0.4-0.7 packed), and the primary then held four fresh strings per queued
 * record where the principal, operation and result repeat. {@link unpackAuditBatch} is the primary's side.
 */
export interface PackedAuditBatch {
  readonly tenant: string;
  readonly strings: readonly string[];
  /** Per record: principal, operation, object and result, as indexes into `strings`. */
  readonly fields: Uint32Array;
  /** Per record: when it happened, epoch milliseconds (AuditEntry.at). */
  readonly at: Float64Array;
  /** Per record: 1 when AuditEntry.keep is set. */
  readonly keep: Uint8Array;
}

/** Fields per record in {@link PackedAuditBatch.fields}. */
const FIELDS = 4;

/** One tenant's records of the current interval, being packed. */
class Packer {
  readonly #ids = new Map<string, number>();
  readonly #strings: string[] = [];
  readonly #fields: number[] = [];
  readonly #at: number[] = [];
  readonly #keep: number[] = [];

  constructor(readonly tenant: string) {}

  add(e: AuditEntry): void {
    this.#fields.push(this.#id(e.principal), this.#id(e.operation), this.#id(e.object), this.#id(e.result));
    this.#at.push(e.at);
    this.#keep.push(e.keep === true ? 1 : 0);
  }

  pack(): PackedAuditBatch {
    return { tenant: this.tenant, strings: this.#strings, fields: Uint32Array.from(this.#fields), at: Float64Array.from(this.#at), keep: Uint8Array.from(this.#keep) };
  }

  #id(s: string): number {
    let id = this.#ids.get(s);
    if (id === undefined) {
      id = this.#strings.length;
      this.#strings.push(s);
      this.#ids.set(s, id);
    }
    return id;
  }
}

/**
 * The records of a {@link PackedAuditBatch}, in order, as the sink takes them (AuditSink.recordMany). The sender is
 * our own worker, but a message that does not add up is refused whole (TypeError) rather than queued in part.
 */
export function unpackAuditBatch(b: PackedAuditBatch): AuditBatch {
  const { strings, fields, at, keep } = b;
  const n = at.length;
  if (typeof b.tenant !== 'string' || !Array.isArray(strings) || !(fields instanceof Uint32Array) || !(at instanceof Float64Array)
    || !(keep instanceof Uint8Array) || fields.length !== FIELDS * n || keep.length !== n) {
    throw new TypeError('malformed audit batch from a KMIP worker');
  }
  for (let i = 0; i < fields.length; i++) {
    if ((fields[i] as number) >= strings.length) throw new TypeError('malformed audit batch from a KMIP worker: field index out of range');
  }
  for (const s of strings) if (typeof s !== 'string') throw new TypeError('malformed audit batch from a KMIP worker: a field is not text');
  const entries = new Array<AuditEntry>(n);
  for (let i = 0, f = 0; i < n; i++, f += FIELDS) {
    const principal = strings[fields[f] as number] as string;
    const operation = strings[fields[f + 1] as number] as string;
    const object = strings[fields[f + 2] as number] as string;
    const result = strings[fields[f + 3] as number] as string;
    const t = at[i] as number;
    entries[i] = keep[i] === 1 ? { principal, operation, object, result, at: t, keep: true } : { principal, operation, object, result, at: t };
  }
  return { tenant: b.tenant, entries };
}

export interface AuditForwarderOptions {
  /** Hands one message's batches to the primary (process.send in a worker). */
  readonly send: (batches: PackedAuditBatch[]) => void;
  /** Default {@link AUDIT_FORWARD_INTERVAL_MS}. */
  readonly intervalMs?: number;
  /** Default {@link AUDIT_ENTRIES_PER_MESSAGE}. */
  readonly maxEntries?: number;
}

/** The audit records of the current interval, packed per tenant, sent in one message when it ends. */
export class AuditForwarder implements AuditEntryTarget {
  #batches = new Map<string, Packer>();
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #send: (batches: PackedAuditBatch[]) => void;
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
    let packer = this.#batches.get(tenant);
    if (packer === undefined) {
      packer = new Packer(tenant);
      this.#batches.set(tenant, packer);
    }
    packer.add(entry);
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
    const batches: PackedAuditBatch[] = [];
    for (const packer of this.#batches.values()) batches.push(packer.pack());
    this.#batches = new Map();
    this.#count = 0;
    this.#send(batches);
  };
}
