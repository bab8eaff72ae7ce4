/**
 * The admission check of a KMIP worker process that does not own the sink (issue 14 deliverable 6): the chain
 * owner sends {@link AuditSink.backlog} whenever it changes (onBacklogChange), and the worker's gate asks this.
 */
import type { AuditBacklog } from './sink.js';

export class AuditAdmission {
  private node = false;
  private tenants: ReadonlySet<string> = new Set();

  update(b: AuditBacklog): void {
    this.node = b.node;
    this.tenants = new Set(b.tenants);
  }

  admits(tenant: string): boolean {
    return !this.node && !this.tenants.has(tenant);
  }
}
