/**
 * Start a real OpenKCM KMIP server for a test: a temporary data directory made by the same code
 * as `openkcm init`, then the server either in this process (fast; access to its internals and
 * to injected handlers) or as a child process running `openkcm serve` (for crash/SIGKILL and CLI
 * tests). Returns the bound port and ready-made client options per tenant.
 *
 *   const srv = await startTestServer({ tenants: ['alice', 'bob'] });
 *   const client = await srv.connect('alice');          // KmipClient over mTLS
 *   ...
 *   await srv.stop();                                    // graceful; removes the temp dir
 *
 * Restart on the same data (durability tests):
 *   const a = await startTestServer({ mode: 'child', keepDataDir: true });
 *   await a.kill();                                      // SIGKILL
 *   const b = await startTestServer({ mode: 'child', dataDir: a.dataDir });   // reuses PKI + vault
 *
 * Also here: rawConnect() (mutual TLS carrying raw bytes, for hostile-input and flow-control
 * tests), tinyHandlers() (three toy operations to exercise the server core alone) and whoami() (which
 * tenant tinyHandlers() sees on a raw connection).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KmipClient } from '../../src/client/client.js';
import type { KmipClientOptions } from '../../src/client/client.js';
import { hasPki, initDataDir } from '../../src/cli/commands/init.js';
import { startKmipApp } from '../../src/appliance/kmip-app.js';
import type { KmipApp } from '../../src/appliance/kmip-app.js';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/index.js';
import type { ConfigFile, IdentityConfig, ServerLimits } from '../../src/config/index.js';
import type { KmipServer } from '../../src/server/listener.js';
import { silentLogger } from '../../src/common/log.js';
import type { Logger } from '../../src/common/log.js';
import type { TtlvLimits } from '@openkcm/ttlv';
import type { OperationHandler, RequestContext } from '../../src/operations/types.js';
import { decodeTtlv, encodeTtlv, TtlvFramer } from '@openkcm/ttlv';
import { decodeResponse, encodeRequest, requestMessage } from '../../src/kmip/message.js';
import { rngRetrievePayloads } from '../../src/kmip/payloads/rng-retrieve.js';
import { KmipError } from '../../src/kmip/errors.js';
import { Operation, ResultStatus } from '../../src/kmip/registry.generated.js';
import type { KmipVersion } from '../../src/kmip/registry.generated.js';
import type { DiscoverVersionsRequest, DiscoverVersionsResponse } from '../../src/kmip/payloads/discover-versions.js';
import type { RngRetrieveRequest, RngRetrieveResponse } from '../../src/kmip/payloads/rng-retrieve.js';
import type { UidRequest, UidResponse } from '../../src/kmip/payloads/codec.js';
import { SERVER_KMIP_VERSIONS } from '../../src/server/processor.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/helpers → dist/src/cli/main.js */
export const CLI_MAIN = path.resolve(here, '..', '..', 'src', 'cli', 'main.js');

