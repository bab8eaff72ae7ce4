/**
 * A development PKI: one CA, one server certificate, one client certificate per tenant.
 *
 * KMIP 1.4 §12 / KMIP 2.1 §12 ("Transport") require mutually authenticated TLS, so even a
 * laptop install needs a CA, a server certificate and client certificates. This module makes
 * them in-process with @peculiar/x509 over Node's WebCrypto (no openssl CLI, no shelling out),
 * for `openkcm init`, the test harnesses and the PyKMIP interop test.
 *
 * It is a DEVELOPMENT PKI: keys are written to disk unencrypted (mode 0600). Production
 * deployments bring their own PKI.
 *
 * Key algorithm: ECDSA P-256 by default. PyKMIP 0.10's TLS1.2 suite
 * (kmip/services/auth.py TLS12AuthenticationSuite) offers ECDHE-ECDSA-AES128-GCM-SHA256, so
 * P-256 interoperates; RSA-2048 is available for peers whose cipher lists are RSA-only.
 */
import 'reflect-metadata';
import { webcrypto, randomBytes, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import * as x509 from '@peculiar/x509';

// Node's WebCrypto types live in the `webcrypto` namespace (tsconfig has no DOM lib).
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type DevKeyAlgorithm = 'ec-p256' | 'rsa-2048';

/** A certificate and its private key, both PEM (key is unencrypted PKCS#8). */
export interface IssuedCert {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A CA that can issue further certificates. `privateKey` never leaves the process. */
export interface DevCa extends IssuedCert {
  readonly algorithm: DevKeyAlgorithm;
  /** @internal the parsed CA certificate, issuer of the certificates it signs. */
  readonly cert: x509.X509Certificate;
  /** @internal the CA signing key (WebCrypto, extractable so the CA can be written to disk). */
  readonly privateKey: CryptoKey;
}

export interface CaOptions {
  readonly algorithm?: DevKeyAlgorithm;
  /** Default 3650 days: a development CA should outlive the checkouts that use it. */
  readonly validityDays?: number;
}

export interface ServerCertOptions {
  readonly dnsNames?: readonly string[];
  readonly ips?: readonly string[];
  /** Subject CN; defaults to the first DNS name, else the first IP, else 'openkcm-server'. */
  readonly commonName?: string;
  readonly algorithm?: DevKeyAlgorithm;
  /** Default 825 days (the CA/B-forum maximum many TLS stacks still enforce). */
  readonly validityDays?: number;
}

export interface ClientCertOptions {
  /** SAN URIs, e.g. `spiffe://openkcm/tenant/acme`: the server may map identity from them. */
  readonly uris?: readonly string[];
  readonly algorithm?: DevKeyAlgorithm;
  readonly validityDays?: number;
}

const DAY_MS = 86_400_000;
/** Backdate notBefore so that small clock skew between peers does not reject a fresh cert. */
const CLOCK_SKEW_MS = 5 * 60_000;

function keyParams(alg: DevKeyAlgorithm): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  return alg === 'ec-p256'
    ? { name: 'ECDSA', namedCurve: 'P-256' }
    : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
}

function signingAlgorithm(alg: DevKeyAlgorithm): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return alg === 'ec-p256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

async function generateKeys(alg: DevKeyAlgorithm): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(keyParams(alg), true, ['sign', 'verify']);
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

/** 16 random bytes with the top bit cleared: a positive INTEGER as RFC 5280 §4.1.2.2 requires. */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f | 0x01;
  return b.toString('hex');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(days) || days < 1) throw new RangeError(`validityDays must be a positive integer, got ${days}`);
  const now = Date.now();
  return { notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + days * DAY_MS) };
}

