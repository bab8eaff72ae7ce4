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
 * - **OCSP for an enterprise CA** (RFC 6960, src/pki/ocsp.ts): when a client certificate of an anchor names an OCSP
 *   responder in its Authority Information Access extension, or the anchor names one (`ocspResponder`, which wins),
 *   the certificate's status is asked for before the connection is served ({@link ClientTrust.checkStatus}) and the
 *   answer cached until its nextUpdate. "revoked" refuses; "unknown", an unreachable responder or an answer that does
 *   not verify count as unavailable: refused under the anchor's `onUnavailable: "fail-closed"` (the default), served
 *   and logged under "fail-open";
 * - **identity → tenant**: the config file's `identity.tenants` (the bootstrap) merged with the run-time map of the
 *   governance database (`openkcm identity map`), which wins on a conflict; src/server/identity.ts does the rest;
 * - **anchor → tenants**: an enterprise anchor speaks only for the tenants it is mapped to.
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { readFile, stat } from 'node:fs/promises';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import type { Principal } from '../operations/types.js';
import type { IdentityConfig } from '../config/identity.js';
import type { TrustAnchor } from '../config/trust.js';
import { IdentityError, identityOf, tenantOf } from './identity.js';
import { BoundedCache, aiaOcspUrls, certIdOf, fetchOcsp, ocspRequest, verifyOcspResponse } from '../pki/ocsp.js';
import { ChangeListeners } from '../common/change-listeners.js';
import { describeError } from '../common/log.js';
import { normalizeSerial } from '../common/x509.js';
import type { TrustSnapshot } from '../common/x509.js';
import type { Logger } from '../common/log.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** One CRL download may take this long before the source counts as unreachable, ms. */
export const CRL_FETCH_TIMEOUT_MS = 10_000;

/** A "good" answer without nextUpdate (RFC 6960 §2.4: newer information is always available) is reused this long, ms. */
export const OCSP_NO_NEXT_UPDATE_CACHE_MS = 60_000;
/**
 * A cached answer is asked again in the background by the first handshake of its certificate after this part of its
 * life (receipt .. nextUpdate) has passed, while the cached answer still decides: a busy client's answer is renewed
 * before it expires, so fail-closed neither blocks its handshakes nor drops its open connections at a re-check
 * (src/server/listener.ts #recheck). A failed refresh keeps the still-current answer and tries again no sooner than
 * ocspTimeoutMs later.
 */
export const OCSP_REFRESH_AFTER = 0.75;

/** The current CRL of one enterprise anchor. */
interface CrlState {
  readonly revoked: ReadonlySet<string>;
  /** After this the CRL is stale: fail-closed refuses the anchor's certificates until a fresh one is read. */
  readonly nextUpdate: number | undefined;
}

/**
 * Reads one CRL source, at most `maxBytes` (the anchor's maxCrlBytes): a file, or an http(s) download whose declared
 * Content-Length is checked first and whose body is counted while it streams (a chunked body has no length to check),
 * so a hostile distribution point never makes this process buffer more than the limit.
 */
export async function readCrlSource(source: string, maxBytes: number): Promise<Buffer> {
  const tooLarge = (): Error => new Error(`CRL larger than maxCrlBytes (${String(maxBytes)})`);
  if (/^https?:\/\//.test(source)) {
    const ac = new AbortController();
    const res = await fetch(source, { signal: AbortSignal.any([ac.signal, AbortSignal.timeout(CRL_FETCH_TIMEOUT_MS)]) });
    if (!res.ok) throw new Error(`HTTP ${String(res.status)}`);
    if (Number(res.headers.get('content-length') ?? '0') > maxBytes) {
      ac.abort();
      throw tooLarge();
    }
    const chunks: Uint8Array[] = [];
    let n = 0;
    if (res.body !== null) {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        n += chunk.length;
        if (n > maxBytes) {
          ac.abort();
          throw tooLarge();
        }
        chunks.push(chunk);
      }
    }
    return Buffer.concat(chunks);
  }
  if ((await stat(source)).size > maxBytes) throw tooLarge();
  const body = await readFile(source);
  if (body.length > maxBytes) throw tooLarge();
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

