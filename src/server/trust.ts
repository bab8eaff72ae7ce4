/**
 * Who may speak KMIP, decided at run time (issue 18): the client trust of one KMIP listener process.
 *
 * The TLS handshake has already verified the chain against the configured trust anchors (the appliance's client CA
 * and any enterprise CAs, `kmip.trust.anchors`). This module decides the rest, right after the handshake and again
 * whenever what it knows changes:
 *
 * - **revocation by the appliance CA**: serials revoked with `openkcm client revoke` (the governance database, pushed
 *   here by the owner process: src/appliance/ipc.ts `trust`); a revoked certificate's new handshakes are closed before
 *   any request is read and its open connections are closed ({@link ClientTrust.onChange} → the listener re-checks);
 * - **revocation by an enterprise CA**: each anchor's CRL (files or http(s) URLs, re-read every `crlRefreshMs`, the
 *   signature verified against the anchor). When no current CRL is available the anchor FAILS CLOSED by default:
 *   its certificates are refused until a CRL can be read (`onUnavailable: "fail-open"` serves them instead);
 * - **identity → tenant**: the config file's `identity.tenants` (the bootstrap) merged with the run-time map of the
 *   governance database (`openkcm identity map`), which wins on a conflict; src/server/identity.ts does the rest;
 * - **anchor → tenants**: an enterprise anchor speaks only for the tenants it is mapped to.
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { readFile } from 'node:fs/promises';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import type { Principal } from '../operations/types.js';
import type { IdentityConfig } from '../config/identity.js';
import type { TrustAnchor } from '../config/trust.js';
import { IdentityError, identityOf, tenantOf } from './identity.js';
import { describeError } from '../common/log.js';
import { normalizeSerial } from '../common/x509.js';
import type { TrustSnapshot } from '../common/x509.js';
import type { Logger } from '../common/log.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** One CRL download may take this long before the source counts as unreachable, ms. */
export const CRL_FETCH_TIMEOUT_MS = 10_000;

/** The current CRL of one enterprise anchor. */
interface CrlState {
  readonly revoked: ReadonlySet<string>;
  /** After this the CRL is stale: fail-closed refuses the anchor's certificates until a fresh one is read. */
  readonly nextUpdate: number | undefined;
}

