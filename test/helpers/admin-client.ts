// The admin API as the integration tests reach it over mutual TLS with the node's dev admin certificate
// (src/pki/admin-cert.ts): find the listener's port in the node's log, read the certificate, send JSON (or raw
// bytes: node secrets) and get the reply back parsed.
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { until } from './wait.js';

/**
 * `body` is the reply parsed as JSON (the text itself when it is not JSON); `text` the reply as sent (JSON lines),
 * `raw` its bytes (a DER CRL) and `type` its content type.
 */
export interface AdminReply { status: number; body: unknown; text: string; raw: Buffer; type: string | undefined }

/** One admin API call: a Buffer body goes as application/octet-stream, anything else as JSON. */
export type AdminCall = (method: string, urlPath: string, body?: unknown) => Promise<AdminReply>;

/** The admin API port a node logged ("admin API ready"), or undefined before it did. */
export function adminPortInLog(log: string): number | undefined {
  const m = /"admin API ready"[^\n]*"port":(\d+)/.exec(log);
  return m === null ? undefined : Number(m[1]);
}

/** Waits for the admin API port in the log of a node (a child server logs it once its governance plane is up). */
export function adminPortOf(node: { stderr(): string }, giveUpMs = 60_000): Promise<number> {
  return until('the admin API address in the log', () => adminPortInLog(node.stderr()), giveUpMs);
}

/** The environment the `openkcm tenant | client | identity | keys` commands reach a node's admin API with. */
export function adminCliEnv(port: number, pkiDir: string): Record<string, string> {
  return {
    OPENKCM_ADMIN_URL: `https://127.0.0.1:${String(port)}`, OPENKCM_ADMIN_CA: path.join(pkiDir, 'ca.crt'),
    OPENKCM_ADMIN_CERT: path.join(pkiDir, 'admin.crt'), OPENKCM_ADMIN_KEY: path.join(pkiDir, 'admin.key'),
  };
}

/** The dev admin certificate and key `openkcm init` wrote into a node's pki directory. */
export async function readDevAdminPem(pkiDir: string): Promise<{ cert: string; key: string }> {
  const cert = await readFile(path.join(pkiDir, 'admin.crt'), 'utf8');
  const key = await readFile(path.join(pkiDir, 'admin.key'), 'utf8');
  return { cert, key };
}

/** A client of the admin API on 127.0.0.1 (`port` read at each call when it is a function). */
export function adminClient(opts: { port: number | (() => number); ca: string | Buffer; cert: string; key: string }): AdminCall {
  return (method, urlPath, body) => new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const type = Buffer.isBuffer(body) ? 'application/octet-stream' : 'application/json';
    const req = httpsRequest({
      host: '127.0.0.1', port: typeof opts.port === 'number' ? opts.port : opts.port(), method, path: urlPath,
      ca: opts.ca, cert: opts.cert, key: opts.key,
      headers: payload === undefined ? {} : { 'content-type': type, 'content-length': String(payload.length) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = raw.toString('utf8');
        let parsed: unknown = text;
        try { parsed = text === '' ? undefined : JSON.parse(text) as unknown; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: parsed, text, raw, type: res.headers['content-type'] });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** An admin API client of a running test node, once it logged its admin API port, with the dev admin certificate. */
export async function adminOf(node: { stderr(): string; ca: string; dataDir: string }, giveUpMs?: number): Promise<AdminCall> {
  const port = await adminPortOf(node, giveUpMs);
  return adminClient({ port, ca: node.ca, ...await readDevAdminPem(path.join(node.dataDir, 'pki')) });
}