/** One cached OCSP answer ("unavailable": asked, no usable answer; never fresh, kept for the log and the recheck). */
interface OcspEntry {
  readonly status: 'good' | 'revoked' | 'unknown' | 'unavailable';
  /** Fresh until then (ms since the epoch): the answer's nextUpdate. */
  readonly until: number;
  /** From then on a handshake of this certificate asks again in the background (see OCSP_REFRESH_AFTER). */
  readonly refreshAt: number;
}

/** What an OCSP check of one peer certificate needs. */
interface OcspTarget {
  readonly anchor: TrustAnchor;
  readonly url: string;
  /** Cache key: the issuer's fingerprint and the serial. */
  readonly key: string;
  readonly cert: Buffer;
  readonly issuer: Buffer;
  readonly issuerPem: string;
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
  /** Anchor name → its cached OCSP answers (bounded per anchor: maxOcspCacheEntries, src/config/trust.ts). */
  readonly #ocsp = new Map<string, BoundedCache<OcspEntry>>();
  readonly #ocspInFlight = new Map<string, Promise<void>>();
  readonly #listeners: ChangeListeners;
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(opts: ClientTrustOptions) {
    this.#identity = opts.identity;
    this.#map = opts.identity;
    this.#anchors = opts.anchors ?? [];
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#listeners = new ChangeListeners('trust change listener failed', opts.logger);
  }

  /** Applies what the owner process pushed; open connections are re-checked by the listeners. */
  update(s: TrustSnapshot): void {
    const tenants: Record<string, string> = { ...this.#identity.tenants };
    for (const [who, tenant] of s.identities) tenants[who] = tenant;
    this.#map = Object.assign({}, this.#identity, { tenants });
    this.#revoked = new Map(s.revoked.map(([issuer, serials]) => [issuer, new Set(serials.map(normalizeSerial))]));
    this.#listeners.notify();
  }

  /** Calls `listener` after every change (a revocation, a mapping, a new CRL); returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    return this.#listeners.add(listener);
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
    const ocsp = anchor === undefined ? undefined : this.#ocspTarget(detailed, anchor);
    if (ocsp !== undefined) {
      const e = this.#ocsp.get(ocsp.anchor.name)?.get(ocsp.key);
      const fresh = e !== undefined && e.until > this.#now();
      if (fresh && e.status === 'revoked') throw new IdentityError(`client certificate is revoked (OCSP, trust anchor ${ocsp.anchor.name})`);
      if ((!fresh || e.status !== 'good') && ocsp.anchor.onUnavailable === 'fail-closed') {
        throw new IdentityError(`revocation status unknown: no current OCSP answer ${e === undefined ? '' : `(${e.status}) `}for trust anchor ${ocsp.anchor.name} (fail-closed)`);
      }
    }
    const identity = identityOf(peer, this.#map);
    const tenant = tenantOf(identity, this.#map);
    if (anchor !== undefined && !anchor.tenants.includes(tenant)) {
      throw new IdentityError(`trust anchor ${anchor.name} may not speak for tenant ${JSON.stringify(tenant)}`);
    }
    return { identity, tenant };
  }

  /** The OCSP check `peer` needs (an anchor's certificate with a responder named), or undefined. */
  #ocspTarget(peer: DetailedPeerCertificate, anchor: TrustAnchor): OcspTarget | undefined {
    const issuer = peer.issuerCertificate as DetailedPeerCertificate | undefined;
    // The anchor itself presented as the leaf has no issuer to ask about.
    if (issuer === undefined || issuer.fingerprint256 === peer.fingerprint256) return undefined;
    let url = anchor.ocspResponder;
    if (url === undefined) {
      try {
        url = aiaOcspUrls(peer.raw)[0];
      } catch {
        url = undefined;
      }
    }
    if (url === undefined) return undefined;
    const issuerPem = `-----BEGIN CERTIFICATE-----\n${issuer.raw.toString('base64')}\n-----END CERTIFICATE-----\n`;
    return { anchor, url, key: `${issuer.fingerprint256}/${normalizeSerial(peer.serialNumber)}`, cert: peer.raw, issuer: issuer.raw, issuerPem };
  }

