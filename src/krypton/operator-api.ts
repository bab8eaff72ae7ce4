/**
 * The operator channel (issue 4 deliverable 6; docs/keystores.md "MasterKey, unsealing and node secrets"): a small
 * HTTP/JSON API on a unix socket `<dataDir>/operator.sock`, mode 0600, served by fastify. Only a local user who can
 * open the socket (the service account, root) can unseal or seal the node; there is no network listener to attack.
 *
 *   GET  /v1/sys/health       200 {status:'ok', ...} when unsealed, 503 {status:'sealed', ...} when sealed
 *   GET  /v1/sys/seal-status  200 MasterKey.status()
 *   POST /v1/sys/unseal       {share} → 200 status | 400 {error, message}
 *   POST /v1/sys/seal         → 200 status
 *   GET    /v1/sys/secrets        → 200 {secrets: [{name, bytes, modifiedAt}]} (never values; issue 16 item 1)
 *   PUT    /v1/sys/secrets/:name  body = the value, application/octet-stream → 204 (write-only: never read back)
 *   DELETE /v1/sys/secrets/:name  → 204 | 404
 *   (the secret routes answer 503 SERVER_SEALED while sealed: the MasterKey seals them)
 *   GET  /v1/sys/audit/verify[?tenant=T]  200 {ok, count, ...} (issue 16 item 5: `openkcm audit verify` on a live
 *                             node, whatever its seal type), 503 while sealed or before the governance plane is up
 *   GET  /v1/sys/audit/export[?tenant=T]  200 JSON lines of the chain (same conditions)
 *   POST /v1/sys/keystores/reload  → 200 {added, connections}: adds the keystore connections openkcm.conf gained
 *                             (issue 16 item 4); 409 RESTART_REQUIRED when one was changed or removed, 400
 *                             INVALID_CONFIG when the file does not validate (nothing applied either way)
 *
 * Shares are never logged: fastify's request logging is off, and our own log lines carry progress counts only.
 */
import { connect } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { Readable } from 'node:stream';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { KmipError } from '../kmip/errors.js';
import { MasterKeyError, MAX_NODE_SECRET_BYTES, MAX_SHARE_TEXT_CHARS, NODE_SECRET_NAME_PATTERN } from './master-key.js';
import type { MasterKey } from './master-key.js';

export const OPERATOR_SOCKET_FILE = 'operator.sock';
/**
 * Largest request body, bytes. An unseal request is ~100 bytes; the cap stops a local client from making the
 * server buffer and JSON-parse large bodies on the unseal path.
 */
export const OPERATOR_BODY_LIMIT_BYTES = 1024;
/** How long probing an existing socket may take before it is considered stale. */
const STALE_PROBE_MS = 500;

export interface OperatorApi {
  readonly socketPath: string;
  /** Serves the audit routes from now on (the governance plane starts after the hierarchy that owns this socket). */
  attachAudit(audit: OperatorAuditPort): void;
  /** Serves the keystore reload (the hierarchy attaches itself once it is open). */
  attachKeystores(keystores: OperatorKeystoresPort): void;
  close(): Promise<void>;
}

/** The running node's keystore connections, as the operator socket reloads them. */
export interface OperatorKeystoresPort {
  /** Re-reads openkcm.conf and adds new connections; throws an Error named RestartRequiredError or ConfigError/KeystoreError when refused. */
  reload(by: string): Promise<{ added: readonly string[]; connections: readonly string[] }>;
}

/**
 * The audit chains, as the operator socket serves them: verification and export run inside the node that holds the
 * HMAC key (derived from its MasterKey) and the database, so a Shamir or auto-unseal node needs no key outside it
 * and an embedded database is never read behind its holder's back. `tenant` undefined: the global chain.
 */
export interface OperatorAuditPort {
  verify(tenant: string | undefined): Promise<Readonly<Record<string, unknown>>>;
  exportLines(tenant: string | undefined): AsyncIterable<string>;
}

/** Longest tenant name in an audit query: the governance pattern's bound (src/cmk/db.ts TENANT_ID_PATTERN). */
const AUDIT_TENANT_MAX_CHARS = 40;
const auditQuerySchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { tenant: { type: 'string', minLength: 1, maxLength: AUDIT_TENANT_MAX_CHARS, pattern: '^[a-z0-9][a-z0-9_]*$' } },
  },
} as const;

const unsealSchema = {
  body: {
    type: 'object',
    required: ['share'],
    additionalProperties: false,
    properties: { share: { type: 'string', minLength: 1, maxLength: MAX_SHARE_TEXT_CHARS } },
  },
} as const;

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: code, message });
}

