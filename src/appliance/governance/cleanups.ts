/**
 * The governance plane's shutdown list: each step of the start registers how to undo itself, and close (or a failed
 * start) runs them in reverse, so the database closes last and the audit sink flushes before it.
 */
import { describeError } from '../../common/log.js';
import type { Logger } from '../../common/log.js';

export class Cleanups {
  readonly #steps: (() => Promise<void>)[] = [];
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  push(step: () => Promise<void>): void {
    this.#steps.push(step);
  }

  pushSync(step: () => void): void {
    this.#steps.push(() => {
      step();
      return Promise.resolve();
    });
  }

  /** Runs every registered step, newest first; a failing step is logged and the rest still run. */
  async closeAll(): Promise<void> {
    for (const c of this.#steps.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        this.#log.error('governance plane: error while closing', describeError(e));
      }
    }
  }
}
