/**
 * The background re-wrap jobs of this node and their progress (issue 17 item 8: "the background re-wrap, whose
 * progress is also exposed through the CLI"). A job re-seals every envelope of one tenant not sealed under its
 * current KEK version (src/vault/base-vault.ts rewrapTenant): after an L3 rotation, or the start-up migration off the
 * development KEK (src/appliance/kmip-app.ts). One job per tenant at a time; the last job of each tenant is kept for
 * `GET /v1/tenants/:id/keys/rewrap` (src/cmk/api/rewrap-routes.ts) and `openkcm keys rewrap-status`.
 */
import type { RewrapJobView, RewrapPort } from '../cmk/api/rewrap-routes.js';
import type { Governance } from '../cmk/repository/index.js';
import type { RewrapOptions, RewrapProgress } from '../vault/base-vault.js';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';

interface Job {
  readonly tenant: string;
  state: RewrapJobView['state'];
  progress: RewrapProgress;
  readonly startedAt: number;
  finishedAt?: number;
  error?: string;
  /** Resolves with the final progress, or undefined when the job failed. */
  finished: Promise<RewrapProgress | undefined>;
}

export type RewrapFn = (tenant: string, options: RewrapOptions) => Promise<RewrapProgress>;

export class RewrapJobs {
  readonly #rewrap: RewrapFn;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #jobs = new Map<string, Job>();
  readonly #stop = new AbortController();

  constructor(rewrap: RewrapFn, logger: Logger, now: () => number = Date.now) {
    this.#rewrap = rewrap;
    this.#log = logger;
    this.#now = now;
  }

  /** Starts a job for `tenant` unless one runs; returns the running job either way. */
  start(tenant: string): RewrapJobView {
    const running = this.#jobs.get(tenant);
    if (running?.state === 'running') return this.#view(running);
    const job: Job = {
      tenant, state: 'running', progress: { done: 0, total: 0, rewrapped: 0, failed: 0 }, startedAt: this.#now(),
      finished: Promise.resolve(undefined),
    };
    job.finished = (async (): Promise<RewrapProgress | undefined> => {
      try {
        const p = await this.#rewrap(tenant, { signal: this.#stop.signal, onProgress: (x) => { job.progress = x; } });
        job.progress = p;
        job.state = this.#stop.signal.aborted ? 'stopped' : 'done';
        this.#log.info('re-wrap job finished', { tenant, ...p });
        return p;
      } catch (e) {
        job.state = 'failed';
        job.error = describeError(e).errMessage;
        this.#log.warn('re-wrap job failed', { tenant, ...describeError(e) });
        return undefined;
      } finally {
        job.finishedAt = this.#now();
      }
    })();
    this.#jobs.set(tenant, job);
    return this.#view(job);
  }

  /** Runs a job for `tenant` to its end (the start-up migration); rejects when it failed. */
  async run(tenant: string): Promise<RewrapProgress> {
    this.start(tenant);
    const job = this.#jobs.get(tenant);
    const p = await job?.finished;
    if (p === undefined) throw new Error(job?.error ?? 're-wrap job failed');
    return p;
  }

  /** The running or last job of `tenant`. */
  status(tenant: string): RewrapJobView | undefined {
    const j = this.#jobs.get(tenant);
    return j === undefined ? undefined : this.#view(j);
  }

  /** Stops every running job after its current batch (node shutdown); resolves when they have stopped. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.all([...this.#jobs.values()].map((j) => j.finished));
  }

  get signal(): AbortSignal { return this.#stop.signal; }

  #view(j: Job): RewrapJobView {
    const end = j.finishedAt ?? this.#now();
    const elapsedS = Math.max(0.001, (end - j.startedAt) / 1000);
    const rate = j.progress.done / elapsedS;
    const left = j.progress.total - j.progress.done;
    return {
      tenant: j.tenant, state: j.state, ...j.progress,
      startedAt: new Date(j.startedAt).toISOString(),
      ...(j.finishedAt === undefined ? {} : { finishedAt: new Date(j.finishedAt).toISOString() }),
      ratePerSecond: Math.round(rate * 10) / 10,
      ...(j.state === 'running' && rate > 0 ? { etaSeconds: Math.ceil(left / rate) } : {}),
      ...(j.error === undefined ? {} : { error: j.error }),
    };
  }
}

/** The admin API's view of the re-wrap jobs; a start is audited in the tenant's chain. */
export function rewrapPort(jobs: RewrapJobs, governance: Governance): RewrapPort {
  return {
    start: async (tenant, actor) => {
      const started = jobs.status(tenant)?.state !== 'running';
      const job = jobs.start(tenant);
      if (started) await governance.audit.appendSync({ principal: actor, tenant, operation: 'keys.rewrap', object: JSON.stringify({ total: job.total }), result: 'ok' });
      return { job, started };
    },
    status: (tenant) => jobs.status(tenant),
    exists: async (tenant) => (await governance.getTenant(tenant)) !== undefined,
  };
}
