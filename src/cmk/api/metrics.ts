/**
 * Prometheus metrics of the admin API (docs/governance.md "Metrics"): request counts and latency per route
 * template (never per raw URL: a hostile client requesting random paths must not create unbounded series),
 * tenants by state (collected from the repository at scrape time), and whatever registries the composition
 * root injects (the KMIP server's operation counters).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Latency buckets in seconds: admin calls are mostly 1-50 ms database round trips; the tail catches L1 checks. */
export const HTTP_LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface AdminMetricsOptions {
  /** Extra registries exposed on /metrics too (e.g. the KMIP server's ops counters). Names must not collide. */
  readonly registries?: readonly Registry[];
  /** Tenants per state, read at scrape time. Errors are swallowed (the gauge keeps its last values). */
  readonly tenantsByState?: () => Promise<Readonly<Record<string, number>>>;
}

export class AdminMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly latency: Histogram<'method' | 'route'>;
  private readonly exposed: Registry;

  constructor(opts: AdminMetricsOptions = {}) {
    this.registry = new Registry();
    this.requests = new Counter({
      name: 'openkcm_admin_http_requests_total',
      help: 'Admin API requests by method, route template and status code',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'openkcm_admin_http_request_duration_seconds',
      help: 'Admin API request latency by method and route template',
      labelNames: ['method', 'route'] as const,
      buckets: [...HTTP_LATENCY_BUCKETS],
      registers: [this.registry],
    });
    const tenantsByState = opts.tenantsByState;
    if (tenantsByState !== undefined) {
      new Gauge({
        name: 'openkcm_tenants',
        help: 'Tenants by governance state',
        labelNames: ['state'] as const,
        registers: [this.registry],
        async collect(): Promise<void> {
          try {
            const counts = await tenantsByState();
            this.reset();
            for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
          } catch {
            // A scrape must not fail because the database blinked; /readyz reports that.
          }
        },
      });
    }
    this.exposed = opts.registries !== undefined && opts.registries.length > 0 ? Registry.merge([this.registry, ...opts.registries]) : this.registry;
  }

  get contentType(): string {
    return this.exposed.contentType;
  }

  exposition(): Promise<string> {
    return this.exposed.metrics();
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.latency.observe({ method, route }, seconds);
  }
}
