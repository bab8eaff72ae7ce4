/**
 * Reports of `openkcm bench compare` (issue 7 §3): medians of repeated runs, ratios against the
 * TLS floor and PyKMIP, a markdown table and a latency-vs-throughput plot as hand-written SVG
 * (no plotting dependency; an SVG diff is readable in review). Pure functions over results.
 */
import type { LatencySummary } from './histogram.js';
import type { BenchResult } from './load.js';

export type TargetName = 'openkcm' | 'pykmip' | 'floor';
export const TARGET_NAMES: readonly TargetName[] = ['openkcm', 'pykmip', 'floor'];

export interface Cell {
  readonly scenario: string;
  readonly target: TargetName;
  readonly runs: readonly BenchResult[];
  /** Median of each figure over the runs, taken figure by figure. */
  readonly throughput_ops_s: number;
  readonly latency_ms: LatencySummary;
  /** Sum over the runs. */
  readonly errors: number;
  readonly error_kinds: Readonly<Record<string, number>>;
  /** Median CPU per operation over the runs that measured it, µs (load.ts CpuPerOp); null where none did. */
  readonly cpu_per_op: { readonly server_us: number | null; readonly generator_us: number | null };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

export function cellOf(scenario: string, target: TargetName, runs: readonly BenchResult[]): Cell {
  const lat = (k: keyof LatencySummary): number => round3(median(runs.map((r) => r.latency_ms[k])));
  const kinds: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.error_kinds)) kinds[k] = (kinds[k] ?? 0) + v;
  return {
    scenario, target, runs,
    throughput_ops_s: Math.round(median(runs.map((r) => r.throughput_ops_s))),
    latency_ms: {
      p50: lat('p50'), p90: lat('p90'), p99: lat('p99'), p999: lat('p999'), max: lat('max'), mean: lat('mean'),
      count: Math.round(median(runs.map((r) => r.latency_ms.count))),
    },
    errors: runs.reduce((s, r) => s + r.errors, 0),
    error_kinds: kinds,
    cpu_per_op: {
      server_us: medianOf(runs.map((r) => r.cpu_per_op?.server_us)),
      generator_us: medianOf(runs.map((r) => r.cpu_per_op?.generator_us)),
    },
  };
}

/** Median of the figures present, to 0.1; null when no run has one. */
function medianOf(values: readonly (number | null | undefined)[]): number | null {
  const present = values.filter((v): v is number => typeof v === 'number');
  return present.length === 0 ? null : Math.round(median(present) * 10) / 10;
}

export interface ScenarioInfo {
  readonly id: string;
  readonly title: string;
}

export interface Ratios {
  readonly scenario: string;
  /** openkcm ÷ floor. Throughput: higher is better (≤ 1); latency: lower is better (≥ 1). */
  readonly vsFloor: { throughput: number | null; p50: number | null; p99: number | null } | null;
  /** openkcm ÷ pykmip throughput, and pykmip ÷ openkcm p50 (how many times faster we are). */
  readonly vsPyKmip: { throughput: number | null; p50Speedup: number | null } | null;
}

const ratio = (a: number, b: number): number | null => (b > 0 && a > 0 ? Math.round((a / b) * 1000) / 1000 : null);

export function ratiosFor(scenario: string, cells: readonly Cell[]): Ratios {
  const get = (t: TargetName): Cell | undefined => cells.find((c) => c.scenario === scenario && c.target === t);
  const ours = get('openkcm');
  const floor = get('floor');
  const py = get('pykmip');
  return {
    scenario,
    vsFloor: ours !== undefined && floor !== undefined ? {
      throughput: ratio(ours.throughput_ops_s, floor.throughput_ops_s),
      p50: ratio(ours.latency_ms.p50, floor.latency_ms.p50),
      p99: ratio(ours.latency_ms.p99, floor.latency_ms.p99),
    } : null,
    vsPyKmip: ours !== undefined && py !== undefined ? {
      throughput: ratio(ours.throughput_ops_s, py.throughput_ops_s),
      p50Speedup: ratio(py.latency_ms.p50, ours.latency_ms.p50),
    } : null,
  };
}

const fmtN = (v: number): string => v.toLocaleString('en');
const fmtMs = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(3));
const fmtUs = (v: number | null): string => (v === null ? '–' : v.toFixed(1));
const fmtX = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : `${v >= 100 ? v.toFixed(0) : v.toFixed(2)}×`);

