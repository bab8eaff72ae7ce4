/**
 * A local HTTPS endpoint speaking the AWS KMS wire protocol, for driving the REAL @aws-sdk/client-kms in tests
 * (issue 4, deliverable 3). It is not a mock of the plugin: the SDK signs, serialises, retries and parses errors
 * exactly as it does against AWS, and this server checks all of it.
 *
 * Protocol: AWS JSON 1.1. `POST /`, `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: TrentService.<Op>`,
 * JSON body; errors are HTTP 4xx/5xx with `{"__type": "<Name>", "message": "..."}`.
 *
 * Authentication: AWS Signature Version 4, verified from the spec (AWS General Reference, "Create a signed AWS API
 * request"): canonical request (method, canonical URI, canonical query, canonical headers, signed headers, payload
 * hash) → string to sign (algorithm, x-amz-date, credential scope, hash of canonical request) → HMAC-SHA256 chain
 * kDate/kRegion/kService/kSigning from "AWS4"+secret. Every header named in SignedHeaders enters the canonical
 * request, and host, x-amz-date, content-type, x-amz-target and every x-amz-* header present must be signed:
 * an unsigned X-Amz-Target would let a man in the middle turn an Encrypt into a Decrypt.
 *
 * Crypto: per-key random AES-256 material; ciphertext blob = 0x01 | idLen | keyId | nonce(12) | ct | tag(16); AAD =
 * blob header || canonical EncryptionContext, so a context mismatch is InvalidCiphertextException as in KMS.
 *
 * Authorisation: key policies in the IAM JSON grammar (Effect/Principal/Action/Condition with StringEquals,
 * StringLike, ForAllValues:*, ForAnyValue:*, Null over kms:EncryptionContext:<k>, kms:EncryptionContextKeys,
 * kms:CallerAccount), explicit Deny wins, default deny; no policy = the default key policy (the whole account).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { testPki } from './pki.js';

export const KMS_TEST_REGION = 'eu-central-1';
export const KMS_TEST_ACCOUNT = '111122223333';
/** SigV4: requests whose x-amz-date is further than this from the server clock are refused (replay window). */
export const SIGV4_MAX_SKEW_MS = 5 * 60_000;
/** Body limit: KMS plaintext is at most 4096 bytes; 64 KiB leaves room for base64 and JSON around it. */
const MAX_BODY_BYTES = 64 * 1024;

