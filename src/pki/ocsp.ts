/**
 * OCSP for enterprise trust anchors (issue 18 item 4; RFC 6960): the request a client certificate's status is asked
 * with, and the checks a response must pass before its answer is believed.
 *
 * The DER is small and fixed, so it is written and read here with a minimal TLV codec rather than a schema library:
 *
 *   OCSPRequest ::= SEQUENCE { tbsRequest SEQUENCE { requestList SEQUENCE OF Request } }        (RFC 6960 §4.1.1)
 *   Request     ::= SEQUENCE { reqCert CertID }
 *   CertID      ::= SEQUENCE { hashAlgorithm (SHA-1, NULL params), issuerNameHash, issuerKeyHash, serialNumber }
 *
 * SHA-1 in CertID is what every responder must understand (RFC 5019 §2.1.1) and is a name lookup, not a signature.
 * A response (§4.2.1) is believed only when:
 * - its status is successful and its type id-pkix-ocsp-basic;
 * - its signature verifies with the key of the certificate's issuer, or of a responder certificate the response
 *   carries that the issuer signed, that is valid now, and that has the id-kp-OCSPSigning EKU (§4.2.2.2);
 * - it has a SingleResponse for exactly the CertID asked about;
 * - thisUpdate is not in the future (beyond {@link OCSP_CLOCK_SKEW_MS}) and nextUpdate, when present, not past.
 * No nonce is sent (RFC 5019 §2.1: pre-produced responses are the norm); a replayed answer is bounded by nextUpdate.
 */
import { X509Certificate, createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

/** Tolerated difference between the responder's clock and ours, ms. */
export const OCSP_CLOCK_SKEW_MS = 5 * 60_000;

// ---- a minimal DER codec -------------------------------------------------------------------------------------

interface Tlv {
  readonly tag: number;
  /** The whole element (tag, length, content). */
  readonly raw: Buffer;
  readonly content: Buffer;
}

function readTlv(buf: Buffer, at: number): Tlv & { next: number } {
  if (at + 2 > buf.length) throw new Error('DER: truncated');
  const tag = buf[at] ?? 0;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not used by OCSP');
  let len = buf[at + 1] ?? 0;
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || at + 2 + n > buf.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[at + 2 + i] ?? 0);
    hdr += n;
  }
  const end = at + hdr + len;
  if (end > buf.length) throw new Error('DER: element runs past its container');
  return { tag, raw: buf.subarray(at, end), content: buf.subarray(at + hdr, end), next: end };
}

/** The elements inside a constructed element. */
function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < t.content.length;) {
    const c = readTlv(t.content, at);
    out.push(c);
    at = c.next;
  }
  return out;
}

function der(bytes: Buffer): Tlv {
  const t = readTlv(bytes, 0);
  if (t.next !== bytes.length) throw new Error('DER: trailing bytes');
  return t;
}

function at(list: readonly Tlv[], i: number, tag: number, what: string): Tlv {
  const t = list[i];
  if (t?.tag !== tag) throw new Error(`OCSP: ${what} missing or malformed`);
  return t;
}

function encode(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [a * 40 + b];
  for (const v of rest) {
    const sept: number[] = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) sept.unshift((x & 0x7f) | 0x80);
    out.push(...sept);
  }
  return encode(0x06, Buffer.from(out));
}

const SEQ = 0x30;
const OCTETS = 0x04;
const INTEGER = 0x02;
const SHA1_ALG = encode(SEQ, oid('1.3.14.3.2.26'), Buffer.from([0x05, 0x00]));
const ID_PKIX_OCSP_BASIC = oid('1.3.6.1.5.5.7.48.1.1');

/** Signature algorithms a response may use → the digest node:crypto verifies with (null: the key decides). */
const SIG_HASH = new Map<string, string | null>([
  [oid('1.2.840.113549.1.1.5').toString('hex'), 'sha1'],
  [oid('1.2.840.113549.1.1.11').toString('hex'), 'sha256'],
  [oid('1.2.840.113549.1.1.12').toString('hex'), 'sha384'],
  [oid('1.2.840.113549.1.1.13').toString('hex'), 'sha512'],
  [oid('1.2.840.10045.4.3.2').toString('hex'), 'sha256'],
  [oid('1.2.840.10045.4.3.3').toString('hex'), 'sha384'],
  [oid('1.2.840.10045.4.3.4').toString('hex'), 'sha512'],
  [oid('1.3.101.112').toString('hex'), null],
]);

