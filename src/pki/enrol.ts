/**
 * Client enrolment with the appliance CA (issue 18): sign a storage array's certificate signing request (PKCS#10,
 * RFC 2986) — vCenter's "KMS signs CSR", NetApp ONTAP, Dell PowerStore — or make the key pair for it, and publish
 * the CA's certificate revocation list (RFC 5280 §5).
 *
 * What the CA signs is decided here, not by the request. The subject is replaced by `CN=<client name>` (the identity
 * the appliance maps to the tenant); basicConstraints is CA:false, EKU clientAuth only, key usage for a TLS client.
 * A request is REFUSED (CsrError, with a message naming the fix) when it:
 *   - is larger than the configured maxCsrBytes, is not one PEM or DER PKCS#10 request, or its self-signature does
 *     not verify (the requester must hold the private key: RFC 2986 §3 proof of possession);
 *   - asks for a CA certificate (basicConstraints CA:true, or key usage keyCertSign/cRLSign): an array must never be
 *     able to sign certificates that the appliance trusts;
 *   - carries a key other than EC P-256/P-384 or RSA 2048..8192 bits (KMIP clients' TLS stacks, and NIST SP 800-131A
 *     for RSA below 2048).
 */
import 'reflect-metadata';
import { createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import type { DevCa, DevKeyAlgorithm, IssuedCert } from './dev-pki.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * Default largest CSR accepted, bytes (PEM or DER). Stops: a caller making the appliance buffer, base64-decode and
 * ASN.1-parse megabytes; a real CSR with a 4096-bit RSA key and a few SANs is under 4 KiB. Configurable:
 * `governance.pki.maxCsrBytes`.
 */
export const DEFAULT_MAX_CSR_BYTES = 16 * 1024;
/** Upper bound of maxCsrBytes: the CSR travels in an admin API JSON body (ADMIN_BODY_LIMIT_BYTES, 64 KiB). */
export const MAX_MAX_CSR_BYTES = 48 * 1024;
/** Default validity of an issued client certificate, days; at most MAX_CLIENT_DAYS (CA/B-style bound). */
export const DEFAULT_CLIENT_DAYS = 397;
export const MAX_CLIENT_DAYS = 3650;
/** Most SANs one certificate may carry. Stops: a certificate (and every handshake) bloated by thousands of names. */
export const MAX_SANS = 32;
/** RSA modulus bounds (bits). */
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;

const DAY_MS = 86_400_000;
const CLOCK_SKEW_MS = 5 * 60_000;

export class CsrError extends Error {
  override readonly name = 'CsrError';
}

/** A SAN requested for a client: `URI:spiffe://…`, `DNS:array1.example` (as on the command line). */
export interface ClientSan {
  readonly type: 'uri' | 'dns' | 'ip';
  readonly value: string;
}

/** Parses `URI:x`, `DNS:x`, `IP:x` (case-insensitive prefix); a bare value with `://` is a URI. */
export function parseSan(text: string): ClientSan {
  const m = /^(uri|dns|ip):(.+)$/i.exec(text);
  const type = (m?.[1]?.toLowerCase() ?? (text.includes('://') ? 'uri' : 'dns')) as ClientSan['type'];
  const value = m?.[2] ?? text;
  if (type === 'uri' && !URL.canParse(value)) throw new CsrError(`SAN ${JSON.stringify(text)} is not a URI`);
  if (type === 'dns' && !/^(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/.test(value)) {
    throw new CsrError(`SAN ${JSON.stringify(text)} is not a DNS name`);
  }
  if (type === 'ip' && isIP(value) === 0) throw new CsrError(`SAN ${JSON.stringify(text)} is not an IP address`);
  return { type, value };
}

function sanExtension(sans: readonly ClientSan[]): x509.Extension[] {
  if (sans.length > MAX_SANS) throw new CsrError(`at most ${String(MAX_SANS)} SANs`);
  if (sans.length === 0) return [];
  return [new x509.SubjectAlternativeNameExtension(sans.map((s) => ({ type: s.type === 'uri' ? 'url' as const : s.type, value: s.value })), false)];
}

/** 16 random bytes, top bit clear: a positive INTEGER (RFC 5280 §4.1.2.2), unique per CA in practice. */
export function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f | 0x01;
  return b.toString('hex');
}

function signingAlgorithm(alg: DevKeyAlgorithm): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return alg === 'ec-p256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

/** RFC 4514 escaping: a name such as "a,b" cannot inject another RDN (a second CN) into the subject. */
function cnName(cn: string): string {
  const escaped = cn.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/^[ #]/, (c) => `\\${c}`).replace(/ $/, '\\ ');
  return `CN=${escaped}`;
}

export interface IssueOptions {
  /** The subject CN: the client's name, its identity. */
  readonly commonName: string;
  readonly days?: number;
  readonly sans?: readonly ClientSan[];
  /** Default clientAuth. */
  readonly usage?: 'client' | 'server';
}

export interface IssuedInfo {
  readonly certPem: string;
  /** Hex serial as issued (lowercase). */
  readonly serial: string;
  readonly notAfter: Date;
}

function checkDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > MAX_CLIENT_DAYS) throw new CsrError(`--days must be an integer 1..${String(MAX_CLIENT_DAYS)}`);
}

async function issueFor(ca: DevCa, publicKey: x509.PublicKey | webcrypto.CryptoKey, rsa: boolean, opts: IssueOptions): Promise<IssuedInfo> {
  const days = opts.days ?? DEFAULT_CLIENT_DAYS;
  checkDays(days);
  const serial = newSerial();
  const now = Date.now();
  const notAfter = new Date(now + days * DAY_MS);
  const usage: number = rsa ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: cnName(opts.commonName),
    issuer: ca.cert.subjectName,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter,
    publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: signingAlgorithm(ca.algorithm),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      // KeyUsageFlags is a bit-flag enum: OR-ing members yields a plain number by design.
      // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension([opts.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      ...sanExtension(opts.sans ?? []),
    ],
  });
  return { certPem: cert.toString('pem'), serial, notAfter };
}