/** RFC 4514 escaping so a CN such as "a,b" cannot inject extra RDNs into the subject. */
function cnName(cn: string): string {
  if (cn.length === 0 || cn.length > 64) throw new RangeError('common name must be 1..64 characters (RFC 5280 ub-common-name)');
  const escaped = cn.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/^[ #]/, (c) => `\\${c}`).replace(/ $/, '\\ ');
  return `CN=${escaped}`;
}

/** Create a self-signed CA (basicConstraints CA:true, pathLen 0; keyCertSign + cRLSign). */
export async function createCa(cn: string, opts: CaOptions = {}): Promise<DevCa> {
  const algorithm = opts.algorithm ?? 'ec-p256';
  const keys = await generateKeys(algorithm);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: cnName(cn),
    ...validity(opts.validityDays ?? 3650),
    keys,
    signingAlgorithm: signingAlgorithm(algorithm),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { algorithm, cert, privateKey: keys.privateKey, certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** Load a CA written earlier by {@link writeDevPki} so that more clients can be issued later. */
export async function loadCa(certPem: string, keyPem: string): Promise<DevCa> {
  const cert = new x509.X509Certificate(certPem);
  const keyType = new NodeX509Certificate(certPem).publicKey.asymmetricKeyType;
  if (keyType !== 'ec' && keyType !== 'rsa') throw new TypeError(`unsupported CA key type: ${String(keyType)}`);
  const algorithm: DevKeyAlgorithm = keyType === 'ec' ? 'ec-p256' : 'rsa-2048';
  const der = x509.PemConverter.decodeFirst(keyPem);
  const importAlg = algorithm === 'ec-p256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, importAlg, true, ['sign']);
  return { algorithm, cert, privateKey, certPem: cert.toString('pem'), keyPem };
}

async function issue(
  ca: DevCa,
  subject: string,
  algorithm: DevKeyAlgorithm,
  days: number,
  eku: x509.ExtendedKeyUsage,
  sans: x509.JsonGeneralName[],
): Promise<IssuedCert> {
  const keys = await generateKeys(algorithm);
  // RSA keys encrypt the TLS 1.2 RSA key exchange; ECDSA keys only sign (RFC 5480 §3).
  const usage: number = algorithm === 'ec-p256'
    ? x509.KeyUsageFlags.digitalSignature
    : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    // KeyUsageFlags is a bit-flag enum: OR-ing members yields a plain number by design.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
    new x509.KeyUsagesExtension(usage, true),
    new x509.ExtendedKeyUsageExtension([eku], false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: ca.cert.subjectName,
    ...validity(days),
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: signingAlgorithm(ca.algorithm),
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** Issue a TLS server certificate (EKU serverAuth) with DNS and IP SANs. */
export async function issueServerCert(ca: DevCa, opts: ServerCertOptions): Promise<IssuedCert> {
  const dnsNames = opts.dnsNames ?? [];
  const ips = opts.ips ?? [];
  for (const ip of ips) if (isIP(ip) === 0) throw new TypeError(`not an IP address: ${ip}`);
  if (dnsNames.length + ips.length === 0) throw new TypeError('a server certificate needs at least one DNS name or IP');
  const sans: x509.JsonGeneralName[] = [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  const cn = opts.commonName ?? dnsNames[0] ?? ips[0] ?? 'openkcm-server';
  return issue(ca, cnName(cn), opts.algorithm ?? ca.algorithm, opts.validityDays ?? 825, x509.ExtendedKeyUsage.serverAuth, sans);
}

/**
 * Issue a TLS client certificate (EKU clientAuth — PyKMIP and OpenKCM both refuse client
 * certificates without it). The CN is the client identity; SAN URIs are optional.
 */
export async function issueClientCert(ca: DevCa, cn: string, opts: ClientCertOptions = {}): Promise<IssuedCert> {
  const sans = (opts.uris ?? []).map((value) => {
    if (!URL.canParse(value)) throw new TypeError(`not a URI: ${value}`);
    return { type: 'url' as const, value };
  });
  return issue(ca, cnName(cn), opts.algorithm ?? ca.algorithm, opts.validityDays ?? 825, x509.ExtendedKeyUsage.clientAuth, sans);
}

export interface DevPkiTenant {
  /** File name stem and certificate CN. */
  readonly name: string;
  readonly uris?: readonly string[];
}

export interface WriteDevPkiOptions {
  readonly algorithm?: DevKeyAlgorithm;
  readonly caCommonName?: string;
  /** Extra server SANs beyond 127.0.0.1 and localhost. */
  readonly dnsNames?: readonly string[];
  readonly ips?: readonly string[];
}

export interface DevPkiPaths {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Tenant name → its client certificate and key paths. */
  readonly clients: Readonly<Record<string, { readonly cert: string; readonly key: string }>>;
}

/** Tenant names become file names: refuse anything that could escape `clients/` (path traversal). */
const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Private keys are readable by the owner only. */
const KEY_FILE_MODE = 0o600;
const CERT_FILE_MODE = 0o644;

async function writeKey(file: string, pem: string): Promise<void> {
  await writeFile(file, pem, { mode: KEY_FILE_MODE });
  // writeFile's mode applies only when it creates the file; an existing file keeps its mode.
  await chmod(file, KEY_FILE_MODE);
}

/**
 * Write a complete development PKI into `dir`:
 * `ca.crt`, `ca.key`, `server.crt`, `server.key` (SANs 127.0.0.1 and localhost plus any
 * extras) and `clients/NAME.crt` + `clients/NAME.key` per tenant.
 * Keys get mode 0600. Existing files are overwritten.
 */
export async function writeDevPki(
  dir: string,
  tenants: readonly (string | DevPkiTenant)[],
  opts: WriteDevPkiOptions = {},
): Promise<DevPkiPaths> {
  const list: DevPkiTenant[] = tenants.map((t) => (typeof t === 'string' ? { name: t } : t));
  const seen = new Set<string>();
  for (const t of list) {
    if (!TENANT_NAME.test(t.name)) throw new TypeError(`tenant name must match ${TENANT_NAME.source}: ${JSON.stringify(t.name)}`);
    if (seen.has(t.name)) throw new TypeError(`duplicate tenant name: ${t.name}`);
    seen.add(t.name);
  }
  const algorithm = opts.algorithm ?? 'ec-p256';
  const ca = await createCa(opts.caCommonName ?? 'OpenKCM Development CA', { algorithm });
  const server = await issueServerCert(ca, {
    dnsNames: ['localhost', ...(opts.dnsNames ?? [])],
    ips: ['127.0.0.1', ...(opts.ips ?? [])],
    commonName: 'localhost',
  });
  const clientsDir = path.join(dir, 'clients');
  await mkdir(clientsDir, { recursive: true, mode: 0o700 });
  const paths = {
    dir,
    caCert: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
  };
  await writeFile(paths.caCert, ca.certPem, { mode: CERT_FILE_MODE });
  await writeKey(paths.caKey, ca.keyPem);
  await writeFile(paths.serverCert, server.certPem, { mode: CERT_FILE_MODE });
  await writeKey(paths.serverKey, server.keyPem);
  const clients: Record<string, { cert: string; key: string }> = {};
  for (const t of list) {
    const issued = await issueClientCert(ca, t.name, t.uris ? { uris: t.uris } : {});
    const entry = { cert: path.join(clientsDir, `${t.name}.crt`), key: path.join(clientsDir, `${t.name}.key`) };
    await writeFile(entry.cert, issued.certPem, { mode: CERT_FILE_MODE });
    await writeKey(entry.key, issued.keyPem);
    clients[t.name] = entry;
  }
  return { ...paths, clients };
}

/** Parse with Node's own X509 parser: a cheap sanity check that OpenSSL accepts what we made. */
export function describeCert(pem: string): { subject: string; issuer: string; subjectAltName: string | undefined; extendedKeyUsage: string[] | undefined; ca: boolean } {
  const c = new NodeX509Certificate(pem);
  return { subject: c.subject, issuer: c.issuer, subjectAltName: c.subjectAltName, extendedKeyUsage: c.keyUsage, ca: c.ca };
}
