/**
 * Latency histograms for the load generator (issue 7 §2): HdrHistogram (hdr-histogram-js),
 * because percentiles of a latency distribution must come from every sample, not from a
 * reservoir or a running mean, and HDR keeps every sample in constant memory with a bounded
 * relative error.
 *
 * Values are recorded in NANOSECONDS with 3 significant digits: at 100 µs the resolution is
 * 0.1 µs, at 10 ms it is 10 µs, so the p50 of a ~0.1 ms loopback round trip is not rounded
 * away. The plain-JS implementation is used (no WebAssembly) so no extra runtime is loaded.
 */
import { build } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/**
 * The largest latency the histogram tracks: 5 minutes. Anything slower is clamped to it and
 * counted; a benchmark where a request takes minutes has failed anyway, and the bound keeps
 * the histogram's bucket array (its memory) fixed.
 */
export const MAX_TRACKABLE_NS = 300 * 1e9;

/** The percentiles every report carries, in milliseconds (the unit of the JSON contract). */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
  /** Samples recorded. */
  readonly count: number;
}

/** Round to microseconds, expressed in ms: more digits would claim precision HDR does not keep. */
function ms(ns: number): number {
  return Math.round(ns / 1000) / 1000;
}

export class LatencyHistogram {
  readonly #h: Histogram;
  /** Samples above MAX_TRACKABLE_NS, clamped. */
  clamped = 0;

  constructor() {
    this.#h = build({
      bitBucketSize: 32,
      autoResize: false,
      lowestDiscernibleValue: 1,
      highestTrackableValue: MAX_TRACKABLE_NS,
      numberOfSignificantValueDigits: 3,
      useWebAssembly: false,
    });
  }

  /** Record one latency, in nanoseconds (negative values, from clock skew, count as 0). */
  recordNs(ns: number): void {
    let v = Math.round(ns);
    if (v < 0) v = 0;
    if (v > MAX_TRACKABLE_NS) {
      v = MAX_TRACKABLE_NS;
      this.clamped++;
    }
    this.#h.recordValue(v);
  }

  /** Record a latency given in milliseconds (performance.now() differences). */
  recordMs(msValue: number): void {
    this.recordNs(msValue * 1e6);
  }

  get count(): number {
    return this.#h.totalCount;
  }

  /** Value at percentile q (0-100), nanoseconds. */
  percentileNs(q: number): number {
    return this.#h.getValueAtPercentile(q);
  }

  /** Adds every sample of `other` (merging per-connection histograms). */
  add(other: LatencyHistogram): void {
    this.#h.add(other.#h);
    this.clamped += other.clamped;
  }

  reset(): void {
    this.#h.reset();
    this.clamped = 0;
  }

  summary(): LatencySummary {
    const h = this.#h;
    if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, count: 0 };
    return {
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
      mean: ms(h.mean),
      count: h.totalCount,
    };
  }
}