const BLOB_VERSION = 0x01;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface KmsTestUser {
  readonly userName: string;
  readonly arn: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

interface Policy {
  readonly statements: readonly Statement[];
}
interface Statement {
  readonly effect: 'Allow' | 'Deny';
  readonly principals: readonly string[] | '*';
  readonly actions: readonly string[];
  readonly conditions: readonly { op: string; key: string; values: readonly string[] }[];
}

interface KmsKey {
  readonly keyId: string;
  readonly arn: string;
  readonly material: Buffer;
  readonly keySpec: 'SYMMETRIC_DEFAULT' | 'HMAC_256';
  readonly keyUsage: 'ENCRYPT_DECRYPT' | 'GENERATE_VERIFY_MAC';
  readonly description: string;
  readonly creationDate: Date;
  state: KeyState;
  deletionDate: Date | undefined;
  policy: Policy | undefined;
}

/** One served request, for assertions on what the SDK actually sent (retries, targets, callers). */
export interface KmsCall {
  readonly op: string;
  readonly accessKeyId: string | undefined;
  readonly status: number;
  readonly errorType: string | undefined;
  /** The SignedHeaders list of the request, once its signature verified. */
  readonly signedHeaders: readonly string[] | undefined;
}

export class KmsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

// -------------------------------------------------------------------------------------------------------------
// SigV4 primitives (exported for the tests that craft requests by hand).

/** RFC 3986 percent-encoding of everything but unreserved characters, as SigV4 requires. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/gu, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secretAccessKey}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

function canonicalUri(rawPath: string): string {
  // The path on the wire is the SDK's path encoded once; SigV4 (non-S3) signs each segment encoded, after
  // removing dot segments. Decoding what arrived and encoding each segment reproduces what the client signed.
  const out: string[] = [];
  for (const segment of rawPath.split('/').slice(1)) {
    const decoded = decodeURIComponent(segment);
    if (decoded === '.') continue;
    if (decoded === '..') {
      out.pop();
      continue;
    }
    out.push(uriEncode(decoded));
  }
  return `/${out.join('/')}`;
}

function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs = rawQuery.split('&').map((part) => {
    const eq = part.indexOf('=');
    const k = decodeURIComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/gu, ' '));
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/gu, ' '));
    return [uriEncode(k), uriEncode(v)] as const;
  });
  pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function canonicalHeaderValue(values: readonly string[]): string {
  // Trim and collapse sequential spaces; several occurrences of one header are joined with commas.
  return values.map((v) => v.trim().replace(/\s+/gu, ' ')).join(',');
}

const AUTH_PREFIX = 'AWS4-HMAC-SHA256 ';
const REQUIRED_SIGNED = ['host', 'x-amz-date', 'content-type', 'x-amz-target'];

interface VerifiedCaller {
  readonly user: KmsTestUser;
  readonly signedHeaders: readonly string[];
}

// -------------------------------------------------------------------------------------------------------------

function canonicalContext(ec: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [];
  for (const key of Object.keys(ec).sort()) {
    const k = Buffer.from(key, 'utf8');
    const v = Buffer.from(ec[key] ?? '', 'utf8');
    const lens = Buffer.alloc(8);
    lens.writeUInt32BE(k.length, 0);
    lens.writeUInt32BE(v.length, 4);
    parts.push(lens.subarray(0, 4), k, lens.subarray(4), v);
  }
  return Buffer.concat(parts);
}

function glob(pattern: string, value: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/gu, '\\$&').replace(/\*/gu, '.*').replace(/\?/gu, '.');
  return new RegExp(`^${re}$`, 'su').test(value);
}

const CONDITION_OPS = new Set([
  'StringEquals',
  'StringLike',
  'ForAllValues:StringEquals',
  'ForAllValues:StringLike',
  'ForAnyValue:StringEquals',
  'ForAnyValue:StringLike',
  'Null',
]);

function asStringList(value: unknown, what: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  throw new KmsError('MalformedPolicyDocumentException', `${what} must be a string or a list of strings`);
}

function parsePolicy(text: string): Policy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new KmsError('MalformedPolicyDocumentException', 'The new key policy contains invalid JSON.');
  }
  if (typeof doc !== 'object' || doc === null) throw new KmsError('MalformedPolicyDocumentException', 'policy must be an object');
  const raw = (doc as Record<string, unknown>)['Statement'];
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  const statements = list.map((s): Statement => {
    if (typeof s !== 'object' || s === null) throw new KmsError('MalformedPolicyDocumentException', 'statement must be an object');
    const st = s as Record<string, unknown>;
    const effect = st['Effect'];
    if (effect !== 'Allow' && effect !== 'Deny') throw new KmsError('MalformedPolicyDocumentException', 'Effect must be Allow or Deny');
    const principal = st['Principal'];
    let principals: readonly string[] | '*';
    if (principal === '*') principals = '*';
    else if (typeof principal === 'object' && principal !== null && 'AWS' in principal) {
      const aws = (principal as Record<string, unknown>)['AWS'];
      principals = aws === '*' ? '*' : asStringList(aws, 'Principal.AWS');
    } else throw new KmsError('MalformedPolicyDocumentException', 'Principal must be "*" or {"AWS": ...}');
    const actions = asStringList(st['Action'], 'Action');
    const conditions: { op: string; key: string; values: readonly string[] }[] = [];
    const cond = st['Condition'];
    if (cond !== undefined) {
      if (typeof cond !== 'object' || cond === null) throw new KmsError('MalformedPolicyDocumentException', 'Condition must be an object');
      for (const [op, block] of Object.entries(cond as Record<string, unknown>)) {
        if (!CONDITION_OPS.has(op)) throw new KmsError('MalformedPolicyDocumentException', `unsupported condition operator ${op}`);
        if (typeof block !== 'object' || block === null) throw new KmsError('MalformedPolicyDocumentException', 'condition block must be an object');
        for (const [key, values] of Object.entries(block as Record<string, unknown>)) {
          conditions.push({ op, key, values: asStringList(values, `Condition ${op} ${key}`) });
        }
      }
    }
    return { effect, principals, actions, conditions };
  });
  return { statements };
}