/** Is something listening on `socketPath`? ECONNREFUSED (or a timeout) means a stale socket file. */
function probe(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path: socketPath });
    const done = (alive: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => { done(false); }, STALE_PROBE_MS);
    s.once('connect', () => { done(true); });
    s.once('error', () => { done(false); });
  });
}

async function clearStaleSocket(socketPath: string): Promise<void> {
  let st;
  try {
    st = lstatSync(socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  if (await probe(socketPath)) throw new Error(`${socketPath} is in use: another openkcm process serves this data directory`);
  unlinkSync(socketPath);
}

function buildApp(mk: MasterKey, audit: () => OperatorAuditPort | undefined, keystores: () => OperatorKeystoresPort | undefined): FastifyInstance {
  const app = Fastify({
    logger: false, // no request logging at all: a request body may carry a share
    bodyLimit: OPERATOR_BODY_LIMIT_BYTES,
    // Reject (not strip or coerce) what the schema does not allow: a numeric "share" is an error, not a string.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    // Never echo request content back: validation messages name the field, not its value.
    return sendError(reply, status, err.code ?? 'BAD_REQUEST', status === 500 ? 'internal error' : err.message);
  });

  app.get('/v1/sys/health', (_req, reply) => {
    const s = mk.status();
    return reply.code(s.sealed ? 503 : 200).send({ status: s.sealed ? 'sealed' : 'ok', ...s });
  });
  app.get('/v1/sys/seal-status', () => mk.status());
  app.post('/v1/sys/unseal', { schema: unsealSchema }, async (req, reply) => {
    const { share } = req.body as { share: string };
    try {
      return await mk.submitShare(share);
    } catch (e) {
      if (e instanceof MasterKeyError) return sendError(reply, e.code === 'NOT_INITIALIZED' || e.code === 'NOT_SHAMIR' ? 409 : 400, e.code, e.message);
      throw e;
    }
  });
  // No body: anything sent is ignored (and bounded by OPERATOR_BODY_LIMIT_BYTES).
  app.post('/v1/sys/seal', () => {
    mk.seal();
    return mk.status();
  });

  // ---- node secrets (issue 16 item 1): write-only values, names and sizes readable ----------------------------
  // The value travels as raw bytes (never a JS string, which could not be wiped) and is zero-filled after the put.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_NODE_SECRET_BYTES }, (_req, body, done) => { done(null, body); });
  const sealed = (reply: FastifyReply): FastifyReply =>
    sendError(reply, 503, 'SERVER_SEALED', 'the node is sealed: unseal it (openkcm operator unseal) before managing its secrets; they are sealed by the master key');
  const secretFailure = (reply: FastifyReply, e: unknown): FastifyReply => {
    if (isSealedError(e)) return sealed(reply);
    if (e instanceof MasterKeyError && e.code === 'INVALID_ARGUMENT') return sendError(reply, 400, e.code, e.message);
    throw e;
  };
  const nameParams = {
    params: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', pattern: NODE_SECRET_NAME_PATTERN.source } } },
  } as const;
  app.get('/v1/sys/secrets', (_req, reply) => {
    try {
      return { secrets: mk.secrets.entries().map((e) => ({ name: e.name, bytes: e.bytes, modifiedAt: e.modifiedAt.toISOString() })) };
    } catch (e) {
      return secretFailure(reply, e);
    }
  });
  app.put('/v1/sys/secrets/:name', { schema: nameParams, bodyLimit: MAX_NODE_SECRET_BYTES }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const value = req.body;
    if (!Buffer.isBuffer(value)) return sendError(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'send the value as application/octet-stream');
    try {
      if (value.length === 0) return await sendError(reply, 400, 'INVALID_ARGUMENT', 'the secret value is empty');
      await mk.secrets.put(name, value, 'operator-socket');
      return await reply.code(204).send();
    } catch (e) {
      return await secretFailure(reply, e);
    } finally {
      value.fill(0);
    }
  });
  app.delete('/v1/sys/secrets/:name', { schema: nameParams }, async (req, reply) => {
    const { name } = req.params as { name: string };
    try {
      if (!await mk.secrets.delete(name, 'operator-socket')) return await sendError(reply, 404, 'SECRET_NOT_FOUND', `no node secret named ${name}`);
      return await reply.code(204).send();
    } catch (e) {
      return secretFailure(reply, e);
    }
  });

  /** The audit port when it can answer: the HMAC key needs an unsealed MasterKey. */
  const auditOr503 = (reply: FastifyReply): OperatorAuditPort | undefined => {
    const port = audit();
    if (mk.status().sealed) {
      sendError(reply, 503, 'SEALED', 'the node is sealed: unseal it (openkcm operator unseal) before verifying its audit chains');
      return undefined;
    }
    if (port === undefined) {
      sendError(reply, 503, 'NO_GOVERNANCE', 'this node runs no governance plane (governance.enabled false, or still starting)');
      return undefined;
    }
    return port;
  };
  /** A chain that does not exist (unknown tenant) is a 404 with the repository's message, not a 500. */
  const missing = (e: unknown): string | undefined => {
    const code = typeof e === 'object' && e !== null && 'code' in e ? String((e).code) : '';
    return code === 'TENANT_NOT_FOUND' || code === '42P01' || code === '3F000' ? (e instanceof Error ? e.message : code) : undefined;
  };
  app.get('/v1/sys/audit/verify', { schema: auditQuerySchema }, async (req, reply) => {
    const port = auditOr503(reply);
    if (port === undefined) return reply;
    try {
      return await port.verify((req.query as { tenant?: string }).tenant);
    } catch (e) {
      const m = missing(e);
      if (m !== undefined) return sendError(reply, 404, 'NOT_FOUND', m);
      throw e;
    }
  });
  app.get('/v1/sys/audit/export', { schema: auditQuerySchema }, async (req, reply) => {
    const port = auditOr503(reply);
    if (port === undefined) return reply;
    const lines = port.exportLines((req.query as { tenant?: string }).tenant)[Symbol.asyncIterator]();
    // The first line is read before the 200 goes out, so an unknown chain is still a clean 404.
    let first: IteratorResult<string>;
    try {
      first = await lines.next();
    } catch (e) {
      const m = missing(e);
      if (m !== undefined) return sendError(reply, 404, 'NOT_FOUND', m);
      throw e;
    }
    async function* rest(): AsyncGenerator<string> {
      if (first.done === true) return;
      yield first.value;
      for (let r = await lines.next(); r.done !== true; r = await lines.next()) yield r.value;
    }
    return reply.type('application/x-ndjson').send(Readable.from(rest()));
  });

  // ---- keystore connections added without a restart (issue 16 item 4) ----------------------------------------
  app.post('/v1/sys/keystores/reload', async (_req, reply) => {
    const port = keystores();
    if (port === undefined) return sendError(reply, 503, 'NO_KEYSTORES', 'this node runs no key hierarchy (vault.kek "dev")');
    try {
      return await port.reload('operator-socket');
    } catch (e) {
      const name = e instanceof Error ? e.name : '';
      const message = e instanceof Error ? e.message : String(e);
      if (name === 'RestartRequiredError') return sendError(reply, 409, 'RESTART_REQUIRED', message);
      if (name === 'ConfigError' || name === 'KeystoreError') return sendError(reply, 400, 'INVALID_CONFIG', message);
      throw e;
    }
  });
  return app;
}

/**
 * Serves the operator API for `masterKey` on `socketPath` (normally `<dataDir>/operator.sock`). A stale socket
 * file from a crashed process is removed; a live one (another server) is an error. The socket is created 0600
 * (umask around bind, then chmod) and removed on close.
 */
export async function startOperatorApi(masterKey: MasterKey, socketPath: string): Promise<OperatorApi> {
  await clearStaleSocket(socketPath);
  let audit: OperatorAuditPort | undefined;
  let keystores: OperatorKeystoresPort | undefined;
  const app = buildApp(masterKey, () => audit, () => keystores);
  await app.ready();
  await new Promise<void>((resolve, reject) => {
    const server = app.server;
    const onError = (e: Error): void => { reject(e); };
    server.once('error', onError);
    // bind(2) creates the socket file with 0777 & ~umask: tighten the umask for that one synchronous call so the
    // file is never reachable by others, even for the instant before the chmod below.
    const old = process.umask(0o177);
    try {
      server.listen({ path: socketPath }, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      process.umask(old);
    }
  });
  chmodSync(socketPath, 0o600);
  let closed = false;
  return {
    socketPath,
    attachAudit(port: OperatorAuditPort): void {
      audit = port;
    },
    attachKeystores(port: OperatorKeystoresPort): void {
      keystores = port;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await app.close();
      try {
        unlinkSync(socketPath);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    },
  };
}

/** Maps a thrown value from MasterKey/NodeSecrets for callers that answer HTTP (the admin API may reuse it). */
export function isSealedError(e: unknown): boolean {
  return e instanceof KmipError && e.code === 'SERVER_SEALED';
}
