/**
 * The development admin certificate: what `openkcm init` issues so the embedded admin API (src/server/governance.ts,
 * docs/governance.md "Running it in the appliance") can be used from the first start, like the KMIP endpoint.
 *
 * The admin identity is a SAN URI, {@link DEV_ADMIN_IDENTITY}, and the appliance's default admin authentication
 * reads identities from SAN URIs only. KMIP client certificates of the same development CA carry a CN (the tenant
 * name) and no URI, so no tenant certificate — not even one for a tenant named "admin" — is ever an admin.
 */
import { readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { issueClientCert, loadCa } from './dev-pki.js';

/** SAN URI of the development admin certificate; mapped to the `admin` role by the default admin API config. */
export const DEV_ADMIN_IDENTITY = 'urn:openkcm:admin';
/** Subject CN of the development admin certificate (informational; the identity is the URI). */
export const DEV_ADMIN_COMMON_NAME = 'openkcm-admin';
/** File names under the PKI directory. */
export const DEV_ADMIN_CERT_FILE = 'admin.crt';
export const DEV_ADMIN_KEY_FILE = 'admin.key';

export interface DevAdminCertPaths {
  readonly cert: string;
  readonly key: string;
}

/**
 * Issues `admin.crt` / `admin.key` (mode 0600) in `pkiDir` from the development CA there (`ca.crt`, `ca.key`, as
 * written by writeDevPki). Overwrites an existing pair.
 */
export async function writeDevAdminCert(pkiDir: string): Promise<DevAdminCertPaths> {
  const ca = await loadCa(await readFile(path.join(pkiDir, 'ca.crt'), 'utf8'), await readFile(path.join(pkiDir, 'ca.key'), 'utf8'));
  const issued = await issueClientCert(ca, DEV_ADMIN_COMMON_NAME, { uris: [DEV_ADMIN_IDENTITY] });
  const out = { cert: path.join(pkiDir, DEV_ADMIN_CERT_FILE), key: path.join(pkiDir, DEV_ADMIN_KEY_FILE) };
  await writeFile(out.cert, issued.certPem, { mode: 0o644 });
  await writeFile(out.key, issued.keyPem, { mode: 0o600 });
  // writeFile's mode applies only when it creates the file.
  await chmod(out.key, 0o600);
  return out;
}