interface RequestContext {
  readonly action: string;
  readonly user: KmsTestUser;
  readonly encryptionContext: Readonly<Record<string, string>> | undefined;
}

function contextValues(key: string, ctx: RequestContext): string[] | undefined {
  if (key === 'kms:CallerAccount') return [KMS_TEST_ACCOUNT];
  if (key === 'kms:EncryptionContextKeys') return ctx.encryptionContext === undefined ? undefined : Object.keys(ctx.encryptionContext);
  if (key.startsWith('kms:EncryptionContext:')) {
    const value = ctx.encryptionContext?.[key.slice('kms:EncryptionContext:'.length)];
    return value === undefined ? undefined : [value];
  }
  return undefined;
}

function conditionHolds(op: string, key: string, wanted: readonly string[], ctx: RequestContext): boolean {
  const have = contextValues(key, ctx);
  if (op === 'Null') return wanted.every((w) => (w === 'true') === (have === undefined || have.length === 0));
  const match = op.endsWith('StringLike') ? glob : (p: string, v: string): boolean => p === v;
  if (op.startsWith('ForAllValues:')) return (have ?? []).every((v) => wanted.some((p) => match(p, v)));
  if (op.startsWith('ForAnyValue:')) return (have ?? []).some((v) => wanted.some((p) => match(p, v)));
  // Single-valued operators: a missing key never matches (IAM semantics).
  return have !== undefined && have.some((v) => wanted.some((p) => match(p, v)));
}

function statementApplies(st: Statement, ctx: RequestContext): boolean {
  const principalOk =
    st.principals === '*' ||
    st.principals.some((p) => p === ctx.user.arn || p === KMS_TEST_ACCOUNT || p === `arn:aws:iam::${KMS_TEST_ACCOUNT}:root`);
  if (!principalOk) return false;
  if (!st.actions.some((a) => glob(a, ctx.action))) return false;
  return st.conditions.every((c) => conditionHolds(c.op, c.key, c.values, ctx));
}

function authorize(key: KmsKey, ctx: RequestContext): void {
  // No policy: the default key policy, which gives the account (every user here) full access.
  if (key.policy === undefined) return;
  const applicable = key.policy.statements.filter((st) => statementApplies(st, ctx));
  if (applicable.some((st) => st.effect === 'Deny')) {
    throw new KmsError(
      'AccessDeniedException',
      `User: ${ctx.user.arn} is not authorized to perform: ${ctx.action} on resource: ${key.arn} with an explicit deny in a resource-based policy`,
    );
  }
  if (!applicable.some((st) => st.effect === 'Allow')) {
    throw new KmsError(
      'AccessDeniedException',
      `User: ${ctx.user.arn} is not authorized to perform: ${ctx.action} on resource: ${key.arn} because no resource-based policy allows the ${ctx.action} action`,
    );
  }
}

// -------------------------------------------------------------------------------------------------------------

function str(body: Record<string, unknown>, field: string, required: true): string;
function str(body: Record<string, unknown>, field: string, required: false): string | undefined;
function str(body: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = body[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') {
    throw new KmsError('ValidationException', `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`);
  }
  return v;
}