async function readSource(source: string, maxBytes: number): Promise<Buffer> {
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source, { signal: AbortSignal.timeout(CRL_FETCH_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${String(res.status)}`);
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > maxBytes) throw new Error(`CRL larger than maxCrlBytes (${String(maxBytes)})`);
    const body = Buffer.from(await res.arrayBuffer());
    if (body.length > maxBytes) throw new Error(`CRL larger than maxCrlBytes (${String(maxBytes)})`);
    return body;
  }
  const body = await readFile(source);
  if (body.length > maxBytes) throw new Error(`CRL larger than maxCrlBytes (${String(maxBytes)})`);
  return body;
}

/** Parses (DER or PEM) and verifies a CRL against the anchor; throws when it is not the anchor's. */
export async function verifiedCrl(bytes: Buffer, anchorPem: string): Promise<CrlState> {
  const text = bytes.subarray(0, 64).toString('latin1');
  const crl = text.includes('-----BEGIN') ? new x509.X509Crl(bytes.toString('latin1')) : new x509.X509Crl(new Uint8Array(bytes));
  const anchor = new x509.X509Certificate(anchorPem);
  if (!await crl.verify({ publicKey: anchor.publicKey })) throw new Error('CRL signature does not verify against the anchor');
  return {
    revoked: new Set(crl.entries.map((e) => normalizeSerial(e.serialNumber))),
    nextUpdate: crl.nextUpdate?.getTime(),
  };
}

export interface ClientTrustOptions {
  readonly identity: IdentityConfig;
  readonly anchors?: readonly TrustAnchor[];
  readonly logger?: Logger;
  readonly now?: () => number;
}

/** The run-time trust of one KMIP listener process (see the module comment). */
export class ClientTrust {
  readonly #identity: IdentityConfig;
  readonly #anchors: readonly TrustAnchor[];
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  #map: IdentityConfig;
  #revoked = new Map<string, Set<string>>();
  readonly #crls = new Map<string, CrlState>();
  readonly #listeners = new Set<() => void>();
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(opts: ClientTrustOptions) {
    this.#identity = opts.identity;
    this.#map = opts.identity;
    this.#anchors = opts.anchors ?? [];
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  /** Applies what the owner process pushed; open connections are re-checked by the listeners. */
  update(s: TrustSnapshot): void {
    const tenants: Record<string, string> = { ...this.#identity.tenants };
    for (const [who, tenant] of s.identities) tenants[who] = tenant;
    this.#map = { ...this.#identity, tenants };
    this.#revoked = new Map(s.revoked.map(([issuer, serials]) => [issuer, new Set(serials.map(normalizeSerial))]));
    this.#changed();
  }

  /** Calls `listener` after every change (a revocation, a mapping, a new CRL); returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  #changed(): void {
    for (const l of this.#listeners) {
      try {
        l();
      } catch (e) {
        this.#log?.error('trust change listener failed', describeError(e));
      }
    }
  }

  /** The enterprise anchor a verified chain ends in (undefined: the appliance's own CA). */
  #anchorOf(peer: PeerCertificate): TrustAnchor | undefined {
    if (this.#anchors.length === 0) return undefined;
    // Node's types promise issuerCertificate; a certificate not fetched with getPeerCertificate(true) has none.
    let c: Partial<DetailedPeerCertificate> = peer;
    // The chain Node hands over ends with a self-reference at the root; bounded like any chain (RFC 5280 path).
    for (let depth = 0; depth < 16; depth++) {
      const fp = c.fingerprint256 ?? '';
      const a = this.#anchors.find((x) => x.fingerprint === fp);
      if (a !== undefined) return a;
      const next: Partial<DetailedPeerCertificate> | undefined = c.issuerCertificate;
      if (next === undefined || next.fingerprint256 === fp) break;
      c = next;
    }
    return undefined;
  }

  /**
   * The principal of a verified peer certificate (`socket.getPeerCertificate(true)`); throws IdentityError when it
   * is revoked, its anchor's revocation status is unknown (fail-closed), or its identity is refused.
   */
  principalOf(peer: PeerCertificate): Principal {
    const detailed = peer as DetailedPeerCertificate;
    const issuer = detailed.issuerCertificate as DetailedPeerCertificate | undefined;
    const serial = normalizeSerial(peer.serialNumber);
    if (issuer !== undefined && this.#revoked.get(issuer.fingerprint256)?.has(serial) === true) {
      throw new IdentityError('client certificate is revoked');
    }
    const anchor = this.#anchorOf(peer);
    if (anchor !== undefined && anchor.crl.length > 0) {
      const crl = this.#crls.get(anchor.name);
      const current = crl !== undefined && (crl.nextUpdate === undefined || crl.nextUpdate > this.#now());
      if (!current && anchor.onUnavailable === 'fail-closed') {
        throw new IdentityError(`revocation status unknown: no current CRL for trust anchor ${anchor.name} (fail-closed)`);
      }
      if (crl?.revoked.has(serial) === true) throw new IdentityError(`client certificate is revoked by trust anchor ${anchor.name}`);
    }
    const identity = identityOf(peer, this.#map);
    const tenant = tenantOf(identity, this.#map);
    if (anchor !== undefined && !anchor.tenants.includes(tenant)) {
      throw new IdentityError(`trust anchor ${anchor.name} may not speak for tenant ${JSON.stringify(tenant)}`);
    }
    return { identity, tenant };
  }

  /** Reads every anchor's CRL now and then every crlRefreshMs; resolves after the first round. */
  async start(): Promise<void> {
    await Promise.all(this.#anchors.filter((a) => a.crl.length > 0).map(async (a) => {
      await this.#refresh(a);
      const t = setInterval(() => { void this.#refresh(a); }, a.crlRefreshMs);
      t.unref();
      this.#timers.push(t);
    }));
  }

  stop(): void {
    for (const t of this.#timers.splice(0)) clearInterval(t);
    this.#listeners.clear();
  }

  /** The first source that yields a verified CRL wins (the others are fallbacks). */
  async #refresh(a: TrustAnchor): Promise<void> {
    for (const source of a.crl) {
      try {
        const state = await verifiedCrl(await readSource(source, a.maxCrlBytes), a.caPem);
        this.#crls.set(a.name, state);
        this.#changed();
        return;
      } catch (e) {
        this.#log?.warn('CRL source unusable', { anchor: a.name, source, ...describeError(e) });
      }
    }
    const old = this.#crls.get(a.name);
    if (old === undefined || (old.nextUpdate !== undefined && old.nextUpdate <= this.#now())) {
      this.#log?.error(`no current CRL for trust anchor ${a.name}: its certificates are ${a.onUnavailable === 'fail-closed' ? 'REFUSED (fail-closed)' : 'served without a revocation check (fail-open)'}`, { anchor: a.name });
      this.#changed();
    }
  }
}

/** A short, stable id of a CA certificate for logs (sha256 of its DER, 16 hex digits). */
export function caId(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex').slice(0, 16);
}
