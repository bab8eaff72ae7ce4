/**
 * A PKI and a real OCSP responder made with the openssl CLI (`openssl ocsp -index ... -port` as a child process),
 * for the OCSP tests (test/integration/ocsp.test.ts, test/unit/ocsp-limits.test.ts).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => { resolve(typeof a === 'object' && a !== null ? a.port : 0); });
    });
  });
}

/** A CA made with the openssl CLI (EC P-256): `${name}.crt`, `${name}.key` in `dir`. */
export function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '30', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
}

let serialCounter = 0x1000;
/** Issues `${cn}.crt` under CA `ca` with the extensions `ext` (openssl extfile lines); returns its serial (hex). */
export function issue(dir: string, ca: string, cn: string, ext: string): string {
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${cn}.key`, '-out', `${cn}.csr`, '-subj', `/CN=${cn}`], dir);
  execFileSync('sh', ['-c', `printf '%s\\n' "${ext}" > ${cn}.ext`], { cwd: dir });
  const serial = (serialCounter++).toString(16).toUpperCase();
  openssl(['x509', '-req', '-in', `${cn}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', `0x${serial}`, '-days', '10', '-extfile', `${cn}.ext`, '-out', `${cn}.crt`], dir);
  return serial;
}

/** Starts `openssl ocsp` (index.txt in `dir`, answers valid one day); resolves once it accepts connections. */
export async function startResponder(dir: string, port: number, signer: string, ca: string): Promise<ChildProcess> {
  const child = spawn('openssl', ['ocsp', '-index', 'index.txt', '-port', String(port), '-rsigner', `${signer}.crt`, '-rkey', `${signer}.key`,
    '-CA', `${ca}.crt`, '-ndays', '1'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => { err += d; });
  child.stdout.resume();
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (/waiting for OCSP client connections/i.test(err)) { clearInterval(t); resolve(); }
      if (child.exitCode !== null) { clearInterval(t); reject(new Error(`openssl ocsp exited: ${err}`)); }
    }, 20);
  });
  return child;
}

export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}
