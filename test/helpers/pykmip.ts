/**
 * PyKMIP's own server (Debian python3-pykmip 0.10) for the interop tests: the same launcher the
 * bench uses (src/bench/pykmip.ts), with DEBUG logging so a failing assertion can read the
 * server's side of the story through `log()`.
 */
import { startPyKmipServer as launch } from '../../src/bench/pykmip.js';
import type { PyKmipServer } from '../../src/bench/pykmip.js';

export { PYTHON, PYKMIP_SERVER, INSTALL_HINT, assertPyKmipInstalled, freePort } from '../../src/bench/pykmip.js';
export type { PyKmipServer } from '../../src/bench/pykmip.js';

export function startPyKmipServer(): Promise<PyKmipServer> {
  return launch({ logLevel: 'DEBUG' });
}