export interface StartTestServerOptions {
  /** Tenants to issue client certificates for at init (default ['default']). Ignored when dataDir is already initialised. */
  readonly tenants?: readonly string[];
  /** 'in-process' (default) or 'child' (`node dist/src/cli/main.js serve`). */
  readonly mode?: 'in-process' | 'child';
  /** Use this directory (initialised if it has no PKI). Default: a fresh temp dir. */
  readonly dataDir?: string;
  /** Keep the data directory on stop()/kill() (always kept when `dataDir` was given). */
  readonly keepDataDir?: boolean;
  /** Server limits, written to the config file (both modes). */
  readonly limits?: Partial<ServerLimits>;
  readonly ttlv?: Partial<Omit<TtlvLimits, 'maxMessageBytes'>>;
  readonly identity?: Partial<IdentityConfig>;
  /** The config file's `kmip.trust` section (enterprise trust anchors, src/server/trust.ts). */
  readonly trust?: unknown;
  /**
   * The config file's vault section. `{ kek: 'dev' }` runs the wiring before the key hierarchy (one development
   * KEK for every tenant); the default is the hierarchy's embedded default (development MasterKey file in the data
   * dir, the `local` L1 plugin, tenants onboarded on first use).
   */
  readonly vault?: Record<string, unknown>;
  /** The config file's seal section (src/krypton/master-key.ts); default: development key file. */
  readonly seal?: Record<string, unknown>;
  /** The config file's keystores section (src/appliance/hierarchy.ts); default: every tenant on the local plugin. */
  readonly keystores?: Record<string, unknown>;
  /**
   * The config file's governance section (src/appliance/governance/plane.ts). Default `{ enabled: false }`: creating an
   * embedded PGlite database takes seconds (up to ~20 s on a loaded 2-core box), which most protocol tests do
   * not need. The governance plane itself is tested by test/integration/governance-plane.test.ts, which opts in.
   */
  readonly governance?: Record<string, unknown>;
  /**
   * The config file's native section. Default {@link TEST_NATIVE_SETTINGS}: tests allow unlocked
   * key memory, because CI containers and developer shells often have RLIMIT_MEMLOCK of 64 KiB or
   * less and the servers under test are not guarding real keys. That memory IS locked is proven by
   * test/integration/native-memory.test.ts, and the production default (allowUnlocked false) by
   * test/unit/native-config.test.ts.
   */
  readonly native?: Record<string, unknown>;
  /** In-process only: replace the operation registry. */
  readonly getHandler?: (operation: number) => OperationHandler | undefined;
  /** In-process only: replace the services given to handlers. */
  readonly services?: unknown;
  /** In-process only: default silent. (Child processes log to the captured stderr.) */
  readonly logger?: Logger;
  /** Child only: extra environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Child only: ms to wait for the listening line (default 60 000: a start-up that never comes, not a timing check; a loaded 2-core box with worker processes needs tens of seconds). */
  readonly startTimeoutMs?: number;
  /** Child only: `serve --workers N` (default: the CLI's default, the number of CPUs). */
  readonly workers?: number;
  /** Child only: more `serve` arguments (e.g. --kmip-https-listen). */
  readonly args?: readonly string[];
  /** The config file's compat section (issue 20: name policy, client profiles). */
  readonly compat?: Record<string, unknown>;
  /** KMIP over HTTPS (issue 20): the config file's kmip.https section; `listen` defaults to 127.0.0.1:0. */
  readonly https?: { readonly requestTimeoutMs?: number; readonly maxTextBodyBytes?: number; readonly maxHeaderBytes?: number };
}

export interface TestServer {
  readonly host: string;
  readonly port: number;
  /** The KMIP-over-HTTPS port, when `https` was given. */
  readonly httpsPort: number | undefined;
  readonly dataDir: string;
  /** CA certificate PEM (trust anchor for the server certificate). */
  readonly ca: string;
  /** Options for KmipClient.connect as `tenant` (its client certificate). Default tenant: the first one. */
  clientOptions(tenant?: string, extra?: Partial<KmipClientOptions>): KmipClientOptions;
  /** Connect a KmipClient as `tenant`. `extra` overrides (e.g. { protocolVersion: '1.4' }). */
  connect(tenant?: string, extra?: Partial<KmipClientOptions>): Promise<KmipClient>;
  /** In-process mode: the listener (stats, connectionCount, inFlight). */
  readonly server: KmipServer | undefined;
  /** In-process mode: the app (its key hierarchy: krypton, MasterKey, vault, re-wrap job). */
  readonly app: KmipApp<unknown> | undefined;
  /** Child mode: the process. */
  readonly child: ChildProcess | undefined;
  /** Child mode: everything it wrote to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Graceful stop (in-process close / child SIGTERM and wait for exit); then removes a temp dir. */
  stop(): Promise<void>;
  /** Child: SIGKILL and wait (durability tests). In-process: same as a graceful close. */
  kill(): Promise<void>;
  /** Child: exit code after it exited (null while running or when killed by a signal). */
  exitCode(): number | null;
}

interface ClientMaterial { cert: string; key: string }

async function loadClients(dataDir: string, tenants: readonly string[]): Promise<Map<string, ClientMaterial>> {
  const out = new Map<string, ClientMaterial>();
  for (const t of tenants) {
    const dir = path.join(dataDir, 'pki', 'clients');
    try {
      out.set(t, { cert: await readFile(path.join(dir, `${t}.crt`), 'utf8'), key: await readFile(path.join(dir, `${t}.key`), 'utf8') });
    } catch {
      // A reused data dir may not have every tenant the caller names; clientOptions() reports it.
    }
  }
  return out;
}

async function listTenants(dataDir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const files = await readdir(path.join(dataDir, 'pki', 'clients'));
  return files.filter((f) => f.endsWith('.crt')).map((f) => f.slice(0, -4)).sort();
}

