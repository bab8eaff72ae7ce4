/**
 * Our own server as a bench target: `openkcm init` (the same code) into a data directory, then
 * `openkcm serve` as a CHILD process. A child, not in-process, so that it has its own event
 * loop exactly like PyKMIP and the floor server in the comparison, and the load generator's
 * work is never counted as the server's (or the other way round).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasPki, initDataDir } from '../cli/commands/init.js';
import { CONFIG_FILE_NAME } from '../config/index.js';
import type { ConfigFile, ServerLimits } from '../config/index.js';

/** dist/src/bench → dist/src/cli/main.js */
/**
 * How long the bench waits for its own `openkcm serve` to print its listening line. A fresh data directory's first
 * start runs PGlite's initdb and starts every KMIP worker: seconds on a quiet machine, most of a minute on a loaded
 * 2-core CI runner (measured 39–57 s at load average 8).
 */
export const SERVE_START_TIMEOUT_MS = 120_000;

export const CLI_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export const BENCH_TENANT = 'bench';

export interface OpenKcmServerOptions {
  /** Reuse (and keep) this data directory; default: a fresh temp dir, removed on stop. */
  readonly dataDir?: string;
  readonly limits?: Partial<ServerLimits>;
  /** Extra node flags for the server, e.g. ['--cpu-prof', '--cpu-prof-dir', DIR]. */
  readonly nodeArgs?: readonly string[];
  /**
   * Config sections written besides `kmip` (e.g. `{ vault: { kek: 'dev' } }` for perf/scale.ts, which fills the
   * vault through the Vault API and so needs a KEK it can open outside the server).
   */
  readonly extraConfig?: Omit<ConfigFile, 'kmip'>;
  /** Server log level (default warn: per-connection info lines are not free at 10k handshakes/s). */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** `serve --workers N` (default: serve's own default, one worker per CPU; 0 serves in the one process). */
  readonly workers?: number;
}

export interface OpenKcmServer {
  readonly host: string;
  readonly port: number;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly dataDir: string;
  readonly pid: number | undefined;
  stderr(): string;
  /** SIGTERM and wait (the server drains and exits 0); removes a temp data dir. */
  stop(): Promise<void>;
}

export async function startOpenKcmServer(opts: OpenKcmServerOptions = {}): Promise<OpenKcmServer> {
  const own = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? await mkdtemp(path.join(tmpdir(), 'openkcm-bench-'));
  if (!await hasPki(dataDir)) await initDataDir({ dataDir, tenants: [BENCH_TENANT], force: true });
  const file: ConfigFile = { ...opts.extraConfig, kmip: { listen: '127.0.0.1:0', ...(opts.limits === undefined ? {} : { limits: opts.limits }) } };
  await writeFile(path.join(dataDir, CONFIG_FILE_NAME), `// written by openkcm bench\n${JSON.stringify(file, null, 2)}\n`);
  const pki = path.join(dataDir, 'pki');
  const [ca, cert, key] = await Promise.all([
    readFile(path.join(pki, 'ca.crt'), 'utf8'),
    readFile(path.join(pki, 'clients', `${BENCH_TENANT}.crt`), 'utf8'),
    readFile(path.join(pki, 'clients', `${BENCH_TENANT}.key`), 'utf8'),
  ]);
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), CLI_MAIN, 'serve', '--data-dir', dataDir,
    '--kmip-listen', '127.0.0.1:0', '--log-level', opts.logLevel ?? 'warn',
    ...(opts.workers === undefined ? [] : ['--workers', String(opts.workers)])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => { if (err.length < 256 * 1024) err += s; });
  const exited = new Promise<void>((r) => child.once('exit', () => { r(); }));
  const removeDir = async (): Promise<void> => { if (own) await rm(dataDir, { recursive: true, force: true }); };
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => { reject(new Error(`openkcm serve did not start within ${String(SERVE_START_TIMEOUT_MS / 1000)} s:\n${err}`)); }, SERVE_START_TIMEOUT_MS);
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (s: string) => {
        out += s;
        const m = /listening on \S*:(\d+)/.exec(out);
        if (m !== null) { clearTimeout(timer); resolve(Number(m[1])); }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`openkcm serve exited (${String(code)}) before listening:\n${err}`)); });
    });
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    await removeDir();
    throw e;
  }
  return {
    host: '127.0.0.1', port, ca, cert, key, dataDir, pid: child.pid,
    stderr: () => err,
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await removeDir();
    },
  };
}
