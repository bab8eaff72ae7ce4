/**
 * The TLS floor (issue 7 §3): a minimal Node TLS server — mutual TLS, TCP_NODELAY — that
 * answers every TTLV request frame with one fixed response frame, a real response of OUR
 * server captured for the same operation, so the bytes on the wire (and the client's decode
 * work) are the same as against OpenKCM. It does no KMIP work at all: what it measures is the
 * cost of Node's TLS, the sockets and the client, which no Node KMIP server can go below.
 *
 * Framing uses the same TtlvFramer as the server (8-byte TTLV header: tag, type, length), so a
 * request split across TLS records or several requests in one record are answered exactly
 * once each, in order. Responses of one read are written together (cork/uncork), which is the
 * best case for the floor.
 *
 * Run as a child process so it gets its own event loop, like the servers it is compared with:
 *   node dist/src/bench/floor-server.js CONFIG.json     (prints "floor listening on HOST:PORT")
 * CONFIG.json: {"host","port","cert","key","ca","responseHex"}.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TtlvFramer } from '@openkcm/ttlv';

export interface FloorConfig {
  readonly host?: string;
  readonly port?: number;
  /** Server certificate and key, and the CA that client certificates must chain to (PEM). */
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  /** The response frame to send for every request frame. */
  readonly response: Buffer;
}

/** Largest request frame accepted: the server's own default (packages/ttlv/src/limits.ts); a bigger announced length is a broken peer. */
const FLOOR_MAX_MESSAGE_BYTES = 1024 * 1024;

export interface FloorServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startFloorServer(cfg: FloorConfig): Promise<FloorServer> {
  const response = cfg.response;
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({
    cert: cfg.cert, key: cfg.key, ca: cfg.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2',
  }, (socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    const framer = new TtlvFramer({ maxMessageBytes: FLOOR_MAX_MESSAGE_BYTES });
    socket.on('data', (chunk: Buffer) => {
      let n: number;
      try {
        n = framer.push(chunk).length;
      } catch {
        socket.destroy();
        return;
      }
      if (n === 1) socket.write(response);
      else if (n > 1) {
        socket.cork();
        for (let i = 0; i < n; i++) socket.write(response);
        socket.uncork();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => { sockets.delete(socket); });
  });
  server.on('tlsClientError', (_e, s) => { s.destroy(); });
  server.maxConnections = 100_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port ?? 0, cfg.host ?? '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const a = server.address() as AddressInfo;
  return {
    host: a.address,
    port: a.port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => { resolve(); });
    }),
  };
}

const HERE = fileURLToPath(import.meta.url);

export interface FloorChild extends FloorServer {
  readonly pid: number | undefined;
}

/** Starts the floor server in a child process (its own event loop and core, like the servers compared). */
export async function spawnFloorServer(cfg: FloorConfig): Promise<FloorChild> {
  const dir = await mkdtemp(path.join(tmpdir(), 'openkcm-floor-'));
  const file = path.join(dir, 'floor.json');
  await writeFile(file, JSON.stringify({ host: cfg.host ?? '127.0.0.1', port: cfg.port ?? 0, cert: cfg.cert, key: cfg.key, ca: cfg.ca, responseHex: cfg.response.toString('hex') }), { mode: 0o600 });
  const child: ChildProcess = spawn(process.execPath, [HERE, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => { err += s; });
  const exited = new Promise<void>((r) => child.once('exit', () => { r(); }));
  try {
    const { host, port } = await new Promise<{ host: string; port: number }>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => { reject(new Error(`floor server did not start: ${err}`)); }, 15_000);
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (s: string) => {
        out += s;
        const m = /floor listening on (\S+):(\d+)/.exec(out);
        if (m !== null) {
          clearTimeout(timer);
          resolve({ host: m[1] ?? '127.0.0.1', port: Number(m[2]) });
        }
      });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`floor server exited (${String(code)}): ${err}`)); });
    });
    return {
      host, port, pid: child.pid,
      async close(): Promise<void> {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function main(file: string): Promise<void> {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { host: string; port: number; cert: string; key: string; ca: string; responseHex: string };
  const srv = await startFloorServer({ ...raw, response: Buffer.from(raw.responseHex, 'hex') });
  process.stdout.write(`floor listening on ${srv.host}:${String(srv.port)}\n`);
  const stop = (): void => { void srv.close().then(() => { process.exit(0); }); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: floor-server.js CONFIG.json\n');
    process.exit(2);
  }
  main(file).catch((e: unknown) => {
    process.stderr.write(`floor server: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
