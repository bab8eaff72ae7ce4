/**
 * Profile the server under one load and print its hot spots (issue 7: "where a target is
 * missed, profile it and name the hot spots"):
 *
 *   node dist/src/bench/profile.js --op get --connections 16 [--rate R] [--duration 5]
 *        [--client full|wire] [--batch B] [--out DIR]
 *
 * Starts `openkcm serve` with `node --cpu-prof` on a fresh data directory, runs the load with
 * src/bench/load.ts, stops the server (SIGTERM: the profile is written on exit), and prints the
 * functions with the most self time. The .cpuprofile stays in DIR (default
 * perf/results/profile) for a flame graph in Chrome DevTools or speedscope.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatHotSpots, summarizeProfile } from './cpuprofile.js';
import type { CpuProfile, ProfileSummary } from './cpuprofile.js';
import { formatResult, runLoad } from './load.js';
import type { BenchResult, ClientMode } from './load.js';
import { startOpenKcmServer } from './openkcm-server.js';
import type { BenchOp } from './options.js';

export interface ProfileRun { readonly result: BenchResult; readonly summary: ProfileSummary; readonly file: string }

export async function profileServer(o: {
  op: BenchOp; connections: number; rate?: number | undefined; durationS: number; client: ClientMode; batch: number; outDir: string;
}): Promise<ProfileRun> {
  const dir = path.resolve(o.outDir);
  await mkdir(dir, { recursive: true });
  const before = new Set(await readdir(dir));
  const srv = await startOpenKcmServer({ nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] });
  let result: BenchResult;
  try {
    result = await runLoad({
      target: { host: srv.host, port: srv.port }, tls: { ca: srv.ca, cert: srv.cert, key: srv.key }, kmipVersion: '2.1',
      op: o.op, connections: o.connections, rate: o.rate, durationS: o.durationS, warmupS: 1, client: o.client, batch: o.batch, label: 'openkcm',
    });
  } finally {
    await srv.stop();
  }
  const fresh = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  const file = fresh[0];
  if (file === undefined) throw new Error(`the server wrote no .cpuprofile into ${dir}`);
  const profile = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as CpuProfile;
  return { result, summary: summarizeProfile(profile, 25), file: path.join(dir, file) };
}

async function main(argv: readonly string[]): Promise<void> {
  const arg = (flag: string, dflt: string): string => {
    const i = argv.indexOf(flag);
    return i >= 0 ? (argv[i + 1] ?? dflt) : dflt;
  };
  const rate = arg('--rate', '');
  const op = arg('--op', 'get') as BenchOp;
  const run = await profileServer({
    op, connections: Number(arg('--connections', '16')), rate: rate === '' ? undefined : Number(rate),
    durationS: Number(arg('--duration', '5')), client: arg('--client', 'wire') as ClientMode, batch: Number(arg('--batch', '1')),
    outDir: arg('--out', path.join('perf', 'results', 'profile')),
  });
  process.stdout.write(`${formatResult(run.result)}\nprofile: ${run.file}\n\n${formatHotSpots(run.summary)}`);
  await writeFile(run.file.replace(/\.cpuprofile$/, '.hotspots.md'), formatHotSpots(run.summary));
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`profile: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
}
