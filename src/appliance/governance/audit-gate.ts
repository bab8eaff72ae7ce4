/**
 * The KMIP side of the audit trail (issue 14 deliverable 4, issue 15 item 4): the processor's audit hook, which
 * turns each batch item into one plain {@link AuditEntry} for the sink (no hashing, no Date → ISO, one array read
 * for the operation's name), and the admission gate, which refuses a tenant's audited operations while its audit
 * queue is full instead of serving them unaudited.
 *
 * Which operations are refused ({@link isAuditGated}): every operation except those that neither release, use nor
 * change key material or objects ({@link AUDIT_UNGATED_OPERATIONS}). The trail must hold every key release (Get,
 * Export, Get with wrapping), every use of a key on the client's behalf (Encrypt, Decrypt, Sign, Signature Verify,
 * MAC, MAC Verify, Derive Key: an oracle is as good as the key), and every change (Create, Register, Re-key,
 * attribute changes, Activate, Revoke, Destroy, ...): a Destroy missing from the trail is an invisible
 * crypto-shred. Deny by default, so an operation added later is gated until someone argues otherwise. What stays
 * served while a tenant's queue is full are read-only lookups of metadata (Locate, Get Attributes, ...), Query and
 * Discover Versions, random bytes and hashes: their records are the ones dropped, counted, and written as one gap
 * record when the flood ends (src/cmk/audit/). A refused operation is audited once: its record is queued if the
 * queue has room by then, or counted as refused in the gap record.
 *
 * The gate asks `admits(tenant)`: the AuditSink itself in the process that owns the chains, or an AuditAdmission
 * fed with the owner's backlog in a KMIP worker process. The hook marks the records of served gated operations
 * `keep`: they are queued even past the quota, because they were admitted and served.
 */
import { AUDIT_REFUSED_RESULT } from '../../cmk/audit/index.js';
import type { AuditEntry } from '../../cmk/audit/index.js';
import { actionOfOperation } from '../../cmk/authz/kmip.js';
import { KmipError } from '../../kmip/errors.js';
import type { KmipErrorCode } from '../../kmip/errors.js';
import { Operation } from '../../kmip/registry.js';
import type { Principal } from '../../operations/types.js';
import type { KmipAuditEvent } from '../../server/processor.js';

/** The refusal's catalog code is the result the sink counts as refused. */
const REFUSED: KmipErrorCode = AUDIT_REFUSED_RESULT;

/** Served even while the tenant's audit queue is full (see the module comment); everything else is refused. */
export const AUDIT_UNGATED_OPERATIONS: ReadonlySet<number> = new Set([
  Operation.DiscoverVersions, Operation.Query, Operation.Locate, Operation.Check, Operation.GetAttributes,
  Operation.GetAttributeList, Operation.Poll, Operation.QueryAsynchronousRequests, Operation.RNGRetrieve,
  Operation.Hash, Operation.Ping,
]);

/** Operation values read from a table rather than a Map (KMIP 2.1 §11.36: the standard ones are below 0x40). */
const TABLE_SIZE = 0x100;
const GATED = new Uint8Array(TABLE_SIZE).fill(1);
for (const op of AUDIT_UNGATED_OPERATIONS) GATED[op] = 0;
const NAMES: string[] = [];

function operationName(op: number): string {
  return `kmip.${actionOfOperation(op) ?? `0x${op.toString(16)}`}`;
}
for (let op = 0; op < TABLE_SIZE; op++) NAMES.push(operationName(op));

/** Whether `operation` is refused while its tenant's audit queue is full. Extensions (0x8XXXXXXX) are. */
export function isAuditGated(operation: number): boolean {
  return operation >= 0 && operation < TABLE_SIZE ? GATED[operation] === 1 : true;
}

/** Anything that answers the admission question: the AuditSink, or a worker's AuditAdmission. */
export interface AuditAdmitter {
  admits(tenant: string): boolean;
}

/** Throws AUDIT_BACKLOGGED for a gated operation of a tenant whose audit queue is full. */
export function auditAdmissionGate(admitter: AuditAdmitter): (principal: Principal, operation: number) => void {
  return (principal, operation) => {
    if (isAuditGated(operation) && !admitter.admits(principal.tenant)) {
      throw new KmipError(REFUSED, 'the audit trail of this tenant is backlogged: this operation is refused until it catches up; retry later');
    }
  };
}

/** What the hook hands over: the sink's recordEntry, or a worker's batcher that forwards to the chain owner. */
export interface AuditEntryTarget {
  recordEntry(tenant: string, entry: AuditEntry): boolean;
}

/** The processor's audit hook (ProcessorDeps.audit): one entry per batch item, nothing else on the caller's path. */
export function kmipAuditHook(target: AuditEntryTarget): (e: KmipAuditEvent) => void {
  return (e) => {
    const op = e.operation;
    const inTable = op >= 0 && op < TABLE_SIZE;
    const ok = e.result === 'success';
    target.recordEntry(e.tenant, {
      principal: e.principal,
      operation: inTable ? NAMES[op] ?? operationName(op) : operationName(op),
      object: e.uid ?? '',
      result: ok ? 'ok' : e.result,
      at: e.at.getTime(),
      keep: ok && (inTable ? GATED[op] === 1 : true),
    });
  };
}
