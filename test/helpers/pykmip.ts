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

/**
 * Runs a PyKMIP step driver against `srv` as `tenant` (its enrolled client certificate) at KMIP `version`, with the
 * driver's own extra arguments; fails the test when it exits non-zero or outlives `timeoutMs`. Returns its steps by
 * name.
 */
export async function runStepDriver(driver: string, srv: { readonly port: number; readonly dataDir: string }, tenant: string, version: string,
  extraArgs: readonly string[] = [], timeoutMs = 60_000): Promise<Map<string, DriverStep>> {
  const dir = path.join(srv.dataDir, 'pki');
  const args = [driver, '--host', '127.0.0.1', '--port', String(srv.port), '--ca', path.join(dir, 'ca.crt'),
    '--cert', path.join(dir, 'clients', `${tenant}.crt`), '--key', path.join(dir, 'clients', `${tenant}.key`), '--kmip-version', version, ...extraArgs];
  // No __pycache__ beside the drivers (pykmip_steps.py is imported): the source tree stays as checked out.
  const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'], env: Object.assign({}, process.env, { PYTHONDONTWRITEBYTECODE: '1' }) });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
  const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
  const code = await new Promise<number | null>((resolve) => { child.once('exit', resolve); });
  clearTimeout(timer);
  assert.equal(code, 0, `driver exited ${String(code)}; stderr:\n${err}`);
  const steps = new Map<string, DriverStep>();
  for (const line of out.split('\n').filter((l) => l.startsWith('{'))) {
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