/** Each scenario's cells, in scenario order and then target order (the rows of the per-cell tables). */
function* cellRows(scenarios: readonly ScenarioInfo[], cells: readonly Cell[]): Generator<readonly [ScenarioInfo, Cell]> {
  for (const s of scenarios) {
    for (const t of TARGET_NAMES) {
      const c = cells.find((x) => x.scenario === s.id && x.target === t);
      if (c !== undefined) yield [s, c];
    }
  }
}

/** The side-by-side table (medians), the CPU per operation and the ratio table, as markdown. */
export function markdownReport(scenarios: readonly ScenarioInfo[], cells: readonly Cell[], runsPerCell: number): string {
  const lines: string[] = [];
  lines.push(`Medians of ${String(runsPerCell)} run(s) per cell; latency in ms (open loop: from the intended send time).`, '');
  lines.push('| Scenario | Target | ops/s | p50 | p90 | p99 | p99.9 | max | errors |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [s, c] of cellRows(scenarios, cells)) {
    const l = c.latency_ms;
    const errs = c.errors === 0 ? '0' : `${fmtN(c.errors)} (${Object.entries(c.error_kinds).map(([k, v]) => `${k} ${fmtN(v)}`).join(', ')})`;
    lines.push(`| ${s.title} | ${c.target} | ${fmtN(c.throughput_ops_s)} | ${fmtMs(l.p50)} | ${fmtMs(l.p90)} | ${fmtMs(l.p99)} | ${fmtMs(l.p999)} | ${fmtMs(l.max)} | ${errs} |`);
  }
  lines.push('', 'CPU per successful operation in the measured window, µs, every thread: the target\'s process tree and the load generator (both on this machine).', '');
  lines.push('| Scenario | Target | server CPU µs/op | generator CPU µs/op |');
  lines.push('|---|---|---:|---:|');
  for (const [s, c] of cellRows(scenarios, cells)) lines.push(`| ${s.title} | ${c.target} | ${fmtUs(c.cpu_per_op.server_us)} | ${fmtUs(c.cpu_per_op.generator_us)} |`);
  lines.push('', '| Scenario | OpenKCM ÷ floor, ops/s | OpenKCM ÷ floor, p50 | OpenKCM ÷ floor, p99 | OpenKCM ÷ PyKMIP, ops/s | PyKMIP ÷ OpenKCM, p50 |');
  lines.push('|---|---:|---:|---:|---:|---:|');
  for (const s of scenarios) {
    const r = ratiosFor(s.id, cells);
    lines.push(`| ${s.title} | ${fmtX(r.vsFloor?.throughput)} | ${fmtX(r.vsFloor?.p50)} | ${fmtX(r.vsFloor?.p99)} | ${fmtX(r.vsPyKmip?.throughput)} | ${fmtX(r.vsPyKmip?.p50Speedup)} |`);
  }
  return lines.join('\n') + '\n';
}

/** One line per scenario for the terminal. */
export function ratioLines(scenarios: readonly ScenarioInfo[], cells: readonly Cell[]): string[] {
  return scenarios.map((s) => {
    const r = ratiosFor(s.id, cells);
    const parts = [`${s.title}:`];
    if (r.vsFloor !== null) parts.push(`vs floor ops/s ${fmtX(r.vsFloor.throughput)}, p50 ${fmtX(r.vsFloor.p50)}, p99 ${fmtX(r.vsFloor.p99)}`);
    if (r.vsPyKmip !== null) parts.push(`vs PyKMIP ops/s ${fmtX(r.vsPyKmip.throughput)}, p50 ${fmtX(r.vsPyKmip.p50Speedup)} faster`);
    return parts.join('  ');
  });
}

// ---- SVG plot ------------------------------------------------------------------------------------

