// The readiness check of openkcm.service (ExecStartPost): exits 0 once the KMIP address of the data directory's
// configuration accepts a TCP connection, 1 after --timeout-ms. Node has no sd_notify, and systemd counts a unit
// "active" only when ExecStartPost has finished, so this stands in for Type=notify (docs/appliance.md "Readiness").
// It only connects and closes: no TLS handshake, no credentials, nothing logged by the server beyond a connection.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { CONFIG_FILE_NAME, DEFAULT_KMIP_LISTEN, parseJsonc, parseListen, validateConfigFile } =
  await import(path.join(root, 'app', 'dist', 'src', 'config', 'index.js'));

let dataDir = '/var/lib/openkcm';
let timeoutMs = 60_000;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--data-dir') dataDir = argv[++i] ?? dataDir;
  else if (argv[i] === '--timeout-ms') timeoutMs = Number(argv[++i]);
}
let listen = DEFAULT_KMIP_LISTEN;
try {
  const file = validateConfigFile(parseJsonc(await readFile(path.join(dataDir, CONFIG_FILE_NAME), 'utf8')));
  listen = file.kmip?.listen ?? listen;
} catch (e) {
  if (e?.code !== 'ENOENT') throw e;
}
let { host, port } = parseListen(listen);
if (host === '0.0.0.0') host = '127.0.0.1';
if (host === '::') host = '::1';

const start = Date.now();
function attempt() {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', () => { resolve(false); });
  });
}
while (!(await attempt())) {
  if (Date.now() - start > timeoutMs) {
    process.stderr.write(`openkcm ready: KMIP ${listen} did not accept a connection within ${String(timeoutMs)} ms\n`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}
process.stdout.write(`openkcm ready: KMIP ${listen} accepts connections (${String(Date.now() - start)} ms after start)\n`);