  /**
   * Makes sure the OCSP status of `peer` (`getPeerCertificate(true)`) is known before {@link principalOf} decides:
   * undefined when nothing needs asking (no OCSP for it, or a fresh cached answer), else a promise that resolves
   * (never rejects) once the responder answered or failed. One request per certificate at a time. A fresh answer
   * past its refreshAt also answers undefined (it still decides) and starts a background refresh.
   */
  checkStatus(peer: PeerCertificate): Promise<void> | undefined {
    const detailed = peer as DetailedPeerCertificate;
    const anchor = this.#anchorOf(peer);
    const t = anchor === undefined ? undefined : this.#ocspTarget(detailed, anchor);
    if (t === undefined) return undefined;
    const e = this.#ocsp.get(t.anchor.name)?.get(t.key);
    const now = this.#now();
    if (e !== undefined && e.until > now) {
      if (now >= e.refreshAt) void this.#ask(t);
      return undefined;
    }
    return this.#ask(t);
  }

  /** The request for `t` in flight, or a new one. */
  #ask(t: OcspTarget): Promise<void> {
    let p = this.#ocspInFlight.get(t.key);
    if (p === undefined) {
      p = this.#askOcsp(t).finally(() => { this.#ocspInFlight.delete(t.key); });
      this.#ocspInFlight.set(t.key, p);
    }
    return p;
  }

  async #askOcsp(t: OcspTarget): Promise<void> {
    let cache = this.#ocsp.get(t.anchor.name);
    if (cache === undefined) {
      cache = new BoundedCache<OcspEntry>(t.anchor.maxOcspCacheEntries);
      this.#ocsp.set(t.anchor.name, cache);
    }
    let entry: OcspEntry;
    try {
      const id = certIdOf(t.cert, t.issuer);
      const answer = verifyOcspResponse(await fetchOcsp(t.url, ocspRequest(id), t.anchor.ocspTimeoutMs, t.anchor.maxOcspResponseBytes), id, t.issuerPem, this.#now());
      const now = this.#now();
      const until = answer.nextUpdate?.getTime() ?? now + OCSP_NO_NEXT_UPDATE_CACHE_MS;
      entry = { status: answer.status, until, refreshAt: now + Math.floor((until - now) * OCSP_REFRESH_AFTER) };
      if (answer.status !== 'good') this.#log?.warn(`OCSP: client certificate ${answer.status}`, { anchor: t.anchor.name, responder: t.url, certificate: t.key });
    } catch (e) {
      const now = this.#now();
      const current = cache.get(t.key);
      const fields = { anchor: t.anchor.name, responder: t.url, certificate: t.key, ...describeError(e) };
      if (current !== undefined && current.until > now) {
        // A failed background refresh: the answer in hand is still current (RFC 6960 §4.2.2.1 nextUpdate) and decides.
        this.#log?.warn(`OCSP refresh failed for a certificate of trust anchor ${t.anchor.name}: its current answer (${current.status}) serves until ${new Date(current.until).toISOString()}`, fields);
        cache.set(t.key, Object.assign({}, current, { refreshAt: now + t.anchor.ocspTimeoutMs }));
        return;
      }
      entry = { status: 'unavailable', until: 0, refreshAt: 0 };
      this.#log?.error(`OCSP status unavailable for a certificate of trust anchor ${t.anchor.name}: it is ${t.anchor.onUnavailable === 'fail-closed' ? 'REFUSED (fail-closed)' : 'served without a revocation check (fail-open)'}`, fields);
    }
    const before = cache.get(t.key)?.status;
    cache.set(t.key, entry);
    // A certificate found revoked may have other connections open: the listeners re-check them.
    if (entry.status === 'revoked' && before !== 'revoked') this.#listeners.notify();
  }

  /** Cached OCSP answers (tests, metrics). */
  get ocspCacheSize(): number {
    let n = 0;
    for (const c of this.#ocsp.values()) n += c.size;
    return n;
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
        const state = await verifiedCrl(await readCrlSource(source, a.maxCrlBytes), a.caPem);
        this.#crls.set(a.name, state);
        this.#listeners.notify();
        return;
      } catch (e) {
        this.#log?.warn('CRL source unusable', { anchor: a.name, source, ...describeError(e) });
      }
    }
    const old = this.#crls.get(a.name);
    if (old === undefined || (old.nextUpdate !== undefined && old.nextUpdate <= this.#now())) {
      this.#log?.error(`no current CRL for trust anchor ${a.name}: its certificates are ${a.onUnavailable === 'fail-closed' ? 'REFUSED (fail-closed)' : 'served without a revocation check (fail-open)'}`, { anchor: a.name });
      this.#listeners.notify();
    }
  }
}

/** A short, stable id of a CA certificate for logs (sha256 of its DER, 16 hex digits). */
export function caId(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex').slice(0, 16);
}