const COLORS: Readonly<Record<TargetName, string>> = { openkcm: '#1f77b4', pykmip: '#d62728', floor: '#7f7f7f' };
const LABELS: Readonly<Record<TargetName, string>> = { openkcm: 'OpenKCM', pykmip: 'PyKMIP 0.10', floor: 'TLS floor (Node echo)' };

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function decades(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

function tickLabel(v: number): string {
  if (v >= 1000) return `${String(v / 1000)}k`;
  return String(Number(v.toPrecision(3)));
}

/**
 * Latency vs throughput, both axes logarithmic (PyKMIP and the floor are orders of magnitude
 * apart). Each cell is a vertical bar from its p50 (hollow marker) to its p99 (filled marker)
 * at its throughput, coloured by target and labelled with the scenario's short name.
 */
export function svgPlot(scenarios: readonly ScenarioInfo[], cells: readonly Cell[], title: string): string {
  const W = 900;
  const H = 560;
  const m = { l: 80, r: 200, t: 50, b: 60 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const pts = cells.filter((c) => c.throughput_ops_s > 0 && c.latency_ms.p50 > 0);
  const xs = pts.map((c) => c.throughput_ops_s);
  const ys = pts.flatMap((c) => [c.latency_ms.p50, c.latency_ms.p99]);
  const xmin = 10 ** Math.floor(Math.log10(Math.min(...xs, 10)));
  const xmax = 10 ** Math.ceil(Math.log10(Math.max(...xs, 100)));
  const ymin = 10 ** Math.floor(Math.log10(Math.min(...ys, 0.1)));
  const ymax = 10 ** Math.ceil(Math.log10(Math.max(...ys, 1)));
  const X = (v: number): number => m.l + ((Math.log10(v) - Math.log10(xmin)) / (Math.log10(xmax) - Math.log10(xmin))) * pw;
  const Y = (v: number): number => m.t + ph - ((Math.log10(v) - Math.log10(ymin)) / (Math.log10(ymax) - Math.log10(ymin))) * ph;
  const f = (v: number): string => v.toFixed(1);
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${String(W)}" height="${String(H)}" viewBox="0 0 ${String(W)} ${String(H)}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${String(W)}" height="${String(H)}" fill="white"/>`);
  o.push(`<text x="${String(W / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  for (const v of decades(xmin, xmax)) {
    if (v < xmin || v > xmax) continue;
    o.push(`<line x1="${f(X(v))}" y1="${String(m.t)}" x2="${f(X(v))}" y2="${String(m.t + ph)}" stroke="#e0e0e0"/>`);
    o.push(`<text x="${f(X(v))}" y="${String(m.t + ph + 18)}" text-anchor="middle">${tickLabel(v)}</text>`);
  }
  for (const v of decades(ymin, ymax)) {
    if (v < ymin || v > ymax) continue;
    o.push(`<line x1="${String(m.l)}" y1="${f(Y(v))}" x2="${String(m.l + pw)}" y2="${f(Y(v))}" stroke="#e0e0e0"/>`);
    o.push(`<text x="${String(m.l - 8)}" y="${f(Y(v) + 4)}" text-anchor="end">${tickLabel(v)}</text>`);
  }
  o.push(`<rect x="${String(m.l)}" y="${String(m.t)}" width="${String(pw)}" height="${String(ph)}" fill="none" stroke="#333"/>`);
  o.push(`<text x="${String(m.l + pw / 2)}" y="${String(H - 18)}" text-anchor="middle">throughput, operations/s (log)</text>`);
  o.push(`<text transform="translate(22 ${String(m.t + ph / 2)}) rotate(-90)" text-anchor="middle">latency, ms (log): hollow p50, filled p99</text>`);
  const short = new Map(scenarios.map((s, i) => [s.id, String(i + 1)]));
  for (const c of pts) {
    const col = COLORS[c.target];
    const x = X(c.throughput_ops_s);
    const y50 = Y(c.latency_ms.p50);
    const y99 = Y(c.latency_ms.p99);
    o.push(`<g><title>${escapeXml(`${c.target} ${c.scenario}: ${String(c.throughput_ops_s)} ops/s, p50 ${String(c.latency_ms.p50)} ms, p99 ${String(c.latency_ms.p99)} ms`)}</title>`);
    o.push(`<line x1="${f(x)}" y1="${f(y50)}" x2="${f(x)}" y2="${f(y99)}" stroke="${col}" stroke-width="1.5"/>`);
    o.push(`<circle cx="${f(x)}" cy="${f(y50)}" r="4" fill="white" stroke="${col}" stroke-width="1.5"/>`);
    o.push(`<circle cx="${f(x)}" cy="${f(y99)}" r="4" fill="${col}"/>`);
    o.push(`<text x="${f(x + 6)}" y="${f(y99 - 4)}" fill="${col}" font-size="11">${short.get(c.scenario) ?? '?'}</text></g>`);
  }
  let ly = m.t + 10;
  const lx = m.l + pw + 16;
  for (const t of TARGET_NAMES) {
    if (!pts.some((c) => c.target === t)) continue;
    o.push(`<circle cx="${String(lx)}" cy="${String(ly)}" r="5" fill="${COLORS[t]}"/><text x="${String(lx + 10)}" y="${String(ly + 4)}">${escapeXml(LABELS[t])}</text>`);
    ly += 20;
  }
  ly += 10;
  for (const s of scenarios) {
    o.push(`<text x="${String(lx)}" y="${String(ly)}" font-size="11">${short.get(s.id) ?? '?'}: ${escapeXml(s.title)}</text>`);
    ly += 16;
  }
  o.push('</svg>');
  return o.join('\n') + '\n';
}