function b64(body: Record<string, unknown>, field: string, min: number, max: number): Buffer {
  const text = str(body, field, true);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new KmsError('SerializationException', `${field} is not canonical base64`);
  if (bytes.length < min || bytes.length > max) {
    throw new KmsError(
      'ValidationException',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length between ${String(min)} and ${String(max)}`,
    );
  }
  return bytes;
}

function ecOf(body: Record<string, unknown>): Record<string, string> | undefined {
  const ec = body['EncryptionContext'];
  if (ec === undefined) return undefined;
  if (typeof ec !== 'object' || ec === null || Array.isArray(ec)) throw new KmsError('SerializationException', 'EncryptionContext must be a map');
  for (const v of Object.values(ec)) if (typeof v !== 'string') throw new KmsError('SerializationException', 'EncryptionContext values must be strings');
  return ec as Record<string, string>;
}

export interface AwsKmsEndpointOptions {
  readonly region?: string;
}

export class AwsKmsTestEndpoint {
  readonly region: string;
  readonly caPem: string;
  readonly calls: KmsCall[] = [];
  readonly #server: Server;
  readonly #users = new Map<string, KmsTestUser>();
  readonly #keys = new Map<string, KmsKey>();
  readonly #faults: { op: string; remaining: number; status: number; type: string }[] = [];
  #stalled: string | undefined;
  #url = '';

  private constructor(server: Server, region: string, caPem: string) {
    this.#server = server;
    this.region = region;
    this.caPem = caPem;
  }

  static async start(opts: AwsKmsEndpointOptions = {}): Promise<AwsKmsTestEndpoint> {
    const pki = await testPki();
    const holder: { endpoint?: AwsKmsTestEndpoint } = {};
    const server = createServer({ key: pki.server.keyPem, cert: pki.server.certPem }, (req, res) => {
      if (holder.endpoint !== undefined) holder.endpoint.#handle(req, res);
    });
    const endpoint = new AwsKmsTestEndpoint(server, opts.region ?? KMS_TEST_REGION, pki.ca.certPem);
    holder.endpoint = endpoint;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        resolve();
      });
    });
    endpoint.#url = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
    return endpoint;
  }

  get url(): string {
    return this.#url;
  }

  /** Registers an IAM user with a fresh access key (and optionally an STS-style session token). */
  addUser(userName: string, opts: { sessionToken?: boolean } = {}): KmsTestUser {
    const user: KmsTestUser = {
      userName,
      arn: `arn:aws:iam::${KMS_TEST_ACCOUNT}:user/${userName}`,
      accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      ...(opts.sessionToken === true ? { sessionToken: randomBytes(96).toString('base64') } : {}),
    };
    this.#users.set(user.accessKeyId, user);
    return user;
  }

  /** The next `count` calls of `op` ('*' for any) fail with the given error after authentication. */
  injectFault(op: string, count: number, type = 'KMSInternalException', status = 500): void {
    this.#faults.push({ op, remaining: count, status, type });
  }

  /** Calls of `op` ('*' for any) are accepted and never answered (a black hole), until `stall(undefined)`. */
  stall(op: string | undefined): void {
    this.#stalled = op;
  }

  /** Number of keys; lets tests check nothing was created behind their back. */
  get keyCount(): number {
    return this.#keys.size;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => {
      resolve();
    }));
    this.#server.closeAllConnections();
    await closed;
  }

  // -----------------------------------------------------------------------------------------------------------

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // STS (AWS query protocol) on the same host: see ./aws-sts-endpoint.ts.
      if (this.sts !== undefined && (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        const sts = this.sts;
        const answer = sts(body, () => this.#verifySignature(req, body, 'sts').user);
        res.writeHead(answer.status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(answer.xml) });
        res.end(answer.xml);
        return;
      }
      let op = 'unknown';
      let caller: VerifiedCaller | undefined;
      try {
        if (tooBig) throw new KmsError('ValidationException', 'request body too large', 413);
        const target = req.headers['x-amz-target'];
        if (typeof target === 'string' && target.startsWith('TrentService.')) op = target.slice('TrentService.'.length);
        caller = this.#verifySignature(req, body);
        if (req.method !== 'POST' || (req.url ?? '/') !== '/') throw new KmsError('UnknownOperationException', 'only POST / is served');
        if (req.headers['content-type'] !== 'application/x-amz-json-1.1') {
          throw new KmsError('SerializationException', 'Content-Type must be application/x-amz-json-1.1');
        }
        const fault = this.#faults.find((f) => f.remaining > 0 && (f.op === '*' || f.op === op));
        if (fault !== undefined) {
          fault.remaining -= 1;
          throw new KmsError(fault.type, 'injected fault', fault.status);
        }
        if (this.#stalled !== undefined && (this.#stalled === '*' || this.#stalled === op)) {
          this.calls.push({ op, accessKeyId: caller.user.accessKeyId, status: 0, errorType: 'stalled', signedHeaders: caller.signedHeaders });
          return;
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.length === 0 ? '{}' : body.toString('utf8'));
        } catch {
          throw new KmsError('SerializationException', 'body is not JSON');
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new KmsError('SerializationException', 'body must be an object');
        const result = this.#dispatch(op, parsed as Record<string, unknown>, caller.user);
        this.#reply(res, 200, result);
        this.calls.push({ op, accessKeyId: caller.user.accessKeyId, status: 200, errorType: undefined, signedHeaders: caller.signedHeaders });
      } catch (err) {
        const e = err instanceof KmsError ? err : new KmsError('KMSInternalException', 'internal error', 500);
        this.#reply(res, e.status, { __type: e.type, message: e.message });
        this.calls.push({ op, accessKeyId: caller?.user.accessKeyId, status: e.status, errorType: e.type, signedHeaders: caller?.signedHeaders });
      }
    });
  }

  #reply(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
    });
    res.end(text);
  }

  /** Serves STS on this host when set (test/helpers/aws-sts-endpoint.ts): `verify` checks SigV4 for service sts. */
  sts: ((body: Buffer, verify: () => KmsTestUser) => { status: number; xml: string }) | undefined;

  #verifySignature(req: IncomingMessage, body: Buffer, service = 'kms'): VerifiedCaller {
    const auth = req.headers.authorization;
    if (auth === undefined) throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    if (!auth.startsWith(AUTH_PREFIX)) throw new KmsError('IncompleteSignatureException', 'Authorization header must use AWS4-HMAC-SHA256');
    const fields = new Map<string, string>();
    for (const part of auth.slice(AUTH_PREFIX.length).split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const credential = fields.get('Credential');
    const signedHeadersText = fields.get('SignedHeaders');
    const signature = fields.get('Signature');
    if (credential === undefined || signedHeadersText === undefined || signature === undefined) {
      throw new KmsError('IncompleteSignatureException', 'Authorization header requires Credential, SignedHeaders and Signature');
    }
    const scopeParts = credential.split('/');
    if (scopeParts.length !== 5 || scopeParts[4] !== 'aws4_request') {
      throw new KmsError('IncompleteSignatureException', 'Credential must be <key-id>/<date>/<region>/<service>/aws4_request');
    }
    const [accessKeyId, scopeDate, scopeRegion, scopeService] = scopeParts as [string, string, string, string, string];

    const amzDate = req.headers['x-amz-date'];
    if (typeof amzDate !== 'string' || !/^\d{8}T\d{6}Z$/u.test(amzDate)) {
      throw new KmsError('IncompleteSignatureException', 'X-Amz-Date must be an ISO 8601 basic date-time');
    }
    if (scopeDate !== amzDate.slice(0, 8)) {
      throw new KmsError('InvalidSignatureException', 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP');
    }
    if (scopeRegion !== this.region) throw new KmsError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${scopeRegion}'.`);
    if (scopeService !== service) throw new KmsError('InvalidSignatureException', `Credential should be scoped to correct service: '${service}'.`);
    const signedAt = Date.UTC(
      Number(amzDate.slice(0, 4)),
      Number(amzDate.slice(4, 6)) - 1,
      Number(amzDate.slice(6, 8)),
      Number(amzDate.slice(9, 11)),
      Number(amzDate.slice(11, 13)),
      Number(amzDate.slice(13, 15)),
    );
    const now = Date.now();
    if (now - signedAt > SIGV4_MAX_SKEW_MS) {
      throw new KmsError('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier than the allowed window (5 min.)`);
    }
    if (signedAt - now > SIGV4_MAX_SKEW_MS) throw new KmsError('InvalidSignatureException', `Signature not yet current: ${amzDate}`);

    const signedHeaders = signedHeadersText.split(';');
    const sorted = [...new Set(signedHeaders)].sort();
    if (signedHeaders.some((h) => h !== h.toLowerCase() || h === '') || sorted.join(';') !== signedHeadersText) {
      throw new KmsError('IncompleteSignatureException', 'SignedHeaders must be lowercase, sorted and unique');
    }
    for (const required of REQUIRED_SIGNED.filter((h) => service === 'kms' || h !== 'x-amz-target')) {
      if (!signedHeaders.includes(required)) throw new KmsError('IncompleteSignatureException', `'${required}' must be a 'SignedHeader' in the AWS Authorization.`);
    }
    for (const name of Object.keys(req.headers)) {
      if (name.startsWith('x-amz-') && !signedHeaders.includes(name)) {
        throw new KmsError('IncompleteSignatureException', `header '${name}' must be signed`);
      }
    }
    const distinct = req.headersDistinct;
    const canonicalHeaders = signedHeaders
      .map((name) => {
        const values = distinct[name];
        if (values === undefined) throw new KmsError('IncompleteSignatureException', `signed header '${name}' is missing from the request`);
        return `${name}:${canonicalHeaderValue(values)}\n`;
      })
      .join('');
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const payloadHash = sha256Hex(body);
    const declaredHash = req.headers['x-amz-content-sha256'];
    if (typeof declaredHash === 'string' && declaredHash !== payloadHash) {
      throw new KmsError('InvalidSignatureException', 'x-amz-content-sha256 does not match the body');
    }
    const canonicalRequest = [
      req.method ?? '',
      canonicalUri(q < 0 ? rawUrl : rawUrl.slice(0, q)),
      canonicalQuery(q < 0 ? '' : rawUrl.slice(q + 1)),
      canonicalHeaders,
      signedHeadersText,
      payloadHash,
    ].join('\n');
    const scope = `${scopeDate}/${scopeRegion}/${scopeService}/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');

    // Only now look the key id up: the structural checks above cost nothing and reveal nothing about users.
    const user = this.#users.get(accessKeyId);
    if (user === undefined) throw new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    const token = req.headers['x-amz-security-token'];
    if (user.sessionToken !== undefined || token !== undefined) {
      const given = Buffer.from(typeof token === 'string' ? token : '');
      const expected = Buffer.from(user.sessionToken ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected) || expected.length === 0) {
        throw new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
      }
    }
    const expected = createHmac('sha256', signingKey(user.secretAccessKey, scopeDate, scopeRegion, scopeService)).update(stringToSign).digest();
    const given = /^[0-9a-f]{64}$/u.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new KmsError(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    return { user, signedHeaders };
  }

  // -----------------------------------------------------------------------------------------------------------

  #dispatch(op: string, body: Record<string, unknown>, user: KmsTestUser): Record<string, unknown> {
    switch (op) {
      case 'CreateKey':
        return this.#createKey(body);
      case 'DescribeKey': {
        const key = this.#findKey(str(body, 'KeyId', true));
        authorize(key, { action: 'kms:DescribeKey', user, encryptionContext: undefined });
        return { KeyMetadata: this.#metadata(key) };
      }
      case 'Encrypt':
        return this.#encrypt(body, user);
      case 'Decrypt':
        return this.#decrypt(body, user);
      case 'EnableKey':
      case 'DisableKey':
      case 'ScheduleKeyDeletion':
      case 'CancelKeyDeletion':
      case 'PutKeyPolicy':
        return this.#manage(op, body, user);
      default:
        throw new KmsError('UnknownOperationException', `unknown operation ${op}`);
    }
  }

  #createKey(body: Record<string, unknown>): Record<string, unknown> {
    const keySpec = str(body, 'KeySpec', false) ?? 'SYMMETRIC_DEFAULT';
    const keyUsage = str(body, 'KeyUsage', false) ?? (keySpec === 'HMAC_256' ? 'GENERATE_VERIFY_MAC' : 'ENCRYPT_DECRYPT');
    if (!((keySpec === 'SYMMETRIC_DEFAULT' && keyUsage === 'ENCRYPT_DECRYPT') || (keySpec === 'HMAC_256' && keyUsage === 'GENERATE_VERIFY_MAC'))) {
      throw new KmsError('UnsupportedOperationException', `${keySpec}/${keyUsage} is not supported by this endpoint`);
    }
    const policyText = str(body, 'Policy', false);
    const keyId = randomUUID();
    const key: KmsKey = {
      keyId,
      arn: `arn:aws:kms:${this.region}:${KMS_TEST_ACCOUNT}:key/${keyId}`,
      material: randomBytes(32),
      keySpec,
      keyUsage,
      description: str(body, 'Description', false) ?? '',
      creationDate: new Date(),
      state: 'Enabled',
      deletionDate: undefined,
      policy: policyText === undefined ? undefined : parsePolicy(policyText),
    };
    this.#keys.set(keyId, key);
    return { KeyMetadata: this.#metadata(key) };
  }

  #manage(op: string, body: Record<string, unknown>, user: KmsTestUser): Record<string, unknown> {
    const key = this.#findKey(str(body, 'KeyId', true));
    authorize(key, { action: `kms:${op}`, user, encryptionContext: undefined });
    switch (op) {
      case 'EnableKey':
      case 'DisableKey':
        if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
        key.state = op === 'EnableKey' ? 'Enabled' : 'Disabled';
        return {};
      case 'ScheduleKeyDeletion': {
        const days = body['PendingWindowInDays'] ?? 30;
        if (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30) {
          throw new KmsError('ValidationException', 'PendingWindowInDays must be between 7 and 30');
        }
        key.state = 'PendingDeletion';
        key.deletionDate = new Date(Date.now() + days * 86_400_000);
        return { KeyId: key.arn, DeletionDate: Math.floor(key.deletionDate.getTime() / 1000), KeyState: 'PendingDeletion', PendingWindowInDays: days };
      }
      case 'CancelKeyDeletion':
        if (key.state !== 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
        // As in KMS: a key whose deletion is cancelled comes back Disabled, not Enabled.
        key.state = 'Disabled';
        key.deletionDate = undefined;
        return { KeyId: key.arn };
      default: {
        // PutKeyPolicy
        key.policy = parsePolicy(str(body, 'Policy', true));
        return {};
      }
    }
  }

  #findKey(keyIdOrArn: string): KmsKey {
    let id = keyIdOrArn;
    if (keyIdOrArn.startsWith('arn:')) {
      const m = /^arn:aws:kms:([^:]+):(\d{12}):key\/(.+)$/u.exec(keyIdOrArn);
      if (m === null) throw new KmsError('InvalidArnException', `Invalid arn ${keyIdOrArn}`);
      if (m[1] !== this.region || m[2] !== KMS_TEST_ACCOUNT) throw new KmsError('NotFoundException', `Key '${keyIdOrArn}' does not exist`);
      id = m[3] ?? '';
    }
    const key = this.#keys.get(id);
    if (key === undefined) throw new KmsError('NotFoundException', `Key '${keyIdOrArn}' does not exist`);
    return key;
  }

  #checkUsable(key: KmsKey): void {
    if (key.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    if (key.state === 'PendingDeletion') throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    if (key.keyUsage !== 'ENCRYPT_DECRYPT') {
      throw new KmsError('InvalidKeyUsageException', `${key.arn} key usage is ${key.keyUsage} which is not valid for this operation.`);
    }
  }

  #encrypt(body: Record<string, unknown>, user: KmsTestUser): Record<string, unknown> {
    const key = this.#findKey(str(body, 'KeyId', true));
    const plaintext = b64(body, 'Plaintext', 1, 4096);
    const ec = ecOf(body);
    authorize(key, { action: 'kms:Encrypt', user, encryptionContext: ec });
    this.#checkUsable(key);
    const id = Buffer.from(key.keyId, 'ascii');
    const header = Buffer.concat([Buffer.from([BLOB_VERSION, id.length]), id]);
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.material, nonce);
    cipher.setAAD(Buffer.concat([header, canonicalContext(ec ?? {})]));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    plaintext.fill(0);
    const blob = Buffer.concat([header, nonce, ct, cipher.getAuthTag()]);
    return { CiphertextBlob: blob.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  #decrypt(body: Record<string, unknown>, user: KmsTestUser): Record<string, unknown> {
    const blob = b64(body, 'CiphertextBlob', 1, 6144);
    const ec = ecOf(body);
    const invalidCt = (): KmsError => new KmsError('InvalidCiphertextException', 'The ciphertext or its encryption context is invalid.');
    if (blob[0] !== BLOB_VERSION || blob.length < 2) throw invalidCt();
    const idLen = blob[1] ?? 0;
    const headerLen = 2 + idLen;
    if (blob.length < headerLen + NONCE_BYTES + TAG_BYTES) throw invalidCt();
    const blobKeyId = blob.subarray(2, headerLen).toString('latin1');
    const requested = str(body, 'KeyId', false);
    let key: KmsKey;
    if (requested !== undefined) {
      key = this.#findKey(requested);
      if (key.keyId !== blobKeyId) {
        throw new KmsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
      }
    } else {
      const found = this.#keys.get(blobKeyId);
      if (found === undefined) throw invalidCt();
      key = found;
    }
    authorize(key, { action: 'kms:Decrypt', user, encryptionContext: ec });
    this.#checkUsable(key);
    const nonce = blob.subarray(headerLen, headerLen + NONCE_BYTES);
    const ct = blob.subarray(headerLen + NONCE_BYTES, blob.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key.material, nonce);
    decipher.setAAD(Buffer.concat([blob.subarray(0, headerLen), canonicalContext(ec ?? {})]));
    decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(ct), decipher.final()]);
    } catch {
      throw invalidCt();
    }
    const out = plain.toString('base64');
    plain.fill(0);
    return { KeyId: key.arn, Plaintext: out, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  #metadata(key: KmsKey): Record<string, unknown> {
    return {
      AWSAccountId: KMS_TEST_ACCOUNT,
      KeyId: key.keyId,
      Arn: key.arn,
      CreationDate: Math.floor(key.creationDate.getTime() / 1000),
      Enabled: key.state === 'Enabled',
      Description: key.description,
      KeyUsage: key.keyUsage,
      KeyState: key.state,
      ...(key.deletionDate === undefined ? {} : { DeletionDate: Math.floor(key.deletionDate.getTime() / 1000) }),
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      ...(key.keyUsage === 'ENCRYPT_DECRYPT' ? { EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'] } : { MacAlgorithms: ['HMAC_SHA_256'] }),
      MultiRegion: false,
    };
  }
}
