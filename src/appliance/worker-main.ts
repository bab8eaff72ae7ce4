/**
 * Entry point of a KMIP worker process, forked by the primary of `openkcm serve --workers N` (./primary.ts). The
 * primary passes what the command line said in OPENKCM_WORKER (data directory, config overrides, log level, worker
 * count); the worker reads the same configuration file, then runs ./worker.ts. Log lines carry `worker: <id>`.
 */
import cluster from 'node:cluster';
import { loadConfig } from '../config/load.js';
import { isLogLevel, jsonLogger, withFields } from '../common/log.js';
import { startIdleMemoryTrim } from './idle-memory.js';
import { startWorker } from './worker.js';
import type { ToPrimary } from './ipc.js';

interface WorkerEnv {
  readonly dataDir: string;
  readonly overrides: Record<string, string>;
  readonly logLevel: string;
  readonly workers: number;
}

function fatal(message: string): never {
  process.send?.({ t: 'fatal', message } satisfies ToPrimary);
  process.stderr.write(`openkcm worker: ${message}\n`);
  process.exit(1);
}

const raw = process.env.OPENKCM_WORKER;
if (!cluster.isWorker || raw === undefined) fatal('this script is started by `openkcm serve --workers N`, not by hand');
const env = JSON.parse(raw) as WorkerEnv;
const level = isLogLevel(env.logLevel) ? env.logLevel : 'info';
const logger = withFields(jsonLogger(level), { worker: cluster.worker?.id ?? 0 });
try {
  const loaded = await loadConfig(env.dataDir, env.overrides);
  const running = await startWorker(loaded, logger, env.workers);
  startIdleMemoryTrim();
  process.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && (m as { t?: unknown }).t === 'shutdown') {
      void running.close().then(() => { process.exit(0); }, () => { process.exit(1); });
    }
  });
  // SIGTERM/SIGINT go to the whole process group: the primary coordinates the drain, so the worker ignores them.
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
} catch (e) {
  fatal(e instanceof Error ? e.message : String(e));
}
