/**
 * PyKMIP's own server (Debian python3-pykmip 0.10) for the interop tests: the same launcher the
 * bench uses (src/bench/pykmip.ts), with DEBUG logging so a failing assertion can read the
 * server's side of the story through `log()`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PYTHON, startPyKmipServer as launch } from '../../src/bench/pykmip.js';
import type { PyKmipServer } from '../../src/bench/pykmip.js';

export { PYTHON, PYKMIP_SERVER, INSTALL_HINT, assertPyKmipInstalled, freePort } from '../../src/bench/pykmip.js';
export type { PyKmipServer } from '../../src/bench/pykmip.js';

export function startPyKmipServer(): Promise<PyKmipServer> {
  return launch({ logLevel: 'DEBUG' });
}

/** One line of a step driver's output (test/interop/pykmip_*_driver.py): a JSON object per step it ran. */
export interface DriverStep { readonly step: string; readonly ok: boolean; readonly error?: string; readonly [field: string]: unknown }

/** What a driver process left: its exit code (null when killed) and its output. */
export interface DriverProcess { readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** A driver's standard error kept at most (a failing run's story; PyKMIP logs verbosely). */
const DRIVER_STDERR_MAX = 64 * 1024;

/**
 * Runs one PyKMIP driver script (test/interop/pykmip_*_driver.py) against `srv` as `tenant` (its enrolled client
 * certificate, from the data directory's pki/) at KMIP `version`, with the driver's own extra arguments, and kills it
 * when it outlives `timeoutMs`. Every interop driver takes the same connection arguments (pykmip_steps.py); what its
 * output means is the caller's.
 */
export function spawnDriver(driver: string, srv: { readonly host?: string; readonly port: number; readonly dataDir: string }, tenant: string,
  version: string, extraArgs: readonly string[] = [], timeoutMs = 60_000): Promise<DriverProcess> {
  const dir = path.join(srv.dataDir, 'pki');
  const args = [driver, '--host', srv.host ?? '127.0.0.1', '--port', String(srv.port), '--ca', path.join(dir, 'ca.crt'),
    '--cert', path.join(dir, 'clients', `${tenant}.crt`), '--key', path.join(dir, 'clients', `${tenant}.key`), '--kmip-version', version, ...extraArgs];
  // No __pycache__ beside the drivers (pykmip_steps.py is imported): the source tree stays as checked out. PyKMIP 0.10
  // warns about ssl.wrap_socket on every connection; the warnings would only bury a failure's stderr.
  const env = Object.assign({}, process.env, { PYTHONDONTWRITEBYTECODE: '1', PYTHONWARNINGS: 'ignore' });
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < DRIVER_STDERR_MAX) stderr += s; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/**
 * Runs a PyKMIP step driver (one JSON line per step) through {@link spawnDriver}; fails the test when it exits
 * non-zero or outlives `timeoutMs`. Returns its steps by name.
 */
export async function runStepDriver(driver: string, srv: { readonly host?: string; readonly port: number; readonly dataDir: string }, tenant: string, version: string,
  extraArgs: readonly string[] = [], timeoutMs = 60_000): Promise<Map<string, DriverStep>> {
  const { code, stdout, stderr } = await spawnDriver(driver, srv, tenant, version, extraArgs, timeoutMs);
  assert.equal(code, 0, `driver exited ${String(code)}; stderr:\n${stderr}`);
  const steps = new Map<string, DriverStep>();
  for (const line of stdout.split('\n').filter((l) => l.startsWith('{'))) {
    const s = JSON.parse(line) as DriverStep;
    steps.set(s.step, s);
  }
  return steps;
}

/** The named step of a driver run; fails the test when the driver never ran it. */
export function driverStep(steps: Map<string, DriverStep>, name: string): DriverStep {
  const s = steps.get(name);
  assert.ok(s !== undefined, `step ${name} did not run`);
  return s;
}