/** GeneralizedTime (RFC 5280 §4.1.2.5.2: YYYYMMDDHHMMSS[.fff]Z). */
function generalizedTime(t: Tlv): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/.exec(t.content.toString('latin1'));
  if (t.tag !== 0x18 || m === null) throw new Error('OCSP: bad GeneralizedTime');
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Math.round(Number(m[7] ?? 0) * 1000)));
}

// ---- the request -----------------------------------------------------------------------------------------------

/** The three values that name a certificate in OCSP (the hash algorithm is always SHA-1 here). */
export interface CertId {
  readonly issuerNameHash: Buffer;
  readonly issuerKeyHash: Buffer;
  /** The serial's INTEGER content octets. */
  readonly serial: Buffer;
}

/** CertID of `cert` (DER) issued by `issuer` (DER): hashes of the issuer's subject Name and public key bits. */
export function certIdOf(cert: Buffer, issuer: Buffer): CertId {
  const tbs = (c: Buffer): Tlv[] => children(at(children(der(c)), 0, SEQ, 'tbsCertificate'));
  const leaf = tbs(cert);
  const off = leaf[0]?.tag === 0xa0 ? 1 : 0; // [0] version is optional
  const serial = at(leaf, off, INTEGER, 'serialNumber').content;
  const it = tbs(issuer);
  const ioff = it[0]?.tag === 0xa0 ? 1 : 0;
  const subject = at(it, ioff + 4, SEQ, 'issuer subject');
  const spki = children(at(it, ioff + 5, SEQ, 'issuer subjectPublicKeyInfo'));
  const bits = at(spki, 1, 0x03, 'issuer public key').content.subarray(1); // minus the unused-bits octet
  return {
    issuerNameHash: createHash('sha1').update(subject.raw).digest(),
    issuerKeyHash: createHash('sha1').update(bits).digest(),
    serial: Buffer.from(serial),
  };
}

/** An OCSPRequest for one certificate (unsigned, no extensions). */
export function ocspRequest(id: CertId): Buffer {
  const certId = encode(SEQ, SHA1_ALG, encode(OCTETS, id.issuerNameHash), encode(OCTETS, id.issuerKeyHash), encode(INTEGER, id.serial));
  return encode(SEQ, encode(SEQ, encode(SEQ, encode(SEQ, certId))));
}