/** The test default of the config file's `native` section (docs/configuration.md, "Tests"). */
export const TEST_NATIVE_SETTINGS: Readonly<Record<string, unknown>> = { allowUnlocked: true };

/** Writes the test's overrides as the data directory's config file. */
async function writeConfig(dataDir: string, opts: StartTestServerOptions): Promise<void> {
  const file: ConfigFile = { kmip: { listen: '127.0.0.1:0' } };
  if (opts.limits !== undefined) file.kmip = { ...file.kmip, limits: opts.limits };
  if (opts.ttlv !== undefined) file.kmip = { ...file.kmip, ttlv: opts.ttlv };
  if (opts.https !== undefined) file.kmip = { ...file.kmip, https: { listen: '127.0.0.1:0', ...opts.https } };
  if (opts.identity !== undefined) file.identity = opts.identity;
  if (opts.compat !== undefined) file.compat = opts.compat;
  if (opts.trust !== undefined) file.kmip = { ...file.kmip, trust: opts.trust };
  if (opts.vault !== undefined) file.vault = opts.vault;
  if (opts.seal !== undefined) file.seal = opts.seal;
  if (opts.keystores !== undefined) file.keystores = opts.keystores;
  file.governance = opts.governance ?? { enabled: false };
  file.native = { ...(opts.native ?? TEST_NATIVE_SETTINGS) };
  await writeFile(path.join(dataDir, CONFIG_FILE_NAME), `// written by test/helpers/server.ts\n${JSON.stringify(file, null, 2)}\n`);
}

export async function startTestServer(opts: StartTestServerOptions = {}): Promise<TestServer> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? await mkdtemp(path.join(tmpdir(), 'openkcm-test-'));
  if (!await hasPki(dataDir)) await initDataDir({ dataDir, tenants: opts.tenants ?? ['default'], force: true });
  await writeConfig(dataDir, opts);
  const tenants = opts.tenants ?? await listTenants(dataDir);
  const clients = await loadClients(dataDir, tenants);
  const ca = await readFile(path.join(dataDir, 'pki', 'ca.crt'), 'utf8');
  const removeDir = async (): Promise<void> => {
    if (ownDir && opts.keepDataDir !== true) await rm(dataDir, { recursive: true, force: true });
  };

  let port: number;
  let httpsPort: number | undefined;
  let app: KmipApp<unknown> | undefined;
  let child: ChildProcess | undefined;
  let out = '';
  let err = '';
  let exited: Promise<void> = Promise.resolve();
  let exitCode: number | null = null;

  if (opts.mode === 'child') {
    const args = [CLI_MAIN, 'serve', '--data-dir', dataDir, '--kmip-listen', '127.0.0.1:0', ...(opts.workers === undefined ? [] : ['--workers', String(opts.workers)]), ...(opts.args ?? [])];
    const proc = spawn(process.execPath, args, {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    exited = new Promise((resolve) => { proc.once('exit', (code) => { exitCode = code; resolve(); }); });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (s: string) => { err += s; });
    proc.stdout.setEncoding('utf8');
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`openkcm serve did not print a listening line within ${String(opts.startTimeoutMs ?? 60_000)} ms; stderr:\n${err}`));
      }, opts.startTimeoutMs ?? 60_000);
      proc.stdout.on('data', (s: string) => {
        out += s;
        const m = /listening on \S*:(\d+)/.exec(out);
        const h = /KMIP over HTTPS at \S*:(\d+)/.exec(out);
        if (h !== null) httpsPort = Number(h[1]);
        if (m !== null && ((opts.https === undefined && !(opts.args ?? []).includes('--kmip-https-listen')) || h !== null)) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`openkcm serve exited (${String(code ?? signal)}) before listening; stderr:\n${err}`));
      });
    });
  } else {
    const loaded = await loadConfig(dataDir);
    app = await startKmipApp<unknown>(loaded, opts.logger ?? silentLogger, {
      ...(opts.getHandler === undefined ? {} : { getHandler: opts.getHandler }),
      ...(opts.services === undefined ? {} : { services: opts.services }),
    });
    port = app.address.port;
    httpsPort = app.httpsAddress?.port;
  }

  const clientOptions = (tenant?: string, extra: Partial<KmipClientOptions> = {}): KmipClientOptions => {
    const name = tenant ?? tenants[0] ?? 'default';
    const m = clients.get(name);
    if (m === undefined) throw new Error(`no client certificate for tenant ${name} in ${dataDir}`);
    return { host: '127.0.0.1', port, ca, cert: m.cert, key: m.key, ...extra };
  };

  return {
    host: '127.0.0.1',
    port,
    httpsPort,
    dataDir,
    ca,
    clientOptions,
    connect: (tenant, extra) => KmipClient.connect(clientOptions(tenant, extra)),
    server: app?.server,
    app,
    child,
    stdout: () => out,
    stderr: () => err,
    exitCode: () => exitCode,
    async stop(): Promise<void> {
      if (app !== undefined) await app.close();
      if (child !== undefined) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      }
      await removeDir();
    },
    async kill(): Promise<void> {
      if (app !== undefined) {
        const closing = app.close();
        await closing;
      }
      if (child !== undefined) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      }
      await removeDir();
    },
  };
}

