/**
 * `openkcm conformance`: replay the OASIS KMIP XML test cases against a server, or check
 * without a server that every message survives the encodings (--parse-only).
 * The engine lives in src/conformance; this file only parses options and prints.
 * Usage and the permitted variations: docs/conformance.md.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TIME_TOLERANCE_SECONDS } from '../../conformance/placeholders.js';
import { DEFAULT_TIMEOUT_MS, formatResult, formatSummary, runConformance, VectorsDirNotFoundError } from '../../conformance/replay.js';
import type { LiveOptions } from '../../conformance/replay.js';
import { connectTls } from '../../conformance/transport.js';
import { defaultVectorsDir, isDirectory } from '../../conformance/vectors.js';
import { forEachArg, UsageError } from '../args.js';
import { Progress, progressEnabled } from '../progress.js';

const USAGE = `usage: openkcm conformance [--vectors DIR] [--parse-only]
                           [--host H --port P --ca F --cert F --key F]
                           [--filter SUBSTR ...] [--timeout MS] [--time-tolerance S] [--verbose]

  --vectors DIR        a vectors root or any folder below it (default: $OPENKCM_VECTORS,
                       else ../shared/kmip/vectors next to the repository); every *.xml under it
  --parse-only         no server: check XML -> TTLV -> binary -> TTLV -> XML for every message
  --host, --port       the KMIP server (mutual TLS); --ca, --cert, --key are PEM files
  --servername NAME    name to check in the server certificate (default: --host)
  --filter SUBSTR      only files whose relative path contains SUBSTR (repeatable)
  --timeout MS         wait per response and per TLS handshake (default ${DEFAULT_TIMEOUT_MS})
  --time-tolerance S   how far a $NOW in a response may be from this clock (default ${DEFAULT_TIME_TOLERANCE_SECONDS})
  --verbose            trace each exchange; print expected and received XML on a failure

Prints PASS/FAIL/SKIP per file, then "N passed, M failed[, K skipped]"; exits 1 on any failure.`;

interface Parsed {
  vectors?: string;
  parseOnly: boolean;
  host?: string;
  port?: number;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  filters: string[];
  timeoutMs: number;
  toleranceS: number;
  verbose: boolean;
  help: boolean;
}



function positiveInt(flag: string, text: string | undefined, max: number): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(`${flag} needs an integer from 1 to ${max}, got ${text ?? 'nothing'}`);
  }
  return n;
}

function parseArgs(argv: readonly string[]): Parsed {
  const p: Parsed = { parseOnly: false, filters: [], timeoutMs: DEFAULT_TIMEOUT_MS, toleranceS: DEFAULT_TIME_TOLERANCE_SECONDS, verbose: false, help: false };
  forEachArg(argv, ({ arg: a, flag, value, nextBare }) => {
    switch (flag) {
      case '--help': case '-h': p.help = true; break;
      case '--vectors': p.vectors = value(); break;
      case '--parse-only': p.parseOnly = true; break;
      case '--host': p.host = value(); break;
      case '--port': p.port = positiveInt('--port', value(), 65535); break;
      case '--ca': p.ca = value(); break;
      case '--cert': p.cert = value(); break;
      case '--key': p.key = value(); break;
      case '--servername': p.servername = value(); break;
      case '--filter': {
        p.filters.push(value());
        // `--filter A B C`: further bare words are more substrings.
        for (let more = nextBare(); more !== undefined; more = nextBare()) p.filters.push(more);
        break;
      }
      case '--timeout': p.timeoutMs = positiveInt('--timeout', value(), 3_600_000); break;
      case '--time-tolerance': p.toleranceS = positiveInt('--time-tolerance', value(), 86_400); break;
      case '--verbose': case '-v': p.verbose = true; break;
      default: throw new UsageError(`unknown option ${a}`);
    }
  });
  return p;
}

function repoRoot(): string {
  // dist/src/cli/commands/conformance.js → the repository root is four levels up.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
}

async function liveOptions(p: Parsed, io: CommandIo): Promise<LiveOptions> {
  const { host, port } = p;
  if (host === undefined || port === undefined) throw new UsageError('give --host and --port (or --parse-only)');
  const load = (f: string | undefined): Promise<Buffer | undefined> => (f === undefined ? Promise.resolve(undefined) : readFile(f));
  const [ca, cert, key] = await Promise.all([load(p.ca), load(p.cert), load(p.key)]);
  const target = {
    host, port,
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(p.servername !== undefined ? { servername: p.servername } : {}),
  };
  return {
    connect: () => connectTls(target, p.timeoutMs),
    timeoutMs: p.timeoutMs,
    timeToleranceSeconds: p.toleranceS,
    ...(p.verbose ? { trace: (line: string) => { io.err(line + '\n'); } } : {}),
  };
}

/** Where the command writes; tests pass their own sinks. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

const PROCESS_IO: CommandIo = {
  out: (t) => { process.stdout.write(t); },
  err: (t) => { process.stderr.write(t); },
};

export async function run(argv: string[], io: CommandIo = PROCESS_IO): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`openkcm conformance: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    io.out(USAGE + '\n');
    return 0;
  }
  const vectorsDir = parsed.vectors ?? defaultVectorsDir(repoRoot());
  // Checked before the server options: a checkout without the shared vectors has nothing to
  // replay, and that is not an error (issue: print it plainly, exit 0).
  if (!(await isDirectory(vectorsDir))) {
    io.out(`vectors directory not found: ${parsed.vectors ?? vectorsDir} (nothing to replay)\n`);
    return 0;
  }
  let live: LiveOptions | undefined;
  try {
    live = parsed.parseOnly ? undefined : await liveOptions(parsed, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`openkcm conformance: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  // A live bar on a terminal only (src/cli/progress.ts); piped output stays exactly the result lines.
  const bar = new Progress({ label: 'conformance', rateUnit: ' cases/s', enabled: io === PROCESS_IO && progressEnabled() });
  try {
    const summary = await runConformance({
      vectorsDir,
      filters: parsed.filters,
      ...(live !== undefined ? { live } : {}),
      onResult: (r) => { bar.clear(); io.out(formatResult(r) + '\n'); bar.tick(); },
    });
    bar.done();
    io.out(formatSummary(summary) + '\n');
    return summary.failed > 0 ? 1 : 0;
  } catch (e) {
    // The directory vanished between the check and the run.
    bar.done();
    if (e instanceof VectorsDirNotFoundError) {
      io.out(`vectors directory not found: ${parsed.vectors ?? vectorsDir} (nothing to replay)\n`);
      return 0;
    }
    throw e;
  }
}
