/**
 * PyKMIP's own server (Debian python3-pykmip 0.10) as a comparison target for
 * `openkcm bench compare` (issue 7 §3) and for the interop tests (test/helpers/pykmip.ts wraps
 * it). It lives under src/ so the shipped bench command does not import test code. The log level
 * is a parameter (WARNING by default, so per-request DEBUG logging does not handicap PyKMIP in a
 * performance comparison; the tests ask for DEBUG) and the server's pid is exposed (RSS sampling).
 *
 * The launcher writes its own
 * PKI (src/pki/dev-pki.ts), a config file, a database path and an empty policy directory in
 * a temp dir, starts `/usr/bin/python3 /usr/bin/pykmip-server`, and waits until a TLS
 * handshake with the client certificate succeeds.
 *
 * Debian's entry point only works with /usr/bin/python3 (the system interpreter that owns
 * /usr/lib/python3/dist-packages); a pyenv/venv python3 earlier on PATH cannot import kmip.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { writeDevPki } from '../pki/dev-pki.js';

export const PYTHON = '/usr/bin/python3';
export const PYKMIP_SERVER = '/usr/bin/pykmip-server';
export const INSTALL_HINT =
  'PyKMIP server not available. Install the Debian package: `apt-get install -y python3-pykmip` ' +
  '(provides /usr/bin/pykmip-server for /usr/bin/python3; `npm test` pretest installs it when run as root).';

/** Throws with an install hint when python3-pykmip is missing (a comparison must not silently drop PyKMIP). */
export function assertPyKmipInstalled(): void {
  if (!existsSync(PYTHON) || !existsSync(PYKMIP_SERVER)) throw new Error(INSTALL_HINT);
  const probe = spawnSync(PYTHON, ['-c', 'import kmip.services.server'], { encoding: 'utf8', timeout: 20_000 });
  if (probe.status !== 0) throw new Error(`${INSTALL_HINT}\n${PYTHON} cannot import kmip: ${probe.stderr.trim()}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => { resolve(port); });
    });
  });
}

export interface PyKmipServer {
  readonly host: string;
  readonly port: number;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly dir: string;
  readonly pid: number | undefined;
  /** The server's own log: read it when something fails. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const CLIENT_NAME = 'openkcm-bench';
/** Startup is ~2 s on a quiet machine; CI runners with 2 cores are slower. */
const START_TIMEOUT_MS = 30_000;

function tlsProbe(host: string, port: number, ca: string, cert: string, key: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls.connect({ host, port, ca, cert, key, checkServerIdentity: () => undefined, minVersion: 'TLSv1.2' });
    const done = (ok: boolean): void => { s.destroy(); resolve(ok); };
    s.setTimeout(2000, () => { done(false); });
    s.once('secureConnect', () => { done(true); });
    s.once('error', () => { done(false); });
  });
}

export type PyKmipLogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

export async function startPyKmipServer(opts: { logLevel?: PyKmipLogLevel } = {}): Promise<PyKmipServer> {
  assertPyKmipInstalled();
  const dir = await mkdtemp(path.join(tmpdir(), 'openkcm-pykmip-'));
  const pki = await writeDevPki(path.join(dir, 'pki'), [CLIENT_NAME]);
  const policies = path.join(dir, 'policies');
  await mkdir(policies);
  const port = await freePort();
  const host = '127.0.0.1';
  const confPath = path.join(dir, 'server.conf');
  const logPath = path.join(dir, 'server.log');
  const client = pki.clients[CLIENT_NAME];
  if (client === undefined) throw new Error('dev PKI did not issue the bench client certificate');
  // PyKMIP 0.10 config keys: kmip/services/server/config.py (_expected_settings/_optional_settings).
  await writeFile(confPath, [
    '[server]',
    `hostname=${host}`,
    `port=${port}`,
    `certificate_path=${pki.serverCert}`,
    `key_path=${pki.serverKey}`,
    `ca_path=${pki.caCert}`,
    // TLS12AuthenticationSuite: ssl.PROTOCOL_TLSv1_2 with ECDHE-ECDSA-AES*-GCM among its ciphers.
    'auth_suite=TLS1.2',
    `policy_path=${policies}`,
    'enable_tls_client_auth=True',
    'tls_cipher_suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
    `logging_level=${opts.logLevel ?? 'WARNING'}`,
    `database_path=${path.join(dir, 'pykmip.sqlite')}`,
    '',
  ].join('\n'));

  const child: ChildProcess = spawn(PYTHON, [PYKMIP_SERVER, '-f', confPath, '-l', logPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Keep the server out of our process group decisions; we stop it by pid only.
    env: { ...process.env, PYTHONWARNINGS: 'ignore' },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => { if (stderr.length < 64 * 1024) stderr += d; });
  const state = { exited: false };
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => { state.exited = true; resolve(); }));

  const [cert, key, ca] = await Promise.all([readFile(client.cert, 'utf8'), readFile(client.key, 'utf8'), readFile(pki.caCert, 'utf8')]);
  const log = async (): Promise<string> => readFile(logPath, 'utf8').catch(() => '');

  const stop = async (): Promise<void> => {
    if (!state.exited) {
      // SIGINT raises KeyboardInterrupt inside accept() (server.py serve()), which exits at
      // once; SIGTERM would only be noticed after the 10 s accept timeout.
      child.kill('SIGINT');
      const killer = setTimeout(() => { if (!state.exited) child.kill('SIGKILL'); }, 5000);
      await exitPromise;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (state.exited) {
      const l = await log();
      await stop();
      throw new Error(`pykmip-server exited during startup.\nstderr:\n${stderr}\nlog tail:\n${l.slice(-4000)}`);
    }
    if (await tlsProbe(host, port, ca, cert, key)) break;
    if (Date.now() > deadline) {
      const l = await log();
      await stop();
      throw new Error(`pykmip-server did not accept TLS connections within ${START_TIMEOUT_MS} ms.\nstderr:\n${stderr}\nlog tail:\n${l.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { host, port, ca, cert, key, dir, pid: child.pid, log, stop };
}