/** Runs `fn` against a test server started with `opts`, and stops it afterwards (also when `fn` fails). */
export async function withTestServer<T>(opts: StartTestServerOptions, fn: (srv: TestServer) => Promise<T>): Promise<T> {
  const srv = await startTestServer(opts);
  try {
    return await fn(srv);
  } finally {
    await srv.stop();
  }
}

/** Runs `fn` with the client `connecting` resolves to (`srv.connect(tenant)`), and closes it afterwards. */
export async function withClient<T>(connecting: Promise<KmipClient>, fn: (c: KmipClient) => Promise<T>): Promise<T> {
  const c = await connecting;
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

// ---- raw TLS connections (bad-input and flow-control tests) -------------------------------------

export interface RawConnection {
  readonly socket: TLSSocket;
  /** Write bytes as they are. */
  send(bytes: Uint8Array): boolean;
  /** The next whole TTLV message from the server (framed by its 8-byte header). Rejects on close or timeout. */
  nextMessage(timeoutMs?: number): Promise<Buffer>;
  /** Messages received and not yet taken. */
  readonly received: number;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
  destroy(): void;
}

/** Open a mutual-TLS connection that speaks raw bytes (no KMIP client logic). */
export function rawConnect(opts: KmipClientOptions & { maxTlsVersion?: 'TLSv1.2' | 'TLSv1.3' }): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: opts.host,
      port: opts.port,
      ...(opts.ca === undefined ? {} : { ca: opts.ca as string }),
      ...(opts.cert === undefined ? {} : { cert: opts.cert }),
      ...(opts.key === undefined ? {} : { key: opts.key }),
      minVersion: opts.minTlsVersion ?? 'TLSv1.2',
      ...(opts.maxTlsVersion === undefined ? {} : { maxVersion: opts.maxTlsVersion }),
      checkServerIdentity: () => undefined,
    });
    const framer = new TtlvFramer({ maxMessageBytes: 64 * 1024 * 1024 });
    const messages: Buffer[] = [];
    const waiters: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
    let closed = false;
    const closedP = new Promise<void>((r) => { socket.once('close', () => { r(); }); });
    socket.on('data', (chunk: Buffer) => {
      for (const m of framer.push(chunk)) {
        const w = waiters.shift();
        if (w !== undefined) w.resolve(m);
        else messages.push(m);
      }
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      closed = true;
      for (const w of waiters.splice(0)) w.reject(new Error('connection closed'));
    });
    socket.once('secureConnect', () => {
      resolve({
        socket,
        send: (b) => socket.write(b),
        nextMessage(timeoutMs = 10_000): Promise<Buffer> {
          const m = messages.shift();
          if (m !== undefined) return Promise.resolve(m);
          if (closed) return Promise.reject(new Error('connection closed'));
          return new Promise<Buffer>((res, rej) => {
            const w = {
              resolve: (b: Buffer): void => { clearTimeout(t); res(b); },
              reject: (e: Error): void => { clearTimeout(t); rej(e); },
            };
            const t = setTimeout(() => {
              const i = waiters.indexOf(w);
              if (i >= 0) waiters.splice(i, 1);
              rej(new Error(`no message within ${String(timeoutMs)} ms`));
            }, timeoutMs);
            waiters.push(w);
          });
        },
        get received() { return messages.length; },
        closed: closedP,
        isClosed: () => closed,
        destroy: () => { socket.destroy(); },
      });
    });
    socket.once('error', reject);
  });
}

// ---- a tiny local handler table (server-core tests without the real operations) -------------------

