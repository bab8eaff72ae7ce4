/**
 * `openkcm bench` argument and SLO parsing (issue 7 §2, §4): pure functions, no network.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BENCH_LIMITS, BenchUsageError, evaluateSlo, parseBenchArgs, parseSlo, parseTarget,
} from '../../src/bench/options.js';
import { DEFAULT_SCENARIOS, parseCompareArgs, QUICK_SCENARIOS } from '../../src/bench/compare.js';
import type { LatencySummary } from '../../src/bench/histogram.js';

const BASE = ['--target', '127.0.0.1:5696', '--ca', 'ca.pem', '--cert', 'c.pem', '--key', 'k.pem', '--op', 'get', '--connections', '16', '--duration', '5'];

describe('parseSlo', () => {
  test('the issue\'s example: p99<1ms,p999<10ms', () => {
    assert.deepEqual(parseSlo('p99<1ms,p999<10ms'), [
      { metric: 'p99', comparator: '<', limitMs: 1, text: 'p99<1ms' },
      { metric: 'p999', comparator: '<', limitMs: 10, text: 'p999<10ms' },
    ]);
  });
  test('units us, µs, s and <=; spaces around parts', () => {
    const c = parseSlo('p50 <= 200us, max<2s,p90<150µs');
    assert.deepEqual(c.map((x) => [x.metric, x.comparator, x.limitMs]), [['p50', '<=', 0.2], ['max', '<', 2000], ['p90', '<', 0.15]]);
  });
  test('rejects unknown metrics, units, lower bounds and empty input', () => {
    for (const bad of ['p98<1ms', 'p99<1', 'p99>1ms', 'p99<1min', '', ',', 'p99<-1ms', 'throughput<5ms']) {
      assert.throws(() => parseSlo(bad), BenchUsageError, bad);
    }
  });
});

describe('evaluateSlo', () => {
  const lat: LatencySummary = { p50: 0.1, p90: 0.3, p99: 0.9, p999: 12, max: 20, mean: 0.2, count: 1000 };
  test('one verdict per clause plus errors=0; < is strict, <= is not', () => {
    const v = evaluateSlo(parseSlo('p99<1ms,p999<10ms,p99<0.9ms,p99<=0.9ms'), lat, 0);
    assert.deepEqual(v.map((x) => [x.clause, x.pass]), [
      ['p99<1ms', true], ['p999<10ms', false], ['p99<0.9ms', false], ['p99<=0.9ms', true], ['errors=0', true],
    ]);
    assert.equal(v[1]?.observedMs, 12);
  });
  test('errors fail the implicit clause even when latency passes', () => {
    const v = evaluateSlo(parseSlo('p99<1s'), lat, 3);
    assert.equal(v[0]?.pass, true);
    assert.equal(v[1]?.pass, false);
    assert.match(v[1].note ?? '', /3 errors/);
  });
  test('a run without one successful operation fails every clause', () => {
    const empty: LatencySummary = { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, count: 0 };
    assert.ok(evaluateSlo(parseSlo('p99<1s'), empty, 0).slice(0, 1).every((x) => !x.pass));
  });
});

describe('parseBenchArgs', () => {
  test('required options and defaults (closed loop, pipeline left to the model, batch 1, warm-up 1 s)', () => {
    const a = parseBenchArgs(BASE);
    assert.deepEqual(a.target, { host: '127.0.0.1', port: 5696 });
    assert.equal(a.op, 'get');
    assert.equal(a.connections, 16);
    assert.equal(a.pipeline, undefined);
    assert.equal(a.rate, undefined);
    assert.equal(a.batch, 1);
    assert.equal(a.warmupS, 1);
    assert.equal(a.kmipVersion, undefined);
    assert.deepEqual(a.slo, []);
  });
  test('every option, both --flag value and --flag=value', () => {
    const a = parseBenchArgs([...BASE, '--kmip-version=1.4', '--pipeline', '8', '--rate=5000', '--warmup', '0', '--batch', '10',
      '--json', 'out.json', '--slo', 'p99<1ms', '--servername', 'kmip.example']);
    assert.equal(a.kmipVersion, '1.4');
    assert.equal(a.pipeline, 8);
    assert.equal(a.rate, 5000);
    assert.equal(a.warmupS, 0);
    assert.equal(a.batch, 10);
    assert.equal(a.json, 'out.json');
    assert.equal(a.slo.length, 1);
    assert.equal(a.servername, 'kmip.example');
  });
  test('IPv6 target', () => {
    assert.deepEqual(parseTarget('[::1]:5696'), { host: '::1', port: 5696 });
  });
  test('rejections name the option', () => {
    const cases: [string[], RegExp][] = [
      [BASE.filter((_, i) => i !== 8 && i !== 9), /--op is required/],
      [[...BASE.slice(0, 9), 'delete', ...BASE.slice(10)], /--op must be one of/],
      [[...BASE, '--kmip-version', '3.0'], /--kmip-version/],
      [[...BASE, '--pipeline', '0'], /--pipeline/],
      [[...BASE, '--pipeline', String(BENCH_LIMITS.maxPipeline + 1)], /--pipeline/],
      [[...BASE, '--batch', '1.5'], /--batch/],
      [[...BASE, '--rate', '0'], /--rate/],
      [[...BASE, '--bogus'], /unknown option --bogus/],
      [[...BASE, '--json'], /--json needs a value/],
      [[...BASE, '--op', 'get'], /--op given twice/],
      [BASE.map((x) => (x === '127.0.0.1:5696' ? 'localhost' : x)), /--target must be HOST:PORT/],
      [BASE.map((x) => (x === '16' ? String(BENCH_LIMITS.maxConnections + 1) : x)), /--connections/],
    ];
    for (const [argv, re] of cases) assert.throws(() => parseBenchArgs(argv), (e: unknown) => e instanceof BenchUsageError && re.test(e.message), re.source);
  });
  test('--help needs nothing else', () => {
    assert.equal(parseBenchArgs(['--help']).help, true);
  });
});

describe('parseCompareArgs', () => {
  test('defaults: the issue\'s scenarios, all three targets, KMIP 1.4, 3 repeats', () => {
    const o = parseCompareArgs([]);
    assert.deepEqual(o.scenarios, DEFAULT_SCENARIOS);
    assert.deepEqual(o.targets, ['openkcm', 'pykmip', 'floor']);
    assert.equal(o.kmipVersion, '1.4');
    assert.equal(o.repeat, 3);
  });
  test('--quick, subsets, and the floor needs openkcm', () => {
    const o = parseCompareArgs(['--quick', '--scenarios', 'get-c1', '--targets', 'openkcm,floor', '--duration', '0.5']);
    assert.deepEqual(o.scenarios.map((s) => s.id), ['get-c1']);
    assert.ok(QUICK_SCENARIOS.some((s) => s.id === 'get-c1'));
    assert.deepEqual(o.targets, ['openkcm', 'floor']);
    assert.equal(o.durationS, 0.5);
    assert.throws(() => parseCompareArgs(['--targets', 'floor']), /needs openkcm/);
    assert.throws(() => parseCompareArgs(['--scenarios', 'nope']), /unknown scenario/);
    assert.throws(() => parseCompareArgs(['--duration', '31']), /--duration/);
  });
  test('--workers passes serve\'s worker count through; out of range is a usage error', () => {
    assert.equal(parseCompareArgs([]).workers, undefined);
    assert.equal(parseCompareArgs(['--workers', '1']).workers, 1);
    assert.equal(parseCompareArgs(['--workers=0']).workers, 0);
    assert.throws(() => parseCompareArgs(['--workers', '257']), /--workers/);
  });
  test('every default scenario of the issue table is present', () => {
    assert.deepEqual(DEFAULT_SCENARIOS.map((s) => s.id), ['get-c1', 'get-c16', 'get-open5k', 'get-open10k', 'create-c1', 'create-c16', 'encrypt-b10-c16']);
    const open = DEFAULT_SCENARIOS.filter((s) => s.rate !== undefined);
    assert.ok(open.every((s) => !s.targets.includes('pykmip') && s.connections === 16));
  });
});
