/**
 * The development admin certificate: what `openkcm init` issues so the embedded admin API (src/appliance/governance/plane.ts,
 * docs/governance.md "Running it in the appliance") can be used from the first start, like the KMIP endpoint.
 *
 * The admin identity is a SAN URI, {@link DEV_ADMIN_IDENTITY}, and the appliance's default admin authentication
 * reads identities from SAN URIs only.
 *
 * The admin certificate comes from its OWN CA, `admin-ca.crt` / `admin-ca.key` (issue 15 item 8), which is the
 * admin API's only trust anchor by default. Before, the admin API trusted the KMIP client CA, so whoever could issue
 * tenant certificates (an operator enrolling a storage array) could mint an admin certificate by adding the SAN URI
 * `urn:openkcm:admin`. Trust model: docs/security.md "Trust model".
 */
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { pathExists } from '../common/secure-fs.js';
import path from 'node:path';
import { createCa, issueClientCert, loadCa } from './dev-pki.js';
import type { DevCa } from './dev-pki.js';

/** SAN URI of the development admin certificate; mapped to the `admin` role by the default admin API config. */
export const DEV_ADMIN_IDENTITY = 'urn:openkcm:admin';
/** Subject CN of the development admin certificate (informational; the identity is the URI). */
export const DEV_ADMIN_COMMON_NAME = 'openkcm-admin';
/** File names under the PKI directory. */
export const DEV_ADMIN_CERT_FILE = 'admin.crt';
export const DEV_ADMIN_KEY_FILE = 'admin.key';
/** The admin CA under the PKI directory: the admin API's trust anchor, apart from the KMIP client CA `ca.crt`. */
export const ADMIN_CA_CERT_FILE = 'admin-ca.crt';
export const ADMIN_CA_KEY_FILE = 'admin-ca.key';
/** Subject CN of the admin CA. */
export const ADMIN_CA_COMMON_NAME = 'OpenKCM Admin CA';

/** The admin CA of `pkiDir`, created (and written, key mode 0600) when it does not exist yet. */
export async function ensureAdminCa(pkiDir: string): Promise<DevCa> {
  const certFile = path.join(pkiDir, ADMIN_CA_CERT_FILE);
  const keyFile = path.join(pkiDir, ADMIN_CA_KEY_FILE);
  if (await pathExists(certFile)) return loadCa(await readFile(certFile, 'utf8'), await readFile(keyFile, 'utf8'));
  const ca = await createCa(ADMIN_CA_COMMON_NAME);
  await writeFile(certFile, ca.certPem, { mode: 0o644 });
  await writeFile(keyFile, ca.keyPem, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  return ca;
}

export interface DevAdminCertPaths {
  readonly cert: string;
  readonly key: string;
}

/**
 * Issues `admin.crt` / `admin.key` (mode 0600) in `pkiDir` from the admin CA there (`admin-ca.crt`, created by
 * {@link ensureAdminCa} when missing) — never from the KMIP client CA. Overwrites an existing pair.
 */
export async function writeDevAdminCert(pkiDir: string): Promise<DevAdminCertPaths> {
  const ca = await ensureAdminCa(pkiDir);
  const issued = await issueClientCert(ca, DEV_ADMIN_COMMON_NAME, { uris: [DEV_ADMIN_IDENTITY] });
  const out = { cert: path.join(pkiDir, DEV_ADMIN_CERT_FILE), key: path.join(pkiDir, DEV_ADMIN_KEY_FILE) };
  await writeFile(out.cert, issued.certPem, { mode: 0o644 });
  await writeFile(out.key, issued.keyPem, { mode: 0o600 });
  // writeFile's mode applies only when it creates the file.
  await chmod(out.key, 0o600);
  return out;
}
