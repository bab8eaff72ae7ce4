/**
 * The listeners of one source's changes (the client trust, the certificate registry): called in turn after each
 * change. One that throws is logged and does not keep the others from running: a failing re-check of one listener
 * must not leave a revoked certificate's connections open on another.
 */
import { describeError } from './log.js';
import type { Logger } from './log.js';

export class ChangeListeners {
  readonly #listeners = new Set<() => void>();
  readonly #failure: string;
  readonly #log: Logger | undefined;

  /** `failure`: the log line of a listener that throws. */
  constructor(failure: string, log: Logger | undefined) {
    this.#failure = failure;
    this.#log = log;
  }

  /** Adds `listener`; returns the function that removes it. */
  add(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  notify(): void {
    for (const l of this.#listeners) {
      try {
        l();
      } catch (e) {
        this.#log?.error(this.#failure, describeError(e));
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
