/**
 * Per-key serialisation inside one server process. Read-modify-writes of one object run one
 * after another (so concurrent requests on a hot object do not burn their optimistic retries),
 * and a Name check and the write that claims the Name happen under the same key, so two
 * concurrent Creates cannot both take one Name (KMIP 1.4 §3.2 uniqueness). Across processes
 * the store's versions (StoreConflictError) remain the guard.
 */
export class KeyedLocks {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `fn` after every earlier holder of any of `keys` has finished. */
  async run<R>(keys: readonly string[], fn: () => Promise<R>): Promise<R> {
    // Nothing to wait for or to hold (a Create without Names): no promises to chain (issue 14).
    if (keys.length === 0) return fn();
    const unique = [...new Set(keys)].sort();
    const previous = unique.map((k) => this.#tails.get(k) ?? Promise.resolve());
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => { release = resolve; });
    for (const k of unique) this.#tails.set(k, mine);
    try {
      await Promise.all(previous);
      return await fn();
    } finally {
      release();
      for (const k of unique) if (this.#tails.get(k) === mine) this.#tails.delete(k);
    }
  }

  /** Keys currently held or awaited (tests, diagnostics). */
  get size(): number {
    return this.#tails.size;
  }
}

export function objectKey(tenant: string, uid: string): string {
  return `object\u0000${tenant}\u0000${uid}`;
}

export function nameKey(tenant: string, name: string): string {
  return `name\u0000${tenant}\u0000${name}`;
}