/** Services of {@link tinyHandlers}: hooks to observe and steer the handlers. */
export interface TinyServices {
  /** Delay for an RNG Retrieve of `n` bytes, ms (pipelining tests). */
  delayMs?: (n: number) => number;
  /** Activate calls and undo steps, in order ("activate:UID", "undo:UID"). */
  readonly events: string[];
  /** RNG Retrieve (n > 0) calls started, running now, and the most running at once. */
  rng?: { calls: number; active: number; maxActive: number };
}

/** `handle` is typed by its own parameter annotation (a typed request), hence `never` here. */
function tiny(operation: number, since: KmipVersion, handle: (ctx: RequestContext<TinyServices>, req: never) => Promise<unknown>): OperationHandler {
  return { operation, since, mutating: false, handle };
}

/**
 * Discover Versions, RNG Retrieve and Activate, just enough to exercise the server core:
 * - RNG Retrieve of 0 bytes answers the caller's tenant name as Data (identity tests); of n > 0
 *   bytes answers n bytes of value n & 0xff after services.delayMs(n) (ordering tests);
 * - Activate succeeds (recording "activate:UID" and an undo step "undo:UID") unless UID starts
 *   with "fail" (Item Not Found) or is "boom" (an internal error: General Failure).
 */
export function tinyHandlers(): (operation: number) => OperationHandler | undefined {
  const table = new Map<number, OperationHandler>([
    [Operation.DiscoverVersions, tiny(Operation.DiscoverVersions, '1.1', (_ctx, req: DiscoverVersionsRequest): Promise<DiscoverVersionsResponse> => {
      const ours = SERVER_KMIP_VERSIONS.map((v) => ({ major: Number(v[0]), minor: Number(v[2]) })).reverse();
      const pick = req.protocolVersions.length === 0 ? ours
        : ours.filter((o) => req.protocolVersions.some((r) => r.major === o.major && r.minor === o.minor));
      return Promise.resolve({ protocolVersions: pick });
    })],
    [Operation.RNGRetrieve, tiny(Operation.RNGRetrieve, '1.3', async (ctx, req: RngRetrieveRequest): Promise<RngRetrieveResponse> => {
      if (req.dataLength === 0) return { data: new TextEncoder().encode(ctx.principal.tenant) };
      const s = ctx.services;
      if (s.rng !== undefined) {
        s.rng.calls++;
        s.rng.active++;
        s.rng.maxActive = Math.max(s.rng.maxActive, s.rng.active);
      }
      try {
        const ms = s.delayMs?.(req.dataLength) ?? 0;
        if (ms > 0) await new Promise((r) => setTimeout(r, ms));
        return { data: new Uint8Array(req.dataLength).fill(req.dataLength & 0xff) };
      } finally {
        if (s.rng !== undefined) s.rng.active--;
      }
    })],
    [Operation.Activate, tiny(Operation.Activate, '1.0', (ctx, req: UidRequest): Promise<UidResponse> => {
      const uid = req.uniqueIdentifier ?? '';
      if (uid.startsWith('fail')) return Promise.reject(new KmipError('ITEM_NOT_FOUND', 'no such object'));
      if (uid === 'boom') return Promise.reject(new Error('internal detail: /secret/path key=00112233'));
      ctx.services.events.push(`activate:${uid}`);
      ctx.undo?.record(() => { ctx.services.events.push(`undo:${uid}`); return Promise.resolve(); });
      return Promise.resolve({ uniqueIdentifier: uid });
    })],
  ]);
  return (op) => table.get(op);
}

/** An RNG Retrieve of 0 bytes: the request {@link tinyHandlers} answers with the caller's tenant name. */
export function whoamiBytes(): Buffer {
  const pv = { major: 1, minor: 4 };
  return encodeTtlv(encodeRequest(requestMessage({ protocolVersion: pv }, [
    { operation: Operation.RNGRetrieve, payload: rngRetrievePayloads.encodeRequest({ dataLength: 0 }, pv) },
  ])));
}

/** The tenant the server mapped this raw connection's client certificate to (a server on {@link tinyHandlers}). */
export async function whoami(raw: RawConnection): Promise<string> {
  raw.send(whoamiBytes());
  const resp = decodeResponse(decodeTtlv(await raw.nextMessage()));
  const item = resp.batchItems[0];
  assert.equal(item?.resultStatus, ResultStatus.Success);
  return Buffer.from(rngRetrievePayloads.decodeResponse(item.payload, resp.header.protocolVersion).data).toString();
}
