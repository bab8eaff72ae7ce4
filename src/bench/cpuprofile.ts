/**
 * Hot spots of a V8 CPU profile (`node --cpu-prof`, a .cpuprofile JSON): self time per
 * function, the "bottom-up" view of a flame graph, as text for docs/performance.md (issue 7:
 * "where a target is missed, profile it and name the hot spots").
 *
 * Format (Chrome DevTools protocol, Profiler.Profile): nodes[] with id, callFrame
 * {functionName, url, lineNumber}, children[]; samples[] (node ids) and timeDeltas[] (µs)
 * — each sample's time is charged to the node it names, which is self time.
 */
export interface CpuProfile {
  readonly nodes: readonly { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: readonly number[] }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface HotSpot {
  /** Function name, or "(anonymous)" / a V8 pseudo-frame such as "(garbage collector)". */
  readonly name: string;
  /** file:line, shortened to the path below the repository or node_modules. */
  readonly where: string;
  readonly selfMs: number;
  /** Share of all sampled time, idle included. */
  readonly selfPct: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Share of samples that were (idle): the process had nothing to run. */
  readonly idlePct: number;
  readonly top: readonly HotSpot[];
}

function shorten(url: string): string {
  if (url === '') return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  const d = u.lastIndexOf('/dist/');
  if (d >= 0) return u.slice(d + '/dist/'.length);
  return u;
}

/** The `limit` functions with the most self time. */
export function summarizeProfile(p: CpuProfile, limit = 20): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  });
  const agg = new Map<string, { name: string; where: string; us: number }>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const name = n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName;
    if (name === '(idle)') idle += us;
    const where = n.callFrame.url === '' ? '' : `${shorten(n.callFrame.url)}:${String(n.callFrame.lineNumber + 1)}`;
    const key = `${name}\u0000${where}`;
    const a = agg.get(key) ?? { name, where, us: 0 };
    a.us += us;
    agg.set(key, a);
  }
  const pct = (us: number): number => (total === 0 ? 0 : Math.round((us / total) * 1000) / 10);
  const top = [...agg.values()].sort((a, b) => b.us - a.us).slice(0, limit)
    .map((a) => ({ name: a.name, where: a.where, selfMs: Math.round(a.us / 100) / 10, selfPct: pct(a.us) }));
  return { totalMs: Math.round(total / 1000), idlePct: pct(idle), top };
}

export function formatHotSpots(s: ProfileSummary): string {
  const lines = [`sampled ${String(s.totalMs)} ms, idle ${String(s.idlePct)}%`, '', '| self % | self ms | function | where |', '|---:|---:|---|---|'];
  for (const h of s.top) lines.push(`| ${h.selfPct.toFixed(1)} | ${h.selfMs.toFixed(0)} | \`${h.name}\` | ${h.where} |`);
  return lines.join('\n') + '\n';
}
