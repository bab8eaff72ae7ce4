/**
 * `openkcm serve --data-dir DIR [--kmip-listen HOST:PORT] [--kmip-https-listen HOST:PORT] [--log-level LEVEL] [--workers N]`: run the KMIP
 * server on a data directory prepared by `openkcm init`.
 *
 * `--workers N` (default: the number of CPUs) runs the KMIP request path in N worker processes behind one
 * listening address, this process keeping the key hierarchy, the governance database and the audit chains
 * (src/appliance/primary.ts; docs/performance.md "Workers"); `--workers 0` serves KMIP in this process.
 *
 * Contract (docs/cli.md; tooling depends on it):
 * - when the listener accepts connections, exactly one line containing `listening` and the
 *   bound address is printed on stdout (`--kmip-listen 127.0.0.1:0` picks a free port and
 *   prints it); logs go to stderr as JSON lines;
 * - SIGTERM (or SIGINT) stops accepting, drains in-flight requests and exits 0 within 5 s.
 */
import { availableParallelism } from 'node:os';
import { startCluster } from '../../appliance/primary.js';
import { formatListen, loadConfig } from '../../config/index.js';
import { ConfigError } from '../../common/config-error.js';
import type { ListenAddress } from '../../config/index.js';
import { startKmipApp } from '../../appliance/kmip-app.js';
import { secureDataDir, tightenDataDir } from '../../appliance/data-dir.js';
import { startIdleMemoryTrim } from '../../appliance/idle-memory.js';
import { describeError, isLogLevel, jsonLogger } from '../../common/log.js';
import type { LogLevel } from '../../common/log.js';
import { forEachArg, parseCommandLine, requireDataDir, UsageError } from '../args.js';

/** Most worker processes: far above any CPU count this runs on; stops a typo from forking thousands of processes. */
export const MAX_WORKERS = 256;

const USAGE = `usage: openkcm serve --data-dir DIR [--kmip-listen HOST:PORT] [--kmip-https-listen HOST:PORT]
                    [--log-level LEVEL] [--workers N]

  --data-dir DIR           data directory made by \`openkcm init\`
  --kmip-listen HOST:PORT  KMIP listener address (default: the config file's, else 127.0.0.1:5696;
                           port 0 = any free port, printed in the listening line)
  --kmip-https-listen HOST:PORT
                           also serve KMIP over HTTPS (POST /kmip; TTLV, JSON, XML) here, with the same
                           mutual TLS (default: the config file's kmip.https.listen, else off)
  --log-level LEVEL        debug | info | warn | error (default: the config file's, else info)
  --workers N              KMIP worker processes behind the one address (default: the number of CPUs,
                           ${String(availableParallelism())} here; 0 = serve KMIP in this process; at most ${String(MAX_WORKERS)})

Prints one line "openkcm: KMIP listening on HOST:PORT" when ready (then, with HTTPS on, one line
"openkcm: KMIP over HTTPS at HOST:PORT"). SIGTERM drains and exits 0.`;

/** The whole shutdown must finish inside the 5 s SIGTERM contract; this is the last resort. */
const HARD_EXIT_MS = 4_800;

interface Parsed { dataDir?: string; listen?: string; httpsListen?: string; logLevel?: LogLevel; workers?: number; help: boolean }



function parseArgs(argv: readonly string[]): Parsed {
  const p: Parsed = { help: false };
  forEachArg(argv, ({ arg: a, flag, value }) => {
    switch (flag) {
      case '--help': case '-h': p.help = true; break;
      case '--data-dir': p.dataDir = value(); break;
      case '--kmip-listen': p.listen = value(); break;
      case '--kmip-https-listen': p.httpsListen = value(); break;
      case '--workers': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n > MAX_WORKERS) throw new UsageError(`--workers must be an integer from 0 to ${String(MAX_WORKERS)}, got ${v}`);
        p.workers = n;
        break;
      }
      case '--log-level': {
        const v = value();
        if (!isLogLevel(v)) throw new UsageError(`--log-level must be debug, info, warn or error, got ${v}`);
        p.logLevel = v;
        break;
      }
      default: throw new UsageError(`unknown option ${a}`);
    }
  });
  return p;
}

/** What the command line overrides in the config file (the workers load the same). */
function overridesOf(p: Parsed): { listen?: string; httpsListen?: string } {
  return { ...(p.listen === undefined ? {} : { listen: p.listen }), ...(p.httpsListen === undefined ? {} : { httpsListen: p.httpsListen }) };
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommandLine('serve', USAGE, argv, parseArgs);
  if (typeof p === 'number') return p;
  const dataDir = requireDataDir('serve', USAGE, p.dataDir);
  if (typeof dataDir === 'number') return dataDir;
  let loaded;
  let secured;
  try {
    // Issue 15 Deliver 6: before anything opens the directory (src/appliance/data-dir.ts).
    secured = secureDataDir(dataDir);
    loaded = await loadConfig(dataDir, overridesOf(p));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`openkcm serve: ${e.message}\n`);
    return 1;
  }
  const logLevel = p.logLevel ?? loaded.logLevel;
  const logger = jsonLogger(logLevel);
  if (secured !== undefined && secured.tightened > 0) logger.info('data directory made owner-only', { dir: dataDir, modeBefore: secured.modeBefore, entries: secured.tightened });
  // Installed before listening so a SIGTERM that races start-up still drains cleanly.
  const signal = waitForSignal();
  const workers = p.workers ?? availableParallelism();
  let app: { readonly address: ListenAddress; readonly httpsAddress: ListenAddress | undefined; close(): Promise<void> };
  try {
    app = workers === 0
      ? await startKmipApp(loaded, logger)
      : await startCluster(loaded, logger, { workers, overrides: overridesOf(p), logLevel });
  } catch (e) {
    logger.error('server failed to start', describeError(e));
    process.stderr.write(`openkcm serve: cannot start: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  try {
    // Files made while starting that the umask did not reach (PGlite's new governance-db): src/appliance/data-dir.ts.
    const late = tightenDataDir(dataDir);
    if (late > 0) logger.info('data directory entries created at start-up made owner-only', { dir: dataDir, entries: late });
  } catch (e) {
    logger.warn('could not make every data directory entry owner-only', describeError(e));
  }
  process.stdout.write(`openkcm: KMIP listening on ${formatListen(app.address)}\n`);
  // Not "listening": tooling reads exactly one line with that word (the contract above).
  if (app.httpsAddress !== undefined) process.stdout.write(`openkcm: KMIP over HTTPS at ${formatListen(app.httpsAddress)}\n`);
  const trim = startIdleMemoryTrim();
  const sig = await signal;
  trim.stop();
  logger.info('shutting down', { signal: sig });
  const hard = setTimeout(() => {
    logger.error('shutdown did not finish in time; exiting');
    process.exit(1);
  }, HARD_EXIT_MS);
  hard.unref();
  await app.close();
  clearTimeout(hard);
  // Exit even if a library left a handle open; an unref'd timer only fires if something did.
  setTimeout(() => { process.exit(0); }, 200).unref();
  return 0;
}
