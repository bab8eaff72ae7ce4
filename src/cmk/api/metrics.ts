/**
 * Prometheus metrics of the admin API (docs/governance.md "Metrics"): request counts and latency per route
 * template (never per raw URL: a hostile client requesting random paths must not create unbounded series),
 * tenants by state (collected from the repository at scrape time), and whatever registries the composition
 * root injects (the KMIP server's operation counters).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditLosses, AuditSinkStats } from '../audit/index.js';

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

/** What the audit metrics read at scrape time: the hot-path AuditSink (src/cmk/audit/). */
export interface AuditMetricsSource {
  stats(): AuditSinkStats;
  tenantLosses(): ReadonlyMap<string, AuditLosses>;
}

/**
 * The audit trail's metrics (issue 15 item 4: losses are visible), read from the sink at scrape time, for
 * `deps.metrics.registries`. Per-tenant series exist only for tenants that lost records, so their number is
 * bounded by the tenants (each needs a client certificate), not by traffic.
 */
export function auditMetricsRegistry(sink: AuditMetricsSource): Registry {
  const registry = new Registry();
  /** A counter whose value is read from the sink (prom-client counters only go up: reset, then add the total). */
  const readCounter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name, help, registers: [registry],
      collect(): void {
        this.reset();
        this.inc(read());
      },
    });
  };
  readCounter('openkcm_audit_records_written_total', 'Hot-path audit records written to the chains', () => sink.stats().written);
  readCounter('openkcm_audit_gap_records_total', 'Gap records written (each accounts for dropped records and refused operations)', () => sink.stats().gaps);
  const perTenant = (name: string, help: string, pick: (l: AuditLosses) => number): void => {
    new Counter({
      name, help, labelNames: ['tenant'] as const, registers: [registry],
      collect(): void {
        this.reset();
        for (const [tenant, l] of sink.tenantLosses()) {
          const v = pick(l);
          if (v > 0) this.inc({ tenant }, v);
        }
      },
    });
  };
  perTenant('openkcm_audit_records_dropped_total', 'Audit records dropped because the tenant\'s queue (or the node\'s) was full', (l) => l.dropped);
  perTenant('openkcm_audit_operations_refused_total', 'KMIP operations refused (AUDIT_BACKLOGGED) because the tenant\'s audit queue was full', (l) => l.refused);
  new Gauge({
    name: 'openkcm_audit_queued_records', help: 'Hot-path audit records waiting to be written', registers: [registry],
    collect(): void {
      this.set(sink.stats().queued);
    },
  });
  new Gauge({
    name: 'openkcm_audit_backlogged_tenants', help: 'Tenants whose audit queue is at its quota (their audited operations are refused)', registers: [registry],
    collect(): void {
      this.set(sink.stats().backloggedTenants);
    },
  });
  new Gauge({
    name: 'openkcm_audit_node_backlogged', help: '1 while the node-wide audit queue bound is reached (every tenant is refused)', registers: [registry],
    collect(): void {
      this.set(sink.stats().nodeBacklogged ? 1 : 0);
    },
  });
  return registry;
}