/** What a CSR holds, after it passed every check. */
export interface CheckedCsr {
  readonly csr: x509.Pkcs10CertificateRequest;
  readonly keyType: string;
  readonly rsa: boolean;
  /** The subject the requester asked for (informational: the issued subject is CN=<name>). */
  readonly requestedSubject: string;
}

/** Parses and checks a CSR (see the module comment); throws CsrError naming what is wrong. */
export async function checkCsr(input: string | Uint8Array, maxBytes = DEFAULT_MAX_CSR_BYTES): Promise<CheckedCsr> {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) throw new CsrError(`the CSR is ${String(size)} bytes; at most ${String(maxBytes)} are accepted (governance.pki.maxCsrBytes)`);
  if (size === 0) throw new CsrError('the CSR is empty');
  let csr: x509.Pkcs10CertificateRequest;
  try {
    if (typeof input === 'string') {
      const blocks = input.match(/-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----/g) ?? [];
      if (blocks.length !== 1) throw new CsrError('the CSR must be exactly one PEM block "-----BEGIN CERTIFICATE REQUEST-----" (openssl req -new)');
      csr = new x509.Pkcs10CertificateRequest(input.replace(/NEW CERTIFICATE REQUEST/g, 'CERTIFICATE REQUEST'));
    } else {
      csr = new x509.Pkcs10CertificateRequest(input);
    }
  } catch (e) {
    if (e instanceof CsrError) throw e;
    throw new CsrError('not a PKCS#10 certificate signing request (PEM "CERTIFICATE REQUEST" or DER)');
  }
  let verified: boolean;
  try {
    verified = await csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) throw new CsrError('the CSR signature does not verify: it was not signed with the key it carries');
  const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  let keyType: string;
  let rsa = false;
  if (type === 'ec' && (details.namedCurve === 'prime256v1' || details.namedCurve === 'secp384r1')) {
    keyType = details.namedCurve === 'prime256v1' ? 'EC P-256' : 'EC P-384';
  } else if ((type === 'rsa' || type === 'rsa-pss') && (details.modulusLength ?? 0) >= MIN_RSA_BITS && (details.modulusLength ?? 0) <= MAX_RSA_BITS) {
    keyType = `RSA ${String(details.modulusLength)}`;
    rsa = true;
  } else {
    const what = type === 'rsa' || type === 'rsa-pss' ? `RSA ${String(details.modulusLength)}` : type === 'ec' ? `EC ${String(details.namedCurve)}` : type;
    throw new CsrError(`key type ${what} is not accepted: use EC P-256, EC P-384 or RSA ${String(MIN_RSA_BITS)}..${String(MAX_RSA_BITS)} bits`);
  }
  const bc = csr.extensions.find((e): e is x509.BasicConstraintsExtension => e instanceof x509.BasicConstraintsExtension);
  if (bc !== undefined && bc.ca) throw new CsrError('the CSR asks for a CA certificate (basicConstraints CA:true); a client certificate is never a CA');
  const ku = csr.extensions.find((e): e is x509.KeyUsagesExtension => e instanceof x509.KeyUsagesExtension);
  if (ku !== undefined && (ku.usages & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) !== 0) {
    throw new CsrError('the CSR asks for keyCertSign/cRLSign key usage; a client certificate never signs certificates');
  }
  return { csr, keyType, rsa, requestedSubject: csr.subject };
}

/** Signs a checked CSR for a client (subject CN=<name>, EKU clientAuth). */
export async function signCsr(ca: DevCa, checked: CheckedCsr, opts: IssueOptions): Promise<IssuedInfo> {
  return issueFor(ca, checked.csr.publicKey, checked.rsa, opts);
}

/** Makes a key pair (the CA's algorithm) and its certificate: for arrays that upload a certificate and key. */
export async function issueWithKey(ca: DevCa, opts: IssueOptions): Promise<IssuedInfo & IssuedCert> {
  const params = ca.algorithm === 'ec-p256'
    ? { name: 'ECDSA', namedCurve: 'P-256' }
    : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(params, true, ['sign', 'verify']);
  const info = await issueFor(ca, keys.publicKey, ca.algorithm !== 'ec-p256', opts);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { ...info, keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** One revoked certificate in a CRL. */
export interface RevokedEntry {
  readonly serial: string;
  readonly revokedAt: Date;
}

/** Default validity of a published CRL, ms: relying parties re-fetch at nextUpdate. */
export const DEFAULT_CRL_VALIDITY_MS = 24 * 60 * 60 * 1000;

/** The CA's CRL (RFC 5280 §5), DER; nextUpdate = now + validityMs. */
export async function buildCrl(ca: DevCa, entries: readonly RevokedEntry[], validityMs = DEFAULT_CRL_VALIDITY_MS): Promise<Uint8Array> {
  const now = new Date();
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subjectName,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + validityMs),
    entries: entries.map((e) => ({ serialNumber: e.serial, revocationDate: e.revokedAt, reason: x509.X509CrlReason.cessationOfOperation })),
    signingKey: ca.privateKey,
    signingAlgorithm: signingAlgorithm(ca.algorithm),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca.cert)],
  });
  return new Uint8Array(crl.rawData);
}

export function crlPem(der: Uint8Array): string {
  return x509.PemConverter.encode(der, 'X509 CRL');
}
