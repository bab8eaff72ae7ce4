/**
 * Listeners that record a change (in the governance plane: an audit record) and may return a promise. The change's
 * caller awaits {@link notifyAudited} before it answers, so an answer always follows its durable record and two
 * changes made one after the other are recorded in that order (fire-and-forget appends raced for the chain head,
 * and an answer could precede a record that was then lost). A listener's failure never undoes or fails the change
 * itself: listeners log their own errors.
 */
export type AuditedListener<T> = (change: T) => void | Promise<void>;

export async function notifyAudited<T>(listeners: Iterable<AuditedListener<T>>, change: T): Promise<void> {
  const pending: Promise<void>[] = [];
  for (const l of listeners) {
    try {
      const r = l(change);
      if (r !== undefined) pending.push(r.catch(ignore));
    } catch {
      ignore();
    }
  }
  if (pending.length > 0) await Promise.all(pending);
}

function ignore(): void {
  // see the module comment: the listener logged it
}