/** The OCSP responder URLs in a certificate's Authority Information Access extension (RFC 5280 §4.2.2.1). */
export function aiaOcspUrls(cert: Buffer): string[] {
  const ext = new x509.X509Certificate(new Uint8Array(cert)).getExtension(x509.AuthorityInfoAccessExtension);
  return (ext?.ocsp ?? []).filter((g) => g.type === 'url' && /^https?:\/\//.test(g.value)).map((g) => g.value);
}

// ---- the response ----------------------------------------------------------------------------------------------

export interface OcspAnswer {
  readonly status: 'good' | 'revoked' | 'unknown';
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly revokedAt?: Date;
}

const RESPONSE_STATUS = ['successful', 'malformedRequest', 'internalError', 'tryLater', '(unused)', 'sigRequired', 'unauthorized'];

/**
 * Verifies an OCSPResponse (DER) for `id`, issued under `issuerPem`, at time `now`; returns the status it gives.
 * Throws when the response must not be believed (see the module comment).
 */
export function verifyOcspResponse(bytes: Buffer, id: CertId, issuerPem: string | Buffer, now: number): OcspAnswer {
  const top = children(at([der(bytes)], 0, SEQ, 'OCSPResponse'));
  const status = at(top, 0, 0x0a, 'responseStatus').content[0] ?? 255;
  if (status !== 0) throw new Error(`OCSP responder answered ${RESPONSE_STATUS[status] ?? String(status)}`);
  const rb = children(at(children(at(top, 1, 0xa0, 'responseBytes')), 0, SEQ, 'ResponseBytes'));
  if (!at(rb, 0, 0x06, 'responseType').raw.equals(ID_PKIX_OCSP_BASIC)) throw new Error('OCSP: not a basic response');
  const basic = children(der(at(rb, 1, OCTETS, 'response').content));
  const tbs = at(basic, 0, SEQ, 'tbsResponseData');
  const sigAlg = children(at(basic, 1, SEQ, 'signatureAlgorithm'));
  const sigBits = at(basic, 2, 0x03, 'signature').content.subarray(1);
  const hash = SIG_HASH.get(at(sigAlg, 0, 0x06, 'signature algorithm').raw.toString('hex'));
  if (hash === undefined) throw new Error('OCSP: unsupported signature algorithm');

  // Who signed: the issuer itself, or a responder it delegated to (RFC 6960 §4.2.2.2).
  const issuer = new X509Certificate(issuerPem);
  const signers: X509Certificate[] = [issuer];
  if (basic[3]?.tag === 0xa0) {
    for (const c of children(at(children(basic[3]), 0, SEQ, 'certs'))) {
      const r = new X509Certificate(c.raw);
      const eku = new x509.X509Certificate(new Uint8Array(c.raw)).getExtension(x509.ExtendedKeyUsageExtension);
      const delegated = r.checkIssued(issuer) && r.verify(issuer.publicKey) && eku?.usages.includes(x509.ExtendedKeyUsage.ocspSigning) === true
        && Date.parse(r.validFrom) <= now && now <= Date.parse(r.validTo);
      if (delegated) signers.push(r);
    }
  }
  if (!signers.some((s) => verifySignature(hash, tbs.raw, createPublicKey(s.publicKey.export({ type: 'spki', format: 'pem' })), sigBits))) {
    throw new Error('OCSP response signature does not verify against the issuer or a responder it authorised');
  }

  const rd = children(tbs);
  let i = rd[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  i++; // responderID: the signature check above is what authenticates the responder
  at(rd, i++, 0x18, 'producedAt');
  for (const single of children(at(rd, i, SEQ, 'responses'))) {
    const f = children(single);
    const cid = children(at(f, 0, SEQ, 'certID'));
    const same = at(cid, 1, OCTETS, 'issuerNameHash').content.equals(id.issuerNameHash) && at(cid, 2, OCTETS, 'issuerKeyHash').content.equals(id.issuerKeyHash)
      && at(cid, 3, INTEGER, 'serialNumber').content.equals(id.serial);
    if (!same) continue;
    const st = f[1];
    const thisUpdate = generalizedTime(at(f, 2, 0x18, 'thisUpdate'));
    const nextUpdate = f[3]?.tag === 0xa0 ? generalizedTime(at(children(f[3]), 0, 0x18, 'nextUpdate')) : undefined;
    if (thisUpdate.getTime() > now + OCSP_CLOCK_SKEW_MS) throw new Error('OCSP response thisUpdate is in the future');
    if (nextUpdate !== undefined && nextUpdate.getTime() <= now) throw new Error('OCSP response is stale (nextUpdate has passed)');
    // CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL }
    if (st?.tag === 0x80) return { status: 'good', thisUpdate, nextUpdate };
    if (st?.tag === 0xa1) return { status: 'revoked', thisUpdate, nextUpdate, revokedAt: generalizedTime(at(children(st), 0, 0x18, 'revocationTime')) };
    if (st?.tag === 0x82) return { status: 'unknown', thisUpdate, nextUpdate };
    throw new Error('OCSP: bad certStatus');
  }
  throw new Error('OCSP response does not answer for the certificate asked about');
}

/**
 * POSTs the request to `url` (RFC 6960 Appendix A.1) and returns the response body, at most `maxBytes`
 * (the anchor's maxOcspResponseBytes, src/config/trust.ts): a declared Content-Length above it is refused before the
 * body is read, and a body without one (chunked) is read chunk by chunk and abandoned as soon as it passes the limit,
 * so no more than `maxBytes` plus one network chunk is ever held.
 */
export async function fetchOcsp(url: string, request: Buffer, timeoutMs: number, maxBytes: number): Promise<Buffer> {
  const tooLarge = (): Error => new Error(`OCSP response larger than maxOcspResponseBytes (${String(maxBytes)})`);
  const res = await fetch(url, {
    method: 'POST', body: request, headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`OCSP responder ${url}: HTTP ${String(res.status)}`);
  }
  if (Number(res.headers.get('content-length') ?? '0') > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (res.body === null) return Buffer.alloc(0);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * The cached OCSP answers of one trust anchor, at most `maxEntries` (`kmip.trust.anchors[].maxOcspCacheEntries`):
 * storing an answer moves it to the newest place; storing one more than the limit drops the oldest stored (least
 * recently answered) first, which is then asked again at its next handshake. Stops: a flood of distinct certificates
 * growing the cache.
 */
export class BoundedCache<V> {
  readonly #map = new Map<string, V>();
  constructor(readonly maxEntries: number) {}
  get(key: string): V | undefined { return this.#map.get(key); }
  /** Stores `value` as the newest entry; returns the key dropped to make room, if any. */
  set(key: string, value: V): string | undefined {
    this.#map.delete(key);
    let dropped: string | undefined;
    if (this.#map.size >= this.maxEntries) {
      const oldest = this.#map.keys().next();
      if (oldest.done !== true) {
        dropped = oldest.value;
        this.#map.delete(dropped);
      }
    }
    this.#map.set(key, value);
    return dropped;
  }
  get size(): number { return this.#map.size; }
}
