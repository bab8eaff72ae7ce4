/**
 * Server certificate rotation without a restart (issue 18 item 5): every KMIP listener process watches its server
 * certificate and key files (a poll of their mtime and size every `kmip.tls.reloadIntervalMs`), and when they changed
 * and form a valid pair, swaps the listener's TLS context (tls.Server.setSecureContext). New handshakes get the new
 * certificate; established connections keep theirs and are never dropped. `openkcm pki server|rotate-server` replaces
 * the files by rename (src/cli/commands/pki.ts); a pair caught between the two renames does not match, is refused
 * here and is picked up on the next poll.
 *
 * The admin API listener is rotated the same way (src/appliance/governance/admin-api.ts): it watches
 * `governance.adminApi.tls.cert`/`.key` when set, else the KMIP server certificate it serves by default, and swaps
 * its context with {@link swapSecureContext}. The KMIP-over-HTTPS listener follows the KMIP listener's files.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { statSync } from 'node:fs';
import type { SecureContextOptions, Server as TlsServer } from 'node:tls';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '../common/log.js';
import type { Logger } from '../common/log.js';
import { DEFAULT_TLS_RELOAD_INTERVAL_MS } from '../config/tls.js';


export interface ServerCertFiles {
  readonly cert: string;
  readonly key: string;
}

/** The server certificate files of a data directory (`kmip.tls.cert` / `.key`, default pki/server.{crt,key}). */
export function serverCertFiles(dataDir: string, tls: { cert?: string; key?: string } | undefined): ServerCertFiles {
  return { cert: path.resolve(dataDir, tls?.cert ?? 'pki/server.crt'), key: path.resolve(dataDir, tls?.key ?? 'pki/server.key') };
}

/**
 * The admin API's certificate files: `governance.adminApi.tls.cert`/`.key` when the config names them (both, like
 * src/appliance/governance/admin-api.ts reads them), else the KMIP server's, which the admin API serves by default.
 */
export function adminCertFiles(dataDir: string, adminTls: unknown, kmipTls: { cert?: string; key?: string } | undefined): ServerCertFiles {
  const t = typeof adminTls === 'object' && adminTls !== null ? adminTls as { cert?: unknown; key?: unknown } : {};
  const kmip = serverCertFiles(dataDir, kmipTls);
  return {
    cert: typeof t.cert === 'string' ? path.resolve(dataDir, t.cert) : kmip.cert,
    key: typeof t.key === 'string' ? path.resolve(dataDir, t.key) : kmip.key,
  };
}

/**
 * Installs a new certificate and key on a TLS server (an https.Server too). setSecureContext replaces the whole
 * context, so the options that are not the pair (`base`: client CA, protocol floor, ciphers) are given again.
 * Established connections keep the context they were made with.
 */
export function swapSecureContext(server: TlsServer, base: Omit<SecureContextOptions, 'cert' | 'key'>): (cert: string, key: string) => void {
  return (cert, key) => { server.setSecureContext(Object.assign({}, base, { cert, key })); };
}

/** The expiry of a PEM certificate (metrics, logs, `openkcm pki status`). */
export function certNotAfter(pem: string): Date {
  return new Date(new X509Certificate(pem).validTo);
}

export interface TlsReloadOptions {
  readonly files: ServerCertFiles;
  readonly intervalMs?: number;
  readonly logger: Logger;
  /** Installs the new pair (KmipServer.reloadTls); throws when the TLS stack refuses it. */
  readonly apply: (cert: string, key: string) => void;
}

export interface TlsReloader {
  /** Checks the files now (tests, and the poll). Resolves true when a new pair was installed. */
  check(): Promise<boolean>;
  stop(): void;
}

/** Starts the poll (see the module comment). The first poll only records the files' current state. */
export function watchServerCert(opts: TlsReloadOptions): TlsReloader {
  const interval = opts.intervalMs ?? DEFAULT_TLS_RELOAD_INTERVAL_MS;
  const fmt = (c: { mtimeMs: number; size: number; ino: number }, k: { mtimeMs: number; size: number; ino: number }): string =>
    `${String(c.mtimeMs)}:${String(c.size)}:${String(c.ino)}|${String(k.mtimeMs)}:${String(k.size)}:${String(k.ino)}`;
  // The baseline is taken now, synchronously: a rotation right after the start must not become the baseline.
  let seen: string | undefined;
  try {
    seen = fmt(statSync(opts.files.cert), statSync(opts.files.key));
  } catch {
    seen = undefined;
  }
  let busy: Promise<boolean> | undefined;
  const stamp = async (): Promise<string> => {
    const [c, k] = await Promise.all([stat(opts.files.cert), stat(opts.files.key)]);
    return fmt(c, k);
  };
  const run = async (): Promise<boolean> => {
    let now: string;
    try {
      now = await stamp();
    } catch (e) {
      opts.logger.warn('server certificate files unreadable; the current certificate stays', describeError(e));
      return false;
    }
    if (seen === undefined) {
      seen = now;
      return false;
    }
    if (now === seen) return false;
    try {
      const [cert, key] = await Promise.all([readFile(opts.files.cert, 'utf8'), readFile(opts.files.key, 'utf8')]);
      const x = new X509Certificate(cert);
      // The pair must match before the listener gets it: a key from the next rotation beside the old certificate
      // would otherwise fail every handshake.
      if (!x.checkPrivateKey(createPrivateKey(key))) throw new Error('the certificate and key do not match (a rotation in progress?)');
      opts.apply(cert, key);
      seen = now;
      opts.logger.info('server certificate reloaded', { subjectAltName: x.subjectAltName, notAfter: new Date(x.validTo).toISOString(), serial: x.serialNumber });
      return true;
    } catch (e) {
      opts.logger.warn('server certificate not reloaded; retried at the next poll', describeError(e));
      return false;
    }
  };
  const check = (): Promise<boolean> => {
    busy ??= run().finally(() => { busy = undefined; });
    return busy;
  };
  const timer = setInterval(() => { void check(); }, interval);
  timer.unref();
  return { check, stop: () => { clearInterval(timer); } };
}
