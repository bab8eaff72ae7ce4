// `openkcm serve` as a child process with the governance plane on a database, reached as an operator reaches it:
// KMIP over mutual TLS and the `openkcm` CLI with the OPENKCM_ADMIN_* environment (the registered-L1 end-to-end
// tests of issue 16, the keystore reload test). A test that restarts the node keeps what every run logged, so it can
// look for secrets in the logs at the end.
import path from 'node:path';
import type { KmipClient } from '../../src/client/client.js';
import { adminCliEnv, adminPortOf } from './admin-client.js';
import { runCli, type CliResult } from './cli.js';
import { startTestServer, type StartTestServerOptions, type TestServer } from './server.js';

/** Low, so "dark within the health interval" is what a test shows (the minimum is MIN_L1_HEALTH_INTERVAL_MS). */
export const E2E_HEALTH_INTERVAL_MS = 500;

export interface GovernedNode {
  readonly server: TestServer;
  /** What the `openkcm tenant` CLI needs to reach the node's admin API. */
  readonly adminEnv: Record<string, string>;
}

/**
 * `openkcm serve --workers 1` on `dataDir` (a child process) with the governance plane on `databaseUrl` and the L1
 * health interval low; `more` overrides the rest (workers, start timeout, environment).
 */
export async function startGovernedNode(dataDir: string, databaseUrl: string, keystores: Record<string, unknown>, more: StartTestServerOptions = {}): Promise<GovernedNode> {
  const server = await startTestServer({
    mode: 'child', workers: 1, dataDir, startTimeoutMs: 90_000, keystores,
    governance: { databaseUrl, l1HealthIntervalMs: E2E_HEALTH_INTERVAL_MS }, ...more,
  });
  const port = await adminPortOf(server);
  return { server, adminEnv: adminCliEnv(port, path.join(dataDir, 'pki')) };
}

/** A governed node a test stops and starts again on the same data directory; the logs of every run are kept. */
export class RestartableNode {
  #node: GovernedNode | undefined;
  #logs = '';

  constructor(private readonly start: () => Promise<GovernedNode>) {}

  async serve(): Promise<TestServer> {
    this.#node = await this.start();
    return this.#node.server;
  }

  /** Graceful stop (nothing to do when it is not running); its output joins the logs. */
  async stop(): Promise<void> {
    const n = this.#node;
    if (n === undefined) return;
    this.#node = undefined;
    await n.server.stop();
    this.#logs += n.server.stdout() + n.server.stderr();
  }

  get server(): TestServer {
    if (this.#node === undefined) throw new Error('no server');
    return this.#node.server;
  }

  /** Everything the stopped runs wrote to stdout and stderr. */
  logs(): string {
    return this.#logs;
  }

  /** The `openkcm` CLI against the running node's admin API (`tenant get`, `register-l1`, `restore`). */
  admin(args: string[]): Promise<CliResult> {
    return runCli(args, { env: this.#node?.adminEnv ?? {} });
  }

  /** A KMIP client of `tenant` for `fn`, closed afterwards. */
  async withClient<T>(tenant: string, fn: (k: KmipClient) => Promise<T>): Promise<T> {
    const k = await this.server.connect(tenant);
    try {
      return await fn(k);
    } finally {
      await k.close().catch(() => undefined);
    }
  }
}
