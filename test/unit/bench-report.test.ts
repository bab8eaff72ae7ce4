/**
 * Histogram summaries, medians, ratios and the report writers of `openkcm bench` (issue 7 §2-§3).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram, MAX_TRACKABLE_NS } from '../../src/bench/histogram.js';
import type { BenchResult } from '../../src/bench/load.js';
import { cellOf, markdownReport, median, ratiosFor, svgPlot } from '../../src/bench/report.js';

describe('LatencyHistogram', () => {
  test('percentiles of 1..1000 µs, in ms, within HDR\'s 3 significant digits', () => {
    const h = new LatencyHistogram();
    for (let us = 1; us <= 1000; us++) h.recordNs(us * 1000);
    const s = h.summary();
    assert.equal(s.count, 1000);
    const near = (got: number, want: number): void => { assert.ok(Math.abs(got - want) <= want * 0.001 + 0.001, `${String(got)} vs ${String(want)}`); };
    near(s.p50, 0.5);
    near(s.p90, 0.9);
    near(s.p99, 0.99);
    near(s.p999, 0.999);
    near(s.max, 1);
  });
  test('recordMs, merge, clamping above the trackable maximum, negatives as 0', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    a.recordMs(0.25);
    b.recordNs(MAX_TRACKABLE_NS * 2);
    b.recordNs(-5);
    a.add(b);
    assert.equal(a.count, 3);
    assert.equal(a.clamped, 1);
    assert.ok(a.summary().max >= MAX_TRACKABLE_NS / 1e6 * 0.999);
  });
  test('an empty histogram summarises to zeros', () => {
    assert.deepEqual(new LatencyHistogram().summary(), { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, count: 0 });
  });
});

function result(label: string, tput: number, p50: number, p99: number, errors = 0, cpu: BenchResult['cpu_per_op'] = null): BenchResult {
  return {
    target_label: label, target: '127.0.0.1:1', op: 'get', connections: 1, pipeline: 1, batch: 1, mode: 'closed', rate_ops_s: null,
    kmip_version: '1.4', client: 'full', duration_s: 1, warmup_s: 0, throughput_ops_s: tput, messages_s: tput, ops: tput,
    latency_ms: { p50, p90: p99, p99, p999: p99, max: p99, mean: p50, count: tput },
    service_time_ms: null, send_lag_ms: null, pacing: null, cpu_per_op: cpu, errors, error_kinds: errors > 0 ? { OperationNotSupported: errors } : {},
    request_bytes: 152, response_bytes: 312, loadavg_before: [1, 1, 1], loadavg_after: [1, 1, 1], started_at: '',
  };
}

describe('medians and ratios', () => {
  test('median of odd and even counts', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([]), 0);
  });
  test('a cell takes the median of each figure separately and sums errors', () => {
    const c = cellOf('s', 'openkcm', [result('a', 100, 0.2, 1), result('b', 300, 0.1, 3, 2), result('c', 200, 0.3, 2)]);
    assert.equal(c.throughput_ops_s, 200);
    assert.equal(c.latency_ms.p50, 0.2);
    assert.equal(c.latency_ms.p99, 2);
    assert.equal(c.errors, 2);
    assert.deepEqual(c.error_kinds, { OperationNotSupported: 2 });
  });
  test('ratios: ours ÷ floor and ours ÷ PyKMIP; missing targets give null', () => {
    const cells = [
      cellOf('s', 'openkcm', [result('o', 8000, 0.15, 0.9)]),
      cellOf('s', 'floor', [result('f', 10000, 0.1, 0.6)]),
      cellOf('s', 'pykmip', [result('p', 80, 7.5, 12)]),
      cellOf('t', 'openkcm', [result('o', 10, 1, 1)]),
    ];
    const r = ratiosFor('s', cells);
    assert.deepEqual(r.vsFloor, { throughput: 0.8, p50: 1.5, p99: 1.5 });
    assert.deepEqual(r.vsPyKmip, { throughput: 100, p50Speedup: 50 });
    const t = ratiosFor('t', cells);
    assert.equal(t.vsFloor, null);
    assert.equal(t.vsPyKmip, null);
  });
});

describe('CPU per operation', () => {
  test('a cell takes the median of the runs that measured it; null where none did', () => {
    const c = cellOf('s', 'openkcm', [
      result('a', 100, 0.2, 1, 0, { server_us: 60, generator_us: 40 }),
      result('b', 100, 0.2, 1, 0, { server_us: null, generator_us: 44 }),
      result('c', 100, 0.2, 1, 0, { server_us: 71, generator_us: 42 }),
      result('d', 100, 0.2, 1, 0, null),
    ]);
    assert.deepEqual(c.cpu_per_op, { server_us: 65.5, generator_us: 42 });
    assert.deepEqual(cellOf('s', 'floor', [result('f', 1, 1, 1)]).cpu_per_op, { server_us: null, generator_us: null });
  });
  test('markdown: a CPU row per cell, – where not measured', () => {
    const md = markdownReport([{ id: 's', title: 'Get' }], [
      cellOf('s', 'openkcm', [result('o', 100, 0.2, 1, 0, { server_us: 61.25, generator_us: 40 })]),
      cellOf('s', 'floor', [result('f', 100, 0.1, 1)]),
    ], 1);
    assert.match(md, /\| Scenario \| Target \| server CPU µs\/op \| generator CPU µs\/op \|/);
    assert.match(md, /\| Get \| openkcm \| 61\.3 \| 40\.0 \|/);
    assert.match(md, /\| Get \| floor \| – \| – \|/);
  });
});

describe('writers', () => {
  const scenarios = [{ id: 's', title: 'Get, 1 connection' }, { id: 't', title: 'Create <16> & more' }];
  const cells = [
    cellOf('s', 'openkcm', [result('o', 8000, 0.15, 0.9)]),
    cellOf('s', 'floor', [result('f', 10000, 0.1, 0.6)]),
    cellOf('s', 'pykmip', [result('p', 80, 7.5, 12)]),
    cellOf('t', 'openkcm', [result('o', 0, 0, 0, 5)]),
  ];
  test('markdown: one row per cell, then one ratio row per scenario', () => {
    const md = markdownReport(scenarios, cells, 3);
    assert.match(md, /Medians of 3 run\(s\)/);
    assert.match(md, /\| Get, 1 connection \| openkcm \| 8,000 \| 0\.150 \|/);
    assert.match(md, /\| Get, 1 connection \| 0\.80× \| 1\.50× \| 1\.50× \| 100× \| 50\.00× \|/);
    assert.match(md, /5 \(OperationNotSupported 5\)/);
    assert.match(md, /\| Create <16> & more \| – \| – \| – \| – \| – \|/);
  });
  test('SVG: one marker pair per plotted cell, escaped text, cells without throughput left out', () => {
    const svg = svgPlot(scenarios, cells, 'a < b');
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.equal((svg.match(/<circle cx="[\d.]+" cy="[\d.]+" r="4" fill="white"/g) ?? []).length, 3);
    assert.match(svg, /a &lt; b/);
    assert.match(svg, /Create &lt;16&gt; &amp; more/);
    assert.doesNotMatch(svg, /NaN|Infinity/);
  });
});
